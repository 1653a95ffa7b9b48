# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The own-data late-fusion path end to end, on a data set shaped unlike BasicMotions.

A CSV long table (one row per sample) of six subjects, three activities, recordings of unequal length
(6-14 s) at 50 Hz, two 3-axis modalities; each subject wears the sensors a little differently (gain
and offset), so windows of one subject resemble each other more than the class does: the folds must
hold whole subjects out. ``fusion late data`` fits (scikit-learn), reports per-modality and per-rule
accuracy, writes the model JSON and a bag of decisions, and late_fusion_node on that bag gives the
labels the same rule gives in process.
"""
import csv
import re
import subprocess

import numpy as np
import pytest
import yaml

from fusion_nodes.core.late_fusion import Decision, load_stacking
from fusion_nodes.ros import pointcloud
from fusion_nodes.tools import bagio
from fusion_nodes.tools.offline import run_offline
from fusion_nodes.tools.paths import executable

CLASSES = ["rest", "sway", "walk"]
RATE = 50.0


def _signal(cls: str, n: int, rng, gain: float, offset: np.ndarray):
    """Accelerometer and gyroscope (n x 3 each). The accelerometer tells rest from motion but not sway
    from walk (the same 1.2 Hz bounce); the gyroscope tells sway (roll) from walk (yaw) but not from
    rest, where the wearer fidgets about one of those axes: only together are the three classes clear.
    """
    t = np.arange(n) / RATE
    acc = np.tile([0.0, 0.0, 9.81], (n, 1))
    if cls != "rest":
        acc[:, 0] += 1.2 * np.sin(2 * np.pi * 1.2 * t + rng.uniform(0, 6))
    axis = {"sway": 0, "walk": 2}.get(cls, int(rng.choice([0, 2])))
    gyro = np.zeros((n, 3))
    gyro[:, axis] = 0.5 * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t + rng.uniform(0, 6))
    acc = gain * acc + offset + rng.normal(0, 0.6, acc.shape)
    gyro = gain * gyro + rng.normal(0, 0.35, gyro.shape)
    return acc, gyro


def _recordings(rng):
    """``(subject, class, acc, gyro)`` of 6 subjects x 3 classes x 2 recordings of 6-14 s."""
    for s in range(6):
        gain, offset = rng.uniform(0.8, 1.2), rng.normal(0, 0.5, 3)
        for cls in CLASSES:
            for _ in range(2):
                yield s, cls, *_signal(cls, int(rng.uniform(6, 14) * RATE), rng, gain, offset)


def _write_csv(path, rng):
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time", "subject", "recording", "activity", "ax", "ay", "az", "gx", "gy", "gz"])
        for rec, (s, cls, acc, gyro) in enumerate(_recordings(rng)):
            for k in range(len(acc)):
                w.writerow([f"{k / RATE:.3f}", f"s{s}", f"r{rec}", cls, *np.round(acc[k], 4), *np.round(gyro[k], 4)])


def _accuracies(text: str) -> dict:
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^\| ([^|]+?) \| ([0-9.]+) \|", text, re.M)}


def test_own_csv_data_fits_evaluates_and_runs_through_the_node(tmp_path):
    _write_csv(tmp_path / "data.csv", np.random.default_rng(7))
    bag, model = tmp_path / "decisions.mcap", tmp_path / "stacking.json"
    r = subprocess.run([executable("fusion"), "late", "data", str(tmp_path / "data.csv"),
                        "--modality", "acc=ax,ay,az", "--modality", "gyro=gx,gy,gz", "--label", "activity",
                        "--group", "subject", "--recording", "recording", "--time", "time",
                        "--window-seconds", "2", "--bag", str(bag), "--stacking-out", str(model)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    print(r.stdout)
    assert "36 recordings, 6 groups, 50 Hz" in r.stdout and "whole groups held out" in r.stdout
    acc = _accuracies(r.stdout)
    best = max(acc["acc only"], acc["gyro only"])
    assert best < 0.9                                            # neither sensor alone is enough
    assert acc["stacking"] > best + 0.05 and acc["average (equal)"] > best
    # the model JSON: the stacking meta-classifier the node loads, and each modality's model beside it
    stacking = load_stacking(model, CLASSES, 2)
    modalities = yaml.safe_load(model.with_suffix(".modalities.json").read_text())
    assert modalities["classes"] == CLASSES and set(modalities["modalities"]) == {"acc", "gyro"}
    # the node on the bag of decisions, against the same rule in process
    decisions = {m: [pointcloud.read(msg) for _, _, msg in bagio.read(bag, [f"/late/{m}/decision"])]
                 for m in ("acc", "gyro")}
    n = len(decisions["acc"])
    ref = [stacking.fuse([Decision(m, 0.0, [float(decisions[m][i][f"score_{c}"][0]) for c in CLASSES])
                          for m in ("acc", "gyro")], [1.0, 1.0]).label for i in range(n)]
    params = {"late_fusion_node": {"ros__parameters": {
        "inputs": ["/late/acc/decision", "/late/gyro/decision"], "input_names": ["acc", "gyro"],
        "classes": CLASSES, "output_topic": "/late/fused", "rule": "stacking", "stacking_model": str(model),
        "weights": [1.0, 1.0], "quorum": 1, "match_by": "scene", "slop": 0.01, "max_wait": 0.5}}}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    run_offline(bag, tmp_path / "p.yaml", tmp_path / "fused.mcap")
    node = [int(pointcloud.read(m)["class_id"][0]) for _, _, m in bagio.read(tmp_path / "fused.mcap", ["/late/fused"])]
    assert n > 100 and node == ref
    # a params file that does not fit the model is refused at start with the reason (exit 2 from the CLI)
    from fusion_nodes.ros.params import InvalidParameters
    from fusion_nodes.tools.offline import OfflineRunner
    for bad in ({"input_names": ["gyro", "acc"]}, {"classes": ["rest", "walk", "sway"]}):
        p = {"late_fusion_node": {"ros__parameters": {**params["late_fusion_node"]["ros__parameters"], **bad}}}
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump(p))
        with pytest.raises(InvalidParameters, match="stacking model .* is for classes"):
            OfflineRunner(tmp_path / "bad.yaml")


def test_npz_columns_read_as_the_same_recordings_as_csv(tmp_path):
    """The same long table as NPZ arrays (strings and floats, no pickle) with --rate instead of a time column."""
    from fusion_nodes.tools import own_data
    from fusion_nodes.tools.paths import InputError
    _write_csv(tmp_path / "data.csv", np.random.default_rng(8))
    with (tmp_path / "data.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    cols = {name: np.array([r[i] for r in rows[1:]]) for i, name in enumerate(rows[0])}
    numeric = {k: v.astype(float) for k, v in cols.items() if k[0] in "ag" and len(k) == 2}
    np.savez(tmp_path / "data.npz", **{**cols, **numeric})
    spec = dict(modalities={"acc": ["ax", "ay", "az"], "gyro": ["gx", "gy", "gz"]}, label="activity",
                group="subject", recording="recording")
    a = own_data.load(tmp_path / "data.csv", **spec, time="time")
    b = own_data.load(tmp_path / "data.npz", **spec, rate=50.0)
    assert b.classes == a.classes == CLASSES and b.rate == pytest.approx(a.rate) and len(b.recordings) == 36
    for ra, rb in zip(a.recordings, b.recordings):
        assert (ra.group, ra.label) == (rb.group, rb.label)
        for m in ("acc", "gyro"):
            np.testing.assert_array_equal(ra.data[m], rb.data[m])
    with pytest.raises(InputError, match="no column 'activity_id'; its columns: time, subject"):
        own_data.load(tmp_path / "data.npz", **{**spec, "label": "activity_id"}, rate=50.0)


def _write_bag(path, segments_csv, rng):
    """The same kind of recordings in a bag: the accelerometer in an Imu at 50 Hz, the gyroscope on its own
    Vector3Stamped topic at 40 Hz on another clock; one labelled segment per recording, 1 s apart.
    """
    from geometry_msgs.msg import Vector3Stamped
    from sensor_msgs.msg import Imu

    from fusion_nodes.ros.convert import sec_to_stamp
    t0, rows = 1000.0, []
    with bagio.BagWriter(path) as w:
        for rec, (s, cls, acc, gyro) in enumerate(_recordings(rng)):
            n = len(acc)
            for k in range(n):
                m = Imu()
                m.header.stamp = sec_to_stamp(t0 + k / RATE)
                m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z = acc[k]
                w.write("/imu/data", m, int((t0 + k / RATE) * 1e9))
            for k in range(int(n * 40 / RATE)):       # the gyroscope's own 40 Hz clock
                tk = t0 + 0.003 + k / 40
                g = Vector3Stamped()
                g.header.stamp = sec_to_stamp(tk)
                g.vector.x, g.vector.y, g.vector.z = gyro[min(int(k * RATE / 40), n - 1)]
                w.write("/gyro", g, int(tk * 1e9))
            rows.append([f"r{rec}", f"{t0:.3f}", f"{t0 + n / RATE:.3f}", cls, f"s{s}"])
            t0 += n / RATE + 1.0
    with segments_csv.open("w", newline="") as f:
        csv.writer(f).writerows([["recording", "start", "end", "label", "group"], *rows])


def test_own_data_from_a_bag_with_labelled_segments(tmp_path):
    _write_bag(tmp_path / "rec.mcap", tmp_path / "segments.csv", np.random.default_rng(9))
    r = subprocess.run([executable("fusion"), "late", "data", str(tmp_path / "rec.mcap"),
                        "--modality", "acc=/imu/data:linear_acceleration.x,linear_acceleration.y,"
                                      "linear_acceleration.z",
                        "--modality", "gyro=/gyro:vector.x,vector.y,vector.z", "--labels",
                        str(tmp_path / "segments.csv"), "--window-seconds", "2"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    print(r.stdout)
    assert "36 recordings, 6 groups, 50 Hz" in r.stdout
    acc = _accuracies(r.stdout)
    best = max(acc["acc only"], acc["gyro only"])
    assert best < 0.9 and acc["stacking"] > best + 0.05
    # misuse: a field the message lacks, a topic the bag lacks, no segments
    for modality, text in (("gyro=/gyro:vector.w", "has no numeric field among vector.w"),
                           ("gyro=/gyr:vector.x", "no messages on /gyr; its topics: /gyro (Vector3Stamped), "
                                                  "/imu/data (Imu)")):
        bad = subprocess.run([executable("fusion"), "late", "data", str(tmp_path / "rec.mcap"), "--modality",
                              "acc=/imu/data:linear_acceleration.x", "--modality", modality, "--labels",
                              str(tmp_path / "segments.csv")], capture_output=True, text=True, timeout=120)
        assert bad.returncode == 2 and text in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    bad = subprocess.run([executable("fusion"), "late", "data", str(tmp_path / "rec.mcap"), "--modality",
                          "acc=/imu/data:linear_acceleration.x", "--modality", "gyro=/gyro:vector.x"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "needs --labels" in bad.stderr
