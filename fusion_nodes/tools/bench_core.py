# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion bench``, the core part: a full IMU message next to its limit and its peers, and the scaling tables.

* **limit**: a plain numpy EKF of the same 15 states doing only the
  arithmetic of one IMU message (quaternion -> roll/pitch/yaw, gravity
  removed, predict with the same motion model, 9-D update in Joseph form:
  no checks, no gates, no history, no records). The package cannot be
  cheaper than this in Python; the acceptance is at most 2x it.
* **peers**: the filterpy-based reference filters of the package (what it
  ran before the lean path) and Stone Soup's ``KalmanPredictor`` /
  ``KalmanUpdater`` on a 15-D linear model of the same size.

Costs are measured in interleaved rounds (limit, package, peers, limit, ...)
so that a machine that slows down mid-run slows all of them; each figure is
the median over rounds and each ratio the median of the per-round ratios.
"""
from __future__ import annotations

import math
import timeit

import numpy as np

GRAVITY = 9.80665
IMU_INDICES = np.array([3, 4, 5, 9, 10, 11, 12, 13, 14])
_IMU = dict(q=np.array([0.0, 0.0, 0.0, 1.0]), qc=np.eye(3) * 1e-3, w=np.array([0.01, 0.02, 0.1]),
            wc=np.eye(3) * 1e-4, a=np.array([0.1, 0.2, 9.8]), ac=np.eye(3) * 1e-2)


class PlainEkf:
    """The limit: one IMU message as bare numpy (see the module docstring)."""

    def __init__(self):
        from fusion_nodes.core.motion import ConstantAcceleration3D
        self.motion = ConstantAcceleration3D()
        self.x, self.P, self.t = np.full(15, 0.1), np.eye(15) * 0.1, 1.0
        self.I = np.eye(15)

    def message(self, t, q, qc, w, wc, a, ac):
        x_, y_, z_, w_ = q
        s = 2.0 / (x_ * x_ + y_ * y_ + z_ * z_ + w_ * w_)
        R = np.array([[1 - s * (y_ * y_ + z_ * z_), s * (x_ * y_ - w_ * z_), s * (x_ * z_ + w_ * y_)],
                      [s * (x_ * y_ + w_ * z_), 1 - s * (x_ * x_ + z_ * z_), s * (y_ * z_ - w_ * x_)],
                      [s * (x_ * z_ - w_ * y_), s * (y_ * z_ + w_ * x_), 1 - s * (x_ * x_ + y_ * y_)]])
        rpy = [math.atan2(R[2, 1], R[2, 2]), math.asin(-R[2, 0]), math.atan2(R[1, 0], R[0, 0])]
        z = np.concatenate([rpy, w, a - GRAVITY * R[2]])
        Rm = np.zeros((9, 9))
        Rm[:3, :3], Rm[3:6, 3:6], Rm[6:, 6:] = qc, wc, ac
        dt, self.t = t - self.t, t
        x, F = self.motion.step(self.x, dt)
        P = F @ self.P @ F.T + self.motion.q * dt
        y = z - x[IMU_INDICES]
        y[:3] = (y[:3] + np.pi) % (2 * np.pi) - np.pi
        PHt = P[:, IMU_INDICES]
        K = PHt @ np.linalg.inv(PHt[IMU_INDICES] + Rm)
        IKH = self.I.copy()
        IKH[:, IMU_INDICES] -= K
        x = x + K @ y
        x[3:6] = (x[3:6] + np.pi) % (2 * np.pi) - np.pi
        self.x, self.P = x, IKH @ P @ IKH.T + K @ Rm @ K.T


def _imu_config():
    from fusion_nodes.core.sensors import SensorConfig
    return SensorConfig("imu0", [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1], remove_gravity=True)


def _package(kind: str, reference: bool = False):
    """One full IMU message through the package: record, sensor model, estimator (queue, filter, history)."""
    from fusion_nodes.core import kalman
    from fusion_nodes.core.estimator import EstimatorConfig, StateEstimator
    from fusion_nodes.core.records import ImuSample
    from fusion_nodes.core.sensors import ImuModel
    model = ImuModel(_imu_config())
    saved = dict(kalman.FILTERS)
    if reference:
        kalman.FILTERS.update(kalman.REFERENCE_FILTERS)
    try:
        est = StateEstimator(EstimatorConfig(filter_type=kind))
    finally:
        kalman.FILTERS.update(saved)
    clock = [1.0]
    v = _IMU

    def one():
        clock[0] += 0.001
        est.add(model.measurements(ImuSample(clock[0], v["q"], v["qc"], v["w"], v["wc"], v["a"], v["ac"])))
        est.process()
    return one


def _stone_soup():
    """Stone Soup's Kalman predictor + updater, 15-D constant-acceleration state, 9-D direct measurement."""
    import datetime
    from stonesoup.models.measurement.linear import LinearGaussian
    from stonesoup.models.transition.linear import CombinedLinearGaussianTransitionModel, ConstantAcceleration
    from stonesoup.predictor.kalman import KalmanPredictor
    from stonesoup.types.detection import Detection
    from stonesoup.types.hypothesis import SingleHypothesis
    from stonesoup.types.state import GaussianState
    from stonesoup.updater.kalman import KalmanUpdater
    mm = LinearGaussian(ndim_state=15, mapping=list(IMU_INDICES), noise_covar=np.eye(9) * 1e-3)
    predictor = KalmanPredictor(CombinedLinearGaussianTransitionModel([ConstantAcceleration(0.05)] * 5))
    updater = KalmanUpdater(mm)
    t0 = datetime.datetime(2026, 1, 1)
    state = [GaussianState(np.full((15, 1), 0.1), np.eye(15) * 0.1, timestamp=t0)]
    k = [0]

    def one():
        k[0] += 1
        t = t0 + datetime.timedelta(milliseconds=k[0])
        prediction = predictor.predict(state[0], timestamp=t)
        state[0] = updater.update(SingleHypothesis(prediction, Detection(np.full((9, 1), 0.1), timestamp=t,
                                                                         measurement_model=mm)))
    return one


def _limit():
    f, clock, v = PlainEkf(), [1.0], _IMU

    def one():
        clock[0] += 0.001
        f.message(clock[0], v["q"], v["qc"], v["w"], v["wc"], v["a"], v["ac"])
    return one


def _rounds(fns: dict, number: dict, rounds: int = 7) -> dict:
    """Per-call µs of each function, ``rounds`` interleaved rounds: name -> array over rounds."""
    out = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            out[k].append(timeit.timeit(fn, number=number[k]) / number[k] * 1e6)
    return {k: np.array(v) for k, v in out.items()}


def full_message_table(rounds: int = 7) -> list[tuple[str, float, str]]:
    """Rows ``(name, µs per IMU message, ratio text)`` for the limit, the package and the peers."""
    fns = {"limit": _limit(), "ekf": _package("ekf"), "ukf": _package("ukf"),
           "ekf_ref": _package("ekf", reference=True), "ukf_ref": _package("ukf", reference=True)}
    number = {"limit": 2000, "ekf": 1000, "ukf": 300, "ekf_ref": 500, "ukf_ref": 100}
    try:
        fns["stonesoup"] = _stone_soup()
        number["stonesoup"] = 200
    except ImportError:
        pass
    t = _rounds(fns, number, rounds)
    med = {k: float(np.median(v)) for k, v in t.items()}

    def ratio(a, b):
        return float(np.median(t[a] / t[b]))
    rows = [("limit: plain numpy EKF, same model, no checks", med["limit"], "1.00x (the limit)"),
            ("EKF full IMU message (9-D, 3 parts)", med["ekf"], f"{ratio('ekf', 'limit'):.2f}x limit (<= 2)"),
            ("UKF full IMU message (9-D, 3 parts)", med["ukf"], f"{ratio('ukf', 'ekf'):.2f}x EKF (<= 4)"),
            ("peer: filterpy EKF (the reference)", med["ekf_ref"], f"{ratio('ekf_ref', 'ekf'):.2f}x EKF"),
            ("peer: filterpy UKF (the reference)", med["ukf_ref"], f"{ratio('ukf_ref', 'ukf'):.2f}x UKF")]
    if "stonesoup" in t:
        rows.append(("peer: Stone Soup Kalman predict+update", med["stonesoup"],
                     f"{ratio('stonesoup', 'ekf'):.2f}x EKF"))
    else:
        rows.append(("peer: Stone Soup", float("nan"), "not installed (pip install -r requirements-bench.txt)"))
    return rows


def _stream(n_imu: int, every: int, lateness: float, imu_rate: float = 100.0, n_inputs: int = 1):
    """``(arrival, measurements)`` of an IMU stream with an odometry twist every ``every`` IMU messages.

    IMU messages arrive 1 ms after their stamp; each odometry message
    arrives ``lateness`` s after its stamp. ``n_inputs`` IMUs (each at
    ``imu_rate``) give the input-count scaling.
    """
    from fusion_nodes.core.records import ImuSample, TwistSample
    from fusion_nodes.core.sensors import ImuModel, OdometryModel, SensorConfig
    v = _IMU
    imus = [ImuModel(SensorConfig(f"imu{k}", _imu_config().mask, remove_gravity=True)) for k in range(n_inputs)]
    odom = OdometryModel(SensorConfig("odom0", [0] * 6 + [1, 1, 0, 0, 0, 1] + [0] * 3))
    cov = np.diag([1e-3, 1e-3, 1.0, 1.0, 1.0, 1e-3])
    events = []
    for i in range(n_imu):
        t = 1.0 + i / imu_rate
        for k, model in enumerate(imus):
            tk = t + k * 1e-4
            events.append((tk + 0.001, model, ImuSample(tk, v["q"], v["qc"], v["w"], v["wc"], v["a"], v["ac"])))
        if i % every == 0:
            events.append((t + 0.0005 + lateness, odom, TwistSample(t + 0.0005, [1.0, 0, 0], [0, 0, 0.05], cov)))
    events.sort(key=lambda e: e[0])
    return events


def stream_cost(events, tick: float = 0.02, auto_delay: bool = False, max_delay: float = 0.25,
                history: float = 1.0) -> float:
    """µs of CPU per input message for the node's loop over ``events``: convert and queue on arrival,
    process and predict the output at every ``tick`` s (``auto_delay``: held back by the lateness seen).
    """
    import time
    from fusion_nodes.core.estimator import EstimatorConfig, LatenessWindow, StateEstimator
    from fusion_nodes.core.sensors import ImuModel
    est = StateEstimator(EstimatorConfig(history_length=history))
    lateness = LatenessWindow()
    next_tick = events[0][0] + tick
    t0 = time.process_time()
    for arrival, model, sample in events:
        while arrival >= next_tick:
            delay = min(max_delay, lateness.current(next_tick)) if auto_delay else 0.0
            est.process(next_tick - delay if delay else None)
            est.estimate_at(next_tick)
            next_tick += tick
        ms = model.measurements(sample) if isinstance(model, ImuModel) else model.measurements(None, sample)
        if est.add(ms) is None:
            lateness.note(arrival, ms[0].stamp)
    return (time.process_time() - t0) / len(events) * 1e6


def late_table(n_imu: int = 2000, rounds: int = 3) -> list[tuple[str, float, float, float]]:
    """Rows ``(case, in-order µs/msg, replay ratio, auto-delay ratio)`` over lateness and late fraction.

    Each case runs ``rounds`` times, in order / replay / auto delay interleaved; the ratios are the
    medians of the per-round ratios.
    """
    stream_cost(_stream(100, 10, 0.1), auto_delay=True)        # imports and first calls out of the figures
    rows = []
    for every, lateness in ((10, 0.1), (10, 0.5), (10, 0.9), (5, 0.1), (2, 0.1)):
        in_order, late = _stream(n_imu, every, 0.0), _stream(n_imu, every, lateness)
        base, replay, auto = [], [], []
        for _ in range(rounds):
            base.append(stream_cost(in_order))
            replay.append(stream_cost(late))
            auto.append(stream_cost(late, auto_delay=True, max_delay=1.0))
        base, replay, auto = np.array(base), np.array(replay), np.array(auto)
        rows.append((f"odometry every {every} IMU msgs, {lateness:g} s late", float(np.median(base)),
                     float(np.median(replay / base)), float(np.median(auto / base))))
    return rows


def inputs_table(n_imu: int = 1000) -> list[tuple[int, float, float]]:
    """Rows ``(inputs, µs per message, CPU share of one core at 100 Hz per input)``."""
    stream_cost(_stream(100, 10, 0.0))
    rows = []
    for n in (1, 2, 4, 8):
        us = stream_cost(_stream(n_imu, 10, 0.0, n_inputs=n))
        rows.append((n, us, us * 1e-6 * (100.0 * n + 10.0)))
    return rows


def print_section() -> None:
    print("== Kalman core: one IMU message, limit and peers (µs, median of interleaved rounds) ==")
    for name, us, ratio in full_message_table():
        print(f"  {name:<48} {us:9.1f}  {ratio}")
    print("\n== late data: cost per message relative to the same stream in order (IMU 100 Hz, EKF) ==")
    print(f"  {'case':<40} {'in order µs':>11} {'replay':>8} {'auto delay':>11}   (<= 1.5x at 1 in 10, 0.1 s)")
    for case, base, replay, auto in late_table():
        print(f"  {case:<40} {base:>11.1f} {replay:>7.2f}x {auto:>10.2f}x")
    print("\n== inputs: IMUs at 100 Hz each + 10 Hz odometry (EKF, node loop without DDS) ==")
    print(f"  {'inputs':>6} {'µs/msg':>8} {'share of a core':>16}")
    for n, us, share in inputs_table():
        print(f"  {n:>6} {us:>8.1f} {100 * share:>15.0f}%")
