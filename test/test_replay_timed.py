# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Real bags replayed in real time (scaled) by ``fusion play`` into the node over DDS.

The node runs with ``use_sim_time`` and the player's /clock. Timing now comes
from DDS delivery and the executor, so the result is not bit-identical to the
offline run; the tolerances are robot_localization's own for these bags plus
0.1 m (test2) and 0.5 m (test1) for delivery jitter at the replay rate.
"""
import subprocess
import time

import numpy as np
import pytest
from nav_msgs.msg import Odometry

from conftest import DATA, REPO
from fusion_nodes.tools.paths import executable

pytestmark = [pytest.mark.integration, pytest.mark.realdata]


@pytest.mark.parametrize("name,rate,reference,tolerance", [
    ("test2", 2.0, [1.0255, 3.4334, 0.7408], 0.1069 + 0.1),
    ("test1", 8.0, [-40.0454, -76.9988, -2.6974], 1.0452 + 0.5),
])
def test_timed_replay_matches_reference(probe, nodes, name, rate, reference, tolerance):
    node = nodes("kalman_fusion_node", REPO / "config" / f"rl_{name}.yaml", "-p", "use_sim_time:=true")
    probe.collect(Odometry, "/odometry/filtered")
    assert probe.wait_for(lambda: probe.node.count_subscribers("/imu/data") > 0)
    assert probe.wait_for_publishers("/odometry/filtered")
    bag = DATA / "robot_localization" / f"{name}.bag"
    t0 = time.monotonic()
    run = subprocess.run([executable("fusion"), "play", str(bag), "--rate", str(rate)],
                         capture_output=True, text=True, timeout=300)
    wall = time.monotonic() - t0
    assert run.returncode == 0, run.stderr
    time.sleep(0.5)
    out = probe.messages("/odometry/filtered")
    p = out[-1].pose.pose.position
    err = np.linalg.norm(np.array([p.x, p.y, p.z]) - reference)
    print(f"{name} at x{rate}: {run.stdout.strip()} in {wall:.1f} s; {len(out)} estimates; "
          f"final position error vs robot_localization {err:.3f} m")
    assert node.alive()
    assert err < tolerance
