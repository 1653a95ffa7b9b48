# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""fusion_nodes: multi-sensor fusion for ROS 2 (camera, radar, IMU, GPS).

Sub-packages
------------
core
    Pure numpy/scipy/filterpy algorithms: no ROS imports.
ros
    Message conversion, parameters, QoS and diagnostics helpers for the nodes.
nodes
    One rclpy node per module; each is a console script.
tools
    The ``fusion`` command line: play, offline, sim, eval, demo, bench.
"""

__version__ = "0.1.0"
