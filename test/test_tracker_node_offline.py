# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""tracker_node in process on a simulated clock: two runs give identical tracks; a bag loop (the clock jumps
back) clears the tracks, and the second pass tracks like the first, under new ids.
"""
import copy

import numpy as np
import pytest
import yaml
from builtin_interfaces.msg import Time
from nav_msgs.msg import Odometry
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from fusion_nodes.ros import pointcloud
from fusion_nodes.tools.offline import OfflineRunner
from harness import diagnostics_values

PARAMS = {"radar_topic": "/r", "camera_topic": "", "odometry_topic": "/odom", "output_topic": "/tracks",
          "markers_topic": "", "radar_mount": [2.0, 0.0, 0.5, 0.0, 0.0, 0.0]}


def stamp(t):
    return Time(sec=int(t), nanosec=int(round((t % 1) * 1e9)))


def feed(seconds=6.0):
    """An ego driving at 2 m/s past three objects (one crossing, one oncoming, one static), radar at 10 Hz."""
    rng = np.random.default_rng(7)
    p0 = np.array([[25.0, -6.0], [45.0, 2.0], [30.0, 4.0]])
    v = np.array([[0.0, 1.5], [-5.0, 0.0], [0.0, 0.0]])
    out = []
    for k in range(int(seconds * 10)):
        t, ego = 100.0 + 0.1 * k, 2.0 * 0.1 * k
        odom = Odometry(header=Header(stamp=stamp(t), frame_id="odom"))
        odom.pose.pose.position.x, odom.pose.pose.orientation.w = ego, 1.0
        out.append(("/odom", int(t * 1e9), odom))
        p = p0 + v * 0.1 * k
        base = p - [ego, 0.0] + rng.normal(0, 0.3, p.shape)
        u = (base - [2.0, 0.0]) / np.linalg.norm(base - [2.0, 0.0], axis=1, keepdims=True)
        cols = {"x": base[:, 0], "y": base[:, 1], "doppler_mean": (u * v).sum(axis=1) + rng.normal(0, 0.2, 3)}
        out.append(("/r", int(t * 1e9) + 1, pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(t)))))
    return out


def run(tmp_path, passes=1, **params):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"tracker_node": {"ros__parameters": {**PARAMS, **params}}}))
    runner = OfflineRunner(tmp_path / "p.yaml", capture=True)
    marks = []
    try:
        for _ in range(passes):
            marks.append(len(runner.captured.get("/tracks", [])))
            runner.feed(copy.deepcopy(feed()))
        return runner.captured, marks
    finally:
        runner.close()


def rows(msg):
    return [(o.id, round(o.pose.pose.position.x, 9), round(o.twist.twist.linear.x, 9)) for o in msg.objects]


@pytest.mark.parametrize("association", ["gnn", "jpda"])
def test_two_offline_runs_are_identical(tmp_path, association):
    a, _ = run(tmp_path / "a", association=association)
    b, _ = run(tmp_path / "b", association=association)
    assert [repr(m) for m in a["/tracks"]] == [repr(m) for m in b["/tracks"]]
    assert len(a["/tracks"][-1].objects) == 3


def test_a_bag_loop_clears_the_tracks_and_the_second_pass_tracks_like_the_first(tmp_path):
    captured, marks = run(tmp_path, passes=2)
    first, second = captured["/tracks"][marks[0]:marks[1]], captured["/tracks"][marks[1]:]
    assert len(first) == len(second) > 0
    ids_first = {o.id for m in first for o in m.objects}
    ids_second = {o.id for m in second for o in m.objects}
    assert ids_first and ids_second and not ids_first & ids_second       # none of the first pass's tracks survive
    for m1, m2 in zip(first, second):                                    # ... and the same tracks come back
        np.testing.assert_allclose([r[1:] for r in rows(m1)], [r[1:] for r in rows(m2)], atol=1e-9)
    jumps = diagnostics_values(captured["/diagnostics"], "tracker_node: tracks")["clock_jumps_back"]
    assert int(jumps) == 1


def test_publish_rate_puts_the_tracks_where_the_objects_are_at_each_timer_instant(tmp_path):
    """publish_rate: the tracks go out on the node clock's timer, stamped with its instants (every 0.05 s,
    between the 0.1 s frames too), each predicted to that instant: nearer the truth at their stamp than where
    the objects were processing_delay before. Once the radar stops they coast, and after max_coast none.
    """
    p0, v = np.array([[25.0, -6.0], [45.0, 2.0], [30.0, 4.0]]), np.array([[0.0, 1.5], [-5.0, 0.0], [0.0, 0.0]])
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"tracker_node": {"ros__parameters": {
        **PARAMS, "publish_rate": 20.0, "processing_delay": 0.1, "max_coast": 1.5}}}))
    runner = OfflineRunner(tmp_path / "p.yaml", capture=True)
    try:
        runner.feed(feed())
        n_fed = len(runner.captured["/tracks"])
        runner.advance(int(108.9 * 1e9))               # the radar's last scan is at 105.9 s
        msgs = runner.captured["/tracks"]
    finally:
        runner.close()
    t = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in msgs])
    np.testing.assert_allclose(np.diff(t), 0.05, atol=1e-6)
    assert n_fed > 110                                 # twice the 60 frames' rate

    def errors(lag):
        """Distance of each track to the nearest object at its stamp minus ``lag``, over 102 .. 105.9 s."""
        return np.array([np.min(np.hypot(*(p0 + v * (s - lag - 100.0) - [o.pose.pose.position.x,
                                                                           o.pose.pose.position.y]).T))
                         for s, m in zip(t, msgs) if 102.0 <= s <= 105.9 for o in m.objects])
    now, before = errors(0.0), errors(0.1)
    assert len(now) > 200 and np.sqrt(np.mean(now ** 2)) < 0.6 * np.sqrt(np.mean(before ** 2))
    coasting = [len(m.objects) for s, m in zip(t, msgs) if 105.9 < s <= 106.5]
    gone = [len(m.objects) for s, m in zip(t, msgs) if s > 105.9 + 1.5 + 1e-6]
    assert coasting and set(coasting) == {3} and gone and set(gone) == {0}


def test_a_radar_sending_empty_scans_is_reported_blind_and_its_silence_deletes_nothing(tmp_path):
    """1.2 s of empty scans (a failed radar that keeps publishing): the tracks keep their ids, and the radar's
    status turns WARN with the reason.
    """
    from diagnostic_msgs.msg import DiagnosticStatus
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"tracker_node": {"ros__parameters": PARAMS}}))
    runner = OfflineRunner(tmp_path / "p.yaml", capture=True)
    try:
        msgs = feed()
        runner.feed(copy.deepcopy(msgs))
        ids = {o.id for o in runner.captured["/tracks"][-1].objects}
        t_end = 100.0 + 0.1 * (len(msgs) // 2 - 1)
        empty = []
        for k in range(1, 13):
            t = t_end + 0.1 * k
            odom = Odometry(header=Header(stamp=stamp(t), frame_id="odom"))
            odom.pose.pose.position.x, odom.pose.pose.orientation.w = 2.0 * (t - 100.0), 1.0
            empty.append(("/odom", int(t * 1e9), odom))
            cols = {"x": np.zeros(0), "y": np.zeros(0), "doppler_mean": np.zeros(0)}
            empty.append(("/r", int(t * 1e9) + 1, pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(t)))))
        runner.feed(empty)
        runner.advance(int((t_end + 2.2) * 1e9))        # the next diagnostics (1 Hz) after the 1.2 s
        assert {o.id for o in runner.captured["/tracks"][-1].objects} == ids and ids
        radar = [s for m in runner.captured["/diagnostics"] for s in m.status if s.name == "tracker_node: radar"][-1]
        assert radar.level == DiagnosticStatus.WARN and "no detections" in radar.message
    finally:
        runner.close()


def test_the_whole_graph_runs_both_ekf_instances_and_tracks_in_the_odom_frame(tmp_path):
    """config/fusion.yaml offline: kalman_fusion_node (map, GPS) and its odom instance (odometry/local); the
    REP-105 chain map -> odom -> base_link on /tf; tracker_node's tracks in the odom frame.
    """
    from conftest import REPO
    from fusion_nodes.tools import perception_sim
    sc = perception_sim.load_scenario(REPO / "config" / "tracking_scenario.yaml")
    sc["duration"] = 8.0
    bag = tmp_path / "drive.mcap"
    perception_sim.write(sc, bag)
    runner = OfflineRunner(REPO / "config" / "fusion.yaml", capture=True)
    try:
        runner.run(bag)
        got = runner.captured
    finally:
        runner.close()
    assert {m.header.frame_id for m in got["/odometry/local"]} == {"odom"}
    assert {m.header.frame_id for m in got["/odometry/filtered"]} == {"map"}
    edges = {(t.header.frame_id, t.child_frame_id) for m in got["/tf"] for t in m.transforms}
    assert {("map", "odom"), ("odom", "base_link")} <= edges and ("map", "base_link") not in edges
    assert {m.header.frame_id for m in got["/tracks"]} == {"odom"} and got["/tracks"][-1].objects


def test_every_config_compensates_the_radar_doppler_with_the_tracker_s_ego_pose():
    """radar_node subtracts its odometry's ego velocity from the Doppler; the tracker places the clusters with
    its own odometry. From two estimates a static object's Doppler and its drift in the tracker's world
    disagree by their velocity difference (docs/tracking_camera_study.md: 0.12 m too far on seed 11's poles).
    """
    from conftest import REPO
    from fusion_nodes.ros import radar_params, tracker_params

    def topic(section, specs):
        default = next(s.default for s in specs() if s.name == "odometry_topic")
        return str(section["ros__parameters"].get("odometry_topic", default)).strip("/")
    checked = []
    for path in sorted((REPO / "config").glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        if isinstance(data, dict) and "radar_node" in data and "tracker_node" in data:
            checked.append(path.name)
            assert topic(data["radar_node"], radar_params.specs) == topic(data["tracker_node"], tracker_params.specs), \
                path.name
    assert {"fusion.yaml", "perception.yaml"} <= set(checked)


def test_the_whole_graph_runs_the_perception_nodes_as_tuned():
    """config/fusion.yaml (what a robot launches) runs the perception nodes with config/perception.yaml's
    settings (what `fusion eval` measures and the tuning set), but for the odometry topic: its odom instance.
    They had drifted: the whole graph lacked the tracker's class association, Doppler spread and polar radar R.
    """
    from conftest import REPO
    tuned, graph = (yaml.safe_load((REPO / "config" / n).read_text()) for n in ("perception.yaml", "fusion.yaml"))
    for node in ("camera_node", "radar_node", "early_fusion_node", "tracker_node"):
        a, b = dict(tuned[node]["ros__parameters"]), dict(graph[node]["ros__parameters"])
        assert (a.pop("odometry_topic", None), b.pop("odometry_topic", None)) in \
            ((None, None), ("/odometry/filtered", "/odometry/local")), node
        assert a == b, (node, {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)})


def test_late_partial_early_fusion_sets_are_not_dropped_as_backwards_but_late_located_ones_are(tmp_path):
    """early_fusion_node releases a camera-only set (no position) up to max_wait late, after newer full
    sets: the tracker counts it as fused_unlocated, not as a stamp out of order; a set *with* positions
    stamped before one already taken is still dropped as stamp_backwards.
    """
    params = {**PARAMS, "radar_topic": "", "fused_topic": "/f"}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"tracker_node": {"ros__parameters": params}}))
    msgs = []
    for _, t_ns, m in feed():
        if isinstance(m, Odometry):
            msgs.append(("/odom", t_ns, m))
    for k in range(1, 40):
        t = 100.0 + 0.1 * k
        located = {"x": np.array([20.0 - 0.2 * k]), "y": np.array([3.0])}
        msgs.append(("/f", int(t * 1e9) + 1, pointcloud.write(PointCloud2(), located, Header(stamp=stamp(t)))))
        if k % 3 == 0:              # a camera-only set 0.25 s older, released now
            partial = {"x": np.array([np.nan]), "y": np.array([np.nan])}
            msgs.append(("/f", int(t * 1e9) + 2,
                         pointcloud.write(PointCloud2(), partial, Header(stamp=stamp(t - 0.25)))))
    late_located = {"x": np.array([15.0]), "y": np.array([3.0])}
    msgs.append(("/f", int(104.0 * 1e9) + 3, pointcloud.write(PointCloud2(), late_located,
                                                               Header(stamp=stamp(103.5)))))
    runner = OfflineRunner(tmp_path / "p.yaml", capture=True)
    try:
        runner.feed(sorted(msgs, key=lambda m: m[1]))
        runner.advance(int(106.0 * 1e9))
        status = {s.name: s for s in runner.captured["/diagnostics"][-1].status}
        fused, tracks = status["tracker_node: fused"], status["tracker_node: tracks"]
        values = {kv.key: kv.value for kv in fused.values}
        assert values.get("dropped.stamp_backwards") == "1" and {kv.key: kv.value for kv in tracks.values}[
            "fused_unlocated_total"] == "13"
        assert runner.captured["/tracks"] and any(o.status == o.STATUS_CONFIRMED
                                                  for o in runner.captured["/tracks"][-1].objects)
    finally:
        runner.close()
