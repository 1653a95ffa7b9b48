# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""early_fusion_node: camera detections + radar clusters + IMU features -> classified objects.

The three inputs are aligned by the approximate-time synchronizer with a
wait limit (a dead sensor yields partial sets instead of silence). Per set,
camera detections and radar clusters are associated (projection into the
image + Hungarian assignment), stacked as [camera | radar | imu], normalised,
projected and classified by the model from ``fusion fit``. Objects with one
modality only are classified by that modality's classifier. See
:mod:`fusion_nodes.core.early_fusion`.
"""
from __future__ import annotations

import sys

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, PointCloud2
from std_msgs.msg import Header

from fusion_nodes.core import early_fusion as ef
from fusion_nodes.core.geometry import pinhole_matrix
from fusion_nodes.core.sensors import Mount
from fusion_nodes.core.validation import InvalidInput
from fusion_nodes.ros import diagnostics as diag
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros.clock_jumps import ClockJumps
from fusion_nodes.ros.objects import ObjectOutputs
from fusion_nodes.ros.cloud_input import CloudInput
from fusion_nodes.ros.convert import camera_info_to_intrinsics
from fusion_nodes.ros.early_fusion_params import specs
from fusion_nodes.ros.decisions import score_columns
from fusion_nodes.ros.model_files import load_early_fusion
from fusion_nodes.ros.params import declare
from fusion_nodes.ros.qos import sensor_qos
from fusion_nodes.ros.runner import run_node
from fusion_nodes.ros.sync import make_synchronizer, sync_counts


class EarlyFusionNode(Node):
    def __init__(self, **kwargs):
        super().__init__("early_fusion_node", **kwargs)
        self.p = declare(self, specs())
        self.model = load_early_fusion(self.p.model_file)
        if self.model is None:
            raise ValueError("model_file is required (fit one with `fusion fit`)")
        self.mount = Mount.from_list(self.p.camera_mount)
        self.info_K = None               # the last good CameraInfo's matrix (with camera_info_topic)
        self.info_monitor = diag.InputMonitor()
        if self.p.camera_info_topic:
            self.create_subscription(CameraInfo, self.p.camera_info_topic, self._on_camera_info, sensor_qos(5))
        self.counts = {"sets": 0, "partial_sets": 0, "objects": 0, "associated": 0}
        future = self.p.max_future
        self.inputs = {"camera": CloudInput(self, self.p.camera_topic, ef.CAMERA_FIELDS, max_future=future),
                       "radar": CloudInput(self, self.p.radar_topic, ef.RADAR_FIELDS, max_future=future),
                       "imu": CloudInput(self, self.p.imu_topic, ef.IMU_FIELDS, max_future=future)}
        self.sync = make_synchronizer(self.p.sync_backend, list(self.inputs.values()),
                                      self.p.queue_size, self.p.slop, self.p.max_wait)
        self.sync.registerCallback(self._on_set)
        self.pub = self.create_publisher(PointCloud2, self.p.output_topic, sensor_qos(10))
        self.objects = ObjectOutputs(self, "3d", self.p.vision_topic, self.p.markers_topic)
        self.scene_pub = self.create_publisher(PointCloud2, self.p.scene_topic, sensor_qos(10))
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.clock_jumps = ClockJumps(self, self._reset)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(f"early fusion ({self.model.projection}) of {self.model.classes}")

    def _on_camera_info(self, msg: CameraInfo) -> None:
        """The camera's matrix from its CameraInfo; an impossible one is dropped and counted, the last good one
        kept. Its stamp is not checked: the matrix holds until the next, and a static publisher's zero stamp
        is legitimate.
        """
        self.info_monitor.tick(self.get_clock().now().nanoseconds * 1e-9)
        try:
            self.info_K, _ = camera_info_to_intrinsics(msg)
        except InvalidInput as exc:
            self.info_monitor.drop(exc.reason)
            self.get_logger().warn(f"{self.p.camera_info_topic}: dropped: {exc}", throttle_duration_sec=5.0)

    def _camera_matrix(self):
        """K (px) of the detections' images: the CameraInfo's with camera_info_topic (None before the first),
        else camera_intrinsics (live).
        """
        if self.p.camera_info_topic:
            return self.info_K
        return pinhole_matrix(*self.p.camera_intrinsics)

    def _on_set(self, cam, rad, imu) -> None:
        if cam is not None and self._camera_matrix() is None:
            # boxes without the matrix of their image cannot be placed: the set goes on without them
            self.inputs["camera"].monitor.drop("no_camera_info")
            self.get_logger().warn(f"{self.p.camera_topic}: dropped: no valid CameraInfo received yet",
                                   throttle_duration_sec=5.0)
            cam = None
            if rad is None and imu is None:
                return
        self.counts["sets"] += 1
        self.counts["partial_sets"] += any(m is None for m in (cam, rad, imu))
        det = cam.points if cam is not None else None
        clusters = rad.points if rad is not None else None
        imu_vec = ef.imu_vector(imu.points) if imu is not None and len(imu.points) else None
        pairs = self._associate(det, clusters)
        cols = self._objects(det, clusters, imu_vec, pairs)
        # Object positions are the radar clusters' (radar_node publishes them in base_link).
        header = Header(stamp=(rad or cam or imu).header.stamp,
                        frame_id=rad.header.frame_id if rad is not None else "base_link")
        self.pub.publish(pointcloud.write(PointCloud2(), cols, header))
        self.objects.publish(header, cols)
        self.scene_pub.publish(pointcloud.write(PointCloud2(), self._scene(det, clusters, imu_vec, pairs, cols),
                                                header))
        self.counts["objects"] += len(cols["class_id"])
        self.counts["associated"] += len(pairs)

    def _associate(self, det, clusters) -> list:
        if det is None or clusters is None or not len(det) or not len(clusters):
            return []
        xyz = np.column_stack([clusters["x"], clusters["y"], clusters["z"]]).astype(float)
        return ef.associate(np.column_stack([det["u"], det["v"]]), np.column_stack([det["width_px"], det["height_px"]]),
                            xyz, self.mount.R, self.mount.translation, self._camera_matrix(), self.p.association_gate,
                            self.p.association_margin)

    def _objects(self, det, clusters, imu_vec, pairs) -> dict:
        """Columns of the fused object list: pairs, then radar-only, then camera-only objects."""
        n_det = 0 if det is None else len(det)
        n_rad = 0 if clusters is None else len(clusters)
        ic = [i for i, _ in pairs]
        jr = [j for _, j in pairs]
        lone_r = [j for j in range(n_rad) if j not in set(jr)]
        lone_c = [i for i in range(n_det) if i not in set(ic)] if self.p.publish_camera_only else []
        parts, feats = [], []
        if pairs:
            c, r = ef.camera_vectors(det[ic]), ef.radar_vectors(clusters[jr])
            parts.append(self.model.predict_proba(c, r, imu_vec))
            feats.append(self.model.fused_features(c, r, imu_vec))
        if lone_r:
            parts.append(self.model.predict_proba(rad=ef.radar_vectors(clusters[lone_r])))
        if lone_c:
            parts.append(self.model.predict_proba(cam=ef.camera_vectors(det[lone_c])))
        proba = np.vstack(parts) if parts else np.zeros((0, len(self.model.classes)))
        rad_rows, cam_rows = jr + lone_r, ic + [-1] * len(lone_r) + lone_c
        xyz = np.full((len(proba), 3), np.nan)
        if rad_rows:
            xyz[:len(rad_rows)] = np.column_stack([clusters["x"], clusters["y"], clusters["z"]])[rad_rows]
        bearing = np.arctan2(xyz[:, 1], xyz[:, 0])
        if lone_c:
            bearing[len(rad_rows):] = det["bearing"][lone_c]
        cols = {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2], "bearing": bearing,
                **score_columns(self.model.classes, proba),
                "has_camera": np.array([float(i >= 0) for i in cam_rows]),
                "has_radar": np.array([1.0] * len(rad_rows) + [0.0] * len(lone_c)),
                "camera_index": np.array(cam_rows, float),
                "radar_index": np.array(rad_rows + [-1] * len(lone_c), float)}
        if self.p.publish_features:
            F = np.full((len(proba), self.model.dimension), np.nan)
            if feats:
                F[:len(pairs)] = feats[0]
            cols.update({f"f_{k}": F[:, k] for k in range(F.shape[1])})
        return cols

    def _scene(self, det, clusters, imu_vec, pairs, cols) -> dict:
        conf = cols["confidence"]
        imu = imu_vec if imu_vec is not None else np.full(len(ef.IMU_INPUTS), np.nan)
        scene = {"camera_detections": 0 if det is None else len(det),
                 "radar_clusters": 0 if clusters is None else len(clusters), "associated": len(pairs),
                 "mean_confidence": float(conf.mean()) if len(conf) else np.nan,
                 **{name: imu[i] for i, name in enumerate(ef.IMU_INPUTS)}}
        return {k: np.array([v], float) for k, v in scene.items()}

    def _reset(self, why: str) -> None:
        """Empty the synchronizer: its queued messages are stamped after the new clock."""
        self.sync.reset()
        for inp in self.inputs.values():
            inp.monitor.restart()

    def _publish_diagnostics(self) -> None:
        now = self.get_clock().now()
        t = now.nanoseconds * 1e-9
        stale_after = diag.silence_limit(3 * self.p.max_wait)
        statuses = [diag.monitor_status(f"{self.get_name()}: {name}", inp.topic, inp.monitor, t, stale_after)
                    for name, inp in self.inputs.items()]
        if self.p.camera_info_topic:
            statuses.append(diag.monitor_status(f"{self.get_name()}: camera_info", self.p.camera_info_topic,
                                                self.info_monitor, t, stale_after))
        statuses.append(diag.status(f"{self.get_name()}: fusion", self.p.output_topic, diag.OK,
                                    f"projection {self.model.projection}",
                                    {**self.counts, **sync_counts(self.sync),
                                     "clock_jumps_back": self.clock_jumps.jumps_back}))
        self.diag_pub.publish(diag.array(now.to_msg(), statuses))


def main(args=None) -> int:
    return run_node(EarlyFusionNode, args)


if __name__ == "__main__":
    sys.exit(main())
