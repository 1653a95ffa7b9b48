# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion bench``, the tracker part: cost per radar frame at 10 / 50 / 200 objects, next to its peer and limit.

One synthetic scene per size: objects moving at constant velocity in a
200 m square around a radar at the origin (position + Doppler, detection
probability 0.9, 10 clutter detections per scan, 13 Hz). After a warm-up that
confirms the tracks, the same frames go to

* the baseline: what any GNN tracker must do per frame, the track x
  detection Mahalanobis cost matrix and ``scipy.optimize.linear_sum_assignment``;
* fusion_nodes' core tracker, bare: EKF per track, one R per frame, existence confirmation; with GNN and
  with JPDA (the frames' clutter density 1e-3 per m^2 m/s);
* fusion_nodes' core tracker as config/perception.yaml ships it (:func:`shipped_rows`): the same objects
  with a class each, seen as radar_node's clusters (points, Doppler, class scores) and camera_node's boxes
  at 15 Hz between the scans (class scores, false boxes), made frames by tracker_node's own conversions
  (:mod:`fusion_nodes.ros.tracks`: polar R per cluster, the boxes' bearing and ground range) outside the
  timing, through ``make_tracker`` with the shipped parameters: class belief, class-aware association,
  Doppler spread, per-pair gating, the camera's box model. Its radar and camera frames are timed apart;
* the peer: the Stone Soup GNN and JPDA trackers of :mod:`.track_peer` with the same models, at 10 and 50
  objects only (the GNN took 1.0 s a frame at 50 on an idle machine here, x6.6 its cost at 10 for x5
  the objects; the 200-object row is not run and says so);
* the limit: one radar scan period, 1 / 13 s (a tracker slower than that falls behind).

Growth is the cost at 200 objects over the cost at 10 (x20 objects).
"""
from __future__ import annotations

import time

import numpy as np
from scipy.optimize import linear_sum_assignment

from fusion_nodes.core import track_models as tm
from fusion_nodes.core.track_filters import EkfTrackFilter
from fusion_nodes.core.track_components import ExistenceConfirmation, NearestNeighbour
from fusion_nodes.core.track_jpda import JointProbabilistic
from fusion_nodes.core.tracking import Detections, Tracker
from fusion_nodes.ros import tracks as conv

RATE = 13.0
SIZES = (10, 50, 200)
SIGMA, DOPPLER_SIGMA = 0.5, 0.3


def scene(n: int, frames: int, seed: int = 0) -> list[Detections]:
    """``frames`` radar scans of ``n`` objects (see the module docstring)."""
    rng = np.random.default_rng(seed)
    p0 = rng.uniform(-100, 100, (n, 2))
    p0[:, 0] = np.abs(p0[:, 0]) + 5.0                      # in front of the radar
    v = rng.normal(0, 3, (n, 2))
    model, out = tm.PositionDoppler(), []
    for i in range(frames):
        t = 1000.0 + i / RATE
        k = np.hstack([p0 + v * (i / RATE), v])
        seen = rng.random(n) < 0.9
        z = model.predict(k[seen], tm.SensorPose()) + rng.normal(0, [SIGMA, SIGMA, DOPPLER_SIGMA], (seen.sum(), 3))
        clutter = np.column_stack([rng.uniform(5, 100, 10), rng.uniform(-100, 100, 10), rng.normal(0, 3, 10)])
        z = np.vstack([z, clutter])
        R = np.broadcast_to(np.diag([SIGMA ** 2, SIGMA ** 2, DOPPLER_SIGMA ** 2]), (len(z), 3, 3)).copy()
        out.append(Detections(t, "radar", model, tm.SensorPose(), z, R, detection_probability=0.9))
    return out


CAMERA_RATE, CAMERA_PD, CAMERA_FALSE = 15.0, 0.5, 3
CLASS_SPEED = (4.0, 1.2, 3.0, 0.0)          # m/s per axis, car / pedestrian / cyclist / pole


def _scores(rng, cls, n_classes: int, strength: float = 4.0) -> np.ndarray:
    """Per-detection class scores: a Dirichlet draw leaning to each detection's class (-1: uniform)."""
    alpha = np.ones((len(cls), n_classes))
    alpha[cls >= 0, cls[cls >= 0]] += strength
    return np.array([rng.dirichlet(a) for a in alpha]).reshape(-1, n_classes)


def _cloud(cols: dict, scores: np.ndarray, classes, t: float):
    """A PointCloud2 of ``cols`` and ``score_<class>`` columns, stamped ``t``, in base_link."""
    from sensor_msgs.msg import PointCloud2
    from std_msgs.msg import Header

    from fusion_nodes.ros import pointcloud
    from fusion_nodes.ros.convert import sec_to_stamp
    cols = {**cols, **{f"score_{c}": scores[:, i] for i, c in enumerate(classes)}}
    return pointcloud.write(PointCloud2(), cols, Header(stamp=sec_to_stamp(t), frame_id="base_link"))


def _radar(rng, t, k, cls, p) -> Detections:
    """A radar scan of the objects ``k`` (x y vx vy, base_link = world: the robot stands at the origin) as
    radar_node's clusters, made a frame by tracker_node's own conversion.
    """
    mount = conv.Mounting.from_mount(p["radar_mount"])
    sensor = mount.in_world((0.0, 0.0, 0.0))
    seen = rng.random(len(k)) < 0.9
    points = np.concatenate([1 + rng.poisson(2.0, seen.sum()), np.ones(10)])
    d = np.vstack([k[seen, :2] - mount.xy, np.column_stack([rng.uniform(5, 100, 10), rng.uniform(-100, 100, 10)])])
    r, a = np.hypot(d[:, 0], d[:, 1]), np.arctan2(d[:, 1], d[:, 0])
    r = r + rng.normal(0, p["radar_range_std"] / np.sqrt(points))
    a = a + rng.normal(0, p["radar_azimuth_std"] / np.sqrt(points))
    xy = mount.xy + np.column_stack([r * np.cos(a), r * np.sin(a)]) + rng.normal(0, p["radar_position_std"], d.shape)
    doppler = np.concatenate([tm.PositionDoppler().predict(k[seen], sensor)[:, 2], rng.normal(0, 3, 10)])
    cols = {"x": xy[:, 0], "y": xy[:, 1], "doppler_mean": doppler + rng.normal(0, 0.3, len(xy)), "points": points}
    scores = _scores(rng, np.concatenate([cls[seen], -np.ones(10, int)]), len(p["classes"]))
    return conv.radar_frame(_cloud(cols, scores, p["classes"], t), t, (0.0, 0.0, 0.0), p, mount, p["classes"])


def _camera(rng, t, k, cls, p) -> Detections:
    """Camera boxes (2 m wide, 1.5 m tall, pixel noise) of the objects in view and false ones, as camera_node
    detections, made a frame by tracker_node's own conversion.
    """
    cam = conv.CameraGeometry.from_params(p["camera_mount"], p["camera_intrinsics"])
    false = np.column_stack([rng.uniform(5, 60, CAMERA_FALSE), rng.uniform(-20, 20, CAMERA_FALSE)])
    xy = np.vstack([k[:, :2], false])
    c = (np.column_stack([xy, np.zeros(len(xy))]) - cam.t) @ cam.R            # optical frame: z forward
    fx, fy, cx, cy = cam.K[0, 0], cam.K[1, 1], cam.K[0, 2], cam.K[1, 2]
    u = cx + fx * c[:, 0] / c[:, 2]
    seen = (c[:, 2] > 1.0) & (u >= 0) & (u < cam.width) & np.concatenate(
        [rng.random(len(k)) < CAMERA_PD, np.ones(CAMERA_FALSE, bool)])
    depth, u = c[seen, 2], u[seen]
    bottom, top = cy + fy * c[seen, 1] / depth, cy + fy * (c[seen, 1] - 1.5) / depth
    cols = {"u": u + rng.normal(0, 3.0, len(u)), "v": (top + bottom) / 2 + rng.normal(0, 2.0, len(u)),
            "width_px": fx * 2.0 / depth, "height_px": bottom - top}
    labels = np.concatenate([cls, -np.ones(CAMERA_FALSE, int)])[seen]
    scores = _scores(rng, labels, len(p["classes"]))
    return conv.camera_frame(_cloud(cols, scores, p["classes"], t), t, (0.0, 0.0, 0.0), p, cam, p["classes"])


def shipped_scene(n: int, seconds: float, p: dict, seed: int = 0) -> list[Detections]:
    """Radar scans and camera frames of ``n`` classed objects over ``seconds``, in stamp order (the scene of
    :func:`scene`; each object's speed by its class).
    """
    rng = np.random.default_rng(seed)
    cls = rng.integers(0, len(p["classes"]), n)
    p0 = rng.uniform(-100, 100, (n, 2))
    p0[:, 0] = np.abs(p0[:, 0]) + 5.0
    v = rng.normal(0, 1, (n, 2)) * np.take(CLASS_SPEED, cls % len(CLASS_SPEED))[:, None]
    stamps = [(i / RATE, _radar) for i in range(int(seconds * RATE))] + \
             [(0.011 + i / CAMERA_RATE, _camera) for i in range(int(seconds * CAMERA_RATE))]
    return [make(rng, 1000.0 + t, np.hstack([p0 + v * t, v]), cls, p) for t, make in sorted(stamps, key=lambda e: e[0])]


def shipped_params() -> dict:
    """tracker_node's parameters as config/perception.yaml sets them."""
    from fusion_nodes.ros.model_files import config_file
    from .track_compare import _tracker_section
    return _tracker_section(config_file("perception.yaml"))


def shipped_rows(sizes=SIZES, warm: float = 1.5, timed=(3.0, 1.5, 0.8), **overrides) -> list[dict]:
    """Per size: microseconds per radar and per camera frame of the shipped tracker (after ``warm`` s);
    ``overrides``: parameters changed from the shipped ones (``association="jpda"``).
    """
    from fusion_nodes.nodes.tracker_node import make_tracker
    p, out = {**shipped_params(), **overrides}, []
    for n, seconds in zip(sizes, timed):
        tracker = make_tracker(p)
        frames = shipped_scene(n, warm + seconds, p)
        spent = {"radar": [], "camera": []}
        for f in frames:
            t0 = time.perf_counter()
            tracker.step(f)
            if f.stamp >= 1000.0 + warm:
                spent[f.sensor].append(time.perf_counter() - t0)
        out.append(dict(objects=n, radar=np.mean(spent["radar"]) * 1e6, camera=np.mean(spent["camera"]) * 1e6,
                        tracks=len(tracker.tracks(min_existence=p["publish_existence"]))))
    return out


def _ours(association: str = "gnn") -> Tracker:
    return Tracker(EkfTrackFilter(tm.ConstantVelocity(1.0)), initiator=ExistenceConfirmation(0.995),
                   associator=JointProbabilistic() if association == "jpda" else NearestNeighbour())


def _per_frame(step, frames) -> float:
    """Mean wall time (s) of ``step(frame)`` over ``frames``."""
    t0 = time.perf_counter()
    for f in frames:
        step(f)
    return (time.perf_counter() - t0) / len(frames)


def _baseline(tracker: Tracker, frames) -> float:
    """Cost matrix + Hungarian assignment of the tracker's tracks against each frame (no update): the least a
    GNN tracker does per frame. The tracks' states are taken once, outside the timing.
    """
    X = np.array([t.k for t in tracker.tracks(confirmed_only=False)]).reshape(-1, 4)
    model = tm.PositionDoppler()

    def step(f):
        zhat = model.predict(X, f.origin)
        y = f.z[None] - zhat[:, None]
        Sinv = np.linalg.inv(f.R[0] + np.eye(3))                # a representative innovation covariance
        d2 = np.einsum("tdi,ij,tdj->td", y, Sinv, y)
        linear_sum_assignment(np.where(d2 < 11.3, d2, 1e6))
    return _per_frame(step, frames)


def rows(sizes=SIZES, warm=8, timed=(20, 10, 5), peer_timed=(4, 2, 0)) -> list[dict]:
    """One row per size: microseconds per frame of the baseline, ours and the peer (None: not run), each with
    GNN and with JPDA (``ours_jpda``, ``peer_jpda``); tracks held.
    """
    from .track_peer import StoneSoupTracker
    out = []
    for n, n_ours, n_peer in zip(sizes, timed, peer_timed):
        frames = scene(n, warm + max(n_ours, n_peer))
        ours = {a: _ours(a) for a in ("gnn", "jpda")}
        peers = {a: StoneSoupTracker(1.0, 0.99, 3, 1.5, 6.0, association=a) for a in ("gnn", "jpda")} if n_peer else {}
        for f in frames[:warm]:
            for tracker in (*ours.values(), *peers.values()):
                tracker.step(f)
        row = dict(objects=n, baseline=_baseline(ours["gnn"], frames[warm:warm + n_ours]) * 1e6)
        for a, suffix in (("gnn", ""), ("jpda", "_jpda")):
            row["ours" + suffix] = _per_frame(ours[a].step, frames[warm:warm + n_ours]) * 1e6
            row["peer" + suffix] = _per_frame(peers[a].step, frames[warm:warm + n_peer]) * 1e6 if peers else None
            row["tracks_ours" + suffix] = len(ours[a].tracks())
            row["tracks_peer" + suffix] = len(peers[a].tracks) if peers else None
        out.append(row)
    return out


def print_section() -> None:
    print("\n== object tracker per radar frame (Doppler + position, 10 clutter, pd 0.9): fusion_nodes core vs "
          "Stone Soup, GNN and JPDA ==")
    print(f"  (baseline: cost matrix + linear_sum_assignment only; limit: one scan period {1e6 / RATE:,.0f} us)")
    print(f"  {'objects':>7} {'baseline us':>12} {'ours us':>10} {'Stone Soup us':>14} {'peer/ours':>10} "
          f"{'tracks ours/peer':>17} {'JPDA ours us':>13} {'Stone Soup us':>14} {'peer/ours':>10} "
          f"{'tracks ours/peer':>17} {'within limit':>13}")
    table = rows()
    for r in table:
        ok = "yes" if max(r["ours"], r["ours_jpda"]) < 1e6 / RATE else "NO"
        cells = []
        for suffix in ("", "_jpda"):
            peer, ours = r["peer" + suffix], r["ours" + suffix]
            cells.append((f"{peer:>14,.0f} {peer / ours:>9.1f}x" if peer else f"{'not run':>14} {'':>10}")
                         + f" {r['tracks_ours' + suffix]:>8}/{str(r['tracks_peer' + suffix] or '-'):<8}")
        print(f"  {r['objects']:>7} {r['baseline']:>12,.0f} {r['ours']:>10,.0f} {cells[0]} "
              f"{r['ours_jpda']:>13,.0f} {cells[1]} {ok:>13}")
    first, mid, last = table[0], table[1], table[-1]
    print(f"  growth 10 -> 200 objects (x20): ours x{last['ours'] / first['ours']:.1f}, JPDA "
          f"x{last['ours_jpda'] / first['ours_jpda']:.1f}, baseline x{last['baseline'] / first['baseline']:.1f}; "
          f"10 -> 50 (x5): ours x{mid['ours'] / first['ours']:.1f}, Stone Soup x{mid['peer'] / first['peer']:.1f}, "
          f"Stone Soup JPDA x{mid['peer_jpda'] / first['peer_jpda']:.1f}")
    print_shipped(table)


def print_shipped(bare: list[dict]) -> None:
    """The shipped configuration's rows (:func:`shipped_rows`) next to the bare tracker's of the same run."""
    print(f"\n  as config/perception.yaml ships it (per-detection R, class belief and association, Doppler spread, "
          f"camera boxes at {CAMERA_RATE:g} Hz):")
    shipped = shipped_params()["association"]
    other = "gnn" if shipped == "jpda" else "jpda"
    print(f"  (association {shipped}; beside it the same with association {other})")
    print(f"  {'objects':>7} {'bare radar us':>14} {'radar us':>10} {'camera us':>10} {'tracks':>7} "
          f"{'one core':>9} {other + ' radar':>11} {other + ' camera':>12} {'one core':>9} {'within limit':>13}")
    table, alt = shipped_rows(), shipped_rows(association=other)
    for r, j, b in zip(table, alt, bare):
        # the share of one core that a second of data takes: 13 radar scans and 15 camera frames
        load = (RATE * r["radar"] + CAMERA_RATE * r["camera"]) / 1e6
        load_j = (RATE * j["radar"] + CAMERA_RATE * j["camera"]) / 1e6
        ok = "yes" if max(r["radar"], j["radar"]) < 1e6 / RATE and max(load, load_j) < 1.0 else "NO"
        print(f"  {r['objects']:>7} {b['ours']:>14,.0f} {r['radar']:>10,.0f} {r['camera']:>10,.0f} {r['tracks']:>7} "
              f"{load:>8.0%} {j['radar']:>11,.0f} {j['camera']:>12,.0f} {load_j:>8.0%} {ok:>13}")
    print(f"  growth 10 -> 200 objects (x20): radar x{table[-1]['radar'] / table[0]['radar']:.1f}, "
          f"camera x{table[-1]['camera'] / table[0]['camera']:.1f}; {other} radar "
          f"x{alt[-1]['radar'] / alt[0]['radar']:.1f}, camera x{alt[-1]['camera'] / alt[0]['camera']:.1f}")
