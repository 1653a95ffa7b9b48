# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The object tracker's core: model Jacobians, the tracker on synthetic scenes, metrics, time order."""
from collections import deque

import numpy as np
import pytest

from fusion_nodes.core import track_models as tm
from fusion_nodes.core.timeline import FrameQueue, PoseHistory, TwistHistory
from fusion_nodes.core.track_filters import EkfTrackFilter, UkfTrackFilter
from fusion_nodes.core.track_metrics import Frame, TrackingMetrics, common_rmse, gospa, ospa
from fusion_nodes.core.track_components import CONFIRMED, ExistenceConfirmation, MOfN
from fusion_nodes.core.tracking import ClassBelief, Detections, DuplicateRemover, FieldOfView, Tracker

SENSOR = tm.SensorPose(1.0, -2.0, 0.3)


def _numeric(f, k, eps=1e-6):
    cols = []
    for j in range(len(k)):
        d = np.zeros(len(k))
        d[j] = eps
        cols.append((f(k + d) - f(k - d)) / (2 * eps))
    return np.column_stack(cols)


@pytest.mark.parametrize("model", [tm.Position(), tm.PositionDoppler(), tm.RangeBearingRate(), tm.BearingRange()])
def test_measurement_jacobians_match_finite_differences(model):
    rng = np.random.default_rng(3)
    for _ in range(20):
        k = np.r_[rng.uniform(-30, 30, 2), rng.uniform(-8, 8, 2)]
        H = model.jacobian(k[None], SENSOR)[0]
        num = _numeric(lambda q: model.residual(model.predict(q[None], SENSOR)[0], 0 * q[:model.dim]), k)
        np.testing.assert_allclose(H, num, atol=1e-5)


def test_ctrv_kinematics_jacobian_and_straight_line_limit():
    m = tm.ConstantTurnRate()
    x = np.array([2.0, 1.0, 5.0, 0.7, 0.2])
    J = m.kinematics_jacobian(x[None])[0]
    np.testing.assert_allclose(J, _numeric(lambda q: m.kinematics(q[None])[0], x), atol=1e-6)
    straight, _ = m.predict(np.array([0.0, 0.0, 4.0, 0.0, 0.0]), 1.0)
    np.testing.assert_allclose(straight[:2], [4.0, 0.0], atol=1e-9)
    quarter, _ = m.predict(np.array([0.0, 0.0, np.pi / 2, 0.0, np.pi / 2]), 1.0)   # quarter circle, radius 1
    np.testing.assert_allclose(quarter[:2], [1.0, 1.0], atol=1e-9)


def test_seeds_invert_the_measurements():
    k = np.array([12.0, 5.0, 3.0, -1.0])
    for model in (tm.RangeBearingRate(), tm.BearingRange(), tm.PositionDoppler()):
        z = model.predict(k[None], SENSOR)[0]
        seed = model.seed(z, np.eye(model.dim) * 0.01, SENSOR)
        np.testing.assert_allclose(seed.k[:2], k[:2], atol=1e-9)
        if model.dim == 3:     # Doppler: the radial part of the velocity is known
            u = (k[:2] - [SENSOR.x, SENSOR.y]) / np.linalg.norm(k[:2] - [SENSOR.x, SENSOR.y])
            assert seed.k[2:] @ u == pytest.approx(k[2:] @ u)
    assert tm.BearingRange().seed(np.array([0.1, 0.0]), np.diag([1e-4, tm.NO_RANGE_VARIANCE]), SENSOR) is None


def _scene(seed, steps=60, dt=0.1, clutter=3, sigma=0.3, doppler=True):
    """Two crossing objects seen by a radar at the origin; yields frames and truth."""
    rng = np.random.default_rng(seed)
    p0 = np.array([[10.0, -6.0], [10.0, 6.0]])
    v = np.array([[0.5, 2.0], [0.5, -2.0]])
    model = tm.PositionDoppler() if doppler else tm.Position()
    for i in range(1, steps + 1):
        t = i * dt
        truth = p0 + v * t
        k = np.hstack([truth, v])
        z = model.predict(k, tm.SensorPose()) + rng.normal(0, sigma, (2, model.dim))
        z = np.vstack([z, np.column_stack([rng.uniform(0, 30, (clutter, 2)), rng.normal(0, 2, clutter)])
                       [:, :model.dim]])
        R = np.broadcast_to(np.eye(model.dim) * sigma ** 2, (len(z), model.dim, model.dim)).copy()
        yield Detections(t, "radar", model, tm.SensorPose(), z, R), truth, v


def _run(tracker, frames):
    metrics = TrackingMetrics(threshold=2.0)
    for frame, truth, v in frames:
        tracker.step(frame)
        tr = tracker.tracks()
        metrics.add(Frame(frame.stamp, np.array([0, 1]), truth, v, np.array([t.id for t in tr]),
                          np.array([t.k[:2] for t in tr]).reshape(-1, 2),
                          np.array([t.k[2:] for t in tr]).reshape(-1, 2)))
    return metrics.summary()


@pytest.mark.parametrize("filter_cls,motion", [(EkfTrackFilter, tm.ConstantVelocity(0.5)),
                                               (UkfTrackFilter, tm.ConstantVelocity(0.5)),
                                               (EkfTrackFilter, tm.ConstantTurnRate(0.5, 0.05))])
def test_two_crossing_objects_are_tracked_through_clutter_with_stable_ids(filter_cls, motion):
    s = _run(Tracker(filter_cls(motion)), _scene(1))
    assert s["id_switches"] == 0
    assert s["mota"] > 0.8 and s["idf1"] > 0.8
    raw = 0.3 * np.sqrt(2)                      # the detections' own 2-D position error (RMS)
    assert s["position_rmse"] < raw and s["velocity_rmse"] < 1.0


def test_doppler_makes_velocity_better():
    with_d = _run(Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5))), _scene(2))
    without = _run(Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5))), _scene(2, doppler=False))
    assert with_d["velocity_rmse"] < without["velocity_rmse"]


def test_a_gated_outlier_leaves_every_track_as_it_was():
    frames = [f for f, _, _ in _scene(4, steps=30, clutter=0)]
    a, b = Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5))), Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5)))
    for f in frames:
        a.step(f)
        b.step(f)
    far = Detections(frames[-1].stamp, "radar", frames[0].model, tm.SensorPose(), np.array([[200.0, 200.0, 5.0]]),
                     np.eye(3)[None] * 0.09, initiates=False)
    report = b.step(far)
    assert report.assigned == 0
    for ta, tb in zip(a.tracks(), b.tracks()):
        np.testing.assert_array_equal(ta.k, tb.k)
        np.testing.assert_array_equal(ta.P, tb.P)


def test_tracks_outside_the_field_of_view_coast_and_then_expire():
    tracker = Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5)))
    frames = [f for f, _, _ in _scene(5, steps=20, clutter=0)]
    for f in frames:
        tracker.step(f)
    ids = {t.id for t in tracker.tracks()}
    empty = dict(model=frames[0].model, origin=tm.SensorPose(), z=np.zeros((0, 3)), R=np.zeros((0, 3, 3)))
    blind = FieldOfView(max_range=1.0)          # sees nothing out there: no misses counted
    tracker.step(Detections(frames[-1].stamp + 1.0, "radar", fov=blind, **empty))
    assert {t.id for t in tracker.tracks()} == ids
    tracker.step(Detections(frames[-1].stamp + 3.0, "radar", fov=blind, **empty))
    assert tracker.tracks() == []              # unseen for longer than max_coast


def test_m_of_n_confirmation():
    rule = MOfN(3, 5)
    assert rule.status(deque([True, True], maxlen=5)) == "tentative"
    assert rule.status(deque([True, False, True, True], maxlen=5)) == CONFIRMED
    assert rule.status(deque([True, False, False, False], maxlen=5)) is None


def test_class_belief_accumulates_and_decays_toward_uniform():
    belief = ClassBelief(3, "bayes", half_life=1.0)
    b = None
    for _ in range(5):
        b = belief.fuse(b, np.array([0.6, 0.3, 0.1]), 1.0, 0.1)
    assert b[0] > 0.9                             # evidence accumulates over frames
    later = belief.decay(b, 2.0)
    much_later = belief.decay(b, 20.0)
    assert 1 / 3 < later[0] < b[0] and abs(much_later[0] - 1 / 3) < 0.01


@pytest.mark.parametrize("rule", ["bayes", "average"])
def test_class_beliefs_fused_together_equal_one_decision_pair_each(rule):
    """The tracker fuses every updated track's class in one call: the same as the rule on each
    (tempered belief, scores) pair apart, and a track without a belief takes the scores.
    """
    from fusion_nodes.core.late_fusion import Decision, make_rule
    rng = np.random.default_rng(2)
    belief = ClassBelief(4, rule, half_life=1.5)
    B, S, dt = rng.dirichlet(np.ones(4), 30), rng.dirichlet(np.ones(4), 30) * 3.0, rng.uniform(0, 5, 30)
    B[::7] = np.nan
    got = belief.fuse_many(B, S, 0.7, dt)
    for b, s, t, g in zip(B, S, dt, got):
        if np.isnan(b).any():
            np.testing.assert_allclose(g, s / s.sum())
            continue
        want = make_rule(rule, 4).fuse([Decision("track", 0.0, belief.decay(b, t)), Decision("sensor", 0.0, s)],
                                       [1.0, 0.7]).probabilities
        np.testing.assert_allclose(g, want, rtol=1e-12)
    np.testing.assert_allclose(belief.fuse(None, S[0], 0.7, 0.0), S[0] / S[0].sum())
    np.testing.assert_allclose(belief.decay(B[1:3], dt[1:3]), [belief.decay(B[1], dt[1]), belief.decay(B[2], dt[2])])


def test_gospa_and_ospa_values():
    X = np.array([[0.0, 0.0], [10.0, 0.0]])
    assert gospa(X, X)["gospa"] == 0.0
    g = gospa(X, np.array([[0.0, 1.0]]), c=5.0)
    assert g["gospa"] == pytest.approx(np.sqrt(1.0 + 25.0 / 2)) and g["missed"] == 1 and g["false"] == 0
    assert ospa(X, np.array([[0.0, 1.0]]), c=5.0) == pytest.approx(np.sqrt((1.0 + 25.0) / 2))
    assert ospa(np.zeros((0, 2)), np.zeros((0, 2))) == 0.0


def test_mota_idf1_and_switches_on_a_swapped_sequence():
    m = TrackingMetrics(threshold=1.0)
    xy = np.array([[0.0, 0.0], [5.0, 0.0]])
    v = np.zeros((2, 2))
    for t in range(4):
        m.add(Frame(t, np.array([1, 2]), xy, v, np.array([10, 20]), xy, v))
    for t in range(4, 8):                         # the tracker swaps the ids halfway
        m.add(Frame(t, np.array([1, 2]), xy, v, np.array([20, 10]), xy, v))
    s = m.summary()
    assert s["id_switches"] == 2
    assert s["mota"] == pytest.approx(1 - 2 / 16)
    assert s["idf1"] == pytest.approx(0.5)


def test_pooled_drives_are_one_long_drive_whose_ids_never_meet():
    """Two drives reusing the same ids: pooled, their objects stay apart (IDF1 matches within a drive, no
    switch between drives) and every count is the drives' together, weighted by frames, not by drive.
    """
    xy, v = np.array([[0.0, 0.0], [5.0, 0.0]]), np.zeros((2, 2))
    swapped, clean = TrackingMetrics(threshold=1.0), TrackingMetrics(threshold=1.0)
    for t in range(8):                            # drive 1 swaps its ids halfway (2 switches, IDF1 0.5)
        swapped.add(Frame(t, np.array([1, 2]), xy, v, np.array([10, 20] if t < 4 else [20, 10]), xy, v))
    for t in range(24):                           # drive 2: the same ids, 3 x as long, 0.1 m off, no switch
        clean.add(Frame(t, np.array([1, 2]), xy, v, np.array([10, 20]), xy + [0.1, 0.0], v))
    s = TrackingMetrics.pooled([swapped, clean]).summary()
    assert s["id_switches"] == 2 and s["objects"] == 4 and s["tracks"] == 4 and s["false_tracks"] == 0
    assert s["mota"] == pytest.approx(1 - 2 / 64)
    assert s["idf1"] == pytest.approx((2 * 8 + 2 * 48) / (2 * 16 + 2 * 48))
    assert s["position_rmse"] == pytest.approx(np.sqrt(48 * 0.01 / 64))
    assert s["gospa"] == pytest.approx((8 * 0.0 + 24 * np.sqrt(0.02)) / 32)
    assert len(TrackingMetrics.pooled([swapped, clean]).errors) == 64
    assert TrackingMetrics.pooled([clean]).summary() == clean.summary()
    with pytest.raises(ValueError):
        TrackingMetrics.pooled([swapped, TrackingMetrics(threshold=2.0)])


def test_frame_queue_orders_and_refuses_the_past():
    class F:
        def __init__(self, stamp):
            self.stamp = stamp
    q = FrameQueue(delay=0.2)
    for s in (1.0, 1.3, 1.1):
        assert q.push(F(s))
    assert [f.stamp for f in q.pop_ready(1.35)] == [1.0, 1.1]
    assert not q.push(F(1.05))                   # older than what was released
    assert [f.stamp for f in q.pop_ready(2.0)] == [1.3]


def test_pose_history_interpolates_and_wraps_yaw():
    h = PoseHistory()
    h.add(1.0, 0.0, 0.0, np.pi - 0.1)
    h.add(2.0, 2.0, 4.0, -np.pi + 0.1)
    x, y, yaw = h.at(1.5, tolerance=0.1)
    assert (x, y) == (1.0, 2.0) and abs(abs(yaw) - np.pi) < 1e-9
    assert h.at(2.05, 0.1)[0] == 2.0 and h.at(3.0, 0.1) is None


def test_twist_history_interpolates_holds_and_forgets():
    h = TwistHistory(horizon=2.0)
    assert h.at(1.0, 10.0) is None
    assert h.add(1.0, [2.0, 0.0, 0.0], [0.0, 0.0, 0.1]) and h.add(1.2, [4.0, 1.0, 0.0], [0.0, 0.0, 0.3])
    assert not h.add(1.2, [9.0, 9.0, 9.0], [9.0, 9.0, 9.0]) and not h.add(1.1, [9.0] * 3, [9.0] * 3)
    v, w = h.at(1.15, tolerance=0.0)        # between the two: interpolated, whatever the tolerance
    np.testing.assert_allclose(v, [3.5, 0.75, 0.0])
    np.testing.assert_allclose(w, [0.0, 0.0, 0.25])
    np.testing.assert_allclose(h.at(1.5, 0.5)[0], [4.0, 1.0, 0.0])     # past the newest: held
    np.testing.assert_allclose(h.at(0.9, 0.5)[1], [0.0, 0.0, 0.1])     # before the oldest: held
    assert h.at(1.8, 0.5) is None and h.at(0.4, 0.5) is None
    h.add(3.1, [1.0, 0.0, 0.0], [0.0, 0.0, 0.0])                       # 1.0 is now past the horizon
    np.testing.assert_allclose(h.at(1.0, 0.5)[0], [4.0, 1.0, 0.0])
    h.clear()
    assert h.at(3.1, 1.0) is None


def _two_sensor_frames(steps=60):
    """One object at (20, 0) seen by a radar at 10 Hz and missed by a 20 Hz camera (two frames per radar's)."""
    rng = np.random.default_rng(9)
    for i in range(steps):
        t = 0.05 * i
        if i % 3 == 0:
            z = np.array([[20.0, 0.0]]) + rng.normal(0, 0.3, (1, 2))
            yield Detections(t, "radar", tm.Position(), tm.SensorPose(), z, np.eye(2)[None] * 0.09,
                             detection_probability=0.8)
        else:
            # the camera sees something else (a board 1 rad off), not the object: a miss for its track
            yield Detections(t, "camera", tm.BearingRange(), tm.SensorPose(), np.array([[1.0, 0.0]]),
                             np.diag([1e-4, tm.NO_RANGE_VARIANCE])[None], initiates=False, detection_probability=0.15)


def test_existence_confirmation_weighs_each_sensors_misses_where_m_of_n_cannot():
    """Two of every three frames are camera misses: M-of-N (3 of 5) gives the object up, existence
    (each miss weighed by the camera's low detection probability) confirms it.
    """
    m_of_n = Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5)), initiator=MOfN(3, 5))
    existence = Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5)), initiator=ExistenceConfirmation(0.99))
    for f in _two_sensor_frames():
        m_of_n.step(f)
        existence.step(f)
    assert m_of_n.tracks() == []
    (track,) = existence.tracks()
    assert track.existence >= 0.99 and np.hypot(*(track.k[:2] - [20.0, 0.0])) < 0.5
    rule = ExistenceConfirmation(0.95, give_up=0.1)
    assert [rule.status(deque(), p) for p in (0.97, 0.5, 0.05)] == [CONFIRMED, "tentative", None]


def test_a_track_below_the_publishing_existence_is_hidden_but_keeps_its_id():
    tracker = Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5)))
    frames = [f for f, _, _ in _scene(6, steps=20, clutter=0)]
    for f in frames:
        tracker.step(f)
    ids = {t.id for t in tracker.tracks()}
    far = Detections(frames[-1].stamp + 0.1, "radar", frames[0].model, tm.SensorPose(), np.array([[90.0, 0, 0]]),
                     np.eye(3)[None] * 0.09, initiates=False)
    tracker.step(far)                                              # a scan that missed both: existence drops
    low = min(t.existence for t in tracker.tracks())
    assert tracker.tracks(min_existence=low + 1e-9) != tracker.tracks() and len(ids) == 2
    for f in _scene(6, steps=23, clutter=0):
        pass
    later = Detections(frames[-1].stamp + 0.2, "radar", frames[0].model, tm.SensorPose(), f[0].z, f[0].R)
    tracker.step(later)                                            # seen again: the same ids come back
    assert {t.id for t in tracker.tracks(min_existence=0.5)} == ids


def test_track_eval_reads_tracks_truth_and_ego_pose_from_a_bag(tmp_path):
    """fusion_nodes.tools.track_eval on a hand-made bag: one object, one track 0.5 m off, then a second track."""
    from fusion_msgs.msg import TrackedObject, TrackedObjectArray
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import PointCloud2
    from std_msgs.msg import Header

    from fusion_nodes.ros import pointcloud
    from fusion_nodes.ros.convert import sec_to_stamp
    from fusion_nodes.tools.bagio import BagWriter
    from fusion_nodes.tools.track_eval import evaluate

    def track(tid, x, y, vx):
        o = TrackedObject(id=tid, status=TrackedObject.STATUS_CONFIRMED)
        o.pose.pose.position.x, o.pose.pose.position.y, o.twist.twist.linear.x = x, y, vx
        return o

    heading = 0.4        # the robot's true heading in the map; its odom frame started along it
    with BagWriter(tmp_path / "bag") as w:
        for k in range(10):
            t = 100.0 + 0.1 * k
            ns = int(t * 1e9)
            odom = Odometry(header=Header(stamp=sec_to_stamp(t), frame_id="odom"))
            odom.pose.pose.position.x, odom.pose.pose.orientation.w = 1.0 * k * 0.1, 1.0   # ego drives at 1 m/s
            w.write("/odometry/filtered", odom, ns)
            true = Odometry(header=Header(stamp=sec_to_stamp(t), frame_id="map"))
            true.pose.pose.orientation.z, true.pose.pose.orientation.w = np.sin(heading / 2), np.cos(heading / 2)
            w.write("/ground_truth/odom", true, ns)
            objs = [track(7, 10.0 + 2.0 * 0.1 * k, 0.5, 2.0)] + ([track(8, 30.0, 0.0, 0.0)] if k >= 5 else [])
            w.write("/tracks", TrackedObjectArray(header=Header(stamp=sec_to_stamp(t), frame_id="odom"),
                                                  objects=objs), ns)
            base_x = 10.0 + 2.0 * 0.1 * k - 0.1 * k                    # the object in base_link
            # truth velocity in map axes: 2 m/s along the robot's heading, i.e. along odom x
            vx, vy = 2.0 * np.cos(heading), 2.0 * np.sin(heading)
            cols = {k_: np.array([v]) for k_, v in dict(x=base_x, y=0.0, vx=vx, vy=vy, object_id=3.0).items()}
            w.write("/ground_truth/objects", pointcloud.write(PointCloud2(), cols, Header(stamp=sec_to_stamp(t))),
                    ns + 1)
            w.write("/objects", pointcloud.write(PointCloud2(), cols, Header(stamp=sec_to_stamp(t))), ns)
            # a radar cluster on the object whose Doppler reads 1.5 of its 2 m/s along the line of sight
            cluster = {"x": np.array([base_x]), "y": np.array([0.0]), "doppler_mean": np.array([1.5])}
            w.write("/clusters", pointcloud.write(PointCloud2(), cluster, Header(stamp=sec_to_stamp(t))), ns)
    s = evaluate(tmp_path / "bag")
    assert s["objects"] == 1 and s["tracks"] == 2 and s["false_tracks"] == 1
    assert s["position_rmse"] == pytest.approx(0.5) and s["velocity_rmse"] == pytest.approx(0.0, abs=1e-6)
    assert s["id_switches"] == 0 and s["recall"] == 1.0
    assert s["mota"] == pytest.approx(1 - 5 / 10)                  # five frames with one false track
    # the same object list scored per frame (no identity): every message's objects are new tracks
    frame = evaluate(tmp_path / "bag", "/objects", per_frame=True)
    assert frame["id_switches"] == 9 and frame["position_rmse"] == pytest.approx(0.0, abs=1e-9)
    assert frame["velocity_rmse"] != frame["velocity_rmse"]         # NaN: a per-frame list has no velocity
    # radar clusters per frame: the velocity their Doppler alone gives (along the line of sight from the radar)
    radar = evaluate(tmp_path / "bag", "/clusters", per_frame=True, doppler_origin=[2.0, 0.0])
    assert radar["velocity_rmse"] == pytest.approx(0.5) and radar["position_rmse"] == pytest.approx(0.0, abs=1e-9)


def test_common_rmse_compares_runs_on_the_matches_all_of_them_made():
    """A run that also tracks a hard object is charged for it in its own RMSE, not in the common one."""
    def run(offsets):
        m = TrackingMetrics()
        for k in range(4):
            ids = np.array(sorted(offsets), float)
            truth = np.array([[10.0 * g, 0.0] for g in sorted(offsets)])
            tracks = truth + np.array([[offsets[g], 0.0] for g in sorted(offsets)])
            m.add(Frame(0.1 * k, ids, truth, np.zeros_like(truth), ids + 100, tracks, np.zeros_like(truth)))
        return m
    easy_only, both = run({1: 0.3}), run({1: 0.2, 2: 1.5})      # object 2 (1.5 m off) only in the second run
    assert both.summary()["position_rmse"] > easy_only.summary()["position_rmse"]
    n, ((pos_a, vel_a), (pos_b, vel_b)) = common_rmse([easy_only.errors, both.errors])
    assert n == 4 and pos_a == pytest.approx(0.3) and pos_b == pytest.approx(0.2) and vel_a == vel_b == 0.0
    assert common_rmse([easy_only.errors, {}])[0] == 0


def test_one_r_per_frame_shortcut_scores_as_the_general_path():
    """A frame whose detections share R takes the per-track factorisation; a hair's difference in one R
    takes the per-pair path: the same tracks come out.
    """
    frames = [f for f, _, _ in _scene(8, steps=25, clutter=2)]
    a, b = Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5))), Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5)))
    for f in frames:
        a.step(f)
        R = f.R.copy()
        R[0] *= 1 + 1e-12
        b.step(Detections(f.stamp, f.sensor, f.model, f.origin, f.z, R))
    assert [t.id for t in a.tracks()] == [t.id for t in b.tracks()] and a.tracks()
    for ta, tb in zip(a.tracks(), b.tracks()):
        np.testing.assert_allclose(ta.k, tb.k, atol=1e-6)


def test_polar_position_covariance_is_the_spread_of_range_and_azimuth_errors():
    """Points at range r, bearing b measured with range / azimuth errors and averaged N at a time: their
    sample covariance is the polar covariance (long along the line of sight at near range, across it far).
    """
    rng = np.random.default_rng(3)
    for r, b, s_r, s_az, n in ((5.0, 0.4, 0.3, 0.01, 1), (45.0, -0.3, 0.1, 0.01, 4)):
        rr = r + rng.normal(0, s_r, (20000, n))
        aa = b + rng.normal(0, s_az, (20000, n))
        xy = np.column_stack([(rr * np.cos(aa)).mean(axis=1), (rr * np.sin(aa)).mean(axis=1)])
        R = tm.polar_position_covariance([[r * np.cos(b), r * np.sin(b)]], 0.0, s_r, s_az, [n])[0]
        np.testing.assert_allclose(np.cov(xy.T), R, rtol=0.05, atol=2e-4)
    u = np.array([np.cos(0.4), np.sin(0.4)])
    near = tm.polar_position_covariance([5 * u], 0.2, 0.3, 0.01)[0]
    far = tm.polar_position_covariance([50 * u], 0.2, 0.3, 0.01)[0]
    assert u @ near @ u == pytest.approx(0.2 ** 2 + 0.3 ** 2)
    assert np.linalg.eigvalsh(far)[-1] == pytest.approx(0.2 ** 2 + (50 * 0.01) ** 2)


def test_duplicate_remover_merges_a_split_object_and_keeps_neighbours():
    """Oldest first: a car's second track 1.6 m behind its first, moving alike, goes; a pedestrian 1.6 m
    from another (small extent) stays, and so does one crossing the first's centre at another velocity.
    """
    P = np.broadcast_to(np.diag([0.3, 0.3, 0.5, 0.5]), (2, 4, 4))
    car = np.array([[20.0, 3.0, 8.0, 0.0], [18.4, 3.1, 7.8, 0.1]])
    assert DuplicateRemover().duplicates(car, P, np.array([2.25, 2.25])) == {1}
    walkers = np.array([[10.0, 0.0, 1.2, 0.0], [10.0, 1.6, 1.2, 0.0]])
    assert DuplicateRemover().duplicates(walkers, P, np.array([0.3, 0.3])) == set()
    crossing = np.array([[10.0, 0.0, 0.0, 1.4], [10.2, 0.1, 0.0, -1.4]])
    assert DuplicateRemover().duplicates(crossing, P, np.array([0.3, 0.3])) == set()
    assert DuplicateRemover(enabled=False).duplicates(car, P, np.array([2.25, 2.25])) == set()
    rail_and_pole = np.array([[30.0, 5.0, 0.0, 0.0], [36.0, 6.0, 0.0, 0.0]])     # both static, 6.1 m apart
    assert DuplicateRemover().duplicates(rail_and_pole, P, np.array([40.0, 0.1])) == set()


def test_a_car_seen_as_two_clusters_is_one_track():
    """Every scan splits a car into a front and a rear cluster 1.8 m apart: the tracker keeps one track of
    it near its centre; without the duplicate remover it keeps two.
    """
    rng = np.random.default_rng(4)
    model, size = tm.PositionDoppler(), np.array([[4.5, 1.8], [4.5, 1.8]])

    def frames():
        for i in range(1, 40):
            centre = np.array([15.0 + 8.0 * 0.1 * i, 3.0])
            z = np.column_stack([centre + [[0.9, 0.0], [-0.9, 0.0]] + rng.normal(0, 0.2, (2, 2)),
                                 model.predict(np.array([[*centre, 8.0, 0.0]] * 2), tm.SensorPose())[:, 2]])
            yield Detections(0.1 * i, "radar", model, tm.SensorPose(), z, np.broadcast_to(
                np.diag([0.7 ** 2, 0.7 ** 2, 0.16]), (2, 3, 3)).copy(), size=size), centre

    for merger, expected in ((DuplicateRemover(enabled=False), 2), (DuplicateRemover(), 1)):
        tracker = Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5)), merger=merger)
        for frame, centre in frames():
            tracker.step(frame)
        assert len(tracker.tracks()) == expected
    assert np.hypot(*(tracker.tracks()[0].k[:2] - centre)) < 2.0


def test_an_empty_frame_is_a_blind_sensor_and_counts_no_misses():
    """A radar blackout (scans keep coming, empty) leaves existence alone; a scan with only clutter does not."""
    frames = [f for f, _, _ in _scene(10, steps=20, clutter=0)]
    blind, seeing = Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5))), Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5)))
    for f in frames:
        blind.step(f)
        seeing.step(f)
    before = [t.existence for t in blind.tracks()]
    for k in range(1, 4):
        stamp = frames[-1].stamp + 0.1 * k
        blind.step(Detections(stamp, "radar", frames[0].model, tm.SensorPose(), np.zeros((0, 3)), np.zeros((0, 3, 3))))
        seeing.step(Detections(stamp, "radar", frames[0].model, tm.SensorPose(), np.array([[90.0, 0, 0]]),
                               np.eye(3)[None] * 0.09, initiates=False))
    survival = Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5))).existence.survival ** 0.3
    np.testing.assert_allclose([t.existence for t in blind.tracks()], np.array(before) * survival)
    assert len(seeing.tracks()) == len(before) and all(t.existence < e - 0.1 for t, e in zip(seeing.tracks(), before))


@pytest.mark.parametrize("association", ["gnn", "jpda"])
def test_the_stone_soup_peer_tracks_the_crossing_objects(association):
    """The peer of the benchmarks is a working tracker, not a straw man: on the two crossing objects through
    clutter it holds both, as the core does, with either association (Stone Soup is a bench and test
    dependency that make installs: skipped where absent).
    """
    pytest.importorskip("stonesoup")
    from fusion_nodes.tools.track_peer import StoneSoupTracker
    peer = StoneSoupTracker(0.5, 0.99, min_points=3, max_coast=1.0, max_position_std=6.0, association=association)
    metrics = TrackingMetrics(threshold=2.0)
    for frame, truth, v in _scene(1, steps=40, clutter=1):
        peer.step(frame)
        tr = peer.states(frame.stamp)
        metrics.add(Frame(frame.stamp, np.array([0, 1]), truth, v, np.array([t.id for t in tr]),
                          np.array([t.k[:2] for t in tr]).reshape(-1, 2),
                          np.array([t.k[2:] for t in tr]).reshape(-1, 2)))
    s = metrics.summary()
    assert s["recall"] > 0.8 and s["id_switches"] == 0 and s["position_rmse"] < 0.5


def test_the_tracker_bench_measures_a_tracker_that_holds_its_objects():
    """Make bench's tracker rows time a tracker that tracks: after the warm-up it holds the scene's objects."""
    from fusion_nodes.tools import bench_tracking
    (row,) = bench_tracking.rows(sizes=(10,), timed=(3,), peer_timed=(0,))
    assert 8 <= row["tracks_ours"] <= 12 and row["peer"] is None and row["ours"] > 0 and row["baseline"] > 0
    assert 8 <= row["tracks_ours_jpda"] <= 12 and row["peer_jpda"] is None and row["ours_jpda"] > 0
    # and the shipped configuration's rows time one that holds them too, radar and camera frames apart
    (shipped,) = bench_tracking.shipped_rows(sizes=(10,), timed=(1.0,))
    assert 8 <= shipped["tracks"] <= 12 and shipped["radar"] > 0 and shipped["camera"] > 0


def test_the_tracker_bench_times_stone_soup_trackers_that_hold_their_objects():
    """The peer rows of make bench time Stone Soup trackers that track too, with GNN and with JPDA (skipped
    where Stone Soup is absent; make installs it).
    """
    pytest.importorskip("stonesoup")
    from fusion_nodes.tools import bench_tracking
    (row,) = bench_tracking.rows(sizes=(10,), timed=(1,), peer_timed=(1,))
    for suffix in ("", "_jpda"):
        assert row["peer" + suffix] > 0 and 8 <= row["tracks_peer" + suffix] <= 12, row
