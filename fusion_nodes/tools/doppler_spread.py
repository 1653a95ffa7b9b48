# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""How far one radar return's Doppler strays from its object's, per class: tracker_node's ``class_doppler_spread``.

The parts of a walking pedestrian, a cyclist's legs and wheels, move about
the body's velocity, so the returns of one object in one scan disagree in
Doppler (micro-Doppler). radar_node reports each cluster's ``doppler_std``
over its ``points``; on a drive with object truth, the clusters that lie on
one object alone (within ``reach`` of it, no other object within
``isolation``) give that object class's pooled within-cluster spread

``sigma_c = sqrt(sum (n_k - 1) s_k^2 / sum (n_k - 1))``

over its clusters ``k`` of ``n_k >= 2`` points and sample std ``s_k``
(m/s; the radar's own per-return noise is in it, the ego compensation's
error is not: all of a scan's returns share that). ``fusion eval --tracking``
prints it under the table.
"""
from __future__ import annotations

import numpy as np

from fusion_nodes.ros import pointcloud
from fusion_nodes.ros.convert import stamp_to_sec

from . import bagio
from .track_ceiling import TruthPositions


def within_cluster_spread(bag, inputs, classes, truth_topic="/ground_truth/objects",
                          radar_topic="/radar/clusters", reach: float = 1.5, isolation: float = 4.0) -> dict:
    """``class -> (sigma m/s, degrees of freedom)`` from ``inputs``' radar clusters and ``bag``'s object truth.

    ``classes`` names the truth's ``class_id`` values (tracker_node's ``classes``); a class with no
    cluster of two or more points on an isolated object of it is left out.
    """
    truth = TruthPositions(bag, truth_topic)
    sums = np.zeros((len(classes), 2))                 # per class: sum (n - 1) s^2, sum (n - 1)
    for _, _, msg in bagio.read(inputs, [radar_topic]):
        d = pointcloud.read(msg, required=["x", "y", "points", "doppler_std"])
        ids, xy = truth.objects(stamp_to_sec(msg.header.stamp))
        if not ids:
            continue
        for x, y, n, s in zip(d["x"], d["y"], d["points"], d["doppler_std"]):
            dist = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
            order = np.argsort(dist)
            alone = len(order) == 1 or dist[order[1]] > isolation
            c = truth.class_of.get(ids[order[0]], -1)
            if n >= 2 and np.isfinite(s) and dist[order[0]] <= reach and alone and 0 <= c < len(classes):
                sums[c] += ((n - 1) * s * s, n - 1)
    return {classes[c]: (float(np.sqrt(ss / dof)), int(dof)) for c, (ss, dof) in enumerate(sums) if dof > 0}


def describe(spread: dict) -> str:
    """One line of :func:`within_cluster_spread`'s result."""
    parts = [f"{c} {s:.2f} m/s ({dof} dof)" for c, (s, dof) in spread.items()]
    return ("radar Doppler spread within clusters on one object, per class (tracker_node class_doppler_spread): "
            + ("; ".join(parts) if parts else "no cluster of two or more points on an isolated object"))
