# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""IMU mounting has one owner: imu_gps_node rotates into base_link; kalman_fusion_node warns if it would again."""
import yaml

from conftest import REPO
from fusion_nodes.tools import sim
from fusion_nodes.tools.offline import run_offline

TURNED = [0.0, 0.0, 0.0, 0.0, 0.0, 0.3]


def _run(tmp_path, bag, kalman_mount):
    params = yaml.safe_load((REPO / "config" / "demo_sim.yaml").read_text())
    params["imu_gps_node"]["ros__parameters"]["imu_mount"] = list(TURNED)   # copies: YAML aliases are refused
    params["kalman_fusion_node"]["ros__parameters"]["imu0_mount"] = list(kalman_mount)
    path = tmp_path / f"p{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump(params))
    run_offline(bag, path, tmp_path / f"{path.stem}.mcap")


def test_an_imu_rotated_by_both_nodes_is_warned_once(tmp_path, capfd):
    bag = tmp_path / "sim.mcap"
    sim.write(sim.SimConfig(seed=2, duration=8.0), bag)
    _run(tmp_path, bag, [0.0] * 6)
    assert "rotates it again" not in capfd.readouterr().err
    _run(tmp_path, bag, TURNED)
    err = capfd.readouterr().err
    assert err.count("imu0: the IMU is already in base_link") == 1, err
    assert "set imu0_mount to zeros" in err
