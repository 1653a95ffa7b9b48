# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Late fusion on real data (BasicMotions) and on the perception drive with a camera blackout."""
import subprocess
import time

import numpy as np
from sensor_msgs.msg import PointCloud2

from conftest import DATA, REPO
from fusion_nodes.core import matching
from fusion_nodes.core.late_fusion import Decision, load_stacking, make_rule
from fusion_nodes.ros import pointcloud
from fusion_nodes.tools import bagio, basic_motions, late_eval, perception_sim
from fusion_nodes.tools.offline import run_offline
from fusion_nodes.tools.paths import executable

BM = DATA / "basic_motions"
BM_PARAMS = REPO / "config" / "late_fusion_basic_motions.yaml"


def test_matching_by_position_bearing_id_and_scene():
    radar = matching.ObjectList(xy=np.array([[10.0, 0.0], [10.0, 5.0], [30.0, -3.0]]))
    # The camera sits 1.5 m ahead: bearings about (1.5, 0). Object 1 is at atan2(5, 8.5).
    camera = matching.ObjectList(bearing=np.array([np.arctan2(5.0, 8.5) + 0.01, 0.0, 1.2]))
    groups = matching.group([radar, camera], "position", 2.0, 0.05, (1.5, 0.0))
    assert {0: 0, 1: 1} in groups and {0: 1, 1: 0} in groups and {0: 2} in groups and {1: 2} in groups
    other = matching.ObjectList(xy=np.array([[29.0, -3.5], [50.0, 0.0]]))
    g = matching.group([radar, None, other], "position", 2.0, 0.05)
    assert {0: 2, 2: 0} in g and {2: 1} in g and len(g) == 4
    ids = matching.group([matching.ObjectList(ids=np.array([7.0, 3.0])), matching.ObjectList(ids=np.array([3.0]))],
                         "id")
    assert ids == [{0: 0}, {0: 1, 1: 0}]
    assert matching.group([radar, camera], "scene") == [{0: 0, 1: 0}]
    assert matching.group([None, None], "scene") == []


def test_basic_motions_rules_against_each_modality():
    rows, P, y, classes, w_rel, _ = basic_motions.evaluate(BM, window=10)
    acc = {name: a for name, a, _ in rows}
    nll = {name: v for name, _, v in rows}
    print(basic_motions.table(rows, len(y)))
    best_single = max(acc["accelerometer only"], acc["gyroscope only"])
    assert len(y) == 400 and best_single > 0.85
    # 1 s decisions: stacking and the probability rules beat the best modality; stacking is also better
    # calibrated (lower log-loss) than either modality. (The Bayesian product is not: the two sensors sit in
    # one watch, their errors are correlated, and the product counts the shared evidence twice.)
    assert min(acc["stacking"], acc["Bayesian product"], acc["average (equal)"]) > best_single
    assert nll["stacking"] < min(nll["accelerometer only"], nll["gyroscope only"])
    # The archive's own task (10 s series): both modalities are already perfect.
    rows100, *_ = basic_motions.evaluate(BM, window=100)
    assert {n: a for n, a, _ in rows100}["accelerometer only"] == 1.0


def test_basic_motions_bag_through_the_node_offline_and_over_dds(tmp_path, probe, nodes):
    bag, stack = tmp_path / "bm.mcap", tmp_path / "stacking.json"
    text = subprocess.run([executable("fusion"), "late", "basic-motions", str(BM), "--window", "10",
                           "--bag", str(bag), "--stacking-out", str(stack)], capture_output=True, text=True,
                          timeout=300)
    assert text.returncode == 0, text.stderr
    stacking = load_stacking(stack, ["Standing", "Running", "Walking", "Badminton"], ["accelerometer", "gyroscope"])
    assert stacking.meta.W.shape == (4, 8) and np.all(np.isfinite(stacking.meta.W))
    truth = [int(pointcloud.read(m)["class_id"][0]) for _, _, m in bagio.read(bag, [basic_motions.TRUTH_TOPIC])]
    # In-process reference: the Bayesian product of the bag's own decisions.
    decisions = {m: [pointcloud.read(msg) for _, _, msg in bagio.read(bag, [basic_motions.TOPIC.format(m)])]
                 for m in basic_motions.MODALITIES}
    rule = make_rule("bayes", 4)
    ref = [rule.fuse([Decision(m, 0.0, [float(decisions[m][i][f"score_{c}"][0]) for c in
                                        ("Standing", "Running", "Walking", "Badminton")])
                      for m in basic_motions.MODALITIES], [1, 1]).label for i in range(len(truth))]
    out = tmp_path / "fused.mcap"
    run_offline(bag, BM_PARAMS, out)
    offline = [int(pointcloud.read(m)["class_id"][0]) for _, _, m in bagio.read(out, ["/basic_motions/fused"])]
    assert offline == ref and len(offline) == 400
    hits = np.asarray(truth) == np.asarray(offline)
    print(f"BasicMotions 1 s windows, node offline (bayes): accuracy {hits.mean():.3f}")

    node = nodes("late_fusion_node", BM_PARAMS, "-p", "use_sim_time:=true")
    probe.collect(PointCloud2, "/basic_motions/fused", depth=1000)
    assert probe.wait_for(lambda: probe.node.count_subscribers("/basic_motions/gyroscope/decision") > 0)
    assert probe.wait_for_publishers("/basic_motions/fused")
    run = subprocess.run([executable("fusion"), "play", str(bag), "--rate", "25"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    time.sleep(1.0)
    dds = {m.header.stamp.sec + m.header.stamp.nanosec * 1e-9: int(pointcloud.read(m)["class_id"][0])
           for m in probe.messages("/basic_motions/fused")}
    assert len(dds) >= 395       # the last set may still wait for its max_wait when the player stops
    t0 = min(dds)
    assert all(dds[t] == ref[int(round(t - t0))] for t in dds)
    assert node.alive()


def test_camera_blackout_output_continues_on_radar_with_lower_confidence(tmp_path):
    sc = perception_sim.load_scenario()
    sc.update(seed=14, duration=30.0)
    sc["camera"]["blackout"] = [10.0, 20.0]
    bag = perception_sim.write(sc, tmp_path / "p.mcap") and tmp_path / "p.mcap"
    out = tmp_path / "late.mcap"
    report = late_eval.report(bag, "/ground_truth/objects", out=out, blackout=(10.0, 20.0))
    print(report)
    spans = ("whole drive", "camera working", "camera blacked out", "camera back")
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in report.splitlines() if line.split("|")[1:2] and line.split("|")[1].strip() in spans}
    rate = {k: float(v[0]) for k, v in rows.items()}
    both = {k: float(v[2]) for k, v in rows.items()}
    conf = {k: float(v[3]) for k, v in rows.items()}
    acc = {k: float(v[4]) for k, v in rows.items()}
    assert rate["camera blacked out"] > 0.8 * rate["camera working"]       # output continues at its rate
    assert both["camera blacked out"] == 0.0 and both["camera working"] > 0.4
    assert conf["camera blacked out"] < conf["camera working"] - 0.05
    assert conf["camera back"] > conf["camera blacked out"]
    assert acc["camera blacked out"] > 0.75                                # radar alone still classifies
    table = [line for line in report.splitlines() if line.startswith("| ") and ("only" in line or "(weights" in line)]
    single = max(float(r.split("|")[2]) for r in table if "only" in r)
    fused = max(float(r.split("|")[2]) for r in table if "average" in r or "Bayesian" in r)
    assert fused > single
