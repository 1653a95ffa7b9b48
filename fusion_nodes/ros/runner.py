"""The one ``main`` shared by every node executable."""
from __future__ import annotations

import rclpy
from rclpy.executors import ExternalShutdownException

from .params import InvalidParameters


def run_node(node_class, args=None) -> int:
    """Init rclpy, build ``node_class()``, spin until shutdown.

    Returns 2 (after logging the reasons) when the start-up parameters are
    invalid, else 0.
    """
    rclpy.init(args=args)
    try:
        node = node_class()
    except (InvalidParameters, ValueError) as exc:
        rclpy.logging.get_logger(node_class.__name__).error(f"invalid parameters: {exc}")
        rclpy.try_shutdown()
        return 2
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
