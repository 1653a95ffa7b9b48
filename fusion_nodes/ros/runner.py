# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The one ``main`` shared by every node executable."""
from __future__ import annotations

import rclpy
from rclpy._rclpy_pybind11 import RCLError
from rclpy.exceptions import NameValidationException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from . import stopping
from .params import InvalidParameters, params_file_error

# Longest wait in the executor before a stop request is seen (s).
_POLL = 0.1


def run_node(node_class, args=None) -> int:
    """Init rclpy, build ``node_class()``, spin until SIGINT / SIGTERM / shutdown.

    The first SIGINT or SIGTERM (:mod:`fusion_nodes.ros.stopping`) asks the
    spin loop to stop; it ends within ``_POLL`` s, the node is destroyed and
    the process exits 0. A request during the start-up imports exits 0 at once
    (nothing to clean up yet); one while rclpy starts and the node is built is
    honoured as soon as the node is built. Later signals are absorbed; the stopping deadline bounds
    the exit.

    Returns 2 (after logging the reasons) when the start-up parameters are
    invalid, else 0.
    """
    stop = stopping.install()
    if stop.is_set():
        return 0
    stopping.entering_ros()
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except RCLError as exc:                    # rcl could not read --params-file / --ros-args
        return _bad_arguments(node_class, exc)
    try:
        try:
            node = node_class()
        except RCLError as exc:      # the same, for the node-level arguments
            return _bad_arguments(node_class, exc)
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
        stopping.finish()


def _bad_arguments(node_class, exc) -> int:
    """One error line for arguments rcl refused (a params file it cannot read), exit code 2."""
    rclpy.logging.get_logger(node_class.__name__).error(f"cannot read the arguments: {params_file_error(exc)}")
    return 2
