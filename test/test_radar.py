# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Radar processing (core), PointCloud2 checks, and radar_node over DDS."""
import math
import time

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from fusion_nodes.core import radar
from fusion_nodes.core.validation import InvalidInput
from fusion_nodes.ros import pointcloud
from harness import diagnostics_values, write_params


def scene(rng=np.random.default_rng(0)):
    """A car 20 m ahead driving away at 5 m/s, a pole 10 m left, and clutter."""
    car = np.array([20.0, 0.0, 0.5]) + rng.normal(0, 0.4, (12, 3))
    pole = np.array([0.0, 10.0, 1.0]) + rng.normal(0, 0.1, (4, 3))
    clutter = rng.uniform([-50, -50, 0], [50, 50, 2], (6, 3))
    xyz = np.vstack([car, pole, clutter])
    u = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
    doppler = np.concatenate([np.full(12, 5.0) * u[:12, 0], np.zeros(4), rng.normal(0, 3, 6)])
    return xyz, doppler, np.concatenate([np.full(12, 10.0), np.full(4, 2.0), np.full(6, -5.0)]), \
        np.concatenate([np.full(16, 20.0), np.full(6, 3.0)])


def test_gate_cluster_features():
    xyz, dop, rcs, snr = scene()
    xyz[0] = np.nan
    s = radar.gate(radar.RadarScan(1.0, xyz, dop, rcs, snr), 0.5, 100.0, 10.0)
    assert len(s.xyz) == 15   # NaN point and low-SNR clutter gone
    labels = radar.cluster(s.xyz, 2.0, 3)
    assert sorted(np.bincount(labels[labels >= 0])) == [4, 11]
    f = radar.cluster_features(s, labels, s.doppler, 1.0)
    car = f[np.argmax(f[:, radar.FEATURE_NAMES.index("points")])]
    assert car[0] == pytest.approx(20.0, abs=0.5) and car[radar.FEATURE_NAMES.index("moving")] == 1.0
    assert car[radar.FEATURE_NAMES.index("rcs_mean")] == pytest.approx(10.0)


def _exact_single_linkage(xyz, eps, min_points):
    """Reference: every pair within eps (O(N^2) for dense blobs), connected components."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree
    n = len(xyz)
    pairs = cKDTree(xyz).query_pairs(eps, output_type="ndarray")
    _, labels = connected_components(coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)),
                                     directed=False)
    sizes = np.bincount(labels)
    return radar._renumber(np.where(sizes[labels] >= min_points, labels, -1))


def _loop_features(s, labels, residual, moving_threshold):
    """Reference: the per-cluster loop the grouped reductions replace."""
    rows = []
    for c in range(labels.max() + 1):
        i = labels == c
        p, d, rcs = s.xyz[i], residual[i], s.rcs[i]
        rows.append([*p.mean(axis=0), *(p.max(axis=0) - p.min(axis=0)), d.mean(), d.std(), rcs.mean(),
                     rcs.max(), i.sum(), float(abs(d.mean()) > moving_threshold)])
    return np.array(rows).reshape(-1, len(radar.FEATURE_NAMES))


@pytest.mark.parametrize("seed,n,span,eps,min_points", [(1, 300, 30.0, 1.5, 2), (2, 2000, 60.0, 1.5, 1),
                                                          (3, 5000, 100.0, 2.0, 3), (4, 500, 10.0, 0.5, 2)])
def test_grid_clustering_is_exact_single_linkage_and_features_match_the_loop(seed, n, span, eps, min_points):
    rng = np.random.default_rng(seed)
    xyz = rng.uniform([0, -span / 2, 0], [span, span / 2, 2.0], (n, 3))
    labels = radar.cluster(xyz, eps, min_points)
    np.testing.assert_array_equal(labels, _exact_single_linkage(xyz, eps, min_points))
    s = radar.RadarScan(0.0, xyz, rng.normal(size=n), rng.normal(size=n), np.full(n, 20.0))
    np.testing.assert_allclose(radar.cluster_features(s, labels, s.doppler, 0.5),
                               _loop_features(s, labels, s.doppler, 0.5), rtol=1e-12, atol=1e-12)


def test_dense_blobs_are_clustered_without_quadratic_pairs():
    # 4,000 co-located detections used to make 8 million pairs (1 s per scan); two dense blobs 10 m
    # apart joined by a sparse chain of points 1 m apart are one cluster, a third blob is alone.
    rng = np.random.default_rng(5)
    blob = [c + rng.normal(0, 0.02, (4000, 3)) for c in ([0.0, 0, 0], [10.0, 0, 0], [40.0, 0, 0])]
    chain = np.column_stack([np.arange(1.0, 10.0), np.zeros(9), np.zeros(9)])
    xyz = np.vstack([*blob, chain])
    labels = radar.cluster(xyz, 1.5, 3)
    assert labels.max() == 1
    assert len(set(labels[:8000]) | set(labels[-9:])) == 1 and set(labels[8000:12000]) == {1}


def test_ego_motion_makes_static_world_static():
    # Driving forward at 10 m/s: a static pole at 45 deg shows Doppler -10 cos 45.
    xyz = np.array([[10.0, 10.0, 0.0]])
    s = radar.RadarScan(1.0, xyz, np.array([-10 / math.sqrt(2)]), np.zeros(1), np.zeros(1))
    v = radar.sensor_velocity([10.0, 0, 0], [0, 0, 0], np.eye(3), np.zeros(3))
    assert radar.doppler_residual(s, v)[0] == pytest.approx(0.0, abs=1e-12)


def test_a_cloud_without_snr_is_not_gated_on_snr():
    xyz, dop, rcs, _ = scene()
    scan = radar.RadarScan(1.0, xyz, dop, rcs, np.full(len(xyz), np.inf))   # the node's stand-in for "no field"
    assert len(radar.gate(scan, 0.5, 100.0, 10.0).xyz) == len(xyz)
    scan.snr[0] = np.nan
    assert len(radar.gate(scan, 0.5, 100.0, 10.0).xyz) == len(xyz) - 1


def cloud(xyz, dop, rcs, snr, stamp=Time(sec=10), doppler_name="velocity"):
    return pointcloud.write(PointCloud2(), {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
                                            doppler_name: dop, "intensity": rcs, "snr": snr},
                            Header(stamp=stamp, frame_id="radar"))


def test_pointcloud_roundtrip_and_malformed_layouts():
    xyz, dop, rcs, snr = scene()
    msg = cloud(xyz, dop, rcs, snr)
    pts = pointcloud.read(msg, required=("x", "y", "z"))
    np.testing.assert_allclose(pts["velocity"], dop.astype(np.float32))
    short = cloud(xyz, dop, rcs, snr)
    short.data = bytes(short.data)[:-3]
    wrong_step = cloud(xyz, dop, rcs, snr)
    wrong_step.point_step = 8          # fields need 24 bytes
    bad_type = cloud(xyz, dop, rcs, snr)
    bad_type.fields[0].datatype = 42
    for bad, reason in ((short, "malformed_cloud"), (wrong_step, "malformed_cloud"), (bad_type, "malformed_cloud")):
        with pytest.raises(InvalidInput) as e:
            pointcloud.read(bad)
        assert e.value.reason == reason
    no_z = pointcloud.write(PointCloud2(), {"x": xyz[:, 0], "y": xyz[:, 1]}, Header())
    with pytest.raises(InvalidInput) as e:
        pointcloud.read(no_z, required=("x", "y", "z"))
    assert e.value.reason == "missing_field"


def test_radar_node_over_dds(tmp_path, probe, nodes):
    node = nodes("radar_node", write_params(tmp_path / "r.yaml", "radar_node", {
        "input_topic": "/t/radar", "output_topic": "/t/clusters", "odometry_topic": "/t/odom",
        "min_snr": 10.0, "cluster_eps": 2.0, "cluster_min_points": 3, "moving_threshold": 1.0,
        "mount": [1.0, 0.0, 0.5, 0.0, 0.0, 0.0]}))
    probe.collect(PointCloud2, "/t/clusters")
    probe.collect(DiagnosticArray, "/diagnostics")
    pub = probe.publisher(PointCloud2, "/t/radar")
    odom_pub = probe.publisher(Odometry, "/t/odom")
    assert probe.wait_for_subscribers(pub) and probe.wait_for_publishers("/t/clusters")
    xyz, dop, rcs, snr = scene()
    # Ego speed 3 m/s: measured Dopplers are the targets' own minus the ego projection.
    u = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
    odom = Odometry()
    odom.header.stamp = Time(sec=10)
    odom.twist.twist.linear.x = 3.0
    odom_pub.publish(odom)
    time.sleep(0.2)
    # One detection with a NaN position: dropped and counted, the rest of the scan is used.
    pub.publish(cloud(np.vstack([xyz, [np.nan, 1.0, 0.0]]), np.append(dop - 3.0 * u[:, 0], 0.0),
                      np.append(rcs, 0.0), np.append(snr, 30.0)))
    bad = cloud(xyz, dop, rcs, snr, stamp=Time(sec=11))
    bad.data = bytes(bad.data)[:-5]
    pub.publish(bad)
    no_doppler = pointcloud.write(PointCloud2(), {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]},
                                  Header(stamp=Time(sec=12)))
    pub.publish(no_doppler)
    assert probe.wait_for(lambda: probe.messages("/t/clusters"))
    out = pointcloud.read(probe.messages("/t/clusters")[0])
    assert len(out) == 2 and out.dtype.names == radar.FEATURE_NAMES
    car = out[np.argmax(out["points"])]
    assert car["x"] == pytest.approx(21.0, abs=0.6)      # 20 m ahead of a radar mounted 1 m forward
    assert car["moving"] == 1.0 and out[np.argmin(out["points"])]["moving"] == 0.0  # pole static after ego comp.
    assert probe.wait_for(lambda: diagnostics_values(probe.messages("/diagnostics"), "radar_node: radar")
                          .get("dropped.missing_field") == "1", 5.0)
    d = diagnostics_values(probe.messages("/diagnostics"), "radar_node: radar")
    assert d["dropped.malformed_cloud"] == "1" and d["scans"] == "1" and d["dropped.nan_points"] == "1"
    assert node.alive()


@pytest.mark.parametrize("seed", range(12))
def test_two_pass_clustering_equals_single_linkage_in_mixed_scenes(seed):
    # Blobs of every density in clutter, eps from fine to coarse: both the boundary pass (grid) and the
    # plain pass are taken; whenever no cube holds more than the cap, the labels are exactly single linkage.
    rng = np.random.default_rng(100 + seed)
    span, eps = rng.choice([20.0, 60.0, 150.0]), float(rng.choice([0.3, 0.8, 1.5, 3.0]))
    blobs = [c + rng.normal(0, rng.uniform(0.1, 2.0), (int(rng.integers(5, 300)), 3))
             for c in rng.uniform([0, -span / 2, 0], [span, span / 2, 2], (int(rng.integers(1, 30)), 3))]
    xyz = np.vstack(blobs + [rng.uniform([0, -span / 2, 0], [span, span / 2, 2], (int(rng.integers(0, 3000)), 3))])
    cells = np.floor(xyz / (eps / np.sqrt(3.0))).astype(np.int64)
    _, per_cube = np.unique(cells, axis=0, return_counts=True)
    cap = max(radar.CELL_CAP, int(per_cube.max()))          # exact by construction
    np.testing.assert_array_equal(radar.cluster(xyz, eps, 2, cell_cap=cap), _exact_single_linkage(xyz, eps, 2))
