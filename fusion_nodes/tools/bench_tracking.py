# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion bench``, the tracker part: cost per radar frame at 10 / 50 / 200 objects, next to its peer and limit.

One synthetic scene per size: objects moving at constant velocity in a
200 m square around a radar at the origin (position + Doppler, detection
probability 0.9, 10 clutter detections per scan, 13 Hz). After a warm-up that
confirms the tracks, the same frames go to

* the baseline: what any GNN tracker must do per frame, the track x
  detection Mahalanobis cost matrix and ``scipy.optimize.linear_sum_assignment``;
* fusion_nodes' core tracker (EKF per track, the perception config's components);
* the peer: the Stone Soup GNN tracker of :mod:`.track_peer` with the same models (at 10 and 50
  objects: it took ~4 s per frame at 50 here, and 200 objects are 16x the hypotheses, so a
  200-object run would take most of an hour; that row says so instead);
* the limit: one radar scan period, 1 / 13 s (a tracker slower than that falls behind).

Growth is the cost at 200 objects over the cost at 10 (x20 objects).
"""
from __future__ import annotations

import time

import numpy as np
from scipy.optimize import linear_sum_assignment

from fusion_nodes.core import track_models as tm
from fusion_nodes.core.track_filters import EkfTrackFilter
from fusion_nodes.core.track_components import ExistenceConfirmation
from fusion_nodes.core.tracking import Detections, Tracker

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


def _ours() -> Tracker:
    return Tracker(EkfTrackFilter(tm.ConstantVelocity(1.0)), initiator=ExistenceConfirmation(0.995))


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
    """One row per size: microseconds per frame of the baseline, ours, the peer (None: not run); tracks held."""
    from .track_peer import StoneSoupTracker
    out = []
    for n, n_ours, n_peer in zip(sizes, timed, peer_timed):
        frames = scene(n, warm + max(n_ours, n_peer))
        ours, peer = _ours(), StoneSoupTracker(1.0, 0.99, 3, 1.5, 6.0) if n_peer else None
        for f in frames[:warm]:
            ours.step(f)
            if peer:
                peer.step(f)
        base = _baseline(ours, frames[warm:warm + n_ours])
        t_ours = _per_frame(ours.step, frames[warm:warm + n_ours])
        t_peer = _per_frame(peer.step, frames[warm:warm + n_peer]) * 1e6 if peer else None
        out.append(dict(objects=n, baseline=base * 1e6, ours=t_ours * 1e6, peer=t_peer,
                        tracks_ours=len(ours.tracks()), tracks_peer=len(peer.tracks) if peer else None))
    return out


def print_section() -> None:
    print("\n== object tracker per radar frame (Doppler + position, 10 clutter, pd 0.9): fusion_nodes core vs "
          "Stone Soup GNN ==")
    print(f"  (baseline: cost matrix + linear_sum_assignment only; limit: one scan period {1e6 / RATE:,.0f} us)")
    print(f"  {'objects':>7} {'baseline us':>12} {'ours us':>10} {'Stone Soup us':>14} {'peer/ours':>10} "
          f"{'tracks ours/peer':>17} {'within limit':>13}")
    table = rows()
    for r in table:
        ok = "yes" if r["ours"] < 1e6 / RATE else "NO"
        peer = f"{r['peer']:>14,.0f} {r['peer'] / r['ours']:>9.1f}x" if r["peer"] else f"{'not run':>14} {'':>10}"
        print(f"  {r['objects']:>7} {r['baseline']:>12,.0f} {r['ours']:>10,.0f} {peer} "
              f"{r['tracks_ours']:>8}/{str(r['tracks_peer'] or '-'):<8} {ok:>13}")
    first, mid, last = table[0], table[1], table[-1]
    print(f"  growth 10 -> 200 objects (x20): ours x{last['ours'] / first['ours']:.1f}, baseline "
          f"x{last['baseline'] / first['baseline']:.1f}; 10 -> 50 (x5): ours x{mid['ours'] / first['ours']:.1f}, "
          f"Stone Soup x{mid['peer'] / first['peer']:.1f}")
