"""Rotations, Euler angles and angle wrapping: the single place for them.

Conventions follow REP-103: right-handed frames, angles in radians, and
fixed-axis roll-pitch-yaw so that ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``.
Quaternions are ``(x, y, z, w)`` as in ``geometry_msgs/Quaternion``.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

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
    """Fixed-axis (roll, pitch, yaw) of a rotation matrix, radians."""
    pitch = np.arcsin(np.clip(-R[2, 0], -1.0, 1.0))
    roll = np.arctan2(R[2, 1], R[2, 2])
    yaw = np.arctan2(R[1, 0], R[0, 0])
    return np.array([roll, pitch, yaw])


def quaternion_to_rpy(q) -> np.ndarray:
    """(x, y, z, w) quaternion to fixed-axis (roll, pitch, yaw), radians."""
    return matrix_to_rpy(Rotation.from_quat(np.asarray(q, float)).as_matrix())


def rpy_to_quaternion(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Fixed-axis (roll, pitch, yaw) to an (x, y, z, w) unit quaternion."""
    return Rotation.from_matrix(rpy_to_matrix(roll, pitch, yaw)).as_quat()


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


def cross(a, b) -> np.ndarray:
    """``a x b`` for 3-vectors (numpy.cross is slow for single vectors)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def skew(v) -> np.ndarray:
    """Cross-product matrix: ``skew(a) @ b == cross(a, b)``."""
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def circular_mean(angles: np.ndarray, weights: np.ndarray) -> float:
    """Weighted mean of angles: ``atan2(sum w sin a, sum w cos a)``."""
    return float(np.arctan2(np.dot(weights, np.sin(angles)), np.dot(weights, np.cos(angles))))


def quaternion_to_matrix(q) -> np.ndarray:
    """(x, y, z, w) quaternion (normalised first) to a 3x3 rotation matrix."""
    return Rotation.from_quat(np.asarray(q, float)).as_matrix()


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """3x3 rotation matrix to an (x, y, z, w) unit quaternion."""
    return Rotation.from_matrix(R).as_quat()


def compose(a, b):
    """Chain two rigid transforms ``(t, R)``: ``a ∘ b`` maps b's child frame into a's parent.

    ``p_parent = R_a (R_b p + t_b) + t_a``.
    """
    return a[1] @ b[0] + a[0], a[1] @ b[1]


def invert(tr):
    """Inverse of a rigid transform ``(t, R)``: ``(-Rᵀ t, Rᵀ)``."""
    return -tr[1].T @ tr[0], tr[1].T
