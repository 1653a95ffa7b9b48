# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Packaging facts a ROS user relies on: entry points, package.xml, launch files."""
import configparser
import xml.etree.ElementTree as ET

from conftest import REPO


def test_console_scripts_install_to_lib_for_ros2_run():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    assert cfg["install"]["install_scripts"] == "$base/lib/fusion_nodes"
    setup = (REPO / "setup.py").read_text()
    for exe in ("imu_gps_node", "kalman_fusion_node", "relay_node", "camera_node", "radar_node",
                "early_fusion_node", "late_fusion_node", "tracker_node", "fusion"):
        assert f'"{exe} = ' in setup


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
