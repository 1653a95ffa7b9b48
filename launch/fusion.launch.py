# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The whole fusion graph from one parameters file.

    ros2 launch fusion_nodes fusion.launch.py \
        params_file:=/path/to/fusion.yaml use_sim_time:=true

Input nodes (imu_gps_node, camera_node, radar_node), Kalman fusion of the
robot's own state in both REP-105 frames (kalman_fusion_node: map frame with
GPS -> odometry/filtered, map -> odom; odom_fusion_node, its odom-frame
instance: wheel + IMU -> odometry/local, odom -> base_link, also the radar's
ego motion and the tracker's ego pose), early fusion (early_fusion_node, synchronizing camera,
radar and IMU features), late fusion (late_fusion_node) and object tracking
(tracker_node, in the odom frame). The default file,
config/fusion.yaml, is the hybrid configuration: early-fusion decisions
averaged with the camera's and the radar's own. Common arguments (namespace,
log_level, remappings): :mod:`fusion_nodes.ros.launching`.
"""
from launch import LaunchDescription

from fusion_nodes.ros.launching import arguments, nodes

NODES = ("imu_gps_node", "kalman_fusion_node", "odom_fusion_node", "camera_node", "radar_node",
         "early_fusion_node", "late_fusion_node", "tracker_node")


def generate_launch_description():
    return LaunchDescription([
        *arguments("fusion.yaml", "ROS 2 parameters YAML with a section per node"),
        *nodes([(name, None) for name in NODES]),
    ])
