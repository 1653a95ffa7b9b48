# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""kalman_fusion_node: EKF/UKF fusion of odometry, IMU, pose and twist inputs.

Subscribes to the inputs named by robot_localization-style parameters
(``odom0``, ``imu0``, ``pose0``, ``twist0`` ...), publishes
``odometry/filtered`` (nav_msgs/Odometry) at ``frequency`` on the node clock
and ``/diagnostics``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseWithCovarianceStamped, TwistWithCovarianceStamped
from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import Imu

from fusion_nodes.core.consistency import MIN_DOF, AdaptiveNoise
from fusion_nodes.core.estimator import LatenessWindow, StateEstimator
from fusion_nodes.core.latency import ReferencedOffset, TimeOffsetConfig
from fusion_nodes.core.measurement_models import StateSelection
from fusion_nodes.core.records import Measurement
from fusion_nodes.core.sensors import ImuModel, OdometryModel
from fusion_nodes.core.state import YAW
from fusion_nodes.core.validation import InvalidInput, check_future, check_stamp
from fusion_nodes.ros import diagnostics as diag
from fusion_nodes.ros.clock_jumps import ClockJumps
from fusion_nodes.ros.convert import (imu_to_sample, pose_to_sample, state_to_odometry,
                                      stamp_to_sec, twist_to_sample)
from fusion_nodes.ros.draining import subscribe_draining
from fusion_nodes.ros.kalman_params import (discover_sensors, estimator_config, global_specs,
                                            offset_estimation_check, sensor_config, sensor_specs)
from fusion_nodes.ros.params import InvalidParameters, declare, input_limits
from fusion_nodes.ros.runner import run_node
from fusion_nodes.ros.qos import output_qos, sensor_qos
from fusion_nodes.ros.tf import EstimateBroadcaster, TransformCache

MSG_TYPES = {"odom": Odometry, "imu": Imu, "pose": PoseWithCovarianceStamped,
             "twist": TwistWithCovarianceStamped}


@dataclass
class _Input:
    name: str
    kind: str
    model: object
    monitor: diag.InputMonitor
    mount_from_tf: bool = False       # no <name>_mount given: the mount comes from /tf_static
    mount_frame: str | None = None    # the frame the current mount was looked up for
    gate: diag.RejectionWindow = field(default_factory=diag.RejectionWindow)   # ERROR when mostly rejected
    recent_drops: diag.RecentCount = field(default_factory=diag.RecentCount)   # WARN while dropping
    adaptive: AdaptiveNoise | None = None  # <name>_adaptive_noise: the covariance scale from the innovations
    offset: ReferencedOffset | None = None  # <name>_estimate_time_offset: the time offset from the data
    double_mount_warned: bool = False       # an IMU already in base_link that <name>_mount rotates again
    # messages used with the sensor taken to be at base_link (no transform yet): used, so not a drop; the
    # drops of this node are counted in one place, the estimator's SensorStats (the core rejects too)
    mount_assumed_identity: int = 0


def _model(kind: str, cfg):
    """The core sensor model of an input kind."""
    return ImuModel(cfg) if kind == "imu" else OdometryModel(cfg)


class KalmanFusionNode(Node):
    """Thin wrapper: parameters -> core estimator; messages -> measurements."""

    def __init__(self, **kwargs):
        super().__init__("kalman_fusion_node", **kwargs)
        self.warnings = diag.ThrottledWarnings(self.get_logger())
        self.p = declare(self, global_specs(), self._on_change)
        self.sensor_names = discover_sensors(self._parameter_overrides)
        for name in self.sensor_names:
            self.p = declare(self, sensor_specs(name), self._on_change, into=self.p,
                             cross=[offset_estimation_check(name)])
        self.world_frame = self.p.world_frame or self.p.odom_frame
        self.limits = input_limits(self.p)
        heading_unknown = self._heading_unknown()
        self.estimator = StateEstimator(estimator_config(self.p, heading_unknown))
        self.offsets = self._offset_estimators(heading_unknown)
        if heading_unknown:
            self.get_logger().info("no input measures yaw and initial_estimate_covariance is not set: the heading "
                                   "starts unknown (yaw variance pi^2) until the robot moves")
        self._warm_up()
        self.tf_cache = TransformCache(self, dynamic=self.world_frame == self.p.map_frame)
        self._tf_drops_seen = 0      # TF drops already reported in /diagnostics
        self.inputs = {n: self._subscribe(n) for n in self.sensor_names}
        self.pub = self.create_publisher(Odometry, "odometry/filtered", output_qos())
        self.tf = EstimateBroadcaster(self, self.tf_cache, self.world_frame, self.p.base_link_frame,
                                      self.p.odom_frame, self.p.map_frame) if self.p.publish_tf else None
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", output_qos())
        self.clock_jumps = ClockJumps(self, lambda why: self._reset(why, log=False),
                                      self.p.reset_on_time_jump)
        self._last_receipt = float("-inf")
        self.lateness = LatenessWindow()
        self.cpu = diag.CpuLoad()
        self.resets = 0
        self.published = 0
        self.create_timer(1.0 / self.p.frequency, self._tick)
        if self.p.print_diagnostics:
            self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(f"{self.p.filter_type} fusing {self.sensor_names or 'nothing'} "
                               f"at {self.p.frequency} Hz in {self.world_frame}")

    # -- setup --------------------------------------------------------------
    def _subscribe(self, name: str) -> _Input:
        kind = name.rstrip("0123456789")
        low, high = self.p[f"{name}_adaptive_noise_bounds"]
        inp = _Input(name, kind, _model(kind, sensor_config(self.p, name)), diag.InputMonitor(),
                     mount_from_tf=f"{name}_mount" not in self._parameter_overrides,
                     adaptive=AdaptiveNoise(low, high) if self.p[f"{name}_adaptive_noise"] else None,
                     offset=self.offsets.get(name))
        subscribe_draining(self, MSG_TYPES[kind], self.p[name], lambda msg, info: self._on_message(inp, msg, info),
                           sensor_qos(self.p[f"{name}_queue_size"]))
        return inp

    def _offset_estimators(self, heading_unknown: bool) -> dict[str, ReferencedOffset]:
        """``<name>_estimate_time_offset``: a reference estimator (every other input) and a lag estimator each."""
        names = [n for n in self.sensor_names if self.p[f"{n}_estimate_time_offset"]]
        if names and len(self.sensor_names) < 2:
            raise InvalidParameters(f"{names[0]}_estimate_time_offset needs another input to compare with "
                                    "(wheel odometry, an IMU): there is none")
        return {n: ReferencedOffset(n, estimator_config(self.p, heading_unknown), TimeOffsetConfig(
            prior_offset=self.p[f"{n}_time_offset"], bounds=tuple(self.p[f"{n}_time_offset_bounds"]),
            position_noise=self.p[f"{n}_time_offset_reference_noise"][0],
            heading_noise=self.p[f"{n}_time_offset_reference_noise"][1])) for n in names}

    def _heading_unknown(self) -> bool:
        """Whether the start heading is unknown.

        An estimate in the map frame, no absolute yaw among the inputs (an IMU orientation, an odometry / pose
        yaw not taken as differences) and no initial covariance from the user: asserting yaw = 0 with
        P = 1e-9 would be a lie. (In the odom frame the start heading is 0 by definition, REP-105.)
        """
        if "initial_estimate_covariance" in self._parameter_overrides or \
                (self.p.world_frame or self.p.odom_frame) != self.p.map_frame:
            return False
        for name in self.sensor_names:
            measures_yaw = bool(self.p[f"{name}_config"][5]) and not self.p.get(f"{name}_differential", False)
            if measures_yaw and not name.startswith("twist"):
                return False
        return True

    def _warm_up(self) -> None:
        """Run one throwaway update so the first real message does not pay for
        lazy imports and first-call set-up (long enough to overflow a sensor queue).
        """
        est = StateEstimator(estimator_config(self.p))
        est.add([Measurement("warm_up", 1.0, np.zeros(3), np.eye(3), StateSelection([0, 5, 6]))])
        est.process()
        est.estimate_at(1.1)
        state_to_odometry(*est.estimate_at(1.1), self.get_clock().now().to_msg(), "", "")

    def _on_change(self, changed: dict) -> None:
        merged = {**self.p, **changed}
        if "process_noise_covariance" in changed:
            self.estimator.set_process_noise(estimator_config(merged).process_noise)
        for inp in getattr(self, "inputs", {}).values():
            new = self._sensor_config(inp, merged)
            inp.model.cfg = replace(inp.model.cfg, pose_threshold=new.pose_threshold,
                                    twist_threshold=new.twist_threshold,
                                    accel_threshold=new.accel_threshold,
                                    covariance_scale=new.covariance_scale,
                                    covariance_override=new.covariance_override)

    def _sensor_config(self, inp: _Input, p: dict | None = None):
        """The input's core config: its parameters, the covariance scale times the adapted one."""
        cfg = sensor_config(p or self.p, inp.name)
        if inp.offset is not None:
            cfg = replace(cfg, time_offset=inp.offset.lag.offset)
        return cfg if inp.adaptive is None else replace(cfg, covariance_scale=cfg.covariance_scale
                                                        * inp.adaptive.scale)

    def _adapt(self) -> None:
        """Revise each adaptive input's covariance scale once per full window of its updates."""
        now = self.estimator.time
        for inp in self.inputs.values():
            if inp.adaptive is not None and now is not None and \
                    inp.adaptive.revise(self.estimator.stats[inp.name].recent_nis, now):
                inp.model.cfg = replace(inp.model.cfg, covariance_scale=self._sensor_config(inp).covariance_scale)

    def _estimate_offsets(self, until: float | None) -> None:
        """Advance each time-offset estimate and apply it to its input's later messages."""
        x, P = self.estimator.filter.x, self.estimator.filter.P
        for inp in self.inputs.values():
            if inp.offset is not None:
                inp.offset.process(until, float(x[YAW]), float(P[YAW, YAW]))
                if inp.model.cfg.time_offset != inp.offset.lag.offset:
                    inp.model.cfg = replace(inp.model.cfg, time_offset=inp.offset.lag.offset)

    # -- callbacks ------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_message(self, inp: _Input, msg, info=None) -> None:
        self._last_receipt = self._now()
        inp.monitor.tick(self._last_receipt)
        inp.monitor.delivery.note(info)
        try:
            stamp = stamp_to_sec(msg.header.stamp)
            check_stamp(stamp)
            check_future(stamp, self._last_receipt, self.p.max_future)
            if inp.mount_from_tf:
                self._mount_from_tf(inp, msg)
            elif inp.kind == "imu" and not inp.double_mount_warned:
                self._check_double_mount(inp, msg)
            measurements = self._measurements(inp, msg, stamp)
        except InvalidInput as exc:
            self.estimator.count_drop(inp.name, exc.reason)
            self._warn(inp.name, str(exc))
            return
        reason = self.estimator.add(measurements)
        if reason:
            self._warn(inp.name, f"{reason}: message stamped {stamp:.3f} dropped")
        elif measurements:
            self.lateness.note(self._last_receipt, measurements[0].stamp)
            for offset in self.offsets.values():
                offset.add(measurements, stamp)

    def _check_double_mount(self, inp: _Input, msg) -> None:
        """Warn once when an IMU message is already in base_link and ``<name>_mount`` rotates it again.

        imu_gps_node owns IMU mounting: its output (``imu/checked``) is in base_link, marked by its frame_id.
        """
        base = self.p.base_link_frame
        if msg.header.frame_id.lstrip("/") == base and not inp.model.cfg.mount.is_identity:
            inp.double_mount_warned = True
            self.get_logger().warn(
                f"{inp.name}: the IMU is already in {base} (frame_id {base}, e.g. imu_gps_node's imu/checked) "
                f"and {inp.name}_mount rotates it again: set {inp.name}_mount to zeros, or mount it in one node")

    def _mount_from_tf(self, inp: _Input, msg) -> None:
        """Mount the sensor by base_link <- its frame from /tf_static (robot_localization's way).

        Odometry twists are in ``child_frame_id``, everything else in the
        header's frame. Until the transform is known the sensor is taken to be
        at base_link (counted as ``mount_assumed_identity``, warned).
        """
        frame = (msg.child_frame_id if inp.kind == "odom" else msg.header.frame_id).lstrip("/")
        base = self.p.base_link_frame
        if not frame or frame == base or frame == inp.mount_frame:
            return
        mount = self.tf_cache.mount(base, frame)
        if mount is None:
            inp.mount_assumed_identity += 1
            self._warn(inp.name, f"no transform {base} <- {frame} on /tf_static yet: taking the sensor "
                                 f"to be at {base} (publish the static transform or set {inp.name}_mount)")
            return
        inp.model = _model(inp.kind, replace(self._sensor_config(inp), mount=mount))
        inp.mount_frame = frame
        self.get_logger().info(f"{inp.name}: mounted from /tf_static {base} -> {frame}: "
                               f"{[round(float(v), 4) for v in (*mount.translation, *mount.rpy)]}")

    def _measurements(self, inp: _Input, msg, stamp: float):
        lim = self.limits
        if inp.kind == "imu":
            return inp.model.measurements(imu_to_sample(msg, lim))
        if inp.kind == "odom":
            pose = pose_to_sample(stamp, msg.pose, lim) if inp.model.pose_idx else None
            twist = twist_to_sample(stamp, msg.twist, lim) if inp.model.twist_idx else None
            return inp.model.measurements(pose, twist)
        if inp.kind == "pose":
            return inp.model.measurements(pose_to_sample(stamp, msg.pose, lim), None)
        return inp.model.measurements(None, twist_to_sample(stamp, msg.twist, lim))

    def _warn(self, name: str, text: str) -> None:
        self.warnings.warn(name, text)

    def _tick(self) -> None:
        now = self._now()
        if now <= 0.0:
            return  # use_sim_time and no /clock yet
        delay = self.processing_delay(now)
        self.estimator.process(now - delay if delay > 0 else None)
        self._adapt()
        self._estimate_offsets(now - delay if delay > 0 else None)
        timeout = self.p.sensor_timeout or 1.0 / self.p.frequency
        if now - self._last_receipt > timeout:
            self.estimator.advance(now)
        if not self.estimator.initialized:
            return
        x, P = self.estimator.estimate_at(now)
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(P))):
            self._reset("estimate became non-finite")
            return
        stamp = self.get_clock().now().to_msg()
        self.pub.publish(state_to_odometry(x, P, stamp, self.world_frame, self.p.base_link_frame))
        self.published += 1
        if self.tf is not None:
            why = self.tf.send(stamp, x)
            if why:
                self._warn("tf", why)

    def processing_delay(self, now: float) -> float:
        """``processing_delay``, or with ``auto_processing_delay`` the inputs' recent lateness within the bounds."""
        delay = self.p.processing_delay
        if self.p.auto_processing_delay:
            delay = max(delay, min(self.p.max_processing_delay, self.lateness.current(now)))
        return delay

    def _reset(self, why: str, log: bool = True) -> None:
        if log:
            self.get_logger().warn(f"resetting filter: {why}")
        self.resets += 1
        self.estimator.reset()
        self.lateness.reset()
        self._last_receipt = float("-inf")
        for inp in self.inputs.values():
            inp.monitor.restart()
            if inp.adaptive is not None:
                inp.adaptive.restart()
            if inp.offset is not None:
                inp.offset.restart()
            if hasattr(inp.model, "reset"):
                inp.model.reset()

    def _publish_diagnostics(self) -> None:
        now = self._now()
        statuses = [self._input_status(inp, now) for inp in self.inputs.values()]
        est = self.estimator
        load = self.cpu.sample(now)
        level, text = (diag.OK, "running") if est.initialized else (diag.WARN, "waiting for the first measurement")
        if load > 0.9:
            level, text = diag.WARN, (f"using {load:.0%} of a core: the node cannot keep up with its inputs "
                                      "and DDS is dropping messages (see each input's skipped); lower the "
                                      "input rates or the output frequency")
        statuses.append(diag.status(
            f"{self.get_name()}: filter", self.world_frame, level, text,
            {"filter_type": self.p.filter_type, "filter_time": est.time or 0.0,
             "resets": self.resets, "clock_jumps_back": self.clock_jumps.jumps_back,
             "published": self.published, "cpu_load": round(load, 3), "history_replays": est.replays,
             "processing_delay_s": round(self.processing_delay(now), 4)}))
        statuses.append(self._tf_status())
        self.diag_pub.publish(diag.array(self.get_clock().now().to_msg(), statuses))

    def _tf_status(self):
        """The transforms read (mounts from /tf_static; odom -> base_link from /tf for map -> odom): WARN while
        new ones are being dropped.
        """
        tf, total = self.tf_cache, sum(self.tf_cache.dropped.values())
        fresh, self._tf_drops_seen = total - self._tf_drops_seen, total
        level, text = (diag.WARN, f"{fresh} transforms dropped (see the log)") if fresh else (diag.OK, "ok")
        return diag.status(f"{self.get_name()}: tf", "/tf_static /tf" if self.world_frame == self.p.map_frame
                           else "/tf_static", level, text,
                           {"edges": len(tf.edges), **{f"dropped.{k}": v for k, v in sorted(tf.dropped.items())}})

    def _input_status(self, inp: _Input, now: float):
        st = self.estimator.stats[inp.name]
        nis, nis_dof, nis_lo, nis_hi = st.recent_nis.summary()
        stale = inp.monitor.staleness(now)
        timeout = diag.silence_limit(self.p.sensor_timeout)
        dropped = dict(st.dropped)
        rejected_share = inp.gate.update(st.accepted, st.rejected)
        recent = inp.recent_drops.update(now, sum(dropped.values()) + inp.monitor.delivery.skipped)
        if inp.gate.alarm:
            level = diag.ERROR
            text = (f"{rejected_share:.0%} of its measurements rejected by the Mahalanobis gate over "
                    f"{inp.gate.window} s: it disagrees with the other inputs. Likely causes: a heading that is not "
                    "ENU (magnetic IMU yaw: set magnetic_declination_radians / yaw_offset in imu_gps_node), "
                    "a wrong frame or mount, or covariances far too small")
            self.get_logger().error(f"{inp.name} ({self.p[inp.name]}): {text}", throttle_duration_sec=10.0)
        elif not inp.monitor.received:
            level, text = diag.STALE, "no messages received"
        elif stale > timeout:
            level, text = diag.WARN, f"silent for {stale:.1f} s: predicting without it"
        elif recent:
            level, text = diag.WARN, (f"{recent} messages dropped, rejected or skipped in the last "
                                      f"{inp.recent_drops.window:g} s ({sum(dropped.values())} dropped, "
                                      f"{inp.monitor.delivery.skipped} skipped in all)")
        elif nis_dof >= MIN_DOF and not nis_lo <= nis <= nis_hi:
            level, text = diag.WARN, _nis_text(inp.name, nis, nis_dof, nis_lo, nis_hi, self.p.nis_window)
        else:
            level, text = diag.OK, "ok"
        values = {"topic": self.p[inp.name], "rate_hz": inp.monitor.rate(now), "staleness_s": stale,
                  "received": inp.monitor.received, **inp.monitor.delivery.report(), "accepted": st.accepted,
                  "rejected": st.rejected,
                  "covariances_repaired": inp.model.repairs,
                  "last_nis": st.last_nis,
                  "mean_nis_per_dof": st.nis_sum / st.nis_dof_sum if st.nis_dof_sum else float("nan"),
                  "window_nis_per_dof": nis, "window_dof": nis_dof, "window_nis_band": f"{nis_lo:.3g}-{nis_hi:.3g}"}
        if inp.adaptive is not None:
            values.update(adaptive_scale=inp.adaptive.scale, adaptive_revisions=inp.adaptive.revisions)
        if inp.offset is not None:
            values.update(inp.offset.lag.summary())
            if level == diag.OK:
                text = _offset_text(inp.offset.lag)
        values["rejected_share_window"] = rejected_share
        values["mount"] = ("parameter" if not inp.mount_from_tf else
                           f"/tf_static {inp.mount_frame}" if inp.mount_frame else self.p.base_link_frame)
        values["mount_assumed_identity"] = inp.mount_assumed_identity
        values.update({f"dropped.{k}": v for k, v in sorted(dropped.items())})
        return diag.status(f"{self.get_name()}: {inp.name}", self.p[inp.name], level, text, values)


def _offset_text(lag) -> str:
    if lag.observed:
        return f"ok; time offset estimated {lag.offset:+.3f} +- {lag.sigma:.3f} s"
    return (f"ok; time offset {lag.offset:+.3f} +- {lag.sigma:.3f} s, prior {lag.cfg.prior_offset:+.3f} s: not "
            "observable yet, it needs driving with speed changes or turns (and a known heading)")


def _nis_text(name: str, nis: float, dof: int, lo: float, hi: float, window: float) -> str:
    side = "larger than it declares: covariance too small" if nis > hi else \
        "smaller than it declares: covariance too large"
    return (f"NIS per dof {nis:.2f} over the last {window:g} s, outside the 99 % chi-square band {lo:.2f}-{hi:.2f} "
            f"for {dof} dof: its errors are {side} (or biased: mount, time offset); set "
            f"{name}_covariance_scale or {name}_covariance_override")


def main(args=None) -> int:
    return run_node(KalmanFusionNode, args)


if __name__ == "__main__":
    sys.exit(main())
