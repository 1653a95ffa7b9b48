# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The camera's box model: what the image of an object's footprint says, and the tracker using it."""
from collections import deque

import numpy as np
import pytest
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from fusion_nodes.core import track_models as tm
from fusion_nodes.core.track_filters import EkfTrackFilter, UkfTrackFilter
from fusion_nodes.core.tracking import ClassBelief, ClassFootprints, Detections, Tracker, _Track
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros import tracks as conv
from fusion_nodes.ros.tracker_params import specs

P = {s.name: s.default for s in specs()}
# the perception scenario's camera: 1.5 m ahead of base_link, 1.4 m up, level, 260 px focal length
CAM = conv.CameraGeometry.from_params([1.5, 0.0, 1.4, -np.pi / 2, 0.0, -np.pi / 2], [260.0, 260.0, 160.0, 120.0])
CAR = (4.5, 1.8, 1.5)


def _box_message(centre, heading, size):
    """A camera_node detection of a box object, drawn as the perception simulator draws it (8 corners)."""
    L, W, H = size
    corners = np.array([[sx * L / 2, sy * W / 2, z] for sx in (-1, 1) for sy in (-1, 1) for z in (0.0, H)])
    c, s = np.cos(heading), np.sin(heading)
    corners = corners @ np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]]) + [centre[0], centre[1], 0.0]
    pc = (corners - CAM.t) @ CAM.R
    uv = (pc @ CAM.K.T)[:, :2] / pc[:, 2:3]
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    cols = {"u": [(lo[0] + hi[0]) / 2], "v": [(lo[1] + hi[1]) / 2], "width_px": [hi[0] - lo[0]],
            "height_px": [hi[1] - lo[1]]}
    return pointcloud.write(PointCloud2(), {k: np.asarray(v) for k, v in cols.items()}, Header(frame_id="camera"))


@pytest.mark.parametrize("centre, velocity", [((10.0, 3.5), (9.0, 0.0)),      # overtaking, next lane
                                              ((8.0, -2.0), (-8.0, 0.0)),     # oncoming
                                              ((15.0, 0.0), (0.0, 4.0)),      # crossing
                                              ((20.0, 5.0), (3.0, 3.0))])     # oblique
def test_the_box_model_predicts_what_the_camera_conversion_reads_from_the_image(centre, velocity):
    frame = conv.camera_frame(_box_message(centre, np.arctan2(velocity[1], velocity[0]), CAR), 0.0,
                              (0.0, 0.0, 0.0), P, CAM, [])
    k = np.array([[*centre, *velocity]])
    box = tm.BoxBearingRange().with_footprints(CAR[:2]).predict(k, frame.origin)[0]
    point = tm.BearingRange().predict(k, frame.origin)[0]
    np.testing.assert_allclose(box, frame.z[0], rtol=1e-5, atol=1e-6)   # float32 pixels
    # and the box is not the centre: a point model misreads it by tens of mrad and metres
    assert abs(point[0] - frame.z[0, 0]) > 0.005 or abs(point[1] - frame.z[0, 1]) > 0.5


def test_box_model_jacobian_and_its_point_limits():
    model = tm.BoxBearingRange().with_footprints(CAR[:2])
    sensor = tm.SensorPose(1.0, -2.0, 0.3)
    k = np.array([14.0, 3.0, 6.0, 1.0])
    H = model.jacobian(k[None], sensor)[0]
    for j in (0, 1):
        d = np.zeros(4)
        d[j] = 1e-5
        num = model.residual(model.predict((k + d)[None], sensor), model.predict((k - d)[None], sensor))[0] / 2e-5
        np.testing.assert_allclose(H[:, j], num, atol=1e-4)
    assert np.all(H[:, 2:] == 0)               # the heading is held: the camera does not move the velocity
    assert np.linalg.norm(H[:, :2] - tm.BearingRange().jacobian(k[None], sensor)[0][:, :2]) > 1e-3
    # no footprint, or zero size: exactly the point model; a corner behind the camera: the point model
    for m in (tm.BoxBearingRange(), tm.BoxBearingRange().with_footprints([0.0, 0.0])):
        np.testing.assert_allclose(m.predict(k[None], sensor), tm.BearingRange().predict(k[None], sensor))
    beside = np.array([[1.5, 3.0, 5.0, 0.0]])
    np.testing.assert_allclose(model.predict(beside, sensor), tm.BearingRange().predict(beside, sensor))


def test_footprints_follow_the_class_belief():
    fp = ClassFootprints([4.5, 1.8, 0.5, 0.5])
    np.testing.assert_allclose(fp.expect(np.array([[1.0, 0.0], [0.5, 0.5]])), [[4.5, 1.8], [2.5, 1.15]])
    with pytest.raises(ValueError):
        ClassFootprints([4.5, -1.0])


@pytest.mark.parametrize("filter_type", [EkfTrackFilter, UkfTrackFilter])
def test_a_car_track_updated_by_its_boxes_stays_on_the_car(filter_type):
    """An overtaking car's boxes through the box model keep the track on the car.

    The point model pulls it toward the box's middle and its bottom edge (the corner nearest the camera).
    """
    truth = np.array([12.0, 4.0, 8.0, 0.0])
    errors = {}
    for box in (True, False):
        motion = tm.ConstantVelocity(0.1)
        tracker = Tracker(filter_type(motion), belief=ClassBelief(2),
                          footprints=ClassFootprints([*CAR[:2], 0.5, 0.5]) if box else None)
        model = tm.BoxBearingRange() if box else tm.BearingRange()
        x0, P0 = motion.from_kinematics(tm.Seed(truth.copy(), np.diag([1.0, 1.0, 0.5, 0.5])))
        tracker._tracks.append(_Track(1, x0, P0, 0.0, 0.0, deque([True]), 0.9, belief=np.array([0.99, 0.01])))
        for i in range(1, 40):
            t = i / 15
            k = truth + np.r_[truth[2:] * t, 0.0, 0.0]
            msg = _box_message(k[:2], 0.0, CAR)
            cam = conv.camera_frame(msg, t, (0.0, 0.0, 0.0), {**P, "camera_box_model": box}, CAM, [])
            assert isinstance(cam.model, type(model))
            tracker.step(Detections(t, "camera", cam.model, cam.origin, cam.z, np.diag([1e-4, 0.25])[None],
                                    scores=np.array([[0.99, 0.01]])))
        state = tracker.tracks(confirmed_only=False)[0]
        errors[box] = np.linalg.norm(state.k[:2] - k[:2])
    assert errors[True] < 0.1 < errors[False]


def test_the_silhouette_extent_is_the_boxs_edges():
    """The bearings a footprint covers are those of the box the camera conversion reads: its middle is the
    box model's bearing and its width the box's angular width; a point covers its own bearing only.
    """
    centre, velocity = (20.0, 5.0), (3.0, 3.0)
    frame = conv.camera_frame(_box_message(centre, np.arctan2(velocity[1], velocity[0]), CAR), 0.0,
                              (0.0, 0.0, 0.0), P, CAM, [])
    k = np.array([[*centre, *velocity]])
    model = tm.BoxBearingRange().with_footprints(CAR[:2])
    (right, left), = model.extent(k, frame.origin)
    assert right < left
    np.testing.assert_allclose(np.tan(0.5 * (right + left)), np.tan(model.predict(k, frame.origin)[0, 0]), atol=0.02)
    box = pointcloud.read(_box_message(centre, np.arctan2(velocity[1], velocity[0]), CAR))
    u = np.array([box["u"][0] + box["width_px"][0] / 2, box["u"][0] - box["width_px"][0] / 2], float)
    rays = CAM.rays(u, np.full(2, 120.0))                   # the box's right and left edges
    np.testing.assert_allclose([right, left], np.arctan2(rays[:, 1], rays[:, 0]), atol=1e-5)
    point = tm.BearingRange().extent(k, frame.origin)
    np.testing.assert_allclose(point[0], tm.BearingRange().predict(k, frame.origin)[0, [0, 0]])


def _two_tracks(gap):
    """A car 15 m ahead and a pedestrian 30 m ahead, 0.6 m to its left (the car hides part of it), and a
    pedestrian alone 25 m ahead and 10 m to the right; both pedestrians seen by the camera.
    """
    motion = tm.ConstantVelocity(0.1)
    tracker = Tracker(EkfTrackFilter(motion), belief=ClassBelief(2), footprints=ClassFootprints([*CAR[:2], 0.5, 0.5]))
    for i, (k, belief) in enumerate(((np.array([15.0, 0.0, 0.0, 0.0]), [0.99, 0.01]),
                                     (np.array([30.0, 0.6, 0.0, 0.0]), [0.01, 0.99]),
                                     (np.array([25.0, -10.0, 0.0, 0.0]), [0.01, 0.99]))):
        x0, P0 = motion.from_kinematics(tm.Seed(k, np.diag([0.25, 0.25, 0.1, 0.1])))
        tracker._tracks.append(_Track(i + 1, x0, P0, 0.0, 0.0, deque([True]), 0.6, belief=np.array(belief)))
    origin = tm.SensorPose(1.5, 0.0, 0.0)
    truth = np.array([[30.0, 0.6 + 0.3, 0.0, 0.0], [25.0, -10.0 + 0.3, 0.0, 0.0]])   # 0.3 m left of the tracks
    z = tm.BearingRange().predict(truth, origin)
    frame = Detections(0.1, "camera", tm.BoxBearingRange(), origin, z, np.diag([1e-4, 1e12])[None].repeat(2, 0),
                       scores=np.array([[0.9, 0.1], [0.9, 0.1]]), occlusion_gap=gap)
    before = [(t.x.copy(), t.existence) for t in tracker._tracks]
    report = tracker.step(frame)
    return tracker, before, report


def test_a_box_of_a_partly_hidden_object_says_it_is_there_but_moves_nothing():
    """With ``occlusion_gap`` the pedestrian behind the car gains existence only (its box is centred on its
    visible part); the one alone is moved and takes the class evidence. Without it both move.
    """
    tracker, before, report = _two_tracks(0.04)
    hidden, alone = tracker._tracks[1], tracker._tracks[2]
    assert report.assigned == 2 and report.occluded == 1
    motion = tracker.filter.motion
    predicted = tracker.filter.predict(*motion.from_kinematics(tm.Seed(np.array([30.0, 0.6, 0.0, 0.0]),
                                                                        np.diag([0.25, 0.25, 0.1, 0.1]))), 0.1)[0]
    np.testing.assert_allclose(hidden.x, predicted)
    assert hidden.existence > before[1][1] and hidden.belief[1] > 0.9        # seen, class untouched
    assert motion.kinematics(alone.x[None])[0, 1] > -10.0 + 0.2 and alone.belief[1] < 0.95
    tracker, _, report = _two_tracks(None)
    assert report.occluded == 0 and motion.kinematics(tracker._tracks[1].x[None])[0, 1] > 0.6 + 0.2



def _interval_run(interval):
    """One pedestrian track 25 m ahead, 10 m right; camera boxes 0.3 m to its left at 0.1, 0.2, 0.3, 0.7 s
    (``update_interval`` as given) and a radar detection at 0.25 s. Per step: (stamp, report, state and
    existence and class belief before, after).
    """
    motion = tm.ConstantVelocity(0.1)
    tracker = Tracker(EkfTrackFilter(motion), belief=ClassBelief(2), footprints=ClassFootprints([*CAR[:2], 0.5, 0.5]))
    x0, P0 = motion.from_kinematics(tm.Seed(np.array([25.0, -10.0, 0.0, 0.0]), np.diag([0.25, 0.25, 0.1, 0.1])))
    tracker._tracks.append(_Track(1, x0, P0, 0.0, 0.0, deque([True]), 0.6, belief=np.array([0.5, 0.5])))
    origin = tm.SensorPose(1.5, 0.0, 0.0)
    z = tm.BearingRange().predict(np.array([[25.0, -9.7, 0.0, 0.0]]), origin)
    frames = [Detections(t, "camera", tm.BoxBearingRange(), origin, z, np.diag([1e-4, 1e12])[None],
                         scores=np.array([[0.2, 0.8]]), update_interval=interval) for t in (0.1, 0.2, 0.3, 0.7)]
    radar = Detections(0.25, "radar", tm.Position(), origin, np.array([[25.0, -10.1]]), 0.01 * np.eye(2)[None])
    frames.insert(2, radar)
    track, steps = tracker._tracks[0], []
    for frame in frames:
        before = (track.x.copy(), track.P.copy(), track.existence, track.belief.copy())
        report = tracker.step(frame)
        steps.append((frame.stamp, report, before, (track.x.copy(), track.P.copy(), track.existence,
                                                    track.belief.copy())))
    return tracker, steps


def test_a_box_within_the_update_interval_says_it_is_there_but_moves_nothing():
    """With ``update_interval`` 0.5 s a camera box moves a track at most every 0.5 s; the boxes in between
    raise its existence and carry class evidence but leave the state as predicted. Another sensor moves it
    at any time. With 0 every box moves it.
    """
    tracker, steps = _interval_run(0.5)
    # 0.1 moves (the first box), 0.2 and 0.3 are within 0.5 s of it, the radar at 0.25 moves, 0.7 moves
    assert [s[1].held for s in steps] == [0, 1, 0, 1, 0] and all(s[1].assigned == 1 for s in steps)
    assert tracker._tracks[0].moved_by == {"camera": 0.7, "radar": 0.25}
    previous = 0.0
    for stamp, report, (x, P, existence, belief), (x2, P2, existence2, belief2) in steps:
        predicted = tracker.filter.predict(x, P, stamp - previous)
        if report.held:
            np.testing.assert_allclose(x2, predicted[0])
            np.testing.assert_allclose(P2, predicted[1])
        else:
            assert np.abs(x2 - predicted[0]).max() > 1e-3            # moved by its detection
        previous = stamp
    # without the interval every box moves it; existence and class are the same box for box
    _, free = _interval_run(0.0)
    assert [s[1].held for s in free] == [0] * 5 and all(s[1].assigned == 1 for s in free)
    assert np.abs(free[-1][3][0] - steps[-1][3][0]).max() > 1e-3
    for (_, _, _, after), (_, _, _, after_free) in zip(steps, free):
        assert after[2] == pytest.approx(after_free[2]) and after[3] == pytest.approx(after_free[3])
    assert steps[-1][3][3][1] > 0.9                          # the boxes' class evidence was taken
