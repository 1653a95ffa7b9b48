# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The tracker's small components (:mod:`.tracking` composes them): gate, associator, initiators,
existence and deleter, one verb each (the table in :mod:`.tracking`'s docstring).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Optional

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2

TENTATIVE, CONFIRMED = "tentative", "confirmed"


@dataclass(frozen=True)
class MahalanobisGate:
    """Admit a pair when ``d2`` is below the chi-square quantile ``probability`` of ``dof`` degrees."""

    probability: float = 0.99

    def admits(self, d2: np.ndarray, dof: int) -> np.ndarray:
        return d2 <= _chi2_quantile(self.probability, dof)


@lru_cache(maxsize=64)
def _chi2_quantile(probability: float, dof: int) -> float:
    """The chi-square quantile (scipy's takes 0.14 ms a call; the gate asks twice a frame for the same few)."""
    return float(chi2.ppf(probability, dof))


def mahalanobis(S: np.ndarray, y: np.ndarray, extra=None) -> tuple[np.ndarray, np.ndarray]:
    """``d2 = y^T S^-1 y`` and ``ln det S`` for residuals ``y`` (tracks x detections x m).

    ``S`` is tracks x detections x m x m, or tracks x 1 x m x m when one R serves the whole frame (one
    factorisation per track then). A pair whose ``S`` is not positive definite is inadmissible:
    ``d2 = inf`` (a degenerate input must not stop the tracker).
    ``extra``: ``(r, c)`` with ``c`` tracks x detections: each pair's ``S`` has ``c`` more on its diagonal
    element ``r`` (the Doppler spread), by the rank-one identities (``e`` the unit vector ``r``, ``a = S^-1 y``)

    ``d2' = d2 - c a_r^2 / (1 + c (S^-1)_rr)``,   ``ln det S' = ln det S + ln(1 + c (S^-1)_rr)``

    so the per-track factorisations still serve every pair.
    """
    sign, log_det = np.linalg.slogdet(S)
    # positive definite by Sylvester's criterion: a positive determinant alone admits an S with two
    # negative eigenvalues (and a negative d2)
    good = (sign > 0) & np.isfinite(log_det)
    for k in range(1, S.shape[-1]):
        good &= np.linalg.det(S[..., :k, :k]) > 0
    inv = np.zeros_like(S)
    if np.any(good):
        inv[good] = np.linalg.inv(S[good])
    a = np.einsum("tdij,tdj->tdi", np.broadcast_to(inv, y.shape[:2] + S.shape[-2:]), y)
    d2 = np.einsum("tdi,tdi->td", y, a)
    log_det = np.broadcast_to(log_det, d2.shape)
    if extra is not None:
        r, c = extra
        h = 1.0 + c * np.broadcast_to(inv[..., r, r], d2.shape)
        d2, log_det = d2 - c * a[..., r] ** 2 / h, log_det + np.log(h)
    good = np.broadcast_to(good, d2.shape)
    return np.where(good, d2, np.inf), np.where(good, log_det, np.inf)


def pair_mahalanobis(HPH: np.ndarray, R: np.ndarray, y: np.ndarray, admits: Callable[[np.ndarray], np.ndarray],
                     extra=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`mahalanobis` of every track-detection pair with ``S = HPH_t + R_d``, factorised only where a gate
    could admit the pair.

    For any ``S`` positive definite and any component ``i``, Cauchy-Schwarz on ``S^(1/2) e_i`` and
    ``S^(-1/2) y`` gives ``y^T S^-1 y >= y_i^2 / S_ii``: the largest of these over the components is a lower
    bound of ``d2`` that costs one division per pair. A pair whose bound ``admits`` rejects (a gate that
    admits ``d2`` below a threshold rejects the pair's ``d2`` too) gets ``d2 = ln det S = inf`` unfactorised;
    the others get exactly what :func:`mahalanobis` gives. With T tracks and D detections spread over a scene
    most of the T x D pairs are far apart, so this leaves a few per track of the T x D m x m inversions.

    ``HPH``: tracks x m x m; ``R``: detections x m x m; ``y``: tracks x detections x m; ``extra``: as for
    :func:`mahalanobis`.
    """
    diag = np.diagonal(HPH, axis1=1, axis2=2)[:, None] + np.diagonal(R, axis1=1, axis2=2)[None]
    if extra is not None:
        diag[..., extra[0]] += extra[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        # a non-positive S_ii is no bound (the factorisation then finds S inadmissible)
        bound = np.where(diag > 0, y ** 2 / diag, 0.0).max(axis=-1)
    ti, di = np.nonzero(admits(bound) | ~np.isfinite(bound))
    d2, log_det = np.full(bound.shape, np.inf), np.full(bound.shape, np.inf)
    if len(ti):
        S = HPH[ti] + R[di]
        if extra is not None:
            S[:, extra[0], extra[0]] += extra[1][ti, di]
        near = mahalanobis(S[:, None], y[ti, di][:, None])
        d2[ti, di], log_det[ti, di] = near[0][:, 0], near[1][:, 0]
    return d2, log_det


class Associator(ABC):
    """Which detection belongs to which track: association weights from the gated pair statistics."""

    @abstractmethod
    def weigh(self, d2: np.ndarray, log_det: np.ndarray, admitted: np.ndarray, dim: int,
              detection_probability: float = 0.8, clutter_density: float = 1e-3) -> np.ndarray:
        """Weights (tracks x detections, each row summing to at most 1) of each detection in each track's update.

        ``d2``: each pair's ``y^T S^-1 y`` (plus any extra cost, e.g. class evidence), ``log_det``: ``ln det S``,
        ``admitted``: the gate's verdict, ``dim``: the measurement's dimension; ``detection_probability`` and
        ``clutter_density`` (false detections per unit volume of the measurement space) are the sensor's.
        """


@dataclass(frozen=True)
class NearestNeighbour(Associator):
    """Global nearest neighbour: the admitted assignment of least total ``d2 + ln det S``, as 0 / 1 weights."""

    def weigh(self, d2, log_det, admitted, dim, detection_probability=0.8, clutter_density=1e-3):
        w = np.zeros(np.shape(d2))
        if d2.size == 0 or not admitted.any():
            return w
        cost = np.where(admitted, d2 + log_det, 0.0)
        big = 1e6 + np.abs(cost).max()
        rows, cols = linear_sum_assignment(np.where(admitted, cost, big))
        keep = admitted[rows, cols]
        w[rows[keep], cols[keep]] = 1.0
        return w


@dataclass(frozen=True)
class MOfN:
    """Confirm a tentative track after ``m`` hits in its first ``n`` looks; give it up when that is out of reach."""

    m: int = 3
    n: int = 5

    def status(self, hits: deque, existence: float = 1.0) -> Optional[str]:
        """CONFIRMED, TENTATIVE, or None (cannot be confirmed any more); ``existence`` is not used."""
        if sum(hits) >= self.m:
            return CONFIRMED
        return TENTATIVE if hits.count(False) <= self.n - self.m else None


@dataclass(frozen=True)
class ExistenceConfirmation:
    """Confirm a tentative track once its existence probability reaches ``confirm``; give it up below
    ``give_up`` (IPDA-style confirmation).

    With several sensors M-of-N counts every frame alike, so a sensor that
    sees an object in one frame of four (a camera behind a segmenter) fills
    the window with misses and real objects fail confirmation. Existence
    weighs each hit and miss by its own sensor's detection probability
    (:class:`Existence`), which is the multi-sensor form of the same test.
    ``n`` is the length of the hit history kept (reported, not decisive).
    """

    confirm: float = 0.95
    give_up: float = 0.1
    n: int = 5

    def status(self, hits: deque, existence: float = 1.0) -> Optional[str]:
        if existence >= self.confirm:
            return CONFIRMED
        return TENTATIVE if existence >= self.give_up else None


@dataclass(frozen=True)
class Existence:
    """Existence probability: Bayes on hit / miss with the frame's detection probability ``pd`` and
    ``p_false`` (the chance a non-object gets a detection), and a survival ``survival`` per second.
    """

    p_false: float = 0.1
    survival: float = 0.98

    def revise(self, p: float, hit: Optional[bool], dt: float, pd: float = 0.8) -> float:
        p *= self.survival ** max(dt, 0.0)
        if hit is None:
            return p
        a, b = (pd, self.p_false) if hit else (1 - pd, 1 - self.p_false)
        return p * a / (p * a + (1 - p) * b)


@dataclass(frozen=True)
class Deleter:
    """Delete a track unseen for ``max_coast`` s, too uncertain (position std above ``max_position_std``
    m), or unlikely to exist (existence below ``min_existence``).
    """

    max_coast: float = 1.5
    max_position_std: float = 6.0
    min_existence: float = 0.05

    def expired(self, track: Any, P_pos: np.ndarray, now: float) -> bool:
        (a, b), (_, c) = P_pos
        largest = 0.5 * (a + c) + np.hypot(0.5 * (a - c), b)        # the larger eigenvalue of a 2 x 2
        return (now - track.last_update > self.max_coast or track.existence < self.min_existence
                or np.sqrt(max(largest, 0.0)) > self.max_position_std)
