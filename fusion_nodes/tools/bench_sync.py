# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The synchronizer side by side with message_filters on one stream (part of ``fusion bench``).

The stream is three inputs at 20 / 15 / 10 Hz with ±10 ms stamp jitter,
delivered in a shuffled order (up to 80 ms late), as camera, radar and IMU
features reach a node. Every implementation gets the same messages; the
sets they emit are compared set by set, and the cost is the CPU time per
input message.
"""
from __future__ import annotations

import random
import time

from std_msgs.msg import Header

from fusion_nodes.ros import msgfilters, sync


class _Stamped:
    """A message with only a header, as message_filters needs."""

    def __init__(self, ns: int):
        self.header = Header()
        self.header.stamp.sec, self.header.stamp.nanosec = divmod(ns, 1_000_000_000)


def stream(seed: int = 7, seconds: int = 20) -> list[tuple[int, object]]:
    """``(input index, message)`` in delivery order."""
    rng = random.Random(seed)
    events = []
    for i, rate in enumerate((20, 15, 10)):
        for k in range(seconds * rate):
            events.append((i, int((k / rate + rng.uniform(-0.01, 0.01)) * 1e9) + 10**9))
    events.sort(key=lambda e: e[1] + rng.uniform(0, 0.08) * 1e9)
    return [(i, _Stamped(ns)) for i, ns in events]


def emitted_sets(make, module, events, queue_size: int) -> list[tuple]:
    """Sets (as message ids) emitted by ``make(filters, queue_size)`` fed ``events``."""
    inputs = [module.SimpleFilter() for _ in range(3)]
    out = []
    make(inputs, queue_size).registerCallback(lambda *m: out.append(tuple(id(x) for x in m)))
    for i, msg in events:
        inputs[i].signalMessage(msg)
    return out


def implementations(slop: float = 0.03) -> dict:
    """Name -> (constructor, module whose SimpleFilter feeds it)."""
    impls = {"fusion_nodes policy": (lambda fs, q: sync.PartialApproximateTimeSynchronizer(fs, q, slop, None),
                                     sync.mf),
             "drop-in ApproximateTimeSynchronizer": (
                 lambda fs, q: msgfilters.ApproximateTimeSynchronizer(fs, q, slop), msgfilters)}
    if sync.mf is not msgfilters:
        impls["message_filters.ApproximateTimeSynchronizer"] = (
            lambda fs, q: sync.mf.ApproximateTimeSynchronizer(fs, q, slop), sync.mf)
    return impls


def compare(queue_sizes=(10, 100), seconds: int = 20) -> list[dict]:
    """One row per queue size: per implementation µs per message, sets, and whether all agree."""
    events = stream(seconds=seconds)
    rows = []
    for q in queue_sizes:
        row = {"queue": q, "messages": len(events), "us": {}, "sets": {}}
        reference = None
        for name, (make, module) in implementations().items():
            t = time.process_time()
            sets = emitted_sets(make, module, events, q)
            row["us"][name] = (time.process_time() - t) / len(events) * 1e6
            row["sets"][name] = len(sets)
            reference = sets if reference is None else reference
            row.setdefault("identical", True)
            row["identical"] &= sets == reference
        rows.append(row)
    return rows


def print_section() -> None:
    print("\n== synchronizer: 3 inputs (20/15/10 Hz, shuffled), µs per input message, same stream ==")
    for row in compare():
        ours = row["us"]["fusion_nodes policy"]
        for name, us in row["us"].items():
            print(f"  queue {row['queue']:>3} {name:<44} {us:8.1f} µs  {row['sets'][name]:>4} sets  "
                  f"{us / ours:5.1f}x the package's policy")
        print(f"  queue {row['queue']:>3} identical sets from every implementation: {row['identical']}")
