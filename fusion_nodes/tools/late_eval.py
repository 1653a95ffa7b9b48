# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion late perception``: late-fusion rules on a simulated perception drive.

The input nodes of config/perception.yaml run offline (camera_node and
radar_node score their own detections with their classifiers); each radar
scan is paired with the nearest camera frame within the slop, and the
radar clusters and camera detections are grouped exactly as late_fusion_node
groups them (:func:`fusion_nodes.core.matching.group`). Objects seen by both
and lying on a ground-truth object (radar position) are scored for camera
only, radar only and every rule, all on the same objects. late_fusion_node
itself then runs over the recorded inputs with the params file; its output
is scored end to end, per second, with its confidence.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from fusion_nodes.core import matching
from fusion_nodes.core.late_fusion import make_rule
from fusion_nodes.ros import decisions as dec

from .early_eval import _clouds, _nearest, label, labelled_outputs, node_settings, run_graph
from .offline import node_names
from .paths import config_file

RULES = (("majority vote", "majority"), ("weighted vote", "weighted_vote"), ("weighted average", "average"),
         ("Bayesian product", "bayes"))


def late_settings(params_file) -> dict:
    from fusion_nodes.ros.late_fusion_params import specs
    return node_settings(params_file, "late_fusion_node", specs())


def grouped_decisions(bags, raw_bag, truth_topic, s, label_gate=2.5):
    """Per object seen by every input and on a truth object: (decisions, true class).

    Each input topic is read from the first of ``bags`` that has it.
    """
    streams = [next((c for c in (_clouds(b, topic) for b in bags) if c), []) for topic in s["inputs"]]
    times = [np.array([t for t, _ in st]) for st in streams]
    truths = _clouds(raw_bag, truth_topic)
    truth_t = np.array([t for t, _ in truths])
    out = []
    for t, ref in streams[0]:
        picks = [ref] + [None if (j := _nearest(times[k], t, s["slop"])) is None else streams[k][j][1]
                         for k in range(1, len(streams))]
        ti = _nearest(truth_t, t, 0.05)
        if ti is None or any(p is None for p in picks):
            continue
        parsed = [dec.parse(p, s["classes"], name, t)[:2] for p, name in zip(picks, s["input_names"])]
        groups = matching.group([p[0] for p in parsed], "position", s["position_gate"], s["bearing_gate"],
                                s["bearing_origin"])
        for g in groups:
            if len(g) < len(parsed) or parsed[0][0].xy is None:
                continue
            y = label(parsed[0][0].xy[g[0]][None, :], truths[ti][1], label_gate)[0]
            if y >= 0:
                out.append(([parsed[i][1].decision(g[i]) for i in range(len(parsed))], int(y)))
    return out


def rule_table(samples, s) -> str:
    """Markdown table: accuracy of each input alone and of each rule with the configured weights."""
    from sklearn.metrics import accuracy_score as accuracy
    y = np.array([yy for _, yy in samples])
    K = len(s["classes"])
    lines = [f"| decision | accuracy (n={len(y)}) |", "|---|---|"]
    for i, name in enumerate(s["input_names"]):
        lines.append(f"| {name} only | {accuracy(y, [d[i].label for d, _ in samples]):.3f} |")
    for text, rule in RULES:
        r = make_rule(rule, K)
        pred = [r.fuse(d, s["weights"]).label for d, _ in samples]
        lines.append(f"| {text} (weights {list(s['weights'])}) | {accuracy(y, pred):.3f} |")
    return "\n".join(lines)


def node_timeline(fused_bag, raw_bag, truth_topic, topic, label_gate=2.5):
    """Per output message: stamp, objects, correct, labelled, summed confidence of labelled
    objects, labelled objects fused from more than one input.
    """
    rows = []
    for t, obj, pos, y in labelled_outputs(fused_bag, raw_bag, truth_topic, topic, label_gate):
        lab = y >= 0
        rows.append((t, len(obj), np.sum(pos["class_id"].astype(int)[lab] == y[lab]), lab.sum(),
                     pos["confidence"][lab].sum(), np.sum(pos["sources"][lab] > 1)))
    return np.array(rows, float).reshape(-1, 6)


def report(bag, truth_topic, params_file=None, out=None, blackout=None) -> str:
    """Rule table and the node's end-to-end output for one drive (see module docstring)."""
    params_file = params_file or config_file("late_fusion.yaml")
    s = late_settings(params_file)
    model = {"model_file": "early_fusion_model.json"}
    fusion_nodes = [n for n in ("early_fusion_node", "late_fusion_node") if n in node_names(params_file)]
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.mcap"
        run_graph(bag, config_file("perception.yaml"), inputs, overrides={"camera_node": model, "radar_node": model})
        fused = out or str(Path(tmp) / "late.mcap")
        run_graph(inputs, params_file, fused, nodes=fusion_nodes)
        samples = grouped_decisions([inputs, fused], bag, truth_topic, s)
        tl = node_timeline(fused, bag, truth_topic, s["output_topic"])
    lines = [f"{len(samples)} objects seen by {' and '.join(s['input_names'])} with ground truth", "",
             rule_table(samples, s), "", f"late_fusion_node ({s['rule']}, weights {list(s['weights'])}) output:",
             "", timeline_table(tl, blackout)]
    return "\n".join(lines)


def timeline_table(tl, blackout=None) -> str:
    """Rate, confidence and accuracy over the drive and, given ``blackout`` (s after the
    simulation start), before, during and after it.
    """
    from .sim import T0
    spans = [("whole drive", -np.inf, np.inf)]
    if blackout:
        spans += [("camera working", -np.inf, blackout[0]), ("camera blacked out", blackout[0], blackout[1]),
                  ("camera back", blackout[1], np.inf)]
    lines = ["| span | messages/s | objects on truth | fused from 2+ inputs | mean confidence | accuracy |",
             "|---|---|---|---|---|---|"]
    for name, lo, hi in spans:
        rel = tl[:, 0] - T0
        sel = tl[(rel >= lo) & (rel < hi)]
        if len(sel) < 2:
            continue
        n = max(sel[:, 3].sum(), 1)
        lines.append(f"| {name} | {(len(sel) - 1) / (sel[-1, 0] - sel[0, 0]):.1f} | {int(sel[:, 3].sum())} | "
                     f"{sel[:, 5].sum() / n:.2f} | {sel[:, 4].sum() / n:.3f} | {sel[:, 2].sum() / n:.3f} |")
    return "\n".join(lines)
