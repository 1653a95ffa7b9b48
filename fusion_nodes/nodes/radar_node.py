# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""radar_node: radar detections (PointCloud2) -> clusters with features (PointCloud2).

Parses clouds from real drivers (field names configurable), drops
non-finite, out-of-range and low-SNR detections, compensates the Doppler for
ego motion (the odometry's twist at the scan's stamp, interpolated; held past
the newest for up to ``odometry_timeout``), clusters with a k-d
tree and publishes one point per cluster: position in base_link and the
features of :data:`fusion_nodes.core.radar.FEATURE_NAMES`.
"""
from __future__ import annotations

import sys

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import PointCloud2

from fusion_nodes.core import early_fusion as ef
from fusion_nodes.core import radar
from fusion_nodes.core.sensors import Mount
from fusion_nodes.core.timeline import TwistHistory
from fusion_nodes.core.validation import InvalidInput, StampOrder, check_future, check_psd, check_stamp
from fusion_nodes.ros import diagnostics as diag
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros.clock_jumps import ClockJumps
from fusion_nodes.ros.cloud_input import checked_points
from fusion_nodes.ros.objects import ObjectOutputs
from fusion_nodes.ros.convert import stamp_to_sec, twist_to_sample
from fusion_nodes.ros.decisions import score_columns
from fusion_nodes.ros.model_files import load_early_fusion
from fusion_nodes.ros.params import declare
from fusion_nodes.ros.qos import sensor_qos
from fusion_nodes.ros.radar_params import cross_checks, specs
from fusion_nodes.ros.runner import run_node


class RadarNode(Node):
    def __init__(self, **kwargs):
        super().__init__("radar_node", **kwargs)
        self.p = declare(self, specs(), cross=cross_checks())
        self.model = load_early_fusion(self.p.model_file)
        self.mount = Mount.from_list(self.p.mount)
        self.monitor, self.odom_monitor = diag.InputMonitor(), diag.InputMonitor()
        self.scans = self.clusters = 0
        self.twists, self.odom_order = TwistHistory(), StampOrder()   # ego twist in base_link, by stamp
        self.pub = self.create_publisher(PointCloud2, self.p.output_topic, sensor_qos(10))
        self.objects = ObjectOutputs(self, "3d", self.p.vision_topic, self.p.markers_topic)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(PointCloud2, self.p.input_topic, self._on_scan, sensor_qos(10))
        if self.p.odometry_topic:
            self.create_subscription(Odometry, self.p.odometry_topic, self._on_odom, sensor_qos(10))
        self.clock_jumps = ClockJumps(self, self._reset)
        self.create_timer(1.0, self._publish_diagnostics)

    def _reset(self, why: str) -> None:
        self.twists.clear()        # ego motion from before the jump
        self.odom_order.reset()
        self.monitor.restart()
        self.odom_monitor.restart()

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_odom(self, msg: Odometry, info) -> None:
        """Ego motion for Doppler compensation; NaN / absurd / impossible covariance / zero, future, repeated or
        backwards stamps: the message is dropped and counted.
        """
        self.odom_monitor.tick(self._now())
        self.odom_monitor.delivery.note(info)
        try:
            stamp = stamp_to_sec(msg.header.stamp)
            check_stamp(stamp)
            check_future(stamp, self._now(), self.p.max_future)
            self.odom_order.check("odometry", stamp)
            twist = twist_to_sample(stamp, msg.twist)       # values and covariance finite and plausible
            check_psd("twist covariance", twist.cov)
        except InvalidInput as exc:
            self.odom_monitor.drop(exc.reason)
            self.get_logger().warn(f"odometry dropped: {exc}", throttle_duration_sec=5.0)
            return
        self.odom_order.accept("odometry", stamp)
        self.twists.add(stamp, twist.linear, twist.angular)

    def _on_scan(self, msg: PointCloud2, info) -> None:
        self.monitor.tick(self.get_clock().now().nanoseconds * 1e-9)
        self.monitor.delivery.note(info)
        try:
            scan = self._scan(msg)
        except InvalidInput as exc:
            self.monitor.drop(exc.reason)
            self.get_logger().warn(f"scan dropped: {exc}", throttle_duration_sec=5.0)
            return
        n_bad = int(np.sum(~radar.finite(scan)))
        if n_bad:   # the rest of the scan is still good: drop those detections only
            self.monitor.dropped["nan_points"] += n_bad
            self.get_logger().warn(f"{n_bad} detections with NaN/Inf dropped", throttle_duration_sec=5.0)
        scan = radar.gate(scan, self.p.min_range, self.p.max_range, self.p.min_snr)
        residual = radar.doppler_residual(scan, self._sensor_velocity(scan.stamp))
        labels = radar.cluster(scan.xyz, self.p.cluster_eps, self.p.cluster_min_points)
        feats = radar.cluster_features(scan, labels, residual, self.p.moving_threshold)
        feats[:, 0:3] = feats[:, 0:3] @ self.mount.R.T + self.mount.translation  # centroids to base_link
        header = msg.header
        header.frame_id = self.p.base_link_frame
        cols = {name: feats[:, i] for i, name in enumerate(radar.FEATURE_NAMES)}
        if self.model is not None:
            cols.update(score_columns(self.model.classes, self.model.predict_proba(rad=ef.radar_vectors(cols))))
        self.pub.publish(pointcloud.write(PointCloud2(), cols, header))
        self.objects.publish(header, cols)
        self.scans += 1
        self.clusters += len(feats)

    def _scan(self, msg) -> radar.RadarScan:
        if msg.width * msg.height > self.p.max_points:
            raise InvalidInput("too_many_points", f"{msg.width * msg.height} detections > max_points "
                                                  f"{self.p.max_points}")
        pts = checked_points(msg, self._now(), self.p.max_future, ("x", "y", "z"))
        names = pts.dtype.names

        def column(candidates, default):
            name = next((c for c in candidates if c in names), None)
            if name is None and default is None:
                raise InvalidInput("missing_field", f"none of {list(candidates)} in the cloud")
            return pts[name].astype(float) if name else np.full(len(pts), default)
        xyz = np.column_stack([pts["x"], pts["y"], pts["z"]]).astype(float)
        return radar.RadarScan(stamp_to_sec(msg.header.stamp), xyz, column(self.p.doppler_fields, None),
                               column(self.p.rcs_fields, 0.0), column(self.p.snr_fields, np.inf))

    def _sensor_velocity(self, stamp: float) -> np.ndarray:
        # the twist of the scan's moment: a driver's latency puts the scan before the newest odometry
        ego = self.twists.at(stamp, self.p.odometry_timeout)
        if ego is None:
            return np.zeros(3)  # no fresh ego motion: Doppler used as measured
        return radar.sensor_velocity(ego[0], ego[1], self.mount.R, self.mount.translation)

    def _publish_diagnostics(self) -> None:
        now = self.get_clock().now()
        statuses = [diag.monitor_status(f"{self.get_name()}: radar", self.p.input_topic, self.monitor,
                                        now.nanoseconds * 1e-9,
                                        extra={"scans": self.scans, "clusters": self.clusters,
                                               "clock_jumps_back": self.clock_jumps.jumps_back})]
        if self.p.odometry_topic:
            statuses.append(diag.monitor_status(f"{self.get_name()}: odometry", self.p.odometry_topic,
                                                self.odom_monitor, now.nanoseconds * 1e-9))
        self.diag_pub.publish(diag.array(now.to_msg(), statuses))


def main(args=None) -> int:
    return run_node(RadarNode, args)


if __name__ == "__main__":
    sys.exit(main())
