# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion play``: publish a bag with its original timing, and /clock.

Every topic gets a reliable publisher (readers with sensor-data QoS, which is
best-effort, still match). ``/clock`` ticks at ``clock_rate`` Hz of bag time, so nodes
with ``use_sim_time`` see time advance through gaps. Only wall time paces the replay; message stamps are untouched.
"""
from __future__ import annotations

import time

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from fusion_nodes.ros.tf import tf_static_qos

from . import bagio
from .progress import progress


def play(bag, rate: float = 1.0, topics=None, remaps=(), start: float = 0.0,
         clock_rate: float = 100.0, delay: float = 5.0, quiet: bool = False, loops: int = 1) -> int:
    """Replay ``bag`` ``loops`` times; returns the number of messages published.

    Publishers are created for every topic first; playback starts once each
    has a matched subscriber, or after ``delay`` seconds at most, so the
    first messages are not lost to discovery. Each further loop starts the
    bag (and ``/clock``) again from its beginning, as ``ros2 bag play
    --loop`` does: the nodes' clocks jump back.
    """
    remap = dict(r.split(":=", 1) for r in remaps)
    rclpy.init()
    node = rclpy.create_node("fusion_player")
    clock_pub = node.create_publisher(Clock, "/clock", 10)
    qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
    readable = {t: cls for t, cls in bagio.readable_topics(bag).items() if not topics or t in topics}
    # /tf_static is latched (transient local), so nodes started later still get the mounts.
    pubs = {remap.get(t, t): node.create_publisher(cls, remap.get(t, t),
                                                   tf_static_qos() if t == "/tf_static" else qos)
            for t, cls in readable.items()}
    _wait_for_subscribers(pubs.values(), delay)
    count = 0
    try:
        for _ in range(loops if readable else 0):
            messages = ((remap.get(t, t), t_ns, m) for t, t_ns, m in bagio.read(bag, list(readable), start))
            total = sum(n for t, (_, n) in bagio.topics(bag).items() if t in readable)
            messages = progress(messages, total, f"playing at {rate:g}x")
            count += _play_once(messages, pubs, clock_pub, rate, int(1e9 / clock_rate))
        if not quiet:
            print(f"published {count} messages on {len(pubs)} topics")
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return count


def _play_once(messages, pubs, clock_pub, rate: float, clock_step: int) -> int:
    """Publish ``(topic, t_ns, msg)`` at ``rate`` times their bag timing, with /clock; return the count."""
    first = next(messages, None)
    if first is None:
        return 0
    t0_bag, t0_wall = first[1], time.monotonic()
    next_clock, count = t0_bag, 0
    for topic, t_ns, msg in _chain(first, messages):
        # /clock ticks at clock_rate in bag time (as rosbag's --clock),
        # not once per message: at high replay rates that would flood
        # every use_sim_time node with clock callbacks.
        while next_clock <= t_ns:
            _sleep_until(t0_wall + (next_clock - t0_bag) * 1e-9 / rate)
            clock_pub.publish(Clock(clock=_time(next_clock)))
            next_clock += clock_step
        _sleep_until(t0_wall + (t_ns - t0_bag) * 1e-9 / rate)
        pubs[topic].publish(msg)
        count += 1
    clock_pub.publish(Clock(clock=_time(next_clock)))
    return count


def _wait_for_subscribers(pubs, timeout: float) -> None:
    end = time.monotonic() + timeout
    time.sleep(min(0.5, timeout))
    while time.monotonic() < end and not all(p.get_subscription_count() > 0 for p in pubs):
        time.sleep(0.05)
    time.sleep(min(0.2, max(0.0, end - time.monotonic())))  # let matching settle


def _chain(first, rest):
    yield first
    yield from rest


def _time(t_ns: int):
    from builtin_interfaces.msg import Time
    return Time(sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000)


def _sleep_until(wall: float) -> None:
    delay = wall - time.monotonic()
    if delay > 0:
        time.sleep(delay)
