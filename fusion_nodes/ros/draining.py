# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Subscriptions that take every message already waiting, once woken: high-rate inputs without backlog.

rclpy's executor takes one message per subscription per wait cycle, and a
cycle rebuilds the wait set of every entity of the node (subscriptions,
timers, the parameter services, /tf ...). A node with a dozen entities and
a 2 kHz IMU then spends more time waiting than fusing, the DDS reader queue
fills and the oldest messages are overwritten. A draining subscription's
callback, once called, also takes what else is queued on the same reader,
with the same message info the executor would have passed, up to ``batch``
messages: 25 keeps a wakeup to a few milliseconds, so a 200 Hz output
timer still fires on time (100 made the wakeups long enough for the timer to
skip periods: 140 Hz output at 2,000 IMU messages per second).
"""
from __future__ import annotations

from rclpy.exceptions import InvalidHandle


def subscribe_draining(node, msg_type, topic: str, callback, qos, batch: int = 25):
    """``node.create_subscription`` whose ``callback(msg, info)`` also sees the messages queued behind ``msg``."""
    sub = None

    def on_message(msg, info):
        callback(msg, info)
        for _ in range(batch - 1):
            try:
                with sub.handle:
                    taken = sub.handle.take_message(sub.msg_type, sub.raw)
            except InvalidHandle:          # destroyed while we were draining
                return
            if taken is None:
                return
            callback(*taken)
    sub = node.create_subscription(msg_type, topic, on_message, qos)
    return sub
