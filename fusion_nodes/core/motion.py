"""Motion (process) models: how the 15-D state evolves between measurements."""
from __future__ import annotations

import numpy as np

from .geometry import (euler_rate_matrix, euler_rate_matrix_derivatives, rpy_matrix_derivatives,
                       rpy_to_matrix, wrap_angle)
from .state import (ANGLE_INDICES, ANGULAR_VELOCITY, LINEAR_ACCELERATION, LINEAR_VELOCITY,
                    ORIENTATION, POSITION, STATE_SIZE, DEFAULT_PROCESS_NOISE)


class ConstantAcceleration3D:
    """Omnidirectional constant-acceleration model (robot_localization's).

    With ``p`` world position, ``theta = (roll, pitch, yaw)``, body velocity ``v``,
    body angular rate ``w`` and body acceleration ``a``::

        p'     = p + R(theta) (v dt + a dt^2 / 2)
        theta' = theta + T(roll, pitch) w dt
        v'     = v + a dt
        w'     = w,   a' = a

    ``R`` is the body-to-world rotation and ``T`` maps body rates to Euler
    rates. Process noise is white with spectral density ``q`` so that
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
        out = x.copy()
        out[POSITION] += rpy_to_matrix(roll, pitch, yaw) @ (v * dt + 0.5 * a * dt * dt)
        out[ORIENTATION] += euler_rate_matrix(roll, pitch) @ w * dt
        out[LINEAR_VELOCITY] += a * dt
        out[list(ANGLE_INDICES)] = wrap_angle(out[list(ANGLE_INDICES)])
        return out

    def jacobian(self, x: np.ndarray, dt: float) -> np.ndarray:
        """Analytic ``F = df/dx`` at ``x``."""
        roll, pitch, yaw = x[ORIENTATION]
        v, w, a = x[LINEAR_VELOCITY], x[ANGULAR_VELOCITY], x[LINEAR_ACCELERATION]
        d = v * dt + 0.5 * a * dt * dt
        R = rpy_to_matrix(roll, pitch, yaw)
        T = euler_rate_matrix(roll, pitch)
        F = np.eye(STATE_SIZE)
        F[0:3, 3:6] = np.column_stack([dR @ d for dR in rpy_matrix_derivatives(roll, pitch, yaw)])
        F[0:3, 6:9] = R * dt
        F[0:3, 12:15] = R * (0.5 * dt * dt)
        dT_droll, dT_dpitch = euler_rate_matrix_derivatives(roll, pitch)
        F[3:6, 3] += dT_droll @ w * dt
        F[3:6, 4] += dT_dpitch @ w * dt
        F[3:6, 9:12] = T * dt
        F[6:9, 12:15] = np.eye(3) * dt
        return F

    def Q(self, dt: float) -> np.ndarray:
        """Discrete process noise ``Q = q |dt|``."""
        return self.q * abs(dt)
