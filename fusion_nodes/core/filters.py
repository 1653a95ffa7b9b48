# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The reference EKF and UKF over the 15-D state, built on filterpy, and the update results.

The estimator runs the lean filters of :mod:`fusion_nodes.core.kalman`;
these filterpy-based ones are the reference the tests hold them to (1e-9)
and the bench's comparison row. All four share one interface: ``predict(dt)`` and
``update(measurement) -> UpdateResult``. Notation is
FilterPy's: state ``x``, covariance ``P``, transition Jacobian ``F``,
process noise ``Q``, measurement Jacobian ``H``, measurement noise ``R``,
innovation ``y`` and its covariance ``S``.
"""
from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from filterpy.kalman import ExtendedKalmanFilter, MerweScaledSigmaPoints, UnscentedKalmanFilter

from .geometry import circular_mean, wrap_angle
from .motion import ConstantAcceleration3D
from .records import Measurement
from .state import ANGLE_INDICES, STATE_SIZE

_ANGLES = list(ANGLE_INDICES)


@dataclass(frozen=True)
class PartResult:
    """Gate outcome of one part of a measurement.

    Attributes
    ----------
    kind : str
    accepted : bool
        False when ``nis`` reached the part's threshold squared.
    nis : float
        Normalised innovation squared ``y_i^T S_ii^-1 y_i`` (chi-square with
        ``dof`` degrees of freedom for a consistent filter).
    dof : int
    """

    kind: str
    accepted: bool
    nis: float
    dof: int


@dataclass(frozen=True)
class UpdateResult:
    """Outcome of one update: one :class:`PartResult` per part.

    ``nis`` is the NIS of the whole measurement as first applied
    (``y^T S^-1 y``, ``dof`` = its dimension); a part's own NIS is NaN
    when no gate needed it (every threshold infinite).
    """

    parts: tuple
    nis: float
    dof: int
    numerical_failure: bool = False   # the update went singular or non-finite: not applied

    @property
    def accepted(self) -> bool:
        """True if any part was fused."""
        return any(p.accepted for p in self.parts)


def _residual_fn(angle_mask: np.ndarray):
    """``a - b`` with the angle components wrapped to [-pi, pi)."""
    if not angle_mask.any():
        return np.subtract

    def residual(a, b):
        d = np.subtract(a, b)
        d[angle_mask] = wrap_angle(d[angle_mask])
        return d
    return residual


def _state_residual(a, b):
    d = np.subtract(a, b)
    d[_ANGLES] = wrap_angle(d[_ANGLES])
    return d


def _state_mean(sigmas, Wm):
    return weighted_mean(sigmas, Wm, _ANGLES)


class Filter(ABC):
    """What the estimator asks of a filter of the 15-element state (:mod:`.state`).

    Attributes ``x`` (15,) and ``P`` (15 x 15) are the estimate, ``motion``
    the :class:`~fusion_nodes.core.motion.ConstantAcceleration3D` it
    predicts with, ``name`` its registry key (:data:`fusion_nodes.core.kalman.FILTERS`).
    ``update`` gates each part of the measurement before it changes the
    state and returns the :class:`UpdateResult`; a rejected or numerically
    failed update leaves ``x`` and ``P`` as they were.
    """

    name: str = ""
    motion: ConstantAcceleration3D

    @abstractmethod
    def set_state(self, x: np.ndarray, P: np.ndarray) -> None:
        """Overwrite the estimate (copies the inputs)."""

    @abstractmethod
    def predict(self, dt: float) -> None:
        """Move the estimate ``dt`` seconds on (``dt <= 0``: unchanged)."""

    @abstractmethod
    def update(self, m: Measurement) -> UpdateResult:
        """Apply measurement ``m`` (its accepted parts only)."""

    def copy(self) -> "Filter":
        """An independent filter at the same estimate (predicting it leaves this one as it is)."""
        return copy.deepcopy(self)


class FilterpyFilter(Filter):
    """Common state handling and gating of the filterpy-based reference filters."""

    name = "base"

    def __init__(self, motion: ConstantAcceleration3D):
        self.motion = motion

    @property
    def x(self) -> np.ndarray:
        return self._kf.x

    @property
    def P(self) -> np.ndarray:
        return self._kf.P

    def set_state(self, x: np.ndarray, P: np.ndarray) -> None:
        """Overwrite the estimate (copies the inputs)."""
        self._kf.x = np.array(x, dtype=float)
        self._kf.P = np.array(P, dtype=float)

    def update(self, m: Measurement) -> UpdateResult:
        """Kalman update with ``m``, each part gated on its own.

        A part is rejected when its Mahalanobis distance
        ``sqrt(y_i^T S_ii^-1 y_i)`` reaches its threshold. If any part is
        rejected the update is undone and redone with the accepted parts
        only; with none accepted the state is untouched.
        """
        x0, P0 = self._kf.x.copy(), self._kf.P.copy()
        try:
            return self._update(m, x0, P0)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError, OverflowError):
            pass
        # Singular S, or a non-finite result: the measurement is rejected, the state kept.
        self._kf.x, self._kf.P = x0, P0
        parts = tuple(PartResult(p.kind, False, float("nan"), p.stop - p.start) for p in m.part_list())
        return UpdateResult(parts, float("nan"), len(m.z), numerical_failure=True)

    def _update(self, m: Measurement, x0: np.ndarray, P0: np.ndarray) -> UpdateResult:
        self._apply(m)
        y = self._kf.y
        total = float(y @ self._kf.SI @ y)
        if not np.isfinite(total):
            raise FloatingPointError("non-finite innovation")
        parts = m.part_list()
        if len(parts) == 1:
            p = parts[0]
            results = (PartResult(p.kind, bool(np.isfinite(total) and total < p.threshold ** 2),
                                  total, len(y)),)
        else:
            results = tuple(self._gate(p) for p in parts)
        if not all(r.accepted for r in results):
            self._kf.x, self._kf.P = x0, P0
            kept = [p for p, r in zip(parts, results) if r.accepted]
            if not kept:
                return UpdateResult(results, total, len(y))
            self._apply(m.subset(kept))
        self._kf.x[_ANGLES] = wrap_angle(self._kf.x[_ANGLES])
        self._kf.P = 0.5 * (self._kf.P + self._kf.P.T)
        if not (np.all(np.isfinite(self._kf.x)) and np.all(np.isfinite(self._kf.P))):
            raise FloatingPointError("non-finite state after the update")
        return UpdateResult(results, total, len(y))

    def _gate(self, part) -> PartResult:
        n = part.stop - part.start
        if part.threshold == float("inf"):
            ok = bool(np.all(np.isfinite(self._kf.y[part.start:part.stop])))
            return PartResult(part.kind, ok, float("nan"), n)
        y = self._kf.y[part.start:part.stop]
        nis = float(y @ np.linalg.solve(self._kf.S[part.start:part.stop, part.start:part.stop], y))
        return PartResult(part.kind, bool(np.isfinite(nis) and nis < part.threshold ** 2), nis, n)


class _Ekf(ExtendedKalmanFilter):
    """filterpy EKF whose state prediction is the nonlinear motion model."""

    def __init__(self, motion):
        super().__init__(dim_x=STATE_SIZE, dim_z=1)
        self.motion = motion
        self.dt = 0.0
        self.x = np.zeros(STATE_SIZE)

    def predict_x(self, u=0):
        self.x = self.motion.f(self.x, self.dt)


class FilterpyEkf(FilterpyFilter):
    """Extended Kalman filter.

    Predict: ``x = f(x, dt)``, ``P = F P F^T + Q(dt)`` with ``F = df/dx``.
    Update:  ``y = z - h(x)``, ``S = H P H^T + R``, ``K = P H^T S^-1``,
    ``x += K y``, ``P = (I - K H) P (I - K H)^T + K R K^T`` (Joseph form).
    """

    name = "ekf"

    def __init__(self, motion: ConstantAcceleration3D):
        super().__init__(motion)
        self._kf = _Ekf(motion)

    def predict(self, dt: float) -> None:
        if dt <= 0.0:
            return
        kf = self._kf
        kf.dt = dt
        kf.F = self.motion.jacobian(kf.x, dt)
        kf.Q = self.motion.Q(dt)
        kf.predict()

    def _apply(self, m: Measurement) -> None:
        model = m.model
        self._kf.update(m.z, model.jacobian, model.h, R=m.R, residual=_residual_fn(model.angle_mask))


def deviations(sigmas: np.ndarray, mean: np.ndarray, angle_idx) -> np.ndarray:
    """``sigmas - mean`` row-wise, angle columns wrapped."""
    d = sigmas - mean
    if len(angle_idx):
        d[:, angle_idx] = wrap_angle(d[:, angle_idx])
    return d


def weighted_mean(sigmas: np.ndarray, Wm: np.ndarray, angle_idx) -> np.ndarray:
    """``sum Wm_i s_i`` with angle columns averaged on the circle."""
    m = Wm @ sigmas
    if len(angle_idx):
        m[angle_idx] = circular_mean(sigmas[:, angle_idx], Wm)
    return m


def _unscented_transform(angle_idx):
    """Vectorised unscented transform: mean and ``sum Wc_i d_i d_i^T + noise``."""
    def ut(sigmas, Wm, Wc, noise_cov=None, mean_fn=None, residual_fn=None):
        m = weighted_mean(sigmas, Wm, angle_idx)
        d = deviations(sigmas, m, angle_idx)
        P = (d.T * Wc) @ d
        return m, P if noise_cov is None else P + noise_cov
    return ut


_STATE_UT = _unscented_transform(_ANGLES)


class _Ukf(UnscentedKalmanFilter):
    """filterpy UKF with the sigma-point arithmetic vectorised.

    The motion model propagates all sigma points at once (``f_batch``) and
    the unscented transform and cross-covariance are matrix products rather
    than per-point loops; the filter equations are filterpy's.
    """

    def __init__(self, motion, points):
        super().__init__(STATE_SIZE, 1, 0.0, hx=None, fx=motion.f, points=points,
                         x_mean_fn=_state_mean, residual_x=_state_residual)
        self.motion = motion
        self.z_angles = np.array([], dtype=int)

    def compute_process_sigmas(self, dt, fx=None, **fx_args):
        self.sigmas_f = self.motion.f_batch(self.points_fn.sigma_points(self.x, self.P), dt)

    def cross_variance(self, x, z, sigmas_f, sigmas_h):
        dx = deviations(sigmas_f, x, _ANGLES)
        dz = deviations(sigmas_h, z, self.z_angles)
        return (dx.T * self.Wc) @ dz


class FilterpyUkf(FilterpyFilter):
    """Unscented Kalman filter with Van der Merwe's scaled sigma points.

    Angles are averaged on the circle and residuals wrapped, both for the
    state and for the measurement.

    Parameters
    ----------
    alpha, beta, kappa : float
        Sigma point spread. The default alpha = 1, kappa = 0 gives every
        sigma point a non-negative weight (a cubature-like rule), which keeps
        P positive definite for 15 states; robot_localization uses 1e-3, 2, 0,
        whose centre weight of about -1e6 makes P indefinite after strongly
        nonlinear steps.
    """

    name = "ukf"

    def __init__(self, motion: ConstantAcceleration3D, alpha=1.0, beta=2.0, kappa=0.0):
        super().__init__(motion)
        self._points = MerweScaledSigmaPoints(STATE_SIZE, alpha=alpha, beta=beta, kappa=kappa,
                                              sqrt_method=robust_sqrt,
                                              subtract=_state_residual)
        self._kf = _Ukf(motion, self._points)

    def predict(self, dt: float) -> None:
        if dt <= 0.0:
            return
        self._kf.Q = self.motion.Q(dt)
        self._kf.predict(dt=dt, UT=_STATE_UT)
        self._kf.x[_ANGLES] = wrap_angle(self._kf.x[_ANGLES])
        self._kf.P = 0.5 * (self._kf.P + self._kf.P.T)

    def _apply(self, m: Measurement) -> None:
        kf = self._kf
        # filterpy reuses the sigma points of the last predict; after an
        # earlier update at the same time they would describe the prior.
        kf.sigmas_f = self._points.sigma_points(kf.x, kf.P)
        kf.residual_z = _residual_fn(m.model.angle_mask)
        kf.z_angles = np.flatnonzero(m.model.angle_mask)
        kf.update(m.z, R=m.R, hx=m.model.h, UT=_unscented_transform(kf.z_angles))


def robust_sqrt(A: np.ndarray) -> np.ndarray:
    """Upper-triangular square root ``U^T U = A`` for sigma points.

    Falls back to a symmetric eigen-decomposition with eigenvalues clipped at
    a tiny positive floor when round-off has made ``A`` slightly indefinite,
    so one bad step cannot kill the filter.
    """
    try:
        return scipy.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(0.5 * (A + A.T))
        w = np.maximum(w, 1e-12)
        return np.linalg.qr((V * np.sqrt(w)).T, mode="r")
