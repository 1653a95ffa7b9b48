# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The package's node executables: one line per node, the one list everything else is derived from.

``setup.py`` makes a console script of each (``fusion_nodes.nodes.entry``),
:mod:`fusion_nodes.tools.offline` instantiates them in process, and
``scripts/register_ament.sh`` links them for ``ros2 run``. Node name = module
name in :mod:`fusion_nodes.nodes` = executable name. This module imports
nothing, so that ``setup.py`` can read it before the package is installed.
"""

NODES = {
    "imu_gps_node": "ImuGpsNode",
    "kalman_fusion_node": "KalmanFusionNode",
    "relay_node": "RelayNode",
    "radar_node": "RadarNode",
    "camera_node": "CameraNode",
    "early_fusion_node": "EarlyFusionNode",
    "late_fusion_node": "LateFusionNode",
    "tracker_node": "TrackerNode",
}
"""Executable / module name -> Node class name."""


def node_type(name: str) -> str:
    """``'module:Class'`` of the node ``name``."""
    return f"fusion_nodes.nodes.{name}:{NODES[name]}"
