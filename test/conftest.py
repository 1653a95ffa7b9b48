# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Test session setup: keep DDS on this machine, one ROS domain per session."""
import os
import sys
from pathlib import Path

# Discovery must not leave the machine; each pytest session gets its own
# domain so parallel sessions (and other developers' runs) do not cross-talk.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))

# The venv is an ament prefix (scripts/register_ament.sh): the real ros2 CLI finds
# fusion_nodes and the interface packages built into it.
if (Path(sys.prefix) / "share" / "ament_index" / "resource_index" / "packages" / "fusion_nodes").exists():
    os.environ["AMENT_PREFIX_PATH"] = os.pathsep.join(
        p for p in (sys.prefix, os.environ.get("AMENT_PREFIX_PATH", "")) if p)

REPO = Path(__file__).resolve().parents[1]
# Real data (robot_localization bags, BasicMotions) ships in the repository: data/README.md.
DATA = REPO / "data"

import pytest  # noqa: E402


@pytest.fixture
def probe():
    from harness import Probe
    p = Probe()
    yield p
    p.close()


@pytest.fixture
def nodes(tmp_path):
    """Start package executables; all are stopped at teardown."""
    from harness import NodeProcess
    started = []

    def start(executable, params_file, *ros_args):
        n = NodeProcess(executable, params_file, *ros_args, log_dir=tmp_path)
        started.append(n)
        return n
    yield start
    for n in started:
        n.stop()
