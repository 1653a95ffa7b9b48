# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The Stone Soup peer of tracker_node: a GNN or JPDA tracker built from Stone Soup components, on the same detections.

Both trackers get the very same frames: tracker_node's own input
conversions (:mod:`fusion_nodes.ros.tracks`) turn the recorded radar
clusters and camera detections into world-frame measurements with the ego
pose of ``odometry/filtered``, and the frames are applied in stamp order.
The Stone Soup tracker has the same models:

* motion: ``CombinedLinearGaussianTransitionModel`` of two
  ``ConstantVelocity`` (state ``[x, vx, y, vy]``), the same acceleration noise;
* radar: ``CartesianToBearingRangeRate2D`` from the radar's position (the
  cluster centroid in polar form, its isotropic position variance mapped to
  bearing / range, and the ego-compensated Doppler as the range rate);
* camera: ``CartesianToBearingRange`` from the camera's position (the same
  bearing and monocular range variances as tracker_node, range-less
  detections with the same uninformative variance);
* ``DistanceHypothesiser`` (Mahalanobis, gate at the same chi-square
  probability), ``GNNWith2DAssignment``, ``MultiMeasurementInitiator`` on the
  radar's positions (``min_points`` updates confirm), deletion after
  ``max_coast`` s without an update or a position covariance trace beyond
  ``2 max_position_std^2``;
* or, with ``association="jpda"``, ``PDAHypothesiser`` (the frame's clutter
  density and detection probability, the same gate probability) and
  ``JPDAwithEHM``, each track updated to the moment-matched mixture of its
  hypotheses (``gm_reduce_single``), as the core's JPDA does.

Stone Soup is a benchmark dependency (``requirements-bench.txt``), imported
only here.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
from scipy.stats import chi2

from fusion_nodes.core import track_models as tm
from fusion_nodes.core.timeline import PoseHistory
from fusion_nodes.core.tracking import CONFIRMED, Detections, TrackState
from fusion_nodes.core.validation import InvalidInput
from fusion_nodes.ros import tracks as conv
from fusion_nodes.ros.convert import sec_to_stamp, stamp_to_sec

from . import bagio

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def recorded_frames(bag, p: dict, radar_topic="/radar/clusters", camera_topic="/camera/detections",
                    odom_topic="/odometry/filtered") -> list[Detections]:
    """tracker_node's frames from a recorded run (``p``: its parameters), in stamp order.

    With ``p["camera_info_topic"]`` the camera's geometry comes from the run's CameraInfo messages, as the
    node takes it (:class:`~fusion_nodes.tools.bagio.HeldValues`): camera frames logged before the first are
    left out, an impossible one leaves the last good one.
    """
    from .track_eval import add_pose
    poses, frames = PoseHistory(horizon=1e9), []
    radar_mount = conv.Mounting.from_mount(p["radar_mount"])
    info_topic = p.get("camera_info_topic") or ""
    fixed = None if info_topic else conv.CameraGeometry.from_params(p["camera_mount"], p["camera_intrinsics"])
    held = bagio.HeldValues(bag, info_topic, lambda msg: conv.CameraGeometry.from_camera_info(
        p["camera_mount"], msg)) if info_topic else None
    classes = list(p["classes"])
    for topic, t_ns, msg in bagio.read(bag, [radar_topic, camera_topic, odom_topic]):
        stamp = stamp_to_sec(msg.header.stamp)
        if topic == odom_topic:
            add_pose(poses, msg)
            continue
        ego = poses.at(stamp, p["pose_tolerance"])
        camera = fixed if held is None else held.at(t_ns)
        if ego is None or (topic == camera_topic and camera is None):
            continue
        try:
            frames.append(conv.radar_frame(msg, stamp, ego, p, radar_mount, classes) if topic == radar_topic
                          else conv.camera_frame(msg, stamp, ego, p, camera, classes))
        except InvalidInput:
            continue
    return sorted(frames, key=lambda f: f.stamp)


@dataclass
class StoneSoupTracker:
    """A Stone Soup tracker fed :class:`Detections` frames (see the module docstring); ``association`` "gnn"
    or "jpda".
    """

    process_noise: float = 1.0
    gate_probability: float = 0.99
    min_points: int = 3
    max_coast: float = 1.5
    max_position_std: float = 6.0
    association: str = "gnn"
    tracks: set = field(default_factory=set)

    def __post_init__(self):
        from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
        from stonesoup.deleter.error import CovarianceBasedDeleter
        from stonesoup.deleter.multi import CompositeDeleter
        from stonesoup.deleter.time import UpdateTimeDeleter
        from stonesoup.hypothesiser.distance import DistanceHypothesiser
        from stonesoup.initiator.simple import MultiMeasurementInitiator
        from stonesoup.measures import Mahalanobis
        from stonesoup.models.transition.linear import CombinedLinearGaussianTransitionModel, ConstantVelocity
        from stonesoup.predictor.kalman import ExtendedKalmanPredictor
        from stonesoup.types.state import GaussianState
        from stonesoup.updater.kalman import ExtendedKalmanUpdater

        cv = ConstantVelocity(self.process_noise)
        self.transition = CombinedLinearGaussianTransitionModel([cv, cv])
        self.predictor = ExtendedKalmanPredictor(self.transition)
        self.updater = ExtendedKalmanUpdater(measurement_model=None)
        self.associators = {dim: GNNWith2DAssignment(DistanceHypothesiser(
            self.predictor, self.updater, Mahalanobis(), missed_distance=float(np.sqrt(chi2.ppf(
                self.gate_probability, dim))))) for dim in (2, 3)}
        self.deleter = CompositeDeleter([UpdateTimeDeleter(timedelta(seconds=self.max_coast)),
                                         CovarianceBasedDeleter(2 * self.max_position_std ** 2, mapping=[0, 2])],
                                        intersect=False)
        speed = tm.UNKNOWN_SPEED ** 2
        prior = GaussianState(np.zeros((4, 1)), np.diag([1.0, speed, 1.0, speed]))
        self.initiator = MultiMeasurementInitiator(
            prior, UpdateTimeDeleter(timedelta(seconds=0.5)), self.associators[2], self.updater,
            min_points=self.min_points)
        self._ids, self._next = {}, 1

    def _detections(self, frame: Detections) -> list:
        """``(detection, position-only twin or None)`` per measurement of a frame; the twins may start tracks."""
        from stonesoup.models.measurement.linear import LinearGaussian
        from stonesoup.models.measurement.nonlinear import CartesianToBearingRange, CartesianToBearingRangeRate2D
        from stonesoup.types.angle import Bearing
        from stonesoup.types.array import StateVector
        from stonesoup.types.detection import Detection
        when = EPOCH + timedelta(seconds=frame.stamp)
        origin = np.array([[frame.origin.x], [frame.origin.y]])
        out = []
        for z, R in zip(frame.z, frame.R):
            if frame.sensor == "radar":
                d = z[:2] - origin[:, 0]
                rng = max(float(np.hypot(*d)), 1e-6)
                var = R[0, 0]
                model = CartesianToBearingRangeRate2D(4, (0, 2), np.diag([var / rng ** 2, var, R[2, 2]]),
                                                      translation_offset=origin, velocity_mapping=(1, 3))
                out.append((Detection(StateVector([Bearing(np.arctan2(d[1], d[0])), rng, z[2]]), when, model),
                            Detection(z[:2].reshape(2, 1), when, LinearGaussian(4, (0, 2), R[:2, :2]))))
            else:
                model = CartesianToBearingRange(4, (0, 2), np.diag([R[0, 0], R[1, 1]]), translation_offset=origin)
                out.append((Detection(StateVector([Bearing(z[0] + frame.origin.yaw), z[1]]), when, model), None))
        return out

    def step(self, frame: Detections) -> None:
        """Apply one frame: associate, update or coast, delete, then initiate from the radar's leftovers."""
        pairs = self._detections(frame)
        dets = {d for d, _ in pairs}
        when = EPOCH + timedelta(seconds=frame.stamp)
        used = set()
        if self.tracks and dets and self.association == "jpda":
            used = self._jpda(frame, dets, when)
        elif self.tracks and dets:
            for track, hyp in self.associators[3 if frame.sensor == "radar" else 2].associate(
                    self.tracks, dets, when).items():
                if hyp:
                    track.append(self.updater.update(hyp))
                    used.add(hyp.measurement)
        self.tracks -= self.deleter.delete_tracks(self.tracks)
        free = {seed for d, seed in pairs if seed is not None and d not in used}
        if frame.sensor == "radar":          # the holding tracks move on with every radar scan
            self.tracks |= self.initiator.initiate(free, when)

    def _jpda(self, frame: Detections, dets: set, when) -> set:
        """Stone Soup's JPDA (``JPDAwithEHM``: exact marginals by efficient hypothesis management) on one frame,
        each track updated to the moment-matched mixture of its hypotheses (``gm_reduce_single``). The frame's
        own clutter density and detection probability, as the core takes them; the radar's clutter density is
        per m^2 m/s in x, y, range rate, Stone Soup's per rad m m/s in bearing, range, range rate: times the
        frame's median range (the Jacobian of x, y over bearing, range is the range). A track's state is an
        update (it counts as seen by the deleter) when one detection is more likely its own than not, the
        core's hit rule; such detections start no track.
        """
        from stonesoup.dataassociator.probability import JPDAwithEHM
        from stonesoup.functions import gm_reduce_single
        from stonesoup.hypothesiser.probability import PDAHypothesiser
        from stonesoup.types.array import StateVectors
        from stonesoup.types.prediction import GaussianStatePrediction
        from stonesoup.types.update import GaussianStateUpdate

        density = frame.clutter_density
        if frame.sensor == "radar":
            density *= float(np.median([d.state_vector[1, 0] for d in dets]))
        associator = JPDAwithEHM(PDAHypothesiser(self.predictor, self.updater, clutter_spatial_density=density,
                                                 prob_detect=frame.detection_probability,
                                                 prob_gate=self.gate_probability))
        used = set()
        for track, hypotheses in associator.associate(self.tracks, dets, when).items():
            states = [self.updater.update(h) if h else h.prediction for h in hypotheses]
            weights = np.array([float(h.probability) for h in hypotheses])
            mean, covar = gm_reduce_single(StateVectors([x.state_vector for x in states]),
                                           np.stack([x.covar for x in states], axis=2), weights)
            best = max(hypotheses, key=lambda h: float(h.probability) if h else -1.0)
            if best and float(best.probability) > 0.5:
                track.append(GaussianStateUpdate(mean, covar, hypotheses, when))
                used.add(best.measurement)
            else:
                track.append(GaussianStatePrediction(mean, covar, timestamp=when))
        return used

    def states(self, stamp: float) -> list[TrackState]:
        """The confirmed tracks as :class:`TrackState` (position / velocity, their covariance) at ``stamp``."""
        out = []
        for track in self.tracks:
            tid = self._ids.setdefault(id(track), self._new_id())
            s = track.state
            x, P = np.asarray(s.state_vector, float)[:, 0], np.asarray(s.covar, float)
            order = [0, 2, 1, 3]                        # [x, vx, y, vy] -> [px, py, vx, vy]
            out.append(TrackState(tid, CONFIRMED, stamp, x[order], P[np.ix_(order, order)], 1.0, 0.0, None, None,
                                  ("stonesoup",)))
        return out

    def _new_id(self) -> int:
        self._next += 1
        return self._next - 1


def run(frames: list[Detections], step, states, out_bag, topic: str, classes=()) -> float:
    """Apply ``frames`` with ``step(frame)``; after each, write ``states(stamp)`` (confirmed
    :class:`TrackState` s) to ``out_bag`` on ``topic``. Returns the mean time of ``step`` per frame (s).
    """
    from std_msgs.msg import Header
    spent = 0.0
    with bagio.BagWriter(out_bag) as w:
        for f in frames:
            t0 = time.perf_counter()
            step(f)
            spent += time.perf_counter() - t0
            header = Header(stamp=sec_to_stamp(f.stamp), frame_id="odom")
            w.write(topic, conv.tracked_objects(header, states(f.stamp), list(classes)), int(round(f.stamp * 1e9)))
    return spent / max(len(frames), 1)
