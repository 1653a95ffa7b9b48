# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Windowed IMU features for feature-level (early) fusion.

Over the last ``window`` seconds of base-frame IMU samples: vibration energy
(variance of the specific-force magnitude, (m/s^2)^2), per-axis acceleration
standard deviation, per-axis angular-rate mean and standard deviation, and
the peak angular-rate magnitude (rad/s).
"""
from __future__ import annotations

from collections import deque

import numpy as np

FEATURE_NAMES = ("vibration_energy", "acc_std_x", "acc_std_y", "acc_std_z", "gyro_mean_x", "gyro_mean_y",
                 "gyro_mean_z", "gyro_std_x", "gyro_std_y", "gyro_std_z", "gyro_peak", "samples")


class ImuFeatureWindow:
    """Sliding window of (stamp, angular velocity, specific force) samples."""

    def __init__(self, window: float = 1.0):
        self.window = window
        self._buf: deque = deque()

    def add(self, stamp: float, gyro, accel) -> None:
        self._buf.append((stamp, np.asarray(gyro, float), np.asarray(accel, float)))
        while self._buf and stamp - self._buf[0][0] > self.window:
            self._buf.popleft()

    def features(self) -> np.ndarray | None:
        """:data:`FEATURE_NAMES` over the window, or None with fewer than 2 samples."""
        if len(self._buf) < 2:
            return None
        w = np.array([g for _, g, _ in self._buf])
        a = np.array([f for _, _, f in self._buf])
        return np.array([np.linalg.norm(a, axis=1).var(), *a.std(axis=0), *w.mean(axis=0), *w.std(axis=0),
                         np.linalg.norm(w, axis=1).max(), len(w)], dtype=float)
