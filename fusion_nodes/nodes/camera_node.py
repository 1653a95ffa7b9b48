# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""camera_node: images -> detections with appearance features (PointCloud2).

Subscribes to Image + CameraInfo, or captures with ``cv2.VideoCapture`` in
driver mode. Unsupported or inconsistent images, empty ones and unusable
CameraInfo (zero focal length) are dropped with a counted diagnostic.
"""
from __future__ import annotations

import sys

import cv2
import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Float32MultiArray, Header

from fusion_nodes.core import early_fusion as ef
from fusion_nodes.core import vision
from fusion_nodes.core.geometry import pinhole_matrix
from fusion_nodes.core.validation import InvalidInput, StampOrder, check_future, check_stamp
from fusion_nodes.ros import diagnostics as diag
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros.clock_jumps import ClockJumps
from fusion_nodes.ros.objects import ObjectOutputs
from fusion_nodes.ros.camera_params import specs
from fusion_nodes.ros.convert import camera_info_to_intrinsics, stamp_to_sec
from fusion_nodes.ros.decisions import score_columns
from fusion_nodes.ros.model_files import load_early_fusion
from fusion_nodes.ros.params import declare
from fusion_nodes.ros.qos import sensor_qos
from fusion_nodes.ros.runner import run_node


class CameraNode(Node):
    def __init__(self, **kwargs):
        super().__init__("camera_node", **kwargs)
        self.p = declare(self, specs())
        self.model = load_early_fusion(self.p.model_file)
        self.K, self.image_size = None, None      # intrinsics of the images to come, (width, height) px
        self.order = StampOrder()
        self.monitor = diag.InputMonitor()
        self.frames = self.detections = 0
        self.det_pub = self.create_publisher(PointCloud2, self.p.detections_topic, sensor_qos(10))
        self.objects = ObjectOutputs(self, "2d", self.p.vision_topic, "")
        self.scene_pub = self.create_publisher(Float32MultiArray, self.p.scene_topic, sensor_qos(10))
        # Always created: publish_debug_image can be switched on live.
        self.debug_pub = self.create_publisher(Image, self.p.debug_topic, 2)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        if self.p.capture_device:
            self._open_capture()
        else:
            self.create_subscription(CameraInfo, self.p.camera_info_topic, self._on_info, sensor_qos(5))
            self.create_subscription(Image, self.p.image_topic, self._on_image, sensor_qos(5))
        self.clock_jumps = ClockJumps(self, self._reset)
        self.create_timer(1.0, self._publish_diagnostics)

    def _reset(self, why: str) -> None:
        self.order.reset()
        self.monitor.restart()

    def _open_capture(self):
        dev = self.p.capture_device
        self.cap = cv2.VideoCapture(int(dev) if dev.isdigit() else dev)
        if not self.cap.isOpened():
            raise ValueError(f"capture_device {dev!r} cannot be opened")
        self.K = pinhole_matrix(*self.p.capture_intrinsics)
        self.create_timer(1.0 / self.p.capture_rate, self._capture)

    def _capture(self):
        ok, img = self.cap.read()
        if ok:
            header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.p.frame_id)
            self._process(img, header)

    def _on_info(self, msg: CameraInfo) -> None:
        """Intrinsics of the images to come (binning and ROI applied); an impossible one is dropped and counted,
        the last good one kept. Its stamp is not checked: the intrinsics hold until the next, and a static
        publisher's zero stamp is legitimate.
        """
        try:
            self.K, self.image_size = camera_info_to_intrinsics(msg)
        except InvalidInput as exc:
            self._drop(exc)

    def _on_image(self, msg: Image, info) -> None:
        now = self.get_clock().now().nanoseconds * 1e-9
        self.monitor.tick(now)
        self.monitor.delivery.note(info)
        try:
            stamp = stamp_to_sec(msg.header.stamp)
            check_stamp(stamp)
            check_future(stamp, now, self.p.max_future)
            self.order.check("image", stamp)
            if self.K is None:
                raise InvalidInput("no_camera_info", "no valid CameraInfo received yet")
            if self.image_size and (msg.width, msg.height) != self.image_size:
                # K describes images of another size (another resolution, binning or ROI): its bearings would be wrong
                w, h = self.image_size
                raise InvalidInput("camera_info_mismatch", f"image {msg.width}x{msg.height}, CameraInfo (binning "
                                                           f"and ROI applied) {w}x{h}")
            try:
                img = vision.to_bgr(bytes(msg.data), msg.width, msg.height, msg.step, msg.encoding)
            except ValueError as exc:
                reason = "unsupported_encoding" if "encoding" in str(exc) else "inconsistent_image"
                raise InvalidInput(reason, str(exc)) from None
        except InvalidInput as exc:
            self._drop(exc)
            return
        self.order.accept("image", stamp)
        self._process(img, msg.header)

    def _process(self, img: np.ndarray, header) -> None:
        boxes = []
        if self.p.detector in ("color", "both"):
            boxes += vision.segment(img, self.p.segment_threshold, self.p.min_area, self.p.segment_max_width,
                                    self.p.segment_split)
        if self.p.detector in ("hog", "both"):
            boxes += vision.detect_people(img)
        feats = np.array([vision.features(img, b, self.K) for b in boxes]).reshape(-1, len(vision.FEATURE_NAMES))
        centres = np.array([vision.box_centre(b) for b in boxes], float).reshape(-1, 2)
        cols = {"u": centres[:, 0], "v": centres[:, 1]}
        cols.update({name: feats[:, i] for i, name in enumerate(vision.FEATURE_NAMES)})
        if self.model is not None:
            cols.update(score_columns(self.model.classes, self.model.predict_proba(cam=ef.camera_vectors(cols))))
        self.det_pub.publish(pointcloud.write(PointCloud2(), cols, header))
        self.objects.publish(header, cols)
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        self.scene_pub.publish(Float32MultiArray(data=[float(len(boxes)), float(grey.mean()),
                                                       float(hsv[:, :, 1].mean()),
                                                       float((cv2.Canny(grey, 80, 160) > 0).mean())]))
        if self.p.publish_debug_image:
            self._publish_debug(img, boxes, header)
        self.frames += 1
        self.detections += len(boxes)

    def _publish_debug(self, img, boxes, header):
        out = img.copy()
        for x, y, w, h in boxes:
            cv2.rectangle(out, (x, y), (x + w, y + h), (0, 0, 255), 1)
        msg = Image(header=header, height=out.shape[0], width=out.shape[1], encoding="bgr8", step=3 * out.shape[1])
        msg.data = out.tobytes()
        self.debug_pub.publish(msg)

    def _drop(self, exc: InvalidInput) -> None:
        self.monitor.drop(exc.reason)
        self.get_logger().warn(f"dropped: {exc}", throttle_duration_sec=5.0)

    def _publish_diagnostics(self) -> None:
        self.diag_pub.publish(diag.input_array(self, "camera", self.p.image_topic, self.monitor,
                                               {"frames": self.frames, "detections": self.detections,
                                                "clock_jumps_back": self.clock_jumps.jumps_back}))


def main(args=None) -> int:
    return run_node(CameraNode, args)


if __name__ == "__main__":
    sys.exit(main())
