# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Invalid parameters are refused with their reason: at start-up (exit 2) and on a live change.

The classes of issue 9: empty lists that used to fall back to defaults
silently, non-finite or absurd numbers, impossible combinations, invalid
topic names.
"""
import math

import pytest
from rclpy.parameter import Parameter

from conftest import REPO
from fusion_nodes.ros.params import InvalidParameters
from fusion_nodes.tools.offline import OfflineRunner
from harness import write_params

KALMAN = {"odom0": "/o", "odom0_config": [False] * 6 + [True] * 3 + [False] * 6}
LATE = {"inputs": ["/a", "/b"], "input_names": ["a", "b"], "classes": ["hot", "cold"], "weights": [0.5, 0.5]}
EARLY = {"model_file": str(REPO / "config" / "early_fusion_model.json")}

START = [
    ("kalman_fusion_node", KALMAN, {"odom0_config": []}, "empty list"),
    ("kalman_fusion_node", KALMAN, {"initial_estimate_covariance": [0.0] * 15}, "all zero"),
    ("kalman_fusion_node", KALMAN, {"odom0_twist_rejection_threshold": -0.5}, "-1 (use the generic"),
    ("kalman_fusion_node", KALMAN, {"process_noise_covariance": [math.nan] * 15}, "NaN or Inf"),
    ("kalman_fusion_node", KALMAN, {"odom0_estimate_time_offset": True}, "needs a position input"),
    ("kalman_fusion_node", {"odom0": "/o", "odom0_config": [True] * 2 + [False] * 13},
     {"odom0_estimate_time_offset": True}, "needs another input"),
    ("kalman_fusion_node", KALMAN, {"odom0_time_offset_bounds": [0.2, -0.2]}, "needs low < high"),
    ("kalman_fusion_node", {"odom0": "/o", "odom0_config": [True] * 2 + [False] * 13, "odom0_time_offset": -0.8},
     {"odom0_estimate_time_offset": True}, "outside odom0_time_offset_bounds"),
    ("late_fusion_node", LATE, {"weights": []}, "empty list"),
    ("late_fusion_node", LATE, {"weights": [math.inf, 1.0]}, "NaN or Inf"),
    ("late_fusion_node", LATE, {"weights": [1e308, 1e308]}, None),      # finite, accepted: see below
    ("late_fusion_node", LATE, {"classes": []}, "empty list"),
    ("late_fusion_node", LATE, {"quorum": 3}, "more than the 2 inputs"),
    ("late_fusion_node", LATE, {"bearing_origin": [math.nan, 0.0]}, "NaN or Inf"),
    ("radar_node", {}, {"min_range": 50.0, "max_range": 10.0}, "must be below max_range"),
    ("radar_node", {}, {"doppler_fields": [""]}, "empty name"),
    ("radar_node", {}, {"mount": []}, "empty list"),
    ("imu_gps_node", {}, {"datum": [95.0, 0.0, 0.0]}, "not on Earth"),
    ("imu_gps_node", {}, {"datum": [math.nan, 0.0, 0.0]}, "NaN or Inf"),
    ("early_fusion_node", EARLY, {"camera_intrinsics": [math.nan, 500.0, 320.0, 240.0]}, "NaN or Inf"),
    ("early_fusion_node", EARLY, {"camera_mount": []}, "empty list"),
    ("tracker_node", {}, {"camera_initiates": False, "radar_topic": ""}, "no track would ever start"),
    ("tracker_node", {}, {"publish_existence": 0.001, "delete_existence": 0.01}, "below delete_existence"),
    ("tracker_node", {}, {"class_footprints": [4.5, 1.8]}, "4 classes need 8"),
    ("tracker_node", {}, {"association": "mht"}, "gnn"),
    ("tracker_node", {}, {"camera_intrinsics": [500.0, 0.0, 320.0, 240.0]}, "fx, fy > 0"),
    ("camera_node", {}, {"capture_intrinsics": [0.0, 500.0, 320.0, 240.0]}, "fx, fy > 0"),
    ("camera_node", {}, {"capture_intrinsics": [500.0, 500.0, 320.0]}, "4 values"),
    ("tracker_node", {}, {"camera_clutter_density": 0.0}, "camera_clutter_density"),
    ("tracker_node", {}, {"class_doppler_spread": [0.5, 0.6]}, "4 classes need 4"),
    ("tracker_node", {}, {"class_doppler_spread": [0.5, -0.6, 1.1, 0.2]}, "speeds in [0, 100] m/s"),
]


@pytest.mark.parametrize("node,base,bad,reason", START, ids=[f"{n}-{list(b)[0]}" for n, _, b, _ in START])
def test_invalid_start_parameters_are_refused_with_the_reason(tmp_path, node, base, bad, reason):
    path = write_params(tmp_path / "p.yaml", node, {**base, **bad})
    if reason is None:
        OfflineRunner(path).close()       # weights of 1e308 are finite and normalised: a valid choice
        return
    with pytest.raises(InvalidParameters) as e:
        OfflineRunner(path)
    assert reason in str(e.value) and list(bad)[0] in str(e.value), str(e.value)


LIVE = [
    ("late_fusion_node", LATE, "weights", [math.nan, 1.0], "NaN or Inf"),
    ("late_fusion_node", LATE, "weights", [], "empty list"),
    ("late_fusion_node", LATE, "quorum", 5, "more than the 2 inputs"),
    ("radar_node", {}, "min_range", 1000.0, "must be below max_range"),
    ("kalman_fusion_node", KALMAN, "odom0_twist_rejection_threshold", -0.5, "-1 (use the generic"),
]


@pytest.mark.parametrize("node,base,name,value,reason", LIVE, ids=[f"{n}-{p}" for n, _, p, _, _ in LIVE])
def test_invalid_live_changes_are_refused_with_the_reason_and_change_nothing(tmp_path, node, base, name, value,
                                                                            reason):
    runner = OfflineRunner(write_params(tmp_path / "p.yaml", node, base))
    try:
        n = runner.nodes[0]
        before = n.p[name]
        param = Parameter(name, Parameter.Type.DOUBLE_ARRAY, []) if value == [] else Parameter(name, value=value)
        (result,) = n.set_parameters([param])
        assert not result.successful and reason in result.reason, result.reason
        current = n.get_parameter(name).value
        assert getattr(n.p, name) == before                      # the snapshot the node works with
        assert (tuple(current) if isinstance(before, tuple) else current) == before
    finally:
        runner.close()


def test_an_invalid_topic_name_is_one_line_and_exit_2(tmp_path, nodes):
    node = nodes("radar_node", write_params(tmp_path / "p.yaml", "radar_node", {"input_topic": "radar points!"}))
    assert node.wait(60) == 2
    out = [line for line in node.output().splitlines() if line.strip()]
    assert len(out) == 1 and "invalid parameters: Invalid topic name" in out[0] and "Traceback" not in node.output()


def test_parameters_are_a_typed_immutable_snapshot_replaced_whole_by_a_live_change(tmp_path):
    """``node.p`` is a :class:`~fusion_nodes.ros.params.Params`: typed by the table (lists as tuples),
    read-only, and an accepted ``ros2 param set`` of two values swaps in one new snapshot, passed on to what
    uses them, while the old one keeps what it held.
    """
    from fusion_nodes.ros.params import Params
    runner = OfflineRunner(write_params(tmp_path / "p.yaml", "imu_gps_node", {"imu_mount": [0.0, 0.0, 0.3, 0.0,
                                                                                            0.0, 0.0]}))
    try:
        n = runner.nodes[0]
        old = n.p
        assert isinstance(old, Params) and old.imu_mount == (0.0, 0.0, 0.3, 0.0, 0.0, 0.0)
        assert old["cog_min_speed"] == old.cog_min_speed == 1.0 and dict(old)["cog_window"] == 2.0
        with pytest.raises(AttributeError, match="read-only"):
            n.p.cog_min_speed = 3.0
        with pytest.raises(AttributeError, match="no parameter"):
            _ = n.p.no_such_parameter
        result = n.set_parameters_atomically([Parameter("cog_min_speed", value=4.0),
                                              Parameter("cog_window", value=5.0)])
        assert result.successful
        assert n.p is not old and (n.p.cog_min_speed, n.p.cog_window) == (4.0, 5.0)
        assert (n.cog.min_speed, n.cog.window) == (4.0, 5.0)              # on_change passed them on
        assert (old.cog_min_speed, old.cog_window) == (1.0, 2.0)          # the old snapshot is unchanged
    finally:
        runner.close()
