# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Stop requests of a node process: SIGINT / SIGTERM set an event, a deadline bounds the exit.

Light on purpose (no rclpy): the node executables install it before their
heavy imports (rclpy, numpy, scipy, OpenCV take seconds on a loaded
machine), so a Ctrl-C during start-up ends the process cleanly instead of
with a ``KeyboardInterrupt`` traceback and exit -2.

Every later signal is absorbed: a terminal's Ctrl-C reaches every process of
the group and ``ros2 launch`` sends its own SIGINT too, so a node often gets
two, and the default handler restored too early kills it with -2 while it is
still cleaning up (or, in Python's finalisation, after the handlers are
reset: :func:`finish`). Instead the first request arms ``faulthandler``'s watchdog
(a C thread that needs no GIL, so it fires even when the main thread is
stuck in a C call, until faulthandler itself is finalised): if the process has
not exited ``EXIT_DEADLINE`` s later, it prints every thread's stack to
stderr and exits 1 — a clear trace of what hung, well before ``ros2
launch`` escalates to SIGTERM (5 s) and SIGKILL. A request that comes while
the start-up imports still run (before :func:`entering_ros`) exits 0 at once:
there is nothing to clean up yet, and imports can outlast the deadline.
"""
from __future__ import annotations

import faulthandler
import os
import signal
import threading

# Seconds from the first stop request to a forced exit (ros2 launch escalates after 5 s).
EXIT_DEADLINE = 4.0

_stop = threading.Event()
_installed = False
_in_ros = False       # True once rclpy is initialised: from then on a stop has things to clean up


def _request(*_) -> None:
    if not _in_ros:
        # Still in the start-up imports: no participant, no file, nothing to clean up. Exiting now
        # is the clean stop; waiting for imports that take seconds on a loaded machine would run
        # into the deadline below and end with exit 1.
        os._exit(0)
    if not _stop.is_set():
        _stop.set()
        faulthandler.dump_traceback_later(EXIT_DEADLINE, exit=True)


def install() -> threading.Event:
    """Catch SIGINT and SIGTERM from now on (main thread only); return the stop event."""
    global _installed
    if not _installed:
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, _request)
        _installed = True
    return _stop


def entering_ros() -> None:
    """Mark the end of the start-up imports: later stop requests go through the event and the deadline."""
    global _in_ros
    _in_ros = True


def finish() -> None:
    """Ignore SIGINT / SIGTERM from here to the end of the process.

    Python's finalisation puts back the default handler of every signal it
    handles (but leaves ignored ones alone), so a late second SIGINT during
    the last C++ teardown (the DDS participant) would kill the process with
    -2 after a clean stop. Called once the node is destroyed.
    """
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)


def requested() -> bool:
    """True once SIGINT or SIGTERM has arrived."""
    return _stop.is_set()
