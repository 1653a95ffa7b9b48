# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Rotations, Euler angles and angle wrapping: the single place for them.

Conventions follow REP-103: right-handed frames, angles in radians, and
fixed-axis roll-pitch-yaw so that ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``.
Quaternions are ``(x, y, z, w)`` as in ``geometry_msgs/Quaternion``.
"""
from __future__ import annotations

import math

import numpy as np

GRAVITY = 9.80665
"""Standard gravity (m/s^2), REP-103 ENU: gravity points along -z."""


def wrap_angle(a):
    """Wrap angle(s) to [-pi, pi).

    Parameters
    ----------
    a : float or ndarray
        Angle(s) in radians.

    Returns
    -------
    float or ndarray
        ``(a + pi) mod 2 pi - pi``.
    """
    return (np.asarray(a) + np.pi) % (2.0 * np.pi) - np.pi


def wrap_scalar(a: float) -> float:
    """:func:`wrap_angle` of one float, without an array (for the per-message motion step)."""
    return (a + math.pi) % (2.0 * math.pi) - math.pi


def rot_x(a: float) -> np.ndarray:
    """Rotation about x by ``a`` radians (3x3)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(a: float) -> np.ndarray:
    """Rotation about y by ``a`` radians (3x3)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(a: float) -> np.ndarray:
    """Rotation about z by ``a`` radians (3x3)."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rpy_to_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Body-to-world rotation ``R = Rz(yaw) Ry(pitch) Rx(roll)``."""
    return rot_z(yaw) @ rot_y(pitch) @ rot_x(roll)


def rpy_matrix_derivatives(roll: float, pitch: float, yaw: float):
    """Partial derivatives of ``R(roll, pitch, yaw)``.

    Returns
    -------
    tuple of ndarray
        ``(dR/droll, dR/dpitch, dR/dyaw)``, each 3x3.
    """
    return tuple(rpy_matrix_and_derivatives(roll, pitch, yaw)[1:])


def rpy_matrix_and_derivatives(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """``[R, dR/droll, dR/dpitch, dR/dyaw]`` as one (4, 3, 3) array.

    Written out element by element (one allocation) because the EKF needs
    it on every prediction; :func:`rpy_matrix_derivatives` is the same
    thing as a tuple and the tests check both against finite differences.
    """
    cr, sr, cp, sp, cy, sy = (math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch),
                              math.cos(yaw), math.sin(yaw))
    return np.array([
        [[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
         [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
         [-sp, cp * sr, cp * cr]],
        [[0.0, cy * sp * cr + sy * sr, -cy * sp * sr + sy * cr],
         [0.0, sy * sp * cr - cy * sr, -sy * sp * sr - cy * cr],
         [0.0, cp * cr, -cp * sr]],
        [[-cy * sp, cy * cp * sr, cy * cp * cr],
         [-sy * sp, sy * cp * sr, sy * cp * cr],
         [-cp, -sp * sr, -sp * cr]],
        [[-sy * cp, -sy * sp * sr - cy * cr, -sy * sp * cr + cy * sr],
         [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
         [0.0, 0.0, 0.0]]])


def matrix_to_rpy(R: np.ndarray) -> np.ndarray:
    """Fixed-axis (roll, pitch, yaw) of a rotation matrix, radians.

    ``pitch = asin(-R20)``, ``roll = atan2(R21, R22)``, ``yaw = atan2(R10, R00)``
    (scalar math: this runs for every orientation message).
    """
    (r00, _, _), (r10, _, _), (r20, r21, r22) = np.asarray(R, dtype=float).tolist()
    return np.array([math.atan2(r21, r22), math.asin(min(1.0, max(-1.0, -r20))), math.atan2(r10, r00)])


def quaternion_to_rpy(q) -> np.ndarray:
    """(x, y, z, w) quaternion (normalised first) to fixed-axis (roll, pitch, yaw), radians."""
    return matrix_to_rpy(quaternion_to_matrix(q))


def rpy_to_quaternion(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Fixed-axis (roll, pitch, yaw) to an (x, y, z, w) unit quaternion.

    ``q = q_z(yaw) q_y(pitch) q_x(roll)`` written out with half-angle sines
    and cosines. Of ``q`` and ``-q`` (the same rotation) it returns the one
    :func:`matrix_to_quaternion` (and scipy) returns: the component of
    largest magnitude (the first of x, y, z, w on a tie) is positive.
    """
    cr, sr = math.cos(0.5 * roll), math.sin(0.5 * roll)
    cp, sp = math.cos(0.5 * pitch), math.sin(0.5 * pitch)
    cy, sy = math.cos(0.5 * yaw), math.sin(0.5 * yaw)
    q = [sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy,
         cr * cp * sy - sr * sp * cy, cr * cp * cy + sr * sp * sy]
    mags = [abs(c) for c in q]
    if q[mags.index(max(mags))] < 0.0:
        q = [-c for c in q]
    return np.array(q)


def euler_rate_matrix(roll: float, pitch: float) -> np.ndarray:
    """Map body angular velocity to Euler angle rates.

    ``d(roll, pitch, yaw)/dt = T(roll, pitch) @ omega_body`` with::

        T = [[1, sin r tan p, cos r tan p],
             [0, cos r,      -sin r     ],
             [0, sin r / cos p, cos r / cos p]]

    ``cos p`` is kept away from zero (gimbal lock at pitch = +-90 deg).
    """
    sr, cr = np.sin(roll), np.cos(roll)
    cp = np.cos(pitch)
    cp = cp if abs(cp) > 1e-6 else np.copysign(1e-6, cp)
    tp = np.sin(pitch) / cp
    return np.array([[1.0, sr * tp, cr * tp],
                     [0.0, cr, -sr],
                     [0.0, sr / cp, cr / cp]])


def euler_rate_matrix_derivatives(roll: float, pitch: float):
    """Partial derivatives ``(dT/droll, dT/dpitch)`` of :func:`euler_rate_matrix`."""
    sr, cr = np.sin(roll), np.cos(roll)
    sp, cp = np.sin(pitch), np.cos(pitch)
    cp = cp if abs(cp) > 1e-6 else np.copysign(1e-6, cp)
    tp = sp / cp
    sec2 = 1.0 / (cp * cp)
    d_roll = np.array([[0.0, cr * tp, -sr * tp],
                       [0.0, -sr, -cr],
                       [0.0, cr / cp, -sr / cp]])
    d_pitch = np.array([[0.0, sr * sec2, cr * sec2],
                        [0.0, 0.0, 0.0],
                        [0.0, sr * sp * sec2, cr * sp * sec2]])
    return d_roll, d_pitch


def pinhole_matrix(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """The camera matrix ``K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` (px) of focal lengths and principal point."""
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def cross(a, b) -> np.ndarray:
    """``a x b`` for 3-vectors (numpy.cross is slow for single vectors)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def skew(v) -> np.ndarray:
    """Cross-product matrix: ``skew(a) @ b == cross(a, b)``."""
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def circular_mean(angles: np.ndarray, weights: np.ndarray):
    """Weighted mean of angles (rad): ``atan2(sum_i w_i sin a_i, sum_i w_i cos a_i)``.

    ``angles`` is (n,) -> a float, or (n, k) -> k means, one per column (sigma points' angle columns).
    """
    m = np.arctan2(np.dot(weights, np.sin(angles)), np.dot(weights, np.cos(angles)))
    return float(m) if np.ndim(m) == 0 else m


def quaternion_to_matrix(q) -> np.ndarray:
    """(x, y, z, w) quaternion (normalised first) to a 3x3 rotation matrix.

    ``R = I + 2 w [v]x + 2 [v]x^2`` for the unit quaternion ``(v, w)``,
    element by element (no rotation object per message; scipy's
    ``Rotation.from_quat(q).as_matrix()`` is the reference in the tests).
    """
    x, y, z, w = np.asarray(q, dtype=float).tolist()
    n = x * x + y * y + z * z + w * w
    if not n > 0.0:
        raise ValueError("a zero quaternion is no rotation")
    s = 2.0 / n
    xx, yy, zz, xy, xz, yz, wx, wy, wz = (s * x * x, s * y * y, s * z * z, s * x * y, s * x * z,
                                          s * y * z, s * w * x, s * w * y, s * w * z)
    return np.array([[1.0 - yy - zz, xy - wz, xz + wy],
                     [xy + wz, 1.0 - xx - zz, yz - wx],
                     [xz - wy, yz + wx, 1.0 - xx - yy]])


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """3x3 rotation matrix to an (x, y, z, w) unit quaternion.

    Shepperd's method: of ``w``, ``x``, ``y``, ``z`` the largest is taken
    from the trace or a diagonal element and the others from the
    off-diagonal sums, so no square root of a small number is needed. The
    same choice as scipy's ``Rotation.from_matrix(R).as_quat()`` (the
    reference in the tests), so the two give the same sign.
    """
    m = np.asarray(R, dtype=float)
    t = m[0, 0] + m[1, 1] + m[2, 2]
    k = int(np.argmax([m[0, 0], m[1, 1], m[2, 2], t]))
    if k == 3:
        q = [m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1], 1.0 + t]
    else:
        i, j, n = k, (k + 1) % 3, (k + 2) % 3
        q = [0.0, 0.0, 0.0, m[n, j] - m[j, n]]
        q[i] = 1.0 - t + 2.0 * m[i, i]
        q[j] = m[j, i] + m[i, j]
        q[n] = m[n, i] + m[i, n]
    q = np.array(q)
    return q / math.sqrt(q @ q)


def compose(a, b):
    """Chain two rigid transforms ``(t, R)``: ``a ∘ b`` maps b's child frame into a's parent.

    ``p_parent = R_a (R_b p + t_b) + t_a``.
    """
    return a[1] @ b[0] + a[0], a[1] @ b[1]


def invert(tr):
    """Inverse of a rigid transform ``(t, R)``: ``(-Rᵀ t, Rᵀ)``."""
    return -tr[1].T @ tr[0], tr[1].T
