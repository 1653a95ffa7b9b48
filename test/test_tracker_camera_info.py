# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""tracker_node's camera geometry from the camera's CameraInfo (``camera_info_topic``): a 2 x 2 binned camera
tracked as with its binned matrix given by hand; detections before the first CameraInfo and impossible
CameraInfos dropped and counted, the last good geometry kept.
"""
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo, PointCloud2
from std_msgs.msg import Header

from fusion_nodes.core.validation import InvalidInput
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros import tracks as conv
from harness import diagnostics_values, run_offline

MOUNT = [1.5, 0.0, 1.4, -1.5707963267948966, 0.0, -1.5707963267948966]
FULL_K = (400.0, 0.0, 319.5, 0.0, 400.0, 239.5, 0.0, 0.0, 1.0)          # 640 x 480, calibrated
BINNED = (200.0, 200.0, 159.5, 119.5)                                   # what 2 x 2 binning makes of it
PARAMS = {"radar_topic": "", "camera_topic": "/c", "odometry_topic": "", "output_topic": "/tracks",
          "markers_topic": "", "camera_mount": MOUNT, "camera_initiates": True, "confirmation": "m_of_n",
          "camera_detection_probability": 0.9, "camera_update_interval": 0.0, "camera_box_model": False}


def stamp(t):
    return Time(sec=int(t), nanosec=int(round((t % 1) * 1e9)))


def info(t, binning=2, k=FULL_K):
    return CameraInfo(header=Header(stamp=stamp(t)), width=640, height=480, k=list(k), binning_x=binning,
                      binning_y=binning)


def detections(t, rng):
    """Boxes (binned pixels) of two standing objects 12 and 18 m ahead of the camera, 2 m left and 3 m right."""
    fx, fy, cx, cy = BINNED
    rel = np.array([[12.0, 2.0], [18.0, -3.0]]) + rng.normal(0, 0.05, (2, 2))
    u = cx - fx * rel[:, 1] / rel[:, 0]
    top, bottom = cy - fy * (1.7 - 1.4) / rel[:, 0], cy + fy * 1.4 / rel[:, 0]
    cols = {"u": u, "v": (top + bottom) / 2, "width_px": fx * 0.5 / rel[:, 0], "height_px": bottom - top}
    return pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(t), frame_id="camera_optical"))


def feed(infos):
    """Camera detections at 10 Hz for 3 s; ``infos(t)``: the CameraInfo messages to send just before each."""
    rng, out = np.random.default_rng(3), []
    for k in range(30):
        t = 100.0 + 0.1 * k
        out += [("/ci", int(t * 1e9), m) for m in infos(k, t)]
        out.append(("/c", int(t * 1e9) + 1, detections(t, rng)))
    return out


def run(tmp_path, params, messages):
    return run_offline(tmp_path, "tracker_node", {**PARAMS, **params}, messages)


def positions(captured):
    return [[(o.id, o.pose.pose.position.x, o.pose.pose.position.y) for o in m.objects] for m in captured["/tracks"]]


def test_the_geometry_of_a_camera_info_is_its_binned_and_cropped_matrix_and_its_image_width():
    cam = conv.CameraGeometry.from_camera_info(MOUNT, info(0.0))
    np.testing.assert_allclose(cam.K, [[200.0, 0.0, 159.5], [0.0, 200.0, 119.5], [0.0, 0.0, 1.0]])
    assert cam.width == 320.0
    by_hand = conv.CameraGeometry.from_params(MOUNT, BINNED)
    np.testing.assert_allclose(cam.rays([10.0, 300.0], [100.0, 200.0]), by_hand.rays([10.0, 300.0], [100.0, 200.0]))


def test_a_binned_camera_is_tracked_as_with_its_binned_matrix_given_by_hand(tmp_path):
    every_frame = run(tmp_path / "info", {"camera_info_topic": "/ci"}, feed(lambda k, t: [info(t)]))
    by_hand = run(tmp_path / "hand", {"camera_intrinsics": list(BINNED)}, feed(lambda k, t: []))
    # the full-resolution matrix for the binned pixels (what the parameter alone gave a binned camera) differs
    full = run(tmp_path / "full", {"camera_intrinsics": [400.0, 400.0, 319.5, 239.5]}, feed(lambda k, t: []))
    a, b, c = positions(every_frame), positions(by_hand), positions(full)
    assert len(a[-1]) == 2 and a == b
    truth = np.array([[13.5, 2.0], [19.5, -3.0]])                        # the objects in base_link
    np.testing.assert_allclose(sorted(r[1:] for r in a[-1]), truth, atol=0.5)
    # the full-resolution matrix puts every box's bearing at half its angle and its ground contact beyond
    # the horizon: no object where it is
    assert not any(np.min(np.hypot(*(truth - r[1:]).T)) < 1.0 for r in c[-1])


def test_detections_wait_for_a_camera_info_and_an_impossible_one_leaves_the_last_good_one(tmp_path):
    bad = info(0.0, k=(np.nan,) + FULL_K[1:])

    def infos(k, t):
        if k < 3:
            return []                                   # three frames before any CameraInfo
        return [info(t)] if k % 4 else [bad]           # every fourth an impossible one
    captured = run(tmp_path / "late", {"camera_info_topic": "/ci"}, feed(infos))
    # as if the first three frames and the bad CameraInfos had never come
    clean = run(tmp_path / "clean", {"camera_info_topic": "/ci"},
                [m for m in feed(lambda k, t: [info(t)] if k >= 3 else []) if m[0] == "/ci" or m[1] >= 100.3e9])
    assert positions(captured) == positions(clean) and positions(clean)[-1]
    camera = diagnostics_values(captured["/diagnostics"], "tracker_node: camera")
    camera_info = diagnostics_values(captured["/diagnostics"], "tracker_node: camera_info")
    last = max(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in captured["/diagnostics"])
    assert camera["dropped.no_camera_info"] == "3"
    assert camera_info["dropped.bad_camera_info"] == str(sum(1 for k in range(3, 30) if k % 4 == 0
                                                             and 100.0 + 0.1 * k <= last))


def test_a_camera_info_whose_roi_lies_outside_its_image_is_refused():
    m = info(0.0)
    m.roi.x_offset, m.roi.width, m.roi.height = 600, 100, 100          # beyond the 640 px image
    with pytest.raises(InvalidInput, match="bad_camera_info"):
        conv.CameraGeometry.from_camera_info(MOUNT, m)
