# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""imu_gps_node parameters."""
from __future__ import annotations

from rclpy.parameter import Parameter

from .params import ParamSpec, input_limit_specs, length, one_of


def _datum(v) -> str | None:
    if len(v) not in (0, 3):
        return f"needs 0 or 3 values, got {len(v)}"
    if v and not (abs(v[0]) <= 90.0 and abs(v[1]) <= 180.0 and -1.0e4 < v[2] < 1.0e5):
        return f"{list(v)} is not on Earth (latitude within ±90, longitude ±180, altitude -10 km..100 km)"
    return None


def specs() -> list[ParamSpec]:
    return [
        ParamSpec("imu_topic", "imu/data", "Raw IMU input (sensor_msgs/Imu).", read_only=True),
        ParamSpec("imu_output_topic", "imu/checked", "Checked IMU in base_link.", read_only=True),
        ParamSpec("gps_topic", "gps/fix", "GNSS input (sensor_msgs/NavSatFix).", read_only=True),
        ParamSpec("gps_output_topic", "odometry/gps", "GNSS position in local ENU "
                  "(nav_msgs/Odometry).", read_only=True),
        ParamSpec("features_topic", "imu/features", "Windowed IMU features for early fusion (PointCloud2, "
                  "one point with named fields; empty: off).", read_only=True),
        ParamSpec("feature_window", 1.0, "Window (s) of the IMU features.", 0.05, 60.0, read_only=True),
        ParamSpec("feature_rate", 10.0, "Rate (Hz, in IMU stamp time) of the IMU features.", 0.1, 1000.0,
                  read_only=True),
        ParamSpec("base_link_frame", "base_link", "Frame of the checked IMU.", read_only=True),
        ParamSpec("world_frame", "odom", "ENU frame of odometry/gps (its origin is the datum).",
                  read_only=True),
        ParamSpec("imu_mount", [0.0] * 6, "Transform base_link -> IMU: x y z (m) roll pitch yaw "
                  "(rad, fixed axes).", check=length(6), read_only=True),
        ParamSpec("magnetic_declination_radians", 0.0, "Magnetic declination (rad, east positive) added to "
                  "the IMU yaw, for an IMU whose heading is magnetic (navsat_transform's meaning).",
                  -3.1416, 3.1416, read_only=True),
        ParamSpec("yaw_offset", 0.0, "Offset (rad) added to the IMU yaw so that 0 means facing east (ENU), "
                  "e.g. pi/2 for an IMU that reads 0 facing north (navsat_transform's meaning).",
                  -6.2832, 6.2832, read_only=True),
        ParamSpec("zero_covariance_policy", "replace", "An all-zero (unknown) IMU covariance is "
                  "'replace'd by the defaults below or 'reject'ed.", check=one_of("replace", "reject")),
        ParamSpec("imu_orientation_variance", 0.01, "Default orientation variance (rad^2).", 1e-12, 1e6),
        ParamSpec("imu_angular_velocity_variance", 1e-4, "Default angular velocity variance "
                  "((rad/s)^2).", 1e-12, 1e6),
        ParamSpec("imu_linear_acceleration_variance", 0.01, "Default acceleration variance "
                  "((m/s^2)^2).", 1e-12, 1e6),
        ParamSpec("datum", [], "[latitude deg, longitude deg, altitude m] of the ENU origin; "
                  "empty: the first good fix.", check=_datum, read_only=True,
                  ptype=Parameter.Type.DOUBLE_ARRAY),
        ParamSpec("gps_min_status", 0, "Lowest NavSatStatus accepted (-1 no fix, 0 fix, 1 SBAS, "
                  "2 GBAS).", -1, 2),
        ParamSpec("gps_default_variance", [1.0, 1.0, 4.0], "E, N, U variances (m^2) used when "
                  "the fix has no covariance.", 1e-6, 1e6, check=length(3)),
        ParamSpec("gps_max_variance", 1e4, "Fixes with a larger horizontal variance (m^2) are "
                  "dropped.", 1e-3, 1e12),
        ParamSpec("course_over_ground", True, "Publish the GPS course as yaw once moving.",
                  read_only=True),
        ParamSpec("cog_min_speed", 1.0, "Speed (m/s) above which the course is used.", 0.0, 100.0),
        ParamSpec("cog_min_distance", 2.0, "Baseline (m) for the course.", 0.1, 1000.0),
        ParamSpec("cog_window", 2.0, "Longest baseline duration (s) for the course.", 0.1, 60.0),
        ParamSpec("cog_max_yaw_rate", 0.05, "The course is a chord: in a turn it lags the heading by "
                  "about yaw_rate * window / 2, so it is only given while |IMU yaw rate| (rad/s) "
                  "stays below this.", 0.0, 10.0),
        ParamSpec("unknown_variance", 1e6, "Variance published for pose fields the GPS does "
                  "not measure.", 1.0, 1e12),
        *input_limit_specs(),
    ]
