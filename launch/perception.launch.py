# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Bring up the perception graph from one parameters file: input nodes, early fusion, object tracking.

    ros2 launch fusion_nodes perception.launch.py \
        params_file:=/path/to/perception.yaml use_sim_time:=true

Starts imu_gps_node, kalman_fusion_node (ego motion for the radar's Doppler
compensation), camera_node, radar_node, early_fusion_node and tracker_node, each reading
its section of ``params_file`` (default: the package's
config/perception.yaml, written for ``fusion sim --perception``). Set
``with_kalman:=false`` when odometry/filtered comes from elsewhere,
``with_tracker:=false`` to leave object tracking out. Common
arguments (namespace, log_level, remappings): :mod:`fusion_nodes.ros.launching`.
"""
from launch import LaunchDescription

from fusion_nodes.ros.launching import arguments, flag, nodes


def generate_launch_description():
    with_kalman, kalman = flag("with_kalman", "Also start kalman_fusion_node for odometry/filtered")
    with_tracker, tracker = flag("with_tracker", "Also start tracker_node (radar + camera object tracks)")
    return LaunchDescription([
        *arguments("perception.yaml", "ROS 2 parameters YAML with a section per node"),
        with_kalman,
        with_tracker,
        *nodes([("imu_gps_node", None), ("kalman_fusion_node", kalman), ("camera_node", None),
                ("radar_node", None), ("early_fusion_node", None), ("tracker_node", tracker)]),
    ])
