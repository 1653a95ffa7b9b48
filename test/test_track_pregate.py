# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The gate's lower bound (track_components.pair_mahalanobis) changes nothing but the work done.

A pair whose bound ``max_i y_i^2 / S_ii`` the gate rejects is left unfactorised; these tests hold its
result equal to factorising every pair, on random pairs (hypothesis) and on the shipped tracker's frames.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from fusion_nodes.core import tracking
from fusion_nodes.core.track_components import MahalanobisGate, mahalanobis, pair_mahalanobis
from fusion_nodes.nodes.tracker_node import make_tracker
from fusion_nodes.tools.bench_tracking import shipped_params, shipped_scene


def _every_pair(HPH, R, y, admits=None, extra=None):
    """The reference: an S for every pair, every one factorised."""
    S = HPH[:, None] + R[None]
    if extra is not None:
        S[..., extra[0], extra[0]] += extra[1]
    return mahalanobis(S, y)


def _pd(rng, n, m, scale):
    A = rng.normal(size=(n, m, m)) * scale
    return A @ A.transpose(0, 2, 1) + 1e-3 * np.eye(m)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 12), st.integers(1, 15), st.integers(2, 3),
       st.floats(0.5, 0.9999), st.booleans(), st.floats(0.01, 100.0))
def test_the_bound_leaves_every_admitted_pair_and_its_distance_as_the_full_factorisation(
        seed, n_t, n_d, m, probability, spread, spacing):
    rng = np.random.default_rng(seed)
    HPH, R = _pd(rng, n_t, m, rng.uniform(0.1, 3.0)), _pd(rng, n_d, m, rng.uniform(0.1, 3.0))
    R[rng.random(n_d) < 0.1] = 0.0            # a degenerate detection covariance ...
    HPH[rng.random(n_t) < 0.1] *= -1.0        # ... and a track's gone indefinite: inadmissible both ways
    y = rng.normal(size=(n_t, n_d, m)) * spacing
    extra = (m - 1, rng.uniform(0.0, 4.0, (n_t, n_d))) if spread else None
    gate = MahalanobisGate(probability)
    got = pair_mahalanobis(HPH, R, y, lambda b: gate.admits(b, m), extra)
    want = _every_pair(HPH, R, y, extra=extra)
    admitted_got, admitted_want = (gate.admits(d2, m) & np.isfinite(d2) for d2, _ in (got, want))
    np.testing.assert_array_equal(admitted_got, admitted_want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g[admitted_want], w[admitted_want], rtol=1e-9)
    # and the bound did skip pairs when the detections lie far from the tracks
    if spacing > 50 and n_t * n_d > 20:
        assert np.isinf(got[0]).sum() > np.isinf(want[0]).sum()


def test_the_bound_is_below_the_distance_it_stands_for():
    rng = np.random.default_rng(3)
    S, y = _pd(rng, 500, 3, 2.0), rng.normal(size=(500, 3)) * 5
    d2 = mahalanobis(S[:, None], y[:, None])[0][:, 0]
    bound = (y ** 2 / np.diagonal(S, axis1=1, axis2=2)).max(axis=1)
    assert np.all(bound <= d2 * (1 + 1e-12))
    assert np.max(bound / d2) > 0.9                 # and tight for some: a bound, not a guess


def test_the_shipped_tracker_tracks_the_same_with_the_bound_as_with_every_pair(monkeypatch):
    p = shipped_params()
    frames = shipped_scene(40, 2.0, p, seed=5)

    def run():
        tracker, out = make_tracker(p), []
        for f in frames:
            tracker.step(f)
            out.append([(t.id, t.k.tolist(), t.P.tolist(), t.existence) for t in tracker.tracks(confirmed_only=False)])
        return out
    fast = run()
    monkeypatch.setattr(tracking, "pair_mahalanobis", _every_pair)
    assert run() == fast
    assert len(fast[-1]) >= 30                    # the scene's objects are tracked (40, clutter aside)


def test_an_innovation_covariance_with_two_negative_eigenvalues_is_inadmissible_despite_its_positive_determinant():
    S = np.diag([-1.0, -2.0, 3.0])[None, None]               # det 6 > 0, not a covariance
    d2, log_det = mahalanobis(S, np.array([[[0.5, 0.5, 0.5]]]))
    assert np.isinf(d2).all() and np.isinf(log_det).all()
    ok = mahalanobis(np.diag([1.0, 2.0, 3.0])[None, None], np.array([[[1.0, 2.0, 3.0]]]))[0]
    assert ok[0, 0] == np.float64(1.0 + 2.0 + 3.0)
