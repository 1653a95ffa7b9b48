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
        for _, _, msg in bagio.read(bag, [topic]):
            d = pointcloud.read(msg, required=["x", "y", "object_id"])
            self.stamps.append(stamp_to_sec(msg.header.stamp))
            self.frames.append({int(g): (float(x), float(y)) for x, y, g in zip(d["x"], d["y"], d["object_id"])})
        self.stamps = np.asarray(self.stamps)

    def at(self, t: float) -> np.ndarray:
        """Positions (n x 2) at ``t`` of the objects in both truth messages around it (linear in between)."""
        i = int(np.searchsorted(self.stamps, t))
        if i == 0 or i >= len(self.stamps):
            return np.zeros((0, 2))
        a = (t - self.stamps[i - 1]) / (self.stamps[i] - self.stamps[i - 1])
        before, after = self.frames[i - 1], self.frames[i]
        return np.array([[(1 - a) * before[g][k] + a * after[g][k] for k in (0, 1)] for g in before if g in after],
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
    if not len(frame) or not len(objects_xy):
        return _subset(frame, np.zeros(len(frame), bool))
    rel = objects_xy - camera.xy
    truth = wrap_angle(np.arctan2(rel[:, 1], rel[:, 0]) - camera.yaw)
    off = np.abs(wrap_angle(frame.z[:, :1] - truth[None, :]))           # boxes x objects
    nearest = off.argmin(axis=1)
    apart = np.abs(wrap_angle(truth[:, None] - truth[None, :]))
    np.fill_diagonal(apart, np.inf)
    isolated = apart.min(axis=1) > isolation
    keep = (off[np.arange(len(frame)), nearest] <= tolerance) & isolated[nearest]
    return _subset(frame, keep)


def _subset(frame: Detections, keep: np.ndarray) -> Detections:
    def pick(a):
        return None if a is None else a[keep]
    return replace(frame, z=frame.z[keep], R=frame.R[keep], scores=pick(frame.scores), size=pick(frame.size))


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
    return out
