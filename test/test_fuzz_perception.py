# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Fuzzing of the perception nodes' inputs: radar_node (with its odometry), late_fusion_node, camera_node
and early_fusion_node (see fuzz_support for the properties).
"""
from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from hypothesis import given
from hypothesis import strategies as st
from sensor_msgs.msg import Image, PointCloud2
from std_msgs.msg import Header

from fuzz_support import (FUZZ, bad_camera_info, bad_cloud, bad_ego_odometry, check, fuzz_report, place_duplicates,
                          stamp, with_camera_info, with_odometry)
from fusion_nodes.ros import pointcloud

__all__ = ["fuzz_report"]     # the module-scoped report fixture, autouse


RADAR = {"input_topic": "/r", "output_topic": "/c", "odometry_topic": "", "cluster_min_points": 1}


def radar_clean():
    out = []
    for k in range(10):
        t = 50.0 + 0.1 * k
        cols = {"x": np.array([10.0, 10.3, 20.0]), "y": np.array([0.0, 0.2, 5.0]), "z": np.zeros(3),
                "doppler": np.array([1.0, 1.0, -2.0])}
        out.append(("/r", int(t * 1e9), pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(t)))))
    return out


def test_fuzz_radar_node(tmp_path_factory):
    clean = radar_clean()

    @FUZZ
    @given(garbage=st.lists(bad_cloud(50.5), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(0, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("r"), "radar_node", RADAR, radar_clean(), [("/r", g) for g in garbage],
              positions, lambda n: sum(n.monitor.dropped.values()))
    prop()


RADAR_ODOM = {**RADAR, "odometry_topic": "/o"}


def test_fuzz_radar_node_odometry(tmp_path_factory):
    """Garbage odometry among the scans: each dropped and counted, the Doppler compensated as without it."""
    clean = with_odometry(radar_clean())
    assert clean[0][0] == "/o"

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_ego_odometry(pose=False), bad_cloud(50.5).map(lambda g: ("/r", g))),
                            min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(1, len(clean) - 1)) for _ in garbage]   # after the first odometry
        place_duplicates(clean, garbage, positions)
        check(tmp_path_factory.mktemp("ro"), "radar_node", RADAR_ODOM, with_odometry(radar_clean()), garbage,
              positions, lambda n: sum(n.monitor.dropped.values()) + sum(n.odom_monitor.dropped.values()))
    prop()


LATE = {"inputs": ["/a", "/b"], "input_names": ["a", "b"], "classes": ["hot", "cold"], "output_topic": "/f",
        "match_by": "position", "slop": 0.01, "max_wait": 0.3}


def late_clean():
    out = []
    for k in range(20):
        t = 50.0 + 0.1 * k
        for name, p in (("a", 0.7), ("b", 0.6)):
            cols = {"x": np.array([10.0]), "y": np.array([1.0]), "score_hot": np.array([p]),
                    "score_cold": np.array([1 - p])}
            out.append((f"/{name}", int(t * 1e9) + (name == "b"), pointcloud.write(PointCloud2(), cols,
                                                                                    Header(stamp=stamp(t)))))
    return out


def test_fuzz_late_fusion_node(tmp_path_factory):
    clean = late_clean()

    @FUZZ
    @given(garbage=st.lists(st.tuples(st.sampled_from(["/a", "/b"]),
                                      bad_cloud(50.95, required=("x", "y", "score_hot", "score_cold"),
                                                removable=("score_",))),
                            min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(0, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("l"), "late_fusion_node", LATE, late_clean(), garbage, positions,
              lambda n: sum(sum(i.monitor.dropped.values()) for i in n.inputs))
    prop()


# -- camera_node ---------------------------------------------------------------------------------
@st.composite
def bad_image(draw):
    w, h = draw(st.integers(0, 64)), draw(st.integers(0, 48))
    enc = draw(st.sampled_from(["bgr8", "rgb8", "mono8", "yuv422", "32FC1", "", "bgr16"]))
    ch = {"bgr8": 3, "rgb8": 3, "mono8": 1}.get(enc, 2)
    step = w * ch + draw(st.sampled_from([0, 0, 1, -1, 7]))
    size = max(0, step * h + draw(st.sampled_from([0, 0, -1, 1, -100])))
    m = Image(header=Header(stamp=stamp(20.0 + draw(st.floats(0.01, 0.9)))), width=w, height=h, encoding=enc,
              step=max(0, step), data=bytes(size))
    ok = enc in ("bgr8", "rgb8", "mono8") and w > 0 and h > 0 and step >= w * ch and size == step * h
    if ok:        # a consistent image must be made defective by its stamp
        m.header.stamp = draw(st.sampled_from([Time(), stamp(1e6), stamp(20.0)]))   # unset, future, duplicate
    return "/img", m


def camera_clean(sized=False):
    """A CameraInfo (``sized``: with the images' size, so every image of another size is a mismatch), then
    ten 64 x 48 images of one coloured box.
    """
    from sensor_msgs.msg import CameraInfo
    out = [("/info", 19_000_000_000, CameraInfo(header=Header(stamp=stamp(19.0)), width=64 if sized else 0,
                                                height=48 if sized else 0, k=[100.0, 0, 32, 0, 100.0, 24, 0, 0, 1]))]
    rng = np.random.default_rng(1)
    for k in range(10):
        t = 20.0 + 0.1 * k
        img = np.zeros((48, 64, 3), np.uint8)
        img[10:30, 20:40] = rng.integers(100, 255, 3)          # one coloured box
        out.append(("/img", int(t * 1e9), Image(header=Header(stamp=stamp(t)), width=64, height=48,
                                                encoding="bgr8", step=192, data=img.tobytes())))
    return out


@pytest.mark.parametrize("sized", [False, True], ids=["camera_info_without_size", "camera_info_with_size"])
def test_fuzz_camera_node(tmp_path_factory, sized):
    """Without a size in the CameraInfo the image checks themselves (layout, encoding) meet every bad image;
    with one, a size mismatch stops most of them first.
    """
    params = {"image_topic": "/img", "camera_info_topic": "/info", "detections_topic": "/det",
              "detector": "color"}
    clean = camera_clean(sized)

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_image(), bad_camera_info()), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(2, len(clean) - 1)) for _ in garbage]   # after the first image
        check(tmp_path_factory.mktemp("c"), "camera_node", params, camera_clean(sized), garbage, positions,
              lambda n: sum(n.monitor.dropped.values()))
    prop()


def early_clean():
    from test_early_fusion_node_dds import camera, imu, radar
    out = []
    for k in range(15):
        t = 10.0 + 0.1 * k
        n = int(t * 1e9)
        out += [("/t/cam", n, camera(t)), ("/t/rad", n + 1, radar(t)), ("/t/imu", n + 2, imu(t))]
    return out


def test_fuzz_early_fusion_node(tmp_path_factory):
    from fusion_nodes.core import early_fusion as ef
    from test_early_fusion_node_dds import PARAMS
    clean = early_clean()
    required = {"/t/cam": ef.CAMERA_FIELDS, "/t/rad": ef.RADAR_FIELDS, "/t/imu": ef.IMU_FIELDS}

    @st.composite
    def bad_input(draw):
        topic = draw(st.sampled_from(sorted(required)))
        return topic, draw(bad_cloud(10.5, required=tuple(required[topic])))

    @FUZZ
    @given(garbage=st.lists(bad_input(), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(0, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("e"), "early_fusion_node", PARAMS, early_clean(), garbage, positions,
              lambda n: sum(sum(i.monitor.dropped.values()) for i in n.inputs.values()))
    prop()



def early_info_clean():
    """early_clean with the camera's CameraInfo (PARAMS' matrix, 320 x 240) before each camera message."""
    return with_camera_info(early_clean(), "/t/cam", 320, 240, [260.0, 0, 160.0, 0, 260.0, 120.0, 0, 0, 1])


def test_fuzz_early_fusion_node_camera_info(tmp_path_factory):
    """Impossible CameraInfos and bad camera detections with camera_info_topic: each dropped and counted, the
    last good matrix kept, the fused objects as without them.
    """
    from fusion_nodes.core import early_fusion as ef
    from test_early_fusion_node_dds import PARAMS
    params = {**PARAMS, "camera_info_topic": "/info"}
    clean = early_info_clean()

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_camera_info(), bad_cloud(10.5, required=tuple(ef.CAMERA_FIELDS)).map(
        lambda g: ("/t/cam", g))), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(0, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("ei"), "early_fusion_node", params, early_info_clean(), garbage, positions,
              lambda n: sum(n.inputs["camera"].monitor.dropped.values()) + sum(n.info_monitor.dropped.values()))
    prop()
