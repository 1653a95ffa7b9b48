# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Fuzzing of tracker_node's inputs: radar clusters, its odometry, camera detections with and without
CameraInfo, early-fused objects (see fuzz_support for the properties).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from fuzz_support import (ABSURD, FUZZ, bad_camera_info, bad_cloud, bad_ego_odometry, check, fuzz_report,
                          place_duplicates, stamp, with_camera_info, with_odometry)
from fusion_nodes.ros import pointcloud

__all__ = ["fuzz_report"]     # the module-scoped report fixture, autouse


TRACKER = {"radar_topic": "/r", "camera_topic": "", "odometry_topic": "", "output_topic": "/tracks",
           "markers_topic": "", "radar_mount": [2.0, 0.0, 0.5, 0.0, 0.0, 0.0], "processing_delay": 0.0}


def tracker_clean():
    out = []
    for k in range(10):
        t = 50.0 + 0.1 * k
        cols = {"x": np.array([10.0 + 0.1 * k, 20.0]), "y": np.array([0.0, 5.0 - 0.2 * k]),
                "doppler_mean": np.array([1.0, -0.5])}
        out.append(("/r", int(t * 1e9), pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(t)))))
    return out


@st.composite
def bad_cluster_values(draw, t):
    """A well-formed cluster cloud whose values are impossible: NaN / Inf / absurd positions or Dopplers."""
    n = draw(st.integers(1, 4))
    cols = {k: np.asarray(draw(st.lists(st.floats(-40, 40), min_size=n, max_size=n)), float)
            for k in ("x", "y", "doppler_mean")}
    cols[draw(st.sampled_from(["x", "y", "doppler_mean"]))][draw(st.integers(0, n - 1))] = draw(ABSURD)
    return pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(t)))


def test_fuzz_tracker_node(tmp_path_factory):
    clean = tracker_clean()

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_cloud(50.45, required=("x", "y", "doppler_mean")),
                                      bad_cluster_values(50.45)), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(0, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("t"), "tracker_node", TRACKER, tracker_clean(), [("/r", g) for g in garbage],
              positions, lambda n: sum(n.monitors["radar"].dropped.values()))
    prop()


TRACKER_ODOM = {**TRACKER, "odometry_topic": "/o"}


def test_fuzz_tracker_node_odometry(tmp_path_factory):
    """Garbage ego poses among the radar frames: each dropped and counted, the tracks placed as without it."""
    clean = with_odometry(tracker_clean())
    assert clean[0][0] == "/o"

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_ego_odometry(), bad_cluster_values(50.45).map(lambda g: ("/r", g))),
                            min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(1, len(clean) - 1)) for _ in garbage]   # after the first odometry
        place_duplicates(clean, garbage, positions)
        check(tmp_path_factory.mktemp("to"), "tracker_node", TRACKER_ODOM, with_odometry(tracker_clean()), garbage,
              positions, lambda n: sum(sum(n.monitors[i].dropped.values()) for i in ("radar", "odometry")))
    prop()


TRACKER_ALL = {**TRACKER, "camera_topic": "/c", "fused_topic": "/f"}


def tracker_all_clean():
    """Radar clusters, camera detections and early-fused objects of the same two objects, 10 Hz each."""
    out = tracker_clean()
    for k in range(10):
        t = 50.0 + 0.1 * k
        det = {"u": np.array([330.0 + k, 250.0]), "v": np.array([260.0, 255.0]),
               "width_px": np.array([40.0, 20.0]), "height_px": np.array([60.0, 30.0])}
        # NaN: camera-only, no position
        fused = {"x": np.array([10.0 + 0.1 * k, np.nan]), "y": np.array([0.0, np.nan])}
        out.append(("/c", int(t * 1e9) + 2, pointcloud.write(PointCloud2(), det, Header(stamp=stamp(t + 0.002)))))
        out.append(("/f", int(t * 1e9) + 3, pointcloud.write(PointCloud2(), fused, Header(stamp=stamp(t + 0.003)))))
    return sorted(out, key=lambda m: m[1])


@st.composite
def bad_detection_values(draw, t, fields):
    """A well-formed cloud of ``fields`` with one impossible value (NaN / Inf / absurd) or a negative box."""
    n = draw(st.integers(1, 4))
    cols = {k: np.asarray(draw(st.lists(st.floats(1, 300), min_size=n, max_size=n)), float) for k in fields}
    name = draw(st.sampled_from(list(fields)))
    value = draw(st.one_of(ABSURD, st.just(-5.0))) if name.endswith("_px") else draw(ABSURD)
    cols[name][draw(st.integers(0, n - 1))] = value
    return pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(t)))


@pytest.mark.parametrize("association", ["gnn", "jpda"])
def test_fuzz_tracker_node_every_input(tmp_path_factory, association):
    """Garbage on the camera and early-fusion inputs too: every bad message dropped and counted, tracks unchanged
    (with either associator: JPDA weighs every gated detection into a track, so a bad one must not reach it).
    """
    clean = tracker_all_clean()
    params = {**TRACKER_ALL, "association": association}
    fields = {"/r": ("x", "y", "doppler_mean"), "/c": ("u", "v", "width_px", "height_px"), "/f": ("x", "y")}

    @st.composite
    def bad_input(draw):
        topic = draw(st.sampled_from(sorted(fields)))
        return topic, draw(st.one_of(bad_cloud(50.45, required=fields[topic]),
                                     bad_detection_values(50.45, fields[topic])))

    @FUZZ
    @given(garbage=st.lists(bad_input(), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(0, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("t"), "tracker_node", params, tracker_all_clean(), garbage, positions,
              lambda n: sum(sum(n.monitors[i].dropped.values()) for i in ("radar", "camera", "fused")))
    prop()


TRACKER_INFO = {**TRACKER_ALL, "camera_info_topic": "/info"}


def tracker_info_clean():
    """tracker_all_clean with the camera's CameraInfo before each detection frame (the parameters' K, 640 x 480)."""
    return with_camera_info(tracker_all_clean(), "/c", 640, 480, [500.0, 0, 320.0, 0, 500.0, 240.0, 0, 0, 1])


def test_fuzz_tracker_node_camera_info(tmp_path_factory):
    """Impossible CameraInfos and bad detections with camera_info_topic: each dropped and counted, the last good
    geometry kept, the tracks as without them.
    """
    clean = tracker_info_clean()
    fields = ("u", "v", "width_px", "height_px")

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_camera_info(), st.one_of(
        bad_cloud(50.45, required=fields), bad_detection_values(50.45, fields)).map(lambda g: ("/c", g))),
        min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(0, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("ti"), "tracker_node", TRACKER_INFO, tracker_info_clean(), garbage, positions,
              lambda n: sum(sum(n.monitors[i].dropped.values()) for i in ("camera", "camera_info")))
    prop()
