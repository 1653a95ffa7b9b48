# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""An object's own Doppler spread (micro-Doppler) in the tracker: per class, from the track's belief, over the
returns a cluster averages; and how a drive with object truth measures it (``fusion eval --tracking``).
"""
import numpy as np
import pytest
from scipy.stats import chi2
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from fusion_nodes.core import track_models as tm
from fusion_nodes.core.track_classes import ClassBelief, ClassDopplerSpread
from fusion_nodes.core.track_components import MahalanobisGate
from fusion_nodes.core.track_filters import EkfTrackFilter
from fusion_nodes.core.tracking import Detections, Tracker
from fusion_nodes.core.validation import InvalidInput
from fusion_nodes.nodes.tracker_node import make_tracker
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros import tracks as conv
from fusion_nodes.ros.convert import sec_to_stamp
from fusion_nodes.ros.tracker_params import specs
from fusion_nodes.tools.bagio import BagWriter
from fusion_nodes.tools.doppler_spread import describe, within_cluster_spread

RADAR = tm.SensorPose(0.0, 0.0, 0.0)
R0 = np.diag([0.3 ** 2, 0.3 ** 2, 0.2 ** 2])
SPREADS = [0.3, 1.2]                                  # m/s: "car", "cyclist"
CYCLIST = np.array([0.02, 0.98])


def _frame(t, z, looks=None, scores=None):
    z = np.atleast_2d(np.asarray(z, float))
    return Detections(t, "radar", tm.PositionDoppler(), RADAR, z, np.broadcast_to(R0, (len(z), 3, 3)).copy(),
                      scores=None if scores is None else np.atleast_2d(scores), looks=looks)


def _tracker(spreads=SPREADS, gate=0.99):
    return Tracker(EkfTrackFilter(tm.ConstantVelocity(1.0)), gate=MahalanobisGate(gate), belief=ClassBelief(2),
                   spreads=None if spreads is None else ClassDopplerSpread(spreads))


def _with_cyclist_track(tracker):
    """A track 20 m ahead, receding at 3 m/s, whose class belief is cyclist."""
    for k in range(6):
        tracker.step(_frame(0.1 * k, [20.0 + 0.3 * k, 0.0, 3.0], looks=np.array([3.0]), scores=CYCLIST))
    return tracker._tracks[0]


def test_the_spread_expected_is_the_belief_weighted_variance_of_the_classes():
    spread = ClassDopplerSpread(SPREADS)
    np.testing.assert_allclose(spread.expect(np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])),
                               [0.09, 0.5 * (0.09 + 1.44), 1.44])
    for bad in ([0.3, -0.1], [np.nan, 1.0], [np.inf, 0.0]):
        with pytest.raises(ValueError):
            ClassDopplerSpread(bad)


def test_an_update_adds_the_tracks_expected_spread_over_the_returns_to_the_doppler_variance():
    """The tracker's update is the filter's with ``R[2, 2] + b @ sigma^2 / looks``, nothing else changed."""
    tracker = _tracker()
    t = _with_cyclist_track(tracker)
    belief = tracker._beliefs(0.6, 2)[0]
    x, P = tracker.filter.predict(t.x, t.P, 0.1)
    z = np.array([21.9, 0.1, 2.2])
    R = R0.copy()
    R[2, 2] += belief @ np.square(SPREADS) / 4.0
    x_exp, P_exp = tracker.filter.update(x, P, z, R, tm.PositionDoppler(), RADAR)
    tracker.step(_frame(0.6, z, looks=np.array([4.0])))
    np.testing.assert_allclose(t.x, x_exp, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t.P, P_exp, rtol=1e-12, atol=1e-12)
    # without the spread the same Doppler pulls the velocity further: it was trusted as 0.2 m/s
    plain = _tracker(spreads=None)
    _with_cyclist_track(plain)
    plain.step(_frame(0.6, z, looks=np.array([4.0])))
    assert abs(plain._tracks[0].x[2] - t.x[2]) > 0.05 and t.x[2] > plain._tracks[0].x[2]


def test_a_cyclists_stray_doppler_stays_in_its_gate_only_with_the_spread():
    """1.6 m/s off the prediction is far outside a 0.2 m/s radar's gate, not outside a one-return cyclist's."""
    admitted = {}
    for name, spreads in (("plain", None), ("spread", SPREADS)):
        tracker = _tracker(spreads)
        t = _with_cyclist_track(tracker)
        predicted = tracker.filter.predict(t.x, t.P, 0.1)[0]
        report = tracker.step(_frame(0.6, [predicted[0], predicted[1], predicted[2] - 1.6], looks=np.array([1.0])))
        admitted[name] = (report.assigned, report.started)
    # without the spread the cyclist's own return is refused and starts a second track of the same cyclist
    assert admitted == {"plain": (0, 1), "spread": (1, 0)}
    # and the threshold is the gate's own: the d2 of the admitted pair is below the chi-square quantile
    assert chi2.ppf(0.99, 3) > 1.6 ** 2 / (0.2 ** 2 + 0.98 * 1.44 + 0.02 * 0.09)


def test_more_returns_average_the_spread_down_and_no_rate_component_takes_none():
    tracker = _tracker()
    _with_cyclist_track(tracker)
    frame = _frame(0.6, [[22.0, 0.0, 3.0], [22.0, 1.0, 3.0]], looks=np.array([1.0, 5.0]))
    spread = tracker._spread(frame, tracker._beliefs(0.6, 2))
    np.testing.assert_allclose(spread[0, 0], 5.0 * spread[0, 1])
    assert tracker._spread(_frame(0.6, [22.0, 0.0, 3.0]), tracker._beliefs(0.6, 2))[0, 0] == pytest.approx(
        spread[0, 0])                                     # no count: one return each
    position_only = Detections(0.6, "fused", tm.Position(), RADAR, np.array([[22.0, 0.0]]),
                               np.array([np.eye(2)]))
    assert tracker._spread(position_only, tracker._beliefs(0.6, 2)) is None


def test_a_new_track_seeds_its_radial_speed_with_the_spread_its_detection_scores_expect():
    tracker = _tracker()
    tracker.step(_frame(0.0, [20.0, 0.0, 3.0], looks=np.array([2.0]), scores=CYCLIST))
    seeded = _tracker(spreads=None)
    seeded.step(_frame(0.0, [20.0, 0.0, 3.0], looks=np.array([2.0]), scores=CYCLIST))
    # the radial velocity variance of the seed is R[2, 2] plus the cyclist-weighted spread over two returns
    extra = CYCLIST @ np.square(SPREADS) / 2.0
    assert tracker._tracks[0].P[2, 2] == pytest.approx(seeded._tracks[0].P[2, 2] + extra)


def _params(**over):
    return {**{s.name: s.default for s in specs()}, **over}


def test_tracker_node_builds_the_spread_from_its_parameters_and_all_zero_turns_it_off():
    assert make_tracker(_params()).spreads is not None
    np.testing.assert_allclose(make_tracker(_params()).spreads.stds, _params()["class_doppler_spread"])
    assert make_tracker(_params(class_doppler_spread=[0.0, 0.0, 0.0, 0.0])).spreads is None


def _clusters_msg(cols):
    return pointcloud.write(PointCloud2(), {k: np.asarray(v, float) for k, v in cols.items()},
                            Header(stamp=sec_to_stamp(10.0), frame_id="base_link"))


def test_radar_frames_carry_each_clusters_point_count_and_refuse_one_that_is_not_a_count():
    p = _params()
    cols = {"x": [10.0, 20.0], "y": [0.0, 1.0], "doppler_mean": [0.5, -1.0], "points": [3.0, 1.0]}
    frame = conv.radar_frame(_clusters_msg(cols), 10.0, (0.0, 0.0, 0.0), p, conv.Mounting.from_mount(p["radar_mount"]),
                             p["classes"])
    np.testing.assert_array_equal(frame.looks, [3.0, 1.0])
    for bad in (-1.0, np.nan, 1e7):
        with pytest.raises(InvalidInput, match="points"):
            conv.radar_frame(_clusters_msg({**cols, "points": [3.0, bad]}), 10.0, (0.0, 0.0, 0.0), p,
                             conv.Mounting.from_mount(p["radar_mount"]), p["classes"])


def test_the_within_cluster_spread_pools_each_class_over_clusters_on_one_object_alone(tmp_path):
    bag, inputs = tmp_path / "truth.mcap", tmp_path / "inputs.mcap"
    truth = {"x": [10.0, 30.0, 31.0], "y": [0.0, 0.0, 0.0], "object_id": [1, 2, 3], "class_id": [2, 0, 0]}
    with BagWriter(bag) as w:
        for t in (9.9, 10.1):
            w.write("/ground_truth/objects", pointcloud.write(
                PointCloud2(), {k: np.asarray(v, float) for k, v in truth.items()},
                Header(stamp=sec_to_stamp(t), frame_id="base_link")), int(t * 1e9))
    # on the cyclist (alone): 3 points at std 1.0 and 5 points at std 2.0; one point (no spread); one on the
    # two cars 1 m apart (not alone); one 3 m from any object (not on one)
    clusters = {"x": [10.2, 9.9, 10.0, 30.4, 20.0], "y": [0.1, -0.2, 0.0, 0.0, 0.0],
                "points": [3, 5, 1, 4, 6], "doppler_std": [1.0, 2.0, 0.0, 9.0, 9.0]}
    with BagWriter(inputs) as w:
        w.write("/radar/clusters", _clusters_msg(clusters), int(10.0 * 1e9))
    spread = within_cluster_spread(bag, inputs, ["car", "pedestrian", "cyclist", "pole"])
    assert spread == {"cyclist": (pytest.approx(np.sqrt((2 * 1.0 + 4 * 4.0) / 6)), 6)}
    assert "cyclist 1.73 m/s (6 dof)" in describe(spread)
    assert "no cluster" in describe({})


def test_the_rank_one_gate_of_a_frame_with_one_R_equals_the_full_factorisation_of_every_pair():
    from fusion_nodes.core.track_components import mahalanobis
    rng = np.random.default_rng(4)
    A = rng.normal(size=(6, 3, 3))
    S = A @ A.transpose(0, 2, 1) + 0.1 * np.eye(3)
    S[5] = 0.0                                          # a degenerate pair stays inadmissible
    y, c = rng.normal(size=(6, 9, 3)), rng.uniform(0.0, 3.0, size=(6, 9))
    full = np.broadcast_to(S[:, None], (6, 9, 3, 3)).copy()
    full[..., 2, 2] += c
    for got, want in zip(mahalanobis(S[:, None], y, (2, c)), mahalanobis(full, y)):
        np.testing.assert_allclose(got[:5], want[:5], rtol=1e-10)
        assert np.all(np.isinf(got[5]))
