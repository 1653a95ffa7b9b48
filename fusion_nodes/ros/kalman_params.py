# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""kalman_fusion_node parameters: robot_localization-compatible names.

A robot_localization YAML for odometry, IMU, pose and twist inputs works
with only the node name changed. Additions: ``filter_type``, per-sensor
``<sensor>_mount`` and ``<sensor>_time_offset``, ``history_length`` used
with ``smooth_lagged_data`` (default on here), ``reset_on_time_jump``.
"""
from __future__ import annotations

import math
import re
from typing import Optional

import numpy as np

from fusion_nodes.core.estimator import EstimatorConfig
from fusion_nodes.core.kalman import filter_types
from fusion_nodes.core.sensors import Mount, SensorConfig, planar_mask
from fusion_nodes.core.state import DEFAULT_PROCESS_NOISE, STATE_SIZE

from .params import ParamSpec, covariance_matrix, input_limit_specs, length, one_of

SENSOR_KINDS = ("odom", "imu", "pose", "twist")
_SENSOR_RE = re.compile(r"^(odom|imu|pose|twist)(\d+)$")
INF = float("inf")


def global_specs() -> list[ParamSpec]:
    return [
        ParamSpec("frequency", 30.0, "Output rate of odometry/filtered (Hz), on the node clock.",
                  0.1, 1000.0, read_only=True),
        ParamSpec("sensor_timeout", 0.0, "Seconds without any input message arriving after which "
                  "the filter itself predicts forward (the output is always predicted to now); "
                  "0 means 1/frequency.", 0.0, 3600.0),
        ParamSpec("two_d_mode", False, "Planar robot: hold z, roll, pitch and their rates at 0.",
                  read_only=True),
        ParamSpec("filter_type", "ekf", f"Filter: {' or '.join(filter_types())} (core.kalman.register_filter "
                  "adds more).", check=lambda v: one_of(*filter_types())(v), read_only=True),
        ParamSpec("map_frame", "map", "REP-105 map frame.", read_only=True),
        ParamSpec("odom_frame", "odom", "REP-105 odom frame.", read_only=True),
        ParamSpec("base_link_frame", "base_link", "Robot body frame.", read_only=True),
        ParamSpec("world_frame", "", "Frame of the estimate: map_frame or odom_frame "
                  "(empty: odom_frame).", read_only=True),
        ParamSpec("process_noise_covariance", list(DEFAULT_PROCESS_NOISE),
                  "Process noise density Q per second: 15 diagonal or 225 row-major values.",
                  check=covariance_matrix(STATE_SIZE)),
        ParamSpec("initial_state", [0.0] * STATE_SIZE, "Initial x: 15 values in state order (x y z roll pitch "
                  "yaw vx vy vz vroll vpitch vyaw ax ay az; m, rad, m/s, rad/s, m/s^2), as robot_localization's.",
                  check=_finite_state, read_only=True),
        ParamSpec("initial_estimate_covariance", [1e-9] * STATE_SIZE,
                  "Initial P: 15 diagonal or 225 row-major values. Not set and no input measuring yaw "
                  "(an IMU orientation, a pose): the yaw variance starts at pi^2 (heading unknown) instead "
                  "of 1e-9, so GPS positions and a course over ground set the heading once the robot moves.",
                  check=lambda v: covariance_matrix(STATE_SIZE)(v) or (
                      "all zero: the filter would be certain of its start" if not any(v) else None),
                  read_only=True),
        ParamSpec("smooth_lagged_data", True, "Insert late measurements at their own time "
                  "using the history (else drop them).", read_only=True),
        ParamSpec("history_length", 1.0, "Seconds of filter history kept for late measurements.",
                  0.0, 60.0, read_only=True),
        ParamSpec("processing_delay", 0.0, "Seconds by which fusion holds back the newest "
                  "measurements so that slower or delayed inputs arrive in order instead of "
                  "forcing a rewind of the history; the output is still predicted to now. "
                  "0: fuse everything at once (robot_localization's behaviour).", 0.0, 1.0),
        ParamSpec("auto_processing_delay", False, "Choose the processing delay from the inputs: the "
                  "largest lateness (arrival minus stamp) of any input over the last 5 s, at least "
                  "processing_delay and at most max_processing_delay. Late inputs then cost no "
                  "replay; the output is predicted over the delay, so it carries the newest "
                  "measurements only through the prediction."),
        ParamSpec("max_processing_delay", 0.25, "Upper bound (s) of the automatic processing delay; "
                  "inputs later than this go through the history replay.", 0.0, 1.0),
        ParamSpec("reset_on_time_jump", True, "Reset the filter when the clock jumps back "
                  "(bag loop).", read_only=True),
        ParamSpec("publish_tf", True, "Broadcast world_frame -> base_link_frame on /tf at the output "
                  "rate (world_frame map: map -> odom from the odom -> base_link on /tf), as "
                  "robot_localization.", read_only=True),
        ParamSpec("print_diagnostics", True, "Publish /diagnostics.", read_only=True),
        ParamSpec("nis_window", 10.0, "Seconds of each input's accepted updates whose mean NIS per dof "
                  "/diagnostics reports; outside the 99 % chi-square band for their dof the input is WARN "
                  "(its declared covariance does not match its errors).", 0.1, 3600.0, read_only=True),
        ParamSpec("alpha", 1.0, "UKF sigma point spread.", 1e-4, 10.0, read_only=True),
        ParamSpec("kappa", 0.0, "UKF secondary scaling.", -100.0, 100.0, read_only=True),
        ParamSpec("beta", 2.0, "UKF prior distribution knowledge (2 for Gaussian).", 0.0, 10.0,
                  read_only=True),
        *input_limit_specs(),
        ParamSpec("covariance_floor", 1e-9, "Smallest variance accepted for a fused field; zero "
                  "variances are raised to it (negative ones are rejected).", 1e-15, 1.0, read_only=True),
    ]


def _specific(v) -> str | None:
    return None if v == -1.0 or v >= 0.0 else "must be -1 (use the generic threshold) or >= 0"


def _override(v) -> Optional[str]:
    if len(v) != STATE_SIZE:
        return f"needs {STATE_SIZE} values, got {len(v)}"
    bad = [x for x in v if not (x == -1.0 or (math.isfinite(x) and x > 0.0))]
    return None if not bad else f"each value must be -1 (declared) or a positive finite variance, got {bad[0]}"


def _finite_state(v) -> Optional[str]:
    if len(v) != STATE_SIZE:
        return f"needs {STATE_SIZE} values, got {len(v)}"
    return None if all(math.isfinite(x) for x in v) else "every value must be finite"


def _bounds(v) -> Optional[str]:
    if len(v) != 2:
        return f"needs [floor, ceiling], got {len(v)} values"
    low, high = v
    return None if math.isfinite(low) and math.isfinite(high) and 0.0 < low <= 1.0 <= high else \
        "needs 0 < floor <= 1 <= ceiling, both finite"


def _offset_bounds(v) -> Optional[str]:
    if len(v) != 2:
        return f"needs [low, high], got {len(v)} values"
    return None if all(math.isfinite(x) and abs(x) <= 10.0 for x in v) and v[0] < v[1] else \
        "needs low < high, both finite, within [-10, 10] s"


def _positive_pair(v) -> Optional[str]:
    if len(v) != 2:
        return f"needs 2 values, got {len(v)}"
    return None if all(math.isfinite(x) and 0.0 < x < 1e3 for x in v) else "needs two positive finite values"


def offset_estimation_check(name: str):
    """Cross-parameter check of ``<name>_estimate_time_offset``.

    A position input, the prior within the bounds. (At least one other input must exist: checked by the
    node, which knows them all.)
    """
    def check(p: dict) -> Optional[str]:
        if not p.get(f"{name}_estimate_time_offset"):
            return None
        cfg = p[f"{name}_config"]
        if not (cfg[0] and cfg[1]) or p.get(f"{name}_differential", False) or name.startswith(("imu", "twist")):
            return (f"{name}_estimate_time_offset needs a position input: {name}_config with x and y true and "
                    f"{name}_differential false")
        low, high = p[f"{name}_time_offset_bounds"]
        if not low <= p[f"{name}_time_offset"] <= high:
            return (f"{name}_estimate_time_offset: its prior {name}_time_offset {p[f'{name}_time_offset']} is "
                    f"outside {name}_time_offset_bounds")
        return None
    return check


def sensor_specs(name: str) -> list[ParamSpec]:
    """Parameters of one input, e.g. ``odom0``."""
    kind = _SENSOR_RE.match(name).group(1)
    specs = [
        ParamSpec(name, "", f"Topic of input {name}.", read_only=True),
        ParamSpec(f"{name}_config", [False] * STATE_SIZE, "15 flags: x y z roll pitch yaw vx vy vz "
                  "vroll vpitch vyaw ax ay az fused from this input.", check=length(STATE_SIZE),
                  read_only=True),
        ParamSpec(f"{name}_queue_size", 10, "Subscription depth.", 1, 10000, read_only=True),
        ParamSpec(f"{name}_mount", [0.0] * 6, "Transform base_link -> sensor: x y z (m) roll "
                  "pitch yaw (rad, fixed axes). Not set: taken from /tf_static (base_link -> the "
                  "message's frame_id); set, it wins over TF.", check=length(6), read_only=True),
        ParamSpec(f"{name}_time_offset", 0.0, "Seconds added to header stamps (negative for "
                  "a sensor that stamps late).", -10.0, 10.0, read_only=True),
        ParamSpec(f"{name}_estimate_time_offset", False, "Estimate this input's time offset online (position "
                  "inputs: x and y fused, not differential) against dead reckoning from the other inputs; "
                  "<sensor>_time_offset is the prior. Needs speed changes or turns; standing still it holds "
                  "the prior (see /diagnostics time_offset_*).", read_only=True),
        ParamSpec(f"{name}_time_offset_bounds", [-0.5, 0.5], "[low, high] (s) of the estimated time offset; "
                  "a quarter of the width is the prior's standard deviation (the estimate counts as observed once "
                  "its own is below half of that).", check=_offset_bounds,
                  read_only=True),
        ParamSpec(f"{name}_time_offset_reference_noise", [1e-3, 1e-6], "[position m^2/s, heading rad^2/s]: how "
                  "fast dead reckoning from the other inputs drifts, as random walks (the time-offset estimator's "
                  "trust in it). Raise for wheel slip: a skid-steer robot needs about [1e-2, 1e-5].",
                  check=_positive_pair, read_only=True),
        ParamSpec(f"{name}_covariance_scale", 1.0, "The declared covariance of the fused fields is "
                  "multiplied by this (a sensor that claims too much, or too little, accuracy).", 1e-6, 1e6),
        ParamSpec(f"{name}_covariance_override", [-1.0] * STATE_SIZE, "15 variances in state order "
                  "(x y z roll pitch yaw vx vy vz vroll vpitch vyaw ax ay az; SI units squared) that replace "
                  "the declared ones of the fused fields, with no correlation; -1: the declared value "
                  "(times <sensor>_covariance_scale).", check=_override),
        ParamSpec(f"{name}_adaptive_noise", False, "Scale this input's covariance from its innovations: once "
                  "per nis_window of accepted updates, scale <- scale * (NIS per dof)^0.5, so that the NIS comes to "
                  "1 (gate-rejected updates do not count; a window with under 30 dof changes nothing).",
                  read_only=True),
        ParamSpec(f"{name}_adaptive_noise_bounds", [0.01, 100.0], "Floor and ceiling of the adapted scale "
                  "(times <sensor>_covariance_scale).", check=_bounds, read_only=True),
        ParamSpec(f"{name}_rejection_threshold", INF, "Mahalanobis threshold (sigmas) for every "
                  "part of this input, unless a specific one is set.", 0.0, None),
        ParamSpec(f"{name}_pose_rejection_threshold", -1.0, "Mahalanobis threshold for pose / "
                  "orientation (sigmas; -1: use <sensor>_rejection_threshold).", -1.0, None, check=_specific),
        ParamSpec(f"{name}_twist_rejection_threshold", -1.0, "Mahalanobis threshold for twist / "
                  "angular velocity (sigmas; -1: generic).", -1.0, None, check=_specific),
    ]
    if kind in ("odom", "pose"):
        specs += [ParamSpec(f"{name}_differential", False, "Fuse pose differences as velocity.",
                            read_only=True),
                  ParamSpec(f"{name}_relative", False, "Poses relative to the first one.",
                            read_only=True)]
    if kind == "imu":
        specs += [ParamSpec(f"{name}_linear_acceleration_rejection_threshold", -1.0,
                            "Mahalanobis threshold for acceleration (sigmas; -1: generic).", -1.0, None,
                            check=_specific),
                  ParamSpec(f"{name}_remove_gravitational_acceleration", False,
                            "Subtract gravity from the accelerometer.", read_only=True)]
    return specs


def discover_sensors(overrides) -> list[str]:
    """Input names (``odom0``, ``imu1`` ...) present in the parameter overrides, sorted."""
    names = [k for k in overrides if _SENSOR_RE.match(k)]
    return sorted(names, key=lambda n: (SENSOR_KINDS.index(_SENSOR_RE.match(n).group(1)),
                                        int(_SENSOR_RE.match(n).group(2))))


def _matrix(values) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return np.diag(v) if v.size == STATE_SIZE else v.reshape(STATE_SIZE, STATE_SIZE)


UNKNOWN_YAW_VARIANCE = math.pi ** 2     # rad^2: a heading no input measures and nobody stated


def estimator_config(p: dict, heading_unknown: bool = False) -> EstimatorConfig:
    """The estimator's settings; ``heading_unknown``: no input measures yaw and the user set no initial P,
    so the yaw variance starts at :data:`UNKNOWN_YAW_VARIANCE`.
    """
    frequency = p["frequency"]
    P0 = _matrix(p["initial_estimate_covariance"])
    if heading_unknown:
        P0 = P0.copy()
        P0[5, 5] = UNKNOWN_YAW_VARIANCE
    return EstimatorConfig(filter_type=p["filter_type"], two_d_mode=p["two_d_mode"],
                           process_noise=_matrix(p["process_noise_covariance"]),
                           initial_covariance=P0, initial_state=np.asarray(p["initial_state"], float),
                           smooth_lagged_data=p["smooth_lagged_data"],
                           history_length=p["history_length"],
                           max_step=min(0.05, 1.0 / frequency),
                           ukf_alpha=p["alpha"], ukf_beta=p["beta"], ukf_kappa=p["kappa"],
                           nis_window=p["nis_window"])


def _threshold(p: dict, name: str, part: str) -> float:
    specific = p.get(f"{name}_{part}_rejection_threshold", -1.0)
    return specific if specific >= 0 else p[f"{name}_rejection_threshold"]


def sensor_config(p: dict, name: str) -> SensorConfig:
    """Build the core :class:`SensorConfig` of input ``name`` from parameter values."""
    return SensorConfig(
        name=name,
        mask=planar_mask(p[f"{name}_config"], p["two_d_mode"]),
        mount=Mount.from_list(p[f"{name}_mount"]),
        differential=p.get(f"{name}_differential", False),
        relative=p.get(f"{name}_relative", False),
        pose_threshold=_threshold(p, name, "pose"),
        twist_threshold=_threshold(p, name, "twist"),
        accel_threshold=_threshold(p, name, "linear_acceleration"),
        remove_gravity=p.get(f"{name}_remove_gravitational_acceleration", False),
        time_offset=p[f"{name}_time_offset"],
        covariance_floor=p["covariance_floor"],
        covariance_scale=p[f"{name}_covariance_scale"],
        covariance_override=tuple(float(v) for v in p[f"{name}_covariance_override"])
        if any(v > 0 for v in p[f"{name}_covariance_override"]) else (),
    )


__all__ = ["global_specs", "sensor_specs", "offset_estimation_check", "discover_sensors", "estimator_config",
           "sensor_config"]
