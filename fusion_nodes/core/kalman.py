# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The lean EKF and UKF: the filters the estimator runs.

The same equations as the filterpy-based reference filters in
:mod:`fusion_nodes.core.filters` (the tests hold the two to each other to
1e-9 over whole drives), written for the cost of one message:

* the EKF predicts with :meth:`ConstantAcceleration3D.step`, which returns
  ``x' = f(x, dt)`` and ``F = df/dx`` from one pass of scalar trigonometry,
  then ``P' = F P F^T + Q`` (no filterpy copies of ``F``, ``Q``, priors);
* the gate comes before the gain: ``y = z - h(x)``, ``S = H P H^T + R`` and
  each part's ``y_i^T S_ii^-1 y_i`` are computed once, and the update uses
  only the accepted rows (no update-then-undo);
* a direct observation (:class:`StateSelection`) never builds ``H``:
  ``H P H^T`` is ``P[idx][:, idx]`` and ``P H^T`` is ``P[:, idx]``;
* the UKF propagates all ``2n + 1`` sigma points through the motion model
  at once and, for direct observations, takes ``h`` of all of them as one
  column selection.

Notation is FilterPy's (``x``, ``P``, ``F``, ``Q``, ``H``, ``R``, ``y``,
``S``, ``K``). The state is only replaced when the update is finite: a
singular ``S`` or a non-finite result leaves ``x`` and ``P`` as they were.
"""
from __future__ import annotations

import copy as _copy
import math
from abc import abstractmethod

import numpy as np

from .filters import (Filter, FilterpyEkf, FilterpyUkf, PartResult, UpdateResult, cholesky, deviations,
                      gate_parts, robust_sqrt, solve, weighted_mean)
from .geometry import wrap_angle
from .measurement_models import StateSelection
from .motion import ConstantAcceleration3D
from .records import Measurement
from .state import ANGLE_INDICES, STATE_SIZE

_ANGLES = list(ANGLE_INDICES)
_EYE = np.eye(STATE_SIZE)
_FAILURES = (np.linalg.LinAlgError, ValueError, FloatingPointError, OverflowError)


def _failed(m: Measurement) -> UpdateResult:
    parts = tuple(PartResult(p.kind, False, float("nan"), p.stop - p.start) for p in m.part_list())
    return UpdateResult(parts, float("nan"), len(m.z), numerical_failure=True)


class LeanFilter(Filter):
    """State, ``set_state`` and the failure guard shared by :class:`Ekf` and :class:`Ukf`.

    A subclass implements ``predict(dt)`` and ``_update(m) -> (UpdateResult, x, P)`` (``x`` None: nothing
    accepted); this class applies the result only when it is finite and keeps the attitude wrapped.
    """

    name = "base"

    def __init__(self, motion: ConstantAcceleration3D):
        self.motion = motion
        self.x = np.zeros(STATE_SIZE)
        self.P = np.eye(STATE_SIZE)

    def set_state(self, x: np.ndarray, P: np.ndarray) -> None:
        """Overwrite the estimate (copies the inputs)."""
        self.x = np.array(x, dtype=float)
        self.P = np.array(P, dtype=float)

    def copy(self) -> "LeanFilter":
        # the motion model and the sigma-point weights are never changed in place: only x and P are copied
        twin = _copy.copy(self)
        twin.set_state(self.x, self.P)
        return twin

    def update(self, m: Measurement) -> UpdateResult:
        """Kalman update with ``m``, each part gated on its own before the gain.

        A part is rejected when its Mahalanobis distance
        ``sqrt(y_i^T S_ii^-1 y_i)`` reaches its threshold; the update then
        uses the accepted parts only, and with none accepted the state is
        untouched.
        """
        try:
            result, x, P = self._update(m)
        except _FAILURES:
            return _failed(m)
        if x is not None:
            # One sum is finite exactly when every entry is (an inf or a NaN anywhere propagates).
            if not math.isfinite(x.sum() + P.sum()):
                return _failed(m)
            wrap_attitude(x)
            P += P.T
            P *= 0.5
            self.x, self.P = x, P
        return result

    @abstractmethod
    def _update(self, m: Measurement) -> tuple:
        """``(UpdateResult, x, P)`` of the update with ``m``, without touching the filter's own state."""


class Ekf(LeanFilter):
    """Extended Kalman filter.

    Predict: ``x = f(x, dt)``, ``P = F P F^T + Q(dt)`` with ``F = df/dx``.
    Update:  ``y = z - h(x)``, ``S = H P H^T + R``, ``K = P H^T S^-1``,
    ``x += K y``, ``P = (I - K H) P (I - K H)^T + K R K^T`` (Joseph form,
    which stays symmetric positive definite under round-off).
    """

    name = "ekf"

    def predict(self, dt: float) -> None:
        if dt <= 0.0:
            return
        x, F = self.motion.step(self.x, dt)
        P = F @ self.P @ F.T
        P += self.motion.Q(dt)
        self.x, self.P = x, P

    def _update(self, m: Measurement):
        x, P, model = self.x, self.P, m.model
        sel = model.indices if type(model) is StateSelection else None
        if sel is not None:
            y = m.z - x[sel]
            PHt = P[:, sel]
            S = PHt[sel] + m.R
            H = None
        else:
            H = model.jacobian(x)
            y = m.z - model.h(x)
            PHt = P @ H.T
            S = H @ PHt + m.R
        ai = _angle_rows(model)
        if ai is not None:
            y[ai] = wrap_angle(y[ai])
        U = cholesky(S)
        total, results, rows = gate_parts(m, y, S, U)
        R = m.R
        if rows is not None:
            if not rows:
                return UpdateResult(results, total, len(y)), None, None
            y, PHt, R = y[rows], PHt[:, rows], R[np.ix_(rows, rows)]
            U = cholesky(S[np.ix_(rows, rows)])
            if sel is not None:
                sel = sel[rows]
            else:
                H = H[rows]
        K = solve(U, PHt.T).T          # K = P H^T S^-1 (S symmetric)
        if sel is not None:
            IKH = _EYE.copy()
            IKH[:, sel] -= K
        else:
            IKH = _EYE - K @ H
        P_new = IKH @ P @ IKH.T
        P_new += K @ R @ K.T
        return UpdateResult(results, total, len(m.z)), x + K @ y, P_new


class Ukf(LeanFilter):
    """Unscented Kalman filter with Van der Merwe's scaled sigma points.

    Sigma points ``x``, ``x +- U_k`` with ``U^T U = (n + lambda) P``
    (angles wrapped); the prediction propagates all of them at once
    (``f_batch``); means of angles are circular means and residuals are
    wrapped, for the state and for the measurement. ``P -= K S K^T``.

    Parameters
    ----------
    alpha, beta, kappa : float
        Sigma point spread; see :class:`~fusion_nodes.core.filters.FilterpyUkf`
        for why the default is alpha = 1, kappa = 0.
    """

    name = "ukf"

    def __init__(self, motion: ConstantAcceleration3D, alpha=1.0, beta=2.0, kappa=0.0):
        super().__init__(motion)
        n = STATE_SIZE
        lam = alpha ** 2 * (n + kappa) - n
        self._scale = n + lam
        self.Wm = np.full(2 * n + 1, 0.5 / (n + lam))
        self.Wc = self.Wm.copy()
        self.Wm[0] = lam / (n + lam)
        self.Wc[0] = lam / (n + lam) + (1.0 - alpha ** 2 + beta)

    def sigma_points(self, x: np.ndarray, P: np.ndarray) -> np.ndarray:
        """``(2n + 1) x n`` sigma points: ``x``, then ``x + U_k``, then ``x - U_k``."""
        U = robust_sqrt(self._scale * P)
        sig = np.vstack([x, x + U, x - U])
        sig[1:, _ANGLES] = wrap_angle(sig[1:, _ANGLES])
        return sig

    def predict(self, dt: float) -> None:
        if dt <= 0.0:
            return
        sf = self.motion.f_batch(self.sigma_points(self.x, self.P), dt)
        x = weighted_mean(sf, self.Wm, _ANGLES)
        d = deviations(sf, x, _ANGLES)
        P = (d.T * self.Wc) @ d
        P += self.motion.Q(dt)
        x[_ANGLES] = wrap_angle(x[_ANGLES])
        self.x, self.P = x, 0.5 * (P + P.T)

    def _update(self, m: Measurement):
        sig = self.sigma_points(self.x, self.P)
        model = m.model
        if type(model) is StateSelection:
            sh = sig[:, model.indices]
        else:
            sh = np.array([model.h(s) for s in sig])
        za = np.flatnonzero(model.angle_mask)
        result = self._gain(m, sig, sh, za, np.arange(len(m.z)))
        return result

    def _gain(self, m, sig, sh, za, rows):
        zp = weighted_mean(sh, self.Wm, za)
        dz = deviations(sh, zp, za)
        S = (dz.T * self.Wc) @ dz + m.R
        y = m.z - zp
        if len(za):
            y[za] = wrap_angle(y[za])
        U = cholesky(S)
        total, results, keep = gate_parts(m, y, S, U)
        if keep is not None:
            if not keep:
                return UpdateResult(results, total, len(y)), None, None
            sh, R = sh[:, keep], m.R[np.ix_(keep, keep)]
            za = np.flatnonzero(np.asarray(m.model.angle_mask)[keep])
            zp = weighted_mean(sh, self.Wm, za)
            dz = deviations(sh, zp, za)
            S = (dz.T * self.Wc) @ dz + R
            y = m.z[keep] - zp
            if len(za):
                y[za] = wrap_angle(y[za])
            U = cholesky(S)
        dx = deviations(sig, self.x, _ANGLES)
        K = solve(U, ((dx.T * self.Wc) @ dz).T).T
        return UpdateResult(results, total, len(m.z)), self.x + K @ y, self.P - K @ S @ K.T


def wrap_attitude(x: np.ndarray) -> None:
    """Wrap roll, pitch and yaw of ``x`` to [-pi, pi) in place (scalar test first: usually nothing to do)."""
    r, p, y = x[3:6].tolist()
    if not (-math.pi <= r < math.pi and -math.pi <= p < math.pi and -math.pi <= y < math.pi):
        x[3:6] = wrap_angle(x[3:6])


def _angle_rows(model):
    """Rows of ``z`` that are angles (cached on the model), or None."""
    rows = getattr(model, "_angle_rows", False)
    if rows is False:
        rows = np.flatnonzero(model.angle_mask)
        rows = rows if len(rows) else None
        try:
            model._angle_rows = rows
        except AttributeError:      # a model that does not take attributes: recomputed each time
            pass
    return rows


FILTERS: dict[str, type] = {"ekf": Ekf, "ukf": Ukf}
"""Filter name -> :class:`~fusion_nodes.core.filters.Filter` subclass: kalman_fusion_node's ``filter_type``."""
REFERENCE_FILTERS = {"ekf": FilterpyEkf, "ukf": FilterpyUkf}


def register_filter(name: str, cls: type) -> type:
    """Add a :class:`~fusion_nodes.core.filters.Filter` subclass to :data:`FILTERS` as ``name``.

    A new filter is one file with the subclass and one call of this function; the estimator and
    kalman_fusion_node (``filter_type: <name>``) then use it.
    """
    if not (isinstance(cls, type) and issubclass(cls, Filter)):
        raise TypeError(f"{cls!r} is not a Filter subclass")
    FILTERS[name] = cls
    return cls


def filter_types() -> tuple[str, ...]:
    """The registered filter names."""
    return tuple(FILTERS)


def make_filter(kind: str, motion: ConstantAcceleration3D, reference: bool = False, **kwargs) -> Filter:
    """A registered filter (``reference``: the filterpy-based one) for ``motion``."""
    kinds = REFERENCE_FILTERS if reference else FILTERS
    if kind not in kinds:
        raise ValueError(f"filter_type must be one of {sorted(kinds)}, got {kind!r}")
    return kinds[kind](motion, **kwargs)
