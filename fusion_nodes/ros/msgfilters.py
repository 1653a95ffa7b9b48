# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""message_filters' Python API for environments without a ROS install.

Every ROS 2 install ships ``message_filters``; PyPI does not. This module is a
drop-in with the same class and method names, arguments and matching rules
(``SimpleFilter``, ``Subscriber``, ``Cache``, ``TimeSynchronizer``,
``ApproximateTimeSynchronizer``), so message_filters' own Python tests pass
against it unchanged (``test/test_message_filters_api.py`` runs them with this
module first on the import path under the name ``message_filters``). The
matching itself is :mod:`fusion_nodes.core.sync`.

Stamps may be ``rclpy.time.Time``, ``builtin_interfaces/Time`` or integer
nanoseconds wherever message_filters takes a stamp. Headerless messages, with
``allow_headerless``, are stamped with ``ROSClock().now()`` as message_filters
does. Differences kept on purpose: :class:`Cache` keeps its messages in stamp
order when they arrive out of order (message_filters' C++ Cache does; its
Python one appends), and headerless messages rejected by a synchronizer are
counted in ``rejected_headerless``.
"""
from __future__ import annotations

import bisect
import threading

from rclpy.clock import ROSClock
from rclpy.time import Time

from fusion_nodes.core.sync import ApproximatePolicy, ExactPolicy


def to_ns(stamp) -> int:
    """``rclpy.time.Time``, ``builtin_interfaces/Time`` or int ns -> int ns."""
    if isinstance(stamp, int):
        return stamp
    ns = getattr(stamp, "nanoseconds", None)
    if ns is not None:
        return int(ns)
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def header_stamp(msg):
    """The header stamp of ``msg``, or None when it has no header."""
    header = getattr(msg, "header", None)
    return getattr(header, "stamp", None) if header is not None else None


class SimpleFilter:
    """Callback fan-out: the base of every filter (message_filters' API)."""

    def __init__(self):
        self.callbacks = {}

    def registerCallback(self, cb, *args):  # noqa: N802 - message_filters' name
        """Call ``cb(*outputs, *args)`` for every output; returns a connection id."""
        conn = len(self.callbacks)
        self.callbacks[conn] = (cb, args)
        return conn

    def signalMessage(self, *msg):  # noqa: N802
        for cb, args in list(self.callbacks.values()):
            cb(*(msg + args))


class Subscriber(SimpleFilter):
    """A ROS subscription as the source of a chain: ``Subscriber(node, msg_type, topic, qos_profile=10)``."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.node, self.topic = args[0], args[2]
        kwargs.setdefault("qos_profile", 10)
        self.sub = self.node.create_subscription(*args[1:], self.callback, **kwargs)

    def callback(self, msg):
        self.signalMessage(msg)

    def getTopic(self):  # noqa: N802
        return self.topic

    def __getattr__(self, key):
        # As message_filters: the rest of the subscription's API.
        if key == "sub":
            raise AttributeError(key)
        return getattr(self.sub, key)


class Cache(SimpleFilter):
    """The last ``cache_size`` messages of a filter, looked up by stamp."""

    def __init__(self, f, cache_size=1, allow_headerless=False):
        super().__init__()
        self.cache_size, self.allow_headerless = cache_size, allow_headerless
        self.cache_times: list = []   # the stamps as given (rclpy Time)
        self.cache_msgs: list = []
        self._ns: list[int] = []
        self.connectInput(f)

    def connectInput(self, f):  # noqa: N802
        self.incoming_connection = f.registerCallback(self.add)

    def add(self, msg):
        stamp = header_stamp(msg)
        if stamp is None:
            if not self.allow_headerless:
                return
            stamp = ROSClock().now()
        elif not hasattr(stamp, "nanoseconds"):
            stamp = Time.from_msg(stamp)
        ns = to_ns(stamp)
        i = bisect.bisect_right(self._ns, ns)
        for seq, value in ((self._ns, ns), (self.cache_times, stamp), (self.cache_msgs, msg)):
            seq.insert(i, value)
        while len(self.cache_msgs) > self.cache_size:
            for seq in (self._ns, self.cache_times, self.cache_msgs):
                del seq[0]
        self.signalMessage(msg)

    def getInterval(self, from_stamp, to_stamp):  # noqa: N802
        """Messages stamped in ``[from_stamp, to_stamp]``, oldest first."""
        lo, hi = to_ns(from_stamp), to_ns(to_stamp)
        return [m for s, m in zip(self._ns, self.cache_msgs) if lo <= s <= hi]

    def getElemAfterTime(self, stamp):  # noqa: N802
        """The oldest message stamped at or after ``stamp``."""
        i = bisect.bisect_left(self._ns, to_ns(stamp))
        return self.cache_msgs[i] if i < len(self.cache_msgs) else None

    def getElemBeforeTime(self, stamp):  # noqa: N802
        """The newest message stamped at or before ``stamp``."""
        i = bisect.bisect_right(self._ns, to_ns(stamp))
        return self.cache_msgs[i - 1] if i else None

    def getLastestTime(self):  # noqa: N802 - message_filters' own spelling
        return self.cache_times[-1] if self.cache_times else None

    getLatestTime = getLastestTime  # noqa: N815

    def getOldestTime(self):  # noqa: N802
        return self.cache_times[0] if self.cache_times else None

    def getLast(self):  # noqa: N802
        return self.cache_msgs[-1] if self.cache_msgs else None


class _Synchronizer(SimpleFilter):
    """Inputs -> a :mod:`fusion_nodes.core.sync` policy -> ``signalMessage(*set)``."""

    def __init__(self, fs, policy, allow_headerless=False, clock=None):
        super().__init__()
        self.policy, self.allow_headerless = policy, allow_headerless
        self.clock = clock
        self.lock = threading.Lock()
        self.rejected_headerless = 0
        self.connectInput(fs)

    def connectInput(self, fs):  # noqa: N802
        self.input_connections = [f.registerCallback(self.add, i) for i, f in enumerate(fs)]

    def add(self, msg, index):
        stamp = header_stamp(msg)
        if stamp is None:
            if not self.allow_headerless:
                self.rejected_headerless += 1
                return
            stamp = (self.clock or ROSClock()).now()
        with self.lock:
            self.policy.add(index, to_ns(stamp), msg)

    def _emit(self, msgs):
        self.signalMessage(*msgs)


class TimeSynchronizer(_Synchronizer):
    """Emit when every input has a message with the same header stamp."""

    def __init__(self, fs, queue_size):
        super().__init__(fs, ExactPolicy(len(fs), queue_size, self._emit))


class ApproximateTimeSynchronizer(_Synchronizer):
    """Emit sets whose stamps lie within ``slop`` seconds of each other (exclusive)."""

    def __init__(self, fs, queue_size, slop, allow_headerless=False):
        super().__init__(fs, ApproximatePolicy(len(fs), queue_size, int(round(slop * 1e9)), self._emit),
                         allow_headerless)
