# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Filters against known solutions; estimator ordering, lag, gating and 2-D mode."""
import numpy as np
import pytest
from scipy.stats import chi2

from fusion_nodes.core.estimator import EstimatorConfig, StateEstimator
from fusion_nodes.core.filters import FilterpyEkf, FilterpyUkf
from fusion_nodes.core.kalman import Ekf, Ukf
from fusion_nodes.core.measurement_models import StateSelection
from fusion_nodes.core.motion import ConstantAcceleration3D
from fusion_nodes.core.records import Measurement


def meas(t, idx, z, var, sensor="s", threshold=float("inf"), kind="k"):
    return Measurement(sensor, t, np.atleast_1d(z), np.eye(len(np.atleast_1d(z))) * var,
                       StateSelection(np.atleast_1d(idx)), threshold, kind)


@pytest.mark.parametrize("cls", [Ekf, Ukf, FilterpyEkf, FilterpyUkf])
def test_static_update_equals_information_weighted_mean(cls):
    # Prior x0 = 0 with variance 4, measurements 1.0 (var 1) and 3.0 (var 2):
    # posterior mean = (0/4 + 1/1 + 3/2) / (1/4 + 1 + 1/2) = 2.5/1.75, var = 1/1.75.
    f = cls(ConstantAcceleration3D(np.zeros(15)))
    f.set_state(np.zeros(15), np.eye(15) * 4.0)
    f.update(meas(0, 0, 1.0, 1.0))
    f.update(meas(0, 0, 3.0, 2.0))
    assert f.x[0] == pytest.approx(2.5 / 1.75, abs=1e-9)
    assert f.P[0, 0] == pytest.approx(1 / 1.75, abs=1e-9)


@pytest.mark.parametrize("cls", [Ekf, Ukf, FilterpyEkf, FilterpyUkf])
def test_constant_velocity_prediction_matches_closed_form(cls):
    # Linear part of the model: x' = x + v dt, P' = F P F^T + q dt.
    q = np.zeros(15)
    q[0] = 0.1
    f = cls(ConstantAcceleration3D(q))
    P = np.eye(15) * 1e-12  # tiny attitude spread: the UKF's cos(yaw) bias stays < 1e-9
    P[0, 0], P[6, 6] = 1.0, 0.25
    x = np.zeros(15)
    x[6] = 2.0
    f.set_state(x, P)
    f.predict(0.5)
    assert f.x[0] == pytest.approx(1.0, abs=1e-9)
    assert f.P[0, 0] == pytest.approx(1.0 + 0.25 * 0.25 + 0.1 * 0.5, rel=1e-6)
    assert f.P[0, 6] == pytest.approx(0.25 * 0.5, rel=1e-6)


@pytest.mark.parametrize("cls", [Ekf, Ukf, FilterpyEkf, FilterpyUkf])
def test_yaw_update_across_pi_wraps(cls):
    f = cls(ConstantAcceleration3D())
    x = np.zeros(15)
    x[5] = np.pi - 0.05
    f.set_state(x, np.eye(15) * 0.1)
    f.update(meas(0, 5, -np.pi + 0.05, 0.1))  # equal weights: the mean is the midpoint
    # The average of +179.9 deg and -179.9 deg is 180 deg, not 0.
    assert abs(abs(f.x[5]) - np.pi) < 1e-3


@pytest.mark.parametrize("cls", [Ekf, Ukf, FilterpyEkf, FilterpyUkf])
def test_mahalanobis_gate_rejects_outlier_and_keeps_state(cls):
    f = cls(ConstantAcceleration3D())
    f.set_state(np.zeros(15), np.eye(15))
    x0 = f.x.copy()
    r = f.update(meas(0, 0, 10.0, 1.0, threshold=3.0))  # 10/sqrt(2) = 7.1 sigma
    assert not r.accepted and r.nis == pytest.approx(50.0)
    np.testing.assert_array_equal(f.x, x0)
    assert f.update(meas(0, 0, 2.0, 1.0, threshold=3.0)).accepted


def _drive(order, cfg=None):
    """1-D constant-velocity track observed by two sensors; returns the estimator."""
    est = StateEstimator(cfg or EstimatorConfig(history_length=5.0))
    ms = []
    for k in range(1, 60):
        t = 0.1 * k
        ms.append(meas(t, [0], 1.5 * t + 0.01 * np.sin(7 * k), 0.01, "pos", kind="pos"))
        ms.append(meas(t + 0.03, [6], 1.5, 0.001, "vel", kind="vel"))
    for m in (ms if order == "sorted" else order(ms)):
        est.add([m])
        est.process()
    return est


def test_late_measurements_are_inserted_in_time_order():
    ref = _drive("sorted")

    def delayed(ms):
        # Every velocity message arrives 0.35 s late (after later positions).
        pos = [m for m in ms if m.sensor == "pos"]
        vel = [m for m in ms if m.sensor == "vel"]
        out = []
        for i, p in enumerate(pos):
            out.append(p)
            if i >= 4:
                out.append(vel[i - 4])
        return out + vel[len(pos) - 4:]
    late = _drive(delayed)
    np.testing.assert_allclose(late.filter.x, ref.filter.x, atol=1e-9)
    np.testing.assert_allclose(late.filter.P, ref.filter.P, atol=1e-9)
    assert late.stats["vel"].accepted == ref.stats["vel"].accepted == 59


def test_late_measurements_batched_into_one_replay_equal_one_by_one_insertion():
    # Several late messages between two process() calls (a tick) share one rewind and replay;
    # the result is that of inserting them one at a time, in time order or not.
    rng = np.random.default_rng(3)
    ms = []
    for k in range(1, 120):
        t = 0.05 * k
        ms.append(meas(t, [0], 1.5 * t + rng.normal(0, 0.1), 0.01, "pos", kind="pos"))
        ms.append(meas(t + 0.01, [6], 1.5 + rng.normal(0, 0.05), 0.001, "vel", kind="vel"))
    arrival = sorted(ms, key=lambda m: m.stamp + (0.4 if m.sensor == "vel" else 0.0) + rng.uniform(0, 0.1))
    one = StateEstimator(EstimatorConfig(history_length=2.0))
    batch = StateEstimator(EstimatorConfig(history_length=2.0))
    for i, m in enumerate(arrival):
        one.add([m])
        one.process()                      # each late message: its own replay
        batch.add([m])
        if i % 8 == 7:
            batch.process()                # eight messages per tick, late ones together
    batch.process()
    np.testing.assert_allclose(batch.filter.x, one.filter.x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(batch.filter.P, one.filter.P, rtol=0, atol=1e-12)
    # Counts equal (the arrival jitter reorders some of a sensor's own stamps: stamp_backwards). The
    # NIS sums differ by design: a message that arrives in the same tick as an older late one is first
    # evaluated after it, on the better prior.
    for sensor in ("pos", "vel"):
        a, b = batch.stats[sensor], one.stats[sensor]
        assert (a.received, a.accepted, a.rejected, dict(a.dropped)) == (b.received, b.accepted, b.rejected,
                                                                         dict(b.dropped))
        assert a.accepted > 90


def test_too_old_duplicate_and_backwards_stamps_are_dropped_and_counted():
    est = StateEstimator(EstimatorConfig(history_length=0.5))
    est.add([meas(10.0, 0, 0.0, 1.0, "a")])
    est.process()
    assert est.add([meas(10.0, 0, 0.0, 1.0, "a")]) == "duplicate_stamp"
    assert est.add([meas(9.9, 0, 0.0, 1.0, "a")]) == "stamp_backwards"
    assert est.add([meas(9.0, 0, 0.0, 1.0, "b")]) == "older_than_history"
    assert est.add([meas(9.8, 0, 0.0, 1.0, "b")]) is None  # late but within history
    est.process()
    d = est.stats
    assert d["a"].dropped == {"duplicate_stamp": 1, "stamp_backwards": 1}
    assert d["b"].dropped == {"older_than_history": 1} and d["b"].accepted == 1


def test_lagged_data_dropped_when_smoothing_disabled():
    est = StateEstimator(EstimatorConfig(smooth_lagged_data=False))
    est.add([meas(10.0, 0, 0.0, 1.0, "a")])
    est.process()
    assert est.add([meas(9.99, 0, 0.0, 1.0, "b")]) == "older_than_history"


def test_predict_only_when_sensors_silent_and_recovery():
    est = StateEstimator(EstimatorConfig())
    for k in range(1, 11):
        est.add([meas(k * 0.1, [0, 6], [k * 0.1, 1.0], 1e-4, "odo")])
        est.process()
    P_before = est.filter.P[0, 0]
    est.advance(3.0)
    assert est.time == pytest.approx(3.0)
    assert est.filter.x[0] == pytest.approx(3.0, abs=0.05)   # kept moving at ~1 m/s
    assert est.filter.P[0, 0] > P_before                      # and grew less certain
    est.add([meas(3.1, [0, 6], [3.1, 1.0], 1e-4, "odo")])
    est.process()
    assert est.stats["odo"].accepted == 11


def test_two_d_mode_holds_out_of_plane_states_at_zero():
    est = StateEstimator(EstimatorConfig(two_d_mode=True))
    est.add([meas(1.0, [2, 3, 4], [5.0, 0.3, 0.2], 0.01)])
    est.add([meas(1.1, [8, 9], [1.0, 1.0], 0.01, kind="v")])
    est.process()
    x, _ = est.estimate_at(2.0)
    assert np.all(x[[2, 3, 4, 8, 9, 10, 14]] == 0.0)


@pytest.mark.parametrize("kind", ["ekf", "ukf"])
def test_nis_is_chi_square_on_a_consistent_problem(kind):
    # Constant-velocity truth with exactly the process and measurement noise the
    # filter assumes: the mean NIS must sit inside the 95 % band for its dof.
    rng = np.random.default_rng(3)
    q = np.zeros(15)
    q[6] = 0.01
    q[0] = 1e-4
    P0 = np.eye(15) * 1e-9
    P0[0, 0] = P0[6, 6] = 1.0
    est = StateEstimator(EstimatorConfig(filter_type=kind, process_noise=np.diag(q), initial_covariance=P0))
    x, v, dt, n = 0.0, 1.0, 0.1, 400
    for k in range(1, n + 1):
        v += rng.normal(0, np.sqrt(q[6] * dt))
        x += v * dt + rng.normal(0, np.sqrt(q[0] * dt))
        est.add([meas(k * dt, [0], x + rng.normal(0, 0.3), 0.09, "gps")])
        est.process()
    st = est.stats["gps"]
    lo, hi = chi2.ppf([0.025, 0.975], st.nis_dof_sum) / n
    assert lo < st.nis_sum / n < hi
