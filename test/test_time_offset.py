# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The time-offset (latency) estimator of fusion_nodes.core.latency on synthetic drives.

The reference velocity is the truth distorted as dead reckoning distorts it (a speed scale error, a
heading offset and a gyro drift); the fixes lag the truth by a known latency.
"""
import numpy as np
from hypothesis import given, settings, strategies as st

from fusion_nodes.core.latency import TimeOffsetConfig, TimeOffsetEstimator, lag_cramer_rao

RATE_REF, RATE_FIX = 50.0, 10.0


def _truth(t):
    """Speed 1-5 m/s, turning left and right: position and velocity (world, m and m/s) at times ``t``."""
    dt = 1e-3
    grid = np.arange(0.0, t[-1] + 1.0, dt)
    speed = 3.0 + 2.0 * np.sin(2 * np.pi * grid / 30.0)
    yaw = np.cumsum(0.2 * np.sin(2 * np.pi * grid / 20.0)) * dt
    vel = np.column_stack([speed * np.cos(yaw), speed * np.sin(yaw)])
    pos = np.cumsum(vel, axis=0) * dt
    at = lambda a: np.column_stack([np.interp(t, grid, a[:, i]) for i in range(2)])  # noqa: E731
    return at(pos), at(vel)


def _run(duration, lag, speed_scale=1.03, heading=0.05, drift=0.001, sigma=0.5, seed=0, moving=True, cfg=None):
    rng = np.random.default_rng(seed)
    est = TimeOffsetEstimator(cfg or TimeOffsetConfig())
    t_ref = np.arange(0.0, duration, 1.0 / RATE_REF)
    t_fix = np.arange(1.0, duration, 1.0 / RATE_FIX)
    _, v_ref = _truth(t_ref)
    p_fix, _ = _truth(t_fix - lag)                         # a fix stamped t describes t - lag
    if not moving:
        v_ref[:] = 0.0
        p_fix[:] = 0.0
    psi = heading + drift * t_ref                          # the reference's heading error grows
    c, s = np.cos(-psi), np.sin(-psi)
    v_ref = speed_scale * np.column_stack([c * v_ref[:, 0] - s * v_ref[:, 1], s * v_ref[:, 0] + c * v_ref[:, 1]])
    fixes = p_fix + rng.normal(0.0, sigma, p_fix.shape)
    k = 0
    for t, v in zip(t_ref, v_ref):
        while k < len(t_fix) and t_fix[k] <= t:
            est.measure(t_fix[k], fixes[k], np.eye(2) * sigma ** 2)
            k += 1
        est.reference(t, v, 0.0, 0.1 ** 2)
    return est


def test_a_lagging_fix_is_found_with_an_honest_uncertainty():
    est = _run(120.0, lag=0.12)
    print(f"offset {est.offset:.4f} +- {est.sigma:.4f} s; scale {est.ekf.x[3]:.4f}")
    assert est.observed and est.sigma < 0.02
    assert abs(est.offset - (-0.12)) < 3 * est.sigma
    # the reference's 3 % speed error is estimated as a nuisance, not mistaken for lag
    assert abs((1 + est.ekf.x[3]) * 1.03 - 1.0) < 0.005


def test_the_estimate_is_as_good_as_the_fixes_allow():
    """Over 12 noise draws the lag's error is what the Cramér-Rao bound of the same fixes says, no
    more (an inefficient estimator would need a longer drive), and the reported sigma is not below it
    (an overconfident one would mislead /diagnostics).
    """
    t_fix = np.arange(1.0, 60.0, 1.0 / RATE_FIX)
    _, v = _truth(t_fix - 0.1)
    bound = lag_cramer_rao(t_fix, v, 0.5)
    runs = [_run(60.0, lag=0.1, seed=seed) for seed in range(12)]
    rms = float(np.sqrt(np.mean([(e.offset + 0.1) ** 2 for e in runs])))
    sigma = float(np.mean([e.sigma for e in runs]))
    print(f"bound {bound:.4f} s, error RMS {rms:.4f} s, reported sigma {sigma:.4f} s")
    assert 0.7 * bound < rms < 1.3 * bound
    assert bound <= sigma < 1.5 * bound
    assert lag_cramer_rao(t_fix, np.zeros_like(v), 0.5) == np.inf   # standing: no information at all


def test_standing_still_holds_the_prior_and_says_so():
    cfg = TimeOffsetConfig(prior_offset=-0.05)
    est = _run(60.0, lag=0.12, moving=False, cfg=cfg)
    assert est.used > 500                                  # the fixes were used, they just carry no lag
    assert not est.observed and est.offset == -0.05 and est.sigma > 0.99 * cfg.prior_sigma
    assert est.summary()["time_offset_observed"] is False


def test_the_estimate_stays_within_its_bounds():
    cfg = TimeOffsetConfig(bounds=(-0.05, 0.05))
    est = _run(120.0, lag=0.3, cfg=cfg)
    assert -0.05 <= est.offset <= 0.05


def test_fixes_far_from_the_reference_restart_it_instead_of_locking_it_out():
    est = _run(40.0, lag=0.1)
    used, jumped = est.used, est.ekf.x[:2] + 50.0
    for k in range(12):                                    # a 50 m jump: every fix gated out
        t = 40.0 + 0.1 * (k + 1)
        est.measure(t, jumped, np.eye(2) * 0.25)
        est.reference(t + 0.01, np.array([3.0, 0.0]), 0.0, 0.01)
    assert est.rejected >= 10 and est.restarts == 1
    assert not est.observed and est.sigma > 0.15            # back to the prior, one fix since
    assert est.used == used + 1                            # the 11th fix started it again, the 12th was used


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(-50, 50), st.floats(-50, 50),
                          st.floats(1e-4, 1e4)), min_size=1, max_size=40))
def test_any_finite_input_keeps_a_finite_estimate_within_bounds(rows):
    est = TimeOffsetEstimator(TimeOffsetConfig())
    for k, (x, y, vx, vy, var) in enumerate(rows):
        est.measure(0.1 * k, np.array([x, y]), np.eye(2) * var)
        est.reference(0.1 * k + 0.05, np.array([vx, vy]), 0.0, 0.01)
    low, high = est.cfg.bounds
    assert low <= est.offset <= high and np.isfinite(est.sigma) and est.sigma > 0
    if est.ekf is not None:
        assert np.all(np.isfinite(est.ekf.x)) and np.all(np.isfinite(est.ekf.P))
