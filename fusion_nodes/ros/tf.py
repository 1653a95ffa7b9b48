# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""TF for the fusion nodes: broadcasting the estimate, reading sensor mounts.

``tf2_msgs`` comes with every ROS install; in the pip environment ``make``
builds it from ``interfaces/tf2_msgs``. :class:`TransformBroadcaster`
publishes ``tf2_msgs/TFMessage`` on ``/tf`` with tf2_ros' QoS, and
:class:`TransformCache` keeps what arrives on ``/tf_static`` (transient
local, so transforms published before the node started are received) and
``/tf``, and chains parent -> child edges to answer "where is frame F in
base_link" (:meth:`TransformCache.lookup`). Only the latest transform of
each edge is kept: enough for static sensor mounts and for map -> odom,
which robot_localization also computes from the newest odom -> base_link.
"""
from __future__ import annotations

from collections import Counter
from typing import Optional

import numpy as np
from geometry_msgs.msg import TransformStamped
from rclpy.qos import QoSProfile
from tf2_msgs.msg import TFMessage

from fusion_nodes.core.geometry import (compose, invert, matrix_to_quaternion, matrix_to_rpy, quaternion_to_matrix,
                                        rpy_to_matrix, rpy_to_quaternion)
from fusion_nodes.core.sensors import Mount
from fusion_nodes.core.validation import InvalidInput, Limits, check_finite, check_magnitude, check_quaternion
from fusion_nodes.ros.convert import DEFAULT_LIMITS
from fusion_nodes.ros.qos import latched_qos, output_qos


def tf_qos() -> QoSProfile:
    """``/tf``: reliable, volatile, depth 100 (tf2_ros' DynamicBroadcasterQoS)."""
    return output_qos(100)


def tf_static_qos() -> QoSProfile:
    """``/tf_static``: reliable, transient local, depth 1 (tf2_ros' StaticListenerQoS)."""
    return latched_qos(1)


def _frame(name: str) -> str:
    return name.lstrip("/")   # ROS 1 bags name frames with a leading slash


def transform_msg(stamp, parent: str, child: str, translation, quaternion) -> TransformStamped:
    """One ``TransformStamped`` parent -> child (translation in m, quaternion x y z w)."""
    msg = TransformStamped()
    msg.header.stamp, msg.header.frame_id, msg.child_frame_id = stamp, parent, child
    t, q = msg.transform.translation, msg.transform.rotation
    t.x, t.y, t.z = np.asarray(translation, dtype=float).tolist()
    q.x, q.y, q.z, q.w = np.asarray(quaternion, dtype=float).tolist()
    return msg


def pose_transform(stamp, parent: str, child: str, x: np.ndarray) -> TransformStamped:
    """The transform of a 15-D state's pose: parent = world frame, child = base_link."""
    return transform_msg(stamp, parent, child, x[0:3], rpy_to_quaternion(*x[3:6]))


# tf2's BufferCore refuses a rotation whose squared norm is further than this from 1


def checked_transform(msg: TransformStamped, limits: Limits = DEFAULT_LIMITS) -> tuple[str, str, tuple]:
    """``(parent, child, (t, R))`` of a transform from the wire, ``p_parent = R p_child + t``.

    Raises :class:`InvalidInput`: ``bad_frame`` (a frame id empty, or its own parent), ``non_finite``,
    ``implausible`` (a translation beyond ``limits.position``), ``bad_quaternion``
    (:func:`~fusion_nodes.core.validation.check_quaternion`: tf2's tolerance, which refuses such a transform too).
    """
    parent, child = _frame(msg.header.frame_id), _frame(msg.child_frame_id)
    if not parent or not child or parent == child:
        raise InvalidInput("bad_frame", f"transform {parent or '(empty)'} -> {child or '(empty)'}")
    t, q = msg.transform.translation, msg.transform.rotation
    tv, qv = np.array([t.x, t.y, t.z]), np.array([q.x, q.y, q.z, q.w])
    check_finite(f"transform {parent} -> {child}", np.concatenate([tv, qv]))
    check_magnitude(f"translation {parent} -> {child}", tv, limits.position)
    return parent, child, (tv, quaternion_to_matrix(check_quaternion(qv, f"rotation {parent} -> {child}")))


class TransformBroadcaster:
    """Publishes ``TransformStamped`` lists on ``/tf``."""

    def __init__(self, node):
        self.pub = node.create_publisher(TFMessage, "/tf", tf_qos())

    def send(self, transforms) -> None:
        self.pub.publish(TFMessage(transforms=list(transforms)))


class TransformCache:
    """Latest transform per edge from ``/tf_static`` and (optionally) ``/tf``.

    A transform that cannot be (:func:`checked_transform`) or that would close a loop of frames
    (``tf_cycle``: a tree has none) is dropped, counted in :attr:`dropped` by reason and warned about
    (throttled); the rest of its message is kept.
    """

    def __init__(self, node, dynamic: bool = False):
        self.edges: dict[str, tuple[str, tuple]] = {}   # child -> (parent, (t, R))
        self.static_children: set[str] = set()
        self.dropped: Counter = Counter()
        self._logger = node.get_logger()
        node.create_subscription(TFMessage, "/tf_static", lambda m: self.add(m, True), tf_static_qos())
        if dynamic:
            node.create_subscription(TFMessage, "/tf", lambda m: self.add(m, False), tf_qos())

    def add(self, msg: TFMessage, static: bool) -> None:
        for tr in msg.transforms:
            try:
                parent, child, edge = checked_transform(tr)
                if child in self._to_root(parent)[0]:
                    raise InvalidInput("tf_cycle", f"{parent} -> {child}: {child} is already above {parent}")
            except InvalidInput as exc:
                self.dropped[exc.reason] += 1
                self._logger.warn(f"{'/tf_static' if static else '/tf'}: transform dropped: {exc}",
                                  throttle_duration_sec=5.0)
                continue
            self.edges[child] = (parent, edge)
            if static:
                self.static_children.add(child)

    def _to_root(self, frame: str):
        """Chain frame -> its root: list of frames and the transform root <- frame."""
        tr, seen = (np.zeros(3), np.eye(3)), [frame]
        while frame in self.edges and len(seen) < 64:
            parent, edge = self.edges[frame]
            tr = compose(edge, tr)
            frame = parent
            seen.append(frame)
        return seen, tr

    def lookup(self, target: str, source: str) -> Optional[tuple]:
        """Transform ``(t, R)`` with ``p_target = R p_source + t``, or None if not connected."""
        target, source = _frame(target), _frame(source)
        if target == source:
            return np.zeros(3), np.eye(3)
        chain_s, root_s = self._to_root(source)
        chain_t, root_t = self._to_root(target)
        if chain_s[-1] != chain_t[-1]:
            return None
        return compose(invert(root_t), root_s)

    def mount(self, base: str, frame: str) -> Optional[Mount]:
        """The sensor mount base -> ``frame`` (a :class:`Mount`), or None while not connected."""
        found = self.lookup(base, frame)
        return None if found is None else Mount(found[0], matrix_to_rpy(found[1]))


class EstimateBroadcaster:
    """The TF of a state estimate, as robot_localization publishes it.

    ``world -> base_link`` when the world frame is odom; with ``world = map``
    the transform published is map -> odom = (map -> base_link) ∘
    (odom -> base_link)⁻¹, from the newest odom -> base_link on /tf
    (published by an odom-frame instance).
    """

    def __init__(self, node, cache: TransformCache, world: str, base: str, odom: str, map_frame: str):
        self.tf, self.cache = TransformBroadcaster(node), cache
        self.world, self.base, self.odom, self.in_map = world, base, odom, world == map_frame

    def send(self, stamp, x: np.ndarray) -> Optional[str]:
        """Publish the transform of state ``x``; returns why nothing was published, or None."""
        if not self.in_map:
            self.tf.send([pose_transform(stamp, self.world, self.base, x)])
            return None
        odom_base = self.cache.lookup(self.odom, self.base)
        if odom_base is None:
            return (f"no {self.odom} -> {self.base} on /tf yet: map -> {self.odom} not published (run an "
                    f"odom-frame instance that publishes it, or set publish_tf: false)")
        t, R = compose((x[0:3], rpy_to_matrix(*x[3:6])), invert(odom_base))
        self.tf.send([transform_msg(stamp, self.world, self.odom, t, matrix_to_quaternion(R))])
        return None
