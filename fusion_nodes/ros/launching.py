# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""What every launch file of the package declares and how it starts a node.

Arguments (``ros2 launch fusion_nodes <file> --show-args`` lists them):
``params_file``, ``use_sim_time``, ``namespace`` (pushed onto every node and
its relative topics), ``log_level`` (debug, info, warn, error, fatal) and
``remappings`` (``from:=to`` pairs separated by ``;``, applied to every
node, e.g. ``remappings:="imu/data:=/imu/raw;gps/fix:=/fix"``).
"""
from __future__ import annotations

from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.substitutions import FindPackageShare

from fusion_nodes.ros import instances


def arguments(default_params: str, params_help: str) -> list:
    """The common launch arguments; ``default_params`` is a file in the package's config/."""
    return [
        DeclareLaunchArgument(
            "params_file", default_value=PathJoinSubstitution([FindPackageShare("fusion_nodes"), "config",
                                                               default_params]),
            description=params_help),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="Use /clock (bag replay) instead of the system clock"),
        DeclareLaunchArgument("namespace", default_value="", description="Namespace of every node"),
        DeclareLaunchArgument("log_level", default_value="info",
                              description="Logging level of every node (debug, info, warn, error, fatal)"),
        DeclareLaunchArgument("remappings", default_value="",
                              description="Topic remappings for every node: 'from:=to;from2:=to2'"),
    ]


def _remappings(text: str) -> list[tuple[str, str]]:
    pairs = [p.strip() for p in text.split(";") if p.strip()]
    bad = [p for p in pairs if ":=" not in p]
    if bad:
        raise ValueError(f"remappings: {bad} are not 'from:=to' pairs")
    return [tuple(p.split(":=", 1)) for p in pairs]


def nodes(executables) -> list:
    """One ``Node`` per ``(name, condition or None)``, inside the namespace, with the common arguments; a
    named instance (:mod:`fusion_nodes.ros.instances`, e.g. odom_fusion_node) runs its executable with its
    own remappings.
    """
    def build(context):
        remaps = _remappings(LaunchConfiguration("remappings").perform(context))
        common = [LaunchConfiguration("params_file"), {"use_sim_time": LaunchConfiguration("use_sim_time")}]
        started = [Node(package="fusion_nodes", executable=instances.executable(name), name=name, output="screen",
                        parameters=common, remappings=list(instances.remaps(name).items()) + remaps, condition=cond,
                        ros_arguments=["--log-level", LaunchConfiguration("log_level")])
                   for name, cond in executables]
        return [GroupAction([PushRosNamespace(LaunchConfiguration("namespace")), *started])]
    return [OpaqueFunction(function=build)]


def flag(name: str, description: str, default: str = "true") -> tuple:
    """A boolean launch argument and the condition that reads it."""
    return DeclareLaunchArgument(name, default_value=default, description=description), \
        IfCondition(LaunchConfiguration(name))
