# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Start late_fusion_node from a parameters file.

    ros2 launch fusion_nodes late_fusion.launch.py \
        params_file:=/path/to/late_fusion.yaml use_sim_time:=true

The default file (config/late_fusion.yaml) fuses the class scores of
radar_node and camera_node; bring those up with perception.launch.py, or use
fusion.launch.py for the whole graph. Rule, weights, priors and quorum can be
changed while it runs, e.g. ``ros2 param set /late_fusion_node weights "[0.7, 0.3]"``.
Common arguments (namespace, log_level, remappings): :mod:`fusion_nodes.ros.launching`.
"""
from launch import LaunchDescription

from fusion_nodes.ros.launching import arguments, nodes


def generate_launch_description():
    return LaunchDescription([
        *arguments("late_fusion.yaml", "ROS 2 parameters YAML with a late_fusion_node section"),
        *nodes([("late_fusion_node", None)]),
    ])
