# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""imu_gps_node as a process over DDS: conversions and bad input."""
import math
import time

import numpy as np
import pymap3d
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Imu, NavSatFix, NavSatStatus

from harness import diagnostics_values, write_params

pytestmark = pytest.mark.integration
DATUM = (42.376, -71.147, 10.0)
G = 9.80665


def fix(stamp, lat, lon, alt, status=NavSatStatus.STATUS_FIX, cov=(0.81, 0.81, 3.24)):
    m = NavSatFix()
    m.header.stamp = stamp
    m.status.status = status
    m.latitude, m.longitude, m.altitude = lat, lon, alt
    m.position_covariance = np.diag(cov).ravel().tolist()
    m.position_covariance_type = NavSatFix.COVARIANCE_TYPE_DIAGONAL_KNOWN
    return m


def imu(stamp, acc=(0.0, G, 0.0), cov=0.01, q=(0.0, 0.0, 0.0, 1.0)):
    m = Imu()
    m.header.stamp = stamp
    m.orientation.x, m.orientation.y, m.orientation.z, m.orientation.w = q
    m.orientation_covariance = (np.eye(3) * 1e-3).ravel().tolist()
    m.angular_velocity_covariance = (np.eye(3) * 1e-4).ravel().tolist()
    m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z = acc
    m.linear_acceleration_covariance = (np.eye(3) * cov).ravel().tolist()
    return m


@pytest.fixture
def imu_gps(tmp_path, probe, nodes):
    params = {"imu_topic": "/t/imu", "imu_output_topic": "/t/imu_checked", "gps_topic": "/t/fix",
              "gps_output_topic": "/t/odometry/gps", "datum": list(DATUM),
              # test1's mounting: gravity on the IMU's +y at rest.
              "imu_mount": [0.0, -0.3, 0.52, math.pi / 2, 0.0, -math.pi / 2]}
    node = nodes("imu_gps_node", write_params(tmp_path / "p.yaml", "imu_gps_node", params))
    probe.collect(Odometry, "/t/odometry/gps")
    probe.collect(Imu, "/t/imu_checked")
    probe.collect(DiagnosticArray, "/diagnostics")
    pubs = probe.publisher(Imu, "/t/imu"), probe.publisher(NavSatFix, "/t/fix")
    assert all(probe.wait_for_subscribers(p) for p in pubs)
    assert probe.wait_for_publishers("/t/odometry/gps") and probe.wait_for_publishers("/t/imu_checked")
    return node, pubs


def test_fix_becomes_enu_odometry_and_imu_is_mounted(probe, imu_gps):
    node, (imu_pub, fix_pub) = imu_gps
    lat, lon, alt = pymap3d.enu2geodetic(30.0, -40.0, 2.0, *DATUM)
    fix_pub.publish(fix(probe.now().to_msg(), lat, lon, alt))
    imu_pub.publish(imu(probe.now().to_msg()))
    assert probe.wait_for(lambda: probe.messages("/t/odometry/gps") and probe.messages("/t/imu_checked"))
    odo = probe.messages("/t/odometry/gps")[0]
    p = odo.pose.pose.position
    assert (p.x, p.y, p.z) == pytest.approx((30.0, -40.0, 2.0), abs=1e-6)
    cov = np.array(odo.pose.covariance).reshape(6, 6)
    assert np.diag(cov)[:3] == pytest.approx([0.81, 0.81, 3.24])
    out = probe.messages("/t/imu_checked")[0]
    a = out.linear_acceleration
    assert (a.x, a.y, a.z) == pytest.approx((0.0, 0.0, G), abs=1e-9)
    assert out.header.frame_id == "base_link"
    assert node.alive()


def test_bad_input_is_dropped_and_counted(probe, imu_gps):
    node, (imu_pub, fix_pub) = imu_gps
    def now():   # a new stamp per message: repeated stamps are dropped as duplicates
        return probe.now().to_msg()
    lat, lon, alt = DATUM
    bad_imu = [imu(now(), acc=(math.nan, 0.0, G)),            # NaN
               imu(now(), cov=-0.5),                          # negative variance
               imu(now(), q=(0.0, 0.0, 0.0, 0.0))]            # zero quaternion
    zero = imu(now())
    zero.header.stamp.sec, zero.header.stamp.nanosec = 0, 0   # unset stamp
    bad_imu.append(zero)
    bad_fix = [fix(now(), lat, lon, alt, status=NavSatStatus.STATUS_NO_FIX),
               fix(now(), math.nan, lon, alt),
               fix(now(), lat, lon, alt, cov=(1e6, 1e6, 1e6))]
    for m in bad_imu:
        imu_pub.publish(m)
        time.sleep(0.02)
    for m in bad_fix:
        fix_pub.publish(m)
        time.sleep(0.02)
    # All-zero covariance means "unknown" (REP-145): replaced by the defaults.
    imu_pub.publish(imu(now(), cov=0.0))
    # -1 marks a field the IMU does not have: passed on as missing, not an error.
    no_orientation = imu(now())
    no_orientation.orientation_covariance = [-1.0] + [0.0] * 8
    time.sleep(0.02)
    imu_pub.publish(no_orientation)
    fix_pub.publish(fix(now(), lat, lon, alt))
    assert probe.wait_for(lambda: probe.messages("/t/imu_checked") and probe.messages("/t/odometry/gps"))
    assert probe.wait_for(lambda: len(probe.messages("/t/imu_checked")) == 2)
    out = probe.messages("/t/imu_checked")
    assert out[0].linear_acceleration_covariance[0] == pytest.approx(0.01)
    assert out[1].orientation_covariance[0] == -1.0
    assert len(probe.messages("/t/odometry/gps")) == 1

    def counts():
        msgs = probe.messages("/diagnostics")
        return diagnostics_values(msgs, "imu_gps_node: imu"), diagnostics_values(msgs, "imu_gps_node: gps")
    want_imu = {"dropped.non_finite": "1", "dropped.bad_covariance": "1", "dropped.bad_quaternion": "1",
                "dropped.zero_stamp": "1", "covariances_replaced": "1"}
    want_gps = {"dropped.no_fix": "1", "dropped.non_finite": "1", "dropped.covariance_too_large": "1"}
    assert probe.wait_for(lambda: all(counts()[0].get(k) == v for k, v in want_imu.items())
                          and all(counts()[1].get(k) == v for k, v in want_gps.items()), 5.0), repr(counts())
    assert node.alive()


def test_invalid_parameters_rejected(tmp_path, nodes):
    node = nodes("imu_gps_node", write_params(tmp_path / "bad.yaml", "imu_gps_node",
                                              {"datum": [42.0, -71.0], "imu_mount": [0.0] * 5}))
    assert node.wait(30) == 2
    out = node.output()
    assert "datum" in out and "imu_mount" in out


def test_windowed_imu_features_numbers():
    from fusion_nodes.core.imu_features import FEATURE_NAMES, ImuFeatureWindow
    w = ImuFeatureWindow(1.0)
    for k in range(201):
        t = k * 0.01
        w.add(t, [0.0, 0.0, 0.1 if k % 2 else -0.1], [0.0, 0.0, G + (0.5 if k % 2 else -0.5)])
    f = dict(zip(FEATURE_NAMES, w.features()))
    assert f["samples"] == 101                          # the last 1 s only
    assert f["acc_std_z"] == pytest.approx(0.5, abs=0.01)
    assert f["vibration_energy"] == pytest.approx(0.25, abs=0.01)
    assert f["gyro_std_z"] == pytest.approx(0.1, abs=0.01) and f["gyro_peak"] == pytest.approx(0.1)


def test_imu_features_are_published_over_dds(probe, imu_gps):
    from fusion_nodes.core.imu_features import FEATURE_NAMES
    from fusion_nodes.ros import pointcloud
    from sensor_msgs.msg import PointCloud2
    node, (imu_pub, _) = imu_gps
    probe.collect(PointCloud2, "/imu/features")
    assert probe.wait_for_publishers("/imu/features")
    start = probe.now().nanoseconds
    for k in range(60):                                   # 0.6 s of stamps at 100 Hz
        ns = start + k * 10_000_000
        imu_pub.publish(imu(Time(sec=ns // 10**9, nanosec=ns % 10**9)))
        time.sleep(0.003)
    assert probe.wait_for(lambda: len(probe.messages("/imu/features")) >= 5)
    f = pointcloud.read(probe.messages("/imu/features")[-1])
    assert f.dtype.names == FEATURE_NAMES and f["samples"][0] >= 40
    assert f["acc_std_z"][0] == pytest.approx(0.0, abs=1e-6)   # a still IMU: no vibration
