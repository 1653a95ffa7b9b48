# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""How much the camera could add with perfect boxes: ``fusion eval --tracking --ceiling``.

A camera box moves a track well only if it is one object's box, centred on
that object, and the tracker gives it to that object's track. In a crowd
many boxes are not: two objects that touch in the image make one box
centred on neither, a partly hidden object's box is off its middle, and a
detector that finds a quarter of the objects leaves the nearest box in a
track's gate often another object's. This row asks what is left for the
camera when all of that is solved by an oracle: each camera frame keeps only
the boxes whose centre bearing is within ``tolerance`` of an object's true
bearing, and whose object has no other object within ``isolation`` of its
bearing (so the box can be neither a merged nor a partly hidden one).

The core tracker (tracker_node's parameters) then runs three times on the
very same recorded frames: radar alone, radar and every camera box, radar
and the truth-picked boxes. The third row's position RMSE is the most a
better detector and association could make this camera add to this radar:
its gap to the second is what the real boxes and association cost, its gap
to the first the camera's own worth.
With them, :func:`bearing_persistence` says why the gap is what it is: the
RMS of each sensor's bearing error on the detections the truth picks, and how
much of it carries over from one frame to the next (a filter averages white
errors down; an error that persists is the same look again).

The truth is ``fusion sim --perception``'s object list (x y in base_link at
its stamps, ``object_id``), interpolated to each camera stamp.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from fusion_nodes.core.geometry import wrap_angle
from fusion_nodes.core.tracking import Detections
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros import tracks as conv
from fusion_nodes.ros.convert import stamp_to_sec

from . import bagio
from .track_compare import CEILING_ROWS


class TruthPositions:
    """Object truth positions (base_link, m) interpolated in time.

    Parameters
    ----------
    bag : path
        A bag with the truth topic.
    topic : str
        ``PointCloud2`` with fields x, y, object_id (``fusion sim --perception``'s ``/ground_truth/objects``).
    """

    def __init__(self, bag, topic: str = "/ground_truth/objects"):
        self.stamps, self.frames = [], []
        self.class_of = {}                         # object id -> class_id, where the truth gives one
        for _, _, msg in bagio.read(bag, [topic]):
            d = pointcloud.read(msg, required=["x", "y", "object_id"])
            self.stamps.append(stamp_to_sec(msg.header.stamp))
            self.frames.append({int(g): (float(x), float(y)) for x, y, g in zip(d["x"], d["y"], d["object_id"])})
            if "class_id" in d.dtype.names:
                self.class_of.update({int(g): int(c) for g, c in zip(d["object_id"], d["class_id"])})
        self.stamps = np.asarray(self.stamps)

    def at(self, t: float) -> np.ndarray:
        """Positions (n x 2) at ``t`` of the objects in both truth messages around it (linear in between)."""
        return self.objects(t)[1]

    def objects(self, t: float) -> tuple[list, np.ndarray]:
        """Ids and positions (n x 2) at ``t`` of the objects in both truth messages around it."""
        i = int(np.searchsorted(self.stamps, t))
        if i == 0 or i >= len(self.stamps):
            return [], np.zeros((0, 2))
        a = (t - self.stamps[i - 1]) / (self.stamps[i] - self.stamps[i - 1])
        before, after = self.frames[i - 1], self.frames[i]
        ids = [g for g in before if g in after]
        return ids, np.array([[(1 - a) * before[g][k] + a * after[g][k] for k in (0, 1)] for g in ids],
                             float).reshape(-1, 2)


def clean_boxes(frame: Detections, objects_xy: np.ndarray, camera: conv.Mounting, tolerance: float = 0.02,
                isolation: float = 0.08) -> Detections:
    """``frame`` with only the boxes an oracle calls clean.

    A box is clean if its bearing ``z[0]`` (rad from the camera's forward axis) is within ``tolerance`` of
    the nearest object's true bearing ``atan2(y - y_c, x - x_c) - yaw_c`` (``objects_xy`` in base_link, the
    camera at ``x_c, y_c, yaw_c`` on base_link), and no other object's bearing is within ``isolation`` of
    that object's. Tolerance 0.02 rad is about five pixels of a 320 px camera; isolation 0.08 rad is a
    car's width at 20 m.
    """
    keep, _ = _picked(frame.z[:, 0], _true_bearings(objects_xy, camera), tolerance, isolation)
    return _subset(frame, keep)


def _true_bearings(objects_xy: np.ndarray, mount: conv.Mounting) -> np.ndarray:
    rel = np.reshape(objects_xy, (-1, 2)) - mount.xy
    return wrap_angle(np.arctan2(rel[:, 1], rel[:, 0]) - mount.yaw)


def _picked(bearings: np.ndarray, truth: np.ndarray, tolerance: float, isolation: float):
    """Per measured bearing: whether it is clean, and its nearest true bearing's index (rad, both)."""
    if not len(bearings) or not len(truth):
        return np.zeros(len(bearings), bool), np.zeros(len(bearings), int)
    off = np.abs(wrap_angle(np.asarray(bearings, float)[:, None] - truth[None, :]))
    nearest = off.argmin(axis=1)
    apart = np.abs(wrap_angle(truth[:, None] - truth[None, :]))
    np.fill_diagonal(apart, np.inf)
    isolated = apart.min(axis=1) > isolation
    return (off[np.arange(len(bearings)), nearest] <= tolerance) & isolated[nearest], nearest


def _subset(frame: Detections, keep: np.ndarray) -> Detections:
    def pick(a):
        return None if a is None else a[keep]
    return replace(frame, z=frame.z[keep], R=frame.R[keep], scores=pick(frame.scores), size=pick(frame.size))


def _bearings(frame: Detections) -> np.ndarray:
    """Each detection's bearing (rad) from the sensor's forward axis."""
    if frame.model.angular:                  # a bearing measurement (camera; radar in polar form)
        return frame.z[:, frame.model.angular[0]]
    o = frame.origin                         # a position in the world frame
    return wrap_angle(np.arctan2(frame.z[:, 1] - o.y, frame.z[:, 0] - o.x) - o.yaw)


def bearing_persistence(frames, truth: TruthPositions, mounts: dict, tolerance: dict,
                        isolation: float = 0.08) -> dict:
    """How much a sensor's bearing error persists from frame to frame: ``sensor -> {rms, lag_one, pairs}``.

    Each detection picked as in :func:`clean_boxes` (``tolerance[sensor]``; ``mounts[sensor]`` the
    sensor's :class:`~fusion_nodes.ros.tracks.Mounting`) gives its error against its object's true
    bearing; ``lag_one`` is the correlation of an object's error in one frame with its error in the next
    (frames at most 1.5 median frame periods apart), over all objects. White errors give ~0 and average
    down in a filter as ``1/sqrt(N)``; errors near 1 are the same look again.
    """
    series, stamps = {}, {}
    for f in frames:
        if f.sensor not in mounts or not len(f):
            continue
        stamps.setdefault(f.sensor, []).append(f.stamp)
        ids, xy = truth.objects(f.stamp)
        true = _true_bearings(xy, mounts[f.sensor])
        measured = _bearings(f)
        keep, nearest = _picked(measured, true, tolerance[f.sensor], isolation)
        for k in np.flatnonzero(keep):
            err = float(wrap_angle(measured[k] - true[nearest[k]]))
            series.setdefault(f.sensor, {}).setdefault(ids[nearest[k]], []).append((f.stamp, err))
    out = {}
    for sensor, objects in series.items():
        gap = 1.5 * float(np.median(np.diff(stamps[sensor])))
        pairs = np.array([(a[1], b[1]) for s in objects.values() for a, b in zip(s, s[1:]) if b[0] - a[0] <= gap])
        errors = np.array([e for s in objects.values() for _, e in s])
        lag = float(np.corrcoef(pairs.T)[0, 1]) if len(pairs) > 2 else float("nan")
        out[sensor] = {"rms": float(np.sqrt(np.mean(errors ** 2))), "lag_one": lag, "pairs": len(pairs)}
    return out


def describe(persistence: dict) -> str:
    """One line of :func:`bearing_persistence`'s result."""
    parts = [f"{k} {v['rms'] * 1e3:.1f} mrad RMS, lag-one correlation {v['lag_one']:+.2f} ({v['pairs']} pairs)"
             for k, v in persistence.items()]
    return "bearing error of the truth-picked detections: " + "; ".join(parts)


def ceiling_rows(bag, inputs, work: Path, params: dict, truth_topic, region, span) -> dict:
    """:data:`~.track_compare.CEILING_ROWS`: the core tracker on the recorded run ``inputs`` (``params``:
    tracker_node's parameters) with the radar frames alone, with the radar and camera frames, and with the
    radar frames and only the truth-picked camera boxes (:func:`clean_boxes`), each scored as the other rows.
    The three see the very same frames, so their differences are the camera's and its boxes' alone.
    """
    from fusion_nodes.nodes.tracker_node import make_tracker

    from . import track_peer
    from .track_eval import evaluate
    truth = TruthPositions(bag, truth_topic)
    camera = conv.CameraGeometry.from_params(params["camera_mount"], params["camera_intrinsics"]).mounting
    frames = track_peer.recorded_frames(inputs, params)
    mounts = {"camera": camera, "radar": conv.Mounting.from_mount(params["radar_mount"])}
    persistence = bearing_persistence(frames, truth, mounts, {"camera": 0.02, "radar": 0.06})
    picked = [clean_boxes(f, truth.at(f.stamp), camera) if f.sensor == "camera" else f for f in frames]
    choices = ([f for f in frames if f.sensor != "camera"], frames, picked)
    out = {}
    for k, (label, chosen) in enumerate(zip(CEILING_ROWS, choices)):
        tracker = make_tracker(params)
        path = work / f"ceiling{k}.mcap"
        def published(_t, tr=tracker):
            return tr.tracks(min_existence=params["publish_existence"])
        track_peer.run(chosen, tracker.step, published, path, f"/tracks/ceiling{k}", params["classes"])
        out[label] = {**evaluate([bag, inputs, path], f"/tracks/ceiling{k}", truth_topic, region=region,
                                 blackout=span),
                      "camera_boxes": sum(len(f) for f in chosen if f.sensor == "camera")}
    out[CEILING_ROWS[-1]]["bearing_persistence"] = persistence
    return out
