# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The tracker's ego motion between odometry messages, and class evidence in its data association."""
import copy

import numpy as np
import pytest
import yaml
from nav_msgs.msg import Odometry
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from fusion_nodes.core import track_models as tm
from fusion_nodes.core.timeline import PoseHistory
from fusion_nodes.core.track_filters import EkfTrackFilter
from fusion_nodes.core.tracking import ClassBelief, ClassCompatibility, Detections, Tracker
from fusion_nodes.core.validation import InvalidInput
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros.convert import odometry_to_ego
from fusion_nodes.tools.offline import OfflineRunner
from test_tracker_node_offline import stamp


def test_a_pose_past_the_newest_moves_on_with_its_velocity():
    h = PoseHistory()
    h.add(1.0, 0.0, 0.0, 0.0, (10.0, 0.0, 0.5))
    h.add(2.0, 10.0, 0.0, 0.5, (10.0, 2.0, 0.5))
    x, y, yaw = h.at(2.04, tolerance=0.2)
    assert (x, y, yaw) == pytest.approx((10.4, 0.08, 0.52))
    assert h.at(0.9, 0.2) == pytest.approx((-1.0, 0.0, -0.05))          # before the oldest, the same way back
    assert h.at(1.5, 0.2) == pytest.approx((5.0, 0.0, 0.25))            # inside: interpolated, as before
    assert h.at(2.3, 0.2) is None


def _odometry(t, x, yaw, speed, yaw_rate=0.0):
    m = Odometry(header=Header(stamp=stamp(t), frame_id="odom"), child_frame_id="base_link")
    m.pose.pose.position.x = x
    m.pose.pose.orientation.z, m.pose.pose.orientation.w = np.sin(yaw / 2), np.cos(yaw / 2)
    m.twist.twist.linear.x, m.twist.twist.angular.z = speed, yaw_rate
    return m


def test_odometry_twist_is_turned_into_the_world_frame_and_bad_twists_are_refused():
    x, y, yaw, v = odometry_to_ego(_odometry(1.0, 3.0, np.pi / 2, 2.0, 0.1))
    assert (x, y, yaw) == pytest.approx((3.0, 0.0, np.pi / 2))
    assert v == pytest.approx((0.0, 2.0, 0.1), abs=1e-12)              # base_link forward is world +y
    for speed, reason in ((np.nan, "non_finite"), (1e9, "implausible")):
        with pytest.raises(InvalidInput) as err:
            odometry_to_ego(_odometry(1.0, 3.0, 0.0, speed))
        assert err.value.reason == reason


def _static_object_run(tmp_path, twist: bool) -> np.ndarray:
    """tracker_node offline: an ego at 10 m/s, odometry at 10 Hz, radar scans stamped 40 ms after each
    odometry message (they arrive first, as a radar's usually do); one static object at world (30, 4).
    Returns the last published track position.
    """
    rng = np.random.default_rng(3)
    params = {"radar_topic": "/r", "camera_topic": "", "odometry_topic": "/odom", "output_topic": "/tracks",
              "markers_topic": "", "radar_mount": [0.0, 0.0, 0.5, 0.0, 0.0, 0.0], "radar_use_doppler": False}
    msgs = []
    for k in range(40):
        t = 100.0 + 0.1 * k
        ego = 10.0 * 0.1 * k
        msgs.append(("/odom", int(t * 1e9), _odometry(t, ego, 0.0, 10.0 if twist else 0.0)))
        ts = t + 0.04
        base = np.array([[30.0 - (ego + 0.4), 4.0]]) + rng.normal(0, 0.1, (1, 2))
        cloud = pointcloud.write(PointCloud2(), {"x": base[:, 0], "y": base[:, 1]}, Header(stamp=stamp(ts)))
        msgs.append(("/r", int(ts * 1e9), cloud))
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"tracker_node": {"ros__parameters": params}}))
    runner = OfflineRunner(tmp_path / "p.yaml", capture=True)
    try:
        runner.feed(copy.deepcopy(msgs))
        last = [m for m in runner.captured["/tracks"] if m.objects][-1]
    finally:
        runner.close()
    return np.array([last.objects[0].pose.pose.position.x, last.objects[0].pose.pose.position.y])


def test_frames_newer_than_the_odometry_are_placed_where_the_robot_has_moved_to(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    moved = _static_object_run(tmp_path / "a", twist=True)
    assert np.linalg.norm(moved - [30.0, 4.0]) < 0.15
    # the odometry without its velocity: each scan is placed at the pose 40 ms old, 0.4 m behind
    held = _static_object_run(tmp_path / "b", twist=False)
    assert held[0] == pytest.approx(29.6, abs=0.15)


def _pole_and_pedestrian(compatibility):
    """A pole's track (radar, scored "pole") and then a pedestrian's detection 0.6 m from it, scored
    "pedestrian": the same position gate admits it; only class evidence can tell it is another object.
    """
    tracker = Tracker(EkfTrackFilter(tm.ConstantVelocity(0.3)), belief=ClassBelief(2), compatibility=compatibility)
    pole, pedestrian = np.array([[0.1, 0.9]]), np.array([[0.9, 0.1]])
    for k in range(10):
        tracker.step(Detections(0.1 * k, "radar", tm.Position(), tm.SensorPose(), np.array([[20.0, 3.0]]),
                                np.eye(2)[None] * 0.09, scores=pole))
    tracker.step(Detections(1.0, "radar", tm.Position(), tm.SensorPose(), np.array([[20.0, 3.6]]),
                            np.eye(2)[None] * 0.09, scores=pedestrian))
    return tracker


def test_class_evidence_keeps_a_pedestrian_off_a_poles_track():
    ratio = ClassCompatibility().ratio(np.array([[0.5, 0.5], [0.9, 0.1]]), np.array([[0.2, 0.8], [2.0, 0.0]]))
    np.testing.assert_allclose(ratio, [[1.0, 1.0], [2 * (0.18 + 0.08), 2 * (0.9 + 1e-7)]], rtol=1e-5)
    kinematic = _pole_and_pedestrian(None)
    assert len(kinematic._tracks) == 1                  # the pedestrian pulled the pole's track toward it
    assert kinematic._tracks[0].x[1] > 3.1
    aware = _pole_and_pedestrian(ClassCompatibility(1.0, min_ratio=0.8))
    pole = aware._tracks[0]
    assert len(aware._tracks) == 2 and pole.x[1] == pytest.approx(3.0, abs=0.05)   # its own tentative track
    assert aware._tracks[1].x[1] == pytest.approx(3.6)
