# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Named extra instances of a node executable: one home for the launch files and the offline runner.

``odom_fusion_node`` is kalman_fusion_node run a second time in the odom frame
(wheel odometry + IMU, no GPS), as robot_localization's local instance next to
its global one (REP-105): it publishes ``odometry/local`` and odom -> base_link,
the map-frame instance then publishes map -> odom. Object tracking takes its
ego pose from ``odometry/local``, which never jumps with a GPS correction.
"""
from __future__ import annotations

# instance name -> (executable, {topic: remapped topic})
INSTANCES = {
    "odom_fusion_node": ("kalman_fusion_node", {"odometry/filtered": "odometry/local"}),
}


def executable(name: str) -> str:
    """The executable a node name runs: its own name unless it is a named instance."""
    return INSTANCES.get(name, (name, {}))[0]


def remaps(name: str) -> dict:
    """The instance's own topic remappings (none for a plain node)."""
    return dict(INSTANCES.get(name, (name, {}))[1])
