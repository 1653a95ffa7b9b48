# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Measurement models ``z = h(x) + v``, ``v ~ N(0, R)``, with analytic Jacobians.

Each model exposes ``h(x)``, ``jacobian(x)`` (``dh/dx``, m x 15) and
``angle_mask`` (which components of ``z`` are angles, so residuals wrap).
"""
from __future__ import annotations

import numpy as np

from .geometry import GRAVITY, rpy_matrix_derivatives, rpy_to_matrix
from .state import ANGLE_INDICES, LINEAR_ACCELERATION, ORIENTATION, POSITION, STATE_SIZE


class StateSelection:
    """Direct observation of a subset of the state: ``z = x[indices]``.

    Instances are immutable and shared: ``StateSelection(idx)`` returns the
    same object for the same indices, so sensor models do not rebuild ``H``
    for every message.

    Parameters
    ----------
    indices : sequence of int
        State indices observed, in the order of ``z``.
    """

    _cache: dict = {}

    def __new__(cls, indices):
        key = tuple(int(i) for i in np.atleast_1d(indices))
        obj = cls._cache.get(key)
        if obj is None:
            obj = super().__new__(cls)
            obj._init(key)
            cls._cache[key] = obj
        return obj

    def _init(self, indices):
        self.indices = np.asarray(indices, dtype=int)
        self._H = np.zeros((len(self.indices), STATE_SIZE))
        self._H[np.arange(len(self.indices)), self.indices] = 1.0
        self.angle_mask = np.isin(self.indices, ANGLE_INDICES)

    def h(self, x: np.ndarray) -> np.ndarray:
        return x[self.indices]

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        return self._H


class MountedPosition:
    """Position of a point fixed on the body, e.g. a GNSS antenna.

    ``z = p + R(roll, pitch, yaw) l`` for lever arm ``l`` (m, base_link frame),
    restricted to the ``axes`` (0 = x, 1 = y, 2 = z) that are fused.
    """

    def __init__(self, lever_arm, axes=(0, 1, 2)):
        self.lever_arm = np.asarray(lever_arm, dtype=float)
        self.axes = np.asarray(axes, dtype=int)
        self.angle_mask = np.zeros(len(self.axes), dtype=bool)

    def h(self, x: np.ndarray) -> np.ndarray:
        p = x[POSITION] + rpy_to_matrix(*x[ORIENTATION]) @ self.lever_arm
        return p[self.axes]

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        H = np.zeros((3, STATE_SIZE))
        H[:, POSITION] = np.eye(3)
        H[:, ORIENTATION] = np.column_stack([dR @ self.lever_arm
                                     for dR in rpy_matrix_derivatives(*x[ORIENTATION])])
        return H[self.axes]


class SpecificForce:
    """Accelerometer reading including gravity, expressed in the body frame.

    An accelerometer at rest reads ``+g`` upwards, so with body acceleration
    ``a`` and body-to-world rotation ``R``::

        z = a + R^T [0, 0, g]

    This lets the filter use raw accelerometers when no orientation is
    measured: gravity is removed with the filter's own attitude.
    """

    def __init__(self, axes=(0, 1, 2), gravity: float = GRAVITY):
        self.axes = np.asarray(axes, dtype=int)
        self.g = np.array([0.0, 0.0, gravity])
        self.angle_mask = np.zeros(len(self.axes), dtype=bool)

    def h(self, x: np.ndarray) -> np.ndarray:
        R = rpy_to_matrix(*x[ORIENTATION])
        return (x[LINEAR_ACCELERATION] + R.T @ self.g)[self.axes]

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        H = np.zeros((3, STATE_SIZE))
        H[:, LINEAR_ACCELERATION] = np.eye(3)
        H[:, ORIENTATION] = np.column_stack([dR.T @ self.g
                                     for dR in rpy_matrix_derivatives(*x[ORIENTATION])])
        return H[self.axes]


class Stacked:
    """Several models observed together: ``z = [h_1(x); h_2(x); ...]``.

    Keeps the cross-covariance between the parts in one update (e.g. the
    position and orientation of one pose message).
    """

    def __init__(self, models):
        self.models = list(models)
        self.angle_mask = np.concatenate([m.angle_mask for m in self.models])

    def h(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([m.h(x) for m in self.models])

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        return np.vstack([m.jacobian(x) for m in self.models])
