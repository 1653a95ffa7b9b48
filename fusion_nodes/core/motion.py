# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Motion (process) models: how the 15-D state evolves between measurements."""
from __future__ import annotations

import math

import numpy as np

from .geometry import (cross, euler_rate_matrix, euler_rate_matrix_derivatives, rpy_matrix_and_derivatives,
                       rpy_to_matrix, skew, wrap_angle, wrap_scalar)
from .state import (ANGLE_INDICES, ANGULAR_VELOCITY, LINEAR_ACCELERATION, LINEAR_VELOCITY,
                    ORIENTATION, POSITION, STATE_SIZE, DEFAULT_PROCESS_NOISE)


_EYE = np.eye(STATE_SIZE)
_EYE.setflags(write=False)


class ConstantAcceleration3D:
    """Omnidirectional constant-acceleration model in body coordinates.

    With ``p`` world position, ``theta = (roll, pitch, yaw)``, body velocity ``v``,
    body angular rate ``w`` and body-frame inertial acceleration ``a`` (what a
    gravity-compensated accelerometer measures)::

        vdot   = a - w x v                       (transport term of a rotating frame)
        p'     = p + R(theta) (v dt + vdot dt^2 / 2)
        theta' = theta + T(roll, pitch) w dt
        v'     = v + vdot dt
        w'     = w,   a' = a

    ``R`` is the body-to-world rotation and ``T`` maps body rates to Euler
    rates. robot_localization integrates ``v' = v + a dt``, which on a
    turning vehicle turns the accelerometer's centripetal reading ``v w``
    into a spurious sideways velocity; the ``w x v`` term removes that.
    Process noise is white with spectral density ``q`` so that
    ``Q(dt) = diag(q) dt``.

    Parameters
    ----------
    process_noise : ndarray (15,) or (15, 15)
        Continuous-time noise density (units^2 per second).
    """

    def __init__(self, process_noise=DEFAULT_PROCESS_NOISE):
        q = np.asarray(process_noise, dtype=float)
        self.q = np.diag(q) if q.ndim == 1 else q.copy()
        if self.q.shape != (STATE_SIZE, STATE_SIZE):
            raise ValueError(f"process noise must be 15 or 15x15, got {q.shape}")

    def f(self, x: np.ndarray, dt: float) -> np.ndarray:
        """Propagate state ``x`` by ``dt`` seconds."""
        roll, pitch, yaw = x[ORIENTATION]
        v, w, a = x[LINEAR_VELOCITY], x[ANGULAR_VELOCITY], x[LINEAR_ACCELERATION]
        vdot = a - cross(w, v)
        out = x.copy()
        out[POSITION] += rpy_to_matrix(roll, pitch, yaw) @ (v * dt + 0.5 * vdot * dt * dt)
        out[ORIENTATION] += euler_rate_matrix(roll, pitch) @ w * dt
        out[LINEAR_VELOCITY] += vdot * dt
        out[list(ANGLE_INDICES)] = wrap_angle(out[list(ANGLE_INDICES)])
        return out

    def f_batch(self, X: np.ndarray, dt: float) -> np.ndarray:
        """:meth:`f` applied to every row of ``X`` (n x 15) at once, for sigma points."""
        r, p, y = X[:, 3], X[:, 4], X[:, 5]
        v, w, a = X[:, 6:9], X[:, 9:12], X[:, 12:15]
        cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
        vdot = a - np.cross(w, v)
        d = v * dt + 0.5 * vdot * dt * dt
        out = X.copy()
        # Rows of R = Rz(y) Ry(p) Rx(r) applied to d.
        out[:, 0] += cy * cp * d[:, 0] + (cy * sp * sr - sy * cr) * d[:, 1] + (cy * sp * cr + sy * sr) * d[:, 2]
        out[:, 1] += sy * cp * d[:, 0] + (sy * sp * sr + cy * cr) * d[:, 1] + (sy * sp * cr - cy * sr) * d[:, 2]
        out[:, 2] += -sp * d[:, 0] + cp * sr * d[:, 1] + cp * cr * d[:, 2]
        cp = np.where(np.abs(cp) > 1e-6, cp, np.copysign(1e-6, cp))
        tp = sp / cp
        out[:, 3] += (w[:, 0] + sr * tp * w[:, 1] + cr * tp * w[:, 2]) * dt
        out[:, 4] += (cr * w[:, 1] - sr * w[:, 2]) * dt
        out[:, 5] += (sr / cp * w[:, 1] + cr / cp * w[:, 2]) * dt
        out[:, 6:9] += vdot * dt
        out[:, 3:6] = wrap_angle(out[:, 3:6])
        return out

    def jacobian(self, x: np.ndarray, dt: float) -> np.ndarray:
        """Analytic ``F = df/dx`` at ``x`` (reference form, block by block; see :meth:`step`)."""
        roll, pitch, yaw = x[ORIENTATION]
        v, w, a = x[LINEAR_VELOCITY], x[ANGULAR_VELOCITY], x[LINEAR_ACCELERATION]
        vdot = a - cross(w, v)
        d = v * dt + 0.5 * vdot * dt * dt
        RD = rpy_matrix_and_derivatives(roll, pitch, yaw)
        R = RD[0]
        T = euler_rate_matrix(roll, pitch)
        Sw, Sv = skew(w), skew(v)
        h = 0.5 * dt * dt
        F = np.eye(STATE_SIZE)
        # d(vdot)/dv = -[w]x, d(vdot)/dw = [v]x, d(vdot)/da = I
        F[0:3, 3:6] = (RD[1:] @ d).T
        F[0:3, 6:9] = R @ (np.eye(3) * dt - h * Sw)
        F[0:3, 9:12] = R @ (h * Sv)
        F[0:3, 12:15] = R * h
        dT_droll, dT_dpitch = euler_rate_matrix_derivatives(roll, pitch)
        F[3:6, 3] += dT_droll @ w * dt
        F[3:6, 4] += dT_dpitch @ w * dt
        F[3:6, 9:12] = T * dt
        F[6:9, 6:9] -= Sw * dt
        F[6:9, 9:12] = Sv * dt
        F[6:9, 12:15] = np.eye(3) * dt
        return F

    def step(self, x: np.ndarray, dt: float):
        """``(f(x, dt), df/dx)`` in one pass: the EKF's prediction.

        The same equations as :meth:`f` and :meth:`jacobian` (the tests hold
        all three to each other and to finite differences), written with
        scalar trigonometry and written into ``F`` block by block: ``F`` is
        the identity except for the rows of position, attitude and velocity,
        so only those 3 x 12, 3 x 2, 3 x 3 and 3 x 9 blocks are filled.
        """
        r, p, y, vx, vy, vz, wx, wy, wz, ax, ay, az = x[3:15].tolist()
        cr, sr, cp, sp, cy, sy = math.cos(r), math.sin(r), math.cos(p), math.sin(p), math.cos(y), math.sin(y)
        # vdot = a - w x v and the body displacement d = v dt + vdot dt^2 / 2
        h = 0.5 * dt * dt
        q0, q1, q2 = ax - (wy * vz - wz * vy), ay - (wz * vx - wx * vz), az - (wx * vy - wy * vx)
        d0, d1, d2 = vx * dt + h * q0, vy * dt + h * q1, vz * dt + h * q2
        # R = Rz(y) Ry(p) Rx(r), row by row
        r00, r01, r02 = cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr
        r10, r11, r12 = sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr
        r20, r21, r22 = -sp, cp * sr, cp * cr
        # Euler-rate map T(r, p); cos p kept away from zero (gimbal lock)
        cpg = cp if abs(cp) > 1e-6 else math.copysign(1e-6, cp)
        tp, sec = sp / cpg, 1.0 / cpg
        out = x.copy()
        out[0] += r00 * d0 + r01 * d1 + r02 * d2
        out[1] += r10 * d0 + r11 * d1 + r12 * d2
        out[2] += r20 * d0 + r21 * d1 + r22 * d2
        out[3] = wrap_scalar(r + (wx + sr * tp * wy + cr * tp * wz) * dt)
        out[4] = wrap_scalar(p + (cr * wy - sr * wz) * dt)
        out[5] = wrap_scalar(y + (sr * sec * wy + cr * sec * wz) * dt)
        out[6] += q0 * dt
        out[7] += q1 * dt
        out[8] += q2 * dt
        F = _EYE.copy()
        # Position rows: dR/d(r, p, y) d | R (I dt - h [w]x) | R h [v]x | R h
        # (I dt - h[w]x) = [[dt, h wz, -h wy], [-h wz, dt, h wx], [h wy, -h wx, dt]]
        e0, e1, e2 = dt, h * wz, h * wy
        e3 = h * wx
        F[0:3, 3:15] = [
            [(cy * sp * cr + sy * sr) * d1 + (-cy * sp * sr + sy * cr) * d2,
             -cy * sp * d0 + cy * cp * sr * d1 + cy * cp * cr * d2,
             -sy * cp * d0 + (-sy * sp * sr - cy * cr) * d1 + (-sy * sp * cr + cy * sr) * d2,
             r00 * e0 - r01 * e1 + r02 * e2, r00 * e1 + r01 * e0 - r02 * e3, -r00 * e2 + r01 * e3 + r02 * e0,
             h * (r01 * vz - r02 * vy), h * (-r00 * vz + r02 * vx), h * (r00 * vy - r01 * vx),
             r00 * h, r01 * h, r02 * h],
            [(sy * sp * cr - cy * sr) * d1 + (-sy * sp * sr - cy * cr) * d2,
             -sy * sp * d0 + sy * cp * sr * d1 + sy * cp * cr * d2,
             cy * cp * d0 + (cy * sp * sr - sy * cr) * d1 + (cy * sp * cr + sy * sr) * d2,
             r10 * e0 - r11 * e1 + r12 * e2, r10 * e1 + r11 * e0 - r12 * e3, -r10 * e2 + r11 * e3 + r12 * e0,
             h * (r11 * vz - r12 * vy), h * (-r10 * vz + r12 * vx), h * (r10 * vy - r11 * vx),
             r10 * h, r11 * h, r12 * h],
            [cp * cr * d1 - cp * sr * d2,
             -cp * d0 - sp * sr * d1 - sp * cr * d2,
             0.0,
             r20 * e0 - r21 * e1 + r22 * e2, r20 * e1 + r21 * e0 - r22 * e3, -r20 * e2 + r21 * e3 + r22 * e0,
             h * (r21 * vz - r22 * vy), h * (-r20 * vz + r22 * vx), h * (r20 * vy - r21 * vx),
             r20 * h, r21 * h, r22 * h]]
        _attitude_and_velocity_rows(F, cr, sr, sp, tp, sec, (vx, vy, vz), (wx, wy, wz), dt)
        return out, F

    def Q(self, dt: float) -> np.ndarray:
        """Discrete process noise ``Q = q |dt|``."""
        return self.q * abs(dt)


def _attitude_and_velocity_rows(F, cr, sr, sp, tp, sec, v, w, dt) -> None:
    """Rows 3-8 of the EKF Jacobian (see :meth:`ConstantAcceleration3D.step`), written into ``F``.

    Attitude: ``1 + dT/droll w dt``, ``dT/dpitch w dt`` | ``T dt``; velocity:
    ``I - [w]x dt`` | ``[v]x dt`` | ``I dt``.
    """
    (vx, vy, vz), (wx, wy, wz) = v, w
    sec2 = sec * sec
    F[3:6, 3:5] = [[1.0 + (cr * tp * wy - sr * tp * wz) * dt, (sr * sec2 * wy + cr * sec2 * wz) * dt],
                   [(-sr * wy - cr * wz) * dt, 1.0],
                   [(cr * sec * wy - sr * sec * wz) * dt, (sr * sp * sec2 * wy + cr * sp * sec2 * wz) * dt]]
    F[3:6, 9:12] = [[dt, sr * tp * dt, cr * tp * dt], [0.0, cr * dt, -sr * dt], [0.0, sr * sec * dt, cr * sec * dt]]
    F[6:9, 6:15] = [[1.0, wz * dt, -wy * dt, 0.0, -vz * dt, vy * dt, dt, 0.0, 0.0],
                    [-wz * dt, 1.0, wx * dt, vz * dt, 0.0, -vx * dt, 0.0, dt, 0.0],
                    [wy * dt, -wx * dt, 1.0, -vy * dt, vx * dt, 0.0, 0.0, 0.0, dt]]
