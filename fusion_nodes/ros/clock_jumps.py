# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Reset a node's state when its clock jumps back (a bag loop) or changes source.

A replayed bag that loops (``ros2 bag play --loop``), a simulator restart or
``use_sim_time`` switching on puts the node clock back in time. Everything a
node keeps from before (filter state, synchronizer queues, stamp order,
feature windows, ego motion, health windows) then refers to a future that
will not come: the next valid messages look old and are dropped, or are
fused with stale partners. tf2's buffer clears itself on the same event; the
nodes do the same through the clock's jump callback, which rcl fires from
``set_ros_time_override`` (every ``/clock`` message and the offline runner).
"""
from __future__ import annotations

from typing import Callable

from rclpy.clock import ClockChange, JumpThreshold, TimeJump
from rclpy.duration import Duration

# Any step back counts: a bag loop is seconds to hours, /clock is monotonic otherwise.
_THRESHOLD = JumpThreshold(min_forward=None, min_backward=Duration(nanoseconds=-1), on_clock_change=True)


class ClockJumps:
    """Calls ``reset(why)`` after each backward jump or change of the node clock.

    Parameters
    ----------
    node : rclpy.node.Node
        Whose clock is watched.
    reset : callable
        ``reset(why: str)``: forget every piece of time-dependent state.
    enabled : bool
        False watches nothing (``reset_on_time_jump: false``).

    Attributes
    ----------
    jumps_back : int
        Backward jumps seen (each one reset the node); reported in /diagnostics.
    """

    def __init__(self, node, reset: Callable[[str], None], enabled: bool = True):
        self.node, self._reset, self.jumps_back = node, reset, 0
        self._handle = node.get_clock().create_jump_callback(_THRESHOLD, post_callback=self._on_jump) \
            if enabled else None

    def _on_jump(self, jump: TimeJump) -> None:
        if jump.clock_change == ClockChange.ROS_TIME_NO_CHANGE:
            if jump.delta.nanoseconds >= 0:
                return
            self.jumps_back += 1
            why = f"clock jumped back {-jump.delta.nanoseconds * 1e-9:.3f} s"
            self.node.get_logger().warn(f"{why}: state reset")
        else:       # use_sim_time switched: the time base itself changed (once at a replay's start)
            why = f"clock source changed ({jump.clock_change.name})"
            self.node.get_logger().info(f"{why}: state reset")
        try:
            self._reset(why)
        except Exception as exc:  # noqa: BLE001 - raising here would skip rcl's later jump callbacks
            self.node.get_logger().error(f"state reset after a clock jump failed: {exc!r}")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.unregister()
            self._handle = None
