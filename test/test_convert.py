# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Message conversion rejects NaN/Inf in every numeric field it uses (REP-145 aware)."""
import math

import numpy as np
import pytest
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, NavSatFix

from fusion_nodes.core.validation import InvalidInput
from fusion_nodes.ros.convert import imu_to_sample, navsat_to_fix, pose_to_sample, twist_to_sample


def good_imu():
    m = Imu()
    m.orientation.w = 1.0
    for f in ("orientation_covariance", "angular_velocity_covariance", "linear_acceleration_covariance"):
        setattr(m, f, (np.eye(3) * 0.01).ravel().tolist())
    return m


IMU_FIELDS = [(v, c) for v in ("orientation", "angular_velocity", "linear_acceleration")
              for c in ("x", "y", "z")] + [("orientation", "w")]
IMU_COV = [(f, i) for f in ("orientation_covariance", "angular_velocity_covariance",
                            "linear_acceleration_covariance") for i in range(9)]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("vec,comp", IMU_FIELDS)
def test_imu_vector_fields(vec, comp, bad):
    m = good_imu()
    setattr(getattr(m, vec), comp, bad)
    with pytest.raises(InvalidInput) as e:
        imu_to_sample(m)
    assert e.value.reason == "non_finite"


@pytest.mark.parametrize("field,i", IMU_COV)
def test_imu_covariance_entries(field, i):
    m = good_imu()
    cov = list(getattr(m, field))
    cov[i] = math.nan
    setattr(m, field, cov)
    with pytest.raises(InvalidInput):
        imu_to_sample(m)


def test_missing_orientation_is_not_checked_or_fused():
    # REP-145: orientation_covariance[0] = -1 means "no orientation"; drivers
    # often leave garbage (here NaN) in the quaternion then.
    m = good_imu()
    m.orientation.x = math.nan
    m.orientation_covariance = [-1.0] + [0.0] * 8
    s = imu_to_sample(m)
    assert s.orientation is None and s.orientation_cov is None and s.angular_velocity is not None


@pytest.mark.parametrize("path", ["pose.pose.position.x", "pose.pose.position.z", "pose.pose.orientation.w",
                                  "twist.twist.linear.x", "twist.twist.angular.z"])
def test_odometry_fields(path):
    m = Odometry()
    m.pose.pose.orientation.w = 1.0
    obj = m
    *parents, leaf = path.split(".")
    for p in parents:
        obj = getattr(obj, p)
    setattr(obj, leaf, math.inf)
    with pytest.raises(InvalidInput):
        pose_to_sample(1.0, m.pose) if path.startswith("pose") else twist_to_sample(1.0, m.twist)


@pytest.mark.parametrize("part", ["pose", "twist"])
def test_odometry_covariances(part):
    m = Odometry()
    m.pose.pose.orientation.w = 1.0
    cov = [0.0] * 36
    cov[14] = math.nan
    getattr(m, part).covariance = cov
    with pytest.raises(InvalidInput):
        pose_to_sample(1.0, m.pose) if part == "pose" else twist_to_sample(1.0, m.twist)


@pytest.mark.parametrize("field", ["latitude", "longitude", "altitude"])
def test_navsat_fields(field):
    m = NavSatFix()
    setattr(m, field, math.nan)
    with pytest.raises(InvalidInput):
        navsat_to_fix(m)
