# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion eval BAG --tracking``: the tracker on each sensor alone, on both, on early-fused objects, and the
per-frame baselines (early-fused objects; radar clusters with their Doppler as velocity), scored on the same
drive.

Stage 1 runs the perception graph's input nodes (imu_gps_node,
kalman_fusion_node, camera_node, radar_node, early_fusion_node) offline over
the raw bag once. Stage 2 runs one tracker_node instance per variant over
those outputs, in one offline run, each with the params file's
``tracker_node`` parameters and its own inputs switched on or off, each
publishing on its own topic (the camera-only one with the few camera
parameters a lone camera needs). Every variant is then scored by
:func:`fusion_nodes.tools.track_eval.evaluate` against the bag's object
truth, in the same region, with the same ego poses. With the peer, the
radar + camera frames are also replayed through fusion_nodes' core tracker
and the Stone Soup GNN of :mod:`.track_peer` (and, when the configuration
associates by JPDA, the core with GNN and Stone Soup's JPDA), timed per frame.
"""
from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from .early_eval import INPUT_NODES, run_graph
from .offline import OfflineRunner
from .paths import config_file, load_yaml
from .track_eval import Region, evaluate

FUSED_TOPIC = "/fusion/early/objects"


@dataclass(frozen=True)
class Variant:
    """One tracker configuration: which inputs it takes (topic overrides of tracker_node's parameters)."""

    label: str
    node: str
    inputs: dict


VARIANTS = (
    Variant("radar only", "tracker_radar", {"camera_topic": "", "fused_topic": ""}),
    # a lone camera must start its own tracks and, as the only sensor, its misses mean more (tuned on seed 11);
    # nothing else moves its tracks, so every box does (at 0.5 s its MOTA on seed 23 fell from 0.14 to 0.02)
    Variant("camera only", "tracker_camera", {"radar_topic": "", "fused_topic": "", "camera_initiates": True,
                                              "camera_detection_probability": 0.5, "camera_range_std": 0.2,
                                              "confirmation": "m_of_n", "camera_update_interval": 0.0}),
    Variant("radar + camera", "tracker_both", {"fused_topic": ""}),
    Variant("early-fused objects", "tracker_fused", {"radar_topic": "", "camera_topic": "",
                                                      "fused_topic": FUSED_TOPIC}),
)
PER_FRAME = "early fusion per frame (no tracker)"
RADAR_PER_FRAME = "radar clusters per frame, Doppler velocity (no tracker)"
COLUMNS = (("gospa", "GOSPA m", "{:.2f}"), ("mota", "MOTA", "{:.3f}"), ("idf1", "IDF1", "{:.3f}"),
           ("switches_per_100", "IDsw/100 obj", "{:.1f}"), ("position_rmse", "pos RMSE m", "{:.2f}"),
           ("velocity_rmse", "vel RMSE m/s", "{:.2f}"), ("recall", "recall", "{:.2f}"),
           ("common_position_rmse", "pos RMSE common m", "{:.2f}"),
           ("common_velocity_rmse", "vel RMSE common m/s", "{:.2f}"), ("latency", "latency s", "{:.2f}"),
           ("false_tracks", "false tracks", "{:d}"),
           ("us_per_frame", "us/frame", "{:,.0f}"))


def _tracker_params(params_file, variants, overrides=None) -> dict:
    """One params-file entry per variant: the file's tracker_node parameters + the variant's inputs."""
    data = load_yaml(params_file)
    base = next((v["ros__parameters"] for k, v in data.items() if k.strip("/").split("/")[-1] == "tracker_node"),
                None)
    if base is None:
        raise ValueError(f"{params_file} has no tracker_node section")
    # deep copies: shared lists would be written as YAML aliases, which the ROS params parser refuses
    return {v.node: {"ros__parameters": copy.deepcopy({**base, **(overrides or {}), **v.inputs, "markers_topic": "",
                                                       "vision_topic": "", "output_topic": f"/tracks/{v.node}"})}
            for v in variants}


PEER = "Stone Soup GNN (radar + camera, same frames)"
PEER_JPDA = "Stone Soup JPDA (radar + camera, same frames)"
CORE = "fusion_nodes core (radar + camera, same frames)"
CORE_GNN = "fusion_nodes core with GNN (radar + camera, same frames)"
CEILING_ROWS = ("core, same frames: radar only", "core, same frames: radar + camera",
                "core, same frames: radar + truth-picked camera boxes (ceiling)")


def _tracker_section(params_file) -> dict:
    """tracker_node's parameters: its declared defaults with the params file's values on top."""
    from fusion_nodes.ros.tracker_params import specs
    data = load_yaml(params_file)
    given = next(v["ros__parameters"] for k, v in data.items() if k.strip("/").split("/")[-1] == "tracker_node")
    return {**{s.name: s.default for s in specs()}, **given}


def peer_rows(bag, inputs, work: Path, params_file, truth_topic, region, span, min_points=8, coast=0.3,
              jpda_min_points=14, jpda_coast=0.5) -> dict:
    """The Stone Soup peer and fusion_nodes' core tracker on the very same recorded frames, with the time
    each spends per frame (``us_per_frame``). The peer's ``min_points`` and ``coast`` were chosen on seed 11
    of the tracking scenario (8 / 0.3 s against 5 / 0.5 s: MOTA 0.15 against -1.03). The peer associates by
    global nearest neighbour; with ``association: jpda`` the core runs once more with GNN beside it, and the
    peer once more with Stone Soup's JPDA (the same clutter densities and detection probabilities), its own
    ``jpda_min_points`` / ``jpda_coast`` best of sixteen on seed 11 by GOSPA (14 / 0.5 s: 2.57, MOTA 0.846,
    IDF1 0.916, confirmed in 0.53 s; the GNN peer's 8 / 0.3 s: 3.02, 0.808, 0.779, 0.20 s).
    """
    from fusion_nodes.nodes.tracker_node import make_tracker

    from . import track_peer
    p = _tracker_section(params_file)
    frames = track_peer.recorded_frames(inputs, p)
    core = make_tracker(p)
    peer = track_peer.StoneSoupTracker(p["process_noise"], p["gate_probability"], min_points, coast,
                                       p["max_position_std"])
    # the core's published tracks are those above publish_existence, as the node's
    trackers = {CORE: ("core", core.step, lambda _t: core.tracks(min_existence=p["publish_existence"]))}
    if p["association"] != "gnn":
        gnn = make_tracker({**p, "association": "gnn"})
        trackers[CORE_GNN] = ("core_gnn", gnn.step, lambda _t: gnn.tracks(min_existence=p["publish_existence"]))
    trackers[PEER] = ("peer", peer.step, peer.states)
    if p["association"] == "jpda":
        jpda = track_peer.StoneSoupTracker(p["process_noise"], p["gate_probability"], jpda_min_points, jpda_coast,
                                           p["max_position_std"], association="jpda")
        trackers[PEER_JPDA] = ("peer_jpda", jpda.step, jpda.states)
    out = {}
    for label, (name, step, states) in trackers.items():
        spent = track_peer.run(frames, step, states, work / f"{name}.mcap", f"/tracks/{name}", p["classes"])
        out[label] = {**evaluate([bag, inputs, work / f"{name}.mcap"], f"/tracks/{name}", truth_topic,
                                 region=region, blackout=span), "us_per_frame": spent * 1e6}
    return out


def run(bag, params_file=None, truth_topic="/ground_truth/objects", workdir=None, overrides=None,
        variants=VARIANTS, region: Region = Region(), blackout=None, peer: bool = False,
        ceiling: bool = False) -> dict:
    """``label -> metrics`` of every variant and of the per-frame baseline on ``bag``.

    ``blackout``: ``(from, to)`` s after the simulation start of a sensor failure in the bag; each variant's
    metrics then include the ids kept across it and the belief in the true class before / at its end / after.
    ``peer``: also the Stone Soup peer and the core tracker on the same recorded frames (:func:`peer_rows`).
    ``ceiling``: also radar + only the camera boxes that truth calls clean (:mod:`.track_ceiling`).
    """
    from .sim import T0
    span = (T0 + blackout[0], T0 + blackout[1]) if blackout else None
    params_file = params_file or config_file("perception.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        inputs = work / "inputs.mcap"
        run_graph(bag, params_file, inputs, nodes=INPUT_NODES + ("early_fusion_node",))
        (work / "trackers.yaml").write_text(yaml.safe_dump(_tracker_params(params_file, variants, overrides)))
        runner = OfflineRunner(work / "trackers.yaml", node_types={v.node: "tracker_node" for v in variants})
        try:
            runner.run(inputs, work / "tracks.mcap", record_inputs=False)
        finally:
            runner.close()
        bags = [bag, inputs, work / "tracks.mcap"]
        out = {v.label: evaluate(bags, f"/tracks/{v.node}", truth_topic, region=region, blackout=span)
               for v in variants}
        out[PER_FRAME] = evaluate(bags, FUSED_TOPIC, truth_topic, region=region, per_frame=True)
        # what the radar's Doppler alone says of each object's velocity: the baseline the tracker's must beat
        p = _tracker_section(params_file)
        out[RADAR_PER_FRAME] = evaluate(bags, p["radar_topic"], truth_topic, region=region, per_frame=True,
                                        doppler_origin=p["radar_mount"][:2])
        if p["radar_topic"] and "radar only" in out:
            from .doppler_spread import within_cluster_spread
            out["radar only"]["doppler_spread"] = within_cluster_spread(bag, inputs, p["classes"], truth_topic,
                                                                        p["radar_topic"])
        if peer:
            out.update(peer_rows(bag, inputs, work, params_file, truth_topic, region, span))
        if ceiling:
            from .track_ceiling import ceiling_rows
            out.update(ceiling_rows(bag, inputs, work, {**p, **(overrides or {})}, truth_topic, region, span))
            out = with_common_rmse(out, CEILING_ROWS)
        return with_common_rmse(out)


COMMON_ROWS = ("radar only", "camera only", "radar + camera")


def with_common_rmse(results: dict, labels=COMMON_ROWS) -> dict:
    """``results`` with ``common_position_rmse`` / ``common_velocity_rmse`` for the tracker rows in ``labels``:
    their RMSE over the (instant, object) matches all of them made (:func:`~fusion_nodes.core.track_metrics.
    common_rmse`), so that the single-sensor and fused trackers are compared on the same objects; ``common``
    is how many matches that is.
    """
    from fusion_nodes.core.track_metrics import common_rmse
    rows = [k for k in labels if k in results]
    if len(rows) < 2:
        return results
    n, rmse = common_rmse([results[k]["errors"] for k in rows])
    for k, (pos, vel) in zip(rows, rmse):
        results[k] = {**results[k], "common_position_rmse": pos, "common_velocity_rmse": vel, "common": n}
    return results


BLACKOUT_COLUMNS = (("blackout_ids_kept", "ids kept", "{:d}"), ("blackout_objects", "of objects", "{:d}"),
                    ("p_true_class_before", "P(true class) before", "{:.2f}"),
                    ("p_true_class_end", "at its end", "{:.2f}"), ("p_true_class_after", "after", "{:.2f}"))


def table(results: dict) -> str:
    """A Markdown table of :func:`run`'s results (with the blackout columns when they were measured)."""
    columns = COLUMNS + (BLACKOUT_COLUMNS if any("blackout_objects" in m for m in results.values()) else ())
    head = "| tracker input | " + " | ".join(c[1] for c in columns) + " |"
    lines = [head, "|" + "---|" * (len(columns) + 1)]
    for label, m in results.items():
        cells = ["n/a" if k not in m or m[k] != m[k] else fmt.format(m[k]) for k, _, fmt in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


DIFFERENCE_PAIRS = (("radar only", "radar + camera"), ("camera only", "radar + camera"), CEILING_ROWS[:2],
                    (CEILING_ROWS[0], CEILING_ROWS[2]))


def differences(results: dict, pairs=DIFFERENCE_PAIRS) -> list[str]:
    """One line per pair of tracker rows in ``results``: the second's position and velocity RMSE minus the
    first's on their common matches, each with its 95 % interval over objects and the objects that carry most
    of it (:func:`~fusion_nodes.core.track_metrics.rmse_difference`).
    """
    from fusion_nodes.core.track_metrics import rmse_difference
    lines = []
    for a, b in pairs:
        if a not in results or b not in results:
            continue
        parts = []
        for component, unit in ((0, "m"), (1, "m/s")):
            d = rmse_difference(results[a]["errors"], results[b]["errors"], component=component)
            if not d.matches:
                break
            carriers = ", ".join(f"{g[1]} (drive {g[0]})" if isinstance(g, tuple) else str(g) for g, _ in d.largest)
            parts.append(f"{d.difference:+.3f} {unit} ({d.base:.3f} -> {d.other:.3f}; {d.low:+.3f} .. "
                         f"{d.high:+.3f}" + (f"; most from objects {carriers})" if carriers else ")"))
        if parts:
            lines.append(f"{b} minus {a}, RMSE on the {d.matches} matches both made ({d.objects} objects; "
                         f"{100 * d.level:.0f} % interval over objects): position {parts[0]}, velocity {parts[1]}")
    return lines


def pooled(drives: list) -> dict:
    """Several :func:`run` results (one per drive) as one drive: for every row that each drive has, its metrics
    over all the drives' frames and objects (:meth:`~fusion_nodes.core.track_metrics.TrackingMetrics.pooled`:
    objects keyed ``(drive number from 1, object id)``, so that they stay apart and :func:`differences`
    resamples them as objects), with the RMSE on the rows' common matches. Timings and blackout columns are
    per drive and not pooled.
    """
    from fusion_nodes.core.track_metrics import TrackingMetrics
    labels = [k for k in drives[0] if all("metrics" in d.get(k, {}) for d in drives)] if drives else []
    out = {}
    for label in labels:
        m = TrackingMetrics.pooled([d[label]["metrics"] for d in drives])
        out[label] = {**m.summary(), "errors": m.errors, "metrics": m}
    return with_common_rmse(with_common_rmse(out, CEILING_ROWS))
