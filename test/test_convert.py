# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Message conversion rejects NaN/Inf in every numeric field it uses (REP-145 aware)."""
import math

import numpy as np
import pytest
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, NavSatFix

from fusion_nodes.core.validation import InvalidInput
from fusion_nodes.ros.convert import (camera_info_to_intrinsics, imu_to_sample, navsat_to_fix, odometry_to_ego,
                                      pose_to_sample, twist_to_sample)


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


@pytest.mark.parametrize("norm2,ok", [(1.0, True), (1.009, True), (0.991, True), (1.011, False), (0.81, False),
                                      (2.25, False), (0.0, False)])
def test_every_rotation_a_node_reads_follows_tf2s_unit_quaternion_rule(norm2, ok):
    """Odometry (the tracker's and radar_node's ego), TF, and IMU / pose orientations (checked where the core
    uses them, core.sensors): one rule, tf2's (| |q|^2 - 1 | <= 0.01), so a rotation one input takes is not
    refused by another.
    """
    from builtin_interfaces.msg import Time

    from fusion_nodes.core.validation import check_quaternion
    from fusion_nodes.ros.tf import checked_transform, transform_msg
    q = np.array([0.0, 0.0, 0.6, 0.8]) * math.sqrt(norm2)          # yaw 1.287 rad, scaled
    odom = Odometry()
    odom.pose.pose.orientation.z, odom.pose.pose.orientation.w = q[2], q[3]
    reads = [lambda: check_quaternion(q), lambda: odometry_to_ego(odom)[2],
             lambda: checked_transform(transform_msg(Time(sec=1), "odom", "base_link", [0.0, 0.0, 0.0], q))[2][1]]
    reasons = [_reason(read) for read in reads]
    assert reasons == [None if ok else "bad_quaternion"] * 3
    if ok:                                                             # normalised before use
        np.testing.assert_allclose(check_quaternion(q), [0.0, 0.0, 0.6, 0.8])
        assert odometry_to_ego(odom)[2] == pytest.approx(2 * math.atan2(0.6, 0.8))


def _reason(read):
    try:
        read()
    except InvalidInput as e:
        return e.reason
    return None


@pytest.mark.parametrize("field", ["latitude", "longitude", "altitude"])
def test_navsat_fields(field):
    m = NavSatFix()
    setattr(m, field, math.nan)
    with pytest.raises(InvalidInput):
        navsat_to_fix(m)


def _info(k=(400.0, 0.0, 319.5, 0.0, 410.0, 239.5, 0.0, 0.0, 1.0), width=640, height=480, binning=(0, 0), roi=None):
    from sensor_msgs.msg import CameraInfo, RegionOfInterest
    m = CameraInfo(width=width, height=height, k=list(k), binning_x=binning[0], binning_y=binning[1])
    if roi:
        m.roi = RegionOfInterest(x_offset=roi[0], y_offset=roi[1], width=roi[2], height=roi[3])
    return m


def test_camera_info_binning_and_roi_as_image_geometry_reads_them():
    """REP-104: the ROI (full-resolution pixels) moves the principal point, binning divides it and the focal
    lengths; the image it describes is the ROI's size over the binning.
    """
    K, size = camera_info_to_intrinsics(_info())
    np.testing.assert_array_equal(K, np.reshape(_info().k, (3, 3)))
    assert size == (640, 480)
    K, size = camera_info_to_intrinsics(_info(binning=(2, 4)))
    np.testing.assert_allclose(K, [[200.0, 0, 159.5], [0, 102.5, 59.5], [0, 0, 1]])   # the centre stays the centre
    assert size == (320, 120)
    K, size = camera_info_to_intrinsics(_info(binning=(2, 2), roi=(100, 40, 400, 300)))
    np.testing.assert_allclose(K, [[200.0, 0, (320 - 100) / 2 - 0.5], [0, 205.0, (240 - 40) / 2 - 0.5], [0, 0, 1]])
    assert size == (200, 150)
    # a binned pixel's bearing is that of the middle of the full pixels it bins
    for u, v in ((0, 0), (37, 81), (199, 149)):
        u_full, v_full = 100 + 2 * u + 0.5, 40 + 2 * v + 0.5
        assert np.arctan2(u - K[0, 2], K[0, 0]) == pytest.approx(np.arctan2(u_full - 319.5, 400.0), abs=1e-12)
        assert np.arctan2(v - K[1, 2], K[1, 1]) == pytest.approx(np.arctan2(v_full - 239.5, 410.0), abs=1e-12)
    assert camera_info_to_intrinsics(_info(width=0, height=0))[1] is None      # no size given: none checked


@pytest.mark.parametrize("info", [
    _info(k=(math.nan, 0, 320, 0, 400, 240, 0, 0, 1)), _info(k=(0.0, 0, 320, 0, 400, 240, 0, 0, 1)),
    _info(k=(400, 0, 320, 0, -400, 240, 0, 0, 1)), _info(k=(1e7, 0, 320, 0, 400, 240, 0, 0, 1)),
    _info(k=(400, 0, 1e9, 0, 400, 240, 0, 0, 1)), _info(k=(400, 0, 320, 0, 400, 240, 0, 0, 0)),
    _info(k=(400, 0, 320, 5.0, 400, 240, 0, 0, 1)), _info(roi=(600, 0, 100, 100)),
    _info(roi=(0, 0, 0, 100)), _info(roi=(0, 400, 640, 100))], ids=[
    "nan", "zero_focal", "negative_focal", "absurd_focal", "absurd_centre", "bottom_row", "lower_left",
    "roi_right", "roi_no_width", "roi_below"])
def test_impossible_camera_info_is_refused(info):
    with pytest.raises(InvalidInput) as e:
        camera_info_to_intrinsics(info)
    assert e.value.reason == "bad_camera_info"
