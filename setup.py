# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""ament_python package setup: console scripts land in lib/fusion_nodes for ros2 run."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "fusion_nodes"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
        ("share/" + PACKAGE + "/launch", glob("launch/*.launch.py")),
        ("share/" + PACKAGE + "/config", glob("config/*.yaml") + glob("config/*.json")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="fusion_nodes maintainers",
    maintainer_email="fusion-nodes@users.noreply.github.com",
    description="Multi-sensor fusion nodes for ROS 2: Kalman, early and late fusion.",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "imu_gps_node = fusion_nodes.nodes.entry:imu_gps_node",
            "kalman_fusion_node = fusion_nodes.nodes.entry:kalman_fusion_node",
            "relay_node = fusion_nodes.nodes.entry:relay_node",
            "radar_node = fusion_nodes.nodes.entry:radar_node",
            "camera_node = fusion_nodes.nodes.entry:camera_node",
            "early_fusion_node = fusion_nodes.nodes.entry:early_fusion_node",
            "late_fusion_node = fusion_nodes.nodes.entry:late_fusion_node",
            "tracker_node = fusion_nodes.nodes.entry:tracker_node",
            "fusion = fusion_nodes.tools.cli:main",
        ],
    },
)
