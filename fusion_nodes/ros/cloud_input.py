"""A validating PointCloud2 stage for message_filters chains: Subscriber -> CloudInput -> synchronizer."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import PointCloud2

from fusion_nodes.core.validation import InvalidInput, check_stamp

from . import pointcloud
from .convert import stamp_to_sec
from .diagnostics import InputMonitor
from .qos import sensor_qos
from .sync import mf


@dataclass(frozen=True)
class Cloud:
    """A parsed cloud: the message header (so synchronizers read its stamp) and its points."""

    header: object
    points: np.ndarray

    @property
    def stamp(self) -> float:
        return stamp_to_sec(self.header.stamp)


class CloudInput(mf.SimpleFilter):
    """Subscribes to an object topic, validates each message and signals a :class:`Cloud`.

    The topic carries PointCloud2 (``msg_type`` and ``to_points`` default), or
    any message that ``to_points(msg, required)`` turns into the object table,
    e.g. ``vision_msgs/Detection3DArray`` with
    :func:`fusion_nodes.ros.objects.detections_to_points`.

    Layout errors, missing ``required`` fields and bad stamps drop the message
    (counted in ``monitor.dropped`` by reason, throttled warning). Points with
    a non-finite value in a required field are removed and counted as
    ``nan_points``; the rest of the cloud is kept.
    """

    def __init__(self, node, topic: str, required=(), qos_depth: int = 10, msg_type=PointCloud2,
                 to_points=None):
        mf.SimpleFilter.__init__(self)
        self.node, self.topic, self.required = node, topic, tuple(required)
        self.to_points = to_points or (lambda msg, required: pointcloud.read(msg, required=required))
        self.monitor = InputMonitor()
        self.subscriber = mf.Subscriber(node, msg_type, topic, qos_profile=sensor_qos(qos_depth))
        self.subscriber.registerCallback(self.callback)

    def callback(self, msg) -> None:
        self.monitor.tick(self.node.get_clock().now().nanoseconds * 1e-9)
        try:
            check_stamp(stamp_to_sec(msg.header.stamp))
            pts = self.to_points(msg, self.required)
        except InvalidInput as exc:
            self.monitor.drop(exc.reason)
            self.node.get_logger().warn(f"{self.topic}: dropped: {exc}", throttle_duration_sec=5.0)
            return
        if len(pts) and self.required:
            finite = np.all([np.isfinite(pts[k].astype(float)).reshape(len(pts), -1).all(axis=1)
                             for k in self.required], axis=0)
            if not finite.all():
                self.monitor.dropped["nan_points"] += int((~finite).sum())
                self.node.get_logger().warn(f"{self.topic}: {int((~finite).sum())} points with NaN/Inf removed",
                                            throttle_duration_sec=5.0)
                pts = pts[finite]
        self.signalMessage(Cloud(msg.header, pts))
