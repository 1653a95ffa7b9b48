# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""early_fusion_node over DDS: association, bad input counted and dropped, a dead camera."""
import time

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from conftest import REPO
from fusion_nodes.core import early_fusion as ef
from fusion_nodes.ros import pointcloud
from harness import diagnostics_values, write_params

PARAMS = {"camera_topic": "/t/cam", "radar_topic": "/t/rad", "imu_topic": "/t/imu", "output_topic": "/t/objects",
          "scene_topic": "/t/scene", "model_file": str(REPO / "config" / "early_fusion_model.json"),
          "camera_mount": [1.5, 0.0, 1.4, -1.5707963267948966, 0.0, -1.5707963267948966],
          "camera_intrinsics": [260.0, 260.0, 160.0, 120.0], "slop": 0.04, "max_wait": 0.3}


def stamp(t):
    return Header(stamp=Time(sec=int(t), nanosec=int(round((t % 1) * 1e9))), frame_id="base_link")


def camera(t, n=1, **override):
    cols = {k: np.full(n, 0.1) for k in ef.CAMERA_FIELDS}
    cols.update(u=np.full(n, 160.0), v=np.full(n, 120.0), width_px=np.full(n, 40.0), height_px=np.full(n, 60.0))
    cols.update(override)
    return pointcloud.write(PointCloud2(), cols, stamp(t))


def radar(t, xyz=((11.5, 0.0, 1.4),)):
    xyz = np.asarray(xyz, float)
    cols = {k: np.full(len(xyz), 1.0) for k in ef.RADAR_FIELDS}
    cols.update(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2])
    return pointcloud.write(PointCloud2(), cols, stamp(t))


def imu(t):
    return pointcloud.write(PointCloud2(), {k: np.array([0.01]) for k in ef.IMU_FIELDS}, stamp(t))


def objects(probe):
    return [(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9, pointcloud.read(m))
            for m in probe.messages("/t/objects")]


def test_bad_input_is_counted_and_a_dead_camera_degrades_to_radar(tmp_path, probe, nodes):
    node = nodes("early_fusion_node", write_params(tmp_path / "p.yaml", "early_fusion_node", PARAMS))
    probe.collect(PointCloud2, "/t/objects")
    probe.collect(DiagnosticArray, "/diagnostics")
    pubs = {k: probe.publisher(PointCloud2, f"/t/{k}") for k in ("cam", "rad", "imu")}
    for p in pubs.values():
        assert probe.wait_for_subscribers(p)
    assert probe.wait_for_publishers("/t/objects")

    def send(t, cam=True):
        if cam:
            pubs["cam"].publish(camera(t))
        pubs["rad"].publish(radar(t))
        pubs["imu"].publish(imu(t))
        time.sleep(0.02)

    for k in range(5):
        send(10.0 + 0.1 * k)
    assert probe.wait_for(lambda: len(objects(probe)) >= 4)
    first = objects(probe)[0][1]
    assert len(first) == 1 and first["has_camera"][0] == 1 and first["has_radar"][0] == 1
    assert first["x"][0] == np.float32(11.5) and abs(first["score_car"][0] + first["score_pedestrian"][0]
                                                     + first["score_cyclist"][0] + first["score_pole"][0] - 1) < 1e-5

    # Bad input: each dropped and counted, nothing else disturbed.
    short = radar(11.0)
    short.data = bytes(short.data)[:-4]
    pubs["rad"].publish(short)
    pubs["cam"].publish(pointcloud.write(PointCloud2(), {"u": np.array([1.0])}, stamp(11.0)))  # fields missing
    pubs["rad"].publish(radar(0.0))                                                          # zero stamp
    wrong_step = camera(11.0)
    wrong_step.point_step = 8
    pubs["cam"].publish(wrong_step)
    # A cluster with NaN: that point is removed, the other one is fused.
    pubs["rad"].publish(radar(11.1, xyz=((11.5, 0.0, 1.4), (np.nan, 0.0, 1.0))))
    pubs["cam"].publish(camera(11.1))
    pubs["imu"].publish(imu(11.1))
    assert probe.wait_for(lambda: any(abs(t - 11.1) < 1e-6 for t, _ in objects(probe)))
    nan_set = next(o for t, o in objects(probe) if abs(t - 11.1) < 1e-6)
    assert len(nan_set) == 1 and np.isfinite(nan_set["x"]).all()

    # The camera dies: radar + IMU keep arriving; output continues as partial sets, radar-only objects.
    before = len(objects(probe))
    for k in range(20):
        send(12.0 + 0.1 * k, cam=False)
        time.sleep(0.08)
    # Sets are emitted once their stamp is max_wait (0.3 s) older than the newest one: 16 of 20.
    assert probe.wait_for(lambda: len(objects(probe)) >= before + 16), len(objects(probe)) - before
    late = [o for t, o in objects(probe) if t >= 12.0]
    assert all(len(o) == 1 and o["has_camera"][0] == 0 and o["has_radar"][0] == 1 for o in late)

    def camera_status():
        for m in reversed(probe.messages("/diagnostics")):
            for st in m.status:
                if st.name == "early_fusion_node: camera":
                    return st
    assert probe.wait_for(lambda: camera_status() is not None and "silent" in camera_status().message, 5.0)
    assert camera_status().level == DiagnosticStatus.WARN
    cam_d = diagnostics_values(probe.messages("/diagnostics"), "early_fusion_node: camera")
    rad_d = diagnostics_values(probe.messages("/diagnostics"), "early_fusion_node: radar")
    assert cam_d["dropped.missing_field"] == "1" and cam_d["dropped.malformed_cloud"] == "1"
    assert rad_d["dropped.malformed_cloud"] == "1" and rad_d["dropped.zero_stamp"] == "1"
    assert rad_d["dropped.nan_points"] == "1"
    assert probe.wait_for(lambda: int(diagnostics_values(probe.messages("/diagnostics"), "early_fusion_node: fusion")
                                      .get("partial_sets", 0)) >= 16, 5.0)
    assert node.alive()


def test_invalid_parameters_are_rejected_at_start(tmp_path, nodes):
    for bad, text in (({"model_file": str(tmp_path / "missing.json")}, "cannot be used"),
                      ({"camera_intrinsics": [0.0, 260.0, 160.0, 120.0]}, "fx, fy > 0"),
                      ({"camera_mount": [0.0, 1.0]}, "needs 6 values")):
        node = nodes("early_fusion_node", write_params(tmp_path / "bad.yaml", "early_fusion_node",
                                                       {**PARAMS, **bad}))
        assert node.wait(30) == 2
        assert text in node.output()


@pytest.mark.parametrize("backend", ["fusion_nodes", "message_filters"])
def test_both_synchronizer_backends_fuse_the_same_sets_over_dds(tmp_path, probe, nodes, backend):
    """sync_backend message_filters: message_filters.ApproximateTimeSynchronizer (real where installed)."""
    # Topics of their own: the node of the other backend may still linger in the DDS graph.
    ns = f"/sync_{backend}"
    topics = {"camera_topic": f"{ns}/cam", "radar_topic": f"{ns}/rad", "imu_topic": f"{ns}/imu",
              "output_topic": f"{ns}/objects"}
    nodes("early_fusion_node", write_params(tmp_path / "p.yaml", "early_fusion_node",
                                            {**PARAMS, **topics, "sync_backend": backend}))
    probe.collect(PointCloud2, f"{ns}/objects")
    pubs = {k: probe.publisher(PointCloud2, f"{ns}/{k}") for k in ("cam", "rad", "imu")}
    for p in pubs.values():
        assert probe.wait_for_subscribers(p)
    assert probe.wait_for_publishers(f"{ns}/objects")

    def objects(probe):
        return [(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9, pointcloud.read(m))
                for m in probe.messages(f"{ns}/objects")]

    def fused(probe):
        return [(s, o) for s, o in objects(probe) if len(o) == 1 and o["has_camera"][0] == 1 and o["has_radar"][0] == 1]
    # Sets until six fused ones came back: the inputs and the output are best effort (sensor data QoS), so
    # on a loaded machine one may be lost on the way, and an approximate-time policy may hold the newest
    # set until a later message shows no better match can come (seen in CI with message_filters).
    sent = []
    for k in range(60):
        t = 10.0 + 0.1 * k
        pubs["cam"].publish(camera(t))
        pubs["rad"].publish(radar(t + 0.01))     # within the 0.04 s slop
        pubs["imu"].publish(imu(t - 0.01))
        sent.append(round(t + 0.01, 3))
        time.sleep(0.05)
        if k >= 6 and len(fused(probe)) >= 6:
            break
    assert probe.wait_for(lambda: len(fused(probe)) >= 6, timeout=60.0)
    # each set once and in order; each camera + radar pair stamped by its radar message (a set an input was
    # lost from is the other's object alone: the fusion_nodes backend releases it after max_wait)
    stamps = [round(s, 3) for s, _ in objects(probe)]
    assert stamps == sorted(set(stamps)) and {round(s, 3) for s, _ in fused(probe)} <= set(sent)
    assert all(len(o) == 1 for _, o in objects(probe))
