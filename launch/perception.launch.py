"""Bring up the perception graph from one parameters file: input nodes and early fusion.

    ros2 launch fusion_nodes perception.launch.py \
        params_file:=/path/to/perception.yaml use_sim_time:=true

Starts imu_gps_node, kalman_fusion_node (ego motion for the radar's Doppler
compensation), camera_node, radar_node and early_fusion_node, each reading
its section of ``params_file`` (default: the package's
config/perception.yaml, written for ``fusion sim --perception``). Set
``with_kalman:=false`` when odometry/filtered comes from elsewhere.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    params_file = LaunchConfiguration("params_file")
    common = [params_file, {"use_sim_time": LaunchConfiguration("use_sim_time")}]

    def node(executable, condition=None):
        return Node(package="fusion_nodes", executable=executable, name=executable, output="screen",
                    parameters=common, condition=condition)
    return LaunchDescription([
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("fusion_nodes"), "config", "perception.yaml"]),
            description="ROS 2 parameters YAML with a section per node"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="Use /clock (bag replay) instead of the system clock"),
        DeclareLaunchArgument("with_kalman", default_value="true",
                              description="Also start kalman_fusion_node for odometry/filtered"),
        node("imu_gps_node"),
        node("kalman_fusion_node", IfCondition(LaunchConfiguration("with_kalman"))),
        node("camera_node"),
        node("radar_node"),
        node("early_fusion_node"),
    ])
