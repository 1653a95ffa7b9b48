# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Joint probabilistic data association (JPDA) and the Gaussian mixture reduction its update needs.

Global nearest neighbour commits each track to one detection. Where objects crowd (a camera's boxes
of people walking together, radar clusters of a car beside a pole) the nearest is often the wrong one,
and the wrong update is taken at full weight. JPDA (Bar-Shalom and Fortmann) instead weighs every
detection in a track's gate by the probability that it is the track's, over all joint events that
give each detection to at most one track and each track at most one detection:

``P(theta) ~ prod_{(t, j) in theta} L_tj * prod_{t unassigned} (1 - P_D P_G)``,
``L_tj = P_D N(y_tj; 0, S_tj) / lambda``

with ``P_D`` the sensor's detection probability, ``P_G`` the gate's probability mass and ``lambda``
the clutter density (false detections per unit volume of the measurement space). The marginal
``beta_tj = sum_{theta with (t, j)} P(theta) / sum_theta P(theta)`` is the weight of detection ``j`` in
track ``t``'s update, ``1 - sum_j beta_tj`` that of "none of them". The events of a cluster (tracks and
detections linked by shared gates) are enumerated exactly up to ``max_hypotheses``; a larger cluster
takes the marginals loopy belief propagation gives (Williams and Lau) at a cost polynomial in the
cluster's size: on the tracking scenario's seed 11, 114 clusters of 5,032 took it, and of those that could
still be enumerated its largest marginal error had a median of 1e-4, a 90th percentile of 0.07, at most 0.28.

The update is the mixture of the track's one-detection posteriors, reduced to one Gaussian by moment
matching (:func:`reduce_mixture`), which holds for any filter (EKF, UKF) and a covariance per detection.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .track_components import Associator


@dataclass(frozen=True)
class JointProbabilistic(Associator):
    """JPDA associator: the marginal association probabilities of every track-detection pair.

    Parameters
    ----------
    gate_probability : float
        ``P_G``, the probability mass of the gate (the tracker's :class:`MahalanobisGate`).
    max_hypotheses : int
        Joint events enumerated per cluster at most; a cluster with more takes belief propagation.
    negligible : float
        Marginals below this are set to 0 (their mass goes to "none of them"): each non-zero one costs the
        track a filter update, and at 200 objects half the updates were of weights below 1e-3.
    """

    gate_probability: float = 0.99
    max_hypotheses: int = 5000
    negligible: float = 1e-3

    def weigh(self, d2: np.ndarray, log_det: np.ndarray, admitted: np.ndarray, dim: int,
              detection_probability: float = 0.8, clutter_density: float = 1e-3) -> np.ndarray:
        """``beta`` (tracks x detections): each pair's association probability; rows sum to at most 1.

        ``d2`` may carry extra cost terms (class evidence, ``-2 ln`` of a likelihood ratio); ``log_det``
        is ``ln det S`` of each pair, ``dim`` the measurement's dimension (for the Gaussian's constant).
        """
        beta = np.zeros(d2.shape)
        if d2.size == 0 or not admitted.any():
            return beta
        pd = float(detection_probability)
        log_l = np.where(admitted, np.log(pd) - 0.5 * (d2 + log_det + dim * np.log(2 * np.pi))
                         - np.log(clutter_density), -np.inf)
        miss = 1.0 - pd * self.gate_probability
        for tracks, dets in _clusters(admitted):
            sub = log_l[np.ix_(tracks, dets)]
            if _events_bound(np.isfinite(sub)) <= self.max_hypotheses:
                beta[np.ix_(tracks, dets)] = _exact(sub, np.log(miss))
            else:
                beta[np.ix_(tracks, dets)] = _belief_propagation(sub - np.log(miss))
        return np.where(beta >= self.negligible, beta, 0.0)


def _clusters(admitted: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Tracks and detections linked by shared gates (connected components of the bipartite gate graph)."""
    T, D = admitted.shape
    t, d = np.nonzero(admitted)
    graph = coo_matrix((np.ones(len(t)), (t, T + d)), shape=(T + D, T + D))
    _, label = connected_components(graph, directed=False)
    out = []
    for c in np.unique(label[t]):
        tracks = np.flatnonzero(label[:T] == c)
        dets = np.flatnonzero(label[T:] == c)
        out.append((tracks, dets))
    return out


def _events_bound(gated: np.ndarray) -> float:
    """An upper bound of a cluster's joint events: each track takes nothing or one of its gated detections."""
    return float(np.prod(1.0 + gated.sum(axis=1)))


def _exact(log_l: np.ndarray, log_miss: float) -> np.ndarray:
    """Marginals by enumerating every joint event (depth first over the tracks), weighed in logs: an event's
    weight is a product of one factor per track, which underflows where ratios of e^150 meet.
    """
    T, D = log_l.shape
    options = [np.flatnonzero(np.isfinite(log_l[t])) for t in range(T)]
    events, weights, choice = [], [], [-1] * T

    def visit(t: int, used: int, weight: float) -> None:
        if t == T:
            events.append(list(choice))
            weights.append(weight)
            return
        choice[t] = -1
        visit(t + 1, used, weight + log_miss)
        for j in options[t]:
            if not used >> int(j) & 1:
                choice[t] = int(j)
                visit(t + 1, used | (1 << int(j)), weight + log_l[t, j])
        choice[t] = -1

    visit(0, 0, 0.0)
    E, w = np.array(events), np.array(weights)
    p = np.exp(w - w.max())
    p /= p.sum()
    beta = np.zeros((T, D))
    for t in range(T):
        taken = E[:, t] >= 0
        np.add.at(beta[t], E[taken, t], p[taken])
    return beta


def _belief_propagation(log_psi: np.ndarray, iterations: int = 1000, tol: float = 1e-9) -> np.ndarray:
    """Marginals by loopy belief propagation on the association graph (Williams and Lau, 2014).

    With ``psi_tj = L_tj / (1 - P_D P_G)`` (given as ``ln psi``, -inf outside the gate) the messages from
    tracks to detections and back, ``mu_tj = psi_tj / (1 + sum_{j' != j} psi_tj' nu_j't)`` and
    ``nu_jt = 1 / (1 + sum_{t' != t} mu_t'j)``, converge (the paper proves it), and
    ``beta_tj = psi_tj nu_jt / (1 + sum_j' psi_tj' nu_j't)``: near the exact marginals (see the module
    docstring) at a cost polynomial in the cluster's size (T D (T + D) an iteration), where the joint
    events grow exponentially.
    """
    # beyond e^600 times the miss a pair is certain against it; the cap keeps the sums below overflow
    psi = np.exp(np.minimum(log_psi, 600.0))
    T, D = psi.shape
    # sums over the *other* entries by a product with (ones - eye), not total minus own: with one pair
    # 1e16 times the rest, the subtraction loses the rest (and the 1) to rounding
    rows_others, cols_others = np.ones((D, D)) - np.eye(D), np.ones((T, T)) - np.eye(T)
    nu = np.ones_like(psi)
    for _ in range(iterations):
        mu = psi / (1.0 + (psi * nu) @ rows_others)
        new = 1.0 / (1.0 + cols_others @ mu)
        done = np.max(np.abs(new - nu) / new) < tol       # relative: nu is ~1 / psi where psi is large
        nu = new
        if done:
            break
    row = psi * nu
    beta = row / (1.0 + row.sum(axis=1, keepdims=True))
    # on a graph with loops a detection's marginals can sum past 1 (1e-4 in a 3 x 3 of equal, certain pairs):
    # scaled back, so that no detection is shared out more than once
    cols = beta.sum(axis=0, keepdims=True)
    return beta / np.maximum(cols, 1.0)


def reduce_mixture(motion, xs: list, Ps: list, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One Gaussian with the mean and covariance of the mixture ``sum_k w_k N(xs_k, Ps_k)``.

    ``x = x_0 + sum_k w_k (x_k - x_0)``, ``P = sum_k w_k (P_k + d_k d_k^T)`` with ``d_k = x_k - x``; the
    differences are the motion model's (angles wrapped), ``weights`` are normalised here.
    """
    w = np.asarray(weights, float)
    w = w / w.sum()
    x0 = np.asarray(xs[0], float)
    x = motion.normalise(x0 + sum(wk * motion.difference(xk, x0) for wk, xk in zip(w, xs)))
    P = np.zeros_like(np.asarray(Ps[0], float))
    for wk, xk, Pk in zip(w, xs, Ps):
        d = motion.difference(xk, x)
        P = P + wk * (Pk + np.outer(d, d))
    return x, 0.5 * (P + P.T)
