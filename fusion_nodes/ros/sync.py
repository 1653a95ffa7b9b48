# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Input synchronisation for the fusion nodes, built on message_filters.

``mf`` is the real ``message_filters`` package where it is importable (every
ROS 2 install) and :mod:`fusion_nodes.ros.msgfilters`, its drop-in, where it
is not (pip only). The nodes build their inputs as ``mf.Subscriber`` ->
validating stage -> synchronizer, so users can plug their own filters into
the chain and this package's synchronizer into theirs.

:class:`PartialApproximateTimeSynchronizer` is the package's policy
(:mod:`fusion_nodes.core.sync`) as a message_filters filter (a
``mf.SimpleFilter``): approximate-time matching with message_filters' rules
plus a wait limit after which a partial set is emitted with ``None`` for the
inputs that have nothing, so fusion goes on when a sensor dies.
:func:`make_synchronizer` chooses between it and
``message_filters.ApproximateTimeSynchronizer`` (the ``sync_backend``
parameter). Both emit the same sets on the same stream when no partial set is
due (``fusion bench`` checks it); the package's policy is the default because
it is the one with the wait limit and it is faster (bench figures in the README).
"""
from __future__ import annotations

from fusion_nodes.core.sync import ApproximatePolicy

from . import msgfilters
from .params import ParamSpec, one_of

try:  # a ROS install provides the reference implementation
    import message_filters as _real
except ImportError:  # pragma: no cover - depends on the environment
    _real = None

mf = _real if _real is not None else msgfilters
BACKEND = "message_filters" if _real is not None else "fusion_nodes.ros.msgfilters"
BACKENDS = ("fusion_nodes", "message_filters")


class PartialApproximateTimeSynchronizer(mf.SimpleFilter):
    """Approximate-time sets within ``slop`` s, and partial sets after ``max_wait`` s.

    A message that has waited ``max_wait`` seconds (on the newest stamp seen)
    is emitted with ``None`` in place of each input that has nothing within
    ``slop`` of it. ``max_wait=None`` gives message_filters'
    ``ApproximateTimeSynchronizer`` exactly.

    Parameters
    ----------
    fs : list of filters
        Inputs (anything with ``registerCallback``).
    queue_size : int
        Messages kept per input.
    slop : float
        Largest stamp spread within one set (s, exclusive).
    max_wait : float or None
        Wait limit (s).
    allow_headerless : bool
        Stamp headerless messages with ``clock`` (default ``ROSClock``).
    """

    def __init__(self, fs, queue_size, slop, max_wait=None, allow_headerless=False, clock=None):
        mf.SimpleFilter.__init__(self)
        self.policy = ApproximatePolicy(len(fs), queue_size, int(round(slop * 1e9)), self._emit,
                                        None if max_wait is None else int(round(max_wait * 1e9)))
        self._impl = msgfilters._Synchronizer(fs, self.policy, allow_headerless, clock)

    def _emit(self, msgs):
        self.signalMessage(*msgs)

    @property
    def rejected_headerless(self) -> int:
        return self._impl.rejected_headerless

    def reset(self) -> None:
        """Forget every queued message (after a clock jump back)."""
        with self._impl.lock:
            self.policy.reset()

    @property
    def partial(self) -> int:
        """Partial sets emitted so far."""
        return self.policy.partial

    @property
    def dropped(self) -> int:
        """Messages pushed out of a full queue before they found a set."""
        return self.policy.dropped


class _RealSynchronizer:
    """``message_filters.ApproximateTimeSynchronizer`` with the counters the nodes report."""

    partial = 0
    dropped = 0
    rejected_headerless = 0

    def __init__(self, fs, queue_size, slop):
        self.sync = mf.ApproximateTimeSynchronizer(fs, queue_size, slop)

    def registerCallback(self, cb, *args):  # noqa: N802
        return self.sync.registerCallback(cb, *args)

    def reset(self) -> None:
        """Forget every queued message (message_filters keeps one ``stamp -> msg`` dict per input)."""
        with self.sync.lock:
            for q in self.sync.queues:
                q.clear()


def make_synchronizer(backend: str, fs, queue_size: int, slop: float, max_wait: float, clock=None):
    """The synchronizer a node's ``sync_backend`` parameter names.

    ``fusion_nodes``: :class:`PartialApproximateTimeSynchronizer` with the wait
    limit. ``message_filters``: message_filters' own
    ``ApproximateTimeSynchronizer`` (the real one where installed, else the
    drop-in); it has no wait limit, so a dead input stops the output.
    """
    if backend == "message_filters":
        return _RealSynchronizer(fs, queue_size, slop)
    if backend != "fusion_nodes":
        raise ValueError(f"sync_backend {backend!r} is not one of {list(BACKENDS)}")
    return PartialApproximateTimeSynchronizer(fs, queue_size, slop, max_wait, clock=clock)


def sync_counts(sync) -> dict:
    """The synchronizer's counters for /diagnostics: partial sets emitted, messages
    pushed out of a full queue before they found a set (``queue_overflow``),
    headerless messages rejected.
    """
    return {"synchronizer_partial": sync.partial, "synchronizer_queue_overflow": sync.dropped,
            "synchronizer_headerless": sync.rejected_headerless}


def sync_specs() -> list[ParamSpec]:
    """The synchronizer parameters every multi-input node declares."""
    return [
        ParamSpec("sync_backend", "fusion_nodes", "Synchronizer: fusion_nodes (approximate time with the "
                  "max_wait limit) or message_filters (message_filters.ApproximateTimeSynchronizer, no "
                  "wait limit: a dead input stops the output).", check=one_of(*BACKENDS), read_only=True),
        ParamSpec("slop", 0.04, "Synchronizer: largest stamp spread (s) within one set.", 0.0, 10.0,
                  read_only=True),
        ParamSpec("max_wait", 0.3, "Synchronizer: a message that waited this long (s) is fused with the "
                  "inputs present (fusion_nodes backend).", 0.0, 60.0, read_only=True),
        ParamSpec("queue_size", 10, "Synchronizer queue per input.", 1, 1000, read_only=True),
    ]
