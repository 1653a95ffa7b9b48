"""Tracking metrics of a recorded run: tracks (``fusion_msgs/TrackedObjectArray``) against object truth.

The truth (``/ground_truth/objects`` of ``fusion sim --perception``: x y in
base_link, vx vy in the world frame, object_id) is compared at each of its
stamps with the newest tracks message at or before it, each track moved to
the truth stamp with its own velocity and brought into base_link with the
ego pose the tracker used (``odometry/filtered`` at that stamp). Only
objects and tracks inside the evaluated region (where both sensors look)
count. Metrics: :class:`fusion_nodes.core.track_metrics.TrackingMetrics`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion_nodes.core.geometry import quaternion_to_rpy
from fusion_nodes.core.timeline import PoseHistory
from fusion_nodes.core.track_metrics import Frame, TrackingMetrics
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros.convert import stamp_to_sec

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


def _to_base(xy, ego):
    x, y, a = ego
    d = np.reshape(xy, (-1, 2)) - [x, y]
    c, s = np.cos(a), np.sin(a)
    return np.column_stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]])


def _track_rows(msg):
    rows = [(o.id, o.pose.pose.position.x, o.pose.pose.position.y, o.twist.twist.linear.x, o.twist.twist.linear.y)
            for o in msg.objects if o.status == o.STATUS_CONFIRMED]
    return np.array(rows, float).reshape(-1, 5)


def evaluate(bag, tracks_topic="/tracks", truth_topic="/ground_truth/objects", odom_topic="/odometry/filtered",
             region: Region = Region(), threshold: float = 2.0, cutoff: float = 5.0) -> dict:
    """Metrics of the tracks in ``bag`` (see the module docstring)."""
    poses, metrics = PoseHistory(horizon=1e9), TrackingMetrics(threshold, cutoff)
    latest = None                                     # (stamp, rows) of the newest tracks message
    for topic, _, msg in bagio.read(bag, [tracks_topic, truth_topic, odom_topic]):
        if topic == odom_topic:
            q = msg.pose.pose.orientation
            poses.add(stamp_to_sec(msg.header.stamp), msg.pose.pose.position.x, msg.pose.pose.position.y,
                      float(quaternion_to_rpy([q.x, q.y, q.z, q.w])[2]))
        elif topic == tracks_topic:
            latest = (stamp_to_sec(msg.header.stamp), _track_rows(msg))
        else:
            t = stamp_to_sec(msg.header.stamp)
            ego = poses.at(t, 0.2)
            if ego is None or latest is None:
                continue
            metrics.add(_frame(t, pointcloud.read(msg), latest, ego, region))
    return metrics.summary()


def _frame(t, truth, latest, ego, region) -> Frame:
    g_xy = np.column_stack([truth["x"], truth["y"]]).astype(float)
    keep = region.contains(g_xy)
    stamp, rows = latest
    xy = rows[:, 1:3] + rows[:, 3:5] * max(t - stamp, 0.0)
    h_xy = _to_base(xy, ego)
    inside = region.contains(h_xy)
    return Frame(t, np.asarray(truth["object_id"], float)[keep], g_xy[keep],
                 np.column_stack([truth["vx"], truth["vy"]]).astype(float)[keep],
                 rows[inside, 0], h_xy[inside], rows[inside, 3:5])
