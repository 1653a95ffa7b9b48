# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Console-script entry points of the node executables.

Each one installs the stop handlers (:mod:`fusion_nodes.ros.stopping`) before
importing its node module, so a stop request during the seconds of start-up
imports is honoured cleanly.
"""
from __future__ import annotations

import importlib

from fusion_nodes.ros import stopping


def _run(module: str, cls: str) -> int:
    stopping.install()
    node_class = getattr(importlib.import_module(f"fusion_nodes.nodes.{module}"), cls)
    from fusion_nodes.ros.runner import run_node
    return run_node(node_class)


def imu_gps_node() -> int:
    return _run("imu_gps_node", "ImuGpsNode")


def kalman_fusion_node() -> int:
    return _run("kalman_fusion_node", "KalmanFusionNode")


def relay_node() -> int:
    return _run("relay_node", "RelayNode")


def radar_node() -> int:
    return _run("radar_node", "RadarNode")


def camera_node() -> int:
    return _run("camera_node", "CameraNode")


def early_fusion_node() -> int:
    return _run("early_fusion_node", "EarlyFusionNode")


def late_fusion_node() -> int:
    return _run("late_fusion_node", "LateFusionNode")


def tracker_node() -> int:
    return _run("tracker_node", "TrackerNode")
