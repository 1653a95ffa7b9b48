# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion sim``: a seeded ground-vehicle drive with exact ground truth.

The vehicle drives on flat ground (ENU, z = 0) with smoothly varying speed
and yaw rate. Sensors:

* ``/imu/data`` (sensor_msgs/Imu, ``imu_rate`` Hz): gyro and accelerometer in
  base_link with white noise and constant biases; no orientation
  (``orientation_covariance[0] = -1``, as many MEMS IMUs), unless
  ``imu_orientation`` is set.
* ``/wheel/odom`` (nav_msgs/Odometry, ``odom_rate`` Hz): forward and yaw-rate
  twist with scale errors and noise; its pose is the dead-reckoned
  integral of that twist, as a diff-drive controller publishes it.
* ``/gps/fix`` (sensor_msgs/NavSatFix, ``gps_rate`` Hz): ENU truth plus
  noise, converted to geodetic about ``datum`` with pymap3d; stamped
  ``gps_latency`` s late (as receivers that stamp on arrival do); an outage
  with NO_FIX messages; one multipath jump.
* ``/ground_truth/odom`` (nav_msgs/Odometry, ``truth_rate`` Hz): exact pose
  and twist in the ENU frame at the datum.

Each sensor's declared covariance is its true one times
``<sensor>_declared_scale`` (1: honest), and the drive starts heading
``start_yaw``: the cases a self-calibrating filter must handle.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, NavSatFix, NavSatStatus

from fusion_nodes.core.geometry import GRAVITY, rpy_to_quaternion, wrap_angle
from fusion_nodes.core.gnss import Datum
from fusion_nodes.ros.convert import odometry, sec_to_stamp

from .bagio import BagWriter
from .progress import progress

T0 = 1_000.0  # stamps start here: a zero stamp is invalid input


@dataclass
class SimConfig:
    """Scenario parameters (SI units)."""

    seed: int = 1
    duration: float = 240.0
    imu_rate: float = 100.0
    odom_rate: float = 50.0
    gps_rate: float = 10.0
    truth_rate: float = 50.0
    datum: tuple = (42.376, -71.147, 10.0)
    gyro_noise: float = 0.003          # rad/s
    gyro_bias: float = 0.002           # rad/s (z axis)
    accel_noise: float = 0.05          # m/s^2
    accel_bias: float = 0.03           # m/s^2
    imu_orientation: bool = False
    odom_speed_noise: float = 0.05     # m/s
    odom_yaw_rate_noise: float = 0.01  # rad/s
    odom_speed_scale: float = 1.02     # wheel radius error
    odom_yaw_rate_scale: float = 1.05  # track width error
    gps_sigma: float = 1.0             # m, horizontal
    gps_sigma_up: float = 2.0          # m
    gps_latency: float = 0.1           # s
    gps_outage: tuple = (120.0, 135.0)  # s after start: NO_FIX
    multipath: tuple = (175.0, 177.0)  # s after start
    multipath_offset: tuple = (12.0, 8.0)  # m east, north
    start_yaw: float = 0.0             # rad, heading at the start (ENU: 0 east, pi/2 north)
    drive_from: float = 2.0            # s standing still before the drive starts (> duration: never moves)
    cruise_speed: float = 4.0          # m/s mean forward speed (a ground robot; ~12 for a car on a road)
    # declared covariance / true covariance of each sensor (1: honest; a driver's wrong datasheet values)
    imu_declared_scale: float = 1.0
    odom_declared_scale: float = 1.0
    gps_declared_scale: float = 1.0
    frames: dict = field(default_factory=lambda: {"world": "map", "odom": "odom",
                                                  "base": "base_link", "imu": "base_link",
                                                  "gps": "gps"})


def trajectory(cfg: SimConfig, dt: float = 1e-3):
    """Truth on a fine grid: t, x, y, yaw, v (forward), w (yaw rate), a (forward accel)."""
    t = np.arange(0.0, cfg.duration + dt, dt)
    ramp = np.clip((t - cfg.drive_from) / 6.0, 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)                  # smoothstep: still until drive_from, then go
    v = ramp * (cfg.cruise_speed + 0.375 * cfg.cruise_speed * np.sin(2 * np.pi * t / 40.0))   # +-37.5 % over 40 s
    w = ramp * (0.12 * np.sin(2 * np.pi * t / 50.0) + 0.05 * np.sin(2 * np.pi * t / 17.0))
    yaw = cfg.start_yaw + np.concatenate([[0.0], np.cumsum(0.5 * (w[1:] + w[:-1]) * dt)])
    vx, vy = v * np.cos(yaw), v * np.sin(yaw)
    x = np.concatenate([[0.0], np.cumsum(0.5 * (vx[1:] + vx[:-1]) * dt)])
    y = np.concatenate([[0.0], np.cumsum(0.5 * (vy[1:] + vy[:-1]) * dt)])
    a = np.gradient(v, dt)
    return dict(t=t, x=x, y=y, yaw=yaw, v=v, w=w, a=a)


def _at(traj, t):
    i = min(int(round(t / 1e-3)), len(traj["t"]) - 1)
    return {k: traj[k][i] for k in traj}


def _odometry(stamp, frame, child, x, y, yaw, v, w, pose_var, twist_var) -> Odometry:
    return odometry(sec_to_stamp(stamp), frame, child, (x, y, 0.0), (0.0, 0.0, yaw), np.diag(pose_var),
                    (v, 0.0, 0.0), (0.0, 0.0, w), np.diag(twist_var))


class Simulator:
    """Generates the sensor messages of :class:`SimConfig` in time order."""

    def __init__(self, cfg: SimConfig):
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)
        self.traj = trajectory(cfg)
        self.datum = Datum(*cfg.datum)
        self._dr = np.zeros(3)  # dead-reckoned x, y, yaw of the wheel odometry

    def messages(self):
        """Yield ``(topic, t_ns, msg)`` sorted by log time."""
        c = self.cfg
        events = []
        for topic, rate, offset in (("/imu/data", c.imu_rate, 0.0013), ("/wheel/odom", c.odom_rate, 0.0021),
                                    ("/gps/fix", c.gps_rate, 0.0047), ("/ground_truth/odom", c.truth_rate, 0.0)):
            n = int(c.duration * rate)
            events += [(k / rate + offset, topic) for k in range(1, n)]
        events.sort()
        for t, topic in events:
            msg, log_t = getattr(self, "_" + topic.strip("/").replace("/", "_"))(t)
            if msg is not None:
                yield topic, int(round((T0 + log_t) * 1e9)), msg

    def _imu_data(self, t):
        c, s, r = self.cfg, _at(self.traj, t), self.rng
        m = Imu()
        m.header.stamp = sec_to_stamp(T0 + t)
        m.header.frame_id = c.frames["imu"]
        m.angular_velocity.z = float(s["w"] + c.gyro_bias + r.normal(0, c.gyro_noise))
        m.angular_velocity.x, m.angular_velocity.y = (float(v) for v in r.normal(0, c.gyro_noise, 2))
        acc = np.array([s["a"], s["v"] * s["w"], GRAVITY]) + c.accel_bias + r.normal(0, c.accel_noise, 3)
        m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z = (float(v) for v in acc)
        m.angular_velocity_covariance = (np.eye(3) * c.gyro_noise ** 2 * c.imu_declared_scale).ravel().tolist()
        m.linear_acceleration_covariance = (np.eye(3) * c.accel_noise ** 2 * c.imu_declared_scale).ravel().tolist()
        if c.imu_orientation:
            q = rpy_to_quaternion(*r.normal(0, 0.01, 2), wrap_angle(s["yaw"] + r.normal(0, 0.02)))
            m.orientation.x, m.orientation.y, m.orientation.z, m.orientation.w = (float(v) for v in q)
            m.orientation_covariance = np.diag([1e-4, 1e-4, 4e-4]).ravel().tolist()
        else:
            m.orientation_covariance = [-1.0] + [0.0] * 8
        return m, t

    def _wheel_odom(self, t):
        c, s, r = self.cfg, _at(self.traj, t), self.rng
        v = s["v"] * c.odom_speed_scale + r.normal(0, c.odom_speed_noise)
        w = s["w"] * c.odom_yaw_rate_scale + r.normal(0, c.odom_yaw_rate_noise)
        dt = 1.0 / c.odom_rate
        self._dr += [v * np.cos(self._dr[2]) * dt, v * np.sin(self._dr[2]) * dt, w * dt]
        big = 1e6
        return _odometry(T0 + t, c.frames["odom"], c.frames["base"], *self._dr[:2], self._dr[2], v, w,
                         [0.01, 0.01, big, big, big, 0.01],
                         [c.odom_speed_noise ** 2 * c.odom_declared_scale, 1e-4, big, big, big,
                          c.odom_yaw_rate_noise ** 2 * c.odom_declared_scale]), t

    def _gps_fix(self, t):
        c, r = self.cfg, self.rng
        t_valid = t - c.gps_latency  # the fix describes an earlier moment than its stamp
        if t_valid < 0:
            return None, t
        s = _at(self.traj, t_valid)
        m = NavSatFix()
        m.header.stamp = sec_to_stamp(T0 + t)
        m.header.frame_id = c.frames["gps"]
        m.status.service = NavSatStatus.SERVICE_GPS
        enu = np.array([s["x"], s["y"], 0.0]) + r.normal(0, [c.gps_sigma, c.gps_sigma, c.gps_sigma_up])
        if c.multipath[0] <= t_valid < c.multipath[1]:
            enu[:2] += c.multipath_offset
        m.status.status = NavSatStatus.STATUS_FIX
        if c.gps_outage[0] <= t_valid < c.gps_outage[1]:
            m.status.status = NavSatStatus.STATUS_NO_FIX
        m.latitude, m.longitude, m.altitude = (float(v) for v in self.datum.to_geodetic(*enu))
        m.position_covariance = (np.diag([c.gps_sigma ** 2, c.gps_sigma ** 2, c.gps_sigma_up ** 2])
                                 * c.gps_declared_scale).ravel().tolist()
        m.position_covariance_type = NavSatFix.COVARIANCE_TYPE_DIAGONAL_KNOWN
        return m, t

    def _ground_truth_odom(self, t):
        c, s = self.cfg, _at(self.traj, t)
        return _odometry(T0 + t, c.frames["world"], c.frames["base"], s["x"], s["y"], s["yaw"], s["v"],
                         s["w"], [0.0] * 6, [0.0] * 6), t


def write(cfg: SimConfig, out) -> int:
    """Write the drive to ``out`` (MCAP); returns the number of messages."""
    total = int(cfg.duration * (cfg.imu_rate + cfg.odom_rate + cfg.gps_rate + cfg.truth_rate))
    with BagWriter(out) as w:
        for topic, t_ns, msg in progress(Simulator(cfg).messages(), total, "simulating"):
            w.write(topic, msg, t_ns)
        return w.count


def config_summary(cfg: SimConfig) -> dict:
    d = asdict(cfg)
    d.pop("frames")
    return d
