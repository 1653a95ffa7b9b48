# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Motion and measurement models of the object tracker (ground plane, world frame).

Every track lives in the world (odom) frame, REP-103: x east / forward, y
left, SI units. The two roles are kept apart the way Stone Soup keeps its
transition and measurement models apart:

* a :class:`MotionModel` owns the state layout, its prediction
  ``x' = f(x, dt)`` with Jacobian ``F`` and process noise ``Q``, and the map
  from its state to the *kinematics* ``k = [px, py, vx, vy]`` (m, m/s) with
  the Jacobian ``J = dk/dx``;
* a :class:`MeasurementModel` predicts a measurement from kinematics only,
  ``z = h(k, sensor)``, with ``dh/dk``; the filter chains the two
  (``H = dh/dk J``), so any measurement model works with any motion model.

Measurement models are evaluated for many tracks at once (rows of ``K``),
which is what the association cost matrix needs.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from .geometry import wrap_angle

_EYE4 = np.eye(4)
_EYE4.setflags(write=False)
UNKNOWN_SPEED = 15.0
"""m/s: standard deviation of a velocity component nothing has measured yet (a new track)."""


@dataclass(frozen=True)
class SensorPose:
    """Where a sensor was when it measured: origin ``x, y`` (m, world) and heading ``yaw`` (rad)."""

    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0


@dataclass(frozen=True)
class Seed:
    """What one measurement says about a new object: kinematics ``k`` and their covariance ``P`` (4 x 4)."""

    k: np.ndarray
    P: np.ndarray


# -- motion models ---------------------------------------------------------------------------------------
class MotionModel(ABC):
    """State layout, prediction and process noise of one kind of object motion."""

    dim: int

    @abstractmethod
    def predict(self, x: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """``x' = f(x, dt)`` and ``F = df/dx`` for ``dt`` seconds."""

    @abstractmethod
    def noise(self, x: np.ndarray, dt: float) -> np.ndarray:
        """Process noise ``Q`` (dim x dim) accumulated over ``dt`` seconds."""

    @abstractmethod
    def kinematics(self, X: np.ndarray) -> np.ndarray:
        """Rows of ``[px, py, vx, vy]`` for state rows ``X`` (n x dim)."""

    @abstractmethod
    def kinematics_jacobian(self, X: np.ndarray) -> np.ndarray:
        """``dk/dx`` per row (n x 4 x dim)."""

    @abstractmethod
    def from_kinematics(self, seed: Seed) -> tuple[np.ndarray, np.ndarray]:
        """Initial ``x, P`` of a track from a measurement's :class:`Seed`."""

    def normalise(self, x: np.ndarray) -> np.ndarray:
        """``x`` with angular components wrapped (after an update)."""
        return x

    def difference(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a - b`` of states (rows), angular components wrapped."""
        return np.asarray(a, float) - b


@dataclass(frozen=True)
class ConstantVelocity(MotionModel):
    """``x = [px, py, vx, vy]``, white-noise acceleration of spectral density ``q`` (m^2/s^3).

    ``F = [[I, dt I], [0, I]]``,
    ``Q = q [[dt^3/3 I, dt^2/2 I], [dt^2/2 I, dt I]]``.
    """

    q: float = 1.0
    dim: int = 4

    def predict(self, x, dt):
        F = np.eye(4)
        F[0, 2] = F[1, 3] = dt
        return F @ x, F

    def noise(self, x, dt):
        # q * kron([[dt^3/3, dt^2/2], [dt^2/2, dt]], I2), written out: np.kron costs more than the rest
        # of a track's prediction
        a, b, c = self.q * dt ** 3 / 3.0, self.q * dt ** 2 / 2.0, self.q * dt
        return np.array([[a, 0.0, b, 0.0], [0.0, a, 0.0, b], [b, 0.0, c, 0.0], [0.0, b, 0.0, c]])

    def kinematics(self, X):
        return np.asarray(X, float)[..., :4]

    def kinematics_jacobian(self, X):
        return np.broadcast_to(_EYE4, (len(X), 4, 4))

    def from_kinematics(self, seed):
        return np.asarray(seed.k, float).copy(), np.asarray(seed.P, float).copy()


@dataclass(frozen=True)
class ConstantTurnRate(MotionModel):
    """CTRV: ``x = [px, py, v, yaw, w]`` (m, m, m/s, rad, rad/s), for vehicles that turn.

    ``px' = px + v/w (sin(yaw + w dt) - sin yaw)``, ``py' = py + v/w (cos yaw - cos(yaw + w dt))``,
    straight-line limit for ``|w| < 1e-4``; ``v`` and ``w`` are random walks driven by a longitudinal
    acceleration (variance ``q_accel``, m^2/s^4) and a yaw acceleration (``q_yaw``, rad^2/s^4).
    ``F`` by central differences of ``f`` (exact to ~1e-8 for these smooth terms).
    """

    q_accel: float = 1.0
    q_yaw: float = 0.1
    dim: int = 5

    @staticmethod
    def _f(x, dt):
        px, py, v, yaw, w = x
        if abs(w) < 1e-4:
            px, py = px + v * np.cos(yaw) * dt, py + v * np.sin(yaw) * dt
        else:
            px = px + v / w * (np.sin(yaw + w * dt) - np.sin(yaw))
            py = py + v / w * (np.cos(yaw) - np.cos(yaw + w * dt))
        return np.array([px, py, v, yaw + w * dt, w])

    def predict(self, x, dt):
        x = np.asarray(x, float)
        eps = 1e-6
        F = np.empty((5, 5))
        for j in range(5):
            d = np.zeros(5)
            d[j] = eps
            F[:, j] = (self._f(x + d, dt) - self._f(x - d, dt)) / (2 * eps)
        out = self._f(x, dt)
        out[3] = wrap_angle(out[3])
        return out, F

    def noise(self, x, dt):
        c, s = np.cos(x[3]), np.sin(x[3])
        G = np.array([[dt ** 2 / 2 * c, 0.0], [dt ** 2 / 2 * s, 0.0], [dt, 0.0], [0.0, dt ** 2 / 2], [0.0, dt]])
        return G @ np.diag([self.q_accel, self.q_yaw]) @ G.T

    def kinematics(self, X):
        X = np.atleast_2d(X)
        return np.column_stack([X[:, 0], X[:, 1], X[:, 2] * np.cos(X[:, 3]), X[:, 2] * np.sin(X[:, 3])])

    def kinematics_jacobian(self, X):
        X = np.atleast_2d(X)
        J = np.zeros((len(X), 4, 5))
        c, s, v = np.cos(X[:, 3]), np.sin(X[:, 3]), X[:, 2]
        J[:, 0, 0] = J[:, 1, 1] = 1.0
        J[:, 2, 2], J[:, 2, 3] = c, -v * s
        J[:, 3, 2], J[:, 3, 3] = s, v * c
        return J

    def from_kinematics(self, seed):
        k, P = np.asarray(seed.k, float), np.asarray(seed.P, float)
        speed = float(np.hypot(k[2], k[3]))
        x = np.array([k[0], k[1], speed, np.arctan2(k[3], k[2]) if speed > 0 else 0.0, 0.0])
        P0 = np.zeros((5, 5))
        P0[:2, :2] = P[:2, :2]
        # speed and heading from the velocity block, linearised; a slow seed knows no heading
        sv = float(np.sqrt(max(np.trace(P[2:, 2:]) / 2, 1e-6)))
        P0[2, 2] = sv ** 2
        P0[3, 3] = min((sv / speed) ** 2, np.pi ** 2 / 3) if speed > 0 else np.pi ** 2 / 3
        P0[4, 4] = 0.3 ** 2
        return x, P0

    def normalise(self, x):
        x = x.copy()
        x[3] = wrap_angle(x[3])
        return x

    def difference(self, a, b):
        d = np.asarray(a, float) - b
        d[..., 3] = wrap_angle(d[..., 3])
        return d


# -- measurement models ----------------------------------------------------------------------------------
class MeasurementModel(ABC):
    """A sensor's measurement of an object, as a function of the object's kinematics."""

    dim: int
    angular: tuple = ()          # indices of components that are angles (residuals wrapped)
    rate: Optional[int] = None   # index of the range-rate component (m/s), if the sensor measures one

    @abstractmethod
    def predict(self, K: np.ndarray, sensor: SensorPose) -> np.ndarray:
        """Predicted measurements (n x dim) for kinematics rows ``K`` (n x 4)."""

    @abstractmethod
    def jacobian(self, K: np.ndarray, sensor: SensorPose) -> np.ndarray:
        """``dh/dk`` per row (n x dim x 4)."""

    @abstractmethod
    def seed(self, z: np.ndarray, R: np.ndarray, sensor: SensorPose) -> Optional[Seed]:
        """Kinematics a measurement implies for a new track, or None if it cannot start one."""

    def with_footprints(self, footprints: np.ndarray) -> "MeasurementModel":
        """The model for objects of these ground footprints (rows of length, width in m).

        One row per kinematics row, or one for all; a model of a point-like measurement ignores them.
        """
        return self

    def residual(self, z: np.ndarray, zhat: np.ndarray) -> np.ndarray:
        """``z - zhat`` with angular components wrapped to [-pi, pi)."""
        y = np.asarray(z, float) - zhat
        if self.angular:
            y[..., list(self.angular)] = wrap_angle(y[..., list(self.angular)])
        return y


def _line_of_sight(K, sensor):
    d = K[:, :2] - [sensor.x, sensor.y]
    r = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-6)
    return d, r


def polar_position_covariance(d: np.ndarray, floor_std: float, range_std: float, azimuth_std: float,
                              points=None) -> np.ndarray:
    """Position covariances (n x 2 x 2, m^2) of points seen at offsets ``d`` (n x 2, m) from a ranging sensor.

    ``R = floor_std^2 I + (range_std^2 u u^T + (r azimuth_std)^2 n n^T) / N``
    with ``u`` the unit line of sight, ``n`` its normal, ``r = |d|`` and
    ``N`` the ``points`` averaged into each position (1 when not given): a
    radar's range error lies along the line of sight, its angle error across
    it and grows with range, and a cluster centroid averages both over its
    points. ``floor_std`` (m, per axis) is what averaging does not remove,
    e.g. where on the object's extent the points fall.
    """
    d = np.reshape(np.asarray(d, float), (-1, 2))
    r = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-6)
    u = d / r[:, None]
    nrm = np.column_stack([-u[:, 1], u[:, 0]])
    n = np.ones(len(d)) if points is None else np.maximum(np.asarray(points, float), 1.0)
    along, across = range_std ** 2 / n, (r * azimuth_std) ** 2 / n
    return floor_std ** 2 * np.eye(2) + along[:, None, None] * np.einsum("ni,nj->nij", u, u) \
        + across[:, None, None] * np.einsum("ni,nj->nij", nrm, nrm)


def _velocity_seed(pos, P_pos, u=None, radial=None, radial_var=None) -> Seed:
    """A seed at ``pos``; the velocity is unknown except, with Doppler, along the line of sight ``u``."""
    P = np.zeros((4, 4))
    P[:2, :2] = P_pos
    vel = np.zeros(2)
    Pv = np.eye(2) * UNKNOWN_SPEED ** 2
    if u is not None and np.isfinite(radial):
        vel = radial * u
        t = np.array([-u[1], u[0]])
        Pv = radial_var * np.outer(u, u) + UNKNOWN_SPEED ** 2 * np.outer(t, t)
    P[2:, 2:] = Pv
    return Seed(np.r_[pos, vel], P)


@dataclass(frozen=True)
class Position(MeasurementModel):
    """``z = [px, py]`` (m, world): a located object, e.g. the early-fusion output or a radar cluster."""

    dim: int = 2

    def predict(self, K, sensor):
        return K[:, :2].copy()

    def jacobian(self, K, sensor):
        H = np.zeros((len(K), 2, 4))
        H[:, 0, 0] = H[:, 1, 1] = 1.0
        return H

    def seed(self, z, R, sensor):
        return _velocity_seed(z[:2], R[:2, :2])


@dataclass(frozen=True)
class PositionDoppler(MeasurementModel):
    """``z = [px, py, rr]``: a radar cluster's centroid (m, world) and ego-compensated Doppler (m/s).

    ``rr = u . v`` with ``u = (p - s) / |p - s|`` the line of sight from the
    radar origin ``s``: the object's own velocity along it (positive away);
    ``d rr / dp = (v - u rr) / r``, ``d rr / dv = u``.
    """

    dim: int = 3
    rate: Optional[int] = 2

    def predict(self, K, sensor):
        d, r = _line_of_sight(K, sensor)
        u = d / r[:, None]
        return np.column_stack([K[:, 0], K[:, 1], (u * K[:, 2:4]).sum(axis=1)])

    def jacobian(self, K, sensor):
        d, r = _line_of_sight(K, sensor)
        u = d / r[:, None]
        rr = (u * K[:, 2:4]).sum(axis=1)
        H = np.zeros((len(K), 3, 4))
        H[:, 0, 0] = H[:, 1, 1] = 1.0
        H[:, 2, :2] = (K[:, 2:4] - u * rr[:, None]) / r[:, None]
        H[:, 2, 2:] = u
        return H

    def seed(self, z, R, sensor):
        d = z[:2] - [sensor.x, sensor.y]
        u = d / max(np.hypot(*d), 1e-6)
        return _velocity_seed(z[:2], R[:2, :2], u, z[2], R[2, 2])


@dataclass(frozen=True)
class RangeBearingRate(MeasurementModel):
    """``z = [range, bearing, range rate]`` (m, rad from the sensor heading, m/s): a radar in polar form."""

    dim: int = 3
    angular: tuple = (1,)
    rate: Optional[int] = 2

    def predict(self, K, sensor):
        d, r = _line_of_sight(K, sensor)
        return np.column_stack([r, wrap_angle(np.arctan2(d[:, 1], d[:, 0]) - sensor.yaw),
                                (d * K[:, 2:4]).sum(axis=1) / r])

    def jacobian(self, K, sensor):
        d, r = _line_of_sight(K, sensor)
        u = d / r[:, None]
        rr = (u * K[:, 2:4]).sum(axis=1)
        H = np.zeros((len(K), 3, 4))
        H[:, 0, :2] = u
        H[:, 1, 0], H[:, 1, 1] = -d[:, 1] / r ** 2, d[:, 0] / r ** 2
        H[:, 2, :2] = (K[:, 2:4] - u * rr[:, None]) / r[:, None]
        H[:, 2, 2:] = u
        return H

    def seed(self, z, R, sensor):
        a = z[1] + sensor.yaw
        u = np.array([np.cos(a), np.sin(a)])
        G = np.column_stack([u, z[0] * np.array([-u[1], u[0]])])    # d(px, py)/d(range, bearing)
        return _velocity_seed(np.array([sensor.x, sensor.y]) + z[0] * u, G @ R[:2, :2] @ G.T, u, z[2], R[2, 2])


@dataclass(frozen=True)
class BearingRange(MeasurementModel):
    """``z = [bearing, range]`` (rad from the sensor heading, m): a camera detection.

    The range is the monocular ground-contact estimate (the ray through the
    box's bottom edge meets the ground plane), so its variance is large and
    grows with range; a detection whose ray misses the ground carries no range,
    which the caller expresses as a range variance of :data:`NO_RANGE_VARIANCE`
    (the update then moves the track along the bearing only).
    """

    dim: int = 2
    angular: tuple = (0,)
    max_seed_variance: float = 25.0     # m^2: a range less certain than this starts no track

    def predict(self, K, sensor):
        d, r = _line_of_sight(K, sensor)
        return np.column_stack([wrap_angle(np.arctan2(d[:, 1], d[:, 0]) - sensor.yaw), r])

    def jacobian(self, K, sensor):
        d, r = _line_of_sight(K, sensor)
        H = np.zeros((len(K), 2, 4))
        H[:, 0, 0], H[:, 0, 1] = -d[:, 1] / r ** 2, d[:, 0] / r ** 2
        H[:, 1, :2] = d / r[:, None]
        return H

    def extent(self, K, sensor) -> np.ndarray:
        """Bearings (rad, n x 2: right edge, left edge) the objects cover in the image: a point's is its bearing."""
        b = self.predict(K, sensor)[:, 0]
        return np.column_stack([b, b])

    def seed(self, z, R, sensor):
        if not R[1, 1] <= self.max_seed_variance:
            return None
        a = z[0] + sensor.yaw
        u = np.array([np.cos(a), np.sin(a)])
        G = np.column_stack([z[1] * np.array([-u[1], u[0]]), u])
        return _velocity_seed(np.array([sensor.x, sensor.y]) + z[1] * u, G @ R @ G.T)


MIN_HEADING_SPEED = 1.0
"""m/s: below this speed a track's velocity says nothing reliable about which way its footprint points."""


@dataclass(frozen=True)
class BoxBearingRange(BearingRange):
    """``z = [bearing, range]`` of a camera's bounding box around an object of known footprint.

    A camera box is the image of the object's silhouette, not of its centre:
    for a car ahead and to the left the box's middle is the middle of the
    rear *and* left faces, and its bottom edge is the nearest corner. With the
    footprint's corners ``c_i`` (length ``L`` along the heading, width ``W``;
    heading from the velocity above :data:`MIN_HEADING_SPEED`, along the line
    of sight below it) at forward depth ``f_i`` and left offset ``l_i`` in the
    sensor frame, a pinhole camera with its optical axis level sees

    ``bearing = atan(t_c)``, ``t_c = (max_i l_i/f_i + min_i l_i/f_i) / 2``

    (the box's centre column) and a bottom edge at the nearest depth
    ``f_min = min_i f_i``, whose ray through the centre column meets the ground
    at ``range = f_min sqrt(1 + t_c^2)``. An object without a footprint, or
    with a corner behind the camera, is a point (:class:`BearingRange`).
    ``dh/dp`` is taken by central differences (the extreme corners change
    with the pose); the heading is held, so ``dh/dv = 0`` as for a point.
    """

    footprints: Optional[np.ndarray] = None     # (n or 1) x 2: length, width (m)

    def with_footprints(self, footprints):
        return replace(self, footprints=np.reshape(np.asarray(footprints, float), (-1, 2)))

    def predict(self, K, sensor):
        point = super().predict(K, sensor)
        if self.footprints is None or not len(K):
            return point
        box, ok = self._silhouette(K, sensor)
        return np.where(ok[:, None], box, point)

    def jacobian(self, K, sensor):
        if self.footprints is None or not len(K):
            return super().jacobian(K, sensor)
        H = np.zeros((len(K), 2, 4))
        step = 1e-3                             # m: well below any footprint, well above rounding
        for j in (0, 1):
            dK = np.zeros(4)
            dK[j] = step
            hi, lo = self.predict(K + dK, sensor), self.predict(K - dK, sensor)
            H[:, :, j] = self.residual(hi, lo) / (2 * step)
        return H

    def extent(self, K, sensor):
        if self.footprints is None or not len(K):
            return super().extent(K, sensor)
        slope, _, ok = self._slopes(K, sensor)
        box = np.arctan(np.column_stack([slope.min(axis=1), slope.max(axis=1)]))
        return np.where(ok[:, None], box, super().extent(K, sensor))

    def _silhouette(self, K, sensor) -> tuple[np.ndarray, np.ndarray]:
        slope, f, ok = self._slopes(K, sensor)
        tc = 0.5 * (slope.max(axis=1) + slope.min(axis=1))
        return np.column_stack([np.arctan(tc), f.min(axis=1) * np.sqrt(1 + tc ** 2)]), ok

    def _slopes(self, K, sensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each footprint corner's ``l / f`` and forward depth ``f`` (n x 4), and whether all are in front."""
        E = np.broadcast_to(self.footprints, (len(K), 2))
        d, _ = _line_of_sight(K, sensor)
        moving = np.hypot(K[:, 2], K[:, 3]) >= MIN_HEADING_SPEED
        heading = np.where(moving, np.arctan2(K[:, 3], K[:, 2]), np.arctan2(d[:, 1], d[:, 0]))
        along = np.column_stack([np.cos(heading), np.sin(heading)])
        across = np.column_stack([-along[:, 1], along[:, 0]])
        signs = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], float) / 2
        corners = d[:, None, :] + (signs[None, :, :1] * E[:, None, :1]) * along[:, None, :] \
            + (signs[None, :, 1:] * E[:, None, 1:]) * across[:, None, :]       # n x 4 x 2, from the sensor
        cy, sy = np.cos(sensor.yaw), np.sin(sensor.yaw)
        f = corners[..., 0] * cy + corners[..., 1] * sy
        left = -corners[..., 0] * sy + corners[..., 1] * cy
        ok = f.min(axis=1) > 1e-3
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = left / np.where(ok[:, None], f, 1.0)
        return slope, f, ok


NO_RANGE_VARIANCE = 1e12
"""m^2: the range variance of a camera detection without a ground contact (an uninformative range)."""


def unmeasured_log_det(log_det: np.ndarray, R: np.ndarray, extent: float) -> np.ndarray:
    """``ln det S`` of each (track, detection) pair, with the components a detection does not measure
    (:func:`unmeasured`) taken as uniform over ``extent`` instead of Gaussian.

    A placeholder variance ``V`` puts ``ln V`` (27.6 for 1e12) into ``ln det S``, so the pair's
    Gaussian likelihood ``N(y; 0, S)`` is ~1e-6 of a measured one's and a clutter density per unit
    of the full measurement space always wins (JPDA then gives such a detection to no track).
    What the detection says is its other components; the unmeasured one is as likely anywhere in
    the sensor's ``extent`` (m, e.g. its maximum range) for the track as for clutter. Per
    unmeasured component the Gaussian factor ``(2 pi V)^-1/2`` becomes ``1 / extent``:

        ln det S' = ln det S - ln V + 2 ln extent - ln(2 pi)

    Parameters
    ----------
    log_det : ndarray, tracks x detections (or broadcastable to it)
    R : ndarray, detections x m x m
    extent : float
        m; nothing is changed where it is not finite.
    """
    if not np.isfinite(extent) or len(R) == 0:
        return log_det
    V = np.diagonal(R, axis1=1, axis2=2)
    missing = unmeasured(R)
    if not missing.any():
        return log_det
    shift = np.where(missing, -np.log(np.where(missing, V, 1.0)) + 2.0 * np.log(extent)
                     - np.log(2.0 * np.pi), 0.0).sum(axis=1)
    return log_det + shift[None, :]


def unmeasured(R: np.ndarray) -> np.ndarray:
    """Detections x components: which components a detection does not measure (variance
    ``>= NO_RANGE_VARIANCE``, e.g. a camera box without a ground contact).
    """
    return np.diagonal(np.asarray(R, float), axis1=1, axis2=2) >= NO_RANGE_VARIANCE


MEASUREMENT_MODELS = {"position": Position, "position_doppler": PositionDoppler,
                      "range_bearing_rate": RangeBearingRate, "bearing_range": BearingRange,
                      "box_bearing_range": BoxBearingRange}
MOTION_MODELS = {"constant_velocity": ConstantVelocity, "constant_turn_rate": ConstantTurnRate}
