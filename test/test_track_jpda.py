# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""JPDA association (core.track_jpda): marginals against brute force, the mixture update, the tracker."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fusion_nodes.core import track_models as tm
from fusion_nodes.core.track_components import NearestNeighbour
from fusion_nodes.core.track_filters import EkfTrackFilter
from fusion_nodes.core.track_jpda import JointProbabilistic, reduce_mixture
from fusion_nodes.core.tracking import Detections, DuplicateRemover, FieldOfView, Tracker

from test_tracking_core import _run, _scene


def _brute_force(d2, log_det, admitted, dim, pd, lam, pg):
    """Marginals by listing every joint event of the whole problem (no clusters, no pruning)."""
    T, D = d2.shape
    L = np.where(admitted, pd * np.exp(-0.5 * (d2 + log_det + dim * np.log(2 * np.pi))) / lam, 0.0)
    acc, total = np.zeros((T, D)), 0.0
    for event in itertools.product(*[[-1] + [j for j in range(D) if admitted[t, j]] for t in range(T)]):
        taken = [j for j in event if j >= 0]
        if len(taken) != len(set(taken)):
            continue
        w = np.prod([L[t, j] if j >= 0 else 1 - pd * pg for t, j in enumerate(event)])
        total += w
        for t, j in enumerate(event):
            if j >= 0:
                acc[t, j] += w
    return acc / total


problems = st.tuples(st.integers(1, 4), st.integers(1, 4)).flatmap(lambda s: st.tuples(
    arrays(float, s, elements=st.floats(0.0, 12.0)), arrays(float, s, elements=st.floats(-3.0, 3.0)),
    arrays(bool, s), st.floats(0.3, 0.99), st.floats(1e-4, 1.0)))


@settings(max_examples=200, deadline=None)
@given(problems)
def test_jpda_marginals_are_the_joint_events_marginals(problem):
    d2, log_det, admitted, pd, lam = problem
    jpda = JointProbabilistic(gate_probability=0.99, negligible=0.0)
    beta = jpda.weigh(d2, log_det, admitted, 2, pd, lam)
    np.testing.assert_allclose(beta, _brute_force(d2, log_det, admitted, 2, pd, lam, 0.99), rtol=1e-9, atol=1e-12)
    assert np.all(beta[~admitted] == 0)
    assert np.all(beta.sum(axis=1) <= 1 + 1e-12) and np.all(beta.sum(axis=0) <= 1 + 1e-12)


def test_one_track_is_pda_and_belief_propagation_agrees_there():
    d2, log_det = np.array([[1.0, 4.0, 9.0]]), np.zeros((1, 3))
    pd, lam, pg = 0.8, 0.01, 0.99
    L = pd * np.exp(-0.5 * (d2 + 2 * np.log(2 * np.pi))) / lam
    expected = L / (L.sum() + 1 - pd * pg)                   # the PDA weights (Bar-Shalom)
    exact = JointProbabilistic(pg, negligible=0.0).weigh(d2, log_det, np.ones((1, 3), bool), 2, pd, lam)
    bp = JointProbabilistic(pg, max_hypotheses=1, negligible=0.0).weigh(d2, log_det, np.ones((1, 3), bool), 2, pd, lam)
    np.testing.assert_allclose(exact, expected, rtol=1e-12)
    np.testing.assert_allclose(bp, expected, rtol=1e-9)


def test_a_cluster_above_max_hypotheses_takes_belief_propagation():
    rng = np.random.default_rng(3)
    d2 = rng.uniform(2, 6, (4, 4))
    np.fill_diagonal(d2, rng.uniform(0, 1, 4))           # each track has its own detection, the rest are near
    args = (d2, np.zeros_like(d2), np.ones_like(d2, bool), 2, 0.9, 0.1)
    exact = JointProbabilistic(0.99, negligible=0.0).weigh(*args)
    bp = JointProbabilistic(0.99, max_hypotheses=100, negligible=0.0).weigh(*args)    # 5^4 events: above
    assert not np.allclose(bp, exact, atol=1e-6)       # another computation ...
    np.testing.assert_allclose(bp, exact, atol=0.05)   # ... of nearly the same marginals here
    assert np.all(bp >= 0) and np.all(bp.sum(axis=1) <= 1 + 1e-12)
    assert np.all(np.argmax(bp, axis=1) == np.arange(4))


def test_negligible_weights_are_dropped_not_shared_out():
    """A far detection's marginal below ``negligible`` becomes 0 (no filter update for it); the others stay."""
    d2, log_det, admitted = np.array([[0.5, 16.0]]), np.zeros((1, 2)), np.ones((1, 2), bool)
    full = JointProbabilistic(negligible=0.0).weigh(d2, log_det, admitted, 2, 0.8, 0.01)
    pruned = JointProbabilistic(negligible=1e-3).weigh(d2, log_det, admitted, 2, 0.8, 0.01)
    assert 0 < full[0, 1] < 1e-3 and pruned[0, 1] == 0 and pruned[0, 0] == full[0, 0]


def test_separate_clusters_do_not_see_each_other():
    d2 = np.array([[1.0, np.inf], [np.inf, 2.0]])
    admitted = np.isfinite(d2)
    jpda = JointProbabilistic()
    both = jpda.weigh(d2, np.zeros((2, 2)), admitted, 2, 0.8, 0.01)
    alone = jpda.weigh(d2[:1, :1], np.zeros((1, 1)), admitted[:1, :1], 2, 0.8, 0.01)
    assert both[0, 0] == pytest.approx(alone[0, 0], rel=1e-12) and both[0, 1] == 0 and both[1, 0] == 0


def test_nearest_neighbour_weights_are_its_assignment():
    d2 = np.array([[1.0, 0.5], [0.4, 3.0], [9.0, 9.0]])
    w = NearestNeighbour().weigh(d2, np.zeros_like(d2), d2 < 5, 2)
    np.testing.assert_array_equal(w, [[0, 1], [1, 0], [0, 0]])


def test_mixture_reduction_matches_the_mixtures_moments():
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=4) for _ in range(3)]
    Ps = [np.diag(rng.uniform(0.1, 1, 4)) for _ in range(3)]
    w = np.array([0.2, 0.5, 0.3])
    x, P = reduce_mixture(tm.ConstantVelocity(1.0), xs, Ps, w)
    mean = sum(wk * xk for wk, xk in zip(w, xs))
    second = sum(wk * (Pk + np.outer(xk, xk)) for wk, xk, Pk in zip(w, xs, Ps))
    np.testing.assert_allclose(x, mean, atol=1e-12)
    np.testing.assert_allclose(P, second - np.outer(mean, mean), atol=1e-12)


def test_mixture_reduction_averages_headings_across_the_wrap():
    motion = tm.ConstantTurnRate(1.0, 0.1)
    a, b = np.zeros(motion.dim), np.zeros(motion.dim)
    a[3], b[3] = np.pi - 0.1, -np.pi + 0.1
    x, P = reduce_mixture(motion, [a, b], [np.eye(motion.dim) * 0.01] * 2, np.array([0.5, 0.5]))
    assert abs(abs(x[3]) - np.pi) < 1e-9          # pointing backwards, not forwards
    assert P[3, 3] == pytest.approx(0.01 + 0.01, rel=1e-9)


def test_jpda_tracks_the_crossing_objects_through_clutter():
    s = _run(Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5)), associator=JointProbabilistic()), _scene(1))
    assert s["id_switches"] == 0 and s["mota"] > 0.8
    assert s["position_rmse"] < 0.3 * np.sqrt(2)


def test_a_detection_between_two_tracks_moves_both_by_halves():
    """Two tracks equally near one detection: JPDA moves each by half of it (a nearest neighbour one by all of it)."""
    model = tm.Position()
    frames = [Detections(0.1 * i, "radar", model, tm.SensorPose(), np.array([[10.0, -0.4], [10.0, 0.4]]),
                         np.eye(2)[None].repeat(2, 0) * 0.04) for i in range(1, 6)]
    mid = Detections(0.6, "radar", model, tm.SensorPose(), np.array([[10.0, 0.0]]), np.eye(2)[None] * 0.04,
                     initiates=False, clutter_density=1e-6)
    moved, hits = {}, {}
    for name, assoc in (("gnn", NearestNeighbour()), ("jpda", JointProbabilistic())):
        tracker = Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5)), associator=assoc,
                          merger=DuplicateRemover(enabled=False))
        for f in frames:
            tracker.step(f)
        before = {t.id: t.k[1] for t in tracker.tracks(at=0.6)}
        hits[name] = tracker.step(mid).assigned
        moved[name] = sorted(abs(t.k[1] - before[t.id]) for t in tracker.tracks())
    assert moved["gnn"][0] == pytest.approx(0.0, abs=1e-12) and moved["gnn"][1] > 0.1
    assert moved["jpda"][0] == pytest.approx(moved["jpda"][1], rel=1e-6) and 0 < moved["jpda"][0] < moved["gnn"][1]
    assert hits == {"gnn": 1, "jpda": 0}


def test_a_detection_is_one_tracks_hit_at_most():
    """Two tracks and two detections of one object between them (a split cluster, a duplicate): each track
    gets half of each detection, weights summing to 1, and neither counts a hit; a duplicate track would
    otherwise live on such shares. GNN gives each one detection and both a hit.
    """
    model = tm.Position()
    frames = [Detections(0.1 * i, "radar", model, tm.SensorPose(), np.array([[10.0, -0.4], [10.0, 0.4]]),
                         np.eye(2)[None].repeat(2, 0) * 0.04) for i in range(1, 6)]
    both = Detections(0.6, "radar", model, tm.SensorPose(), np.array([[10.0, 0.0], [10.0, 0.0]]),
                      np.eye(2)[None].repeat(2, 0) * 0.04, initiates=False, clutter_density=1e-6)
    hits = {}
    for name, assoc in (("gnn", NearestNeighbour()), ("jpda", JointProbabilistic())):
        tracker = Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5)), associator=assoc,
                          merger=DuplicateRemover(enabled=False))
        for f in frames:
            tracker.step(f)
        hits[name] = tracker.step(both).assigned
    assert hits == {"gnn": 2, "jpda": 0}


extreme = st.tuples(st.integers(1, 6), st.integers(1, 6)).flatmap(lambda s: st.tuples(
    arrays(float, s, elements=st.floats(0.0, 1e6)), arrays(float, s, elements=st.floats(-700.0, 700.0)),
    arrays(bool, s), st.floats(0.01, 0.99), st.floats(1e-12, 1e6), st.integers(1, 200)))


@settings(max_examples=300, deadline=None)
@given(extreme)
def test_jpda_weights_stay_probabilities_for_any_magnitude(problem):
    """A tiny S (ln det -700), a huge d2, a clutter density of 1e-12 or 1e6: no overflow, no NaN, on either path."""
    d2, log_det, admitted, pd, lam, max_hypotheses = problem
    beta = JointProbabilistic(0.99, max_hypotheses).weigh(d2, log_det, admitted, 3, pd, lam)
    assert np.all(np.isfinite(beta)) and np.all(beta >= 0) and np.all(beta[~admitted] == 0)
    assert np.all(beta.sum(axis=1) <= 1 + 1e-9) and np.all(beta.sum(axis=0) <= 1 + 1e-9)


def test_an_unmeasured_range_weighs_as_uniform_over_the_sensors_reach():
    """A range-less box's placeholder variance V would put ln V (27.6) into ln det S, and JPDA would give the
    box to no track; with the unmeasured range uniform over the camera's reach L its pair likelihood is the
    bearing's Gaussian over L, while a measured box's is untouched.
    """
    s_b, V, L, y_b = 4e-4, tm.NO_RANGE_VARIANCE, 60.0, 0.01
    R = np.array([np.diag([1e-4, V]), np.diag([1e-4, 25.0])])
    log_det = np.array([[np.log(s_b * V), np.log(s_b * 30.0)]])
    shifted = tm.unmeasured_log_det(log_det, R, L)
    d2 = y_b ** 2 / s_b                                        # the range term y_r^2 / V is ~0
    log_l = -0.5 * (d2 + shifted[0, 0] + 2 * np.log(2 * np.pi))
    assert log_l == pytest.approx(-0.5 * (d2 + np.log(2 * np.pi * s_b)) - np.log(L), rel=1e-12)
    assert shifted[0, 1] == log_det[0, 1]
    np.testing.assert_array_equal(tm.unmeasured(R), [[False, True], [False, False]])
    assert tm.unmeasured_log_det(log_det, R, np.inf) is log_det       # no reach: nothing to spread it over


def _camera_track(unmeasured_moves):
    """A track 20 m ahead, then one camera box without a range at a bearing 0.02 rad to its left."""
    tracker = Tracker(EkfTrackFilter(tm.ConstantVelocity(0.5)), associator=JointProbabilistic(),
                      merger=DuplicateRemover(enabled=False))
    model = tm.Position()
    for i in range(1, 6):
        tracker.step(Detections(0.1 * i, "radar", model, tm.SensorPose(), np.array([[20.0, 0.0]]),
                                np.eye(2)[None] * 0.04))
    (track,) = tracker._tracks
    before = track.x.copy()
    box = Detections(0.6, "camera", tm.BearingRange(), tm.SensorPose(), np.array([[0.02, 0.0]]),
                     np.diag([1e-4, tm.NO_RANGE_VARIANCE])[None], initiates=False, detection_probability=0.4,
                     fov=FieldOfView(60.0, 0.5), unmeasured_moves=unmeasured_moves)
    report = tracker.step(box)
    predicted = tracker.filter.predict(before, np.eye(len(before)), 0.1)[0]
    return report, track, predicted


def test_a_box_without_a_range_is_associated_by_its_bearing_only_if_asked():
    """With ``unmeasured_moves`` JPDA takes a range-less box as its track's and turns the track towards its
    bearing (with the placeholder variance's ln V in ln det S it would be given to no track); without it (the
    node's default, camera_rangeless_update false) the box is left out and the track keeps its prediction.
    """
    report, track, predicted = _camera_track(unmeasured_moves=True)
    assert report.assigned == 1 and track.hits[-1] and track.seen_by["camera"] == 0.6
    assert track.x[1] > predicted[1] + 0.05
    report, track, predicted = _camera_track(unmeasured_moves=False)
    assert report.assigned == 0 and "camera" not in track.seen_by
    np.testing.assert_allclose(track.x, predicted, atol=1e-9)
