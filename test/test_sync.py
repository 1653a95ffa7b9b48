# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Synchronizer: message_filters semantics (exact, approximate) and the wait limit."""
import random
import threading
import time

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from geometry_msgs.msg import PointStamped
from std_msgs.msg import Header, String

from fusion_nodes.core.sync import ApproximatePolicy, ExactPolicy
from fusion_nodes.ros import msgfilters, sync
from fusion_nodes.tools import bench_sync

# The API tests run on the drop-in and, where installed, on the real message_filters.
MODULES = [msgfilters] + ([sync.mf] if sync.mf is not msgfilters else [])

MS = 1_000_000


def collector():
    out = []
    return out, out.append


def test_exact_matches_only_identical_stamps():
    out, emit = collector()
    p = ExactPolicy(2, 10, emit)
    p.add(0, 100, "a100")
    p.add(1, 101, "b101")
    assert out == []
    p.add(1, 100, "b100")
    assert out == [["a100", "b100"]]
    assert 101 in p.queues[1] and not p.queues[0]


def test_exact_keeps_older_incomplete_sets_as_message_filters_does():
    out, emit = collector()
    p = ExactPolicy(2, 10, emit)
    p.add(0, 100, "a100")
    p.add(0, 200, "a200")
    p.add(1, 200, "b200")
    p.add(1, 100, "b100")   # late, but its partner is still queued
    assert out == [["a200", "b200"], ["a100", "b100"]]


def test_zero_slop_matches_nothing_as_message_filters():
    out, emit = collector()
    p = ApproximatePolicy(2, 10, 0, emit)
    p.add(0, 100, "a")
    p.add(1, 100, "b")
    assert out == []


def test_exact_queue_overflow_drops_oldest():
    out, emit = collector()
    p = ExactPolicy(2, 3, emit)
    for s in range(5):
        p.add(0, s, f"a{s}")
    assert sorted(p.queues[0]) == [2, 3, 4] and p.dropped == 2
    p.add(1, 0, "b0")  # its partner was dropped: never emitted
    p.add(1, 3, "b3")
    assert out == [["a3", "b3"]]


def test_approximate_pairs_closest_within_slop():
    out, emit = collector()
    p = ApproximatePolicy(2, 10, 10 * MS, emit)
    p.add(0, 100 * MS, "a100")
    p.add(1, 150 * MS, "b150")     # 50 ms away: no set
    assert out == []
    p.add(1, 104 * MS, "b104")
    assert out == [["a100", "b104"]]
    assert list(p.queues[1]) == [150 * MS]


@pytest.mark.parametrize("delta,emitted", [(9, True), (10, False), (11, False)])
def test_approximate_slop_boundary_is_exclusive(delta, emitted):
    out, emit = collector()
    p = ApproximatePolicy(2, 10, 10 * MS, emit)
    p.add(0, 0, "a")
    p.add(1, delta * MS, "b")
    assert bool(out) == emitted


def test_approximate_three_inputs_shuffled_arrival():
    # Camera 20 Hz, radar 15 Hz, IMU features 10 Hz, each with jitter; arrival order shuffled
    # within a short window. Every IMU message must find a set within the slop.
    rng = random.Random(4)
    events = []
    for i, rate in enumerate((20, 15, 10)):
        for k in range(4 * rate):  # 4 s of each
            events.append((i, int((k / rate + rng.uniform(-0.004, 0.004)) * 1e9)))
    events.sort(key=lambda e: e[1] + rng.uniform(0, 0.05) * 1e9)  # delivery delay up to 50 ms
    out, emit = collector()
    p = ApproximatePolicy(3, 50, 40 * MS, emit)
    for i, s in events:
        p.add(i, s, (i, s))
    assert len(out) >= 30   # of 40 IMU messages; radar at 15 Hz is sometimes > 40 ms away
    for msgs in out:
        stamps = [s for _, s in msgs]
        assert [i for i, _ in msgs] == [0, 1, 2]
        assert max(stamps) - min(stamps) < 40 * MS
    # No message is used twice.
    used = [m for msgs in out for m in msgs]
    assert len(used) == len(set(used))


def test_approximate_queue_is_bounded():
    out, emit = collector()
    p = ApproximatePolicy(2, 5, 1 * MS, emit)
    for k in range(100):
        p.add(0, k * 100 * MS, k)   # input 1 is dead
    assert len(p.queues[0]) == 5 and p.dropped == 95 and out == []


def test_wait_limit_emits_partial_sets_with_missing_inputs_marked():
    out, emit = collector()
    p = ApproximatePolicy(2, 100, 20 * MS, emit, max_wait_ns=200 * MS)
    for k in range(10):
        p.add(0, k * 100 * MS, f"a{k}")   # camera keeps coming, radar is silent
    assert out[0] == ["a0", None] and len(out) == 7   # a0..a6 waited over 200 ms
    p.add(1, 905 * MS, "b905")                        # radar returns: matched first,
    assert ["a9", "b905"] in out                      # then a7 (205 ms old) goes partial
    assert out[-1] == ["a7", None] and p.partial == 8
    p.add(1, 700 * MS, "b700")                        # too late for a7: out alone, marked
    assert out[-1] == [None, "b700"]


class _Node:
    def __init__(self, name):
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.ex = SingleThreadedExecutor(context=self.context)
        self.ex.add_node(self.node)
        threading.Thread(target=self.ex.spin, daemon=True).start()

    def close(self):
        self.ex.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


@pytest.mark.parametrize("mf", MODULES, ids=lambda m: m.__name__)
def test_ros_subscribers_feed_the_synchronizer_over_dds(mf):
    """Header and headerless topics through real subscriptions, in message_filters' API."""
    pub_node, sub_node = _Node("sync_pub"), _Node("sync_sub")
    try:
        got, cached = [], []
        a = mf.Subscriber(sub_node.node, PointStamped, "/sync_test/a")
        b = mf.Subscriber(sub_node.node, String, "/sync_test/b")   # no header: stamped on arrival
        cache = mf.Cache(a, cache_size=3)
        cache.registerCallback(cached.append)
        ts = mf.ApproximateTimeSynchronizer([a, b], 10, 0.5, allow_headerless=True)
        ts.registerCallback(lambda h, s: got.append((h, s)))
        pa = pub_node.node.create_publisher(PointStamped, "/sync_test/a", 10)
        pb = pub_node.node.create_publisher(String, "/sync_test/b", 10)
        end = time.monotonic() + 10
        while time.monotonic() < end and (pa.get_subscription_count() == 0 or pb.get_subscription_count() == 0):
            time.sleep(0.05)
        for k in range(5):
            pa.publish(PointStamped(header=Header(stamp=pub_node.node.get_clock().now().to_msg(),
                                                  frame_id=str(k))))
            pb.publish(String(data=str(k)))
            time.sleep(0.2)
        time.sleep(0.3)
        assert [p.header.frame_id for p, _ in got] == [s.data for _, s in got]
        assert len(got) >= 4
        assert len(cached) == 5 and cache.getLast().header.frame_id == "4" and len(cache.cache_msgs) == 3
    finally:
        pub_node.close()
        sub_node.close()


events = bench_sync.stream()


@pytest.mark.parametrize("queue_size", [1, 3, 10, 100])
def test_every_backend_emits_the_same_sets_on_the_same_stream(queue_size):
    """The package's policy (no wait limit), the drop-in and the real message_filters agree set by set."""
    slop = 0.03
    impls = bench_sync.implementations(slop)
    assert len(impls) == 2 + (sync.mf is not msgfilters)
    results = {name: bench_sync.emitted_sets(make, module, events, queue_size)
               for name, (make, module) in impls.items()}
    reference = results.pop("fusion_nodes policy")
    assert len(reference) > 100   # of 200 IMU-rate messages
    assert all(sets == reference for sets in results.values())
    via_param = bench_sync.emitted_sets(lambda fs, q: sync.make_synchronizer("message_filters", fs, q, slop, 0.3),
                                        sync.mf, events, queue_size)
    assert via_param == reference
