# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""early_fusion_node's camera matrix from the camera's CameraInfo (``camera_info_topic``): a 2 x 2 binned
camera associated as with its binned matrix given by hand; sets before the first CameraInfo go on without
their camera detections (counted), impossible CameraInfos are dropped and counted, the last good one kept.
"""
import numpy as np
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from fusion_nodes.ros import pointcloud
from harness import diagnostics_values, run_offline
from test_early_fusion_node_dds import PARAMS, camera, imu, radar, stamp

FULL_K = (520.0, 0.0, 320.0, 0.0, 520.0, 240.0, 0.0, 0.0, 1.0)    # 640 x 480; binned 2 x 2: PARAMS' 260 / 160 / 120


def info(t, k=FULL_K):
    return CameraInfo(header=Header(stamp=stamp(t).stamp), width=640, height=480, k=list(k), binning_x=2,
                      binning_y=2)


def feed(infos):
    """20 sets at 10 Hz of one box straight ahead and one radar cluster 10 m ahead of the camera (it projects
    into the box with the binned matrix); ``infos(k, t)``: the CameraInfos sent just before set ``k``.
    """
    out = []
    for k in range(20):
        t, n = 10.0 + 0.1 * k, int((10.0 + 0.1 * k) * 1e9)
        out += [("/t/info", n - 1, m) for m in infos(k, t)]
        out += [("/t/cam", n, camera(t)), ("/t/rad", n + 1, radar(t)), ("/t/imu", n + 2, imu(t))]
    return out


def run(tmp_path, params, messages):
    return run_offline(tmp_path, "early_fusion_node", {**PARAMS, **params}, messages)


def associated(captured):
    """Per published set: (stamp, radar rows with a camera partner, camera-only rows)."""
    out = []
    for m in captured["/t/objects"]:
        pts = pointcloud.read(m)
        out.append((m.header.stamp.sec + m.header.stamp.nanosec * 1e-9,
                    int(((pts["has_camera"] > 0) & (pts["has_radar"] > 0)).sum()),
                    int(((pts["has_camera"] > 0) & (pts["has_radar"] == 0)).sum())))
    return out


def test_a_binned_camera_is_associated_as_with_its_binned_matrix_given_by_hand(tmp_path):
    # camera_intrinsics wrong on purpose: with camera_info_topic the CameraInfo's matrix is the one used
    wrong = {"camera_info_topic": "/t/info", "camera_intrinsics": [1.0, 1.0, 0.0, 0.0]}
    by_info = associated(run(tmp_path / "info", wrong, feed(lambda k, t: [info(t)])))
    by_hand = associated(run(tmp_path / "hand", {}, feed(lambda k, t: [])))
    assert by_info == by_hand and len(by_hand) == 20 and all(a == 1 for _, a, _ in by_hand)
    # the full-resolution matrix (what the parameter alone gave a binned camera) puts the cluster elsewhere
    full = associated(run(tmp_path / "full", {"camera_intrinsics": [520.0, 520.0, 320.0, 240.0]},
                          feed(lambda k, t: [])))
    assert all(a == 0 for _, a, _ in full)


def test_sets_wait_for_a_camera_info_and_an_impossible_one_leaves_the_last_good_one(tmp_path):
    bad = info(0.0, k=(np.nan,) + FULL_K[1:])

    def infos(k, t):
        if k < 3:
            return []                                   # three sets before any CameraInfo
        return [bad] if k % 3 == 2 else [info(t)]      # from the sixth on every third an impossible one
    captured = run(tmp_path / "late", {"camera_info_topic": "/t/info"}, feed(infos))
    got = associated(captured)
    # the first three sets go on without their camera detections: no association, no camera-only object
    assert [g[1:] for g in got[:3]] == [(0, 0)] * 3 and all(a == 1 for _, a, _ in got[3:]) and len(got) == 20
    camera = diagnostics_values(captured["/diagnostics"], "early_fusion_node: camera")
    camera_info = diagnostics_values(captured["/diagnostics"], "early_fusion_node: camera_info")
    assert camera["dropped.no_camera_info"] == "3"
    last = max(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in captured["/diagnostics"])
    bad_before = sum(1 for k in range(5, 20, 3) if 10.0 + 0.1 * k - 1e-9 <= last)
    assert camera_info["dropped.bad_camera_info"] == str(bad_before)


def test_the_evaluation_associates_each_frame_with_the_camera_info_the_node_held(tmp_path):
    """early_eval's replay takes, per camera frame, the newest valid CameraInfo logged before it (a camera that
    changes binning mid-drive), none before the first, and skips an impossible one as the node drops it.
    """
    from fusion_nodes.tools.bagio import BagWriter
    from fusion_nodes.tools.early_eval import CameraMatrices
    binned = info(0.0)
    full = CameraInfo(header=binned.header, width=640, height=480, k=list(FULL_K))
    bad = CameraInfo(header=binned.header, width=640, height=480, k=[0.0] * 9)
    with BagWriter(tmp_path / "b.mcap") as w:
        for t, msg in ((1.0, full), (2.0, bad), (3.0, binned)):
            w.write("/t/info", msg, int(t * 1e9))
    matrices = CameraMatrices({"camera_info_topic": "/t/info"}, tmp_path / "b.mcap")
    assert matrices.at(int(0.5 * 1e9)) is None
    np.testing.assert_allclose(matrices.at(int(1.5 * 1e9)), np.reshape(FULL_K, (3, 3)))
    np.testing.assert_allclose(matrices.at(int(2.5 * 1e9)), np.reshape(FULL_K, (3, 3)))  # the impossible one skipped
    # binned 2 x 2 about pixel centres: cx' = (cx + 0.5) / 2 - 0.5
    np.testing.assert_allclose(matrices.at(int(3.5 * 1e9)), [[260.0, 0, 159.75], [0, 260.0, 119.75], [0, 0, 1]])
    fixed = CameraMatrices({"camera_info_topic": "", "camera_intrinsics": [500.0, 400.0, 320.0, 240.0]}, None)
    np.testing.assert_allclose(fixed.at(0), [[500.0, 0, 320.0], [0, 400.0, 240.0], [0, 0, 1]])
