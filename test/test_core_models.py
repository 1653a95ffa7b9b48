# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Core numbers: Jacobians against finite differences, geometry, sensor mounting."""
import ast
from pathlib import Path

import numpy as np
import pytest

from fusion_nodes.core.geometry import (GRAVITY, matrix_to_rpy, quaternion_to_rpy, rpy_to_matrix,
                                        rpy_to_quaternion, wrap_angle)
from fusion_nodes.core.measurement_models import MountedPosition, SpecificForce, StateSelection, Stacked
from fusion_nodes.core.motion import ConstantAcceleration3D
from fusion_nodes.core.records import ImuSample, TwistSample
from fusion_nodes.core.sensors import ImuModel, Mount, OdometryModel, SensorConfig

RNG = np.random.default_rng(7)


def numeric_jacobian(fun, x, eps=1e-6):
    J = np.zeros((len(fun(x)), len(x)))
    for i in range(len(x)):
        d = np.zeros_like(x)
        d[i] = eps
        J[:, i] = (fun(x + d) - fun(x - d)) / (2 * eps)
    return J


def random_state():
    x = RNG.normal(size=15)
    x[3:5] = RNG.uniform(-0.6, 0.6, 2)  # away from gimbal lock
    x[5] = RNG.uniform(-3, 3)
    return x


@pytest.mark.parametrize("trial", range(5))
def test_motion_jacobian_matches_finite_differences(trial):
    model = ConstantAcceleration3D()
    x = random_state()
    J = model.jacobian(x, 0.1)
    Jn = numeric_jacobian(lambda s: model.f(s, 0.1), x)
    np.testing.assert_allclose(J, Jn, atol=1e-6)


@pytest.mark.parametrize("model", [StateSelection([0, 5, 11]),
                                   MountedPosition([0.3, -0.2, 1.1]),
                                   MountedPosition([0.5, 0.1, 0.2], axes=[0, 1]),
                                   SpecificForce(),
                                   Stacked([MountedPosition([1, 2, 3]), StateSelection([3, 4, 5])])])
def test_measurement_jacobians_match_finite_differences(model):
    for _ in range(3):
        x = random_state()
        np.testing.assert_allclose(model.jacobian(x), numeric_jacobian(model.h, x), atol=1e-6)


def test_motion_model_straight_line_and_turn():
    model = ConstantAcceleration3D()
    x = np.zeros(15)
    x[5] = np.pi / 2          # facing north
    x[6] = 2.0                # 2 m/s forward
    x[12] = 1.0               # 1 m/s^2 forward
    out = model.f(x, 2.0)
    # s = v t + a t^2 / 2 = 4 + 2 = 6 m north; v = 2 + 2 = 4 m/s
    np.testing.assert_allclose(out[:3], [0, 6, 0], atol=1e-12)
    assert out[6] == pytest.approx(4.0)
    x = np.zeros(15)
    x[11] = 0.5
    assert model.f(x, 1.0)[5] == pytest.approx(0.5)
    np.testing.assert_allclose(model.Q(0.5), model.q * 0.5)


def test_wrap_angle_range_and_values():
    a = np.linspace(-20, 20, 1001)
    w = wrap_angle(a)
    assert np.all(w >= -np.pi) and np.all(w < np.pi)
    np.testing.assert_allclose(np.sin(w), np.sin(a), atol=1e-12)
    assert wrap_angle(np.pi) == pytest.approx(-np.pi)
    assert wrap_angle(3 * np.pi / 2) == pytest.approx(-np.pi / 2)


def test_rpy_roundtrips():
    for _ in range(20):
        rpy = np.array([RNG.uniform(-3, 3), RNG.uniform(-1.4, 1.4), RNG.uniform(-3, 3)])
        np.testing.assert_allclose(matrix_to_rpy(rpy_to_matrix(*rpy)), rpy, atol=1e-9)
        np.testing.assert_allclose(quaternion_to_rpy(rpy_to_quaternion(*rpy)), rpy, atol=1e-9)


def test_test1_imu_mount_puts_gravity_on_base_z():
    # data/README.md and the main README: test1's IMU reads gravity on +y at rest; mounted
    # roll +pi/2, yaw -pi/2 relative to base_link.
    cfg = SensorConfig("imu0", [0] * 12 + [1, 1, 1], Mount.from_list([0, -0.3, 0.52, np.pi / 2, 0, -np.pi / 2]))
    s = ImuSample(1.0, None, None, [0, 0, 0], np.eye(3), [0, GRAVITY, 0], np.eye(3))
    (m,) = ImuModel(cfg).measurements(s)
    np.testing.assert_allclose(m.z, [0, 0, GRAVITY], atol=1e-9)


def test_imu_gravity_removed_with_measured_orientation():
    cfg = SensorConfig("imu0", [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1], remove_gravity=True)
    pitch = 0.2
    q = rpy_to_quaternion(0, pitch, 0.7)
    f = rpy_to_matrix(0, pitch, 0.7).T @ [0, 0, GRAVITY]  # pure gravity reading
    (m,) = ImuModel(cfg).measurements(ImuSample(1.0, q, np.eye(3) * 1e-3, [0, 0, 0], np.eye(3), f, np.eye(3)))
    z = parts_of(m)
    np.testing.assert_allclose(z["imu_accel"], 0, atol=1e-9)
    np.testing.assert_allclose(z["imu_orientation"], [0, pitch, 0.7], atol=1e-9)
    # One update for the whole message: rows are x[3:6], x[9:12], x[12:15].
    np.testing.assert_array_equal(m.model.indices, [3, 4, 5, 9, 10, 11, 12, 13, 14])


def test_imu_without_orientation_fuses_no_orientation_and_uses_specific_force():
    cfg = SensorConfig("imu0", [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1], remove_gravity=True)
    (m,) = ImuModel(cfg).measurements(ImuSample(1.0, None, None, [0, 0, 0.1], np.eye(3), [0, 0, GRAVITY], np.eye(3)))
    assert set(parts_of(m)) == {"imu_gyro", "imu_accel"}
    assert isinstance(m.model, Stacked) and isinstance(m.model.models[1], SpecificForce)
    x = np.zeros(15)
    x[11] = 0.1
    np.testing.assert_allclose(m.model.h(x), m.z, atol=1e-12)  # a level robot turning at 0.1 rad/s


def parts_of(m):
    return {p.kind: m.z[p.start:p.stop] for p in m.part_list()}


def test_stacked_imu_parts_are_gated_separately():
    from fusion_nodes.core.kalman import Ekf
    cfg = SensorConfig("imu0", [0] * 9 + [1, 1, 1, 1, 1, 1], pose_threshold=3.0, twist_threshold=3.0,
                       accel_threshold=3.0)
    (m,) = ImuModel(cfg).measurements(ImuSample(1.0, None, None, [0, 0, 0.05], np.eye(3) * 0.01,
                                                [50.0, 0, 0], np.eye(3) * 0.01))
    f = Ekf(ConstantAcceleration3D())
    f.set_state(np.zeros(15), np.eye(15) * 0.01)
    r = f.update(m)
    assert [(p.kind, p.accepted) for p in r.parts] == [("imu_gyro", True), ("imu_accel", False)]
    assert f.x[11] > 0.01 and f.x[12] == 0.0   # the rate was fused, the absurd acceleration was not


def test_a_new_imu_config_takes_effect_on_the_next_message():
    """A live threshold change replaces the model's config; the IMU's cached layout must not keep the old gate."""
    from dataclasses import replace
    cfg = SensorConfig("imu0", [0] * 9 + [1, 1, 1, 0, 0, 0], twist_threshold=3.0)
    model = ImuModel(cfg)
    sample = ImuSample(1.0, None, None, [0, 0, 0.05], np.eye(3) * 0.01, None, None)
    assert model.measurements(sample)[0].threshold == 3.0
    model.cfg = replace(cfg, twist_threshold=0.5)
    assert model.measurements(sample)[0].threshold == 0.5


def test_twist_lever_arm():
    # Odometry sensor 1 m ahead of base_link, robot turning in place at 1 rad/s:
    # the sensor moves sideways at 1 m/s while base_link does not translate.
    cfg = SensorConfig("odom0", [0] * 6 + [1] * 6 + [0] * 3, Mount.from_list([1, 0, 0, 0, 0, 0]))
    (m,) = OdometryModel(cfg).measurements(None, TwistSample(1.0, [0, 1, 0], [0, 0, 1], np.eye(6)))
    np.testing.assert_allclose(m.z, [0, 0, 0, 0, 0, 1], atol=1e-12)


def test_declared_covariances_are_scaled_and_overridden_field_by_field():
    from fusion_nodes.core.validation import declared_covariance
    C = np.array([[4.0, 1.0], [1.0, 2.0]])
    np.testing.assert_allclose(declared_covariance(C, [6, 11], 0.25), C / 4)
    override = [-1.0] * 15
    override[11] = 0.5                            # vyaw stated by the user: its variance, no correlation
    np.testing.assert_allclose(declared_covariance(C, [6, 11], 2.0, override), [[8.0, 0.0], [0.0, 0.5]])
    # through the models: an odometry twist (vx, vyaw) and an IMU (yaw, gyro z, accel x)
    cfg = SensorConfig("odom0", [0] * 6 + [1, 0, 0, 0, 0, 1] + [0] * 3, covariance_scale=3.0,
                       covariance_override=tuple(override))
    (m,) = OdometryModel(cfg).measurements(None, TwistSample(1.0, [1, 0, 0], [0, 0, 0.1], np.eye(6) * 0.01))
    np.testing.assert_allclose(m.R, np.diag([0.03, 0.5]))
    imu_override = [-1.0] * 15
    imu_override[12] = 0.2                        # ax
    cfg = SensorConfig("imu0", [0] * 5 + [1] + [0] * 5 + [1, 1, 0, 0], covariance_override=tuple(imu_override))
    q = np.array([0.0, 0.0, 0.0, 1.0])
    (m,) = ImuModel(cfg).measurements(ImuSample(1.0, q, np.eye(3) * 0.01, [0, 0, 0.1], np.eye(3) * 0.02,
                                                [0.5, 0, 0], np.eye(3) * 0.04))
    np.testing.assert_allclose(np.diag(m.R), [0.01, 0.02, 0.2])


def test_nis_window_keeps_its_seconds_and_gives_the_chi_square_band():
    from scipy.stats import chi2

    from fusion_nodes.core.consistency import NisWindow
    w = NisWindow(seconds=2.0)
    assert np.isnan(w.summary()[0])
    rng = np.random.default_rng(1)
    for k in range(100):                        # 3-dof updates at 50 Hz from a consistent filter
        w.add(0.02 * k, float(rng.chisquare(3)), 3)
    mean, dof, lo, hi = w.summary()
    assert dof == 3 * 100 and lo < mean < hi
    assert (lo, hi) == pytest.approx((chi2.ppf(0.005, 300) / 300, chi2.ppf(0.995, 300) / 300))
    for k in range(100, 200):                   # then errors twice the declared std: NIS x 4
        w.add(0.02 * k, 4 * float(rng.chisquare(3)), 3)
    mean, dof, lo, hi = w.summary()
    assert dof == 3 * 101 and mean > hi and mean == pytest.approx(4, rel=0.2)   # only the last 2 s count


def test_adaptive_noise_finds_the_true_scale_within_its_bounds_and_holds_without_updates():
    from fusion_nodes.core.consistency import AdaptiveNoise, NisWindow
    rng = np.random.default_rng(2)

    def drive(noise, true_scale, seconds, rate=50.0, dof=3):
        w, t = NisWindow(seconds=2.0), 0.0
        for _ in range(int(seconds * rate)):
            t += 1 / rate
            # a measurement-dominated input: NIS per dof = (true variance / assumed variance) * chi2(dof)/dof
            w.add(t, true_scale / noise.scale * float(rng.chisquare(dof)), dof)
            noise.revise(w, t)
        return noise

    assert drive(AdaptiveNoise(), 4.0, 60).scale == pytest.approx(4.0, rel=0.1)
    assert drive(AdaptiveNoise(), 0.05, 60).scale == pytest.approx(0.05, rel=0.1)
    assert drive(AdaptiveNoise(floor=0.5, ceiling=2.0), 4.0, 60).scale == 2.0
    standing = AdaptiveNoise()
    w = NisWindow(seconds=2.0)
    for k in range(200):                        # a robot standing: 5 updates in 4 s, 15 dof per window
        if k % 40 == 0:
            w.add(0.02 * k, 30.0, 3)
        standing.revise(w, 0.02 * k)
    assert standing.scale == 1.0 and standing.revisions == 0


def test_the_estimator_starts_from_its_initial_state_and_returns_to_it_on_reset():
    from fusion_nodes.core.estimator import EstimatorConfig, StateEstimator
    x0 = np.zeros(15)
    x0[[0, 1, 5, 6]] = [3.0, -2.0, np.pi / 2, 1.5]
    est = StateEstimator(EstimatorConfig(initial_state=x0))
    np.testing.assert_array_equal(est.filter.x, x0)
    est.filter.x[0] = 10.0
    est.reset()
    np.testing.assert_array_equal(est.filter.x, x0)


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_core_has_no_ros_imports():
    core = Path(__file__).resolve().parents[1] / "fusion_nodes" / "core"
    banned = ("rclpy", "message_filters", "launch", "rosbags", "sklearn", "fusion_nodes")
    for path in core.glob("*.py"):
        for n in _imports(path):
            root = n.split(".")[0]
            assert root not in banned and not root.endswith("_msgs"), f"{path.name} imports {n}"


def test_layers_import_downward_only():
    """Imports go core <- ros <- nodes <- tools: ros and nodes never import the tools (nor ros the nodes)."""
    pkg = Path(__file__).resolve().parents[1] / "fusion_nodes"
    for layer, above in (("ros", ("fusion_nodes.tools", "fusion_nodes.nodes")), ("nodes", ("fusion_nodes.tools",))):
        for path in (pkg / layer).glob("*.py"):
            for n in _imports(path):
                assert not n.startswith(above), f"{layer}/{path.name} imports {n}"


def test_batched_motion_model_matches_single():
    model = ConstantAcceleration3D()
    X = np.array([random_state() for _ in range(31)])
    np.testing.assert_allclose(model.f_batch(X, 0.05), np.array([model.f(x, 0.05) for x in X]), atol=1e-12)


@pytest.mark.parametrize("kind, reference", [("ekf", False), ("ukf", False), ("ekf", True), ("ukf", True)])
def test_estimate_at_predicts_a_copy_and_leaves_the_estimator_as_it_was(kind, reference, monkeypatch):
    from fusion_nodes.core import kalman
    from fusion_nodes.core.estimator import EstimatorConfig, StateEstimator
    from fusion_nodes.core.records import Measurement
    if reference:       # the filterpy-based filters hold their state in a filterpy object: deep copies
        monkeypatch.setitem(kalman.FILTERS, kind, kalman.REFERENCE_FILTERS[kind])
    est = StateEstimator(EstimatorConfig(filter_type=kind, two_d_mode=True, initial_covariance=np.eye(15)))
    est.add([Measurement("odom", 1.0, np.array([0.0, 0.0, 2.0]), np.eye(3) * 0.01, StateSelection([0, 1, 6]))])
    est.process()
    x, P, t = est.filter.x.copy(), est.filter.P.copy(), est.time
    ahead, P_ahead = est.estimate_at(3.0)
    np.testing.assert_array_equal(est.filter.x, x)
    np.testing.assert_array_equal(est.filter.P, P)
    assert est.time == t and ahead[0] > x[0] + 1.0 and np.trace(P_ahead) > np.trace(P)   # moved on at ~2 m/s
    again, _ = est.estimate_at(3.0)
    np.testing.assert_array_equal(again, ahead)
    # predicting the estimator itself gives the same numbers
    est._predict_to(3.0)
    np.testing.assert_allclose(est.filter.x, ahead, atol=1e-12)
