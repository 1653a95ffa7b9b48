# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion bench``, the perception part: camera, radar, early and late fusion, each with a trivial baseline and
its scaling table (radar points 1k / 10k / 50k; objects 10 / 50 / 200 for matching and late fusion).
"""
from __future__ import annotations

import timeit

import numpy as np

RADAR_LIMIT_MS = 50.0       # per scan of 50,000 detections
LATE_LIMIT_MS = 2.0         # per set of 200 objects x 2 inputs


def _us(fn, number=200, repeat=5) -> float:
    """Median over ``repeat`` runs of the mean cost of ``fn`` in microseconds."""
    return float(np.median(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6)


def camera_rows() -> list[tuple[str, float]]:
    import cv2
    from fusion_nodes.core import vision
    from . import perception_sim
    sc = perception_sim.load_scenario()
    sc["camera"].update(width=640, height=480, fx=520.0, fy=520.0)
    sim = perception_sim.PerceptionSim(sc)
    _, img_msg = sim._camera(12.0)[0]
    data, K = bytes(img_msg.data), sim.K
    img = vision.to_bgr(data, 640, 480, 3 * 640, "bgr8")

    def camera_frame():
        frame = vision.to_bgr(data, 640, 480, 3 * 640, "bgr8")
        return [vision.features(frame, b, K) for b in vision.segment(frame)]
    return [("baseline: cv2.GaussianBlur 640x480", _us(lambda: cv2.GaussianBlur(img, (5, 5), 0), 200)),
            (f"camera frame 640x480 ({len(camera_frame())} detections)", _us(camera_frame, 20))]


def radar_scene(n: int, rng):
    """``n`` detections in a 100 m scene: half on 100 objects (0.7 m spread), half clutter up to 2 m high."""
    from fusion_nodes.core import radar
    k = n // 2
    objects = np.vstack([rng.normal([0, 0, 0.5], 0.7, (k // 100, 3)) + c
                         for c in rng.uniform([-50, -50, 0], [50, 50, 0], (100, 3))])
    xyz = np.vstack([objects, rng.uniform([-50, -50, 0], [50, 50, 2], (n - len(objects), 3))])
    return radar.RadarScan(1.0, xyz, rng.normal(0, 3, n), rng.normal(0, 5, n), rng.uniform(0, 30, n))


def radar_rows(eps: float = 1.5) -> list[tuple[int, float, float, int]]:
    """``(points, ms per scan, ms baseline, clusters)``: gate, ego-motion, cluster, features at the default eps."""
    from fusion_nodes.core import radar
    rng = np.random.default_rng(0)
    rows = []
    for n in (1_000, 10_000, 50_000):
        scan = radar_scene(n, rng)

        def one():
            s = radar.gate(scan, 0.5, 100.0, 5.0)
            res = radar.doppler_residual(s, np.array([5.0, 0, 0]))
            labels = radar.cluster(s.xyz, eps, 2)
            return radar.cluster_features(s, labels, res, 0.5)
        base = _us(lambda: np.linalg.norm(scan.xyz, axis=1), 20) / 1e3
        rows.append((n, _us(one, 3 if n > 10_000 else 10) / 1e3, base, len(one())))
    return rows


def early_fusion_row(rng) -> list[tuple[str, float]]:
    """Per-set cost (µs) of early fusion's core: associate 8 detections with 10 clusters, classify."""
    from fusion_nodes.core import early_fusion as ef
    from fusion_nodes.core.geometry import rpy_to_matrix
    from fusion_nodes.ros.model_files import load_early_fusion
    model = load_early_fusion("early_fusion_model.json")
    R, t = rpy_to_matrix(-np.pi / 2, 0.0, -np.pi / 2), np.array([1.5, 0.0, 1.4])
    K = np.array([[260.0, 0, 160], [0, 260.0, 120], [0, 0, 1]])
    xyz = np.column_stack([rng.uniform(5, 40, 10), rng.uniform(-10, 10, 10), np.full(10, 0.8)])
    uv, _ = ef.project_to_image(xyz[:8], R, t, K)
    wh = np.full((8, 2), 30.0)
    cam = rng.normal(size=(8, len(ef.CAMERA_INPUTS)))
    rad = rng.normal(size=(10, len(ef.RADAR_INPUTS)))
    imu = rng.normal(size=len(ef.IMU_INPUTS))

    def fuse_set():
        pairs = ef.associate(uv, wh, xyz, R, t, K)
        ic, jr = [i for i, _ in pairs], [j for _, j in pairs]
        return model.predict_proba(cam[ic], rad[jr], imu)
    return [("baseline: 8x10 distance matrix", _us(lambda: np.hypot(uv[:, None, 0] - uv[None, :, 0], 1.0), 2000)),
            (f"early fusion set: associate 8 x 10, classify {len(fuse_set())}", _us(fuse_set, 500))]


def late_rows() -> list[tuple[int, str, float, float, float]]:
    """``(objects, rule, ms matching only, ms per set vectorised, ms per set with the per-decision loop)``.

    A set is two inputs of N objects each: matched by position (Hungarian), then fused.
    """
    from fusion_nodes.core import matching
    from fusion_nodes.core.late_fusion import DecisionTable, make_rule
    rng = np.random.default_rng(2)
    rows = []
    for n in (10, 50, 200):
        xy = np.column_stack([rng.uniform(5, 80, n), rng.uniform(-40, 40, n)])
        lists = [matching.ObjectList(xy=xy), matching.ObjectList(xy=xy + rng.normal(0, 0.3, xy.shape))]
        tables = [DecisionTable.from_arrays(s, 0.0, 4, probabilities=rng.dirichlet(np.ones(4), n))[0]
                  for s in ("radar", "camera")]
        for rule_name in ("majority", "bayes"):
            rule = make_rule(rule_name, 4)

            def vectorised():
                groups = matching.group(lists, "position", 2.0, 0.06, (1.5, 0.0))
                return rule.fuse_table(tables, groups, [0.6, 0.4])

            def loop():
                groups = matching.group(lists, "position", 2.0, 0.06, (1.5, 0.0))
                return [rule.fuse([tables[i].decision(g[i]) if i in g else None for i in range(2)], [0.6, 0.4])
                        for g in groups]
            match = _us(lambda: matching.group(lists, "position", 2.0, 0.06, (1.5, 0.0)), 20) / 1e3
            rows.append((n, rule_name, match, _us(vectorised, 20) / 1e3, _us(loop, 3) / 1e3))
    return rows


def print_section() -> None:
    print("\n== perception: camera and early fusion (µs per frame / set, median of 5 runs) ==")
    rng = np.random.default_rng(1)
    for name, us in camera_rows() + early_fusion_row(rng):
        print(f"  {name:<48} {us:10.1f}")
    print(f"\n== radar scan: gate, ego-motion, cluster (eps 1.5 m), features; 100 m scene (limit "
          f"{RADAR_LIMIT_MS:g} ms at 50k) ==")
    print(f"  {'points':>7} {'ms/scan':>8} {'baseline ms':>12} {'clusters':>9}   (baseline: norms of the points)")
    for n, ms, base, k in radar_rows():
        print(f"  {n:>7} {ms:>8.1f} {base:>12.2f} {k:>9}")
    print(f"\n== late fusion: match 2 inputs of N objects and fuse (ms per set; limit {LATE_LIMIT_MS:g} ms at 200) ==")
    print(f"  {'objects':>7} {'rule':<9} {'matching':>9} {'match+fuse':>11} {'with a per-decision loop':>25}")
    for n, rule, match, vec, loop in late_rows():
        print(f"  {n:>7} {rule:<9} {match:>9.2f} {vec:>11.2f} {loop:>25.2f}")
