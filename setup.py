# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""ament_python package setup: console scripts land in lib/fusion_nodes for ros2 run."""
import runpy
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "fusion_nodes"
# the node executables: fusion_nodes/nodes/registry.py is their one list
NODES = runpy.run_path(str(Path(__file__).parent / PACKAGE / "nodes" / "registry.py"))["NODES"]

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
            *(f"{name} = fusion_nodes.nodes.entry:{name}" for name in NODES),
            "fusion = fusion_nodes.tools.cli:main",
        ],
    },
)
