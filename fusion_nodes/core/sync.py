# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Time-synchronisation policies for several input streams (no ROS types).

Stamps are integer nanoseconds. Both policies keep at most ``queue_size``
messages per input (the oldest is dropped first), so memory is bounded.

* :class:`ExactPolicy` — emits a set when every input has a message with the
  very same stamp (message_filters' ``TimeSynchronizer``); older incomplete
  sets stay queued (a late message can still complete them).
* :class:`ApproximatePolicy` — when a message arrives, looks in every other
  input for messages within ``slop`` of it, tries combinations from the
  closest stamps outwards and emits the first whose stamps all lie within
  ``slop`` of each other; the emitted messages leave their queues
  (message_filters' Python ``ApproximateTimeSynchronizer``). With
  ``max_wait`` set, a message that has waited longer than that (measured on
  the newest stamp seen) is emitted with whatever matches it within ``slop``
  and ``None`` for the inputs that have nothing, so a dead sensor does not
  stop the output.
"""
from __future__ import annotations

import itertools
from typing import Callable, Optional

Emit = Callable[[list], None]


class _Queues:
    """One bounded ``stamp -> message`` queue per input (oldest dropped first)."""

    def __init__(self, n_inputs: int, queue_size: int, emit: Emit):
        if n_inputs < 1 or queue_size < 1:
            raise ValueError("need at least one input and a queue of at least one message")
        self.queues: list[dict[int, object]] = [{} for _ in range(n_inputs)]
        self.queue_size, self.emit = queue_size, emit
        self.dropped = 0

    def _push(self, index: int, stamp_ns: int, msg) -> bool:
        """Queue ``msg``; False if it was itself the oldest and got dropped."""
        q = self.queues[index]
        q[stamp_ns] = msg
        while len(q) > self.queue_size:
            del q[min(q)]
            self.dropped += 1
        return stamp_ns in q

    def reset(self) -> None:
        """Empty every queue (the clock jumped back: what is queued belongs to another time)."""
        for q in self.queues:
            q.clear()


class ExactPolicy(_Queues):
    """Sets of messages with identical stamps.

    Parameters
    ----------
    n_inputs : int
    queue_size : int
        Messages kept per input.
    emit : callable
        Called with a list of ``n_inputs`` messages.
    """

    def add(self, index: int, stamp_ns: int, msg) -> None:
        if self._push(index, stamp_ns, msg) and all(stamp_ns in other for other in self.queues):
            self.emit([other.pop(stamp_ns) for other in self.queues])


class ApproximatePolicy(_Queues):
    """Approximate matching within ``slop`` nanoseconds (see module docstring).

    Parameters
    ----------
    n_inputs, queue_size, emit
        As for :class:`ExactPolicy`.
    slop_ns : int
        Largest spread of stamps within one set (exclusive, as message_filters).
    max_wait_ns : int, optional
        Emit partial sets for messages older than this relative to the newest
        stamp seen; ``None`` waits for complete sets only.
    """

    def __init__(self, n_inputs: int, queue_size: int, slop_ns: int, emit: Emit,
                 max_wait_ns: Optional[int] = None):
        if slop_ns < 0:
            raise ValueError("the slop must be non-negative")
        super().__init__(n_inputs, queue_size, emit)
        self.slop, self.max_wait = slop_ns, max_wait_ns
        self.newest = None
        self.partial = 0

    def reset(self) -> None:
        super().reset()
        self.newest = None

    def add(self, index: int, stamp_ns: int, msg) -> None:
        self.newest = stamp_ns if self.newest is None else max(self.newest, stamp_ns)
        if self._push(index, stamp_ns, msg):  # not dropped straight away by a full queue
            self._match(index, stamp_ns)
        if self.max_wait is not None:
            self._expire()

    def _candidates(self, index: int, stamp_ns: int):
        """Per other input, stamps within slop of ``stamp_ns``, closest first."""
        out = []
        for i, q in enumerate(self.queues):
            if i == index:
                out.append([stamp_ns])
                continue
            near = sorted((s for s in q if abs(s - stamp_ns) <= self.slop), key=lambda s: abs(s - stamp_ns))
            out.append(near)
        return out

    def _match(self, index: int, stamp_ns: int) -> bool:
        cands = self._candidates(index, stamp_ns)
        if any(not c for c in cands):
            return False
        for combo in itertools.product(*cands):
            if _within(combo, self.slop):
                self.emit([q.pop(s) for q, s in zip(self.queues, combo)])
                return True
        return False

    def _expire(self) -> None:
        """Emit partial sets for messages that waited longer than ``max_wait``."""
        while True:
            oldest = min(((s, i) for i, q in enumerate(self.queues) for s in q), default=None)
            if oldest is None or self.newest - oldest[0] <= self.max_wait:
                return
            stamp, index = oldest
            msgs = []
            for i, (q, c) in enumerate(zip(self.queues, self._candidates(index, stamp))):
                if i == index:
                    msgs.append(q.pop(stamp))
                else:
                    pick = next((s for s in c if _within((s, stamp), self.slop)), None)
                    msgs.append(q.pop(pick) if pick is not None else None)
            self.partial += 1
            self.emit(msgs)


def _within(stamps, slop: int) -> bool:
    """All stamps closer than ``slop`` to each other (strictly, as message_filters:
    a slop of 0 matches nothing).
    """
    return max(stamps) - min(stamps) < slop
