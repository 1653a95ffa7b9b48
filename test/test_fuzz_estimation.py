# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Fuzzing of the estimation nodes' inputs: kalman_fusion_node (odometry, IMU, pose, twist, TF) and
imu_gps_node (see fuzz_support for the properties).
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import yaml
from builtin_interfaces.msg import Time
from hypothesis import given
from hypothesis import strategies as st
from sensor_msgs.msg import Imu, NavSatFix
from std_msgs.msg import Header

from conftest import REPO
from fuzz_support import ABSURD, FUZZ, STAMP_DEFECTS, TEST2, broken_stamp, check, fuzz_report, sec, stamp
from fusion_nodes.tools import bagio

__all__ = ["fuzz_report"]     # the module-scoped report fixture, autouse


# -- kalman_fusion_node --------------------------------------------------------------------------
_TEST2_CLEAN: list = []


def bag2_clean(seconds=3.0):
    if not _TEST2_CLEAN:
        first = None
        for topic, t, msg in bagio.read(TEST2):
            first = first or t
            if t - first > seconds * 1e9:
                break
            _TEST2_CLEAN.append((topic, t, msg))
    return [(topic, t, copy.deepcopy(m)) for topic, t, m in _TEST2_CLEAN]


@st.composite
def bad_odometry(draw, t0):
    from nav_msgs.msg import Odometry
    m = Odometry(header=Header(stamp=stamp(t0 + draw(st.floats(0.1, 2.5)))))
    tw = m.twist.twist
    tw.linear.x, tw.linear.y, tw.angular.z = (draw(st.floats(-5, 5)) for _ in range(3))
    m.twist.covariance = [1e-3 if i % 7 == 0 else 0.0 for i in range(36)]
    defect = draw(st.sampled_from(["value", "covariance", "non_psd"] + STAMP_DEFECTS))
    if defect == "value":
        setattr(tw.linear if draw(st.booleans()) else tw.angular, draw(st.sampled_from("xyz")), draw(ABSURD))
    elif defect == "covariance":
        cov = list(m.twist.covariance)
        cov[draw(st.sampled_from([0, 7, 35]))] = draw(st.sampled_from([math.nan, math.inf, -1.0, 1e300]))
        m.twist.covariance = cov
    elif defect in STAMP_DEFECTS:
        m.header.stamp = broken_stamp(draw, defect, t0, t0)
    else:
        cov = [0.0] * 36
        cov[0], cov[7], cov[1], cov[6], cov[35] = 1e-4, 1e-4, 1.0, 1.0, 1e-3    # vx-vy block not PSD
        m.twist.covariance = cov
    return "/jackal_velocity_controller/odom", m


@st.composite
def bad_imu(draw, t0):
    m = Imu(header=Header(stamp=stamp(t0 + draw(st.floats(0.1, 2.5))), frame_id="base_link"))
    m.orientation.w = 1.0
    m.orientation_covariance = [1e-3 if i % 4 == 0 else 0.0 for i in range(9)]
    m.angular_velocity_covariance = [1e-4 if i % 4 == 0 else 0.0 for i in range(9)]
    m.linear_acceleration_covariance = [1e-2 if i % 4 == 0 else 0.0 for i in range(9)]
    m.linear_acceleration.z = 9.81
    defect = draw(st.sampled_from(["value", "quaternion", "stamp_future", "stamp_zero", "covariance"]))
    if defect == "value":
        vec = draw(st.sampled_from([m.angular_velocity, m.linear_acceleration]))
        setattr(vec, draw(st.sampled_from("xyz")), draw(ABSURD))
    elif defect == "quaternion":
        m.orientation.w = draw(st.sampled_from([0.0, 1e-9, math.nan, 1e10]))
    elif defect == "stamp_future":
        m.header.stamp = stamp(t0 + draw(st.sampled_from([30.0, 1e5, 1e8])))
    elif defect == "stamp_zero":
        m.header.stamp = Time()
    else:
        c = list(m.angular_velocity_covariance)
        c[4] = draw(st.sampled_from([-1e-4, math.nan, math.inf]))
        m.angular_velocity_covariance = c
    return "/imu/data", m


@pytest.mark.parametrize("filter_type", ["ekf", "ukf"])
def test_fuzz_kalman_fusion_node(tmp_path_factory, filter_type):
    params = yaml.safe_load((REPO / "config" / "rl_test2.yaml").read_text())["kalman_fusion_node"]["ros__parameters"]
    params["filter_type"] = filter_type
    clean = bag2_clean()
    t0 = sec(clean[0][2].header.stamp)
    first = max(next(i for i, m in enumerate(clean) if m[0] == topic) for topic in
                ("/jackal_velocity_controller/odom", "/imu/data")) + 1

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_odometry(t0), bad_imu(t0)), min_size=15, max_size=35),
           data=st.data())
    def prop(garbage, data):
        # After the first odometry and IMU message: a stamp before those is old, not a first one.
        positions = [data.draw(st.integers(first, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("k"), "kalman_fusion_node", params, bag2_clean(), garbage, positions,
              lambda n: sum(sum(s.dropped.values()) for s in n.estimator.stats.values()))
    prop()


# -- imu_gps_node --------------------------------------------------------------------------------
IMU_GPS = {"imu_topic": "/imu", "gps_topic": "/fix", "imu_output_topic": "/imu_out", "gps_output_topic": "/gps",
           "features_topic": "/feat"}


def imu_gps_clean():
    out = []
    for k in range(60):                     # 3 s: IMU 20 Hz, GPS 2 Hz, driving north-east
        t = 100.0 + 0.05 * k
        m = Imu(header=Header(stamp=stamp(t)))
        m.orientation.w, m.linear_acceleration.z, m.angular_velocity.z = 1.0, 9.81, 0.01
        m.orientation_covariance = [1e-3, 0, 0, 0, 1e-3, 0, 0, 0, 1e-3]
        m.angular_velocity_covariance = [1e-4, 0, 0, 0, 1e-4, 0, 0, 0, 1e-4]
        m.linear_acceleration_covariance = [1e-2, 0, 0, 0, 1e-2, 0, 0, 0, 1e-2]
        out.append(("/imu", int(t * 1e9), m))
        if k % 10 == 0:
            out.append(("/fix", int(t * 1e9) + 1, _fix(t, 42.376 + 1e-5 * k, -71.147 + 1e-5 * k, 10.0)))
    return out


def _fix(t, lat, lon, alt, status=0, cov=(1.0, 1.0, 4.0)):
    m = NavSatFix(header=Header(stamp=stamp(t)), latitude=lat, longitude=lon, altitude=alt)
    m.status.status = status
    m.position_covariance = [cov[0], 0, 0, 0, cov[1], 0, 0, 0, cov[2]]
    m.position_covariance_type = NavSatFix.COVARIANCE_TYPE_DIAGONAL_KNOWN
    return m


@st.composite
def bad_fix(draw):
    t = 100.0 + draw(st.floats(0.1, 2.9))
    lat, lon, alt = 42.376, -71.147, 10.0
    defect = draw(st.sampled_from(["lat", "lon", "alt", "status", "covariance", "stamp_future", "stamp_zero"]))
    status, cov = 0, (1.0, 1.0, 4.0)
    if defect == "lat":
        lat = draw(st.one_of(st.floats(90.01, 1e308), st.floats(-1e308, -90.01), ABSURD))
    elif defect == "lon":
        lon = draw(st.one_of(st.floats(180.01, 1e308), ABSURD))
    elif defect == "alt":
        alt = draw(st.sampled_from([-1e308, 1e300, math.nan, -math.inf, 2e5]))
    elif defect == "status":
        status = -1
    elif defect == "covariance":
        cov = (draw(st.sampled_from([math.nan, -1.0, 1e13, math.inf])), 1.0, 4.0)
    m = _fix(t, lat, lon, alt, status, cov)
    if defect == "stamp_future":
        m.header.stamp = stamp(t + draw(st.sampled_from([30.0, 1e6])))
    elif defect == "stamp_zero":
        m.header.stamp = Time()
    return "/fix", m


@st.composite
def bad_raw_imu(draw):
    _, m = draw(bad_imu(100.0))
    if draw(st.booleans()):       # or a duplicate / backwards stamp of a valid message
        m = copy.deepcopy(imu_gps_clean()[0][2])
        m.header.stamp = stamp(100.0 + draw(st.sampled_from([0.0, -0.5])))   # at or before the first
    return "/imu", m


def test_fuzz_imu_gps_node(tmp_path_factory):
    clean = imu_gps_clean()

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_fix(), bad_raw_imu()), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        # After the first IMU message and the first fix, so backwards / duplicate stamps are defects.
        positions = [data.draw(st.integers(3, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("g"), "imu_gps_node", IMU_GPS, imu_gps_clean(), garbage, positions,
              lambda n: sum(sum(m.dropped.values()) for m in n.monitors.values()))
    prop()


# kalman_fusion_node's pose and twist inputs (robot_localization's pose0 / twist0: AMCL, visual odometry, ...)
KALMAN_POSE_TWIST = {"pose0": "/pose", "pose0_config": [True, True, False, False, False, True] + [False] * 9,
                     "twist0": "/twist", "twist0_config": [False] * 6 + [True, False, False, False, False, True]
                     + [False] * 3}


def _pose(t: float):
    from geometry_msgs.msg import PoseWithCovarianceStamped
    m = PoseWithCovarianceStamped(header=Header(stamp=stamp(t), frame_id="odom"))
    m.pose.pose.position.x, m.pose.pose.position.y = 0.1 * (t % 100), 0.02 * (t % 100)
    m.pose.pose.orientation.w = 1.0
    m.pose.covariance = [0.05 if i % 7 == 0 else 0.0 for i in range(36)]
    return m


def _twist(t: float):
    from geometry_msgs.msg import TwistWithCovarianceStamped
    m = TwistWithCovarianceStamped(header=Header(stamp=stamp(t), frame_id="base_link"))
    m.twist.twist.linear.x, m.twist.twist.angular.z = 0.3, 0.05
    m.twist.covariance = [0.01 if i % 7 == 0 else 0.0 for i in range(36)]
    return m


def bag2_pose_twist_clean():
    """test2.bag's odometry and IMU with a 10 Hz pose and a 20 Hz twist source, each logged 1 ms after its stamp."""
    clean = bag2_clean()
    t0, log0 = sec(clean[0][2].header.stamp), clean[0][1]
    extra = [(topic, log0 + int(round((t - t0) * 1e9)) + 1_000_000, make(t)) for topic, rate, make in
             (("/pose", 10.0, _pose), ("/twist", 20.0, _twist)) for t in t0 + np.arange(1, int(3.0 * rate)) / rate]
    return sorted(clean + extra, key=lambda m: m[1])


@st.composite
def bad_pose_or_twist(draw, t0):
    """A pose or twist message with one sure defect: values, covariances, stamps."""
    topic = draw(st.sampled_from(["/pose", "/twist"]))
    t = t0 + draw(st.floats(0.1, 2.5))
    m = _pose(t) if topic == "/pose" else _twist(t)
    holder = m.pose if topic == "/pose" else m.twist
    defect = draw(st.sampled_from(["value", "covariance", "non_psd"] + STAMP_DEFECTS
                                  + (["quaternion"] if topic == "/pose" else [])))
    if defect == "value":
        vec = (draw(st.sampled_from([holder.pose.position])) if topic == "/pose" else
               draw(st.sampled_from([holder.twist.linear, holder.twist.angular])))
        setattr(vec, draw(st.sampled_from("xyz")), draw(ABSURD))
    elif defect == "covariance":       # the node reads the fused fields' block (x y yaw / vx vyaw)
        cov = list(holder.covariance)
        cov[draw(st.sampled_from([0, 7, 35] if topic == "/pose" else [0, 35]))] = draw(
            st.sampled_from([math.nan, math.inf, -1.0, 1e300]))
        holder.covariance = cov
    elif defect == "non_psd":
        cov = list(holder.covariance)
        i, j = (0, 1) if topic == "/pose" else (0, 5)         # |correlation| of x-y / vx-vyaw far above 1
        cov[6 * i + j] = cov[6 * j + i] = 1.0
        holder.covariance = cov
    elif defect == "quaternion":
        m.pose.pose.orientation.w = draw(st.sampled_from([0.0, 1e-9, math.nan, 1e10]))
    else:
        m.header.stamp = broken_stamp(draw, defect, t, t0)
    return topic, m


@pytest.mark.parametrize("filter_type", ["ekf", "ukf"])
def test_fuzz_kalman_fusion_node_pose_and_twist_inputs(tmp_path_factory, filter_type):
    """Garbage on a pose and a twist input (the kinds no shipped config uses): dropped, counted, state unchanged.

    A covariance is read in the fused fields' block only (README: ``bad_covariance``), so its defects are put there.
    """
    params = yaml.safe_load((REPO / "config" / "rl_test2.yaml").read_text())["kalman_fusion_node"]["ros__parameters"]
    params.update(KALMAN_POSE_TWIST, filter_type=filter_type)
    clean = bag2_pose_twist_clean()
    t0 = sec(clean[0][2].header.stamp)
    first = max(next(i for i, m in enumerate(clean) if m[0] == topic) for topic in
                ("/jackal_velocity_controller/odom", "/imu/data", "/pose", "/twist")) + 1

    @FUZZ
    @given(garbage=st.lists(bad_pose_or_twist(t0), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(first, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("kp"), "kalman_fusion_node", params, bag2_pose_twist_clean(), garbage,
              positions, lambda n: sum(sum(s.dropped.values()) for s in n.estimator.stats.values()))
    prop()


# kalman_fusion_node's /tf (a world_frame: map instance reads odom -> base_link there for map -> odom)
def _tf(parent, child, xyz, q):
    from tf2_msgs.msg import TFMessage

    from fusion_nodes.ros.tf import transform_msg
    return TFMessage(transforms=[transform_msg(Time(), parent, child, xyz, q)])


def bag2_map_clean():
    """test2.bag's first 3 s after one odom -> base_link on /tf (and a base_link -> imu_link mount)."""
    clean = bag2_clean()
    t = clean[0][1]
    return [("/tf", t - 2, _tf("odom", "base_link", (1.0, 2.0, 0.0), (0.0, 0.0, 0.2474, 0.9689))),
            ("/tf", t - 1, _tf("base_link", "imu_link", (0.0, 0.0, 0.2), (0.0, 0.0, 0.0, 1.0)))] + clean


@st.composite
def bad_transform(draw):
    """One transform that cannot be: NaN / absurd translation, a non-unit rotation, a bad frame, a loop."""
    parent, child = draw(st.sampled_from([("odom", "base_link"), ("base_link", "imu_link")]))
    xyz, q = [draw(st.floats(-5, 5)) for _ in range(3)], [0.0, 0.0, 0.0, 1.0]
    defect = draw(st.sampled_from(["translation", "rotation", "frame", "loop"]))
    if defect == "translation":
        xyz[draw(st.integers(0, 2))] = draw(ABSURD)
    elif defect == "rotation":
        q = draw(st.sampled_from([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.2], [0.5, 0.5, 0.5, 0.2],
                                  [math.nan, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1e30]]))
    elif defect == "frame":
        parent, child = draw(st.sampled_from([("", child), (parent, ""), (child, child), ("/", "base_link")]))
    else:
        parent, child = draw(st.sampled_from([("base_link", "odom"), ("imu_link", "odom"), ("imu_link", "base_link")]))
    return "/tf", _tf(parent, child, tuple(xyz), tuple(q))


def test_fuzz_kalman_fusion_node_tf(tmp_path_factory):
    """Garbage transforms on /tf: each dropped and counted, map -> odom and the state as without them."""
    params = yaml.safe_load((REPO / "config" / "rl_test2.yaml").read_text())["kalman_fusion_node"]["ros__parameters"]
    params["world_frame"] = "map"
    clean = bag2_map_clean()

    @FUZZ
    @given(garbage=st.lists(bad_transform(), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(2, len(clean) - 1)) for _ in garbage]    # after the good transforms
        check(tmp_path_factory.mktemp("kt"), "kalman_fusion_node", params, bag2_map_clean(), garbage, positions,
              lambda n: sum(n.tf_cache.dropped.values()))
    prop()
