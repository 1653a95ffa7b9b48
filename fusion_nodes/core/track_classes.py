# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Class evidence of tracks: the belief fused over frames, and how well a detection's class scores fit it.

* :class:`ClassBelief` keeps a track's class probabilities, fused frame by
  frame with a late-fusion rule and fading toward uniform without evidence.
* :class:`ClassCompatibility` brings that belief into the data association.
  For track ``t`` with belief ``b_t`` and detection ``d`` with class scores
  ``s_d`` (normalised to sum 1), over ``C`` classes,

  ``LR_td = C * sum_c b_t(c) s_d(c)``

  is the likelihood ratio of the detection's class evidence under "this
  track's object" against an object of unknown class (``b = 1/C``): 1 says
  nothing, below 1 the classes disagree (a pedestrian's box near a pole's
  track), above 1 they agree. A pair with ``LR < min_ratio`` is not admitted
  and every pair's assignment cost gains ``-2 weight ln LR``, the class term
  of the pair's negative log-likelihood in the units of ``d2``. A track with
  no class evidence yet (uniform belief) has ``LR = 1`` with every detection.
  The kinematic gate and the NIS stay kinematic.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .late_fusion import DecisionTable, make_rule


@dataclass(frozen=True)
class ClassBelief:
    """Class probabilities of a track fused over frames with a late-fusion rule (default Bayes).

    Before each fusion the belief is tempered toward uniform, ``b <- b^lambda``
    (normalised) with ``lambda = 0.5^(dt / half_life)``: evidence older than a
    few half-lives fades, so a track that only the radar still sees
    drifts gracefully back to "unknown" instead of keeping a stale label.
    """

    n_classes: int
    rule: str = "bayes"
    half_life: float = 3.0

    def __post_init__(self):
        object.__setattr__(self, "_rule", make_rule(self.rule, self.n_classes))

    def decay(self, belief: np.ndarray, dt) -> np.ndarray:
        """``belief`` (C, or n x C) tempered over ``dt`` (s; scalar, or n)."""
        lam = 0.5 ** (np.maximum(dt, 0.0) / self.half_life)
        b = np.power(np.maximum(belief, 1e-12), np.asarray(lam)[..., None] if np.ndim(belief) > 1 else lam)
        return b / b.sum(axis=-1, keepdims=True)

    def fuse(self, belief: Optional[np.ndarray], scores: np.ndarray, weight: float, dt: float) -> np.ndarray:
        """One track's belief after one detection's ``scores`` (:meth:`fuse_many` of one row)."""
        prior = np.full(len(scores), np.nan) if belief is None else np.asarray(belief, float)
        return self.fuse_many(prior[None], np.asarray(scores, float)[None], weight, np.array([dt]))[0]

    def fuse_many(self, beliefs: np.ndarray, scores: np.ndarray, weight: float, dt: np.ndarray) -> np.ndarray:
        """Beliefs (n x C; a NaN row: a track with none yet) after one detection's scores each (n x C),
        weighted ``weight`` against the belief tempered over ``dt`` (n, s): the rule's vectorised
        :meth:`~fusion_nodes.core.late_fusion.Rule.fuse_table` over the n (prior, scores) pairs. A track
        without a belief takes the scores themselves.
        """
        s = np.clip(np.asarray(scores, float), 1e-6, None)
        out = s / s.sum(axis=1, keepdims=True)
        has = ~np.isnan(beliefs).any(axis=1)
        if has.any():
            n, C = int(has.sum()), s.shape[1]
            track, _ = DecisionTable.from_arrays("track", 0.0, C, self.decay(beliefs[has], np.asarray(dt)[has]))
            sensor, _ = DecisionTable.from_arrays("sensor", 0.0, C, s[has])
            fused = self._rule.fuse_table([track, sensor], [{0: i, 1: i} for i in range(n)], [1.0, weight])
            out[has] = fused.probabilities
        return out


@dataclass(frozen=True)
class ClassCompatibility:
    """Class evidence in the association (see the module docstring).

    Parameters
    ----------
    weight : float
        Weight ``w`` of ``-2 ln LR`` in the assignment cost (0: the cost stays kinematic).
    min_ratio : float
        Pairs with ``LR`` below this are not admitted (0: none refused).
    """

    weight: float = 1.0
    min_ratio: float = 0.0

    def ratio(self, beliefs: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """``LR`` (tracks x detections) of track beliefs (tracks x C) and detection scores (detections x C)."""
        s = np.clip(np.asarray(scores, float), 1e-6, None)
        s = s / s.sum(axis=1, keepdims=True)
        return beliefs.shape[1] * (beliefs @ s.T)

    def cost(self, beliefs: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(-2 w ln LR, LR >= min_ratio)``, both tracks x detections."""
        lr = self.ratio(beliefs, scores)
        return -2.0 * self.weight * np.log(np.clip(lr, 1e-12, None)), lr >= self.min_ratio


@dataclass(frozen=True)
class ClassFootprints:
    """Each class's ground footprint, and the one a track's class belief expects.

    ``table`` is C x 2 (length, width in m, one row per class); a track with
    belief ``b`` is given ``b @ table``, the footprint its class evidence
    expects (a track with no evidence, uniform, gets the mean of the classes).
    Shape-aware measurement models
    (:meth:`~fusion_nodes.core.track_models.MeasurementModel.with_footprints`)
    use it to predict what a sensor sees of the object's extent.
    """

    table: np.ndarray

    def __post_init__(self):
        t = np.reshape(np.asarray(self.table, float), (-1, 2))
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise ValueError("class footprints must be finite lengths and widths >= 0 m")
        object.__setattr__(self, "table", t)

    def expect(self, beliefs: np.ndarray) -> np.ndarray:
        """Footprints (n x 2, m) for class beliefs (n x C)."""
        return np.reshape(beliefs, (-1, len(self.table))) @ self.table


@dataclass(frozen=True)
class ClassDopplerSpread:
    """Each class's spread of radial speeds over its parts, and the variance a track's class belief expects.

    A radar return comes from one part of an object, and the parts of a
    walking pedestrian (limbs) or a cyclist (legs, wheels) move about the
    body's velocity: micro-Doppler. A cluster's mean Doppler over ``n``
    returns then scatters about the body's radial speed with variance
    ``sigma_c^2 / n`` on top of the sensor's own error. With per-class stds
    ``sigma_c`` (``stds``, m/s, one per class) a track of belief ``b`` expects

    ``var = sum_c b(c) sigma_c^2``     (m^2/s^2, per return)

    (a track with no class evidence, uniform, the mean of the classes). A
    single measurement noise for every cluster either lets a cyclist's
    one-return Doppler (sigma ~1.1 m/s) pull its track's velocity, and so its
    position along the line of sight, or throws away a car's (~0.35 m/s).
    ``fusion eval --tracking`` prints the pooled within-cluster spread per
    class of a drive with object truth, which is how these are measured.
    """

    stds: np.ndarray

    def __post_init__(self):
        s = np.ravel(np.asarray(self.stds, float))
        if not np.all(np.isfinite(s)) or np.any(s < 0):
            raise ValueError("class Doppler spreads must be finite speeds >= 0 m/s")
        object.__setattr__(self, "stds", s)

    def expect(self, beliefs: np.ndarray) -> np.ndarray:
        """Per-return radial speed variance (n, m^2/s^2) for class beliefs (n x C)."""
        return np.reshape(beliefs, (-1, len(self.stds))) @ self.stds ** 2
