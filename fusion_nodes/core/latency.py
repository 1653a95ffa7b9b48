# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Online estimation of a position sensor's time offset (latency) against dead reckoning.

A receiver that stamps a fix ``tau`` seconds after the moment it describes
reports ``z(t) = p(t - tau) ~ p(t) - tau v(t)``: a position lagging along the
velocity. Against the fused estimate the lag cannot be seen (the filter follows
the lagged fixes), so the offset is estimated against a *reference*: the same
estimator fed every input except the one under test, i.e. dead reckoning from
odometry and IMU. Its world velocity ``v_r`` drifts in heading and scale, so a
small EKF (filterpy) carries those as nuisance states::

    s = [p_x, p_y, psi, eps, b, tau]
    p'   = (1 + eps) R(psi) v_r          world position (m)
    psi' = b                             reference heading error (rad), drift b (rad/s)
    eps, b, tau: random walks            speed scale error, gyro drift, lag (s)
    z    = p - tau (1 + eps) R(psi) v_r  + noise(R_z)

Observability: ``tau`` moves ``z`` along the velocity, a position offset moves
it by a constant, the scale by the distance travelled. Standing still
(``v_r = 0``) gives no information and the estimate keeps its prior; driving
straight at constant speed separates the lag from a position offset only
through the process noise; speed changes and turns make it observable. With
fixes of sigma ``s`` at rate ``f`` and speed ``|v|`` the lag's standard
deviation after ``T`` seconds is of the order ``s / (|v| sqrt(f T))``;
:func:`lag_cramer_rao` gives the exact bound of a drive (the estimator reaches
it: test_time_offset). On ``fusion sim``'s drive with 1 m fixes at 10 Hz it is
33 ms after 30 s at 4 m/s and 11 ms at 12 m/s; 3.2 ms after 150 s at 12 m/s.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from filterpy.kalman import ExtendedKalmanFilter

from .estimator import EstimatorConfig, StateEstimator
from .geometry import wrap_angle
from .records import Measurement
from .state import VX, VY, X, Y, YAW

PX, PY, PSI, EPS, BIAS, TAU = range(6)
#: rad^2: the fused heading must be known this well before it can start the reference's heading error
HEADING_KNOWN_VARIANCE = 0.1 ** 2
_J = np.array([[0.0, -1.0], [1.0, 0.0]])   # d R(psi) / d psi = R(psi) J


@dataclass(frozen=True)
class TimeOffsetConfig:
    """Prior, bounds and process noise of the lag estimator (SI units).

    Attributes
    ----------
    prior_offset : float
        s, the configured ``<sensor>_time_offset`` (the offset is ``-tau``).
    bounds : tuple of float
        s, ``(low, high)`` of the offset; the prior standard deviation is a quarter of the width.
    position_noise, heading_noise, scale_noise, bias_noise, offset_noise : float
        Random-walk densities per second: m^2, rad^2, 1, (rad/s)^2, s^2.
    gate : float
        Mahalanobis distance (sigmas) beyond which a fix is not used (multipath).
    min_speed : float
        m/s: below it the reference's speed is noise, not motion, and a fix observes the position
        only (so a robot that has never moved keeps the prior exactly).
    max_misses : int
        Consecutive gated-out fixes after which the estimate restarts from the prior: the reference
        has drifted away from the fixes (wheel slip, a wrong start heading) and the gate would
        otherwise lock every later fix out.
    """

    prior_offset: float = 0.0
    bounds: tuple = (-0.5, 0.5)
    position_noise: float = 1e-3
    heading_noise: float = 1e-6
    scale_noise: float = 1e-8
    bias_noise: float = 1e-10
    offset_noise: float = 1e-8
    gate: float = 4.0
    min_speed: float = 0.3
    max_misses: int = 10

    @property
    def prior_sigma(self) -> float:
        return (self.bounds[1] - self.bounds[0]) / 4.0


class TimeOffsetEstimator:
    """Estimate ``tau`` from reference velocities and the sensor's positions.

    Feed :meth:`reference` with the reference world velocity in time order and
    :meth:`measure` with the sensor's positions at their raw stamps (no offset
    applied); fixes wait until the reference has passed their stamp.
    """

    def __init__(self, cfg: TimeOffsetConfig):
        self.cfg = cfg
        self.restart()

    def restart(self) -> None:
        """Back to the prior (a filter reset, a clock jump)."""
        self.ekf: ExtendedKalmanFilter | None = None
        self._t: float | None = None
        self._v = np.zeros(2)
        self._pending: deque = deque()
        self.used = 0
        self.rejected = 0
        self.restarts = 0
        self._misses = 0

    # -- inputs --------------------------------------------------------------
    def measure(self, stamp: float, z: np.ndarray, R: np.ndarray) -> None:
        """A fix ``z`` (m, world) with covariance ``R`` stamped ``stamp`` (raw, s)."""
        self._pending.append((stamp, np.asarray(z, float)[:2], np.asarray(R, float)[:2, :2]))

    def reference(self, stamp: float, velocity: np.ndarray, heading_error: float, heading_var: float) -> None:
        """The reference's world velocity (m/s) at ``stamp``; ``heading_error`` (rad) = the fused yaw minus the
        reference's, with its variance, starts the heading state at the first fix.
        """
        v = np.asarray(velocity, float)[:2]
        if self._t is not None and stamp <= self._t:
            return
        if self._t is None:
            self._t, self._v = stamp, v
        while self._pending and self._pending[0][0] <= stamp:
            t, z, R = self._pending.popleft()
            if t < self._t:
                continue  # before the reference's first sample: no velocity for it
            a = (t - self._t) / (stamp - self._t) if stamp > self._t else 1.0
            vt = (1.0 - a) * self._v + a * v
            self._advance(t, vt)
            if self.ekf is None:
                self._start(z, R, heading_error, heading_var)
            else:
                self._update(z, R, vt)
        self._advance(stamp, v)

    def _advance(self, t: float, v: np.ndarray) -> None:
        """Predict to ``t`` with the mean of the velocities at both ends."""
        self._predict(t - self._t, 0.5 * (self._v + v))
        self._t, self._v = t, v

    def _start(self, z, R, heading_error, heading_var) -> None:
        c = self.cfg
        ekf = ExtendedKalmanFilter(6, 2)
        ekf.x = np.array([z[0], z[1], heading_error, 0.0, 0.0, -c.prior_offset])
        ekf.P = np.diag([R[0, 0], R[1, 1], max(heading_var, 1e-6), 0.05 ** 2, 0.01 ** 2, c.prior_sigma ** 2])
        ekf.P[:2, :2] = R
        self.ekf = ekf

    # -- filter --------------------------------------------------------------
    def _predict(self, dt: float, v: np.ndarray) -> None:
        if self.ekf is None or dt <= 0.0:
            return
        c, x = self.cfg, self.ekf.x
        Rv = _rot(x[PSI]) @ v
        F = np.eye(6)
        F[:2, PSI] = (1.0 + x[EPS]) * (_rot(x[PSI]) @ _J @ v) * dt
        F[:2, EPS] = Rv * dt
        F[PSI, BIAS] = dt
        x[:2] += (1.0 + x[EPS]) * Rv * dt
        x[PSI] = wrap_angle(x[PSI] + x[BIAS] * dt)
        Q = np.diag([c.position_noise, c.position_noise, c.heading_noise, c.scale_noise, c.bias_noise,
                     c.offset_noise]) * dt
        self.ekf.P = F @ self.ekf.P @ F.T + Q

    def _update(self, z: np.ndarray, R: np.ndarray, v: np.ndarray) -> None:
        if self.ekf is None:
            return
        if float(np.hypot(*v)) < self.cfg.min_speed:
            v = np.zeros(2)
        x = self.ekf.x
        H = _jacobian(x, v)
        y = z - _predicted(x, v)
        S = H @ self.ekf.P @ H.T + R
        if float(y @ np.linalg.solve(S, y)) > self.cfg.gate ** 2:
            self.rejected += 1
            self._misses += 1
            if self._misses >= self.cfg.max_misses:
                self.ekf, self._misses = None, 0   # the next fix starts it again from the prior
                self.restarts += 1
            return
        self.ekf.update(z, lambda s: _jacobian(s, v), lambda s: _predicted(s, v), R=R)
        self.used += 1
        self._misses = 0

    # -- results -------------------------------------------------------------
    @property
    def offset(self) -> float:
        """s, the estimated offset to add to the sensor's stamps (``-tau``), within the bounds."""
        low, high = self.cfg.bounds
        tau = -self.cfg.prior_offset if self.ekf is None else self.ekf.x[TAU]
        return float(np.clip(-tau, low, high))

    @property
    def sigma(self) -> float:
        """s, standard deviation of the offset (the prior's until the first fix)."""
        return self.cfg.prior_sigma if self.ekf is None else float(np.sqrt(self.ekf.P[TAU, TAU]))

    @property
    def observed(self) -> bool:
        """The data has at least halved the prior standard deviation (before, the estimate is mostly prior)."""
        return self.sigma < 0.5 * self.cfg.prior_sigma

    def summary(self) -> dict:
        """Values for /diagnostics."""
        x = self.ekf.x if self.ekf is not None else np.full(6, np.nan)
        return {"time_offset_estimate_s": round(self.offset, 4), "time_offset_sigma_s": round(self.sigma, 4),
                "time_offset_observed": self.observed,
                "time_offset_fixes_used": self.used, "time_offset_fixes_rejected": self.rejected,
                "time_offset_restarts": self.restarts,
                "reference_speed_scale_error": round(float(x[EPS]), 5),
                "reference_heading_error_rad": round(float(x[PSI]), 5)}


def lag_cramer_rao(t: np.ndarray, v: np.ndarray, sigma: float) -> float:
    """Lowest standard deviation (s) any unbiased estimate of the lag can have from these fixes.

    The Cramér-Rao bound of the linearised lag model above with the same nuisances (start position,
    reference speed scale, heading error and gyro drift) and a perfect reference otherwise: with
    ``d(t) = integral v`` the columns of the Fisher information ``A^T A / sigma^2`` per axis are
    ``[1, d, J d, integral s J v ds, -v]``. It tells how long a drive must be, and how varied, before the
    lag is known to a given accuracy: ``~ sigma / (|v| sqrt(f T))`` with turns and speed changes.

    Parameters
    ----------
    t : ndarray, shape (n,)
        s, the fixes' times, increasing.
    v : ndarray, shape (n, 2)
        m/s, the world velocity at each fix.
    sigma : float
        m, the standard deviation of each fix per axis (white, isotropic).

    Returns
    -------
    float
        s; ``inf`` when the fixes cannot separate the lag from the nuisances (standing, too few fixes).
    """
    t, v = np.asarray(t, float), np.asarray(v, float)[:, :2]
    dt = np.diff(t)[:, None]
    cum = lambda f: np.vstack([np.zeros((1, 2)), np.cumsum(0.5 * (f[1:] + f[:-1]) * dt, axis=0)])  # noqa: E731
    d = cum(v)                                   # m, displacement since the first fix
    turned = cum((t - t[0])[:, None] * v) @ _J.T  # m/rad/s: what a heading drift moves it by
    n = len(t)
    one, zero = np.ones(n), np.zeros(n)
    rows_x = np.column_stack([one, zero, d[:, 0], -d[:, 1], turned[:, 0], -v[:, 0]])
    rows_y = np.column_stack([zero, one, d[:, 1], d[:, 0], turned[:, 1], -v[:, 1]])
    A = np.vstack([rows_x, rows_y]) / sigma
    info = A.T @ A
    if np.linalg.matrix_rank(info) < info.shape[0]:
        return float("inf")
    return float(np.sqrt(np.linalg.inv(info)[-1, -1]))


class ReferencedOffset:
    """One input's time offset, estimated against a reference estimator fed every other input.

    Parameters
    ----------
    sensor : str
        The input whose offset is estimated (its position measurements feed the lag estimator).
    estimator : EstimatorConfig
        The fused estimator's settings, reused by the reference (dead reckoning when the other inputs
        measure no position).
    offset : TimeOffsetConfig
    """

    def __init__(self, sensor: str, estimator: EstimatorConfig, offset: TimeOffsetConfig):
        self.sensor = sensor
        self.reference = StateEstimator(estimator)
        self.lag = TimeOffsetEstimator(offset)

    def add(self, measurements: list[Measurement], raw_stamp: float) -> None:
        """The measurements of one accepted message of any input; ``raw_stamp``: its header stamp (s)."""
        if not measurements:
            return
        if measurements[0].sensor != self.sensor:
            self.reference.add(measurements)
            return
        for m in measurements:
            if m.kind == "pose" and _leads_with_xy(m.model):
                self.lag.measure(raw_stamp, m.z[:2], m.R[:2, :2])

    def process(self, until: float | None, fused_yaw: float, fused_yaw_var: float) -> None:
        """Run the reference up to ``until``; once the fused heading is known, hand its velocity on."""
        ref = self.reference
        ref.process(until)
        if not ref.initialized or not fused_yaw_var < HEADING_KNOWN_VARIANCE:
            return
        x = ref.filter.x
        c, s = np.cos(x[YAW]), np.sin(x[YAW])
        v = np.array([c * x[VX] - s * x[VY], s * x[VX] + c * x[VY]])
        self.lag.reference(ref.time, v, float(wrap_angle(fused_yaw - x[YAW])), fused_yaw_var)

    def restart(self) -> None:
        self.reference.reset()
        self.lag.restart()


def _leads_with_xy(model) -> bool:
    """The first two rows of the measurement are x and y (a position, with or without lever arm or
    orientation stacked after it).
    """
    first = model.models[0] if hasattr(model, "models") else model
    rows = getattr(first, "indices", getattr(first, "axes", None))
    return rows is not None and len(rows) >= 2 and tuple(int(i) for i in rows[:2]) == (X, Y)


def _rot(psi: float) -> np.ndarray:
    c, s = np.cos(psi), np.sin(psi)
    return np.array([[c, -s], [s, c]])


def _predicted(s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``h(s) = p - tau (1 + eps) R(psi) v``."""
    return s[:2] - s[TAU] * (1.0 + s[EPS]) * (_rot(s[PSI]) @ v)


def _jacobian(s: np.ndarray, v: np.ndarray) -> np.ndarray:
    Rv = _rot(s[PSI]) @ v
    H = np.zeros((2, 6))
    H[:, :2] = np.eye(2)
    H[:, PSI] = -s[TAU] * (1.0 + s[EPS]) * (_rot(s[PSI]) @ _J @ v)
    H[:, EPS] = -s[TAU] * Rv
    H[:, TAU] = -(1.0 + s[EPS]) * Rv
    return H
