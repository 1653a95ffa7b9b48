# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Grouping the same object's decisions across sources.

Each source lists objects with a position (``xy``, m, base_link), a bearing
only (rad, about ``origin``, e.g. a camera), or a track id. Sources are
taken in order: the first one's objects open groups; each later source's
objects are assigned to the open groups by the Hungarian method
(:func:`scipy.optimize.linear_sum_assignment`) and the rest open new groups.

Cost of a pair, in gate units (1 = at the gate):
``|xy_a - xy_b| / position_gate`` when both have positions, else
``|wrap(bearing_a - bearing_b)| / bearing_gate`` with bearings about ``origin``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from .geometry import wrap_angle


@dataclass(frozen=True)
class ObjectList:
    """One source's objects: ``xy`` (n x 2, NaN rows = unknown), ``bearing`` (n), ``ids`` (n)."""

    xy: Optional[np.ndarray] = None
    bearing: Optional[np.ndarray] = None
    ids: Optional[np.ndarray] = None

    def __len__(self) -> int:
        for a in (self.xy, self.bearing, self.ids):
            if a is not None:
                return len(a)
        return 0


def _bearings(obj: ObjectList, origin) -> np.ndarray:
    b = np.full(len(obj), np.nan) if obj.bearing is None else np.asarray(obj.bearing, float).copy()
    if obj.xy is not None:
        xy = np.asarray(obj.xy, float)
        has = np.isfinite(xy).all(axis=1)
        b[has] = np.arctan2(xy[has, 1] - origin[1], xy[has, 0] - origin[0])
    return b


def _distance(a, b) -> np.ndarray:
    """Pairwise Euclidean distances of 2-D rows (``sqrt(dx^2 + dy^2)``: libm's hypot is several times slower)."""
    dx = a[:, 0, None] - b[:, 0]
    dy = a[:, 1, None] - b[:, 1]
    dx *= dx
    dy *= dy
    dx += dy
    return np.sqrt(dx, out=dx)


def _cost(a_xy, a_b, b_xy, b_b, position_gate, bearing_gate) -> np.ndarray:
    """Pair costs (see module docstring); bearings are only computed for pairs that lack a position."""
    a_ok, b_ok = np.isfinite(a_xy).all(axis=1), np.isfinite(b_xy).all(axis=1)
    a_s, b_s = a_xy / position_gate, b_xy / position_gate        # scaled once, not per pair
    if a_ok.all() and b_ok.all():
        return _distance(a_s, b_s)
    cost = np.full((len(a_xy), len(b_xy)), np.inf)
    ia, ib = np.flatnonzero(a_ok), np.flatnonzero(b_ok)
    if len(ia) and len(ib):
        cost[np.ix_(ia, ib)] = _distance(a_s[ia], b_s[ib])
    ang = np.abs(wrap_angle(a_b[:, None] - b_b[None, :])) / bearing_gate
    cost = np.where(a_ok[:, None] & b_ok[None, :], cost, ang)
    return np.where(np.isfinite(cost), cost, np.inf)


def group(sources: Sequence[Optional[ObjectList]], by: str = "position", position_gate: float = 2.0,
          bearing_gate: float = 0.05, origin=(0.0, 0.0)) -> list[dict[int, int]]:
    """Groups as ``{source index: row}`` (at most one row per source); ``None`` sources are skipped.

    ``by``: ``position`` (positions, falling back to bearings; see module
    docstring), ``id`` (equal ids) or ``scene`` (row 0 of every source: one
    decision per source for the whole scene).
    """
    present = [(i, s) for i, s in enumerate(sources) if s is not None and len(s)]
    if by == "scene":
        return [{i: 0 for i, _ in present}] if present else []
    if by == "id":
        groups: dict = {}
        for i, s in present:
            for row, key in enumerate(np.asarray(s.ids)):
                groups.setdefault(float(key), {}).setdefault(i, row)
        return list(groups.values())
    if by != "position":
        raise ValueError(f"unknown matching {by!r}")
    groups, g_xy, g_b = [], np.zeros((0, 2)), np.zeros(0)
    for i, s in present:
        xy = np.full((len(s), 2), np.nan) if s.xy is None else np.asarray(s.xy, float)
        b = _bearings(s, origin)
        taken = set()
        if len(groups):
            cost = _cost(g_xy, g_b, xy, b, position_gate, bearing_gate)
            rows, cols = linear_sum_assignment(np.where(cost <= 1.0, cost, 1e6))
            inside = cost[rows, cols] <= 1.0
            rows, cols = rows[inside], cols[inside]
            learn = ~np.isfinite(g_xy[rows]).all(axis=1)     # a group without a position learns this one
            g_xy[rows[learn]] = xy[cols[learn]]
            for r, c in zip(rows.tolist(), cols.tolist()):
                groups[r][i] = c
            taken = set(cols.tolist())
        new = [c for c in range(len(s)) if c not in taken]
        groups += [{i: c} for c in new]
        g_xy = np.vstack([g_xy, xy[new]])
        g_b = np.concatenate([g_b, b[new]])
    return groups
