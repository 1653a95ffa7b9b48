# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion demo``: the simulated drive through imu_gps_node + kalman_fusion_node.

Simulates the drive, runs the graph offline once with the EKF and once with
the UKF, prints a table comparing GPS only, wheel-odometry dead reckoning,
EKF and UKF against the truth, checks the GPS outage and the multipath jump,
and writes a trajectory/error plot. With ``--bag`` and ``--params`` it runs
the user's own bag and parameters instead.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import evaluate, sim
from .offline import run_offline
from .paths import config_file

TRUTH, GPS, DR, FILTERED = "/ground_truth/odom", "/odometry/gps", "/wheel/odom", "/odometry/filtered"


def run_sim_demo(out: Path, params=None, seed: int = 1) -> dict:
    """Simulate, fuse with EKF and UKF, evaluate. Returns the summaries."""
    out.mkdir(parents=True, exist_ok=True)
    params = params or config_file("demo_sim.yaml")
    cfg = sim.SimConfig(seed=seed)
    bag = out / "sim.mcap"
    t = time.perf_counter()
    n = sim.write(cfg, bag)
    print(f"simulated {cfg.duration:.0f} s drive: {n} messages -> {bag} ({time.perf_counter() - t:.1f} s)")
    runs = {}
    for kind in ("ekf", "ukf"):
        t = time.perf_counter()
        res = run_offline(bag, params, out / f"{kind}.mcap", extra_params=[f"filter_type:={kind}"])
        wall = time.perf_counter() - t
        print(f"{kind.upper()}: {res.input_messages} messages, {res.published.get(FILTERED, 0)} estimates, "
              f"{res.duration:.0f} s of data in {wall:.1f} s ({res.duration / wall:.1f}x real time)")
        runs[kind] = out / f"{kind}.mcap"
    tracks = evaluate.load_tracks(runs["ekf"], [TRUTH, GPS, DR, FILTERED])
    truth = tracks[TRUTH]
    est = {"GPS only": tracks[GPS], "wheel odometry (DR)": tracks[DR], "EKF": tracks[FILTERED],
           "UKF": evaluate.load_tracks(runs["ukf"], [FILTERED])[FILTERED]}
    errs = {k: evaluate.errors(v, truth) for k, v in est.items()}
    summaries = {k: evaluate.summary(e) for k, e in errs.items()}
    print()
    print(evaluate.format_table(summaries, position_only=("GPS only",)))
    t0 = truth.t[0]
    shade = [(*cfg.gps_outage, "GPS outage"), (*cfg.multipath, "multipath")]
    print()
    for kind in ("EKF", "UKF"):
        summaries[kind]["events"] = _events(errs[kind], t0, cfg)
    _gps_multipath(errs["GPS only"], t0, cfg, summaries)
    for kind in ("EKF", "UKF"):
        ev = summaries[kind]["events"]
        print(f"{kind}: before outage max {ev['before']:.2f} m; during outage max {ev['outage_max']:.2f} m "
              f"(end {ev['outage_end']:.2f} m); 5 s after {ev['recovered']:.2f} m; "
              f"during multipath max {ev['multipath_max']:.2f} m (GPS-only {ev['gps_multipath']:.1f} m)")
    for kind in ("ekf", "ukf"):
        d = evaluate.last_diagnostics(runs[kind], "kalman_fusion_node: odom1").get("kalman_fusion_node: odom1", {})
        print(f"{kind.upper()} GPS input: {d.get('accepted', '?')} fixes fused, "
              f"{d.get('dropped.mahalanobis_pose', 0)} rejected by the gate "
              f"({int((cfg.multipath[1] - cfg.multipath[0]) * cfg.gps_rate)} multipath fixes in the drive)")
    png = out / "demo.png"
    evaluate.plot(est, truth, errs, png, [(a, b, s) for a, b, s in shade])
    print(f"\nplot: {png}")
    return summaries


def _window(err, t0, lo, hi):
    t = err.t - t0
    return err.pos[(t >= lo) & (t < hi)]


def _events(err, t0, cfg) -> dict:
    a, b = cfg.gps_outage
    m0, m1 = cfg.multipath
    return {"before": float(_window(err, t0, a - 20, a).max()),
            "before_median": float(np.median(_window(err, t0, a - 20, a))),
            "outage_max": float(_window(err, t0, a, b + 0.5).max()),
            "outage_end": float(_window(err, t0, b - 0.5, b)[-1]),
            "recovered": float(_window(err, t0, b + 5, b + 6).max()),
            "multipath_max": float(_window(err, t0, m0, m1 + 0.5).max())}


def _gps_multipath(gps_err, t0, cfg, summaries) -> None:
    # GPS stamps are late by the latency: look at the window shifted by it.
    m0, m1 = cfg.multipath
    worst = float(_window(gps_err, t0, m0 + cfg.gps_latency, m1 + cfg.gps_latency).max())
    for kind in ("EKF", "UKF"):
        summaries[kind]["events"]["gps_multipath"] = worst


def run_user_demo(bag, params, out: Path, truth=None) -> None:
    """Run the user's bag and params offline; evaluate when a truth topic is given."""
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    res = run_offline(bag, params, out / "fused.mcap")
    print(f"{res.input_messages} input messages, {res.duration:.1f} s of data in "
          f"{time.perf_counter() - t:.1f} s; published: {res.published}")
    if truth:
        est, tr, errs, s = evaluate.evaluate(out / "fused.mcap", truth, {"filtered": FILTERED})
        print(evaluate.format_table(s))
        evaluate.plot(est, tr, errs, out / "demo.png")
    else:
        tracks = evaluate.load_tracks(out / "fused.mcap", [FILTERED])
        tr = tracks[FILTERED]
        print(f"final position: x={tr.xy[-1, 0]:.3f} m, y={tr.xy[-1, 1]:.3f} m")
        evaluate.plot({"filtered": tr}, None, {}, out / "demo.png")   # no truth: none drawn
    print(f"output: {out / 'fused.mcap'}, plot: {out / 'demo.png'}")


