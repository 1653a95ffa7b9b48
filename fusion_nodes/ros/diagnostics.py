# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Counters and rates published as ``diagnostic_msgs/DiagnosticArray``."""
from __future__ import annotations

import time
from collections import defaultdict, deque

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

OK, WARN, ERROR, STALE = (DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR,
                          DiagnosticStatus.STALE)


class RecentCount:
    """How much a running total grew over the last ``window`` seconds (sampled when asked).

    Diagnostics levels come from this, not from the totals: an input that
    dropped messages a minute ago and is healthy now is OK again.
    """

    def __init__(self, window: float = 5.0):
        self.window = window
        # (time, total) samples; the first is the baseline the recent growth is measured from.
        self._samples: deque[tuple[float, int]] = deque([(float("-inf"), 0)])

    def update(self, now: float, total: int) -> int:
        if now < self._samples[-1][0]:           # clock jumped back (bag loop): start again
            self._samples = deque([(float("-inf"), total)])
        self._samples.append((now, total))
        while len(self._samples) > 1 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()
        return total - self._samples[0][1]


class Delivery:
    """What DDS says about each delivered message: the ones that never reached the callback, and the wait.

    Fed with rclpy's message info (a subscription callback taking
    ``(msg, info)``). A jump in ``publication_sequence_number`` counts the
    messages in between as ``skipped``: overwritten in the full reader queue
    while the node was busy (it fell behind: the queue keeps the newest, so
    it degrades by dropping the oldest) or lost in transport. The wait is
    system time from DDS reception to the callback (the node's backlog; a
    CPU measure, so wall time by nature, never used in the fusion logic).
    A publisher that restarts (sequence back to 1) resets the baseline; with
    several publishers on one topic the gaps are those of their interleaved
    numbers, an upper bound.
    """

    def __init__(self):
        self.skipped = 0
        self.max_wait = 0.0       # s, since the last report
        self._last_seq = None

    def note(self, info) -> None:
        if not info:
            return
        seq = info.get("publication_sequence_number")
        if seq:
            if self._last_seq is not None and seq > self._last_seq + 1:
                self.skipped += seq - self._last_seq - 1
            self._last_seq = seq
        received = info.get("received_timestamp")
        if received:
            self.max_wait = max(self.max_wait, (time.time_ns() - received) * 1e-9)

    def report(self) -> dict:
        """``skipped`` (total) and ``queue_wait_max_s`` since the previous report."""
        out = {"skipped": self.skipped, "queue_wait_max_s": round(self.max_wait, 4)}
        self.max_wait = 0.0
        return out


class CpuLoad:
    """CPU seconds the process used per second of node-clock time, since the previous sample.

    A node that needs more than a core falls behind: DDS queues overflow and
    messages are skipped. This says so in /diagnostics. Measured against
    the node clock, it is the share of a core while running live or
    replaying at the bag's rate, and small in an offline run that goes
    faster than real time (which is not falling behind).
    """

    def __init__(self):
        self._last = None
        self.share = 0.0

    def sample(self, now: float) -> float:
        """``now``: node clock (s). A clock that did not advance (or jumped back) keeps the last value."""
        cpu = time.process_time()
        if self._last is not None and now > self._last[1]:
            self.share = (cpu - self._last[0]) / (now - self._last[1])
        self._last = (cpu, now)
        return self.share


class InputMonitor:
    """Receipt times (node clock, s) and drop counts of one input, for rate and staleness.

    Parameters
    ----------
    window : float
        Seconds over which the message rate is measured.
    """

    def __init__(self, window: float = 5.0):
        self.window = window
        self.times: deque[float] = deque()
        self.received = 0
        self.dropped: dict[str, int] = defaultdict(int)
        self.recent_drops = RecentCount(window)
        self.delivery = Delivery()
        self.last = None    # node-clock time of the last message (s)

    def tick(self, now: float) -> None:
        self.received += 1
        self.last = now
        self.times.append(now)
        while self.times and now - self.times[0] > self.window:
            self.times.popleft()

    def restart(self) -> None:
        """Forget the arrival times (the clock jumped back); the counts stay."""
        self.times.clear()
        self.last = None

    def drop(self, reason: str) -> None:
        self.dropped[reason] += 1

    def rate(self, now: float) -> float:
        """Messages per second: intervals seen over the time since the oldest
        message of the window, so it is right before a full window has passed
        and falls off when the input stops.
        """
        while self.times and now - self.times[0] > self.window:
            self.times.popleft()
        if len(self.times) < 2 or now <= self.times[0]:
            return 0.0
        return (len(self.times) - 1) / (now - self.times[0])

    def staleness(self, now: float) -> float:
        """Seconds since the last message (``inf`` before the first one or after a clock jump)."""
        return now - self.last if self.last is not None else float("inf")


class RejectionWindow:
    """Share of an input's measurement parts rejected by the gate over the last ``window`` updates.

    Updated once per diagnostics tick (1 Hz) with the running accepted /
    rejected counts; :attr:`alarm` says when the share exceeds ``limit``
    (with at least ``min_parts`` parts in the window): the input disagrees
    with the others, an ERROR rather than noise.
    """

    def __init__(self, window: int = 10, limit: float = 0.8, min_parts: int = 5):
        self.window, self.limit, self.min_parts = window, limit, min_parts
        self.history: deque = deque(maxlen=window + 1)
        self.share = 0.0

    def update(self, accepted: int, rejected: int) -> float:
        self.history.append((accepted, rejected))
        self.share = 0.0
        if len(self.history) > self.window:
            a0, r0 = self.history[0]
            n = (accepted - a0) + (rejected - r0)
            self.share = (rejected - r0) / n if n >= self.min_parts else 0.0
        return self.share

    @property
    def alarm(self) -> bool:
        return self.share > self.limit


def status(name: str, hardware_id: str, level, message: str, values: dict) -> DiagnosticStatus:
    """One ``DiagnosticStatus`` with its key/values stringified."""
    return DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id,
                            values=[KeyValue(key=str(k), value=_fmt(v)) for k, v in values.items()])


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def array(stamp, statuses) -> DiagnosticArray:
    msg = DiagnosticArray()
    msg.header.stamp = stamp
    msg.status = list(statuses)
    return msg


MIN_SILENCE = 1.0
"""s: the shortest silence reported as one (at rates of 1 Hz and more, one late second is no outage)."""


def silence_limit(tolerance: float) -> float:
    """Seconds without a message after which an input is reported silent (WARN).

    The node's own tolerance for that input (kalman ``sensor_timeout``, tracker ``max_coast``, early
    fusion ``3 max_wait``, the IMU / GNSS gap imu_gps_node expects), never below :data:`MIN_SILENCE`.
    (late_fusion_node's ``stale_after`` is this limit given directly, so it is used as set.)
    """
    return max(MIN_SILENCE, float(tolerance))


def monitor_status(name: str, hardware_id: str, monitor: InputMonitor, now: float,
                   stale_after: float = float("inf"), extra: dict | None = None) -> DiagnosticStatus:
    """Status of one input: STALE before its first message, WARN when silent
    longer than ``stale_after`` s or after drops or skipped messages in the
    last ``monitor.window`` seconds, OK otherwise (the totals stay in the values).
    """
    stale = monitor.staleness(now)
    dropped = sum(monitor.dropped.values())
    recent = monitor.recent_drops.update(now, dropped + monitor.delivery.skipped)
    if not monitor.received:
        level, text = STALE, "no messages received"
    elif stale > stale_after:
        level, text = WARN, f"silent for {stale:.1f} s"
    elif recent:
        level, text = WARN, (f"{recent} dropped or skipped in the last {monitor.window:g} s ({dropped} "
                             f"dropped, {monitor.delivery.skipped} skipped in all)")
    else:
        level, text = OK, "ok"
    values = {"rate_hz": monitor.rate(now), "staleness_s": stale, "received": monitor.received,
              **monitor.delivery.report(), **(extra or {}),
              **{f"dropped.{k}": v for k, v in sorted(monitor.dropped.items())}}
    return status(name, hardware_id, level, text, values)


def input_array(node, input_name: str, hardware_id: str, monitor: InputMonitor, extra: dict):
    """A one-status DiagnosticArray for a node with a single input."""
    now = node.get_clock().now()
    return array(now.to_msg(), [monitor_status(f"{node.get_name()}: {input_name}", hardware_id, monitor,
                                               now.nanoseconds * 1e-9, extra=extra)])


class ThrottledWarnings:
    """A node's warnings, at most one per ``period`` seconds *per key* (an input's name).

    rclpy's ``throttle_duration_sec`` throttles per call site: one defective
    input would then silence the warning of every other input behind the same
    line for the period. Throttling is for the log only (steady time, never
    stamp logic).
    """

    def __init__(self, logger, period: float = 5.0):
        self.logger, self.period = logger, period
        self._last: dict[str, float] = {}

    def warn(self, key: str, text: str) -> None:
        now = time.monotonic()
        if key not in self._last or now - self._last[key] >= self.period:
            self._last[key] = now
            self.logger.warn(f"{key}: {text}")
