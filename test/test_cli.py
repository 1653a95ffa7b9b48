# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The fusion command line end to end: sim -> offline -> eval, as a user runs it."""
import signal
import subprocess

import pytest

from fusion_nodes.tools.paths import executable


def run(*args, timeout=300):
    r = subprocess.run([executable("fusion"), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_sim_offline_eval(tmp_path):
    from conftest import REPO
    sim = tmp_path / "drive.mcap"
    out = tmp_path / "fused.mcap"
    assert "wrote" in run("sim", "--out", sim, "--duration", "30", "--seed", "7")
    text = run("offline", sim, "--params", REPO / "config" / "demo_sim.yaml", "--out", out)
    assert "/odometry/filtered" in text and out.exists()
    table = run("eval", out, "--truth", "/ground_truth/odom", "--estimate", "/odometry/filtered",
                "--estimate", "/wheel/odom", "--label", "EKF", "--label", "DR", "--plot", tmp_path / "p.png")
    lines = table.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("estimate"))
    rows = {}
    for line in lines[head + 2:]:
        label, _, rest = line.partition("  ")
        if not rest.strip() or not rest.split()[0].endswith("m"):
            break                                        # the legend below the table
        rows[label.strip()] = rest.split()
    # the estimates, and the bag's other odometry (the GPS) as a baseline row
    assert set(rows) == {"EKF", "DR", "/odometry/gps (baseline)"}
    assert float(rows["EKF"][0].rstrip("m")) < min(2.0, float(rows["/odometry/gps (baseline)"][0].rstrip("m")))
    assert "truth: map -> base_link" in table and "DR is in odom, the truth in map" in table
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_sim_cruise_speed_sets_the_drive_speed(tmp_path):
    """``--cruise-speed`` (a car's 12 m/s here) scales the drive; the default stays the ground robot's 4 m/s."""
    import numpy as np

    from fusion_nodes.tools import sim
    car, robot = sim.SimConfig(cruise_speed=12.0, duration=60.0), sim.SimConfig(duration=60.0)
    v_car, v_robot = sim.trajectory(car)["v"], sim.trajectory(robot)["v"]
    period = slice(20_000, 60_000)                 # one whole 40 s period of the speed variation (1 ms grid)
    assert v_car[period].mean() == pytest.approx(12.0, rel=1e-3)
    assert v_robot[period].mean() == pytest.approx(4.0, rel=1e-3)
    np.testing.assert_allclose(v_car, 3.0 * v_robot, rtol=1e-12)
    assert "wrote" in run("sim", "--out", tmp_path / "car.mcap", "--duration", "5", "--cruise-speed", "12")
    assert "cruise_speed': 12.0" in run("sim", "--out", tmp_path / "c2.mcap", "--duration", "5", "--cruise-speed",
                                        "12")


def test_tracking_evaluation_from_the_command_line(tmp_path):
    """Fusion sim (tracking scenario) -> fusion eval --tracking: one row per tracker input and the per-frame
    baseline; a tracker beats the per-frame object list it could have been, and the radar tracks are real.
    With --peer (where Stone Soup is installed, as make does) the core and Stone Soup's GNN and JPDA on the
    same frames, each a tracker and timed.
    """
    import importlib.util

    from conftest import REPO

    from fusion_nodes.tools import track_compare
    sim = tmp_path / "drive.mcap"
    run("sim", "--perception", "--scenario", REPO / "config" / "tracking_scenario.yaml", "--duration", "14",
        "--out", sim)
    peer = importlib.util.find_spec("stonesoup") is not None
    table = run("eval", sim, "--truth", "/ground_truth/objects", "--tracking", "--ceiling", "--out",
                tmp_path / "work", *(["--peer"] if peer else []), timeout=1100)
    lines = [line for line in table.splitlines() if line.startswith("|")]
    notes = [line for line in table.splitlines() if not line.startswith("|")]
    persistence = notes.pop()                        # --ceiling: how much each sensor's bearing error persists
    # the radar's within-cluster Doppler spread per class of object (tracker_node's class_doppler_spread)
    spread = [n for n in notes if n.startswith("radar Doppler spread within clusters")]
    notes = [n for n in notes if n not in spread]
    assert len(spread) == 1
    measured = {p.split()[0]: float(p.split()[1]) for p in spread[0].split("): ", 1)[1].split("; ")}
    assert measured and set(measured) <= {"car", "pedestrian", "cyclist", "pole"}
    assert all(0.0 <= v < 5.0 for v in measured.values()), spread
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in lines[2:]}
    doppler = "radar clusters per frame, Doppler velocity (no tracker)"
    core = ("core, same frames: radar only", "core, same frames: radar + camera",
            "core, same frames: radar + truth-picked camera boxes (ceiling)")
    peers = (track_compare.CORE, track_compare.CORE_GNN, track_compare.PEER, track_compare.PEER_JPDA)
    assert set(rows) == {"radar only", "camera only", "radar + camera", "early-fused objects",
                         "early fusion per frame (no tracker)", doppler, *core, *(peers if peer else ())}
    gospa, mota, idsw = ({k: float(v[i]) for k, v in rows.items()} for i in (0, 1, 3))
    per_frame = "early fusion per frame (no tracker)"
    assert mota["radar + camera"] > mota[per_frame] and gospa["radar + camera"] < gospa[per_frame]
    assert idsw[per_frame] > 10 * max(idsw["radar + camera"], 1.0)
    assert mota["radar only"] > 0.3 and rows[per_frame][5] == "n/a"      # no velocity without a tracker
    # the tracker's velocity beats what the radar's Doppler alone says (the radial component only)
    assert float(rows["radar + camera"][5]) < float(rows[doppler][5])
    assert (tmp_path / "work" / "tracks.mcap").exists()
    # --ceiling: the core tracker on the same frames, with and without the camera and with the truth-picked
    # boxes; all three are trackers (far better than the per-frame list), scored on the same objects
    for label in core:
        assert mota[label] > mota[per_frame] and gospa[label] < gospa[per_frame], label
        assert rows[label][7] != "n/a", label
    # --peer: the core and the peers track on the same frames, each timed per frame
    for label in peers if peer else ():
        assert mota[label] > mota[per_frame] and gospa[label] < gospa[per_frame], label
        assert float(rows[label][11].replace(",", "")) > 0, label
    # under the table: each fused row's position and velocity RMSE against its single-sensor one on the
    # matches both made, with intervals over objects; radar + camera is told apart from camera alone
    differences = {n.split(", RMSE on the ")[0]: n for n in notes}
    assert set(differences) == {"radar + camera minus radar only", "radar + camera minus camera only",
                                f"{core[1]} minus {core[0]}", f"{core[2]} minus {core[0]}"}

    def difference(note, quantity):
        value, rest = note.split(f"{quantity} ")[1].split(" (", 1)
        low, high = rest.split("; ")[1].split(" .. ")
        return float(value.split()[0]), float(low), float(high)
    for note in notes:
        for quantity in ("position", "velocity"):
            diff, low, high = difference(note, quantity)
            assert low <= diff <= high, note
    assert difference(differences["radar + camera minus camera only"], "position")[2] < 0
    assert persistence.startswith("bearing error of the truth-picked detections: ")
    parts = persistence.split(": ", 1)[1].split("; ")
    lag = {part.split()[0]: float(part.split("correlation ")[1].split()[0]) for part in parts}
    assert set(lag) == {"camera", "radar"} and lag["camera"] > lag["radar"] + 0.3


def test_tracking_evaluation_of_several_drives_pools_their_objects(tmp_path):
    """Several drives: each drive's table and difference lines, then the table and lines over both drives'
    objects together (kept apart: the pooled counts are the sums of the drives', the rates lie between them).
    """
    from conftest import REPO
    bags = [tmp_path / f"drive{seed}.mcap" for seed in (3, 4)]
    for seed, bag in zip((3, 4), bags):
        run("sim", "--perception", "--scenario", REPO / "config" / "tracking_scenario.yaml", "--duration", "10",
            "--seed", seed, "--out", bag)
    text = run("eval", *bags, "--truth", "/ground_truth/objects", "--tracking", "--out", tmp_path / "work")
    sections = text.split("## ")[1:]
    assert [s.splitlines()[0] for s in sections] == [f"drive 1 of 2: {bags[0]}", f"drive 2 of 2: {bags[1]}",
                                                    "the 2 drives' objects pooled"]
    assert {p.name for p in (tmp_path / "work").iterdir()} == {"1_drive3", "2_drive4"}

    def counts(section):
        """Pair -> (matches, objects) of a section's difference lines."""
        out = {}
        for line in section.splitlines():
            if ", RMSE on the " in line:
                pair, rest = line.split(", RMSE on the ")
                out[pair] = (int(rest.split()[0]), int(rest.split("(")[1].split()[0]))
        return out
    one, two, both = (counts(s) for s in sections)
    assert set(both) == {"radar + camera minus radar only", "radar + camera minus camera only"}
    for pair in both:
        assert both[pair] == tuple(a + b for a, b in zip(one[pair], two[pair])), pair

    def rows(section):
        """Row label -> cells of a section's table."""
        table = [line for line in section.splitlines() if line.startswith("|")][2:]
        return {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in table}
    one, two, both = (rows(s) for s in sections)
    assert set(both) == set(one) == set(two) and "radar + camera" in both
    for label in both:
        # GOSPA, MOTA and recall of the drives together: a frame- and object-weighted mean of the drives'
        for col in (0, 1, 6):
            lo, hi = sorted(float(r[label][col]) for r in (one, two))
            assert lo <= float(both[label][col]) <= hi, (label, col)
        if both[label][10] != "n/a":
            assert int(both[label][10]) == int(one[label][10]) + int(two[label][10]), label   # false tracks


def _subparsers():
    import argparse
    from fusion_nodes.tools.cli import parser
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def test_every_option_of_every_command_has_help_text():
    missing = [f"{name} {a.dest}" for name, p in _subparsers().items() for a in p._actions
               if a.dest != "help" and not a.help]
    assert not missing, missing


def test_misuse_is_one_line_with_a_hint_and_exit_2(tmp_path):
    from conftest import REPO
    bag = REPO / "data" / "robot_localization" / "test2.bag"
    cases = [(["play", tmp_path / "missing.bag"], "no such file or directory (give a rosbag2"),
             (["play", bag, "--loop", "0"], "must be > 0"),
             (["eval", bag, "--truth", "/odom"], "give --estimate TOPIC"),
             (["offline", bag, "--params", tmp_path / "none.yaml", "--out", tmp_path / "o.mcap"],
              "parameters YAML"),
             (["eval", bag, "--truth", "/t", "--estimate", "/a", "--label", "A", "--label", "B"],
              "--label must be given once per --estimate"),
             (["late", "basic-motions", tmp_path / "no_data"], "the data directory"),
             (["eval", bag, bag, "--truth", "/odom", "--estimate", "/a"], "several drives only with --tracking")]
    (tmp_path / "not_a_bag").mkdir()
    (tmp_path / "bad.yaml").write_text("kalman_fusion_node:\n  ros__parameters: {frequency: [1, 2}\n")
    (tmp_path / "names.yaml").write_text("late_fusion_node:\n  ros__parameters:\n    inputs: [/a, /b]\n"
                                         "    input_names: [x, y]\n")
    mcap = tmp_path / "drive.mcap"
    run("sim", "--out", mcap, "--duration", "3")
    (tmp_path / "cut.mcap").write_bytes(mcap.read_bytes()[:20000])
    cases += [(["eval", tmp_path / "not_a_bag", "--truth", "/a", "--estimate", "/b"], "metadata.yaml"),
              (["eval", tmp_path / "cut.mcap", "--truth", "/a", "--estimate", "/b"], "mcap recover"),
              (["offline", mcap, "--params", tmp_path / "bad.yaml", "--out", tmp_path / "o.mcap"],
               "bad.yaml: YAML syntax error at line 2"),
              (["offline", mcap, "--params", tmp_path / "names.yaml", "--out", tmp_path / "o.mcap"],
               "input_names: [x, y] (y read as booleans)"),
              (["eval", mcap, "--truth", "/nope", "--estimate", "/wheel/odom"], "its topics: /gps/fix (NavSatFix)"),
              (["eval", mcap, "--truth", "/gps/fix", "--estimate", "/wheel/odom"], "needs nav_msgs/msg/Odometry"),
              (["sim", "--out", tmp_path / "missing_dir" / "x.mcap"], "mkdir -p"),
              (["sim", "--perception", "--scenario", tmp_path / "late.yaml", "--out", tmp_path / "late.mcap"],
               "radar.latency -0.1 is outside [0, 10] s"),
              (["late", "basic-motions", REPO / "data" / "basic_motions", "--window"], "expected at least one"),
              (["params", "no_such_node"], "the nodes: kalman_fusion_node"),
              (["play", "--topics", "/imu/data", mcap], "put the bag path before --topics"),
              (["play", mcap, "--rate", "0"], "must be > 0"),
              (["late", "data", tmp_path / "d.csv", "--modality", "a=x", "--modality", "b=y", "--label", "cls",
                "--group", "subj", "--recording", "rec", "--rate", "50"], "no column 'rec'; its columns: x, y"),
              (["late", "data", tmp_path / "d.csv", "--modality", "a=x", "--label", "c"], "two or more --modality")]
    (tmp_path / "d.csv").write_text("x,y\n1,2\n")
    scenario = REPO / "config" / "tracking_scenario.yaml"
    (tmp_path / "late.yaml").write_text(f"extends: {scenario}\nradar: {{latency: -0.1}}\n")
    for args, hint in cases:
        r = subprocess.run([executable("fusion"), *map(str, args)], capture_output=True, text=True, timeout=120)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and hint in lines[0], (args, r.stderr)
    assert not list(tmp_path.glob("fusion_bag_*"))          # no working directory left behind
    assert not (tmp_path / "late.mcap").exists()            # a scenario error writes no bag


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "Ctrl-C"])
def test_a_killed_command_leaves_no_working_directory(tmp_path, sig, code):
    """A timeout's SIGTERM or a Ctrl-C unwinds like an exception: the bag written so far is closed and the
    fusion_bag_* working directory removed; no traceback.
    """
    import time
    proc = subprocess.Popen([executable("fusion"), "sim", "--out", str(tmp_path / "long.mcap"), "--duration", "3000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    def written() -> int:
        return sum(f.stat().st_size for f in tmp_path.glob("fusion_bag_*/**/*.mcap"))
    deadline = time.monotonic() + 120
    while written() < 100_000 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert written() >= 100_000, "the simulation never started writing"
    proc.send_signal(sig)
    assert proc.wait(timeout=120) == code
    assert "Traceback" not in proc.stderr.read()
    assert not list(tmp_path.glob("fusion_bag_*"))
    from fusion_nodes.tools import bagio
    assert bagio.topics(tmp_path / "long.mcap")["/imu/data"][1] > 0   # what was written is kept, readable


def test_a_node_refuses_a_params_file_rcl_cannot_read_in_one_line_with_the_yaml_hint(tmp_path):
    """An unquoted y is a boolean to rcl, which refuses the list; the node says so in one line, exit 2."""
    (tmp_path / "names.yaml").write_text("late_fusion_node:\n  ros__parameters:\n    inputs: [/a, /b]\n"
                                         "    input_names: [x, y]\n")
    r = subprocess.run([executable("late_fusion_node"), "--ros-args", "--params-file", str(tmp_path / "names.yaml")],
                       capture_output=True, text=True, timeout=120)
    ours = [line for line in r.stderr.splitlines() if "LateFusionNode" in line]
    assert r.returncode == 2 and len(ours) == 1 and "quote such names" in ours[0], r.stderr
    assert "Traceback" not in r.stderr


def test_the_shipped_params_files_have_no_list_rcl_would_read_as_mixed_types():
    from conftest import REPO
    from fusion_nodes.ros.params import mixed_lists
    for path in sorted((REPO / "config").glob("*.yaml")):
        assert mixed_lists(path.read_text()) == [], path.name
    assert mixed_lists("n:\n  ros__parameters:\n    a: [x, 'y']\n    b: [1, 2.5]\n    c: [true, false]\n") == []
    assert mixed_lists("n:\n  ros__parameters:\n    names: [cam, no, radar]\n") == \
        ["n.names: [cam, no, radar] (no read as booleans)"]
