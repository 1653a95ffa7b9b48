"""Motion (process) models: how the 15-D state evolves between measurements."""
from __future__ import annotations

import numpy as np

from .geometry import (cross, euler_rate_matrix, euler_rate_matrix_derivatives, rpy_matrix_and_derivatives,
                       rpy_to_matrix, skew, wrap_angle)
from .state import (ANGLE_INDICES, ANGULAR_VELOCITY, LINEAR_ACCELERATION, LINEAR_VELOCITY,
                    ORIENTATION, POSITION, STATE_SIZE, DEFAULT_PROCESS_NOISE)


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
        """Analytic ``F = df/dx`` at ``x``."""
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

    def Q(self, dt: float) -> np.ndarray:
        """Discrete process noise ``Q = q |dt|``."""
        return self.q * abs(dt)
