# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""late_fusion_node: per-modality decisions -> fused decisions with a confidence.

Subscribes to N decision topics (PointCloud2 with ``score_<class>`` fields or
``class_id``), aligns them with the partial synchronizer (a dead input does
not stop the output), groups each object's decisions across inputs (position,
bearing, track id, or one per scene) and fuses them with the configured rule
(:mod:`fusion_nodes.core.late_fusion`). Rule, weights, priors and quorum can
be changed live; invalid values are rejected with the reason.
"""
from __future__ import annotations

import sys

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header
from vision_msgs.msg import Detection3DArray

from fusion_nodes.core import matching
from fusion_nodes.core.late_fusion import OnlineReliability, gather, load_stacking, make_rule
from fusion_nodes.core.validation import InvalidInput
from fusion_nodes.ros import decisions as dec
from fusion_nodes.ros import diagnostics as diag
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros.clock_jumps import ClockJumps
from fusion_nodes.ros.objects import ObjectOutputs, detections_to_points
from fusion_nodes.ros.cloud_input import CloudInput
from fusion_nodes.ros.late_fusion_params import cross_checks, specs
from fusion_nodes.ros.model_files import resolve
from fusion_nodes.ros.params import InvalidParameters, declare
from fusion_nodes.ros.qos import sensor_qos
from fusion_nodes.ros.runner import run_node
from fusion_nodes.ros.sync import make_synchronizer, sync_counts


class LateFusionNode(Node):
    def __init__(self, **kwargs):
        super().__init__("late_fusion_node", **kwargs)
        self.warnings = diag.ThrottledWarnings(self.get_logger())
        self.p = declare(self, specs(), self._on_change, cross=cross_checks())
        self.names, self.classes = list(self.p.input_names), list(self.p.classes)
        try:
            self.rule = self._make_rule(self.p)
        except ValueError as exc:
            raise InvalidParameters(str(exc)) from None
        self.reliability = OnlineReliability(len(self.names), len(self.classes), self.p.adaptive_rate,
                                             self.p.weight_floor)
        vision = self.p.input_type == "Detection3DArray"
        def screen(points):      # decisions checked on arrival: a useless cloud takes no part in a set
            return dec.screen(points, self.classes, self.p.id_field, self.p.match_by == "id")
        self.inputs = [CloudInput(self, topic, msg_type=Detection3DArray if vision else PointCloud2,
                                  to_points=(lambda m, req: detections_to_points(m, req, self.classes))
                                  if vision else None, max_future=self.p.max_future, screen=screen)
                       for topic in self.p.inputs]
        self.sync = make_synchronizer(self.p.sync_backend, self.inputs, self.p.queue_size,
                                      self.p.slop, self.p.max_wait)
        self.sync.registerCallback(self._on_set)
        self.counts = {"sets": 0, "fused": 0, "abstained": 0}
        self.pub = self.create_publisher(PointCloud2, self.p.output_topic, sensor_qos(10))
        self.objects = ObjectOutputs(self, "3d", self.p.vision_topic, self.p.markers_topic)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.clock_jumps = ClockJumps(self, self._reset)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(f"late fusion ({self.p.rule}) of {self.names}, weights {self.p.weights}")

    # -- parameters ---------------------------------------------------------
    def _make_rule(self, p):
        n = len(p["inputs"])
        if len(p["input_names"]) != n:
            raise ValueError(f"input_names has {len(p['input_names'])} entries for {n} inputs")
        if len(p["weights"]) != n:
            raise ValueError(f"weights has {len(p['weights'])} values for {n} inputs")
        priors = [] if list(p["priors"]) == [0.0] else p["priors"]
        if priors and len(priors) != len(p["classes"]):
            raise ValueError(f"priors has {len(priors)} values for {len(p['classes'])} classes")
        if p["rule"] == "stacking":
            if not p["stacking_model"]:
                raise ValueError("rule stacking needs stacking_model")
            return load_stacking(resolve(p["stacking_model"]), p["classes"], p["input_names"], p["quorum"])
        return make_rule(p["rule"], len(p["classes"]), p["quorum"], priors)

    def _on_change(self, changed: dict) -> None:
        """Validate the combination and swap the rule in; a ValueError rejects the change."""
        self.rule = self._make_rule({**self.p, **changed})
        if "adaptive_rate" in changed or "weight_floor" in changed:
            self.reliability.rate = changed.get("adaptive_rate", self.reliability.rate)
            self.reliability.floor = changed.get("weight_floor", self.reliability.floor)

    def _weights(self) -> np.ndarray:
        w = np.asarray(self.p.weights, float)
        if self.p.adaptive_weights:
            r = self.reliability.weights()
            w = w * r / r.mean()
        return w

    # -- fusion -------------------------------------------------------------
    def _on_set(self, *clouds) -> None:
        self.counts["sets"] += 1
        parsed = [self._parse(i, c) for i, c in enumerate(clouds)]
        groups = matching.group([p[0] if p else None for p in parsed], self.p.match_by,
                                self.p.position_gate, self.p.bearing_gate, self.p.bearing_origin)
        weights = self._weights()
        tables = [p[1] if p else None for p in parsed]
        fused = self.rule.fuse_table(tables, groups, weights)
        if self.p.adaptive_weights:
            self.reliability.update_table(gather(tables, groups, len(self.classes))[1], fused)
        n_abstained = int((fused.labels < 0).sum())
        self.counts["abstained"] += n_abstained
        self.counts["fused"] += len(groups) - n_abstained
        stamp = max((c.header.stamp for c in clouds if c is not None), key=lambda s: (s.sec, s.nanosec))
        # Fused positions are those of the inputs (the first input present names the frame).
        frame = next((c.header.frame_id for c in clouds if c is not None and c.header.frame_id), "base_link")
        header, cols = Header(stamp=stamp, frame_id=frame), self._columns(parsed, groups, fused)
        self.pub.publish(pointcloud.write(PointCloud2(), cols, header))
        self.objects.publish(header, cols)

    def _parse(self, i: int, cloud):
        if cloud is None:
            return None
        try:
            objects, table, bad = dec.parse(cloud.points, self.classes, self.names[i], cloud.stamp,
                                                self.p.id_field, require_ids=self.p.match_by == "id")
        except InvalidInput as exc:
            self.inputs[i].monitor.drop(exc.reason)
            self.warnings.warn(self.names[i], f"dropped: {exc}")
            return None
        if bad:
            self.inputs[i].monitor.dropped["bad_decision"] += bad
            self.get_logger().warn(
                f"{self.names[i]}: {bad} decision(s) dropped: a class_id outside 0..{len(self.classes) - 1} "
                f"(classes {list(self.classes)}) or non-finite scores; is classes the list the input's model was "
                "trained with?", throttle_duration_sec=5.0)
        return objects, table

    def _columns(self, parsed, groups, fused) -> dict:
        """Output columns: each group's position (the first input that has one), bearing and fused decision."""
        n = len(groups)
        xy, bearing = np.full((n, 2), np.nan), np.full(n, np.nan)
        for i, p in enumerate(parsed):
            if p is None:
                continue
            objects = p[0]
            rows = np.array([g.get(i, -1) for g in groups], dtype=int)
            if objects.xy is not None:
                fill = (rows >= 0) & np.isnan(xy[:, 0])
                cand = np.full((n, 2), np.nan)
                cand[fill] = objects.xy[rows[fill]]
                fill &= np.isfinite(cand).all(axis=1)
                xy[fill] = cand[fill]
            if objects.bearing is not None:
                fill = (rows >= 0) & np.isnan(bearing)
                bearing[fill] = objects.bearing[rows[fill]]
        has_xy = np.isfinite(xy[:, 0])
        bearing[has_xy] = np.arctan2(xy[has_xy, 1], xy[has_xy, 0])
        P = fused.probabilities.reshape(n, len(self.classes))
        cols = {"x": xy[:, 0], "y": xy[:, 1], "bearing": bearing,
                "class_id": fused.labels.astype(float), "confidence": fused.confidence.astype(float),
                **{f"score_{c}": P[:, k] for k, c in enumerate(self.classes)},
                "sources": fused.present.sum(axis=1).astype(float)}
        cols.update({f"from_{name}": np.array([float(i in g) for g in groups]) for i, name in enumerate(self.names)})
        return cols

    def _reset(self, why: str) -> None:
        """Empty the synchronizer: its queued messages are stamped after the new clock."""
        self.sync.reset()
        for inp in self.inputs:
            inp.monitor.restart()

    def _publish_diagnostics(self) -> None:
        now = self.get_clock().now()
        t = now.nanoseconds * 1e-9
        statuses = [diag.monitor_status(f"{self.get_name()}: {name}", inp.topic, inp.monitor, t,
                                        self.p.stale_after) for name, inp in zip(self.names, self.inputs)]
        degraded = [s.name.split(": ")[-1] for s in statuses if s.level != diag.OK]
        statuses.append(diag.status(
            f"{self.get_name()}: fusion", self.p.output_topic, diag.WARN if degraded else diag.OK,
            f"degraded inputs: {', '.join(degraded)}" if degraded else f"rule {self.p.rule}",
            {**self.counts, "rule": self.p.rule, "weights": [round(float(v), 4) for v in self._weights()],
             **sync_counts(self.sync), "clock_jumps_back": self.clock_jumps.jumps_back}))
        self.diag_pub.publish(diag.array(now.to_msg(), statuses))


def main(args=None) -> int:
    return run_node(LateFusionNode, args)


if __name__ == "__main__":
    sys.exit(main())
