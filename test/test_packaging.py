# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Packaging facts a ROS user relies on: entry points, package.xml, launch files."""
import configparser
from pathlib import Path
import xml.etree.ElementTree as ET

from conftest import REPO


def test_console_scripts_install_to_lib_for_ros2_run():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    assert cfg["install"]["install_scripts"] == "$base/lib/fusion_nodes"
    # which scripts: test_the_node_registry_is_the_one_list_of_executables; where ros2 run finds them:
    import os
    prefixes = [Path(p) for p in os.environ["AMENT_PREFIX_PATH"].split(os.pathsep) if p]
    for exe in ("kalman_fusion_node", "tracker_node", "fusion"):
        assert any((p / "lib" / "fusion_nodes" / exe).exists() for p in prefixes), (exe, prefixes)


def test_package_xml_declares_runtime_dependencies():
    root = ET.parse(REPO / "package.xml").getroot()
    assert root.get("format") == "3"
    deps = {e.text for e in root.iter("exec_depend")}
    for dep in ("rclpy", "sensor_msgs", "nav_msgs", "geometry_msgs", "diagnostic_msgs", "launch_ros"):
        assert dep in deps
    assert root.find("export/build_type").text == "ament_python"


def test_readme_documents_every_parameter():
    from fusion_nodes.ros import camera_params, early_fusion_params, late_fusion_params, radar_params, tracker_params
    from fusion_nodes.ros.imu_gps_params import specs
    from fusion_nodes.ros.kalman_params import global_specs, sensor_specs
    readme = (REPO / "README.md").read_text()
    names = [s.name for s in global_specs() + specs()]
    for module in (camera_params, radar_params, early_fusion_params, late_fusion_params):
        names += [s.name for s in module.specs()]
    names += [s.name for s in tracker_params.specs()]
    names += [s.name.replace("imu0", "<sensor>").replace("odom0", "<sensor>")
              for s in sensor_specs("imu0") + sensor_specs("odom0")]
    missing = sorted({n for n in names if f"`{n}`" not in readme})
    assert not missing, f"README lacks {missing}"


def test_every_config_file_names_only_known_nodes_and_loads():
    import yaml

    from fusion_nodes.tools.offline import NODE_TYPES
    for path in sorted((REPO / "config").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if "ros__parameters" not in str(data):
            continue        # a scenario file, not ROS parameters
        for name, section in data.items():
            assert name in NODE_TYPES or name == "ekf_filter_node", (path.name, name)
            assert "ros__parameters" in section, (path.name, name)


def test_the_node_registry_is_the_one_list_of_executables():
    """setup.py's console scripts, the in-process node types and `fusion params` all follow the registry."""
    import importlib
    from importlib.metadata import entry_points

    from fusion_nodes.nodes import entry
    from fusion_nodes.nodes.registry import NODES, node_type
    from fusion_nodes.tools.offline import NODE_TYPES
    from fusion_nodes.tools.param_docs import tables
    scripts = {e.name: e.value for e in entry_points(group="console_scripts") if e.value.startswith("fusion_nodes.")}
    assert scripts == {**{n: f"fusion_nodes.nodes.entry:{n}" for n in NODES}, "fusion": "fusion_nodes.tools.cli:main"}
    for name in NODES:
        assert callable(getattr(entry, name)) and NODE_TYPES[name] == node_type(name)
        module, cls = node_type(name).split(":")
        assert hasattr(importlib.import_module(module), cls)
    # every node with parameters has its table (relay_node takes its topics only)
    assert set(NODES) - {"relay_node"} <= set(tables())
