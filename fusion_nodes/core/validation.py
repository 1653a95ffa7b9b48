# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Checks for sensor records: what makes an input unusable, and why.

Every check raises :class:`InvalidInput` with a short machine-readable
``reason`` (used as the diagnostics counter key) and a human message.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


class InvalidInput(ValueError):
    """A sensor message that must be dropped.

    Attributes
    ----------
    reason : str
        Counter key, e.g. ``non_finite``, ``zero_stamp``, ``bad_covariance``.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason


def check_stamp(stamp: float) -> None:
    """A stamp must be a finite, positive time (0 means 'never set')."""
    if not np.isfinite(stamp) or stamp <= 0.0:
        raise InvalidInput("zero_stamp", f"header stamp {stamp!r} is not set")


@dataclass(frozen=True)
class Limits:
    """Physical plausibility limits of robot sensor data (SI units).

    A finite value beyond these is as unusable as NaN: one angular rate of
    1e20 rad/s accepted by an open gate makes the filter singular two steps
    later. Defaults are far beyond any ground robot or car.

    Attributes
    ----------
    speed : float
        Largest linear velocity, m/s.
    angular_rate : float
        Largest angular velocity, rad/s.
    acceleration : float
        Largest linear acceleration, m/s^2 (shocks included).
    position : float
        Largest position coordinate, m (local frames; GNSS is checked in degrees).
    variance : float
        Largest variance in a covariance, (unit)^2; 1e6..1e9 "unknown" markers pass.
    """

    speed: float = 100.0
    angular_rate: float = 50.0
    acceleration: float = 500.0
    position: float = 1.0e7
    variance: float = 1.0e12


def check_magnitude(name: str, value, limit: float) -> None:
    """Reject a finite but absurd value: any component with ``|v| > limit``."""
    if value is not None and np.any(np.abs(np.asarray(value, dtype=float)) > limit):
        raise InvalidInput("implausible", f"{name} exceeds the plausibility limit {limit:g}")


def check_future(stamp: float, now: float, tolerance: float) -> None:
    """Reject a stamp more than ``tolerance`` s ahead of the node clock ``now`` (s).

    A far-future stamp would otherwise advance the filter (or a synchronizer)
    to that time and make every later valid message look old. ``now <= 0``
    (no clock yet) checks nothing.
    """
    if now > 0.0 and stamp > now + tolerance:
        raise InvalidInput("future_stamp", f"stamp {stamp:.3f} is {stamp - now:.3f} s ahead of the clock")


class StampOrder:
    """Per-stream stamp order: a repeated or backwards stamp is a duplicate or a replay.

    ``check(stream, stamp)`` raises ``duplicate_stamp`` / ``stamp_backwards``;
    ``accept(stream, stamp)`` records the stamp of a message that was used
    (a message dropped for its content leaves no trace, as if it never came);
    :meth:`reset` forgets (a clock jump back, e.g. a bag loop, restarts every
    stream).
    """

    def __init__(self):
        self._last: dict[str, float] = {}

    def check(self, stream: str, stamp: float) -> None:
        last = self._last.get(stream)
        if last is not None and stamp == last:
            raise InvalidInput("duplicate_stamp", f"{stream}: stamp {stamp:.9f} repeats")
        if last is not None and stamp < last:
            raise InvalidInput("stamp_backwards", f"{stream}: stamp {stamp:.9f} is {last - stamp:.3f} s "
                                                  "before the previous one")

    def accept(self, stream: str, stamp: float) -> None:
        self._last[stream] = stamp

    def reset(self) -> None:
        self._last.clear()


def check_psd(name: str, cov) -> None:
    """Reject a covariance that is not symmetric positive semi-definite (round-off allowed)."""
    C = np.asarray(cov, dtype=float)
    if not np.allclose(C, C.T, rtol=1e-6, atol=1e-12):
        raise InvalidInput("bad_covariance", f"{name} is not symmetric")
    if np.linalg.eigvalsh(0.5 * (C + C.T)).min() < -1e-9 * max(1.0, float(np.abs(C).max())):
        raise InvalidInput("bad_covariance", f"{name} is not positive semi-definite")


def check_finite(name: str, value) -> None:
    """Reject NaN/Inf anywhere in ``value``."""
    if value is not None and not np.all(np.isfinite(np.asarray(value, dtype=float))):
        raise InvalidInput("non_finite", f"{name} contains NaN or Inf")


QUATERNION_TOLERANCE = 0.01
"""Largest ``| |q|^2 - 1 |`` of a rotation taken from the wire: tf2's, which refuses a transform beyond it.
A driver's rounding is far inside (float32: ~1e-7); a quaternion beyond it was never a rotation."""


def check_quaternion(q, name: str = "orientation") -> np.ndarray:
    """Return the ``(x, y, z, w)`` quaternion ``q`` normalised; reject one that is not a unit quaternion
    within :data:`QUATERNION_TOLERANCE` (``bad_quaternion``; NaN / Inf: ``non_finite``). The one policy for
    every rotation an input carries: IMU orientation, odometry and pose, TF.
    """
    v = np.asarray(q, dtype=float).reshape(4)
    check_finite(name, v)
    n2 = float(v @ v)
    if abs(n2 - 1.0) > QUATERNION_TOLERANCE:
        raise InvalidInput("bad_quaternion", f"{name} is not a unit quaternion (|q|^2 = {n2:.4g})")
    return v / math.sqrt(n2)


def sanitize_covariance(cov, indices, floor: float, name: str = "covariance"):
    """Make the fused block of a covariance usable.

    Parameters
    ----------
    cov : ndarray (n, n)
        Full covariance as reported.
    indices : sequence of int or None
        Rows/columns that will be fused (None: all of them).
    floor : float
        Smallest variance accepted (units^2). Zero (or tiny) diagonal entries
        are raised to it; a negative variance, or a block that is still not
        positive definite, is rejected.

    Returns
    -------
    (ndarray, bool)
        The fused block and whether it had to be repaired.
    """
    C = np.asarray(cov, dtype=float)
    if indices is not None:
        idx = np.asarray(indices)
        C = C[idx[:, None], idx]
    if not math.isfinite(C.sum()):     # one sum: NaN or Inf anywhere makes it non-finite
        raise InvalidInput("non_finite", f"{name} contains NaN or Inf")
    d = C.diagonal()
    smallest = d.min()
    if smallest < 0.0:
        raise InvalidInput("bad_covariance", f"{name} has a negative variance")
    repaired = bool(smallest < floor)
    if repaired:
        C = C.copy()
        C[np.diag_indices_from(C)] = np.maximum(d, floor)
    if np.count_nonzero(C) > np.count_nonzero(C.diagonal()):  # a diagonal one is PD already
        C = 0.5 * (C + C.T)
        try:
            np.linalg.cholesky(C)
        except np.linalg.LinAlgError:
            raise InvalidInput("bad_covariance", f"{name} is not positive definite") from None
    return C, repaired


def declared_covariance(C: np.ndarray, fields, scale: float = 1.0, override=()) -> np.ndarray:
    """The user's word over a sensor's declared covariance of the fused fields.

    ``C`` (n x n) is the sanitised covariance of the state fields ``fields`` (n state indices).
    ``C' = scale * C``; then each field ``i`` with ``override[fields[i]] > 0`` gets that variance and
    no correlation with the others (a user who states a variance states the field's whole error).
    ``override`` empty, or ``<= 0`` for a field: the declared value (times ``scale``) stays.
    """
    out = C * scale if scale != 1.0 else C
    if len(override) == 0:
        return out
    var = np.asarray([override[f] for f in fields], dtype=float)
    mine = var > 0
    if not mine.any():
        return out
    out = np.array(out, dtype=float, copy=True)
    out[mine, :] = 0.0
    out[:, mine] = 0.0
    out[np.flatnonzero(mine), np.flatnonzero(mine)] = var[mine]
    return out


def repair_covariance(cov, default_variance: float, policy: str, name: str):
    """Apply a zero-covariance policy to one 3x3 covariance.

    REP-145: an all-zero covariance means "unknown". With ``policy`` =
    ``replace`` it becomes ``default_variance * I``; with ``reject`` the
    message is rejected. A negative diagonal entry is always rejected (the
    -1 "field missing" marker is handled before this is called).

    Returns
    -------
    (ndarray or None, bool)
        The covariance to use and whether it was replaced.
    """
    if cov is None:
        return None, False
    C = np.asarray(cov, dtype=float)
    check_finite(name, C)
    if np.any(np.diag(C) < 0.0):
        raise InvalidInput("bad_covariance", f"{name} has a negative variance")
    if not np.any(C):
        if policy == "reject":
            raise InvalidInput("zero_covariance", f"{name} is all zeros (unknown)")
        return np.eye(3) * default_variance, True
    if not np.all(np.diag(C) > 0.0):
        raise InvalidInput("bad_covariance", f"{name} has a zero variance")
    check_psd(name, C)
    return C, False
