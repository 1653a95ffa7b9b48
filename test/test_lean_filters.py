# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The lean EKF / UKF against their filterpy references: step by step to 1e-9, whole drives to 1e-6.

The estimator runs :mod:`fusion_nodes.core.kalman`; :mod:`fusion_nodes.core.filters`
keeps the filterpy-based filters they were written from. Every model kind
(direct selection with angles, lever-arm position, specific force, stacks),
rejected and accepted parts, and then the whole offline pipeline on a real
bag and on the simulated drive must give the same numbers either way.
"""
import numpy as np
import pytest

from conftest import DATA, REPO
from fusion_nodes.core import kalman
from fusion_nodes.core.filters import FilterpyEkf, FilterpyUkf
from fusion_nodes.core.measurement_models import MountedPosition, SpecificForce, StateSelection, Stacked
from fusion_nodes.core.motion import ConstantAcceleration3D
from fusion_nodes.core.records import Measurement, Part
from fusion_nodes.tools import bagio, sim
from fusion_nodes.tools.offline import run_offline

PAIRS = [(kalman.Ekf, FilterpyEkf), (kalman.Ukf, FilterpyUkf)]


def _random_state(rng):
    x = rng.normal(size=15) * [5, 5, 1, 0.3, 0.3, 3, 3, 1, 0.3, 0.3, 0.3, 1, 1, 1, 1]
    A = rng.normal(size=(15, 15)) * 0.1
    return x, A @ A.T + np.eye(15) * rng.uniform(1e-4, 1e-1)


def _random_measurement(rng, x):
    kind = rng.integers(4)
    if kind == 0:
        idx = np.sort(rng.choice(15, size=rng.integers(1, 7), replace=False))
        model = StateSelection(idx)
    elif kind == 1:
        model = MountedPosition(rng.normal(size=3), axes=(0, 1))
    elif kind == 2:
        model = SpecificForce((0, 1, 2))
    else:
        model = Stacked([StateSelection([5, 9]), SpecificForce((0, 2))])
    h = model.h(x)
    n = len(h)
    z = h + rng.normal(size=n) * rng.choice([0.1, 3.0])        # sometimes an outlier
    B = rng.normal(size=(n, n)) * 0.1
    R = B @ B.T + np.eye(n) * 0.05
    if n >= 2 and rng.random() < 0.6:
        cut = int(rng.integers(1, n))
        parts = (Part(0, cut, float(rng.choice([2.0, np.inf])), "a"),
                 Part(cut, n, float(rng.choice([2.0, 5.0])), "b"))
        return Measurement("s", 1.0, z, R, model, np.inf, "a+b", parts)
    return Measurement("s", 1.0, z, R, model, float(rng.choice([3.0, np.inf])), "k")


@pytest.mark.parametrize("lean,reference", PAIRS, ids=["ekf", "ukf"])
def test_each_step_equals_the_filterpy_reference(lean, reference):
    rng = np.random.default_rng(7)
    outcomes = {"accepted": 0, "partly": 0, "rejected": 0}
    for trial in range(300):
        x, P = _random_state(rng)
        a, b = lean(ConstantAcceleration3D()), reference(ConstantAcceleration3D())
        for f in (a, b):
            f.set_state(x, P)
        dt = float(rng.uniform(0.001, 0.05))
        a.predict(dt)
        b.predict(dt)
        np.testing.assert_allclose(a.x, b.x, rtol=0, atol=1e-9)
        np.testing.assert_allclose(a.P, b.P, rtol=1e-9, atol=1e-12)
        m = _random_measurement(rng, a.x)
        ra, rb = a.update(m), b.update(m)
        assert [p.accepted for p in ra.parts] == [p.accepted for p in rb.parts], trial
        assert ra.nis == pytest.approx(rb.nis, rel=1e-9)
        np.testing.assert_allclose([p.nis for p in ra.parts], [p.nis for p in rb.parts], rtol=1e-9)
        np.testing.assert_allclose(a.x, b.x, rtol=0, atol=1e-9)
        np.testing.assert_allclose(a.P, b.P, rtol=1e-9, atol=1e-12)
        acc = [p.accepted for p in ra.parts]
        outcomes["accepted" if all(acc) else "partly" if any(acc) else "rejected"] += 1
    print(outcomes)
    assert min(outcomes.values()) >= 20   # every branch of the gate was exercised


def _outputs(bag):
    rows = []
    for _, _, m in bagio.read(bag, ["/odometry/filtered"]):
        p, q, v = m.pose.pose.position, m.pose.pose.orientation, m.twist.twist
        rows.append([p.x, p.y, p.z, q.x, q.y, q.z, q.w, v.linear.x, v.linear.y, v.angular.z,
                     *m.pose.covariance, *m.twist.covariance])
    return np.array(rows)


@pytest.fixture(scope="module")
def sim_bag(tmp_path_factory):
    out = tmp_path_factory.mktemp("lean") / "sim.mcap"
    sim.write(sim.SimConfig(seed=5, duration=60.0), out)
    return out


@pytest.mark.realdata
@pytest.mark.parametrize("kind", ["ekf", "ukf"])
@pytest.mark.parametrize("case", ["test2", "sim"])
def test_whole_drive_outputs_equal_the_filterpy_reference(tmp_path, monkeypatch, sim_bag, kind, case):
    bag, params = ((DATA / "robot_localization" / "test2.bag", REPO / "config" / "rl_test2.yaml")
                   if case == "test2" else (sim_bag, REPO / "config" / "demo_sim.yaml"))
    lean_out, ref_out = tmp_path / "lean.mcap", tmp_path / "ref.mcap"
    run_offline(bag, params, lean_out, extra_params=[f"filter_type:={kind}"])
    monkeypatch.setitem(kalman.FILTERS, kind, kalman.REFERENCE_FILTERS[kind])
    run_offline(bag, params, ref_out, extra_params=[f"filter_type:={kind}"])
    a, b = _outputs(lean_out), _outputs(ref_out)
    assert a.shape == b.shape and len(a) > 1000
    diff = np.abs(a - b).max()
    print(f"{case} {kind}: {len(a)} outputs, largest difference lean - filterpy {diff:.2e}")
    assert diff < 1e-6


def test_the_bench_limit_does_the_same_arithmetic_as_the_package():
    # make bench compares the package's full IMU message with a bare numpy EKF (the limit); the limit is only
    # honest if it computes the same estimate from the same message.
    from fusion_nodes.core.records import ImuSample
    from fusion_nodes.core.sensors import ImuModel
    from fusion_nodes.tools.bench_core import PlainEkf, _imu_config
    rng = np.random.default_rng(3)
    limit, lean = PlainEkf(), kalman.Ekf(ConstantAcceleration3D())
    lean.set_state(limit.x, limit.P)
    model, t = ImuModel(_imu_config()), limit.t
    for _ in range(200):
        t += 0.01
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        w, a = rng.normal(0, 0.2, 3), rng.normal([0, 0, 9.8], 0.3)
        covs = [np.diag(rng.uniform(1e-4, 1e-2, 3)) for _ in range(3)]
        limit.message(t, q, covs[0], w, covs[1], a, covs[2])
        (m,) = model.measurements(ImuSample(t, q, covs[0], w, covs[1], a, covs[2]))
        lean.predict(0.01)
        lean.update(m)
        np.testing.assert_allclose(lean.x, limit.x, atol=1e-9)
        np.testing.assert_allclose(lean.P, limit.P, atol=1e-12, rtol=1e-9)
