# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Typed, immutable sensor records and the fusable measurement.

Every array is copied to float64 and made read-only, so a record that has
been validated cannot be changed afterwards by a caller holding a reference.
Covariance ``None`` means the sensor did not report that field (REP-145's
``covariance[0] == -1``); such a field is never fused.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional, Protocol

import numpy as np


def _frozen(a) -> Optional[np.ndarray]:
    if a is None:
        return None
    arr = np.array(a, dtype=float)
    arr.setflags(write=False)
    return arr


_FIELDS: dict = {}


def _array_fields(cls) -> tuple:
    """Names of the fields annotated as arrays (``ndarray`` or ``Optional[ndarray]``)."""
    return tuple(f.name for f in fields(cls) if "ndarray" in str(f.type))


class _Record:
    """Freeze every array field of a frozen dataclass on construction (a float64 read-only copy)."""

    def __post_init__(self):
        names = _FIELDS.get(type(self))
        if names is None:
            names = _FIELDS[type(self)] = _array_fields(type(self))
        for name in names:
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, _frozen(v))


class StateMeasurementModel(Protocol):
    """What the ego filters ask of a measurement model of the 15-element state (:mod:`.measurement_models`).

    ``h(x)`` the predicted measurement (m,), ``jacobian(x)`` its ``dh/dx`` (m x 15), ``angle_mask`` (m,)
    which components are angles (their residuals are wrapped).
    """

    angle_mask: np.ndarray

    def h(self, x: np.ndarray) -> np.ndarray: ...

    def jacobian(self, x: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ImuSample(_Record):
    """One IMU reading in the sensor frame.

    Attributes
    ----------
    stamp : float
        Time of validity (s).
    orientation : ndarray (4,) or None
        (x, y, z, w) quaternion, sensor frame in the world frame.
    angular_velocity : ndarray (3,) or None
        rad/s, sensor frame.
    linear_acceleration : ndarray (3,) or None
        Specific force in m/s^2, sensor frame (gravity included, +z up at rest).
    *_cov : ndarray (3, 3) or None
        Covariances; None when the field is absent.
    """

    stamp: float
    orientation: Optional[np.ndarray]
    orientation_cov: Optional[np.ndarray]
    angular_velocity: Optional[np.ndarray]
    angular_velocity_cov: Optional[np.ndarray]
    linear_acceleration: Optional[np.ndarray]
    linear_acceleration_cov: Optional[np.ndarray]


@dataclass(frozen=True)
class PoseSample(_Record):
    """A 6-DoF pose with 6x6 covariance (x, y, z, roll, pitch, yaw order)."""

    stamp: float
    position: np.ndarray
    orientation: np.ndarray
    cov: np.ndarray


@dataclass(frozen=True)
class TwistSample(_Record):
    """Body-frame linear (m/s) and angular (rad/s) velocity with 6x6 covariance."""

    stamp: float
    linear: np.ndarray
    angular: np.ndarray
    cov: np.ndarray


@dataclass(frozen=True)
class GnssFix(_Record):
    """A geodetic fix: degrees, metres above the ellipsoid, ENU covariance (m^2)."""

    stamp: float
    latitude: float
    longitude: float
    altitude: float
    cov: Optional[np.ndarray]
    status: int


@dataclass(frozen=True)
class Measurement(_Record):
    """A measurement ready for a Kalman update.

    Attributes
    ----------
    sensor : str
        Source name (used for statistics and diagnostics).
    stamp : float
        Time of validity (s), after any configured time offset.
    z : ndarray (m,)
        Measured values.
    R : ndarray (m, m)
        Measurement noise covariance.
    model : StateMeasurementModel
        ``h(x)``, ``jacobian(x)`` and ``angle_mask`` (:mod:`.measurement_models`).
    threshold : float
        Mahalanobis rejection threshold in standard deviations (inf: none).
    kind : str
        What part of the sensor this is (``pose``, ``twist``, ``imu_accel`` ...).
    parts : tuple of Part
        For a measurement that stacks several parts of one message (e.g. an
        IMU's orientation, rates and accelerations, fused in one update): the
        rows, threshold and kind of each, gated separately. Empty means one
        part made of all rows with ``threshold`` and ``kind``.
    """

    sensor: str
    stamp: float
    z: np.ndarray
    R: np.ndarray
    model: "StateMeasurementModel"
    threshold: float = float("inf")
    kind: str = ""
    parts: tuple = ()

    def part_list(self) -> tuple:
        return self.parts or (Part(0, len(self.z), self.threshold, self.kind),)

    def subset(self, parts) -> "Measurement":
        """The measurement restricted to ``parts`` (rows renumbered)."""
        rows = np.concatenate([np.arange(p.start, p.stop) for p in parts])
        new_parts, start = [], 0
        for p in parts:
            n = p.stop - p.start
            new_parts.append(Part(start, start + n, p.threshold, p.kind))
            start += n
        return Measurement(self.sensor, self.stamp, self.z[rows], self.R[np.ix_(rows, rows)],
                           RowSubset(self.model, rows), self.threshold, self.kind, tuple(new_parts))


@dataclass(frozen=True)
class Part:
    """Rows ``start:stop`` of a stacked measurement, with their own gate."""

    start: int
    stop: int
    threshold: float
    kind: str


class RowSubset:
    """Some rows of another measurement model."""

    def __init__(self, model, rows):
        self.model, self.rows = model, np.asarray(rows)
        self.angle_mask = np.asarray(model.angle_mask)[self.rows]

    def h(self, x):
        return self.model.h(x)[self.rows]

    def jacobian(self, x):
        return self.model.jacobian(x)[self.rows]
