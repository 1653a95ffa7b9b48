# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The oracle behind ``fusion eval --tracking --ceiling``: which camera boxes truth calls clean."""
import numpy as np
import pytest
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from fusion_nodes.core import track_models as tm
from fusion_nodes.core.tracking import Detections
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros import tracks as conv
from fusion_nodes.ros.convert import sec_to_stamp
from fusion_nodes.tools.bagio import BagWriter
from fusion_nodes.tools.track_ceiling import TruthPositions, bearing_persistence, clean_boxes, describe

CAMERA = conv.Mounting(np.array([1.5, 0.0]), 0.0)


def _frame(bearings):
    z = np.column_stack([bearings, np.full(len(bearings), 20.0)])
    R = np.broadcast_to(np.diag([0.03 ** 2, 12.0 ** 2]), (len(z), 2, 2)).copy()
    scores = np.tile([[0.7, 0.1, 0.1, 0.1]], (len(z), 1)) * np.arange(1, len(z) + 1)[:, None]
    return Detections(3.0, "camera", tm.BoxBearingRange(), tm.SensorPose(0.0, 0.0, 0.0), z, R, scores)


def test_only_a_box_centred_on_an_object_with_no_other_near_it_is_kept():
    # A straight ahead, alone; B and C 0.012 rad apart seen from the camera (one box could be both)
    objects = np.array([[21.5, 0.0], [11.5, 5.0], [21.5, 10.3]])
    b_bearing = np.arctan2(5.0, 10.0)
    frame = _frame([0.01, b_bearing, -0.05, np.nan])
    kept = clean_boxes(frame, objects, CAMERA)
    # the box on A is kept with its own row of every field; the box on B (not alone), the one 0.05 rad
    # off A (more than the 0.02 tolerance) and a box with no bearing are not
    np.testing.assert_array_equal(kept.z, frame.z[:1])
    np.testing.assert_array_equal(kept.R, frame.R[:1])
    np.testing.assert_array_equal(kept.scores, frame.scores[:1])
    assert (kept.stamp, kept.sensor, kept.model) == (frame.stamp, frame.sensor, frame.model)
    # B alone is clean; a looser tolerance keeps the box 0.05 off A
    assert len(clean_boxes(frame, objects[:2], CAMERA)) == 2
    assert len(clean_boxes(frame, objects[:2], CAMERA, tolerance=0.06)) == 3
    # the camera's own pose counts: seen from 5 m to the left, A is no longer straight ahead
    assert len(clean_boxes(frame, objects[:1], conv.Mounting(np.array([1.5, 5.0]), 0.0))) == 0
    # no truth, no clean box; no box, nothing to keep
    assert len(clean_boxes(frame, np.zeros((0, 2)), CAMERA)) == 0
    assert len(clean_boxes(_frame([]), objects, CAMERA)) == 0


def test_truth_positions_are_interpolated_between_the_messages_around_a_stamp(tmp_path):
    bag = tmp_path / "truth.mcap"
    rows = {10.0: {"x": [10.0, 5.0], "y": [0.0, 2.0], "object_id": [1, 2]},
            10.1: {"x": [11.0, 30.0], "y": [1.0, 0.0], "object_id": [1, 3]}}
    with BagWriter(bag) as w:
        for t, cols in rows.items():
            msg = pointcloud.write(PointCloud2(), {k: np.asarray(v, float) for k, v in cols.items()},
                                   Header(stamp=sec_to_stamp(t), frame_id="base_link"))
            w.write("/ground_truth/objects", msg, int(t * 1e9))
    truth = TruthPositions(bag)
    # object 1 is in both: a quarter of the way; 2 and 3 are in one message each: left out
    np.testing.assert_allclose(truth.at(10.025), [[10.25, 0.25]], atol=1e-6)
    assert truth.at(9.9).shape == (0, 2) and truth.at(10.2).shape == (0, 2)
    assert TruthPositions(bag, "/no/such/topic").at(10.0).shape == (0, 2)


class _Still:
    """Truth of one object standing 20 m ahead of a camera and a radar at base_link's origin."""

    def objects(self, t):
        return [7], np.array([[20.0, 0.0]])


def test_the_persistence_of_a_bearing_error_is_measured_per_sensor():
    """A camera whose bearing error is AR(1) with correlation 0.9 per frame and a radar whose error is
    white: the measure gives back both correlations and both RMS; across a gap in the frames nothing pairs.
    """
    rng = np.random.default_rng(3)
    at_origin = conv.Mounting(np.zeros(2), 0.0)
    e, frames = 0.0, []
    for k in range(600):
        e = 0.9 * e + np.sqrt(1 - 0.81) * rng.normal(0, 0.004)
        frames.append(Detections(k / 15, "camera", tm.BoxBearingRange(), tm.SensorPose(0.0, 0.0, 0.0),
                                 np.array([[e, 20.0]]), np.diag([1e-4, 1e12])[None]))
        b = rng.normal(0, 0.02)                  # the radar reports a position, in the world frame
        frames.append(Detections(k / 15 + 0.01, "radar", tm.Position(), tm.SensorPose(0.0, 0.0, 0.0),
                                 20.0 * np.array([[np.cos(b), np.sin(b)]]), 0.01 * np.eye(2)[None]))
    mounts, tolerance = {"camera": at_origin, "radar": at_origin}, {"camera": 0.02, "radar": 0.08}
    got = bearing_persistence(frames, _Still(), mounts, tolerance)
    assert got["camera"]["lag_one"] == pytest.approx(0.9, abs=0.05)
    assert abs(got["radar"]["lag_one"]) < 0.1
    assert got["camera"]["rms"] == pytest.approx(0.004, rel=0.2) and got["radar"]["rms"] == pytest.approx(0.02, rel=0.1)
    assert got["camera"]["pairs"] == got["radar"]["pairs"] == 599
    assert "camera 4." in describe(got) or "camera 3." in describe(got)
    camera = frames[::2]
    gap = bearing_persistence(camera[:300] + camera[400:], _Still(), {"camera": at_origin}, tolerance)
    assert set(gap) == {"camera"} and gap["camera"]["pairs"] == 299 + 199
