# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Draining subscriptions: one wakeup takes every message already queued, each with its own message info."""
import time

import pytest


@pytest.fixture
def ros():
    import rclpy
    from rclpy.context import Context
    ctx = Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node("draining_test", context=ctx)
    yield node
    node.destroy_node()
    rclpy.shutdown(context=ctx)


def test_one_wakeup_takes_the_queue_with_message_info(ros):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import Int64
    from fusion_nodes.ros.draining import subscribe_draining
    qos = QoSProfile(depth=500, reliability=ReliabilityPolicy.RELIABLE)
    got, calls = [], []
    sub = subscribe_draining(ros, Int64, "/draining_test", lambda m, info: got.append((m.data, info)), qos,
                             batch=100)
    original = sub.callback
    sub.callback = lambda m, info: (calls.append(len(got)), original(m, info))
    pub = ros.create_publisher(Int64, "/draining_test", qos)
    ex = SingleThreadedExecutor(context=ros.context)
    ex.add_node(ros)
    end = time.monotonic() + 20.0
    while pub.get_subscription_count() == 0 and time.monotonic() < end:
        ex.spin_once(timeout_sec=0.05)
    for k in range(250):
        pub.publish(Int64(data=k))
    while len(got) < 250 and time.monotonic() < end:
        ex.spin_once(timeout_sec=0.1)
    assert [d for d, _ in got] == list(range(250))
    seq = [info["publication_sequence_number"] for _, info in got]
    assert seq == list(range(seq[0], seq[0] + 250))       # every drained message came with its own info
    # The executor called the subscription far fewer times than there were messages: wakeups drained
    # up to the batch of 100 each.
    assert len(calls) < 250 and max(b - a for a, b in zip(calls, calls[1:] + [len(got)])) > 1
    ex.shutdown()
