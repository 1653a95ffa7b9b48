"""Time order and ego poses for frame-based inputs (the object tracker).

* :class:`FrameQueue` holds frames for ``delay`` seconds of stamp time and
  releases them in stamp order, so inputs with different latencies reach the
  tracker in the order they were measured; a frame older than what was
  already released is refused (the tracker cannot go back), as the ego
  estimator refuses data older than its history.
* :class:`PoseHistory` keeps the ego pose ``(x, y, yaw)`` in the world frame
  over a few seconds and interpolates it at a detection's stamp, so
  detections in base_link become world-frame measurements (ego motion
  compensation).
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
    """Ego poses ``(stamp, x, y, yaw)`` of the last ``horizon`` seconds; linear interpolation in between."""

    def __init__(self, horizon: float = 5.0):
        self.horizon = horizon
        self._poses: deque = deque()

    def add(self, stamp: float, x: float, y: float, yaw: float) -> None:
        if self._poses and stamp <= self._poses[-1][0]:
            return                      # duplicate or older pose: keep the history monotonic
        self._poses.append((stamp, x, y, yaw))
        while self._poses and self._poses[0][0] < stamp - self.horizon:
            self._poses.popleft()

    def at(self, stamp: float, tolerance: float) -> Optional[tuple[float, float, float]]:
        """The pose at ``stamp``: interpolated inside the history, held for ``tolerance`` s past either end,
        None when the history does not cover it."""
        if not self._poses:
            return None
        p = self._poses
        if stamp <= p[0][0]:
            return p[0][1:] if p[0][0] - stamp <= tolerance else None
        if stamp >= p[-1][0]:
            return p[-1][1:] if stamp - p[-1][0] <= tolerance else None
        t = np.array([q[0] for q in p])
        i = int(np.searchsorted(t, stamp))
        (t0, x0, y0, a0), (t1, x1, y1, a1) = p[i - 1], p[i]
        f = (stamp - t0) / (t1 - t0)
        return x0 + f * (x1 - x0), y0 + f * (y1 - y0), float(a0 + f * wrap_angle(a1 - a0))

    def clear(self) -> None:
        self._poses.clear()
