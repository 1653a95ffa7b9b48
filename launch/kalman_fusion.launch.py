# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Bring up imu_gps_node and kalman_fusion_node from one parameters file.

    ros2 launch fusion_nodes kalman_fusion.launch.py \
        params_file:=/path/to/params.yaml use_sim_time:=true

Nodes whose name is not a key of the parameters file still start, with
their defaults; set ``with_imu_gps:=false`` to run the filter alone (for a
robot_localization-style file that only configures the filter). Common
arguments (namespace, log_level, remappings): :mod:`fusion_nodes.ros.launching`.
"""
from launch import LaunchDescription

from fusion_nodes.ros.launching import arguments, flag, nodes


def generate_launch_description():
    with_imu_gps, imu_gps = flag("with_imu_gps", "Also start imu_gps_node")
    return LaunchDescription([
        *arguments("demo_sim.yaml", "ROS 2 parameters YAML with imu_gps_node and kalman_fusion_node sections"),
        with_imu_gps,
        *nodes([("imu_gps_node", imu_gps), ("kalman_fusion_node", None)]),
    ])
