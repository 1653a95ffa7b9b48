# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Tracking metrics of a recorded run: tracks (``fusion_msgs/TrackedObjectArray``) against object truth.

The truth (``/ground_truth/objects`` of ``fusion sim --perception``: x y in
base_link, vx vy in the world frame, object_id) is compared at each of its
stamps with the newest tracks message at or before it, each track moved to
the truth stamp with its own velocity and brought into base_link with the
ego pose the tracker used (``odometry/filtered`` at that stamp, in whatever
world frame the tracker ran). Velocities are compared in base_link axes too:
a track's turned by the tracker's ego heading, the truth's by the true
heading (``/ground_truth/odom``), so an odom frame that started at another
heading than the map costs nothing. Only objects and tracks inside the
evaluated region (where both sensors look) count. Metrics: :class:`fusion_nodes.core.track_metrics.TrackingMetrics`.

``per_frame=True`` scores an object list that has no identity over time
(early_fusion_node's ``PointCloud2`` of objects in base_link) as if it were
tracks: every object of every message is a new track with an unknown
velocity, the baseline a tracker must beat. With ``doppler_origin`` (the
radar's x y in base_link, m) the list is radar_node's clusters and each one's
velocity is what its Doppler alone says: ``v = rr u``, the ego-compensated
radial speed ``doppler_mean`` along the line of sight ``u`` from the radar
(the component across it unknown, taken as 0).
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

import numpy as np

from fusion_nodes.core.timeline import PoseHistory
from fusion_nodes.core.track_metrics import Frame, TrackingMetrics
from fusion_nodes.core.validation import InvalidInput
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros.convert import odometry_to_ego, stamp_to_sec

from . import bagio


@dataclass(frozen=True)
class Region:
    """Evaluated area in base_link: ``min_x`` .. ``max_range`` (m) and within ``half_angle`` (rad) of +x."""

    min_x: float = 2.0
    max_range: float = 50.0
    half_angle: float = 0.5

    def contains(self, xy: np.ndarray) -> np.ndarray:
        xy = np.reshape(xy, (-1, 2))
        return (xy[:, 0] >= self.min_x) & (np.hypot(xy[:, 0], xy[:, 1]) <= self.max_range) \
            & (np.abs(np.arctan2(xy[:, 1], xy[:, 0])) <= self.half_angle)


def _turn(xy, yaw):
    """World-axes vectors (n x 2) in the axes of a body at heading ``yaw`` (rad)."""
    xy = np.reshape(xy, (-1, 2))
    c, s = np.cos(yaw), np.sin(yaw)
    return np.column_stack([c * xy[:, 0] + s * xy[:, 1], -s * xy[:, 0] + c * xy[:, 1]])


def _to_base(xy, ego):
    x, y, a = ego
    return _turn(np.reshape(xy, (-1, 2)) - [x, y], a)


def add_pose(history: PoseHistory, msg) -> None:
    """Add an Odometry message's pose and velocity (one that fails its checks is left out)."""
    try:
        x, y, yaw, velocity = odometry_to_ego(msg)
    except InvalidInput:
        return
    history.add(stamp_to_sec(msg.header.stamp), x, y, yaw, velocity)


def _track_rows(msg):
    rows = [(o.id, o.pose.pose.position.x, o.pose.pose.position.y, o.twist.twist.linear.x, o.twist.twist.linear.y)
            for o in msg.objects if o.status == o.STATUS_CONFIRMED]
    return np.array(rows, float).reshape(-1, 5)


def _merged(bags, topics):
    """Messages of several bags (e.g. the raw drive and the offline outputs over it) in log-time order."""
    return heapq.merge(*(bagio.read(b, topics) for b in bags), key=lambda m: m[1])


def _object_rows(msg, poses: PoseHistory, ids, doppler_origin=None) -> tuple | None:
    """An object list in base_link as confirmed-track rows in the world frame, each under a new id; with
    ``doppler_origin`` each row's velocity is its Doppler along the line of sight (module docstring).
    """
    t = stamp_to_sec(msg.header.stamp)
    ego = poses.at(t, 0.2)
    if ego is None:
        return None
    pts = pointcloud.read(msg, required=["x", "y"] + (["doppler_mean"] if doppler_origin is not None else []))
    xy = np.column_stack([pts["x"], pts["y"]]).astype(float)
    v = np.full(xy.shape, np.nan)
    if doppler_origin is not None:
        los = xy - np.asarray(doppler_origin, float)
        v = los / np.maximum(np.hypot(los[:, 0], los[:, 1]), 1e-6)[:, None] * pts["doppler_mean"][:, None]
    keep = np.all(np.isfinite(xy), axis=1)
    xy, v = xy[keep], v[keep]
    x, y, a = ego
    c, s = np.cos(a), np.sin(a)
    world = np.column_stack([x + c * xy[:, 0] - s * xy[:, 1], y + s * xy[:, 0] + c * xy[:, 1]])
    v_world = np.column_stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1]])
    rows = np.column_stack([[next(ids) for _ in range(len(world))], world, v_world])
    return t, rows.reshape(-1, 5)


def _class_scores(msg) -> dict:
    """Track id -> {class name: probability} of a tracks message."""
    return {o.id: {h.class_id: h.score for h in o.classes} for o in msg.objects}


class _Blackout:
    """Identity and class belief of the tracked objects across a sensor blackout ``(start, end)`` (stamps, s):
    the objects matched in the last frame before it and again ``settle`` s after it ended.
    """

    def __init__(self, span, settle: float = 0.5):
        self.start, self.end, self.settle = span[0], span[1], settle
        self.before, self.after, self.last_in = {}, None, {}
        self.p_true = {"before": [], "end": [], "after": []}

    def note(self, t, matches, truth, scores) -> None:
        if t < self.start:
            self.before = dict(matches)
            self._p(matches, truth, scores, "before", replace=True)
        elif t < self.end:
            self.last_in = (matches, truth, scores)
        elif self.after is None and t >= self.end + self.settle:
            self.after = dict(matches)
            if self.last_in:
                self._p(*self.last_in, "end")
            self._p(matches, truth, scores, "after")

    def _p(self, matches, truth, scores, when, replace=False):
        from .perception_sim import CLASSES
        cls = dict(zip(np.asarray(truth["object_id"], int), np.asarray(truth["class_id"], int)))
        vals = [scores.get(h, {}).get(CLASSES[cls[g]]) for g, h in matches if g in cls]
        vals = [v for v in vals if v is not None]
        self.p_true[when] = vals if replace else self.p_true[when] + vals

    def summary(self) -> dict:
        after = self.after or {}
        both = [g for g in self.before if g in after]
        return {"blackout_objects": len(both), "blackout_ids_kept": sum(self.before[g] == after[g] for g in both),
                **{f"p_true_class_{k}": float(np.mean(v)) if v else float("nan") for k, v in self.p_true.items()}}


def evaluate(bags, tracks_topic="/tracks", truth_topic="/ground_truth/objects", odom_topic="/odometry/filtered",
             truth_odom_topic="/ground_truth/odom", region: Region = Region(), threshold: float = 2.0,
             cutoff: float = 5.0, per_frame: bool = False, blackout=None, doppler_origin=None) -> dict:
    """Metrics of the tracks in ``bags`` (one bag or several read as one; see the module docstring).

    ``per_frame``: score an object list with no identity (``doppler_origin``: radar clusters, velocity from
    their Doppler).
    ``blackout``: ``(start, end)`` stamps (s) of a sensor failure; the summary then also says how many of the
    objects tracked just before it were tracked under the same id after it (:class:`_Blackout`).
    """
    poses, true_poses = PoseHistory(horizon=1e9), PoseHistory(horizon=1e9)
    metrics, ids = TrackingMetrics(threshold, cutoff), itertools.count()
    watch = _Blackout(blackout) if blackout else None
    latest, scores = None, {}                         # (stamp, rows) of the newest tracks message
    bags = [bags] if isinstance(bags, (str, bytes)) or not hasattr(bags, "__iter__") else list(bags)
    for topic, _, msg in _merged(bags, [tracks_topic, truth_topic, odom_topic, truth_odom_topic]):
        if topic == odom_topic:
            add_pose(poses, msg)
        elif topic == truth_odom_topic:
            add_pose(true_poses, msg)
        elif topic == tracks_topic:
            if per_frame:
                latest = _object_rows(msg, poses, ids, doppler_origin)
            else:
                latest, scores = (stamp_to_sec(msg.header.stamp), _track_rows(msg)), _class_scores(msg)
        else:
            t = stamp_to_sec(msg.header.stamp)
            ego, true_ego = poses.at(t, 0.2), true_poses.at(t, 0.2)
            if ego is None or true_ego is None or latest is None:
                continue
            truth = pointcloud.read(msg)
            matches = metrics.add(_frame(t, truth, latest, ego, true_ego[2], region, move=not per_frame))
            if watch:
                watch.note(t, matches, truth, scores)
    # "errors": each match's (position, velocity) error by (t, truth id), for comparisons on common matches;
    # "metrics": the accumulator itself, for pooling several drives (TrackingMetrics.pooled)
    return {**metrics.summary(), **(watch.summary() if watch else {}), "errors": metrics.errors, "metrics": metrics}


def _frame(t, truth, latest, ego, true_yaw, region, move=True) -> Frame:
    g_xy = np.column_stack([truth["x"], truth["y"]]).astype(float)
    keep = region.contains(g_xy)
    g_v = _turn(np.column_stack([truth["vx"], truth["vy"]]).astype(float), true_yaw)
    stamp, rows = latest
    # A per-frame object stays where it was seen (a Doppler velocity lacks the component across the line of
    # sight, so it does not move it either); a track is moved on with its velocity.
    xy = rows[:, 1:3] + (np.nan_to_num(rows[:, 3:5]) * max(t - stamp, 0.0) if move else 0.0)
    h_xy = _to_base(xy, ego)
    inside = region.contains(h_xy)
    return Frame(t, np.asarray(truth["object_id"], float)[keep], g_xy[keep], g_v[keep],
                 rows[inside, 0], h_xy[inside], _turn(rows[inside, 3:5], ego[2]))
