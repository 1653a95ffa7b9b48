# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The state estimator: time ordering, lag handling and statistics around a filter.

Measurements are queued, then applied in timestamp order by :meth:`process`.
Each application predicts the filter from its current time to the
measurement's stamp and updates it. A history of the filter state after each
step lets a late measurement (up to ``history_length`` seconds older than the
filter) be inserted at its own time and the later measurements re-applied.
"""
from __future__ import annotations

import heapq
import itertools
import math
from collections import defaultdict, deque
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from .consistency import NisWindow
from .filters import UpdateResult
from .kalman import make_filter
from .motion import ConstantAcceleration3D
from .records import Measurement
from .state import DEFAULT_PROCESS_NOISE, OUT_OF_PLANE, STATE_SIZE


_PLANE_KEEP = np.ones(STATE_SIZE)
_PLANE_KEEP[list(OUT_OF_PLANE)] = 0.0
_PLANE_KEEP_2D = np.outer(_PLANE_KEEP, _PLANE_KEEP)
_PLANE_DIAG = [i * STATE_SIZE + i for i in OUT_OF_PLANE]


@dataclass(frozen=True)
class EstimatorConfig:
    """Filter-level settings (robot_localization names where they exist).

    Attributes
    ----------
    filter_type : str
        ``ekf`` or ``ukf``.
    two_d_mode : bool
        Hold z, roll, pitch and their derivatives at zero.
    process_noise : ndarray (15, 15)
        Continuous process noise density; ``Q = q dt``.
    initial_covariance : ndarray (15, 15)
        ``P`` at start and after a reset.
    initial_state : ndarray (15,)
        ``x`` at start and after a reset.
    smooth_lagged_data : bool
        Re-order late measurements through the history (else drop them).
    history_length : float
        How far back (s) a late measurement may be inserted.
    max_step : float
        Longest single prediction step (s); longer gaps are sub-stepped.
    nis_window : float
        Seconds of updates each input's :class:`NisWindow` holds.
    """

    filter_type: str = "ekf"
    two_d_mode: bool = False
    process_noise: np.ndarray = field(default_factory=lambda: np.diag(DEFAULT_PROCESS_NOISE))
    initial_covariance: np.ndarray = field(default_factory=lambda: np.eye(STATE_SIZE) * 1e-9)
    initial_state: np.ndarray = field(default_factory=lambda: np.zeros(STATE_SIZE))
    smooth_lagged_data: bool = True
    history_length: float = 1.0
    max_step: float = 0.05
    ukf_alpha: float = 1.0
    ukf_beta: float = 2.0
    ukf_kappa: float = 0.0
    nis_window: float = 10.0


@dataclass
class SensorStats:
    """Per-sensor counters for diagnostics."""

    received: int = 0
    accepted: int = 0
    rejected: int = 0
    dropped: dict = field(default_factory=lambda: defaultdict(int))
    last_stamp: float = float("nan")
    last_nis: float = float("nan")
    nis_sum: float = 0.0
    nis_dof_sum: int = 0
    recent_nis: NisWindow = field(default_factory=NisWindow)


class _Step(NamedTuple):
    """The filter state after one step: what a rewind starts from and a replay re-applies."""

    stamp: float
    measurement: Measurement | None
    x: np.ndarray
    P: np.ndarray


class StateEstimator:
    """Time-ordered Kalman fusion of any number of sensors.

    Parameters
    ----------
    config : EstimatorConfig
    """

    def __init__(self, config: EstimatorConfig):
        self.cfg = config
        self.stats: dict[str, SensorStats] = defaultdict(
            lambda: SensorStats(recent_nis=NisWindow(self.cfg.nis_window)))
        self.replays = 0          # rewinds of the history for late measurements (each one replays it)
        self._seq = itertools.count()
        self.reset()

    # -- lifecycle ---------------------------------------------------------
    def reset(self) -> None:
        """Forget everything but the statistics (e.g. after a clock jump back)."""
        cfg = self.cfg
        kwargs = {}
        if cfg.filter_type == "ukf":
            kwargs = dict(alpha=cfg.ukf_alpha, beta=cfg.ukf_beta, kappa=cfg.ukf_kappa)
        self.filter = make_filter(cfg.filter_type, ConstantAcceleration3D(cfg.process_noise), **kwargs)
        self.filter.set_state(np.array(cfg.initial_state, dtype=float), cfg.initial_covariance)
        self.time: float | None = None
        self._queue: list = []
        self._history: deque[_Step] = deque()
        self._last_stamp: dict[str, float] = {}

    @property
    def initialized(self) -> bool:
        return self.time is not None

    # -- input -------------------------------------------------------------
    def add(self, measurements) -> str | None:
        """Queue the measurements of one message.

        Returns the reason the message was dropped (and counts it), or None.
        A message is dropped when its stamp repeats or precedes the previous
        one of the same sensor, or is older than the history.
        """
        if not measurements:
            return None
        m0 = measurements[0]
        st = self.stats[m0.sensor]
        st.received += 1
        key = f"{m0.sensor}/{m0.kind}"
        last = self._last_stamp.get(key)
        reason = None
        if last is not None and m0.stamp == last:
            reason = "duplicate_stamp"
        elif last is not None and m0.stamp < last:
            reason = "stamp_backwards"
        elif self.time is not None and m0.stamp < self.time and (
                not self.cfg.smooth_lagged_data or m0.stamp < self.time - self.cfg.history_length):
            reason = "older_than_history"
        if reason:
            st.dropped[reason] += 1
            return reason
        self._last_stamp[key] = m0.stamp
        for m in measurements:
            heapq.heappush(self._queue, (m.stamp, next(self._seq), m))
        return None

    def count_drop(self, sensor: str, reason: str) -> None:
        """Count a message the caller rejected before it became a measurement."""
        st = self.stats[sensor]
        st.received += 1
        st.dropped[reason] += 1

    # -- processing --------------------------------------------------------
    def process(self, until: float | None = None) -> None:
        """Apply queued measurements in stamp order (late ones through the history).

        Parameters
        ----------
        until : float, optional
            Only measurements stamped at or before this time (s) are applied;
            the rest stay queued. Holding back the newest few milliseconds
            lets a slower sensor's message that is still in flight slot in
            before them instead of forcing a rewind of everything after it.
        """
        late = []
        # The heap pops in stamp order, so the late measurements (older than the filter) come first:
        # all of them go in with one rewind and one replay instead of one replay each.
        while self._queue and self.time is not None and self._queue[0][0] < self.time \
                and (until is None or self._queue[0][0] <= until):
            late.append(heapq.heappop(self._queue)[2])
        if late:
            self._insert_late(late)
        while self._queue and (until is None or self._queue[0][0] <= until):
            self._step(heapq.heappop(self._queue)[2])
        self._trim_history()

    def advance(self, now: float) -> None:
        """Predict the filter itself to ``now``: predict-only while every sensor is silent.

        The caller decides when inputs are silent (by arrival time, not by
        stamps: a backlog of delayed messages is not silence). The published
        estimate is predicted to ``now`` anyway (:meth:`estimate_at`); this
        keeps that prediction short after a long silence.
        """
        if self.time is not None and now > self.time:
            self._predict_to(now)
            self._record(now, None)
            self._trim_history()

    def _step(self, m: Measurement, replay: bool = False) -> None:
        if self.time is None:
            # The prior is the rewind base for measurements that arrive late
            # but still within the history window.
            self._record(m.stamp - self.cfg.history_length, None)
            self.time = m.stamp
        self._predict_to(m.stamp)
        result = self.filter.update(m)
        self._enforce_plane(self.filter)
        if not replay:
            self._count(m, result)
        self._record(m.stamp, m)

    def _predict_to(self, t: float) -> None:
        self._predict(self.filter, t - self.time)
        self.time = max(self.time, t)

    def _predict(self, f, dt: float) -> None:
        """``f`` predicted ``dt`` s on in steps of at most ``max_step``, kept in the plane in 2D mode."""
        if dt > 0.0:
            n = max(1, math.ceil(dt / self.cfg.max_step))
            for _ in range(n):
                f.predict(dt / n)
        self._enforce_plane(f)

    def _enforce_plane(self, f) -> None:
        if not self.cfg.two_d_mode:
            return
        x, P = f.x, f.P
        x *= _PLANE_KEEP
        P *= _PLANE_KEEP_2D
        P.flat[_PLANE_DIAG] = 1e-9

    def _record(self, stamp: float, m: Measurement | None) -> None:
        self._history.append(_Step(stamp, m, self.filter.x.copy(), self.filter.P.copy()))

    def _insert_late(self, late: list[Measurement]) -> None:
        """Rewind once to the last step before the earliest of ``late`` (stamp order), then re-apply the
        later history merged with ``late``.

        The same result as inserting them one by one: equal stamps keep the
        history's step first, then the late ones in arrival order. A
        measurement older than everything kept cannot be placed in time and is
        dropped (``older_than_history``).
        """
        oldest = self._history[0].stamp if self._history else float("inf")
        for m in late:
            if m.stamp < oldest:
                self.stats[m.sensor].dropped["older_than_history"] += 1
        late = [m for m in late if m.stamp >= oldest]
        if not late:
            return
        later = []
        while self._history[-1].stamp > late[0].stamp:
            later.append(self._history.pop())
        base = self._history[-1]
        self.replays += 1
        self.filter.set_state(base.x, base.P)
        self.time = base.stamp
        events = sorted([(st.stamp, 0, i, st) for i, st in enumerate(reversed(later))]
                        + [(m.stamp, 1, i, m) for i, m in enumerate(late)], key=lambda e: e[:3])
        for _, is_late, _, item in events:
            if is_late:
                self._step(item)
            elif item.measurement is None:
                self._predict_to(item.stamp)
                self._record(item.stamp, None)
            else:
                self._step(item.measurement, replay=True)

    def _trim_history(self) -> None:
        if self.time is None:
            return
        horizon = self.time - self.cfg.history_length
        # Keep one step at or before the horizon as the rewind base.
        while len(self._history) > 1 and self._history[1].stamp <= horizon:
            self._history.popleft()

    def _count(self, m: Measurement, r: UpdateResult) -> None:
        st = self.stats[m.sensor]
        if r.numerical_failure:
            st.rejected += 1
            st.dropped["numerical_failure"] += 1
            return
        st.last_stamp = m.stamp
        st.last_nis = r.nis
        if all(p.accepted for p in r.parts):
            st.nis_sum += r.nis
            st.nis_dof_sum += r.dof
            st.recent_nis.add(m.stamp, r.nis, r.dof)
        for part in r.parts:
            if part.accepted:
                st.accepted += 1
            else:
                st.rejected += 1
                st.dropped[f"mahalanobis_{part.kind}"] += 1

    # -- output ------------------------------------------------------------
    def estimate_at(self, t: float):
        """``(x, P)`` predicted to time ``t``, on a copy of the filter: the estimator does not change."""
        if self.time is None or t <= self.time:
            return self.filter.x.copy(), self.filter.P.copy()
        twin = self.filter.copy()
        self._predict(twin, t - self.time)
        return twin.x.copy(), twin.P.copy()

    def set_process_noise(self, q: np.ndarray) -> None:
        """New process noise ``q`` (15 variances per second) from now on, and after a reset."""
        self.cfg = replace(self.cfg, process_noise=np.asarray(q, float))
        self.filter.motion.q = self.cfg.process_noise


class LatenessWindow:
    """The largest input lateness seen over the last ``window`` seconds: a processing delay that keeps inputs in order.

    Lateness is ``arrival - stamp`` (s, node clock): how long after the time
    it describes a measurement reached the node. Holding the filter back by
    the largest recent lateness lets every such measurement slot in at its
    own time instead of rewinding and replaying the history
    (:meth:`StateEstimator.process` with ``until = now - delay``); the
    output is still predicted to now (:meth:`StateEstimator.estimate_at`).
    A monotonic deque gives the sliding maximum in O(1) per message.
    """

    def __init__(self, window: float = 5.0):
        self.window = window
        self._q: deque[tuple[float, float]] = deque()   # (arrival, lateness), lateness decreasing

    def note(self, arrival: float, stamp: float) -> None:
        """Record one accepted measurement (times in s)."""
        late = arrival - stamp
        q = self._q
        if q and arrival < q[-1][0]:      # the clock jumped back (bag loop): start again
            q.clear()
        while q and q[-1][1] <= late:
            q.pop()
        q.append((arrival, late))
        self._expire(arrival)

    def current(self, now: float) -> float:
        """The largest lateness (s, at least 0) of the measurements that arrived in the last ``window`` s."""
        self._expire(now)
        return max(0.0, self._q[0][1]) if self._q else 0.0

    def _expire(self, now: float) -> None:
        while self._q and self._q[0][0] < now - self.window:
            self._q.popleft()

    def reset(self) -> None:
        self._q.clear()

