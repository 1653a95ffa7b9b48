# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Is an input as accurate as it says? Its innovations over a window, and a noise scale adapted from them.

* :class:`NisWindow` holds the normalised innovation squared (NIS) of an
  input's accepted updates over the last seconds and the chi-square band a
  consistent input stays in.
* :class:`AdaptiveNoise` scales the input's declared covariance so that its
  NIS per dof comes to 1 (covariance matching on the innovations, in the
  manner of Mehra's adaptive Kalman filtering, with one scalar per input).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from scipy.stats import chi2

MIN_DOF = 30        # fewer degrees of freedom in a window: too few updates to judge an input


class NisWindow:
    """The normalised innovation squared of one input's accepted updates over the last ``seconds``.

    For a consistent filter (declared covariances right, no bias) the sum of
    the NIS over updates with ``D`` degrees of freedom in all is chi-square with
    ``D`` dof, so the mean NIS per dof lies in
    ``[chi2.ppf(a/2, D) / D, chi2.ppf(1 - a/2, D) / D]`` with probability
    ``1 - a``. Above the band the input's errors are larger than it declares (or
    biased: a mount, a time offset), below it they are smaller. Updates are
    correlated over time on a real robot, so the band says *inconsistent*, not
    how much; the mean says by what factor.
    """

    def __init__(self, seconds: float = 10.0):
        self.seconds = seconds
        self._items: deque = deque()            # (stamp, nis, dof)

    def add(self, stamp: float, nis: float, dof: int) -> None:
        self._items.append((stamp, nis, dof))
        while self._items and self._items[0][0] < stamp - self.seconds:
            self._items.popleft()

    def summary(self, alpha: float = 0.01) -> tuple[float, int, float, float]:
        """``(mean NIS per dof, D, band low, band high)`` of the window (NaN without updates)."""
        dof = sum(d for _, _, d in self._items)
        if dof == 0:
            return float("nan"), 0, float("nan"), float("nan")
        mean = sum(n for _, n, _ in self._items) / dof
        return mean, dof, float(chi2.ppf(alpha / 2, dof) / dof), float(chi2.ppf(1 - alpha / 2, dof) / dof)

    def clear(self) -> None:
        self._items.clear()


@dataclass
class AdaptiveNoise:
    """One input's covariance scale ``lambda``, revised once per full window of updates.

    With ``S = H P H^T + lambda R`` and an input whose true covariance is
    ``v R``, the mean NIS per dof over a window is ``m = (H P H^T + v R) /
    (H P H^T + lambda R)`` (per direction); ``lambda <- lambda m^gain``
    has its fixed point at ``lambda = v`` and moves toward it from either side
    (for ``gain <= 1``; the prior ``H P H^T`` only slows it). ``lambda`` stays
    within ``[floor, ceiling]``. Only updates the Mahalanobis gate accepted are
    in the window (:class:`NisWindow`), so a rejected outlier inflates nothing;
    a window with fewer than :data:`MIN_DOF` degrees of freedom (a robot
    standing, an input that stopped) changes nothing.

    Attributes
    ----------
    floor, ceiling : float
        Bounds of ``lambda``.
    gain : float
        Exponent of each revision (0.5: half the log-error per window).
    scale : float
        The current ``lambda`` (starts at 1: the declared covariance).
    """

    floor: float = 0.01
    ceiling: float = 100.0
    gain: float = 0.5
    scale: float = 1.0
    revisions: int = 0
    _since: float = field(default=math.nan, repr=False)

    def revise(self, window: NisWindow, now: float) -> bool:
        """At ``now`` (s, stamp time), once ``window.seconds`` have passed since the last revision: revise
        ``scale`` from the window's mean NIS per dof and clear the window (the next one measures the
        new scale). Returns whether ``scale`` changed.
        """
        if math.isnan(self._since) or now < self._since:
            self._since = now
            return False
        if now - self._since < window.seconds:
            return False
        self._since = now
        mean, dof, _, _ = window.summary()
        if dof < MIN_DOF or not math.isfinite(mean) or mean <= 0.0:
            return False
        window.clear()
        new = min(max(self.scale * mean ** self.gain, self.floor), self.ceiling)
        changed, self.scale = new != self.scale, new
        self.revisions += int(changed)
        return changed

    def restart(self) -> None:
        """Begin a new window at the next revision (after a filter reset); the scale learned stays."""
        self._since = math.nan
