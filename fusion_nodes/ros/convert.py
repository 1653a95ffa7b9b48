# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Message <-> numpy/record conversions. No logic beyond unpacking and REP rules.

REP-145: a covariance whose first element is -1 marks a field the sensor
does not provide (returned as ``None``); an all-zero covariance means
"unknown" and is returned as zeros for the caller's policy to handle.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
from builtin_interfaces.msg import Time as TimeMsg
from geometry_msgs.msg import Quaternion
from nav_msgs.msg import Odometry

from fusion_nodes.core.geometry import quaternion_to_rpy, rpy_to_quaternion
from fusion_nodes.core.records import GnssFix, ImuSample, PoseSample, TwistSample
from fusion_nodes.core.state import (ANGULAR_VELOCITY, LINEAR_VELOCITY, ORIENTATION, POSITION, VX, VYAW, X,
                                     YAW)
from fusion_nodes.core.validation import (InvalidInput, Limits, check_finite, check_magnitude, check_psd,
                                          check_quaternion)

DEFAULT_LIMITS = Limits()


def stamp_to_sec(stamp) -> float:
    """``builtin_interfaces/Time`` to float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def sec_to_stamp(t: float) -> TimeMsg:
    """Float seconds to ``builtin_interfaces/Time`` (rounded to the nanosecond)."""
    ns = int(round(t * 1e9))
    return TimeMsg(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _vec3(v) -> np.ndarray:
    return np.array([v.x, v.y, v.z], dtype=float)


def _quat(q) -> np.ndarray:
    return np.array([q.x, q.y, q.z, q.w], dtype=float)


def _cov3(values):
    c = np.asarray(values, dtype=float).reshape(3, 3)
    return None if c[0, 0] == -1.0 else c


def imu_to_sample(msg, limits: Limits = DEFAULT_LIMITS) -> ImuSample:
    """``sensor_msgs/Imu`` to :class:`ImuSample` (fields checked for NaN/Inf and plausibility).

    The common case costs one sum per field (a NaN or Inf anywhere makes the
    total non-finite) and one ``max`` per limit; only a message that fails
    is checked field by field, for the reason and the field's name.
    """
    q_cov = _cov3(msg.orientation_covariance)
    w_cov = _cov3(msg.angular_velocity_covariance)
    a_cov = _cov3(msg.linear_acceleration_covariance)
    q = _quat(msg.orientation) if q_cov is not None else None
    w = _vec3(msg.angular_velocity) if w_cov is not None else None
    a = _vec3(msg.linear_acceleration) if a_cov is not None else None
    fields = (("orientation", q), ("orientation_covariance", q_cov), ("angular_velocity", w),
              ("angular_velocity_covariance", w_cov), ("linear_acceleration", a),
              ("linear_acceleration_covariance", a_cov))
    if not math.isfinite(sum(float(v.sum()) for _, v in fields if v is not None)):
        for name, value in fields:
            check_finite(name, value)
    covs = [c for c in (q_cov, w_cov, a_cov) if c is not None]
    if (w is not None and float(np.abs(w).max()) > limits.angular_rate) or \
            (a is not None and float(np.abs(a).max()) > limits.acceleration) or \
            (covs and max(float(np.abs(c).max()) for c in covs) > limits.variance):
        for name, value, limit in (("angular_velocity", w, limits.angular_rate),
                                   ("linear_acceleration", a, limits.acceleration),
                                   ("covariance", covs, limits.variance)):
            check_magnitude(name, value, limit)
    return ImuSample(stamp_to_sec(msg.header.stamp), q, q_cov, w, w_cov, a, a_cov)


def pose_to_sample(stamp: float, pose_with_cov, limits: Limits = DEFAULT_LIMITS) -> PoseSample:
    """``geometry_msgs/PoseWithCovariance`` to :class:`PoseSample` (NaN/Inf and plausibility checked)."""
    p = pose_with_cov.pose
    s = PoseSample(stamp, _vec3(p.position), _quat(p.orientation),
                   np.asarray(pose_with_cov.covariance, dtype=float).reshape(6, 6))
    check_finite("pose", np.concatenate([s.position, s.orientation]))
    check_finite("pose covariance", s.cov)
    check_magnitude("position", s.position, limits.position)
    check_magnitude("pose covariance", s.cov, limits.variance)
    return s


def twist_to_sample(stamp: float, twist_with_cov, limits: Limits = DEFAULT_LIMITS) -> TwistSample:
    """``geometry_msgs/TwistWithCovariance`` to :class:`TwistSample` (NaN/Inf and plausibility checked)."""
    t = twist_with_cov.twist
    s = TwistSample(stamp, _vec3(t.linear), _vec3(t.angular),
                    np.asarray(twist_with_cov.covariance, dtype=float).reshape(6, 6))
    check_finite("twist", np.concatenate([s.linear, s.angular]))
    check_finite("twist covariance", s.cov)
    check_magnitude("linear velocity", s.linear, limits.speed)
    check_magnitude("angular velocity", s.angular, limits.angular_rate)
    check_magnitude("twist covariance", s.cov, limits.variance)
    return s


def check_covariance(name: str, cov, limits: Limits = DEFAULT_LIMITS) -> None:
    """Reject a 6x6 covariance from the wire (36 values, row-major, as in ``PoseWithCovariance``) that cannot
    be one: NaN/Inf (``non_finite``), a variance beyond ``limits.variance`` (``implausible``), not symmetric
    positive semi-definite (``bad_covariance``). All zeros ("unknown") passes.
    """
    C = np.asarray(cov, dtype=float).reshape(6, 6)
    check_finite(name, C)
    check_magnitude(name, C, limits.variance)
    check_psd(name, C)


def odometry_to_ego(msg, limits: Limits = DEFAULT_LIMITS) -> tuple:
    """``nav_msgs/Odometry`` to the planar ego motion ``(x, y, yaw, (vx, vy, yaw_rate))`` in its frame.

    The twist is in ``child_frame_id`` (REP-105: base_link); its planar velocity is turned into the
    world frame, ``v_w = R(yaw) [vx, vy]``. Raises :class:`InvalidInput` for NaN/Inf (``non_finite``),
    a position beyond 1e7 m (``absurd_value``), a rotation that is not a unit quaternion (``bad_quaternion``,
    :func:`~fusion_nodes.core.validation.check_quaternion`), an implausible twist, or
    an impossible pose / twist covariance (see :func:`check_covariance`).
    """
    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    values = np.array([p.x, p.y, q.x, q.y, q.z, q.w])
    t = msg.twist.twist
    linear, angular = _vec3(t.linear), _vec3(t.angular)
    twist = np.array([linear[0], linear[1], angular[2]])
    # the whole message is checked, not only the planar part read here: a NaN or an absurd value anywhere,
    # or a covariance that cannot be, says the values beside it are not to be trusted either
    check_finite("pose", np.append(values, p.z))
    check_finite("twist", np.concatenate([linear, angular]))
    check_covariance("pose covariance", msg.pose.covariance, limits)
    check_covariance("twist covariance", msg.twist.covariance, limits)
    if max(abs(p.x), abs(p.y), abs(p.z)) > limits.position:
        raise InvalidInput("absurd_value", "position beyond 1e7 m")
    q = check_quaternion(values[2:], "pose orientation")
    check_magnitude("linear velocity", linear, limits.speed)
    check_magnitude("angular velocity", angular, limits.angular_rate)
    yaw = float(quaternion_to_rpy(q)[2])
    c, s = math.cos(yaw), math.sin(yaw)
    return float(p.x), float(p.y), yaw, (c * twist[0] - s * twist[1], s * twist[0] + c * twist[1], float(twist[2]))


MAX_FOCAL_PX = 1.0e6     # px: beyond any lens on any sensor (a 1 m focal length on 1 um pixels)


def camera_info_to_intrinsics(msg) -> tuple[np.ndarray, Optional[tuple[int, int]]]:
    """``sensor_msgs/CameraInfo`` to the ``K`` of the images it describes and their size ``(width, height)``.

    REP-104: ``K`` is calibrated at the full ``width x height``; ``roi`` (in full-resolution pixels,
    all zeros: the full image) crops and ``binning_x / binning_y`` (0 or 1: none) bin the published
    image, so its matrix is ``fx' = fx / bx`` and ``cx' = (cx - roi.x_offset + 0.5) / bx - 0.5`` (and
    the same in y), and its size ``roi.width // bx x roi.height // by``. The half pixels keep ``K``'s
    convention (integers at pixel centres, :func:`fusion_nodes.core.vision.box_centre`): binned pixel 0
    covers full pixels 0 .. bx - 1, centred at (bx - 1) / 2; image_geometry's ``PinholeCameraModel``
    drops them (0.25 px at 2 x 2). The size is None when the message gives none (width or
    height 0). Raises :class:`InvalidInput` ``bad_camera_info`` for a ``K`` that is not a pinhole
    matrix (NaN/Inf, focal lengths not in (0, 1e6] px, a principal point beyond 1e6 px, a bottom row
    other than ``0 0 1``) or a ROI outside the full image.
    """
    K = np.asarray(msg.k, dtype=float).reshape(3, 3)
    if not np.all(np.isfinite(K)):
        raise InvalidInput("bad_camera_info", "K contains NaN or Inf")
    if not (0.0 < K[0, 0] <= MAX_FOCAL_PX and 0.0 < K[1, 1] <= MAX_FOCAL_PX):
        raise InvalidInput("bad_camera_info", f"focal lengths {K[0, 0]:g}, {K[1, 1]:g} px not in (0, 1e6]")
    if max(abs(K[0, 2]), abs(K[1, 2])) > MAX_FOCAL_PX or K[1, 0] != 0.0 or not np.array_equal(K[2], [0, 0, 1]):
        raise InvalidInput("bad_camera_info", "K is not a pinhole matrix [fx s cx; 0 fy cy; 0 0 1]")
    roi, width, height = msg.roi, int(msg.width), int(msg.height)
    full = not (roi.x_offset or roi.y_offset or roi.width or roi.height)
    roi_w, roi_h = (width, height) if full else (int(roi.width), int(roi.height))
    if not full and (roi_w == 0 or roi_h == 0 or (width and roi.x_offset + roi_w > width)
                     or (height and roi.y_offset + roi_h > height)):
        raise InvalidInput("bad_camera_info", f"roi {roi.x_offset},{roi.y_offset} {roi_w}x{roi_h} outside the "
                                              f"{width}x{height} image")
    bx, by = max(int(msg.binning_x), 1), max(int(msg.binning_y), 1)
    K = K.copy()
    K[0, 2] += 0.5 - roi.x_offset
    K[1, 2] += 0.5 - roi.y_offset
    K[0] /= bx                   # fx, skew and cx count columns
    K[1, 1:] /= by               # fy and cy count rows
    K[0, 2] -= 0.5
    K[1, 2] -= 0.5
    size = (roi_w // bx, roi_h // by) if roi_w and roi_h else None
    return K, size


def navsat_to_fix(msg) -> GnssFix:
    """``sensor_msgs/NavSatFix`` to :class:`GnssFix` (covariance None if unknown)."""
    cov = None
    if msg.position_covariance_type != 0:  # COVARIANCE_TYPE_UNKNOWN
        cov = np.asarray(msg.position_covariance, dtype=float).reshape(3, 3)
        check_finite("position_covariance", cov)
        if np.any(np.diag(cov) < 0.0):
            raise InvalidInput("bad_covariance", "position_covariance has a negative variance")
    check_finite("fix", [msg.latitude, msg.longitude, msg.altitude])
    if abs(msg.latitude) > 90.0 or abs(msg.longitude) > 180.0 or not -1.0e4 < msg.altitude < 1.0e5:
        raise InvalidInput("implausible", f"fix at latitude {msg.latitude:.6g}, longitude {msg.longitude:.6g}, "
                                          f"altitude {msg.altitude:.6g} m is not on Earth")
    if cov is not None:
        check_magnitude("position_covariance", cov, 1.0e12)
    return GnssFix(stamp_to_sec(msg.header.stamp), msg.latitude, msg.longitude, msg.altitude,
                   cov, msg.status.status)


def fill_imu(msg, s: ImuSample, missing=-1.0):
    """Write :class:`ImuSample` fields into a ``sensor_msgs/Imu`` (REP-145 for gaps)."""
    def put_cov(field_name, c):
        arr = np.zeros(9)
        if c is None:
            arr[0] = missing
        else:
            arr[:] = np.asarray(c).ravel()
        setattr(msg, field_name, arr.tolist())
    if s.orientation is not None:
        msg.orientation = Quaternion(x=float(s.orientation[0]), y=float(s.orientation[1]),
                                     z=float(s.orientation[2]), w=float(s.orientation[3]))
    put_cov("orientation_covariance", s.orientation_cov)
    for field_name, v in (("angular_velocity", s.angular_velocity),
                          ("linear_acceleration", s.linear_acceleration)):
        if v is not None:
            vec = getattr(msg, field_name)
            vec.x, vec.y, vec.z = (float(c) for c in v)
    put_cov("angular_velocity_covariance", s.angular_velocity_cov)
    put_cov("linear_acceleration_covariance", s.linear_acceleration_cov)
    return msg


def odometry(stamp, frame_id: str, child_frame_id: str, position=(0.0, 0.0, 0.0), rpy=(0.0, 0.0, 0.0),
             pose_cov=None, linear=(0.0, 0.0, 0.0), angular=(0.0, 0.0, 0.0), twist_cov=None) -> Odometry:
    """The one ``nav_msgs/Odometry`` builder: pose (m, rad; in ``frame_id``), twist (m/s, rad/s; in
    ``child_frame_id``, REP-105), 6 x 6 covariances (zeros when not given).
    """
    msg = Odometry()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.child_frame_id = child_frame_id
    p = msg.pose.pose
    p.position.x, p.position.y, p.position.z = (float(v) for v in position)
    qx, qy, qz, qw = rpy_to_quaternion(*(float(a) for a in rpy)).tolist()
    p.orientation = Quaternion(x=qx, y=qy, z=qz, w=qw)
    # float64 arrays go into the message without a per-element type check (lists do not).
    if pose_cov is not None:
        msg.pose.covariance = np.array(pose_cov, dtype=np.float64).ravel()
    t = msg.twist.twist
    t.linear.x, t.linear.y, t.linear.z = (float(v) for v in linear)
    t.angular.x, t.angular.y, t.angular.z = (float(v) for v in angular)
    if twist_cov is not None:
        msg.twist.covariance = np.array(twist_cov, dtype=np.float64).ravel()
    return msg


def state_to_odometry(x: np.ndarray, P: np.ndarray, stamp, frame_id: str,
                      child_frame_id: str) -> Odometry:
    """15-D state and covariance to ``nav_msgs/Odometry`` (pose in world, twist in body)."""
    pose, twist = slice(X, YAW + 1), slice(VX, VYAW + 1)
    return odometry(stamp, frame_id, child_frame_id, x[POSITION].tolist(), x[ORIENTATION].tolist(), P[pose, pose],
                    x[LINEAR_VELOCITY].tolist(), x[ANGULAR_VELOCITY].tolist(), P[twist, twist])
