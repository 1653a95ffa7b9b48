# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Sensor models: turn validated sensor records into base_link measurements.

A sensor is mounted on the robot by the transform base_link -> sensor,
``mount = [x, y, z, roll, pitch, yaw]`` (m, rad; fixed-axis RPY). Each model
applies the mounting, selects the fields enabled by the sensor's 15-flag mask
and returns :class:`~fusion_nodes.core.records.Measurement` objects.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Optional

import numpy as np

from .geometry import GRAVITY, cross, matrix_to_quaternion, matrix_to_rpy, quaternion_to_matrix, rpy_to_matrix
from .measurement_models import MountedPosition, SpecificForce, StateSelection, Stacked
from .records import ImuSample, Measurement, Part, PoseSample, TwistSample
from .state import OUT_OF_PLANE, STATE_SIZE
from .validation import check_quaternion, declared_covariance, sanitize_covariance

INF = float("inf")


@dataclass(frozen=True)
class Mount:
    """Transform base_link -> sensor frame.

    ``translation`` (m) is the sensor origin in base_link; ``R`` rotates
    sensor-frame vectors into base_link: ``v_base = R v_sensor``.
    """

    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))
    rpy: np.ndarray = field(default_factory=lambda: np.zeros(3))

    @classmethod
    def from_list(cls, values) -> "Mount":
        v = np.asarray(values, dtype=float)
        if v.shape != (6,) or not np.all(np.isfinite(v)):
            raise ValueError(f"a mount is [x, y, z, roll, pitch, yaw], got {list(values)!r}")
        return cls(v[:3].copy(), v[3:].copy())

    @cached_property
    def R(self) -> np.ndarray:
        return rpy_to_matrix(*self.rpy)

    @cached_property
    def is_identity(self) -> bool:
        return not np.any(self.translation) and not np.any(self.rpy)


@dataclass(frozen=True)
class SensorConfig:
    """How one input is fused (robot_localization's per-sensor parameters).

    Attributes
    ----------
    name : str
        Parameter prefix, e.g. ``odom0``.
    mask : tuple of bool
        15 flags: which state fields this sensor measures.
    pose_threshold, twist_threshold, accel_threshold : float
        Mahalanobis rejection thresholds (standard deviations).
    time_offset : float
        Seconds added to each header stamp (negative for a sensor that stamps
        late, e.g. ``-0.15`` for a GPS that stamps on arrival).
    covariance_floor : float
        Smallest variance accepted on a fused field.
    covariance_scale, covariance_override
        The declared covariance of the fused fields times ``covariance_scale``; a field with a
        positive ``covariance_override`` (15 variances in state order) gets that variance instead
        (:func:`~fusion_nodes.core.validation.declared_covariance`).
    """

    name: str
    mask: tuple
    mount: Mount = field(default_factory=Mount)
    differential: bool = False
    relative: bool = False
    pose_threshold: float = INF
    twist_threshold: float = INF
    accel_threshold: float = INF
    remove_gravity: bool = False
    time_offset: float = 0.0
    covariance_floor: float = 1e-9
    covariance_scale: float = 1.0
    covariance_override: tuple = ()


def planar_mask(mask, two_d_mode: bool) -> tuple:
    """In 2-D mode a sensor never fuses z, roll, pitch or their rates."""
    mask = [bool(m) for m in mask]
    if len(mask) != STATE_SIZE:
        raise ValueError(f"a fusion mask needs {STATE_SIZE} flags, got {len(mask)}")
    if two_d_mode:
        for i in OUT_OF_PLANE:
            mask[i] = False
    return tuple(mask)


def _rotate6(C: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Rotate a 6x6 (linear, angular) covariance: ``B C B^T``, ``B = diag(R, R)``."""
    B = np.zeros((6, 6))
    B[:3, :3] = R
    B[3:, 3:] = R
    return B @ C @ B.T


class _RepairCounter:
    """The one covariance path of the measurement models: checked and repaired (counted), then the user's
    scale and overrides applied to the fused fields (``fields``: their state indices, in row order).
    """

    repairs = 0

    def _sanitize(self, cov, idx, name, fields):
        C, repaired = sanitize_covariance(cov, idx, self.cfg.covariance_floor, name)
        self.repairs += int(repaired)
        return declared_covariance(C, fields, self.cfg.covariance_scale, self.cfg.covariance_override)


class OdometryModel(_RepairCounter):
    """Pose and twist from ``nav_msgs/Odometry``, ``PoseWithCovariance`` and
    ``TwistWithCovariance`` sources, with robot_localization's modes.

    * ``relative``: poses are taken relative to the first pose received.
    * ``differential``: consecutive poses become a body-frame velocity
      ``(T_prev^-1 T_cur) / dt``, covariance ``(C_prev + C_cur) / dt^2``, so
      several absolute-pose sources do not fight each other.
    """

    def __init__(self, config: SensorConfig):
        self.cfg = config
        mask = np.asarray(config.mask, dtype=bool)
        self.pose_idx = [i for i in range(6) if mask[i]]
        self.twist_idx = [i for i in range(6, 12) if mask[i]]
        self._first: Optional[tuple] = None
        self._prev: Optional[tuple] = None

    def reset(self) -> None:
        self._first = None
        self._prev = None

    def measurements(self, pose: Optional[PoseSample], twist: Optional[TwistSample]):
        """Measurements from one message (either part may be None)."""
        out = []
        if pose is not None and self.pose_idx:
            out += self._pose(pose)
        if twist is not None and self.twist_idx:
            out += [self._twist(twist)]
        return out

    def _base_pose(self, pose: PoseSample):
        """Sensor pose in its world -> (base orientation matrix, sensor position)."""
        q = check_quaternion(pose.orientation)
        R_b = quaternion_to_matrix(q) @ self.cfg.mount.R.T
        return R_b, np.asarray(pose.position, dtype=float)

    def _pose(self, pose: PoseSample):
        R_b, p = self._base_pose(pose)
        if self.cfg.relative:
            if self._first is None:
                self._first = (R_b, p)
            R0, p0 = self._first
            R_b, p = R0.T @ R_b, R0.T @ (p - p0)
        stamp = pose.stamp + self.cfg.time_offset
        if self.cfg.differential:
            prev, self._prev = self._prev, (stamp, R_b, p, pose.cov)
            return [] if prev is None else self._differential(prev, stamp, R_b, p, pose.cov)
        C = self._sanitize(pose.cov, self.pose_idx, "pose covariance", self.pose_idx)
        rpy = matrix_to_rpy(R_b)
        pos_axes = [i for i in self.pose_idx if i < 3]
        rot_idx = [i for i in self.pose_idx if i >= 3]
        parts, z = [], []
        if pos_axes:
            parts.append(MountedPosition(self.cfg.mount.translation, pos_axes)
                         if np.any(self.cfg.mount.translation) else StateSelection(pos_axes))
            z.append(p[pos_axes])
        if rot_idx:
            parts.append(StateSelection(rot_idx))
            z.append(rpy[[i - 3 for i in rot_idx]])
        model = parts[0] if len(parts) == 1 else Stacked(parts)
        return [Measurement(self.cfg.name, stamp, np.concatenate(z), C, model,
                            self.cfg.pose_threshold, "pose")]

    def _differential(self, prev, stamp, R_b, p, cov):
        t0, R0, p0, cov0 = prev
        dt = stamp - t0
        if dt <= 0.0:
            return []
        lin = R0.T @ (p - p0) / dt
        ang = matrix_to_rpy(R0.T @ R_b) / dt
        vel = np.concatenate([lin, ang])
        idx = [i + 6 for i in self.pose_idx]
        C = self._sanitize((np.asarray(cov) + np.asarray(cov0)) / (dt * dt), self.pose_idx,
                           "differential pose covariance", idx)
        return [Measurement(self.cfg.name, stamp, vel[self.pose_idx], C, StateSelection(idx),
                            self.cfg.pose_threshold, "differential")]

    def _twist(self, twist: TwistSample) -> Measurement:
        """``w_b = R_m w_s``; ``v_b = R_m v_s - w_b x t_m`` (lever arm)."""
        m = self.cfg.mount
        w_b = m.R @ np.asarray(twist.angular, dtype=float)
        v_b = m.R @ np.asarray(twist.linear, dtype=float) - cross(w_b, m.translation)
        cov = twist.cov if m.is_identity else _rotate6(np.asarray(twist.cov), m.R)
        local = [i - 6 for i in self.twist_idx]
        C = self._sanitize(cov, local, "twist covariance", self.twist_idx)
        z = np.concatenate([v_b, w_b])[local]
        return Measurement(self.cfg.name, twist.stamp + self.cfg.time_offset, z, C,
                           StateSelection(self.twist_idx), self.cfg.twist_threshold, "twist")


def imu_heading_to_enu(s: ImuSample, yaw_correction: float) -> ImuSample:
    """Rotate an IMU orientation about the world z axis by ``yaw_correction`` (rad).

    For an IMU whose heading is not ENU (magnetic north, or 0 facing north):
    ``q_enu = Rz(declination + yaw_offset) ⊗ q``, as navsat_transform applies
    ``magnetic_declination_radians`` and ``yaw_offset``. Rates and
    accelerations are body-frame quantities and stay as they are.
    """
    if s.orientation is None or yaw_correction == 0.0:
        return s
    R = rpy_to_matrix(0.0, 0.0, yaw_correction) @ quaternion_to_matrix(s.orientation)
    return replace(s, orientation=matrix_to_quaternion(R))


def imu_in_base(s: ImuSample, mount: Mount) -> ImuSample:
    """Express an IMU reading in base_link.

    With mount rotation ``R_m`` (sensor -> base) and lever arm ``t``::

        R_base = R_imu R_m^T
        w_base = R_m w_imu
        f_base = R_m f_imu - w x (w x t)      (centripetal lever-arm term)

    Covariances are rotated as ``R_m C R_m^T``. Missing fields stay missing.
    """
    if mount.is_identity:
        return s
    Rm = mount.R

    def rot(C):
        return None if C is None else Rm @ C @ Rm.T
    q = None
    if s.orientation is not None:
        q = matrix_to_quaternion(quaternion_to_matrix(check_quaternion(s.orientation)) @ Rm.T)
    w = None if s.angular_velocity is None else Rm @ s.angular_velocity
    f = None
    if s.linear_acceleration is not None:
        f = Rm @ s.linear_acceleration
        if w is not None and np.any(mount.translation):
            f = f - cross(w, cross(w, mount.translation))
    return ImuSample(s.stamp, q, rot(s.orientation_cov), w, rot(s.angular_velocity_cov),
                     f, rot(s.linear_acceleration_cov))


class ImuModel(_RepairCounter):
    """IMU orientation, angular velocity and acceleration as measurements.

    The reading is first expressed in base_link (:func:`imu_in_base`).
    Gravity: with ``remove_gravity`` and a measured orientation the
    acceleration fused is ``f_base - R_base^T [0, 0, g]`` (as
    robot_localization does); without a measured orientation the raw
    specific force is fused through :class:`SpecificForce`, i.e. gravity is
    removed with the filter's own attitude. Fields whose covariance is
    missing (REP-145: ``-1``) are never fused.
    """

    def __init__(self, config: SensorConfig, gravity: float = GRAVITY):
        self.cfg = config
        mask = np.asarray(config.mask, dtype=bool)
        self.rot_idx = [i for i in range(3, 6) if mask[i]]
        self.gyro_idx = [i for i in range(9, 12) if mask[i]]
        self.acc_idx = [i for i in range(12, 15) if mask[i]]
        self.g = gravity
        self._layouts: dict = {}

    @property
    def cfg(self) -> SensorConfig:
        return self._cfg

    @cfg.setter
    def cfg(self, config: SensorConfig) -> None:
        # the cached layouts carry the gates' thresholds: a new config (a live parameter change) rebuilds them
        self._cfg = config
        self._layouts = {}

    def measurements(self, sample: ImuSample):
        """One stacked measurement per message (orientation, rates and
        acceleration in a single update, each part with its own gate).

        The covariance is checked once per message, as one block-diagonal
        matrix (a block-diagonal matrix is positive definite exactly when
        each block is); the layout of ``z`` (model, parts, rows) is built
        once for each combination of present fields and reused.
        """
        s = imu_in_base(sample, self.cfg.mount)
        R_b = None
        if s.orientation is not None and s.orientation_cov is not None:
            R_b = quaternion_to_matrix(check_quaternion(s.orientation))
        fields = {}
        if R_b is not None and self.rot_idx:
            fields["orientation"] = (matrix_to_rpy(R_b), s.orientation_cov)
        if s.angular_velocity is not None and s.angular_velocity_cov is not None and self.gyro_idx:
            fields["gyro"] = (s.angular_velocity, s.angular_velocity_cov)
        specific = False
        if s.linear_acceleration is not None and s.linear_acceleration_cov is not None and self.acc_idx:
            f = s.linear_acceleration
            if self.cfg.remove_gravity:
                if R_b is not None:
                    f = f - self.g * R_b[2]          # f - R_b^T [0, 0, g]
                else:
                    specific = True                   # gravity removed with the filter's attitude
            fields["accel"] = (f, s.linear_acceleration_cov)
        if not fields:
            return []
        key = (tuple(fields), specific)
        layout = self._layouts.get(key) or self._layouts.setdefault(key, self._layout(*key))
        z, C = [], np.zeros((layout.size, layout.size))
        for name, local, ix, a, b in layout.blocks:
            v, cov = fields[name]
            if ix is None:
                z += v.tolist()
                C[a:b, a:b] = cov
            else:
                z += v[local].tolist()
                C[a:b, a:b] = cov[ix]
        C = self._sanitize(C, None, "IMU covariance", layout.fields)
        return [Measurement(self.cfg.name, s.stamp + self.cfg.time_offset, z, C, layout.model,
                            layout.threshold, layout.kind, layout.parts)]

    def _layout(self, present, specific) -> "_Layout":
        specs = {"orientation": (self.rot_idx, 3, self.cfg.pose_threshold, "imu_orientation", None),
                 "gyro": (self.gyro_idx, 9, self.cfg.twist_threshold, "imu_gyro", None),
                 "accel": (self.acc_idx, 12, self.cfg.accel_threshold, "imu_accel",
                           SpecificForce([i - 12 for i in self.acc_idx], self.g) if specific else None)}
        models, parts, blocks, start = [], [], [], 0
        for name in present:
            idx, base, threshold, kind, model = specs[name]
            n = len(idx)
            parts.append(Part(start, start + n, threshold, kind))
            local = np.array([i - base for i in idx])
            blocks.append((name, local, None if n == 3 else np.ix_(local, local), start, start + n))
            start += n
            if model is None and models and isinstance(models[-1], StateSelection):
                models[-1] = StateSelection(np.concatenate([models[-1].indices, idx]))
            else:
                models.append(model or StateSelection(idx))
        model = models[0] if len(models) == 1 else Stacked(models)
        kind = "+".join(p.kind for p in parts)
        fields = tuple(int(i) for name in present for i in specs[name][0])
        return _Layout(model, tuple(parts) if len(parts) > 1 else (), parts[0].threshold, kind,
                       tuple(blocks), start, fields)


@dataclass(frozen=True)
class _Layout:
    """Where each field of an IMU message goes in the stacked measurement."""

    model: object
    parts: tuple
    threshold: float
    kind: str
    blocks: tuple      # (field, local indices, their np.ix_ (None: all 3), first row, end row)
    size: int
    fields: tuple      # the state index of each row


def stack(measurements) -> Measurement:
    """Several measurements of one message as one, with a :class:`Part` per input.

    ``z`` and ``R`` are concatenated block-diagonally (the parts are taken as
    independent); adjacent direct observations merge into one
    :class:`StateSelection`, so the update costs one small matrix product.
    """
    models, parts, start = [], [], 0
    for m in measurements:
        n = len(m.z)
        parts.append(Part(start, start + n, m.threshold, m.kind))
        start += n
        if models and isinstance(m.model, StateSelection) and isinstance(models[-1], StateSelection):
            models[-1] = StateSelection(np.concatenate([models[-1].indices, m.model.indices]))
        else:
            models.append(m.model)
    R = np.zeros((start, start))
    for m, p in zip(measurements, parts):
        R[p.start:p.stop, p.start:p.stop] = m.R
    m0 = measurements[0]
    return Measurement(m0.sensor, m0.stamp, np.concatenate([m.z for m in measurements]), R,
                       models[0] if len(models) == 1 else Stacked(models), m0.threshold,
                       "+".join(m.kind for m in measurements), tuple(parts))
