"""Start late_fusion_node from a parameters file.

    ros2 launch fusion_nodes late_fusion.launch.py \
        params_file:=/path/to/late_fusion.yaml use_sim_time:=true

The default file (config/late_fusion.yaml) fuses the class scores of
radar_node and camera_node; bring those up with perception.launch.py, or use
fusion.launch.py for the whole graph. Rule, weights, priors and quorum can be
changed while it runs, e.g. ``ros2 param set /late_fusion_node weights "[0.7, 0.3]"``.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("fusion_nodes"), "config", "late_fusion.yaml"]),
            description="ROS 2 parameters YAML with a late_fusion_node section"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="Use /clock (bag replay) instead of the system clock"),
        Node(package="fusion_nodes", executable="late_fusion_node", name="late_fusion_node", output="screen",
             parameters=[LaunchConfiguration("params_file"),
                         {"use_sim_time": LaunchConfiguration("use_sim_time")}]),
    ])
