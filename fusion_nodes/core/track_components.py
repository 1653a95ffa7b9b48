# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The tracker's small components (:mod:`.tracking` composes them): gate, associator, initiators,
existence and deleter, one verb each (the table in :mod:`.tracking`'s docstring).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2

TENTATIVE, CONFIRMED = "tentative", "confirmed"


@dataclass(frozen=True)
class MahalanobisGate:
    """Admit a pair when ``d2`` is below the chi-square quantile ``probability`` of ``dof`` degrees."""

    probability: float = 0.99

    def admits(self, d2: np.ndarray, dof: int) -> np.ndarray:
        return d2 <= chi2.ppf(self.probability, dof)


@dataclass(frozen=True)
class NearestNeighbour:
    """Global nearest neighbour: the admitted assignment of least total ``d2 + ln det S``."""

    def assign(self, d2: np.ndarray, log_det: np.ndarray, admitted: np.ndarray) -> list[tuple[int, int]]:
        if d2.size == 0 or not admitted.any():
            return []
        cost = np.where(admitted, d2 + log_det, 0.0)
        big = 1e6 + np.abs(cost).max()
        rows, cols = linear_sum_assignment(np.where(admitted, cost, big))
        return [(int(r), int(c)) for r, c in zip(rows, cols) if admitted[r, c]]


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
