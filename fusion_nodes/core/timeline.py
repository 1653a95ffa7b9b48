# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Time order and ego poses for frame-based inputs (the object tracker).

* :class:`FrameQueue` holds frames for ``delay`` seconds of stamp time and
  releases them in stamp order, so inputs with different latencies reach the
  tracker in the order they were measured; a frame older than what was
  already released is refused (the tracker cannot go back), as the ego
  estimator refuses data older than its history.
* :class:`PoseHistory` keeps the ego pose ``(x, y, yaw)`` in the world frame
  over a few seconds and interpolates it at a detection's stamp, so
  detections in base_link become world-frame measurements (ego motion
  compensation). A detection newer than the newest pose (the usual case: a
  sensor frame arrives before the odometry of its moment) gets that pose
  moved on with its velocity, not held: held, a car at 10 m/s would place
  a camera frame 33 ms newer than the odometry 0.33 m behind itself.
* :class:`TwistHistory` keeps the ego twist (body-frame linear and angular
  velocity) and gives it at a detection's stamp (radar Doppler compensation):
  a radar driver's latency puts a scan's stamp tens of ms before the newest
  odometry, and the newest twist then carries the acceleration in between.
"""
from __future__ import annotations

import heapq
import itertools
from collections import deque
from typing import Optional

import numpy as np

from .geometry import wrap_angle


class FrameQueue:
    """Stamp-ordered release of frames (anything with a ``stamp`` attribute) after ``delay`` seconds."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self._heap: list = []
        self._seq = itertools.count()
        self.released = -np.inf       # stamp of the newest frame handed out

    def push(self, frame) -> bool:
        """Queue ``frame``; False (and not queued) when it is older than what was already released."""
        if frame.stamp < self.released:
            return False
        heapq.heappush(self._heap, (frame.stamp, next(self._seq), frame))
        return True

    def pop_ready(self, newest: float) -> list:
        """Frames with ``stamp <= newest - delay``, oldest first."""
        out = []
        while self._heap and self._heap[0][0] <= newest - self.delay:
            out.append(heapq.heappop(self._heap)[2])
        if out:
            self.released = out[-1].stamp
        return out

    def clear(self) -> None:
        self._heap.clear()
        self.released = -np.inf

    def __len__(self) -> int:
        return len(self._heap)


class PoseHistory:
    """Ego poses ``(stamp, x, y, yaw)`` of the last ``horizon`` seconds; linear interpolation in between,
    constant-velocity extrapolation past either end (with the velocity given with that end's pose).
    """

    def __init__(self, horizon: float = 5.0):
        self.horizon = horizon
        self._poses: deque = deque()

    def add(self, stamp: float, x: float, y: float, yaw: float, velocity=(0.0, 0.0, 0.0)) -> None:
        """Record a pose; ``velocity``: ``(vx, vy, yaw_rate)`` at it (m/s in the world frame, rad/s)."""
        if self._poses and stamp <= self._poses[-1][0]:
            return                      # duplicate or older pose: keep the history monotonic
        self._poses.append((stamp, x, y, yaw, *(float(v) for v in velocity)))
        while self._poses and self._poses[0][0] < stamp - self.horizon:
            self._poses.popleft()

    def at(self, stamp: float, tolerance: float) -> Optional[tuple[float, float, float]]:
        """The pose at ``stamp``: interpolated inside the history, extrapolated for up to ``tolerance`` s past
        either end (``x + vx dt``, ``y + vy dt``, ``yaw + w dt``), None when the history does not cover it.
        """
        if not self._poses:
            return None
        p = self._poses
        end = p[0] if stamp <= p[0][0] else p[-1] if stamp >= p[-1][0] else None
        if end is not None:
            dt = stamp - end[0]
            if abs(dt) > tolerance:
                return None
            t0, x0, y0, a0, vx, vy, w = end
            return x0 + vx * dt, y0 + vy * dt, float(wrap_angle(a0 + w * dt))
        t = np.array([q[0] for q in p])
        i = int(np.searchsorted(t, stamp))
        (t0, x0, y0, a0), (t1, x1, y1, a1) = p[i - 1][:4], p[i][:4]
        f = (stamp - t0) / (t1 - t0)
        return x0 + f * (x1 - x0), y0 + f * (y1 - y0), float(a0 + f * wrap_angle(a1 - a0))

    def clear(self) -> None:
        self._poses.clear()


class TwistHistory:
    """Ego twists ``(stamp, v, w)`` of the last ``horizon`` seconds, ``v`` (m/s) and ``w`` (rad/s) 3-vectors in
    the body frame; linear interpolation in between, held past either end (constant velocity).
    """

    def __init__(self, horizon: float = 2.0):
        self.horizon = horizon
        self._stamps: deque = deque()
        self._twists: deque = deque()      # rows [vx, vy, vz, wx, wy, wz]

    def add(self, stamp: float, linear, angular) -> bool:
        """Record a twist; False (not recorded) for a stamp not after the newest one."""
        if self._stamps and stamp <= self._stamps[-1]:
            return False
        self._stamps.append(stamp)
        self._twists.append(np.concatenate([np.asarray(linear, float), np.asarray(angular, float)]))
        while self._stamps[0] < stamp - self.horizon:
            self._stamps.popleft()
            self._twists.popleft()
        return True

    def at(self, stamp: float, tolerance: float) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """``(v, w)`` at ``stamp``: interpolated between the twists around it, the nearest end's within
        ``tolerance`` s past either end, None when no twist is that close.

        Inside the history ``x(t) = x0 + (t - t0) / (t1 - t0) (x1 - x0)``; the gap between the two
        twists is not limited (a slow odometry still brackets the scan better than either end).
        """
        if not self._stamps:
            return None
        t = self._stamps
        if stamp <= t[0] or stamp >= t[-1]:
            i = 0 if stamp <= t[0] else -1
            if abs(stamp - t[i]) > tolerance:
                return None
            x = self._twists[i]
        else:
            j = int(np.searchsorted(np.fromiter(t, float, len(t)), stamp))
            f = (stamp - t[j - 1]) / (t[j] - t[j - 1])
            x = self._twists[j - 1] + f * (self._twists[j] - self._twists[j - 1])
        return x[:3].copy(), x[3:].copy()

    def clear(self) -> None:
        self._stamps.clear()
        self._twists.clear()
