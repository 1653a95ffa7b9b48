# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Multi-object tracking metrics: GOSPA, OSPA, CLEAR MOT (MOTA, ID switches), IDF1, RMSE, latency.

Definitions, with ``d`` the Euclidean distance (m) between a true object and
a track and ``c`` the cut-off:

* GOSPA (Rahmathullah, Garcia-Fernandez, Svensson 2017; ``alpha = 2``):
  ``GOSPA^p = min_assignment sum min(d, c)^p + c^p / 2 (|X| + |Y| - 2 |assigned|)``,
  split into localisation, missed and false parts.
* OSPA (Schuhmacher et al. 2008):
  ``OSPA^p = (min sum min(d, c)^p + c^p |n - m|) / max(n, m)``.
* CLEAR MOT (Bernardin and Stiefelhagen 2008): per frame, a truth keeps
  the track it was matched to if still within ``threshold``; the rest are
  matched by Hungarian assignment. ``MOTA = 1 - (misses + false positives +
  ID switches) / truths``.
* IDF1 (Ristani et al. 2016): the truth ids and track ids are matched once
  over the whole sequence to maximise the frames they coincide (within
  ``threshold``); ``IDF1 = 2 IDTP / (truth detections + track detections)``.
* Position / velocity RMSE over the CLEAR matches; latency = time from a
  true object's first frame to its first match; false tracks = track ids
  that never matched a truth.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist


def _assignment(X, Y, c, p):
    if len(X) == 0 or len(Y) == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    D = np.minimum(cdist(X, Y), c) ** p
    r, k = linear_sum_assignment(D)
    return r, k, D[r, k]


def gospa(X: np.ndarray, Y: np.ndarray, c: float = 5.0, p: int = 2) -> dict:
    """GOSPA between true positions ``X`` (n x 2) and estimates ``Y`` (m x 2), with its parts (m)."""
    X, Y = np.reshape(X, (-1, 2)), np.reshape(Y, (-1, 2))
    r, k, cost = _assignment(X, Y, c, p)
    real = cost < c ** p                       # pairs at the cut-off count as a miss plus a false track
    loc = cost[real].sum()
    missed, false = len(X) - real.sum(), len(Y) - real.sum()
    total = loc + c ** p / 2 * (missed + false)
    return {"gospa": total ** (1 / p), "localisation": loc ** (1 / p), "missed": int(missed), "false": int(false)}


def ospa(X: np.ndarray, Y: np.ndarray, c: float = 5.0, p: int = 2) -> float:
    """OSPA (m) between ``X`` (n x 2) and ``Y`` (m x 2); 0 when both are empty."""
    X, Y = np.reshape(X, (-1, 2)), np.reshape(Y, (-1, 2))
    n = max(len(X), len(Y))
    if n == 0:
        return 0.0
    _, _, cost = _assignment(X, Y, c, p)
    return float(((cost.sum() + c ** p * abs(len(X) - len(Y))) / n) ** (1 / p))


@dataclass(frozen=True)
class Frame:
    """One evaluation instant: true objects and tracks (ids, positions m, velocities m/s)."""

    t: float
    truth_ids: np.ndarray
    truth_xy: np.ndarray
    truth_v: np.ndarray
    track_ids: np.ndarray
    track_xy: np.ndarray
    track_v: np.ndarray


class TrackingMetrics:
    """Accumulate :class:`Frame` s; :meth:`summary` gives every metric of the module docstring."""

    def __init__(self, threshold: float = 2.0, cutoff: float = 5.0):
        self.threshold, self.cutoff = threshold, cutoff
        self.gospa, self.ospa = [], []
        self.n_truth = self.n_tracks = self.misses = self.false = self.switches = 0
        self.pos_err, self.vel_err = [], []
        self._last = {}                          # truth id -> track id of its last match
        self._first_seen, self._first_match = {}, {}
        self._pairs = defaultdict(int)           # (truth id, track id) -> frames within threshold
        self._truth_frames, self._track_frames = defaultdict(int), defaultdict(int)
        self._matched_tracks = set()
        self._track_ids = set()
        self.errors = {}                         # (t, truth id) -> (position error m, velocity error m/s)

    @classmethod
    def pooled(cls, parts: list["TrackingMetrics"]) -> "TrackingMetrics":
        """One accumulator holding several drives' frames, as if they were one long drive.

        Each drive's truth and track ids become ``(drive number from 1, id)``, so that drives never share an
        object: CLEAR counts, GOSPA / OSPA frames and errors are the drives' together, IDF1's one global
        id matching stays within each drive, and latency is the median over all drives' objects. Not the
        mean of the drives' metrics: a long drive weighs by its frames and objects. The result is for
        :meth:`summary` and :attr:`errors` (keys ``(t, (drive, truth id))``); frames are not added to it.
        """
        if not parts:
            raise ValueError("nothing to pool")
        out = cls(parts[0].threshold, parts[0].cutoff)
        for i, m in enumerate(parts, start=1):
            if (m.threshold, m.cutoff) != (out.threshold, out.cutoff):
                raise ValueError("drives scored with different thresholds or cut-offs do not pool")
            out.gospa += m.gospa
            out.ospa += m.ospa
            out.pos_err += m.pos_err
            out.vel_err += m.vel_err
            for name in ("n_truth", "n_tracks", "misses", "false", "switches"):
                setattr(out, name, getattr(out, name) + getattr(m, name))
            for name in ("_first_seen", "_first_match", "_truth_frames", "_track_frames"):
                getattr(out, name).update({(i, k): v for k, v in getattr(m, name).items()})
            out._pairs.update({((i, g), (i, h)): n for (g, h), n in m._pairs.items()})
            out._matched_tracks |= {(i, h) for h in m._matched_tracks}
            out._track_ids |= {(i, h) for h in m._track_ids}
            out.errors.update({(t, (i, g)): e for (t, g), e in m.errors.items()})
        return out

    def add(self, f: Frame) -> list[tuple[int, int]]:
        """Score one frame; returns its matches ``(truth id, track id)``."""
        self.gospa.append(gospa(f.truth_xy, f.track_xy, self.cutoff)["gospa"])
        self.ospa.append(ospa(f.truth_xy, f.track_xy, self.cutoff))
        self.n_truth += len(f.truth_ids)
        self.n_tracks += len(f.track_ids)
        D = cdist(np.reshape(f.truth_xy, (-1, 2)), np.reshape(f.track_xy, (-1, 2)))
        for g in f.truth_ids:
            self._first_seen.setdefault(int(g), f.t)
            self._truth_frames[int(g)] += 1
        for h in f.track_ids:
            self._track_frames[int(h)] += 1
            self._track_ids.add(int(h))
        for i, j in zip(*np.nonzero(D <= self.threshold)):
            self._pairs[int(f.truth_ids[i]), int(f.track_ids[j])] += 1
        matches = self._clear_matches(f, D)
        for i, j in matches:
            g, h = int(f.truth_ids[i]), int(f.track_ids[j])
            if g in self._last and self._last[g] != h:
                self.switches += 1
            self._last[g] = h
            self._first_match.setdefault(g, f.t)
            self._matched_tracks.add(h)
            self.pos_err.append(D[i, j])
            self.vel_err.append(float(np.linalg.norm(f.truth_v[i] - f.track_v[j])))
            self.errors[f.t, g] = (self.pos_err[-1], self.vel_err[-1])
        self.misses += len(f.truth_ids) - len(matches)
        self.false += len(f.track_ids) - len(matches)
        return [(int(f.truth_ids[i]), int(f.track_ids[j])) for i, j in matches]

    def _clear_matches(self, f: Frame, D: np.ndarray) -> list[tuple[int, int]]:
        """Keep last frame's correspondences within the threshold, assign the rest by Hungarian."""
        if D.size == 0:
            return []
        col = {int(h): j for j, h in enumerate(f.track_ids)}
        kept = [(i, col[self._last[int(g)]]) for i, g in enumerate(f.truth_ids)
                if int(g) in self._last and self._last[int(g)] in col
                and D[i, col[self._last[int(g)]]] <= self.threshold]
        rows = [i for i in range(D.shape[0]) if i not in {a for a, _ in kept}]
        cols = [j for j in range(D.shape[1]) if j not in {b for _, b in kept}]
        if rows and cols:
            sub = D[np.ix_(rows, cols)]
            r, k = linear_sum_assignment(np.where(sub <= self.threshold, sub, 1e6))
            kept += [(rows[a], cols[b]) for a, b in zip(r, k) if sub[a, b] <= self.threshold]
        return kept

    def idf1(self) -> float:
        truths = sorted(self._truth_frames)
        tracks = sorted(self._track_frames)
        total = sum(self._truth_frames.values()) + sum(self._track_frames.values())
        if not truths or not tracks or total == 0:
            return 0.0
        gi, hi = {g: a for a, g in enumerate(truths)}, {h: b for b, h in enumerate(tracks)}
        W = np.zeros((len(truths), len(tracks)))
        for (g, h), n in self._pairs.items():
            W[gi[g], hi[h]] = n
        r, k = linear_sum_assignment(-W)
        return float(2 * W[r, k].sum() / total)

    def summary(self) -> dict:
        latency = [self._first_match[g] - t0 for g, t0 in self._first_seen.items() if g in self._first_match]
        matched = len(self.pos_err)
        return {
            "gospa": float(np.mean(self.gospa)) if self.gospa else 0.0,
            "ospa": float(np.mean(self.ospa)) if self.ospa else 0.0,
            "mota": 1.0 - (self.misses + self.false + self.switches) / max(self.n_truth, 1),
            "idf1": self.idf1(),
            "id_switches": self.switches,
            "objects": len(self._first_seen),
            "switches_per_100": 100.0 * self.switches / max(len(self._first_seen), 1),
            "position_rmse": float(np.sqrt(np.mean(np.square(self.pos_err)))) if matched else float("nan"),
            "velocity_rmse": float(np.sqrt(np.mean(np.square(self.vel_err)))) if matched else float("nan"),
            "recall": matched / max(self.n_truth, 1),
            "latency": float(np.median(latency)) if latency else float("nan"),
            "false_tracks": len(self._track_ids - self._matched_tracks),
            "tracks": len(self._track_ids),
        }


def common_rmse(errors: list[dict]) -> tuple[int, list[tuple[float, float]]]:
    """Position and velocity RMSE of each run over the matches that *every* run made.

    ``errors``: one :attr:`TrackingMetrics.errors` per run (keys ``(t, truth id)``). The RMSE of
    :meth:`TrackingMetrics.summary` averages over each run's own matches: a run that also keeps the hard
    objects (crowded, far, just appearing) another loses is charged for them. Over the common matches the
    runs are compared on the same objects at the same instants. Returns the number of common matches and,
    per run, ``(position RMSE m, velocity RMSE m/s)`` (NaN with none).
    """
    keys = set.intersection(*(set(e) for e in errors)) if errors else set()
    out = []
    for e in errors:
        v = np.array([e[k] for k in keys]).reshape(-1, 2)
        out.append(tuple(float(np.sqrt(np.mean(np.square(c)))) if len(c) else float("nan") for c in v.T))
    return len(keys), out


@dataclass(frozen=True)
class RmseDifference:
    """How much one tracker's position or velocity RMSE differs from another's on their common matches, with a
    confidence interval (:func:`rmse_difference`).

    Attributes
    ----------
    matches, objects : int
        Common (instant, object) matches, and the objects they belong to.
    base, other : float
        m (m/s for velocity): each run's RMSE over the common matches.
    difference, low, high : float
        ``other - base`` and its bootstrap interval, in the same unit.
    level : float
        Confidence of ``low .. high``.
    largest : tuple
        ``(object id, sum over its matches of other's squared error minus base's)`` of the objects
        that move the difference most, largest magnitude first (none that do not move it).
    """

    matches: int
    objects: int
    base: float
    other: float
    difference: float
    low: float
    high: float
    level: float
    largest: tuple


def rmse_difference(base: dict, other: dict, resamples: int = 2000, level: float = 0.95, seed: int = 0,
                    show: int = 3, component: int = 0) -> RmseDifference:
    """Position (``component`` 0) or velocity (1) RMSE of ``other`` minus ``base`` over their common matches,
    with a cluster-bootstrap interval.

    ``base``, ``other``: :attr:`TrackingMetrics.errors` of two runs (keys ``(t, object id)``, values
    ``(position error m, velocity error m/s)``). A track's error is not independent from one instant to the
    next: one lost-and-refound track or one wrong association can move a whole run's RMSE (on the tracking
    scenario a single object often carries more than half of the difference between two trackers). The
    interval therefore resamples whole *objects* with replacement (``resamples`` times, a fixed ``seed`` so
    that two evaluations of one bag agree) and recomputes both RMSEs from each object's sums of squares,
    ``RMSE* = sqrt(sum_o w_o s_o / sum_o w_o n_o)`` with ``w`` the multinomial counts; ``low .. high`` are
    the ``(1 - level) / 2`` and ``(1 + level) / 2`` percentiles of ``RMSE*_other - RMSE*_base``. An interval
    that contains 0 says the two runs are not told apart on this drive.
    """
    keys = sorted(set(base) & set(other))
    if not keys:
        nan = float("nan")
        return RmseDifference(0, 0, nan, nan, nan, nan, nan, level, ())
    ids = sorted({k[1] for k in keys})
    column = {g: j for j, g in enumerate(ids)}
    idx = np.array([column[k[1]] for k in keys])
    sq = np.array([[base[k][component] ** 2, other[k][component] ** 2] for k in keys])
    n = np.bincount(idx, minlength=len(ids)).astype(float)
    s = np.column_stack([np.bincount(idx, sq[:, i], minlength=len(ids)) for i in (0, 1)])   # objects x 2
    w = np.random.default_rng(seed).multinomial(len(ids), np.full(len(ids), 1.0 / len(ids)), size=resamples)
    rmse = np.sqrt((w @ s) / (w @ n)[:, None])                                             # resamples x 2
    lo, hi = np.percentile(rmse[:, 1] - rmse[:, 0], [50 * (1 - level), 50 * (1 + level)])
    b, o = np.sqrt(s.sum(axis=0) / n.sum())
    moved = s[:, 1] - s[:, 0]
    order = [j for j in np.argsort(-np.abs(moved)) if moved[j] != 0][:show]
    return RmseDifference(len(keys), len(ids), float(b), float(o), float(o - b), float(lo), float(hi), level,
                          tuple((ids[j], float(moved[j])) for j in order))
