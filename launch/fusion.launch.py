"""The whole fusion graph from one parameters file.

    ros2 launch fusion_nodes fusion.launch.py \
        params_file:=/path/to/fusion.yaml use_sim_time:=true

Input nodes (imu_gps_node, camera_node, radar_node), Kalman fusion of the
robot's own state (kalman_fusion_node -> odometry/filtered, also the radar's
ego motion), early fusion (early_fusion_node, synchronizing camera, radar and
IMU features) and late fusion (late_fusion_node). The default file,
config/fusion.yaml, is the hybrid configuration: early-fusion decisions
averaged with the camera's and the radar's own.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

NODES = ("imu_gps_node", "kalman_fusion_node", "camera_node", "radar_node", "early_fusion_node",
         "late_fusion_node")


def generate_launch_description():
    common = [LaunchConfiguration("params_file"), {"use_sim_time": LaunchConfiguration("use_sim_time")}]
    return LaunchDescription([
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("fusion_nodes"), "config", "fusion.yaml"]),
            description="ROS 2 parameters YAML with a section per node"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="Use /clock (bag replay) instead of the system clock"),
        *[Node(package="fusion_nodes", executable=name, name=name, output="screen", parameters=common)
          for name in NODES],
    ])
