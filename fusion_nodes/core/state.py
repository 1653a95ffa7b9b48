# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The 15-D state vector shared by every estimator component.

Layout (robot_localization's order; REP-103 units)::

    index  0  1  2  3     4      5    6   7   8   9     10     11    12  13  14
    field  x  y  z  roll  pitch  yaw  vx  vy  vz  vroll vpitch vyaw  ax  ay  az

Position and orientation are in the world frame (``map`` or ``odom``, ENU);
velocities, angular rates and accelerations are in the body frame
(``base_link``): m, rad, m/s, rad/s, m/s^2.
"""
from __future__ import annotations

import numpy as np

STATE_SIZE = 15
X, Y, Z, ROLL, PITCH, YAW = range(6)
VX, VY, VZ, VROLL, VPITCH, VYAW = range(6, 12)
AX, AY, AZ = range(12, 15)

POSITION = slice(X, Z + 1)
ORIENTATION = slice(ROLL, YAW + 1)
LINEAR_VELOCITY = slice(VX, VZ + 1)
ANGULAR_VELOCITY = slice(VROLL, VYAW + 1)
LINEAR_ACCELERATION = slice(AX, AZ + 1)

ANGLE_INDICES = (ROLL, PITCH, YAW)

#: State entries that a planar robot cannot change (2-D mode keeps them at 0).
OUT_OF_PLANE = (Z, ROLL, PITCH, VZ, VROLL, VPITCH, AZ)

#: robot_localization's default process noise diagonal (per second).
DEFAULT_PROCESS_NOISE = np.array([0.05, 0.05, 0.06, 0.03, 0.03, 0.06, 0.025, 0.025,
                                  0.04, 0.01, 0.01, 0.02, 0.01, 0.01, 0.015])

