"""``fusion play``: publish a bag with its original timing, and /clock.

Every topic gets a reliable publisher (readers with sensor-data QoS, which is
best-effort, still match). ``/clock`` is published before each message and at
``clock_rate`` Hz in between, so nodes with ``use_sim_time`` see time advance
through gaps. Only wall time paces the replay; message stamps are untouched.
"""
from __future__ import annotations

import time

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from . import bagio


def play(bag, rate: float = 1.0, topics=None, remaps=(), start: float = 0.0,
         clock_rate: float = 100.0, delay: float = 1.0, quiet: bool = False) -> int:
    """Replay ``bag``; returns the number of messages published.

    Publishers are created for every topic first, then ``delay`` seconds
    pass so that subscribers are discovered before the first message (as
    ``ros2 bag play --delay``).
    """
    remap = dict(r.split(":=", 1) for r in remaps)
    rclpy.init()
    node = rclpy.create_node("fusion_player")
    clock_pub = node.create_publisher(Clock, "/clock", 10)
    qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
    pubs = {remap.get(t, t): node.create_publisher(bagio.message_class(msgtype), remap.get(t, t), qos)
            for t, (msgtype, _) in bagio.topics(bag).items() if not topics or t in topics}
    time.sleep(delay)
    count = 0
    try:
        messages = bagio.read(bag, topics, start)
        first = next(messages, None)
        if first is None:
            return 0
        t0_bag, t0_wall = first[1], time.monotonic()
        clock_step = int(1e9 / clock_rate)
        next_clock = t0_bag
        for topic, t_ns, msg in _chain(first, messages):
            topic = remap.get(topic, topic)
            # Tick /clock through the gap before this message.
            while next_clock < t_ns:
                _sleep_until(t0_wall + (next_clock - t0_bag) * 1e-9 / rate)
                clock_pub.publish(Clock(clock=_time(next_clock)))
                next_clock += clock_step
            _sleep_until(t0_wall + (t_ns - t0_bag) * 1e-9 / rate)
            clock_pub.publish(Clock(clock=_time(t_ns)))
            pubs[topic].publish(msg)
            count += 1
        if not quiet:
            print(f"published {count} messages on {len(pubs)} topics")
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return count


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
