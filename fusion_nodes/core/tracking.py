# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Multi-object tracker: camera and radar detections fused into object tracks (world frame).

Composed from one component per role, each with one verb, in the manner of
Stone Soup's tracker components:

========================  ============================  =========================================
role                      component                     verb
========================  ============================  =========================================
per-track filter          :mod:`.track_filters`         ``predict`` / ``update``
gater                     :class:`MahalanobisGate`      ``admits(d2, dof)``
data associator           :class:`NearestNeighbour`,    ``weigh(d2, log_det, admitted, ...)``
                          :class:`.JointProbabilistic`
initiator                 :class:`MOfN`,                ``status(hits, existence)``
                          :class:`ExistenceConfirmation`
existence                 :class:`Existence`            ``revise(p, hit, dt)``
deleter                   :class:`Deleter`              ``expired(track, now)``
duplicate remover         :mod:`.track_merging`         ``duplicates(k, P, radius)``
class belief              :class:`ClassBelief`          ``fuse(belief, scores, weight, dt)``
class compatibility       :class:`ClassCompatibility`   ``cost(beliefs, scores)``
class footprints          :class:`ClassFootprints`      ``expect(beliefs)``
class Doppler spread      :class:`ClassDopplerSpread`   ``expect(beliefs)``
========================  ============================  =========================================

A frame (:class:`Detections`) is one sensor's detections at one stamp, with
its measurement model; frames must come in stamp order (:class:`FrameQueue`
restores it within a delay). Per frame: every track is predicted to the
stamp; the Mahalanobis distance of every track-detection pair
``d2 = y^T S^-1 y`` with ``S = H P H^T + R`` is gated *before* any gain; the
assignment minimises ``sum(d2 + ln det S)`` (the negative log-likelihood,
global nearest neighbour via ``scipy.optimize.linear_sum_assignment``), plus
``-2 w ln LR`` of the class evidence when the tracker has a :class:`ClassCompatibility`;
assigned tracks are updated (with :class:`.JointProbabilistic`, every track with the mixture of its
gated detections, each weighted by its association probability; a track with a detection more likely
its own than not counts a hit), unassigned detections that can locate an object
start tentative tracks, and tracks the sensor should have seen but did not
count a miss (unless the frame is empty: a blind sensor, see :meth:`Tracker.step`);
then tracks are confirmed, deleted, and two tracks of one object merged into the older.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .geometry import wrap_angle
from .track_components import (CONFIRMED, TENTATIVE, Deleter, Existence, MahalanobisGate, MOfN,
                               NearestNeighbour, mahalanobis, pair_mahalanobis)
from .track_classes import ClassBelief, ClassCompatibility, ClassDopplerSpread, ClassFootprints
from .track_jpda import reduce_mixture
from .track_merging import DuplicateRemover
from .track_filters import TrackFilter, measurement_jacobian
from .track_models import MeasurementModel, SensorPose, unmeasured, unmeasured_log_det


@dataclass(frozen=True)
class FieldOfView:
    """Where a sensor can see: up to ``max_range`` (m), within ``half_angle`` (rad) of its heading."""

    max_range: float = np.inf
    half_angle: float = np.pi

    def contains(self, xy: np.ndarray, sensor: SensorPose) -> np.ndarray:
        d = np.atleast_2d(xy) - [sensor.x, sensor.y]
        bearing = wrap_angle(np.arctan2(d[:, 1], d[:, 0]) - sensor.yaw)
        return (np.hypot(d[:, 0], d[:, 1]) <= self.max_range) & (np.abs(bearing) <= self.half_angle)


@dataclass(frozen=True)
class Detections:
    """One sensor's detections at one stamp, in the world frame.

    Attributes
    ----------
    stamp : float
        s.
    sensor : str
        Input name (diagnostics, "which sensors contributed").
    model : MeasurementModel
    origin : SensorPose
        The sensor's pose in the world frame at ``stamp``.
    z, R : ndarray
        Measurements (n x m) and their covariances (n x m x m).
    scores : ndarray, optional
        Per-detection class probabilities (n x C), if the sensor classifies.
    size : ndarray, optional
        Object extent (n x 2: length, width, m), if the sensor measures it.
    fov : FieldOfView
        Tracks outside it are not expected to be seen (no miss counted).
    initiates : bool
        Whether unassigned detections start tracks.
    class_weight : float
        Exponent / weight of this sensor's scores in the class belief.
    detection_probability : float
        Chance that an object in the field of view is detected in a frame (existence on hit / miss).
    occlusion_gap : float, optional
        rad, for an image sensor (a model with ``extent``): a detection moves a track's state and class
        only if no other track's predicted silhouette comes within this of the track's own; else it
        counts as seen (existence) only. A box of an object partly hidden, or merged with its
        neighbour, is centred on neither. None: every assigned detection updates.
    update_interval : float
        s: a detection moves a track's state only if this sensor last moved it at least this long ago;
        in between it counts as seen (existence, class, size) without moving it. For a sensor whose
        errors persist from frame to frame (a camera box's bearing: lag-one correlation 0.7-0.9 at 15 Hz),
        each further frame is nearly the same look again, and the filter, which takes every update as
        independent, would trust the sensor's bias as if averaged away. 0: every frame moves.
    unmeasured_moves : bool
        Whether a detection that leaves a component unmeasured (:func:`.track_models.unmeasured`: a
        camera box without a ground contact) takes part in the association (weighed by its measured
        components, :func:`.track_models.unmeasured_log_det`) and moves its track; False: it is left
        out, as if it had not come (it does not start tracks either way).
    looks : ndarray, optional
        Per detection, how many returns its range rate averages (a radar cluster's points): the object's
        own Doppler spread (:class:`ClassDopplerSpread`) adds ``var / looks`` to that component of ``R``.
        None: one each.
    clutter_density : float
        False detections per unit volume of the measurement space (the product of ``z``'s units), for an
        associator that weighs them against the objects' (:class:`.JointProbabilistic`).
    """

    stamp: float
    sensor: str
    model: MeasurementModel
    origin: SensorPose
    z: np.ndarray
    R: np.ndarray
    scores: Optional[np.ndarray] = None
    size: Optional[np.ndarray] = None
    fov: FieldOfView = FieldOfView()
    initiates: bool = True
    class_weight: float = 1.0
    detection_probability: float = 0.8
    occlusion_gap: Optional[float] = None
    update_interval: float = 0.0
    unmeasured_moves: bool = True
    looks: Optional[np.ndarray] = None
    clutter_density: float = 1e-3

    def __len__(self) -> int:
        return len(self.z)


@dataclass(frozen=True)
class TrackState:
    """A track as published: kinematics ``k = [px, py, vx, vy]`` and ``P`` (4 x 4) at ``stamp``."""

    id: int
    status: str
    stamp: float
    k: np.ndarray
    P: np.ndarray
    existence: float
    age: float
    classes: Optional[np.ndarray]
    size: Optional[np.ndarray]
    sensors: tuple


@dataclass
class _Track:
    id: int
    x: np.ndarray
    P: np.ndarray
    stamp: float
    born: float
    hits: deque
    existence: float
    belief: Optional[np.ndarray] = None
    size: Optional[np.ndarray] = None
    status: str = TENTATIVE
    last_update: float = 0.0
    class_stamp: float = 0.0                          # s, last class evidence
    seen_by: dict = field(default_factory=dict)      # sensor -> stamp of its last update
    moved_by: dict = field(default_factory=dict)     # sensor -> stamp it last moved the state


def _hits(W: np.ndarray) -> list[tuple[int, int]]:
    """``(track, detection)`` of each track with a detection more likely its own than not (a nearest
    neighbour's assignments). One detection is then a hit of one track at most (a detection's weights sum to
    at most 1): two tracks sharing one detection half and half, or a track taking two detections of weight
    0.3, are not seen; the first would keep a duplicate track alive on one object's detections.
    """
    if not W.size:
        return []
    best = np.argmax(W, axis=1)
    return [(int(ti), int(best[ti])) for ti in np.flatnonzero(W[np.arange(len(W)), best] > 0.5)]


def _plus_rate(R: np.ndarray, rate: int, var: float) -> np.ndarray:
    """``R`` with ``var`` added to the variance of its range-rate component ``rate``."""
    R = np.array(R, float)
    R[rate, rate] += var
    return R


@dataclass(frozen=True)
class FrameReport:
    """What one frame did: assignments, new / deleted / confirmed tracks, NIS of each update."""

    sensor: str
    detections: int
    assigned: int
    started: int
    confirmed: int
    deleted: int
    nis: tuple            # one value per update, d2 / dof
    occluded: int = 0     # assigned detections that only said "seen" (Detections.occlusion_gap)
    held: int = 0         # assigned detections that did not move the state (Detections.update_interval)


class Tracker:
    """Tracks from frames of detections, with the components of the module table.

    Parameters
    ----------
    filter : TrackFilter
        Per-track predict / update; its motion model defines the state.
    gate, associator, initiator, existence, deleter, belief, merger, compatibility, footprints, spreads
        The components (defaults: the documented ones; ``belief`` None keeps no class belief,
        ``compatibility`` None associates on kinematics alone, ``footprints`` None treats every
        object as a point for shape-aware measurement models, ``spreads`` None takes a range rate's
        ``R`` as the sensor gives it).
    initial_existence : float
        Existence probability of a new tentative track.
    """

    def __init__(self, filter: TrackFilter, gate=MahalanobisGate(), associator=NearestNeighbour(),
                 initiator=MOfN(), existence=Existence(), deleter=Deleter(), belief: Optional[ClassBelief] = None,
                 initial_existence: float = 0.5, merger: DuplicateRemover = DuplicateRemover(),
                 compatibility: Optional[ClassCompatibility] = None,
                 footprints: Optional[ClassFootprints] = None, spreads: Optional[ClassDopplerSpread] = None):
        self.filter, self.gate, self.associator = filter, gate, associator
        self.footprints, self.spreads = footprints, spreads
        self.initiator, self.existence, self.deleter, self.belief = initiator, existence, deleter, belief
        self.merger, self.compatibility = merger, compatibility
        self.initial_existence = initial_existence
        self.reset()

    def reset(self) -> None:
        """Forget every track (a bag loop, a clock jump back); ids go on counting, so none is reused."""
        self._tracks: list[_Track] = []
        self._next_id = getattr(self, "_next_id", 1)
        self.stamp = -np.inf

    def step(self, frame: Detections) -> FrameReport:
        """Apply one frame (stamps must not decrease; :class:`FrameQueue` restores order)."""
        if frame.stamp < self.stamp:
            raise ValueError(f"frame at {frame.stamp} s is older than the tracker ({self.stamp} s)")
        self.stamp = frame.stamp
        for t in self._tracks:
            dt = frame.stamp - t.stamp
            t.x, t.P = self.filter.predict(t.x, t.P, dt)
            t.existence = self.existence.revise(t.existence, None, dt)
            t.stamp = frame.stamp
        footprints = self._footprints(frame.stamp)
        spread = self._spread(frame, self._beliefs(frame.stamp, len(self.spreads.stds)) if self.spreads else None)
        W, d2, admitted, lin = self._associate(frame, footprints, spread)
        pairs = _hits(W)
        nis, occluded, held = self._update(frame, footprints, W, pairs, d2, lin, spread)
        # A frame with no detection at all (not even clutter) is a sensor that saw nothing: failed,
        # covered, dark. Counting a miss for every track in its view would delete the tracks the other
        # sensors still hold; it counts none (the node reports the blind input in /diagnostics).
        visible = self._visible(frame) if len(frame) else np.zeros(len(self._tracks), bool)
        assigned = {ti for ti, _ in pairs}
        for i, t in enumerate(self._tracks):
            if i not in assigned and visible[i]:
                t.hits.append(False)
                t.existence = self.existence.revise(t.existence, False, 0.0, frame.detection_probability)
        # a detection inside some track's gate is that object seen twice (a split radar cluster),
        # not a new object: only detections no track admits start tracks
        claimed = set(np.flatnonzero(admitted.any(axis=0))) if admitted is not None else set()
        started = self._start(frame, claimed | {di for _, di in pairs})
        confirmed, deleted = self._maintain()
        return FrameReport(frame.sensor, len(frame), len(pairs), started, confirmed, deleted, tuple(nis), occluded,
                           held)

    def _footprints(self, stamp: float) -> Optional[np.ndarray]:
        """The tracks' expected footprints (tracks x 2, m) at ``stamp``, or None without a footprint table."""
        if self.footprints is None or self.belief is None or not self._tracks:
            return None
        return self.footprints.expect(self._beliefs(stamp, len(self.footprints.table)))

    def _spread(self, frame: Detections, beliefs: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """The objects' own Doppler spread to add to the range rate's variance, beliefs x detections
        (m^2/s^2; :class:`ClassDopplerSpread`), or None when there is none to add.
        """
        if self.spreads is None or beliefs is None or not len(beliefs) or frame.model.rate is None or not len(frame):
            return None
        looks = np.ones(len(frame)) if frame.looks is None else np.maximum(frame.looks, 1.0)
        return self.spreads.expect(beliefs)[:, None] / looks[None, :]

    def _associate(self, frame: Detections, footprints: Optional[np.ndarray], spread: Optional[np.ndarray]):
        n_t, n_d = len(self._tracks), len(frame)
        if n_t == 0 or n_d == 0:
            return np.zeros((n_t, n_d)), None, None, None
        model = frame.model if footprints is None else frame.model.with_footprints(footprints)
        X = np.array([t.x for t in self._tracks])
        P = np.array([t.P for t in self._tracks])
        zhat, H = measurement_jacobian(self.filter.motion, model, X, frame.origin)
        HPH = H @ P @ H.transpose(0, 2, 1)
        y = frame.model.residual(frame.z[None], zhat[:, None])         # tracks x detections x m
        if np.all(frame.R == frame.R[0]):
            # one R for the whole frame (a radar's usual case): S depends on the track only, so n_t
            # factorisations serve all n_t x n_d pairs; the Doppler spread is a rank-one change of each
            d2, log_det = mahalanobis((HPH + frame.R[0])[:, None], y,
                                      None if spread is None else (frame.model.rate, spread))
        else:
            # an R per detection: an S per pair, factorised only where the gate could admit the pair
            d2, log_det = pair_mahalanobis(HPH, frame.R, y, lambda b: self.gate.admits(b, frame.model.dim),
                                           None if spread is None else (frame.model.rate, spread))
        admitted = self.gate.admits(d2, frame.model.dim) & np.isfinite(d2)
        log_det = unmeasured_log_det(log_det, frame.R, frame.fov.max_range)
        cost = d2
        if self.compatibility is not None and frame.scores is not None:
            extra, compatible = self.compatibility.cost(self._beliefs(frame.stamp, frame.scores.shape[1]),
                                                        frame.scores)
            cost, admitted = d2 + extra, admitted & compatible
        if not frame.unmeasured_moves:
            admitted = admitted & ~unmeasured(frame.R).any(axis=1)
        # the NIS stays kinematic: the class term is in the assignment only
        W = self.associator.weigh(cost, log_det, admitted, frame.model.dim, frame.detection_probability,
                                  frame.clutter_density)
        return W, d2, admitted, (zhat, H)

    def _beliefs(self, stamp: float, n_classes: int) -> np.ndarray:
        """Every track's class belief at ``stamp`` (faded as :meth:`tracks` reports it; uniform if none)."""
        uniform = np.full(n_classes, 1.0 / n_classes)
        if self.belief is None or not self._tracks:
            return np.tile(uniform, (len(self._tracks), 1))
        known = [t.belief is not None and len(t.belief) == n_classes for t in self._tracks]
        B = np.array([t.belief if k else uniform for t, k in zip(self._tracks, known)])
        return np.where(np.array(known)[:, None],
                        self.belief.decay(B, np.array([stamp - t.class_stamp for t in self._tracks])), uniform)

    def _update(self, frame: Detections, footprints: Optional[np.ndarray], W, pairs, d2, lin,
                spread: Optional[np.ndarray]) -> tuple[list, int, int]:
        nis, occluded, held, classed = [], 0, 0, []
        clear = self._clear(frame, footprints) if W.any() else None
        hit = dict(pairs)
        for ti in np.flatnonzero(W.sum(axis=1) > 0) if W.size else ():
            t, di = self._tracks[ti], hit.get(ti)
            if clear is not None and not clear[ti]:
                if di is not None:
                    occluded += 1          # something is there: existence, but neither position nor class
                    t.hits.append(True)
                    t.existence = self.existence.revise(t.existence, True, 0.0, frame.detection_probability)
                continue
            may_move = frame.stamp - t.moved_by.get(frame.sensor, -np.inf) >= frame.update_interval
            if may_move:
                self._move(t, ti, frame, footprints, W[ti], lin, spread)
            if di is None:
                continue                   # moved a little by detections more likely not its own: no hit, no look
            if may_move:
                t.moved_by[frame.sensor] = frame.stamp
            else:
                held += 1
            t.hits.append(True)
            t.existence = self.existence.revise(t.existence, True, 0.0, frame.detection_probability)
            t.last_update = frame.stamp
            t.seen_by[frame.sensor] = frame.stamp
            if frame.size is not None and np.all(np.isfinite(frame.size[di])):
                t.size = frame.size[di] if t.size is None else 0.8 * t.size + 0.2 * frame.size[di]
            classed.append((t, di))
            nis.append(float(d2[ti, di]) / frame.model.dim)
        self._fuse_classes(frame, classed)
        return nis, occluded, held

    def _move(self, t: _Track, ti: int, frame: Detections, footprints, w: np.ndarray, lin, spread) -> None:
        """Update track ``t`` (row ``ti``) with the detections of weight ``w``: one of weight 1 alone, else the
        mixture of the one-detection posteriors and the prior (weight ``1 - sum(w)``; :func:`.reduce_mixture`).
        """
        own = frame.model if footprints is None else frame.model.with_footprints(footprints[ti])
        posts = []
        for di in np.flatnonzero(w > 0):
            R = frame.R[di] if spread is None else _plus_rate(frame.R[di], frame.model.rate, spread[ti, di])
            # the gate's linearisation is at the same predicted state: an EKF update need not redo it
            posts.append((w[di], *self.filter.update(t.x, t.P, frame.z[di], R, own, frame.origin,
                                                     linearised=(lin[0][ti], lin[1][ti]))))
        if len(posts) == 1 and posts[0][0] == 1.0:
            t.x, t.P = posts[0][1:]
            return
        weights = [max(1.0 - float(w.sum()), 0.0)] + [p[0] for p in posts]
        t.x, t.P = reduce_mixture(self.filter.motion, [t.x] + [p[1] for p in posts], [t.P] + [p[2] for p in posts],
                                  np.array(weights))

    def _clear(self, frame: Detections, footprints: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """Per track: whether its silhouette is clear of every other track's by ``frame.occlusion_gap``."""
        if frame.occlusion_gap is None:
            return None
        model = frame.model if footprints is None else frame.model.with_footprints(footprints)
        lo, hi = model.extent(self.filter.motion.kinematics(np.array([t.x for t in self._tracks])), frame.origin).T
        near = (lo[None, :] < hi[:, None] + frame.occlusion_gap) & (hi[None, :] > lo[:, None] - frame.occlusion_gap)
        np.fill_diagonal(near, False)
        return ~near.any(axis=1)

    def _fuse_classes(self, frame: Detections, classed: list) -> None:
        """Fuse detection ``di``'s class scores into track ``t``'s belief for each ``(t, di)`` of ``classed``
        (one track at most once), all in one call of the rule.
        """
        if self.belief is None or frame.scores is None:
            return
        classed = [(t, di) for t, di in classed if np.all(np.isfinite(frame.scores[di]))]
        if not classed:
            return
        C = frame.scores.shape[1]
        prior = np.array([np.full(C, np.nan) if t.belief is None or len(t.belief) != C else t.belief
                          for t, _ in classed])
        fused = self.belief.fuse_many(prior, frame.scores[[di for _, di in classed]], frame.class_weight,
                                      np.array([frame.stamp - t.class_stamp for t, _ in classed]))
        for (t, _), b in zip(classed, fused):
            t.belief, t.class_stamp = b, frame.stamp

    def _visible(self, frame: Detections) -> np.ndarray:
        if not self._tracks:
            return np.zeros(0, bool)
        K = self.filter.motion.kinematics(np.array([t.x for t in self._tracks]))
        return frame.fov.contains(K[:, :2], frame.origin)

    def _start(self, frame: Detections, used: set) -> int:
        if not frame.initiates:
            return 0
        started, born = 0, []
        for di in range(len(frame)):
            seed = None if di in used else frame.model.seed(frame.z[di], self._new_R(frame, di), frame.origin)
            if seed is None:
                continue
            x, P = self.filter.motion.from_kinematics(seed)
            t = _Track(self._next_id, x, P, frame.stamp, frame.stamp, deque([True], maxlen=self.initiator.n),
                       self.initial_existence, last_update=frame.stamp, seen_by={frame.sensor: frame.stamp},
                       moved_by={frame.sensor: frame.stamp})
            if frame.size is not None and np.all(np.isfinite(frame.size[di])):
                t.size = frame.size[di]
            born.append((t, di))
            self._tracks.append(t)
            self._next_id += 1
            started += 1
        self._fuse_classes(frame, born)
        return started

    def _new_R(self, frame: Detections, di: int) -> np.ndarray:
        """Detection ``di``'s R for a new track: with the Doppler spread of the belief the track starts with
        (its scores, as :meth:`_fuse_classes` will give it; uniform without them).
        """
        if self.spreads is None or frame.model.rate is None:
            return frame.R[di]
        C, s = len(self.spreads.stds), frame.scores
        scored = self.belief is not None and s is not None and s.shape[1] == C and np.all(np.isfinite(s[di]))
        b = self.belief.fuse(None, s[di], frame.class_weight, 0.0) if scored else np.full(C, 1.0 / C)
        looks = 1.0 if frame.looks is None else max(float(frame.looks[di]), 1.0)
        return _plus_rate(frame.R[di], frame.model.rate, float(self.spreads.expect(b)[0]) / looks)

    def _maintain(self) -> tuple[int, int]:
        keep, kin, confirmed = [], [], 0
        for t in self._tracks:
            if t.status == TENTATIVE:
                status = self.initiator.status(t.hits, t.existence)
                if status is None:
                    continue
                if status == CONFIRMED:
                    t.status, confirmed = CONFIRMED, confirmed + 1
            K, J = self._kinematics(t)
            PK = J @ t.P @ J.T
            if self.deleter.expired(t, PK[:2, :2], self.stamp):
                continue
            keep.append(t)
            kin.append((K, PK, 0.0 if t.size is None else 0.5 * float(np.max(t.size))))
        if len(keep) > 1:           # tracks are kept oldest first (new ones are appended)
            drop = self.merger.duplicates(np.array([k for k, _, _ in kin]), np.array([p for _, p, _ in kin]),
                                          np.array([r for _, _, r in kin]))
            keep = [t for i, t in enumerate(keep) if i not in drop]
        deleted = len(self._tracks) - len(keep)
        self._tracks = keep
        return confirmed, deleted

    def _kinematics(self, t: _Track):
        m = self.filter.motion
        return m.kinematics(t.x[None])[0], m.kinematics_jacobian(t.x[None])[0]

    def tracks(self, at: Optional[float] = None, confirmed_only: bool = True,
               min_existence: float = 0.0) -> list[TrackState]:
        """The tracks, predicted to ``at`` (s; default: the last frame) without changing them.

        ``min_existence`` hides tracks below that existence probability without deleting them
        (IPDA-style: a track is reported above one threshold and terminated below a lower one, so a
        few missed scans hide an object for a moment instead of restarting it under a new id).
        """
        out = []
        for t in self._tracks:
            if (confirmed_only and t.status != CONFIRMED) or t.existence < min_existence:
                continue
            x, P = self.filter.predict(t.x, t.P, (at - t.stamp) if at is not None else 0.0)
            m = self.filter.motion
            k, J = m.kinematics(x[None])[0], m.kinematics_jacobian(x[None])[0]
            stamp = t.stamp if at is None else max(at, t.stamp)
            belief = None if t.belief is None else self.belief.decay(t.belief, stamp - t.class_stamp)
            out.append(TrackState(t.id, t.status, stamp, k, J @ P @ J.T, float(t.existence), stamp - t.born,
                                  belief, None if t.size is None else np.array(t.size),
                                  tuple(sorted(s for s, ts in t.seen_by.items()
                                               if stamp - ts <= self.deleter.max_coast))))
        return out

    def counts(self) -> dict:
        """Tracks by status."""
        c = {TENTATIVE: 0, CONFIRMED: 0}
        for t in self._tracks:
            c[t.status] += 1
        return c
