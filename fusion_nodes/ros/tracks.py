# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""tracker_node's messages: detection clouds -> world-frame :class:`Detections`, tracks -> messages.

The one validation point of the tracker's detection inputs: a cloud that
cannot be read, lacks its fields, or holds a non-finite or absurd value is
refused as a whole (:class:`InvalidInput` with the reason), so the tracks
stay as if it never came.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Duration
from fusion_msgs.msg import TrackedObject, TrackedObjectArray
from geometry_msgs.msg import Point
from vision_msgs.msg import Detection3D, Detection3DArray, ObjectHypothesis, ObjectHypothesisWithPose
from visualization_msgs.msg import Marker, MarkerArray

from fusion_nodes.core import track_models as tm
from fusion_nodes.core.geometry import pinhole_matrix, rpy_to_matrix, rpy_to_quaternion, wrap_angle
from fusion_nodes.core.tracking import Detections, FieldOfView, TrackState
from fusion_nodes.core.validation import InvalidInput

from . import pointcloud
from .convert import camera_info_to_intrinsics, sec_to_stamp


@dataclass(frozen=True)
class Mounting:
    """A sensor's mount on base_link: origin ``xy`` (m), heading ``yaw`` (rad) of its forward axis."""

    xy: np.ndarray
    yaw: float

    @classmethod
    def from_mount(cls, mount) -> "Mounting":
        """From a ``[x, y, z, roll, pitch, yaw]`` mount: the heading of the sensor's x axis in base_link."""
        forward = rpy_to_matrix(*mount[3:])[:, 0]
        return cls(np.asarray(mount[:2], float), float(np.arctan2(forward[1], forward[0])))

    def in_world(self, ego) -> tm.SensorPose:
        """The sensor's pose in the world frame for the ego pose ``(x, y, yaw)``."""
        x, y, a = ego
        c, s = np.cos(a), np.sin(a)
        return tm.SensorPose(x + c * self.xy[0] - s * self.xy[1], y + s * self.xy[0] + c * self.xy[1], a + self.yaw)


def to_world(xy: np.ndarray, ego) -> np.ndarray:
    """base_link points (n x 2) into the world frame of the ego pose ``(x, y, yaw)``."""
    x, y, a = ego
    c, s = np.cos(a), np.sin(a)
    return np.column_stack([x + c * xy[:, 0] - s * xy[:, 1], y + s * xy[:, 0] + c * xy[:, 1]])


def _table(msg, required, max_range):
    pts = pointcloud.read(msg, required=required)
    cols = {k: np.asarray(pts[k], float) for k in pts.dtype.names}
    for k in required:
        if not np.all(np.isfinite(cols[k])):
            raise InvalidInput("non_finite", f"{k} has NaN or Inf")
    for k in ("x", "y"):
        if k in required and np.any(np.abs(cols[k]) > max_range):
            raise InvalidInput("absurd_value", f"{k} beyond {max_range} m")
    return cols


def class_scores(cols: dict, classes) -> np.ndarray | None:
    """The ``score_<class>`` columns as rows (n x C), None when the input does not classify (or is invalid)."""
    if not all(f"score_{c}" in cols for c in classes):
        return None
    S = np.column_stack([cols[f"score_{c}"] for c in classes]) if len(classes) else None
    if S is None or not np.all(np.isfinite(S)) or np.any(S < 0):
        return None
    return S


def radar_frame(msg, stamp, ego, p, mount: Mounting, classes) -> Detections:
    """radar_node clusters as world-frame position (+ Doppler) measurements."""
    need = ["x", "y"] + (["doppler_mean"] if p["radar_use_doppler"] else [])
    cols = _table(msg, need, p["max_range"])
    xy = to_world(np.column_stack([cols["x"], cols["y"]]), ego)
    if p["radar_use_doppler"] and np.any(np.abs(cols["doppler_mean"]) > 150.0):
        raise InvalidInput("absurd_value", "doppler_mean beyond 150 m/s")
    model = tm.PositionDoppler() if p["radar_use_doppler"] else tm.Position()
    z = np.column_stack([xy, cols["doppler_mean"]]) if p["radar_use_doppler"] else xy
    points = cols.get("points")
    if points is not None and not np.all(np.isfinite(points) & (points >= 0) & (points < 1e6)):
        raise InvalidInput("absurd_value", "points not a count")
    R = np.zeros((len(z), model.dim, model.dim))
    sensor = mount.in_world(ego)
    R[:, :2, :2] = _radar_position_covariance(xy - [sensor.x, sensor.y], points, p)
    if p["radar_use_doppler"]:
        R[:, 2, 2] = p["radar_doppler_std"] ** 2
    size = np.column_stack([cols["extent_x"], cols["extent_y"]]) if "extent_x" in cols and "extent_y" in cols \
        else None
    # NaN: not measured; no cluster within max_range of the radar can be longer than twice that
    if size is not None and np.any(np.isinf(size) | (size < 0) | (size > 2 * p["max_range"])):
        raise InvalidInput("absurd_value", "extent_x / extent_y negative or beyond twice max_range")
    # a cluster's Doppler is the mean of its points': the object's own spread averages over them
    return Detections(stamp, "radar", model, sensor, z, R, class_scores(cols, classes), size,
                      FieldOfView(*p["radar_fov"]), detection_probability=p["radar_detection_probability"],
                      looks=points if p["radar_use_doppler"] else None, clutter_density=p["radar_clutter_density"])


def _radar_position_covariance(d, points, p) -> np.ndarray:
    """Cluster position covariances: isotropic, or polar when the radar's range / azimuth errors are given
    (:func:`fusion_nodes.core.track_models.polar_position_covariance`, averaged over the cluster's ``points``).
    """
    if p["radar_range_std"] <= 0 and p["radar_azimuth_std"] <= 0:
        return np.broadcast_to(p["radar_position_std"] ** 2 * np.eye(2), (len(d), 2, 2))
    return tm.polar_position_covariance(d, p["radar_position_std"], p["radar_range_std"], p["radar_azimuth_std"],
                                        points)


MIN_GROUND_RANGE = 0.5      # m: nearer ground contacts carry no range (see camera_frame)
EDGE_PX = 1.0               # px: a box edge this near the image border is cut by it
MAX_PIXELS = 1e5            # px: no camera image is this large; a box coordinate beyond it is garbage


@dataclass(frozen=True)
class CameraGeometry:
    """Camera intrinsics and mount: pixel rays in base_link, ground-contact ranges."""

    K: np.ndarray
    R: np.ndarray                   # optical -> base_link rotation
    t: np.ndarray                   # optical origin in base_link (m)
    width: float

    @classmethod
    def from_params(cls, mount, intrinsics) -> "CameraGeometry":
        return cls(pinhole_matrix(*intrinsics), rpy_to_matrix(*mount[3:]), np.asarray(mount[:3], float),
                   2 * intrinsics[2])

    @classmethod
    def from_camera_info(cls, mount, msg) -> "CameraGeometry":
        """From a ``sensor_msgs/CameraInfo`` (:func:`~fusion_nodes.ros.convert.camera_info_to_intrinsics`:
        binning and ROI applied; raises ``bad_camera_info``); the width is the published image's, or
        ``2 cx`` when the message gives no size.
        """
        K, size = camera_info_to_intrinsics(msg)
        return cls(K, rpy_to_matrix(*mount[3:]), np.asarray(mount[:3], float),
                   float(size[0]) if size else 2 * float(K[0, 2]) + 1.0)

    @property
    def mounting(self) -> Mounting:
        forward = self.R[:, 2]
        return Mounting(self.t[:2], float(np.arctan2(forward[1], forward[0])))

    @property
    def half_angle(self) -> float:
        return float(np.arctan2(self.width / 2, self.K[0, 0]))

    def rays(self, u, v) -> np.ndarray:
        """Unit-free rays (n x 3, base_link) through pixels ``u, v``."""
        pix = np.column_stack([u, v, np.ones(len(u))])
        return np.linalg.solve(self.K, pix.T).T @ self.R.T


def camera_frame(msg, stamp, ego, p, cam: CameraGeometry, classes) -> Detections:
    """camera_node detections as bearing + monocular ground-contact range measurements.

    Bearing: the ray through the box centre, measured from the camera's
    forward axis, with std ``hypot(camera_bearing_std, camera_bearing_width_factor * w / fx)``
    for a box ``w`` px wide, and ``w / (2 fx)`` more (in quadrature) when the image's side cuts
    the box. Range: where the ray through the middle of the box's bottom
    edge meets the ground plane (base_link z = 0); a ray at or above the
    horizon, a box cut by the image's bottom edge, or a contact beyond
    ``camera_max_range`` carries no range
    (:data:`~fusion_nodes.core.track_models.NO_RANGE_VARIANCE`).
    """
    cols = _table(msg, ["u", "v", "width_px", "height_px"], 1e6)
    if np.any(cols["width_px"] < 0) or np.any(cols["height_px"] < 0):
        raise InvalidInput("absurd_value", "negative box size")
    if any(np.any(np.abs(cols[k]) > MAX_PIXELS) for k in ("u", "v", "width_px", "height_px")):
        raise InvalidInput("absurd_value", f"a box coordinate beyond {MAX_PIXELS:g} px")
    mount = cam.mounting
    centre = cam.rays(cols["u"], cols["v"])
    bearing = wrap_angle(np.arctan2(centre[:, 1], centre[:, 0]) - mount.yaw)
    bottom = cam.rays(cols["u"], cols["v"] + cols["height_px"] / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(bottom[:, 2] < -1e-6, -cam.t[2] / bottom[:, 2], np.nan)
    rng = np.hypot(s * bottom[:, 0], s * bottom[:, 1])
    # a ground contact nearer than MIN_GROUND_RANGE (or a camera mounted at or below the ground) locates
    # nothing: a range of ~0 with a variance of ~0 would seed a track with no covariance
    ok = np.isfinite(rng) & (rng <= p["camera_max_range"]) & (rng >= MIN_GROUND_RANGE)
    # a box cut by the image's bottom edge does not show where the object meets the ground
    ok &= cols["v"] + cols["height_px"] / 2 < 2 * cam.K[1, 2] - EDGE_PX
    z = np.column_stack([bearing, np.where(ok, rng, 0.0)])
    R = np.zeros((len(z), 2, 2))
    angular_width = cols["width_px"] / cam.K[0, 0]
    R[:, 0, 0] = p["camera_bearing_std"] ** 2 + (p["camera_bearing_width_factor"] * angular_width) ** 2
    # a box cut by the image border shows part of the object: the object's centre may be anywhere out to
    # the cut edge, so half the box's width is added (measured on seed 11: 16 % of boxes, error p90 0.074
    # rad against 0.024 for whole ones)
    cut = (cols["u"] - cols["width_px"] / 2 <= EDGE_PX) | (cols["u"] + cols["width_px"] / 2 >= cam.width - EDGE_PX)
    R[:, 0, 0] += np.where(cut, (angular_width / 2) ** 2, 0.0)
    R[:, 1, 1] = np.where(ok, (p["camera_range_std"] * np.where(ok, rng, 1.0)) ** 2, tm.NO_RANGE_VARIANCE)
    model = tm.BoxBearingRange() if p["camera_box_model"] else tm.BearingRange()
    return Detections(stamp, "camera", model, mount.in_world(ego), z, R, class_scores(cols, classes),
                      None, FieldOfView(p["camera_max_range"], cam.half_angle), initiates=p["camera_initiates"],
                      detection_probability=p["camera_detection_probability"],
                      occlusion_gap=p["camera_occlusion_gap"] if p["camera_occlusion_gap"] >= 0 else None,
                      update_interval=p["camera_update_interval"], clutter_density=p["camera_clutter_density"],
                      unmeasured_moves=p["camera_rangeless_update"])


def fused_frame(msg, stamp, ego, p, classes) -> Detections:
    """early_fusion_node objects with a position (camera-only ones carry none and are left out)."""
    pts = pointcloud.read(msg, required=["x", "y"])
    cols = {k: np.asarray(pts[k], float) for k in pts.dtype.names}
    located = np.isfinite(cols["x"]) & np.isfinite(cols["y"])
    if np.any(np.isinf(cols["x"]) | np.isinf(cols["y"])):
        raise InvalidInput("non_finite", "x or y is infinite")
    if np.any(np.isnan(cols["x"]) != np.isnan(cols["y"])):     # camera-only objects have neither
        raise InvalidInput("non_finite", "x and y disagree: one is NaN, the other not")
    cols = {k: v[located] for k, v in cols.items()}
    if np.any(np.abs(cols["x"]) > p["max_range"]) or np.any(np.abs(cols["y"]) > p["max_range"]):
        raise InvalidInput("absurd_value", f"x or y beyond {p['max_range']} m")
    z = to_world(np.column_stack([cols["x"], cols["y"]]), ego)
    R = np.broadcast_to(np.eye(2) * p["fused_position_std"] ** 2, (len(z), 2, 2)).copy()
    return Detections(stamp, "fused", tm.Position(), tm.SensorPose(*ego), z, R, class_scores(cols, classes),
                      detection_probability=p["fused_detection_probability"],
                      clutter_density=p["fused_clutter_density"])


def _duration(seconds: float) -> Duration:
    seconds = max(seconds, 0.0)
    return Duration(sec=int(seconds), nanosec=int((seconds % 1) * 1e9))


def tracked_objects(header, tracks: list[TrackState], classes) -> TrackedObjectArray:
    """Tracks as ``fusion_msgs/TrackedObjectArray`` (position / velocity covariances, -1 where unknown)."""
    out = TrackedObjectArray(header=header)
    for t in tracks:
        o = TrackedObject(id=t.id, status=TrackedObject.STATUS_CONFIRMED if t.status == "confirmed"
                          else TrackedObject.STATUS_TENTATIVE, existence_probability=t.existence)
        o.pose.pose.position.x, o.pose.pose.position.y = float(t.k[0]), float(t.k[1])
        heading = float(np.arctan2(t.k[3], t.k[2]))
        q = rpy_to_quaternion(0.0, 0.0, heading)
        o.pose.pose.orientation.x, o.pose.pose.orientation.y = float(q[0]), float(q[1])
        o.pose.pose.orientation.z, o.pose.pose.orientation.w = float(q[2]), float(q[3])
        o.pose.covariance = _cov6(t.P[:2, :2])
        o.twist.twist.linear.x, o.twist.twist.linear.y = float(t.k[2]), float(t.k[3])
        o.twist.covariance = _cov6(t.P[2:, 2:])
        if t.size is not None:
            o.size.x, o.size.y = float(t.size[0]), float(t.size[1])
        if t.classes is not None:
            order = np.argsort(-t.classes)
            o.classes = [ObjectHypothesis(class_id=classes[i], score=float(t.classes[i])) for i in order]
        o.age = _duration(t.age)
        o.last_update = sec_to_stamp(t.stamp)
        o.sensors = list(t.sensors)
        out.objects.append(o)
    return out


BOX_HEIGHT = 1.5
"""m: the drawn height of a track's box (tracks are planar; their height is not estimated)."""


def detections(header, tracks: list[TrackState], classes) -> Detection3DArray:
    """Tracks as ``vision_msgs/Detection3DArray`` for tools that read vision_msgs (Foxglove, RViz plugins).

    ``id`` is the track id (vision_msgs: the same object keeps its id across messages); the box stands
    on the ground at the track's position, turned to its direction of motion, its footprint the track's
    size (0.5 m where unknown) and :data:`BOX_HEIGHT` tall; one hypothesis per class, best first, each
    with the position and its covariance (x y block, -1 where unknown as in :func:`tracked_objects`).
    Velocity has no place in vision_msgs: :func:`tracked_objects` carries it.
    """
    out = Detection3DArray(header=header)
    for t, o in zip(tracks, tracked_objects(header, tracks, classes).objects):
        det = Detection3D(header=header, id=str(t.id))
        det.bbox.center = o.pose.pose
        det.bbox.center.position.z = BOX_HEIGHT / 2
        size = t.size if t.size is not None else (0.5, 0.5)
        det.bbox.size.x, det.bbox.size.y, det.bbox.size.z = float(size[0]), float(size[1]), BOX_HEIGHT
        for h in o.classes:
            r = ObjectHypothesisWithPose(hypothesis=h)
            r.pose.pose, r.pose.covariance = det.bbox.center, o.pose.covariance
            det.results.append(r)
        out.detections.append(det)
    return out


def _cov6(block: np.ndarray) -> np.ndarray:
    """A 6 x 6 row-major covariance with the x y block known, z and the angular part unknown (-1)."""
    c = np.zeros((6, 6))
    c[:2, :2] = block
    c[2, 2] = c[3, 3] = c[4, 4] = c[5, 5] = -1.0
    return c.ravel()


def markers(header, tracks: list[TrackState], classes, ns: str, lifetime: float = 0.5) -> MarkerArray:
    """A box, an id / class text and a velocity arrow (1 s of motion) per track, after a DELETEALL."""
    out = MarkerArray(markers=[Marker(header=header, ns=ns, action=Marker.DELETEALL)])
    life = _duration(lifetime)
    for t in tracks:
        box = Marker(header=header, ns=ns, id=3 * t.id, type=Marker.CUBE, action=Marker.ADD, lifetime=life)
        box.pose.position.x, box.pose.position.y = float(t.k[0]), float(t.k[1])
        box.pose.position.z = BOX_HEIGHT / 2
        box.pose.orientation.w = 1.0
        size = t.size if t.size is not None else (0.5, 0.5)
        box.scale.x, box.scale.y, box.scale.z = max(float(size[0]), 0.2), max(float(size[1]), 0.2), BOX_HEIGHT
        box.color.r, box.color.g, box.color.b, box.color.a = 0.2, 0.6, 0.9, 0.5
        label = classes[int(np.argmax(t.classes))] if t.classes is not None else ""
        text = Marker(header=header, ns=ns, id=3 * t.id + 1, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD,
                      lifetime=life, text=f"#{t.id} {label}".strip())
        text.pose.position.x, text.pose.position.y, text.pose.position.z = float(t.k[0]), float(t.k[1]), 2.0
        text.pose.orientation.w, text.scale.z = 1.0, 0.5
        text.color.r = text.color.g = text.color.b = text.color.a = 1.0
        arrow = Marker(header=header, ns=ns, id=3 * t.id + 2, type=Marker.ARROW, action=Marker.ADD, lifetime=life)
        arrow.points = [Point(x=float(t.k[0]), y=float(t.k[1]), z=BOX_HEIGHT / 2),
                        Point(x=float(t.k[0] + t.k[2]), y=float(t.k[1] + t.k[3]), z=BOX_HEIGHT / 2)]
        arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.1, 0.2, 0.2
        arrow.color.g = arrow.color.a = 1.0
        out.markers += [box, text, arrow]
    return out
