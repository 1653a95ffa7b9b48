# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""GNSS helpers: geodetic <-> local ENU, and course over ground.

The local frame is ENU (REP-103) with its origin at a datum (latitude,
longitude in degrees, altitude in metres above the WGS-84 ellipsoid).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pymap3d

from .geometry import wrap_angle


@dataclass(frozen=True)
class Datum:
    latitude: float
    longitude: float
    altitude: float

    def to_enu(self, lat: float, lon: float, alt: float) -> np.ndarray:
        """Geodetic (deg, deg, m) to ENU metres relative to this datum."""
        return np.array(pymap3d.geodetic2enu(lat, lon, alt, self.latitude, self.longitude,
                                             self.altitude))

    def to_geodetic(self, e: float, n: float, u: float) -> tuple:
        """ENU metres to geodetic (deg, deg, m)."""
        return pymap3d.enu2geodetic(e, n, u, self.latitude, self.longitude, self.altitude)


class CourseOverGround:
    """Heading from successive GNSS positions once the vehicle moves.

    Over a baseline of ``d`` metres with position noise ``sigma`` per axis,
    the course ``atan2(dn, de)`` has variance about ``2 sigma^2 / d^2``. It
    equals the yaw of base_link only for a vehicle driving forwards without
    side slip, so it is given only when the last ``window`` seconds covered at
    least ``min_distance`` metres at ``min_speed`` m/s or more.

    Parameters
    ----------
    min_speed : float
        m/s.
    min_distance : float
        Baseline in metres.
    window : float
        Longest baseline duration, s.
    """

    def __init__(self, min_speed: float = 1.0, min_distance: float = 2.0, window: float = 3.0):
        self.min_speed, self.min_distance, self.window = min_speed, min_distance, window
        self._track: list[tuple[float, np.ndarray]] = []

    def reset(self) -> None:
        self._track.clear()

    def update(self, stamp: float, enu: np.ndarray, sigma: float) -> Optional[tuple[float, float]]:
        """Add a position; return ``(course, variance)`` in rad, rad^2, or None."""
        self._track.append((stamp, np.asarray(enu[:2], dtype=float)))
        while len(self._track) > 2 and stamp - self._track[1][0] >= self.window:
            self._track.pop(0)
        t0, p0 = self._track[0]
        dt = stamp - t0
        if dt <= 0.0:
            return None
        d = np.asarray(enu[:2]) - p0
        dist = float(np.hypot(*d))
        if dist < self.min_distance or dist / dt < self.min_speed:
            if dt >= self.window:
                self._track = self._track[-1:]
            return None
        return float(wrap_angle(np.arctan2(d[1], d[0]))), 2.0 * sigma ** 2 / dist ** 2
