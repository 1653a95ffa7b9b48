# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""imu_gps_node: checks raw IMU and GNSS input, mounts the IMU, converts fixes to ENU.

* IMU: rejects NaN/Inf, unset stamps, bad quaternions and impossible
  covariances; applies the zero-covariance policy (REP-145); expresses the
  reading in base_link using ``imu_mount``; republishes it.
* GNSS: rejects fixes without the required status, NaN, oversized
  covariances; converts to ENU about the datum (pymap3d) and publishes
  ``nav_msgs/Odometry`` like navsat_transform, with the course over ground
  as yaw once the vehicle moves.
"""
from __future__ import annotations

import sys

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import Imu, NavSatFix, PointCloud2
from std_msgs.msg import Header

from fusion_nodes.core.gnss import CourseOverGround, Datum
from fusion_nodes.core.imu_features import FEATURE_NAMES, ImuFeatureWindow
from fusion_nodes.core.records import ImuSample
from fusion_nodes.core.sensors import Mount, imu_heading_to_enu, imu_in_base
from fusion_nodes.core.validation import (InvalidInput, StampOrder, check_future, check_quaternion, check_stamp,
                                          repair_covariance)
from fusion_nodes.ros import diagnostics as diag
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros.clock_jumps import ClockJumps
from fusion_nodes.ros.convert import fill_imu, imu_to_sample, navsat_to_fix, odometry, stamp_to_sec
from fusion_nodes.ros.draining import subscribe_draining
from fusion_nodes.ros.imu_gps_params import specs
from fusion_nodes.ros.params import declare, input_limits
from fusion_nodes.ros.runner import run_node
from fusion_nodes.ros.qos import output_qos, sensor_qos


SENSOR_GAP = 2.0
"""s: the longest gap in the IMU or GNSS stream that is not an outage (a 1 Hz receiver may skip a fix)."""

class ImuGpsNode(Node):
    def __init__(self, **kwargs):
        super().__init__("imu_gps_node", **kwargs)
        self.warnings = diag.ThrottledWarnings(self.get_logger())
        self.p = declare(self, specs(), self._on_change)
        self.mount = Mount.from_list(self.p.imu_mount)
        self.limits, self.order = input_limits(self.p), StampOrder()
        self.datum = Datum(*self.p.datum) if self.p.datum else None
        self.cog = CourseOverGround(self.p.cog_min_speed, self.p.cog_min_distance,
                                    self.p.cog_window)
        self._turning_until = float("inf")  # no IMU yet: do not trust the course
        self.monitors = {"imu": diag.InputMonitor(), "gps": diag.InputMonitor()}
        self.repaired = 0
        self.imu_pub = self.create_publisher(Imu, self.p.imu_output_topic, sensor_qos(50))
        self.features = ImuFeatureWindow(self.p.feature_window)
        self._next_feature = None
        self.feat_pub = self.create_publisher(PointCloud2, self.p.features_topic, sensor_qos(10)) \
            if self.p.features_topic else None
        self.gps_pub = self.create_publisher(Odometry, self.p.gps_output_topic, sensor_qos(10))
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", output_qos())
        subscribe_draining(self, Imu, self.p.imu_topic, self._on_imu, sensor_qos(50))
        self.create_subscription(NavSatFix, self.p.gps_topic, self._on_fix, sensor_qos(10))
        self.clock_jumps = ClockJumps(self, self._reset)
        self.create_timer(1.0, self._publish_diagnostics)

    def _reset(self, why: str) -> None:
        """Forget everything stamped before a clock jump (the datum stays: same place)."""
        self.order.reset()
        self.features = ImuFeatureWindow(self.p.feature_window)
        self._next_feature = None
        self.cog.reset()
        self._turning_until = float("inf")
        for mon in self.monitors.values():
            mon.restart()

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_change(self, changed: dict) -> None:
        """The course-over-ground settings live in the estimator object: pass live changes on."""
        for key, attr in (("cog_min_speed", "min_speed"), ("cog_min_distance", "min_distance"),
                          ("cog_window", "window")):
            if key in changed:
                setattr(self.cog, attr, changed[key])

    def _drop(self, source: str, exc: InvalidInput) -> None:
        self.monitors[source].drop(exc.reason)
        self.warnings.warn(source, f"dropped: {exc}")

    # -- IMU ----------------------------------------------------------------
    def _check_stamp(self, stream: str, msg) -> float:
        """Set, not in the future, strictly after the stream's previous stamp."""
        stamp, now = stamp_to_sec(msg.header.stamp), self._now()
        check_stamp(stamp)
        check_future(stamp, now, self.p.max_future)
        self.order.check(stream, stamp)
        return stamp

    def _on_imu(self, msg: Imu, info) -> None:
        self.monitors["imu"].tick(self._now())
        self.monitors["imu"].delivery.note(info)
        try:
            stamp = self._check_stamp("imu", msg)
            sample = self._checked_imu(imu_to_sample(msg, self.limits))
        except InvalidInput as exc:
            self._drop("imu", exc)
            return
        self.order.accept("imu", stamp)
        self._note_turn(sample)
        self._feature_step(sample, msg.header)
        out = fill_imu(Imu(), sample)
        out.header.stamp = msg.header.stamp
        out.header.frame_id = self.p.base_link_frame if not self.mount.is_identity \
            else (msg.header.frame_id or self.p.base_link_frame)
        self.imu_pub.publish(out)

    def _checked_imu(self, s: ImuSample) -> ImuSample:
        policy = self.p.zero_covariance_policy
        q_cov, r1 = repair_covariance(s.orientation_cov, self.p.imu_orientation_variance, policy,
                                      "orientation_covariance")
        w_cov, r2 = repair_covariance(s.angular_velocity_cov, self.p.imu_angular_velocity_variance,
                                      policy, "angular_velocity_covariance")
        a_cov, r3 = repair_covariance(s.linear_acceleration_cov,
                                      self.p.imu_linear_acceleration_variance, policy,
                                      "linear_acceleration_covariance")
        self.repaired += r1 + r2 + r3
        q = check_quaternion(s.orientation) if s.orientation is not None else None
        based = imu_in_base(ImuSample(s.stamp, q, q_cov, s.angular_velocity, w_cov,
                                      s.linear_acceleration, a_cov), self.mount)
        return imu_heading_to_enu(based, self.p.magnetic_declination_radians + self.p.yaw_offset)

    def _feature_step(self, s: ImuSample, header) -> None:
        """Add a sample to the feature window; publish every 1/feature_rate s of stamp time."""
        if self.feat_pub is None or s.angular_velocity is None or s.linear_acceleration is None:
            return
        self.features.add(s.stamp, s.angular_velocity, s.linear_acceleration)
        if self._next_feature is None or s.stamp < self._next_feature - 1.0:
            self._next_feature = s.stamp
        if s.stamp < self._next_feature:
            return
        self._next_feature += 1.0 / self.p.feature_rate
        f = self.features.features()
        if f is not None:
            h = Header(stamp=header.stamp, frame_id=self.p.base_link_frame)
            cols = {name: f[i:i + 1] for i, name in enumerate(FEATURE_NAMES)}
            self.feat_pub.publish(pointcloud.write(PointCloud2(), cols, h))

    def _note_turn(self, s: ImuSample) -> None:
        """Remember until when the course over ground is spoilt by turning."""
        if s.angular_velocity is None:
            return
        if self._turning_until == float("inf"):
            self._turning_until = s.stamp
        if abs(s.angular_velocity[2]) > self.p.cog_max_yaw_rate:
            self._turning_until = s.stamp + self.p.cog_window

    # -- GNSS ---------------------------------------------------------------
    def _on_fix(self, msg: NavSatFix, info) -> None:
        self.monitors["gps"].tick(self._now())
        self.monitors["gps"].delivery.note(info)
        try:
            stamp = self._check_stamp("gps", msg)
            out = self._fix_to_odometry(msg)
        except InvalidInput as exc:
            self._drop("gps", exc)
            return
        self.order.accept("gps", stamp)
        self.gps_pub.publish(out)

    def _fix_to_odometry(self, msg: NavSatFix) -> Odometry:
        fix = navsat_to_fix(msg)
        if fix.status < self.p.gps_min_status:
            raise InvalidInput("no_fix", f"status {fix.status} < gps_min_status {self.p.gps_min_status}")
        cov = np.diag(self.p.gps_default_variance) if fix.cov is None else np.array(fix.cov)
        if np.any(np.diag(cov) <= 0.0):
            cov[np.diag_indices(3)] = np.where(np.diag(cov) > 0, np.diag(cov), self.p.gps_default_variance)
            self.repaired += 1
        if max(cov[0, 0], cov[1, 1]) > self.p.gps_max_variance:
            raise InvalidInput("covariance_too_large", f"horizontal variance {max(cov[0, 0], cov[1, 1]):.3g} m^2")
        if self.datum is None:
            self.datum = Datum(fix.latitude, fix.longitude, fix.altitude)
            self.get_logger().info(f"datum set from first fix: {self.datum}")
        enu = self.datum.to_enu(fix.latitude, fix.longitude, fix.altitude)
        return self._odometry(msg, enu, cov, fix.stamp)

    def _odometry(self, msg, enu, cov, stamp) -> Odometry:
        big = self.p.unknown_variance
        pose_cov = np.diag([0.0, 0.0, 0.0, big, big, big])
        pose_cov[:3, :3] = cov
        yaw = 0.0
        course = self.cog.update(stamp, enu, float(np.sqrt(max(cov[0, 0], cov[1, 1])))) \
            if self.p.course_over_ground else None
        if course is not None and stamp >= self._turning_until:
            yaw, pose_cov[5, 5] = course
        return odometry(msg.header.stamp, self.p.world_frame, self.p.base_link_frame, enu, (0.0, 0.0, yaw),
                        pose_cov, twist_cov=np.eye(6) * big)

    def _publish_diagnostics(self) -> None:
        now = self._now()
        topics = {"imu": self.p.imu_topic, "gps": self.p.gps_topic}
        extra = {"covariances_replaced": self.repaired, "clock_jumps_back": self.clock_jumps.jumps_back}
        statuses = [diag.monitor_status(f"{self.get_name()}: {source}", topics[source], mon, now,
                                        stale_after=diag.silence_limit(SENSOR_GAP), extra=extra)
                    for source, mon in self.monitors.items()]
        self.diag_pub.publish(diag.array(self.get_clock().now().to_msg(), statuses))


def main(args=None) -> int:
    return run_node(ImuGpsNode, args)


if __name__ == "__main__":
    sys.exit(main())
