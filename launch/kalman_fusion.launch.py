"""Bring up imu_gps_node and kalman_fusion_node from one parameters file.

    ros2 launch fusion_nodes kalman_fusion.launch.py \
        params_file:=/path/to/params.yaml use_sim_time:=true

Nodes whose name is not a key of the parameters file still start, with
their defaults; set ``with_imu_gps:=false`` to run the filter alone (for a
robot_localization-style file that only configures the filter).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    params_file = LaunchConfiguration("params_file")
    use_sim_time = LaunchConfiguration("use_sim_time")
    common = [params_file, {"use_sim_time": use_sim_time}]
    return LaunchDescription([
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("fusion_nodes"), "config", "demo_sim.yaml"]),
            description="ROS 2 parameters YAML with imu_gps_node and kalman_fusion_node sections"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="Use /clock (bag replay) instead of the system clock"),
        DeclareLaunchArgument("with_imu_gps", default_value="true",
                              description="Also start imu_gps_node"),
        Node(package="fusion_nodes", executable="imu_gps_node", name="imu_gps_node", output="screen",
             parameters=common, condition=IfCondition(LaunchConfiguration("with_imu_gps"))),
        Node(package="fusion_nodes", executable="kalman_fusion_node", name="kalman_fusion_node",
             output="screen", parameters=common),
    ])
