"""The one ``main`` shared by every node executable."""
from __future__ import annotations

import signal
import threading

import rclpy
from rclpy.exceptions import NameValidationException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from .params import InvalidParameters

# Longest wait in the executor before a stop request is seen (s).
_POLL = 0.1


def run_node(node_class, args=None) -> int:
    """Init rclpy, build ``node_class()``, spin until SIGINT / SIGTERM / shutdown.

    The first SIGINT or SIGTERM asks the spin loop to stop; it ends within
    ``_POLL`` s, the node is destroyed and the process exits 0. Further
    signals while stopping are ignored: a terminal's Ctrl-C reaches every
    process of the group, and ``ros2 launch`` sends its own SIGINT as well,
    so a node often gets two (``KeyboardInterrupt`` in the middle of
    ``destroy_node`` would end it with -2 and make launch escalate).

    Returns 2 (after logging the reasons) when the start-up parameters are
    invalid, else 0.
    """
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    try:
        try:
            node = node_class()
        except (InvalidParameters, ValueError, NameValidationException) as exc:
            # One line with the reason (an invalid topic name included), no traceback; exit 2.
            reason = " ".join(line.strip() for line in str(exc).splitlines()) or type(exc).__name__
            rclpy.logging.get_logger(node_class.__name__).error(f"invalid parameters: {reason}")
            return 2
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        try:
            while rclpy.ok() and not stop.is_set():
                executor.spin_once(timeout_sec=_POLL)
        except ExternalShutdownException:
            pass
        finally:
            executor.shutdown(timeout_sec=1.0)
            node.destroy_node()
        return 0
    finally:
        rclpy.try_shutdown()
        for s, handler in previous.items():
            signal.signal(s, handler)
