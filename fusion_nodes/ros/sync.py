"""message_filters-style synchronisation for the fusion nodes.

When the ``message_filters`` package is importable (a ROS install) its
``Subscriber``, ``Cache``, ``TimeSynchronizer`` and
``ApproximateTimeSynchronizer`` are used; otherwise (the pip environment)
this module's own classes with the same API and the same matching rules
(see :mod:`fusion_nodes.core.sync`). :class:`PartialApproximateTimeSynchronizer`
adds a wait limit after which a partial set is emitted with ``None`` for the
missing inputs, so fusion continues when a sensor dies; it is always ours.
"""
from __future__ import annotations

import bisect
import threading

from fusion_nodes.core.sync import ApproximatePolicy, ExactPolicy

try:  # a ROS install provides the reference implementation
    import message_filters as _mf
except ImportError:  # pragma: no cover - depends on the environment
    _mf = None


def _stamp_ns(msg, clock=None, allow_headerless=False):
    """Header stamp in ns; the node clock's now for headerless messages if allowed."""
    header = getattr(msg, "header", None)
    if header is not None and hasattr(header, "stamp"):
        return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
    if allow_headerless and clock is not None:
        return clock.now().nanoseconds
    return None


class SimpleFilter:
    """Callback fan-out shared by every filter."""

    def __init__(self):
        self.callbacks = {}

    def registerCallback(self, cb, *args):  # noqa: N802 - message_filters' name
        conn = len(self.callbacks)
        self.callbacks[conn] = (cb, args)
        return conn

    def signalMessage(self, *msg):  # noqa: N802
        for cb, args in list(self.callbacks.values()):
            cb(*(msg + args))


class Subscriber(SimpleFilter):
    """A ROS subscription as the source of a filter chain."""

    def __init__(self, node, msg_type, topic, qos_profile=10, **kwargs):
        super().__init__()
        self.node, self.topic = node, topic
        self.sub = node.create_subscription(msg_type, topic, self.callback, qos_profile, **kwargs)

    def callback(self, msg):
        self.signalMessage(msg)

    def getTopic(self):  # noqa: N802
        return self.sub.topic_name


class Cache(SimpleFilter):
    """The last ``cache_size`` messages of a filter, looked up by stamp (ns)."""

    def __init__(self, f, cache_size=1, allow_headerless=False, clock=None):
        super().__init__()
        self.cache_size, self.allow_headerless, self.clock = cache_size, allow_headerless, clock
        self.stamps: list[int] = []
        self.msgs: list = []
        self.connectInput(f)

    def connectInput(self, f):  # noqa: N802
        self.incoming_connection = f.registerCallback(self.add)

    def add(self, msg):
        stamp = _stamp_ns(msg, self.clock, self.allow_headerless)
        if stamp is None:
            return
        i = bisect.bisect_right(self.stamps, stamp)
        self.stamps.insert(i, stamp)
        self.msgs.insert(i, msg)
        while len(self.msgs) > self.cache_size:
            self.stamps.pop(0)
            self.msgs.pop(0)
        self.signalMessage(msg)

    def getInterval(self, from_ns, to_ns):  # noqa: N802
        return [m for s, m in zip(self.stamps, self.msgs) if from_ns <= s <= to_ns]

    def getElemAfterTime(self, stamp_ns):  # noqa: N802
        return next((m for s, m in zip(self.stamps, self.msgs) if s >= stamp_ns), None)

    def getElemBeforeTime(self, stamp_ns):  # noqa: N802
        before = [m for s, m in zip(self.stamps, self.msgs) if s <= stamp_ns]
        return before[-1] if before else None

    def getLatestTime(self):  # noqa: N802
        return self.stamps[-1] if self.stamps else None

    def getOldestTime(self):  # noqa: N802
        return self.stamps[0] if self.stamps else None

    def getLast(self):  # noqa: N802
        return self.msgs[-1] if self.msgs else None


class _Synchronizer(SimpleFilter):
    def __init__(self, fs, policy, allow_headerless=False, clock=None):
        super().__init__()
        self.policy, self.allow_headerless = policy, allow_headerless
        self.clock = clock or next((f.node.get_clock() for f in fs if hasattr(f, "node")), None)
        self.lock = threading.Lock()
        self.rejected_headerless = 0
        self.connectInput(fs)

    def connectInput(self, fs):  # noqa: N802
        self.input_connections = [f.registerCallback(self.add, i) for i, f in enumerate(fs)]

    def add(self, msg, index):
        stamp = _stamp_ns(msg, self.clock, self.allow_headerless)
        if stamp is None:
            self.rejected_headerless += 1
            return
        with self.lock:
            self.policy.add(index, stamp, msg)

    def _emit(self, msgs):
        self.signalMessage(*msgs)


class TimeSynchronizer(_Synchronizer):
    """Emit when every input has a message with the same header stamp."""

    def __init__(self, fs, queue_size):
        super().__init__(fs, ExactPolicy(len(fs), queue_size, lambda m: self._emit(m)))


class ApproximateTimeSynchronizer(_Synchronizer):
    """Emit sets whose stamps lie within ``slop`` seconds of each other."""

    def __init__(self, fs, queue_size, slop, allow_headerless=False):
        super().__init__(fs, ApproximatePolicy(len(fs), queue_size, int(slop * 1e9), lambda m: self._emit(m)),
                         allow_headerless)


class PartialApproximateTimeSynchronizer(_Synchronizer):
    """:class:`ApproximateTimeSynchronizer` plus a wait limit (s).

    A message that has waited ``max_wait`` seconds (on the newest stamp seen)
    is emitted with ``None`` in place of each input that has nothing within
    ``slop`` of it.
    """

    def __init__(self, fs, queue_size, slop, max_wait, allow_headerless=False, clock=None):
        super().__init__(fs, ApproximatePolicy(len(fs), queue_size, int(slop * 1e9), lambda m: self._emit(m),
                                               int(max_wait * 1e9)), allow_headerless, clock)


BACKEND = "fusion_nodes"
if _mf is not None:  # pragma: no cover - only on ROS installs
    Subscriber, Cache, TimeSynchronizer, ApproximateTimeSynchronizer = (  # noqa: F811
        _mf.Subscriber, _mf.Cache, _mf.TimeSynchronizer, _mf.ApproximateTimeSynchronizer)
    BACKEND = "message_filters"
