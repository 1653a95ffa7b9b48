# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""tracker_node's message conversions: the radar's polar covariance and the camera's cut boxes."""
import numpy as np
import pytest
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from fusion_nodes.core import track_models as tm
from fusion_nodes.core.validation import InvalidInput
from fusion_nodes.ros import pointcloud, tracks as conv
from fusion_nodes.ros.tracker_params import specs

P = {s.name: s.default for s in specs()}
P.update(camera_mount=[1.5, 0.0, 1.4, -np.pi / 2, 0.0, -np.pi / 2], camera_intrinsics=[260.0, 260.0, 160.0, 120.0])
EGO = (3.0, 1.0, 0.4)


def _radar(xy, points):
    cols = {"x": xy[:, 0], "y": xy[:, 1], "doppler_mean": np.zeros(len(xy)), "points": np.asarray(points, float)}
    return pointcloud.write(PointCloud2(), cols, Header())


def test_radar_clusters_get_a_polar_covariance_that_shrinks_with_their_points():
    p = {**P, "radar_range_std": 0.3, "radar_azimuth_std": 0.01, "radar_position_std": 0.2}
    xy = np.array([[40.0, 0.0], [40.0, 0.0], [5.0, 0.0]])
    f = conv.radar_frame(_radar(xy, [1, 4, 1]), 0.0, EGO, p, conv.Mounting.from_mount(P["radar_mount"]), [])
    u = np.array([np.cos(EGO[2]), np.sin(EGO[2])])              # the radar looks along the ego's heading
    n = np.array([-u[1], u[0]])
    along, across = [u @ R[:2, :2] @ u for R in f.R], [n @ R[:2, :2] @ n for R in f.R]
    assert along == pytest.approx([0.2 ** 2 + 0.3 ** 2, 0.2 ** 2 + 0.3 ** 2 / 4, 0.2 ** 2 + 0.3 ** 2])
    assert across == pytest.approx([0.2 ** 2 + 0.4 ** 2, 0.2 ** 2 + 0.4 ** 2 / 4, 0.2 ** 2 + 0.05 ** 2])
    assert np.all(f.R[:, 2, 2] == P["radar_doppler_std"] ** 2)
    plain = conv.radar_frame(_radar(xy, [1, 4, 1]), 0.0, EGO, P, conv.Mounting.from_mount(P["radar_mount"]), [])
    np.testing.assert_allclose(plain.R[:, :2, :2], np.broadcast_to(np.eye(2) * P["radar_position_std"] ** 2,
                                                                 (3, 2, 2)))
    with pytest.raises(InvalidInput, match="points"):
        conv.radar_frame(_radar(xy, [1, np.nan, 1]), 0.0, EGO, p, conv.Mounting.from_mount(P["radar_mount"]), [])


def test_a_box_cut_by_the_image_border_gets_a_wider_bearing():
    cam = conv.CameraGeometry.from_params(P["camera_mount"], P["camera_intrinsics"])
    cols = {"u": np.array([300.0, 305.0]), "v": np.array([150.0, 150.0]), "width_px": np.array([20.0, 30.0]),
            "height_px": np.array([40.0, 40.0])}
    f = conv.camera_frame(pointcloud.write(PointCloud2(), cols, Header()), 0.0, EGO, P, cam, [])
    whole = P["camera_bearing_std"] ** 2 + (P["camera_bearing_width_factor"] * 30.0 / 260.0) ** 2
    assert f.R[1, 0, 0] == pytest.approx(whole + (30.0 / 260.0 / 2) ** 2)          # 305 + 15 = 320: cut
    assert f.R[0, 0, 0] == pytest.approx(P["camera_bearing_std"] ** 2
                                         + (P["camera_bearing_width_factor"] * 20.0 / 260.0) ** 2)


def test_a_cluster_extent_that_no_object_has_drops_the_scan():
    xy = np.array([[20.0, 1.0]])
    for bad in (-1.0, np.inf, 1e4):
        cols = {"x": xy[:, 0], "y": xy[:, 1], "doppler_mean": [0.0], "extent_x": [bad], "extent_y": [1.0]}
        with pytest.raises(InvalidInput, match="extent"):
            conv.radar_frame(pointcloud.write(PointCloud2(), cols, Header()), 0.0, EGO, P,
                             conv.Mounting.from_mount(P["radar_mount"]), [])
    cols = {"x": xy[:, 0], "y": xy[:, 1], "doppler_mean": [0.0], "extent_x": [np.nan], "extent_y": [1.0]}
    f = conv.radar_frame(pointcloud.write(PointCloud2(), cols, Header()), 0.0, EGO, P,
                         conv.Mounting.from_mount(P["radar_mount"]), [])
    assert len(f) == 1 and np.isnan(f.size[0, 0])             # not measured: kept, no size


def test_a_box_cut_by_the_image_bottom_carries_no_range():
    cam = conv.CameraGeometry.from_params(P["camera_mount"], P["camera_intrinsics"])
    cols = {"u": np.array([160.0, 160.0]), "v": np.array([200.0, 200.0]), "width_px": np.array([20.0, 20.0]),
            "height_px": np.array([40.0, 90.0])}                    # bottoms at 220 and 245 px (image: 240)
    f = conv.camera_frame(pointcloud.write(PointCloud2(), cols, Header()), 0.0, EGO, P, cam, [])
    assert f.z[0, 1] > 0 and f.R[0, 1, 1] < tm.NO_RANGE_VARIANCE
    assert f.z[1, 1] == 0.0 and f.R[1, 1, 1] == tm.NO_RANGE_VARIANCE


def test_the_recorded_inputs_carry_the_camera_info_their_replay_reads(tmp_path):
    """The evaluations replay the input nodes' recorded outputs: run_graph records the CameraInfo those nodes
    read beside them, and the core replay places the camera's boxes with it as with the same matrix given
    as camera_intrinsics; without a CameraInfo no box is placed (as the node drops them: no_camera_info).
    """
    from conftest import REPO
    from fusion_nodes.tools import bagio, perception_sim, track_peer
    from fusion_nodes.tools.early_eval import run_graph
    from fusion_nodes.tools.track_compare import _tracker_section
    sc = perception_sim.load_scenario(REPO / "config" / "tracking_scenario.yaml")
    sc["duration"] = 4.0
    perception_sim.write(sc, tmp_path / "drive.mcap")
    params = REPO / "config" / "perception.yaml"
    run_graph(tmp_path / "drive.mcap", params, tmp_path / "inputs.mcap")
    recorded = bagio.topics(tmp_path / "inputs.mcap")
    assert recorded["/camera/camera_info"][1] == bagio.topics(tmp_path / "drive.mcap")["/camera/camera_info"][1]
    assert "/camera/image_raw" not in recorded                   # the other inputs stay out
    p = _tracker_section(params)
    assert p["camera_info_topic"] == "/camera/camera_info"
    by_info = track_peer.recorded_frames(tmp_path / "inputs.mcap", p)
    by_hand = track_peer.recorded_frames(tmp_path / "inputs.mcap", {**p, "camera_info_topic": ""})
    cameras = [f for f in by_info if f.sensor == "camera"]
    assert len(cameras) > 20 and len(by_info) == len(by_hand)
    for a, b in zip(by_info, by_hand):
        assert a.sensor == b.sensor and a.stamp == b.stamp
        np.testing.assert_allclose(a.z, b.z, rtol=1e-12, atol=1e-12)
    none = track_peer.recorded_frames(tmp_path / "inputs.mcap", {**p, "camera_info_topic": "/elsewhere"})
    assert not any(f.sensor == "camera" for f in none) and len(none) == len(by_info) - len(cameras)
