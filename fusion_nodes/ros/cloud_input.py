# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""A validating PointCloud2 stage for message_filters chains: Subscriber -> CloudInput -> synchronizer."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import PointCloud2

from fusion_nodes.core.validation import InvalidInput, check_future, check_stamp

from . import pointcloud
from .convert import stamp_to_sec
from .diagnostics import InputMonitor
from .qos import sensor_qos
from .sync import mf

# |value| beyond this in a required field is no feature, position or score (float32 would make it inf).
MAX_VALUE = 1.0e9


def checked_points(msg, now: float, max_future: float, required=(), to_points=None) -> np.ndarray:
    """The points of a cloud message whose stamp is usable, or :class:`InvalidInput`.

    The stamp must be set and not beyond ``now + max_future`` (a far-future stamp would hold a
    synchronizer's queues hostage: everything else is "older"); the layout must hold the ``required``
    fields (:func:`fusion_nodes.ros.pointcloud.read`, any field layout), or ``to_points(msg, required)``
    turns another message type into the table.
    """
    stamp = stamp_to_sec(msg.header.stamp)
    check_stamp(stamp)
    check_future(stamp, now, max_future)
    return (to_points or _cloud_points)(msg, tuple(required))


def _cloud_points(msg, required):
    return pointcloud.read(msg, required=required)


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
                 to_points=None, max_future: float = 1.0, screen=None):
        mf.SimpleFilter.__init__(self)
        self.node, self.topic, self.required, self.max_future = node, topic, tuple(required), max_future
        # screen(points) -> (points, {reason: rows removed}); raises InvalidInput to drop the message.
        self.screen = screen
        self.to_points = to_points or _cloud_points
        self.monitor = InputMonitor()
        self.subscriber = mf.Subscriber(node, msg_type, topic, qos_profile=sensor_qos(qos_depth))
        self.subscriber.registerCallback(self.callback)

    def callback(self, msg) -> None:
        now = self.node.get_clock().now().nanoseconds * 1e-9
        self.monitor.tick(now)
        try:
            pts = checked_points(msg, now, self.max_future, self.required, self.to_points)
            if len(pts) and self.required:
                pts = self._usable_points(pts)
            if self.screen is not None:
                pts, removed = self.screen(pts)
                for reason, n in removed.items():
                    if n:
                        self.monitor.dropped[reason] += n
        except InvalidInput as exc:
            self.monitor.drop(exc.reason)
            self.node.get_logger().warn(f"{self.topic}: dropped: {exc}", throttle_duration_sec=5.0)
            return
        self.signalMessage(Cloud(msg.header, pts))

    def _usable_points(self, pts: np.ndarray) -> np.ndarray:
        """Remove (and count) points with NaN/Inf or absurd values in a required field."""
        values = np.column_stack([pts[k].astype(float) for k in self.required])
        finite = np.isfinite(values).all(axis=1)
        plausible = finite & (np.abs(np.where(np.isfinite(values), values, 0.0)) <= MAX_VALUE).all(axis=1)
        for reason, bad in (("nan_points", ~finite), ("implausible_points", finite & ~plausible)):
            if bad.any():
                self.monitor.dropped[reason] += int(bad.sum())
                self.node.get_logger().warn(f"{self.topic}: {int(bad.sum())} points removed ({reason})",
                                            throttle_duration_sec=5.0)
        return pts[plausible]
