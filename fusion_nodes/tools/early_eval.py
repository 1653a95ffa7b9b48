# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion fit`` and ``fusion eval --model``: early-fusion training data, fitting, evaluation.

Both start from a bag with raw sensor data and ground-truth objects (e.g.
``fusion sim --perception``). The input nodes of the perception graph
(imu_gps_node, kalman_fusion_node, camera_node, radar_node) run over it
offline, exactly as they would on the robot; their outputs are paired the way
early_fusion_node pairs them (nearest camera frame and IMU features within
the slop, association by projection + Hungarian assignment), and each
associated radar cluster gets the class of the ground-truth object it lies
on (Hungarian assignment on base_link xy distance, gate ``label_gate`` m).
Only associated and labelled objects are samples, so camera-only, radar-only
and fused classifiers are compared on exactly the same objects.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from scipy.optimize import linear_sum_assignment

from fusion_nodes.core import early_fusion as ef
from fusion_nodes.core.geometry import pinhole_matrix
from fusion_nodes.core.sensors import Mount
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros.convert import stamp_to_sec

from . import bagio, early_fit
from .offline import OfflineRunner
from .paths import InputError, config_file, load_yaml
from .perception_sim import CLASSES

INPUT_NODES = ("imu_gps_node", "kalman_fusion_node", "camera_node", "radar_node")


@dataclass(frozen=True)
class Samples:
    """Row-aligned associated objects: features per modality, true class, stamp (s)."""

    cam: np.ndarray
    rad: np.ndarray
    imu: np.ndarray
    y: np.ndarray
    stamp: np.ndarray


def _subset_params(params_file, nodes, out: Path, overrides=None) -> Path:
    data = load_yaml(params_file)
    keep = {k: v for k, v in data.items() if k.strip("/").split("/")[-1] in nodes}
    for name, values in (overrides or {}).items():
        keep.setdefault(name, {"ros__parameters": {}})["ros__parameters"].update(values)
    out.write_text(yaml.safe_dump(keep))
    return out


def run_graph(bag, params_file, out, nodes=INPUT_NODES, overrides=None):
    """Run ``nodes`` of ``params_file`` offline over ``bag``; record their outputs to ``out``, and the
    CameraInfo they read (``camera_info_topic``): a replay of the recorded detections needs it.
    """
    with tempfile.TemporaryDirectory() as tmp:
        sub = _subset_params(params_file, nodes, Path(tmp) / "params.yaml", overrides)
        infos = {str(v["ros__parameters"].get("camera_info_topic") or "") for v in load_yaml(sub).values()} - {""}
        runner = OfflineRunner(sub)
        try:
            return runner.run(bag, out, record_inputs=infos)
        finally:
            runner.close()


def _clouds(bag, topic):
    return [(stamp_to_sec(m.header.stamp), pointcloud.read(m)) for _, _, m in bagio.read(bag, [topic])]


def _log_times(bag, topic) -> np.ndarray:
    """Log times (ns) of ``topic``'s messages, in the order :func:`_clouds` gives them."""
    return np.array([t_ns for _, t_ns, _ in bagio.read(bag, [topic])], dtype=np.int64)


def ground_truth(bag, topic):
    """Ground-truth objects per stamp: ``(stamp, records with x, y, class_id)`` from a PointCloud2 topic of
    the bag, or from a labels CSV (``topic`` ending in ``.csv``, columns stamp, x, y, class).
    """
    if str(topic).endswith(".csv"):
        return truth_csv(topic)
    have = bagio.topics(bag)
    if topic not in have:
        raise InputError(f"{bag} has no truth topic {topic}; its topics: {', '.join(sorted(have))} (or give "
                         "--truth labels.csv with columns stamp, x, y, class)")
    out = _clouds(bag, topic)
    if out and not {"x", "y", "class_id"} <= set(out[0][1].dtype.names or ()):
        raise InputError(f"{topic}: ground-truth objects need x, y (m, base_link) and class_id fields")
    return out


def truth_csv(path, classes=CLASSES):
    """A labels CSV (one row per object and moment: ``stamp`` s, ``x``, ``y`` m in base_link, ``class`` one of
    ``classes``) as the per-stamp truth records :func:`label` reads.
    """
    import csv
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    missing = {"stamp", "x", "y", "class"} - set(rows[0] if rows else {})
    if missing:
        raise InputError(f"{path}: needs columns stamp, x, y, class (missing {', '.join(sorted(missing))})")
    unknown = sorted({r["class"] for r in rows} - set(classes))
    if unknown:
        raise InputError(f"{path}: classes {unknown} are not among the model's {list(classes)}")
    by_stamp: dict = {}
    for r in rows:
        by_stamp.setdefault(float(r["stamp"]), []).append((float(r["x"]), float(r["y"]), classes.index(r["class"])))
    dtype = [("x", float), ("y", float), ("class_id", float)]
    return [(t, np.array(v, dtype=dtype)) for t, v in sorted(by_stamp.items())]


def _nearest(stamps: np.ndarray, t: float, slop: float):
    if len(stamps) == 0:
        return None
    i = int(np.argmin(np.abs(stamps - t)))
    return i if abs(stamps[i] - t) <= slop else None


def label(xy: np.ndarray, truth, gate: float) -> np.ndarray:
    """Class index of the ground-truth object each position lies on, -1 for none within ``gate`` m."""
    out = np.full(len(xy), -1)
    if len(xy) == 0 or len(truth) == 0:
        return out
    txy = np.column_stack([truth["x"], truth["y"]])
    d = np.linalg.norm(xy[:, None, :] - txy[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(np.where(d <= gate, d, 1e6))
    for r, c in zip(rows, cols):
        if d[r, c] <= gate:
            out[r] = int(truth["class_id"][c])
    return out


def node_settings(params_file, node: str, specs) -> dict:
    """Parameters of ``node`` in a params file over the defaults of its ``specs``."""
    data = load_yaml(params_file)
    p = next((v["ros__parameters"] for k, v in data.items() if k.strip("/").endswith(node)), {})
    return {**{s.name: s.default for s in specs}, **p}


def fusion_settings(params_file) -> dict:
    """early_fusion_node's settings from the params file (defaults otherwise)."""
    from fusion_nodes.ros.early_fusion_params import specs
    return node_settings(params_file, "early_fusion_node", specs())


class CameraMatrices:
    """K (px) early_fusion_node associates a camera frame with: with a camera_info_topic, the newest valid
    CameraInfo of the bag logged before the frame (as the node holds the last good one; an invalid one is
    skipped as the node drops it), None before the first (the node drops the frame's detections:
    ``no_camera_info``); without, its camera_intrinsics.
    """

    def __init__(self, settings: dict, bag):
        from fusion_nodes.ros.convert import camera_info_to_intrinsics
        topic = settings.get("camera_info_topic")
        self.fixed = None if topic else pinhole_matrix(*settings["camera_intrinsics"])
        if self.fixed is not None:
            return
        self.held = bagio.HeldValues(bag, topic, lambda msg: camera_info_to_intrinsics(msg)[0])
        if not len(self.held):
            raise InputError(f"{bag}: no valid CameraInfo on {topic} "
                             "(early_fusion_node's camera_info_topic); set it to '' to use camera_intrinsics")

    def at(self, t_ns: int) -> np.ndarray | None:
        """K for a camera frame logged at ``t_ns`` (ns)."""
        return self.fixed if self.fixed is not None else self.held.at(t_ns)


def samples(processed_bag, raw_bag, truth_topic: str, params_file, label_gate: float = 2.5) -> Samples:
    """Associated, labelled objects of one processed drive (see module docstring)."""
    s = fusion_settings(params_file)
    mount = Mount.from_list(s["camera_mount"])
    matrices = CameraMatrices(s, processed_bag)
    cams = _clouds(processed_bag, s["camera_topic"])
    cam_log = _log_times(processed_bag, s["camera_topic"])
    imus = _clouds(processed_bag, s["imu_topic"])
    truths = ground_truth(raw_bag, truth_topic)
    cam_t, imu_t, truth_t = (np.array([t for t, _ in x]) for x in (cams, imus, truths))
    rows = {k: [] for k in ("cam", "rad", "imu", "y", "stamp")}
    for t, clusters in _clouds(processed_bag, s["radar_topic"]):
        ci, ii, ti = _nearest(cam_t, t, s["slop"]), _nearest(imu_t, t, s["slop"]), _nearest(truth_t, t, 0.05)
        K = None if ci is None else matrices.at(cam_log[ci])
        if K is None or ii is None or ti is None or len(clusters) == 0:
            continue
        det = cams[ci][1]
        xyz = np.column_stack([clusters["x"], clusters["y"], clusters["z"]]).astype(float)
        y = label(xyz[:, :2], truths[ti][1], label_gate)
        pairs = ef.associate(np.column_stack([det["u"], det["v"]]), np.column_stack([det["width_px"],
                             det["height_px"]]), xyz, mount.R, mount.translation, K, s["association_gate"])
        pairs = [(i, j) for i, j in pairs if y[j] >= 0]
        if not pairs:
            continue
        ic, jr = (np.array(v) for v in zip(*pairs))
        rows["cam"].append(ef.camera_vectors(det[ic]))
        rows["rad"].append(ef.radar_vectors(clusters[jr]))
        rows["imu"].append(np.tile(ef.imu_vector(imus[ii][1]), (len(pairs), 1)))
        rows["y"].append(y[jr])
        rows["stamp"].append(np.full(len(pairs), t))
    if not rows["y"]:
        raise ValueError("no associated, labelled objects in this bag")
    return Samples(*(np.concatenate(rows[k]) for k in ("cam", "rad", "imu", "y", "stamp")))


def collect(bag, truth_topic, params_file, workdir, model_file="") -> Samples:
    """Run the input nodes over ``bag`` into ``workdir/inputs.mcap`` and build the samples.

    ``model_file`` is given to camera_node and radar_node (their class scores);
    '' runs them without a model, as needed before the first fit.
    """
    processed = Path(workdir) / "inputs.mcap"
    no_model = {"model_file": str(model_file)}
    run_graph(bag, params_file, processed, overrides={"camera_node": no_model, "radar_node": no_model})
    return samples(processed, bag, truth_topic, params_file)


def fit_model(bag, truth_topic: str, out, params_file=None, projection="none", k=None, l2=0.1):
    """``fusion fit``: samples of ``bag`` -> fitted :class:`EarlyFusionModel` saved as JSON at ``out``."""
    params_file = params_file or config_file("perception.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        data = collect(bag, truth_topic, params_file, tmp)
    model = early_fit.fit(data.cam, data.rad, data.imu, data.y, CLASSES, projection, k, l2)
    model.save(out)
    return model, data


def scores(model: ef.EarlyFusionModel, data: Samples) -> dict[str, np.ndarray]:
    """Predicted classes of camera-only, radar-only and fused classifiers on the same samples."""
    return {"camera only": model.predict_proba(cam=data.cam).argmax(axis=1),
            "radar only": model.predict_proba(rad=data.rad).argmax(axis=1),
            f"early fused ({model.projection})": model.predict_proba(data.cam, data.rad, data.imu).argmax(axis=1)}


def table(data: Samples, predictions: dict[str, np.ndarray], classes=CLASSES) -> str:
    """Markdown table: accuracy and per-class F1 per classifier (NaN: a class neither true nor predicted)."""
    from sklearn.metrics import accuracy_score, f1_score
    counts = np.bincount(data.y, minlength=len(classes))
    head = "| classifier | accuracy | " + " | ".join(f"F1 {c} (n={n})" for c, n in zip(classes, counts)) + " |"
    lines = [head, "|" + "---|" * (2 + len(classes))]
    for name, pred in predictions.items():
        f1 = f1_score(data.y, pred, labels=range(len(classes)), average=None, zero_division=np.nan)
        lines.append(f"| {name} | {accuracy_score(data.y, pred):.3f} | " + " | ".join(f"{v:.3f}" for v in f1)
                     + " |")
    return "\n".join(lines)


def labelled_outputs(fused_bag, raw_bag, truth_topic, topic, label_gate=2.5):
    """Per output message of a fusion node: stamp, all objects, the objects with a position,
    and their ground-truth class (-1: none within ``label_gate`` m, or no truth at that time).
    """
    truths = ground_truth(raw_bag, truth_topic)
    truth_t = np.array([t for t, _ in truths])
    for t, obj in _clouds(fused_bag, topic):
        ti = _nearest(truth_t, t, 0.05)
        pos = obj[np.isfinite(obj["x"])] if len(obj) else obj
        xy = np.column_stack([pos["x"], pos["y"]]).astype(float) if len(pos) else np.zeros((0, 2))
        y = label(xy, truths[ti][1], label_gate) if ti is not None else np.full(len(pos), -1)
        yield t, obj, pos, y


def node_accuracy(fused_bag, raw_bag, truth_topic, topic="/fusion/early/objects", label_gate=2.5) -> dict:
    """Accuracy of early_fusion_node's published classes on objects with a radar position,
    split by which modalities the node had for the object.
    """
    hits = {"camera+radar": [], "radar only": []}
    for _, _, pos, y in labelled_outputs(fused_bag, raw_bag, truth_topic, topic, label_gate):
        correct = pos["class_id"].astype(int) == y
        both = pos["has_camera"] > 0.5
        for key, mask in (("camera+radar", both), ("radar only", ~both)):
            hits[key] += list(correct[mask & (y >= 0)])
    return {k: (float(np.mean(v)) if v else float("nan"), len(v)) for k, v in hits.items()}


def report(bag, truth_topic: str, model_files, params_file=None, out=None) -> str:
    """``fusion eval --model``: tables for a held-out drive (see module docstring).

    The first model also runs inside early_fusion_node over the recorded input
    node outputs; its published classes are scored end to end.
    """
    params_file = params_file or config_file("perception.yaml")
    models = [ef.EarlyFusionModel.load(m) for m in model_files]
    with tempfile.TemporaryDirectory() as tmp:
        data = collect(bag, truth_topic, params_file, tmp, model_files[0])
        fused_bag = out or str(Path(tmp) / "fused.mcap")
        run_graph(Path(tmp) / "inputs.mcap", params_file, fused_bag, nodes=("early_fusion_node",),
                  overrides={"early_fusion_node": {"model_file": str(model_files[0])}})
        topic = fusion_settings(params_file)["output_topic"]
        e2e = node_accuracy(fused_bag, bag, truth_topic, topic)
    preds = scores(models[0], data)
    for m in models[1:]:
        preds.update({k: v for k, v in scores(m, data).items() if k.startswith("early")})
    lines = [f"{len(data.y)} associated objects with ground truth ({len(np.unique(data.stamp))} radar scans)", "",
             table(data, preds), "", f"early_fusion_node output ({models[0].projection}), every object with a "
             "radar position and a ground-truth match:", "", "| objects | accuracy | n |", "|---|---|---|"]
    lines += [f"| {k} | {acc:.3f} | {n} |" for k, (acc, n) in e2e.items()]
    return "\n".join(lines)
