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
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from filterpy.kalman import ExtendedKalmanFilter, MerweScaledSigmaPoints, UnscentedKalmanFilter
from scipy.linalg import lapack

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


def cholesky(S: np.ndarray) -> np.ndarray:
    """Upper Cholesky factor ``U`` of ``S = U^T U`` (LAPACK ``dpotrf``: a few µs where
    ``numpy.linalg.inv`` costs ten); raises ``LinAlgError`` when ``S`` is not positive definite,
    which for an innovation covariance means the update must not be applied.
    """
    U, info = lapack.dpotrf(S)
    if info != 0:
        raise np.linalg.LinAlgError("innovation covariance is not positive definite")
    return U


def solve(U: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``S^-1 B`` from the factor ``U`` of :func:`cholesky` (LAPACK ``dpotrs``)."""
    return lapack.dpotrs(U, B)[0]


def gate_parts(m: Measurement, y: np.ndarray, S: np.ndarray, U: np.ndarray):
    """NIS of the whole innovation and each part's gate outcome.

    ``U`` is the Cholesky factor of ``S``. Returns ``(total, results, rows)``:
    ``total = y^T S^-1 y``; one
    :class:`PartResult` per part (``nis = y_i^T S_ii^-1 y_i``, accepted
    when below the part's threshold squared; a part without a threshold is
    accepted, since a finite ``total`` means a finite ``y``, and its NIS is
    NaN); ``rows`` the accepted rows, or None when all are accepted.
    """
    total = float(y @ solve(U, y))
    if not math.isfinite(total):
        raise FloatingPointError("non-finite innovation")
    parts = m.part_list()
    if len(parts) == 1:
        p = parts[0]
        ok = total < p.threshold * p.threshold
        return total, (PartResult(p.kind, ok, total, len(y)),), (None if ok else [])
    results, rows, all_ok = [], [], True
    for p in parts:
        a, b = p.start, p.stop
        if p.threshold == math.inf:
            r = PartResult(p.kind, True, math.nan, b - a)
        else:
            yi = y[a:b]
            nis = float(yi @ solve(cholesky(S[a:b, a:b]), yi))
            r = PartResult(p.kind, nis < p.threshold * p.threshold, nis, b - a)
        results.append(r)
        if r.accepted:
            rows.extend(range(a, b))
        else:
            all_ok = False
    return total, tuple(results), (None if all_ok else rows)


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
    """State handling and the gate of the filterpy-based reference filters.

    The gate comes before the gain, as in the lean filters and
    robot_localization: ``_innovation`` gives ``y`` and ``S = H P H^T + R`` of
    the whole measurement from the current estimate, :func:`gate_parts` decides
    each part, and filterpy's own ``update`` is then called with the accepted
    parts only (never applied and undone).
    """

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
        """Kalman update with ``m``, each part gated on its own before the gain.

        A part is rejected when its Mahalanobis distance
        ``sqrt(y_i^T S_ii^-1 y_i)`` reaches its threshold; filterpy then
        updates with the accepted parts only, and with none accepted the state
        is untouched. A singular ``S`` or a non-finite result leaves ``x`` and
        ``P`` as they were.
        """
        x0, P0 = self._kf.x.copy(), self._kf.P.copy()
        try:
            return self._gated_update(m)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError, OverflowError):
            pass
        self._kf.x, self._kf.P = x0, P0
        parts = tuple(PartResult(p.kind, False, float("nan"), p.stop - p.start) for p in m.part_list())
        return UpdateResult(parts, float("nan"), len(m.z), numerical_failure=True)

    def _gated_update(self, m: Measurement) -> UpdateResult:
        y, S = self._innovation(m)
        total, results, rows = gate_parts(m, y, S, cholesky(S))
        if rows is not None:
            kept = [p for p, r in zip(m.part_list(), results) if r.accepted]
            if not kept:
                return UpdateResult(results, total, len(y))
            m = m.subset(kept)
        self._apply(m)
        kf = self._kf
        kf.x[_ANGLES] = wrap_angle(kf.x[_ANGLES])
        kf.P = 0.5 * (kf.P + kf.P.T)
        if not (np.all(np.isfinite(kf.x)) and np.all(np.isfinite(kf.P))):
            raise FloatingPointError("non-finite state after the update")
        return UpdateResult(results, total, len(y))

    @abstractmethod
    def _innovation(self, m: Measurement) -> tuple:
        """``(y, S)`` of ``m`` at the current estimate (angle rows of ``y`` wrapped)."""

    @abstractmethod
    def _apply(self, m: Measurement) -> None:
        """Apply ``m`` (every part) with filterpy's own update."""


class _Ekf(ExtendedKalmanFilter):
    """filterpy EKF whose state prediction is the nonlinear motion model.

    ``predict_x`` is filterpy's documented hook for a state prediction of one's own.
    """

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

    def _innovation(self, m: Measurement) -> tuple:
        kf, model = self._kf, m.model
        H = model.jacobian(kf.x)
        return _residual_fn(model.angle_mask)(m.z, model.h(kf.x)), H @ kf.P @ H.T + m.R

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
    """Vectorised unscented transform: mean and ``sum Wc_i d_i d_i^T + noise``.

    Given to filterpy through the ``UT`` argument of its ``predict`` and ``update``.
    """
    def ut(sigmas, Wm, Wc, noise_cov=None, mean_fn=None, residual_fn=None):
        m = weighted_mean(sigmas, Wm, angle_idx)
        d = deviations(sigmas, m, angle_idx)
        P = (d.T * Wc) @ d
        return m, P if noise_cov is None else P + noise_cov
    return ut


_STATE_UT = _unscented_transform(_ANGLES)


class _AngleResidual:
    """``a - b`` with the rows in ``angles`` wrapped: filterpy's ``residual_z``, set per measurement.

    An object rather than a closure so that :meth:`Filter.copy` copies it with the filter.
    """

    def __init__(self):
        self.angles = np.array([], dtype=int)

    def __call__(self, a, b):
        d = np.subtract(a, b)
        if len(self.angles):
            d[self.angles] = wrap_angle(d[self.angles])
        return d


class FilterpyUkf(FilterpyFilter):
    """Unscented Kalman filter with Van der Merwe's scaled sigma points.

    filterpy's ``UnscentedKalmanFilter`` through its public interface: the
    motion model as ``fx``, angles averaged on the circle and residuals
    wrapped through ``x_mean_fn`` / ``residual_x`` / ``residual_z`` and the
    ``UT`` argument, for the state and for the measurement.

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
        points = MerweScaledSigmaPoints(STATE_SIZE, alpha=alpha, beta=beta, kappa=kappa,
                                        sqrt_method=robust_sqrt, subtract=_state_residual)
        self._residual_z = _AngleResidual()
        self._kf = UnscentedKalmanFilter(STATE_SIZE, 1, 0.0, hx=None, fx=motion.f, points=points,
                                         x_mean_fn=_state_mean, residual_x=_state_residual,
                                         residual_z=self._residual_z)

    def predict(self, dt: float) -> None:
        if dt <= 0.0:
            return
        self._kf.Q = self.motion.Q(dt)
        self._kf.predict(dt=dt, UT=_STATE_UT)
        self._kf.x[_ANGLES] = wrap_angle(self._kf.x[_ANGLES])
        self._kf.P = 0.5 * (self._kf.P + self._kf.P.T)

    def _sigmas(self) -> np.ndarray:
        """The sigma points of the current estimate, drawn by filterpy.

        filterpy's ``update`` uses the points its last ``predict`` drew; after
        an update at the same time, or a ``set_state``, they would describe an
        old estimate. ``compute_process_sigmas`` with a zero-length step (filterpy's
        way to update twice between predicts; ``f(x, 0) = x``) draws them anew and
        leaves ``x`` and ``P`` untouched: a ``predict(0)`` would re-estimate both from
        the points, and a measurement the gate then rejects would still have moved the
        state by round-off.
        """
        self._kf.compute_process_sigmas(0.0)
        return self._kf.sigmas_f

    def _innovation(self, m: Measurement) -> tuple:
        kf, angles = self._kf, np.flatnonzero(m.model.angle_mask)
        sh = np.array([m.model.h(s) for s in self._sigmas()])
        zp, S = _unscented_transform(angles)(sh, kf.Wm, kf.Wc, m.R)
        y = m.z - zp
        y[angles] = wrap_angle(y[angles])
        return y, S

    def _apply(self, m: Measurement) -> None:
        angles = np.flatnonzero(m.model.angle_mask)
        self._residual_z.angles = angles
        self._kf.update(m.z, R=m.R, hx=m.model.h, UT=_unscented_transform(angles))


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
