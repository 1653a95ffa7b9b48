# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Per-track filters of the object tracker: an EKF and a UKF on filterpy.

A track filter predicts one track's ``x, P`` with a
:class:`~fusion_nodes.core.track_models.MotionModel` and updates it with one
measurement of a :class:`~fusion_nodes.core.track_models.MeasurementModel`.
Gating happens before either (the associator works on the linearised
innovation covariance ``S = H P H^T + R`` of every track-detection pair), so a
rejected measurement never touches a track.
"""
from __future__ import annotations

import warnings
from abc import ABC, abstractmethod

import numpy as np
from filterpy.kalman import ExtendedKalmanFilter, MerweScaledSigmaPoints, unscented_transform
from scipy.linalg import LinAlgWarning

from .geometry import circular_mean
from .track_models import MeasurementModel, MotionModel, SensorPose


def measurement_jacobian(motion: MotionModel, model: MeasurementModel, X: np.ndarray,
                         sensor: SensorPose) -> tuple[np.ndarray, np.ndarray]:
    """Predicted measurements ``h(k(x))`` (n x m) and ``H = dh/dk dk/dx`` (n x m x dim) of state rows ``X``."""
    K = motion.kinematics(X)
    return model.predict(K, sensor), model.jacobian(K, sensor) @ motion.kinematics_jacobian(X)


class TrackFilter(ABC):
    """Predict and update one track's state estimate."""

    def __init__(self, motion: MotionModel):
        self.motion = motion

    def predict(self, x: np.ndarray, P: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """``x' = f(x)``, ``P' = F P F^T + Q`` over ``dt`` seconds (``dt <= 0``: unchanged)."""
        if dt <= 0:
            return x, P
        x2, F = self.motion.predict(x, dt)
        return x2, F @ P @ F.T + self.motion.noise(x, dt)

    @abstractmethod
    def update(self, x, P, z, R, model: MeasurementModel, sensor: SensorPose,
               linearised=None) -> tuple[np.ndarray, np.ndarray]:
        """The posterior ``x, P`` after measurement ``z`` with covariance ``R``.

        ``linearised``: ``(zhat, H)`` at ``x`` if the caller already has them (the gate computed them for
        every track); a filter that does not linearise ignores it.
        """


class EkfTrackFilter(TrackFilter):
    """filterpy's :class:`ExtendedKalmanFilter` update (Joseph form) with the chained Jacobian."""

    def __init__(self, motion: MotionModel):
        super().__init__(motion)
        self._ekf = ExtendedKalmanFilter(dim_x=motion.dim, dim_z=1)

    def update(self, x, P, z, R, model, sensor, linearised=None):
        ekf = self._ekf
        ekf.x, ekf.P = np.asarray(x, float).copy(), np.asarray(P, float).copy()
        if linearised is None:
            zhat, H = measurement_jacobian(self.motion, model, ekf.x[None], sensor)
        else:
            zhat, H = linearised[0][None], linearised[1][None]
        with warnings.catch_warnings():
            # A camera detection without a range carries NO_RANGE_VARIANCE (1e12) on purpose: S's
            # condition number is then ~1e14 by design, and its inverse is still exact to working
            # precision (the huge entry is diagonal and dominates its row), so the warning says nothing.
            warnings.simplefilter("ignore", LinAlgWarning)
            ekf.update(np.asarray(z, float), HJacobian=lambda _x: H[0], Hx=lambda _x: zhat[0], R=R,
                       residual=model.residual)
        return self.motion.normalise(ekf.x), 0.5 * (ekf.P + ekf.P.T)


class UkfTrackFilter(TrackFilter):
    """Unscented update: filterpy's :class:`MerweScaledSigmaPoints` and :func:`unscented_transform`.

    The measurement of all ``2n + 1`` sigma points is one call of the
    vectorised measurement model; the prediction stays the EKF's (the motion
    models here are close to linear over a frame, the measurement is not).
    """

    def __init__(self, motion: MotionModel, alpha: float = 0.5, beta: float = 2.0, kappa: float = 0.0):
        super().__init__(motion)
        self.points = MerweScaledSigmaPoints(motion.dim, alpha=alpha, beta=beta, kappa=kappa)

    def update(self, x, P, z, R, model, sensor, linearised=None):
        sig = self.points.sigma_points(np.asarray(x, float), np.asarray(P, float))
        Zs = model.predict(self.motion.kinematics(sig), sensor)
        residual = model.residual
        zmean, S = unscented_transform(Zs, self.points.Wm, self.points.Wc, R, mean_fn=_mean_fn(model),
                                       residual_fn=residual)
        dx = self.motion.difference(sig, x)
        Pxz = (self.points.Wc[:, None, None] * dx[:, :, None] * residual(Zs, zmean)[:, None, :]).sum(axis=0)
        K = np.linalg.solve(S.T, Pxz.T).T
        x2 = x + K @ residual(np.asarray(z, float), zmean)
        P2 = P - K @ S @ K.T
        return self.motion.normalise(x2), 0.5 * (P2 + P2.T)


def _mean_fn(model: MeasurementModel):
    """Weighted mean of sigma-point measurements, angular components as circular means."""
    if not model.angular:
        return None
    idx = list(model.angular)

    def mean(Zs, Wm):
        m = Wm @ Zs
        m[idx] = circular_mean(Zs[:, idx], Wm)
        return m
    return mean


TRACK_FILTERS = {"ekf": EkfTrackFilter, "ukf": UkfTrackFilter}
