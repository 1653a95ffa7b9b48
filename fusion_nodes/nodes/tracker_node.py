# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""tracker_node: radar clusters, camera detections and / or early-fused objects -> object tracks.

Each configured input becomes world-frame measurements (ego pose from
``odometry/filtered`` at the detection stamp), waits ``processing_delay`` s
so that frames of all inputs are applied in stamp order, and updates the
tracker (:mod:`fusion_nodes.core.tracking`). After each frame the confirmed
tracks go out as ``fusion_msgs/TrackedObjectArray`` (and as vision_msgs/Detection3DArray and a
MarkerArray);
/diagnostics has one status per input (rate, drops by reason) and one for
the tracker (tracks tentative / confirmed / deleted, association counts,
NIS per input).
"""
from __future__ import annotations

import sys
from collections import defaultdict

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from fusion_msgs.msg import TrackedObjectArray
from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, PointCloud2
from std_msgs.msg import Header
from vision_msgs.msg import Detection3DArray, LabelInfo
from visualization_msgs.msg import MarkerArray

from fusion_nodes.core import track_models as tm
from fusion_nodes.core.timeline import FrameQueue, PoseHistory
from fusion_nodes.core.track_filters import TRACK_FILTERS
from fusion_nodes.core.track_classes import ClassBelief, ClassCompatibility, ClassDopplerSpread, ClassFootprints
from fusion_nodes.core.track_components import (Deleter, ExistenceConfirmation, MahalanobisGate, MOfN,
                                               NearestNeighbour)
from fusion_nodes.core.track_jpda import JointProbabilistic
from fusion_nodes.core.track_merging import DuplicateRemover
from fusion_nodes.core.tracking import Tracker
from fusion_nodes.core.validation import InvalidInput, StampOrder, check_future, check_stamp
from fusion_nodes.ros import diagnostics as diag
from fusion_nodes.ros import tracks as conv
from fusion_nodes.ros.clock_jumps import ClockJumps
from fusion_nodes.ros.convert import odometry_to_ego, sec_to_stamp, stamp_to_sec
from fusion_nodes.ros.objects import has_audience, label_info
from fusion_nodes.ros.params import declare
from fusion_nodes.ros.qos import latched_qos, output_qos, sensor_qos
from fusion_nodes.ros.runner import run_node
from fusion_nodes.ros.tracker_params import cross_checks, specs

INPUTS = ("radar", "camera", "fused")


def make_tracker(p: dict) -> Tracker:
    """The tracker the parameters describe."""
    motion = tm.ConstantVelocity(p["process_noise"]) if p["motion_model"] == "constant_velocity" \
        else tm.ConstantTurnRate(p["process_noise"], p["yaw_noise"])
    belief = ClassBelief(len(p["classes"]), p["class_rule"], p["class_half_life"]) if p["classes"] else None
    w, min_ratio = p["class_association_weight"], p["class_association_min_ratio"]
    compatibility = ClassCompatibility(w, min_ratio) if belief is not None and (w > 0 or min_ratio > 0) else None
    associator = JointProbabilistic(p["gate_probability"]) if p["association"] == "jpda" else NearestNeighbour()
    return Tracker(TRACK_FILTERS[p["filter"]](motion), gate=MahalanobisGate(p["gate_probability"]),
                   associator=associator,
                   initiator=MOfN(p["confirm_hits"], p["confirm_window"]) if p["confirmation"] == "m_of_n"
                   else ExistenceConfirmation(p["confirm_existence"], n=p["confirm_window"]),
                   deleter=Deleter(p["max_coast"], p["max_position_std"], p["delete_existence"]), belief=belief,
                   merger=DuplicateRemover(p["merge_probability"], enabled=p["merge_probability"] > 0),
                   compatibility=compatibility,
                   footprints=ClassFootprints(p["class_footprints"]) if belief is not None else None,
                   spreads=ClassDopplerSpread(p["class_doppler_spread"])
                   if belief is not None and any(p["class_doppler_spread"]) else None)


class TrackerNode(Node):
    def __init__(self, **kwargs):
        super().__init__("tracker_node", **kwargs)
        self.p = declare(self, specs(), cross=cross_checks())
        self.classes = list(self.p.classes)
        self.tracker = make_tracker(self.p)
        self.queue = FrameQueue(self.p.processing_delay)
        self.poses = PoseHistory()
        self.order = StampOrder()
        # with camera_info_topic the geometry comes from the camera's CameraInfo (binning, ROI); until then none
        self.camera = None if self.p.camera_info_topic else \
            conv.CameraGeometry.from_params(self.p.camera_mount, self.p.camera_intrinsics)
        self.radar_mount = conv.Mounting.from_mount(self.p.radar_mount)
        self.monitors = {n: diag.InputMonitor() for n in (*INPUTS, "odometry")
                         + (("camera_info",) if self.p.camera_info_topic else ())}
        self.empty_since: dict[str, float | None] = {}          # input -> stamp its run of empty frames began
        self.last_stamp: dict[str, float] = {}
        self.stats = defaultdict(float)
        self.nis = defaultdict(list)
        self.pub = self.create_publisher(TrackedObjectArray, self.p.output_topic, output_qos())
        self.marker_pub = self.create_publisher(MarkerArray, self.p.markers_topic, 10) \
            if self.p.markers_topic else None
        self.vision_pub = self.create_publisher(Detection3DArray, self.p.vision_topic, 10) \
            if self.p.vision_topic else None
        if self.vision_pub is not None and self.classes:
            # latched (vision_msgs' advice): a tool that joins later still learns what the class ids mean
            self.create_publisher(LabelInfo, f"{self.p.vision_topic}/label_info", latched_qos()).publish(
                label_info(Header(frame_id=self.p.base_link_frame), self.classes))
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        for name in INPUTS:
            if self.p[f"{name}_topic"]:
                self.create_subscription(PointCloud2, self.p[f"{name}_topic"],
                                         lambda msg, info, n=name: self._on_frame(n, msg, info), sensor_qos(10))
        if self.p.odometry_topic:
            self.create_subscription(Odometry, self.p.odometry_topic, self._on_odom, sensor_qos(20))
        if self.p.camera_info_topic:
            self.create_subscription(CameraInfo, self.p.camera_info_topic, self._on_camera_info, sensor_qos(5))
        self.clock_jumps = ClockJumps(self, self._reset)
        self.create_timer(1.0, self._publish_diagnostics)
        if self.p.publish_rate > 0:
            self.create_timer(1.0 / self.p.publish_rate, self._publish_now)

    def _reset(self, why: str) -> None:
        """A bag loop or clock jump: every track, queued frame and pose is from another time."""
        self.tracker.reset()
        self.queue.clear()
        self.poses.clear()
        self.order.reset()
        self.empty_since.clear()
        self.last_stamp.clear()
        for m in self.monitors.values():
            m.restart()

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _checked_stamp(self, stream: str, header, ordered: bool = True) -> float:
        stamp = stamp_to_sec(header.stamp)
        check_stamp(stamp)
        check_future(stamp, self._now(), self.p.max_future)
        if ordered:
            self.order.check(stream, stamp)
        return stamp

    def _on_odom(self, msg: Odometry, info) -> None:
        mon = self.monitors["odometry"]
        mon.tick(self._now())
        mon.delivery.note(info)
        try:
            stamp = self._checked_stamp("odometry", msg.header)
            x, y, yaw, velocity = odometry_to_ego(msg)
        except InvalidInput as exc:
            self._drop("odometry", exc)
            return
        self.order.accept("odometry", stamp)
        self.world_frame = msg.header.frame_id or "odom"
        # with its velocity, so frames newer than the newest pose are placed where the robot has moved to
        self.poses.add(stamp, x, y, yaw, velocity)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        """The camera's geometry from its CameraInfo; an impossible one is dropped and counted, the last good
        one kept (a driver publishes the same CameraInfo with every image). Its stamp is not checked: the
        geometry holds until the next, and a static publisher's zero stamp is legitimate.
        """
        self.monitors["camera_info"].tick(self._now())
        try:
            self.camera = conv.CameraGeometry.from_camera_info(self.p.camera_mount, msg)
        except InvalidInput as exc:
            self._drop("camera_info", exc)

    def _ego(self, stamp: float):
        if not self.p.odometry_topic:
            return (0.0, 0.0, 0.0)
        ego = self.poses.at(stamp, self.p.pose_tolerance)
        if ego is None:
            raise InvalidInput("no_ego_pose", f"no odometry pose around {stamp:.3f} s")
        return ego

    def _on_frame(self, name: str, msg: PointCloud2, info) -> None:
        mon = self.monitors[name]
        mon.tick(self._now())
        mon.delivery.note(info)
        try:
            # the fused input's order is checked once its frame is known to hold a position (below)
            stamp = self._checked_stamp(name, msg.header, ordered=name != "fused")
            ego = self._ego(stamp)
            if name == "radar":
                frame = conv.radar_frame(msg, stamp, ego, self.p, self.radar_mount, self.classes)
            elif name == "camera":
                if self.camera is None:
                    raise InvalidInput("no_camera_info", "no valid CameraInfo received yet")
                frame = conv.camera_frame(msg, stamp, ego, self.p, self.camera, self.classes)
            else:
                frame = conv.fused_frame(msg, stamp, ego, self.p, self.classes)
                if not len(frame):
                    # early_fusion_node releases a partial set (camera or IMU only: no position) up to its
                    # max_wait late, after newer full sets: nothing to apply, and no stamp out of order
                    self.stats["fused_unlocated"] += 1
                    self.empty_since[name] = self.empty_since.get(name) or stamp
                    self.last_stamp[name] = max(self.last_stamp.get(name, stamp), stamp)
                    return
                self.order.check(name, stamp)
            if not self.queue.push(frame):
                raise InvalidInput("late", f"{stamp:.3f} s is older than frames already applied "
                                           f"(processing_delay {self.p.processing_delay} s)")
        except InvalidInput as exc:
            self._drop(name, exc)
            return
        self.order.accept(name, stamp)
        # a run of frames with no detection at all: the sensor may be blind (see Tracker.step)
        self.empty_since[name] = (self.empty_since.get(name) or stamp) if len(frame) == 0 else None
        self.last_stamp[name] = stamp
        self._apply(self.queue.pop_ready(stamp))

    def _apply(self, frames) -> None:
        for frame in frames:
            report = self.tracker.step(frame)
            self.stats["frames"] += 1
            self.stats["assigned"] += report.assigned
            self.stats["started"] += report.started
            self.stats["confirmed"] += report.confirmed
            self.stats["deleted"] += report.deleted
            if frame.occlusion_gap is not None:
                self.stats[f"{frame.sensor}_occluded"] += report.occluded
            if frame.update_interval > 0:
                self.stats[f"{frame.sensor}_held"] += report.held
            self.nis[frame.sensor] += report.nis
        if frames and self.p.publish_rate == 0:
            self._publish(frames[-1].stamp)

    def _publish_now(self) -> None:
        """publish_rate's timer: the tracks predicted to the node clock's now; none once every input has been
        silent for max_coast (the tracker deletes tracks only when a frame comes).
        """
        now = self._now()
        fresh = now - self.tracker.stamp <= self.p.max_coast
        self._publish(now, self.tracker.tracks(at=now, min_existence=self.p.publish_existence) if fresh else [])

    def _publish(self, stamp: float, tracks=None) -> None:
        if tracks is None:
            tracks = self.tracker.tracks(min_existence=self.p.publish_existence)
        frame_id = getattr(self, "world_frame", None) if self.p.odometry_topic else self.p.base_link_frame
        header = Header(stamp=sec_to_stamp(stamp), frame_id=frame_id or "odom")
        self.pub.publish(conv.tracked_objects(header, tracks, self.classes))
        if self.marker_pub is not None and has_audience(self.marker_pub):
            self.marker_pub.publish(conv.markers(header, tracks, self.classes, self.get_name()))
        if self.vision_pub is not None and has_audience(self.vision_pub):
            self.vision_pub.publish(conv.detections(header, tracks, self.classes))

    def _drop(self, name: str, exc: InvalidInput) -> None:
        self.monitors[name].drop(exc.reason)
        self.get_logger().warn(f"{name} dropped: {exc}", throttle_duration_sec=5.0)

    def _publish_diagnostics(self) -> None:
        now = self.get_clock().now()
        t = now.nanoseconds * 1e-9
        statuses = []
        for name in (*INPUTS, "odometry", "camera_info"):
            topic = self.p[f"{name}_topic"]
            if topic:
                statuses.append(self._input_status(name, topic, t))
        counts = self.tracker.counts()
        values = {"tracks_tentative": counts["tentative"], "tracks_confirmed": counts["confirmed"],
                  **{f"{k}_total": int(v) for k, v in sorted(self.stats.items())},
                  **{f"nis_per_dof.{k}": float(np.mean(v)) for k, v in sorted(self.nis.items()) if v},
                  "queued_frames": len(self.queue), "clock_jumps_back": self.clock_jumps.jumps_back}
        high = [k for k, v in self.nis.items() if v and np.mean(v) > 3.0]
        level, text = (diag.WARN, f"NIS per dof above 3 for {', '.join(sorted(high))}: noise too low or "
                       "the sensor lies") if high else (diag.OK, "ok")
        statuses.append(diag.status(f"{self.get_name()}: tracks", self.p.output_topic, level, text, values))
        self.nis.clear()
        self.diag_pub.publish(diag.array(now.to_msg(), statuses))


    BLIND_AFTER = 1.0       # s of frames with no detection at all before an input is reported blind

    def _input_status(self, name: str, topic: str, t: float):
        st = diag.monitor_status(f"{self.get_name()}: {name}", topic, self.monitors[name], t,
                                 stale_after=diag.silence_limit(self.p.max_coast))
        since, last = self.empty_since.get(name), self.last_stamp.get(name)
        if since is not None and last is not None and last - since >= self.BLIND_AFTER and st.level == diag.OK:
            st.level, st.message = diag.WARN, (f"no detections for {last - since:.1f} s: blind, covered or failed? "
                                               "(its misses are not counted against the tracks)")
        return st


def main(args=None) -> int:
    return run_node(TrackerNode, args)


if __name__ == "__main__":
    sys.exit(main())
