# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""tracker_node parameters."""
from __future__ import annotations

from fusion_nodes.core.track_filters import TRACK_FILTERS
from fusion_nodes.core.track_models import MOTION_MODELS

from .params import ParamSpec, intrinsics, length, one_of, stamp_specs


def cross_checks():
    """At least one detection input, and one that starts tracks."""
    return [lambda p: None if any(p[k] for k in ("radar_topic", "camera_topic", "fused_topic")) else
            "radar_topic, camera_topic and fused_topic are all empty: nothing to track",
            lambda p: None if p["radar_topic"] or p["fused_topic"] or p["camera_initiates"] or not p["camera_topic"]
            else "camera_initiates is false and camera_topic is the only input: no track would ever start",
            lambda p: None if p["publish_existence"] >= p["delete_existence"] else
            "publish_existence is below delete_existence: deleted tracks cannot be published",
            lambda p: None if len(p["class_footprints"]) == 2 * len(p["classes"]) else
            f"class_footprints has {len(p['class_footprints'])} numbers; {len(p['classes'])} classes need "
            f"{2 * len(p['classes'])} (length, width per class)",
            lambda p: None if len(p["class_doppler_spread"]) == len(p["classes"]) else
            f"class_doppler_spread has {len(p['class_doppler_spread'])} numbers; {len(p['classes'])} classes need "
            f"{len(p['classes'])} (one m/s per class)"]


def specs() -> list[ParamSpec]:
    """tracker_node's parameters, in README order: topics, tracker components, sensors, timing."""
    return [*_topic_specs(), *_tracker_specs(), *_sensor_specs(), *_camera_specs(), *_timing_specs()]


def _topic_specs() -> list[ParamSpec]:
    """Inputs, outputs, frames, classes."""
    ro = dict(read_only=True)
    return [
        ParamSpec("radar_topic", "radar/clusters", "radar_node clusters (PointCloud2, base_link: x y "
                  "doppler_mean [score_<class>]); empty: off.", **ro),
        ParamSpec("camera_topic", "camera/detections", "camera_node detections (PointCloud2: u v width_px "
                  "height_px [score_<class>]); empty: off.", **ro),
        ParamSpec("fused_topic", "", "early_fusion_node objects (PointCloud2, base_link: x y "
                  "[score_<class>]); empty: off.", **ro),
        ParamSpec("odometry_topic", "odometry/filtered", "Ego pose (nav_msgs/Odometry) that places detections "
                  "in its world frame; empty: tracks in base_link (a robot that does not move). Use radar_node's "
                  "`odometry_topic`: its Doppler is compensated with that ego velocity.", **ro),
        ParamSpec("output_topic", "tracks", "Tracked objects (fusion_msgs/TrackedObjectArray).", **ro),
        ParamSpec("vision_topic", "tracks/detections", "Tracks also as vision_msgs/Detection3DArray (id = track "
                  "id; class hypotheses best first, each with the position and its covariance; no velocity: "
                  "output_topic has it); class list on <topic>/label_info; empty: off.", **ro),
        ParamSpec("markers_topic", "tracks/markers", "Tracks as visualization_msgs/MarkerArray (boxes, ids, "
                  "velocity arrows); empty: off.", **ro),
        ParamSpec("base_link_frame", "base_link", "Frame of the detections.", **ro),
        ParamSpec("classes", ["car", "pedestrian", "cyclist", "pole"], "Class names; an input's "
                  "score_<class> fields give the per-frame class probabilities.", **ro),
        ParamSpec("class_footprints", [4.5, 1.8, 0.5, 0.5, 1.8, 0.6, 0.3, 0.3], "Ground footprint of each "
                  "class, length and width (m) in the order of classes: the camera's box model predicts "
                  "the box an object of that shape makes.", check=_footprints, **ro),
        ParamSpec("class_doppler_spread", [0.5, 0.65, 1.1, 0.2], "Spread (std, m/s) of one radar return's "
                  "radial speed about its object's, per class in the order of classes (micro-Doppler: limbs, "
                  "wheels); a cluster's Doppler of n returns gets the spread its track's class belief expects, "
                  "over n, on top of radar_doppler_std. Measured per class by `fusion eval --tracking` on a "
                  "drive with object truth; all 0: off.", check=_spreads, **ro),
    ]


def _spreads(v):
    return None if all(x >= 0 and x <= 100 for x in v) else "speeds in [0, 100] m/s"


def _footprints(v):
    return None if all(x >= 0 and x < 1e3 for x in v) else "lengths and widths in [0, 1000) m"


def _tracker_specs() -> list[ParamSpec]:
    """Motion model, filter, gate, confirmation, deletion, class belief."""
    ro = dict(read_only=True)
    return [
        ParamSpec("motion_model", "constant_velocity", "constant_velocity or constant_turn_rate (CTRV).",
                  check=one_of(*sorted(MOTION_MODELS)), **ro),
        ParamSpec("filter", "ekf", "Per-track filter: ekf or ukf (filterpy).",
                  check=one_of(*sorted(TRACK_FILTERS)), **ro),
        ParamSpec("process_noise", 1.0, "Acceleration noise (m^2/s^3 for constant velocity, m^2/s^4 for "
                  "CTRV).", 1e-6, 1e4, **ro),
        ParamSpec("yaw_noise", 0.1, "CTRV yaw acceleration noise (rad^2/s^4).", 1e-6, 1e3, **ro),
        ParamSpec("gate_probability", 0.99, "Mahalanobis gate: chi-square probability mass admitted.",
                  0.5, 0.999999, **ro),
        ParamSpec("association", "gnn", "Data association: gnn (global nearest neighbour: each track takes the one "
                  "detection of the least total cost) or jpda (joint probabilistic: each track takes every "
                  "detection in its gate, weighted by the probability that it is its own, against the "
                  "<input>_clutter_density of false ones; for crowds, where the nearest is often another's).",
                  check=one_of("gnn", "jpda"), **ro),
        ParamSpec("confirmation", "m_of_n", "How a tentative track is confirmed: m_of_n (confirm_hits of its "
                  "first confirm_window frames are hits) or existence (its existence probability reaches "
                  "confirm_existence; weighs each sensor by its detection probability).",
                  check=one_of("m_of_n", "existence"), **ro),
        ParamSpec("confirm_existence", 0.95, "confirmation existence: the existence probability that confirms.",
                  0.01, 0.999999, **ro),
        ParamSpec("confirm_hits", 3, "M of the M-of-N confirmation.", 1, 100, **ro),
        ParamSpec("confirm_window", 5, "N of the M-of-N confirmation.", 1, 100, **ro),
        ParamSpec("max_coast", 1.5, "A track no sensor updated for this long (s) is deleted.", 0.01, 60.0, **ro),
        ParamSpec("max_position_std", 6.0, "A track whose position std exceeds this (m) is deleted.",
                  0.01, 1000.0, **ro),
        ParamSpec("delete_existence", 0.01, "A track whose existence probability falls below this is deleted.",
                  1e-6, 0.99, **ro),
        ParamSpec("merge_probability", 0.9, "Two tracks whose extents touch and whose velocities agree "
                  "within this chi-square probability are one object (a split radar cluster): "
                  "the younger is dropped. Higher merges more readily; 0 merges none.", 0.0, 0.999999, **ro),
        ParamSpec("publish_existence", 0.5, "Confirmed tracks are published while their existence probability "
                  "is at least this (>= delete_existence); below it they are kept, unpublished, under their id.",
                  0.0, 1.0, read_only=False),
        ParamSpec("publish_rate", 0.0, "Hz: publish the tracks on a timer of the node clock instead, each "
                  "predicted to that instant and stamped with it (delay compensation: a planner gets where the "
                  "objects are now, not where they were at the newest applied frame, processing_delay and more "
                  "ago); none once no frame came for max_coast. 0: after each applied frame, at its stamp.",
                  0.0, 1000.0, **ro),
        ParamSpec("class_rule", "bayes", "How per-frame class scores combine over time: bayes or average.",
                  check=one_of("bayes", "average"), **ro),
        ParamSpec("class_half_life", 3.0, "Class evidence fades toward uniform with this half-life (s).",
                  0.01, 1e4, **ro),
        ParamSpec("class_association_weight", 0.0, "Weight of the class evidence in the association: a pair's "
                  "cost gains -2 weight ln LR, LR = C sum_c belief(c) score(c) (1: no information). 0: "
                  "kinematics alone. Needs inputs with calibrated score_<class> fields.", 0.0, 100.0, **ro),
        ParamSpec("class_association_min_ratio", 0.0, "A detection whose class scores fit a track's belief with "
                  "LR below this is not that track's (a pedestrian's box near a pole's track). 0: none refused.",
                  0.0, 100.0, **ro),
    ]


def _sensor_specs() -> list[ParamSpec]:
    """The radar's mount, coverage, noise, detection probability (the camera's: :func:`_camera_specs`)."""
    ro = dict(read_only=True)
    return [
        ParamSpec("radar_mount", [0.0] * 6, "Transform base_link -> radar: x y z (m) roll pitch yaw (rad); "
                  "the Doppler's line of sight starts at the radar.", check=length(6), **ro),
        ParamSpec("radar_fov", [60.0, 0.6], "Radar coverage: max range (m), half angle (rad); tracks outside "
                  "are not expected in its frames.", check=length(2), **ro),
        ParamSpec("radar_position_std", 0.7, "Radar cluster centroid std (m) per axis that averaging "
                  "over its points does not remove (where on the object they fall); range and azimuth errors "
                  "add to it.", 1e-3, 100.0,
                  read_only=False),
        ParamSpec("radar_range_std", 0.0, "Radar range error std (m) of one detection (the datasheet's "
                  "range accuracy): along the line of sight, averaged over a cluster's points.", 0.0, 100.0,
                  read_only=False),
        ParamSpec("radar_azimuth_std", 0.0, "Radar azimuth error std (rad) of one detection (the datasheet's "
                  "angle accuracy): across the line of sight, x range, averaged over a cluster's points.",
                  0.0, 0.5, read_only=False),
        ParamSpec("radar_doppler_std", 0.4, "Ego-compensated Doppler std (m/s).", 1e-3, 100.0, read_only=False),
        ParamSpec("radar_detection_probability", 0.8, "Chance the radar detects an object in its field of "
                  "view in a scan (track existence).", 0.01, 0.99, read_only=False),
        ParamSpec("radar_clutter_density", 0.03, "association jpda: radar detections not the track's per unit "
                  "volume of the measurement space (x, y in m, range rate in m/s: per m^2 m/s), near the tracks: "
                  "clutter, and an object's second cluster or a neighbour's. Higher trusts a detection less, "
                  "confirms more slowly. Tuned on drives 11-13 (uniform clutter alone would be ~1e-4 .. 1e-3).",
                  1e-12, 1e6, **ro),
        ParamSpec("radar_use_doppler", True, "Use doppler_mean (ego-compensated by radar_node) as a range "
                  "rate measurement.", **ro),
    ]


def _camera_specs() -> list[ParamSpec]:
    """The camera's and the early-fused objects' mount, model, noise and detection probability."""
    ro = dict(read_only=True)
    return [
        ParamSpec("camera_mount", [0.0, 0.0, 0.0, -1.5707963267948966, 0.0, -1.5707963267948966],
                  "Transform base_link -> camera optical frame: x y z (m) roll pitch yaw (rad).",
                  check=length(6), **ro),
        ParamSpec("camera_intrinsics", [500.0, 500.0, 320.0, 240.0], "fx fy cx cy (px) of the camera "
                  "(image width taken as 2 cx); unused with camera_info_topic.", check=intrinsics, **ro),
        ParamSpec("camera_info_topic", "", "The camera's sensor_msgs/CameraInfo (camera_node's own): K with "
                  "its binning and ROI applied (REP-104) and the image width then replace camera_intrinsics, "
                  "and detections wait for it; empty: camera_intrinsics.", **ro),
        ParamSpec("camera_box_model", True, "Predict the camera's box from the track's footprint (class_footprints, "
                  "heading from the velocity): the box centre of an oblique car is not its centre, its bottom "
                  "edge is the nearest corner. false: every object a point.", **ro),
        ParamSpec("camera_bearing_std", 0.01, "Camera bearing std (rad) of a point-like object.", 1e-5, 1.0, **ro),
        ParamSpec("camera_bearing_width_factor", 0.1, "Bearing std grows with the box: std = hypot("
                  "camera_bearing_std, factor * box angular width), since a wide box's centre need not be "
                  "the object's (oblique cars, partial occlusion).", 0.0, 10.0, **ro),
        ParamSpec("camera_occlusion_gap", -1.0, "rad: a camera box moves a track (position, class) only when no "
                  "other track's predicted silhouette comes this close to the track's own; else it only says the "
                  "object is there (boxes of partly hidden or touching objects are centred on none of them; "
                  "diagnostics: camera_occluded_total). Negative: off, every assigned box updates.", -1.0, 1.0,
                  **ro),
        ParamSpec("camera_update_interval", 0.5, "s: a camera box moves a track's position at most this often "
                  "(per track); the boxes in between say it is there and what it is (existence, class). A "
                  "box's bearing error persists from frame to frame (rounded pixels, a blob's slowly changing "
                  "shape), so each further frame is nearly the same look again (diagnostics: camera_held_total). "
                  "0: every box moves it.", 0.0, 60.0, **ro),
        ParamSpec("camera_rangeless_update", False, "Whether a camera box without a ground contact (cut by the "
                  "image's bottom, at or above the horizon, beyond camera_max_range: no range) is associated by "
                  "its bearing and moves its track; false: it is left out. Such boxes are the camera's worst "
                  "(cut, merged, fragments): on drives 11-13 moving tracks by them cost 0.06 GOSPA, and counting "
                  "them only as seen gained nothing (docs/tracking_camera_study.md).", **ro),
        ParamSpec("camera_range_std", 0.2, "Monocular ground-contact range std as a fraction of the range.",
                  1e-3, 10.0, **ro),
        ParamSpec("camera_detection_probability", 0.4, "Chance the camera detects an object in its field of "
                  "view in a frame (track existence).", 0.01, 0.99, **ro),
        ParamSpec("camera_clutter_density", 0.001, "association jpda: camera boxes not the track's per unit "
                  "volume of the measurement space (bearing rad x ground range m). Tuned on drives 11-13.",
                  1e-12, 1e6, **ro),
        ParamSpec("camera_initiates", True, "Camera detections outside every track's gate start tracks; false: "
                  "the camera only updates tracks another input started (its monocular range is too poor to "
                  "place a new track well).", **ro),
        ParamSpec("camera_max_range", 60.0, "Camera coverage (m); farther ground contacts carry no range.",
                  0.1, 1e4, **ro),
        ParamSpec("fused_position_std", 0.7, "Early-fusion object position std (m) per axis.", 1e-3, 100.0, **ro),
        ParamSpec("fused_detection_probability", 0.6, "Chance early fusion reports a located object in its "
                  "view (track existence).", 0.01, 0.99, **ro),
        ParamSpec("fused_clutter_density", 0.05, "association jpda: early-fusion objects not the track's per m^2 "
                  "near the tracks (clutter, a neighbour's, an object's second one). Tuned on drives 11-13.",
                  1e-12, 1e6, **ro),
    ]


def _timing_specs() -> list[ParamSpec]:
    """Stamp handling and sanity limits."""
    ro = dict(read_only=True)
    return [
        ParamSpec("processing_delay", 0.1, "Frames wait this long (s, stamp time) so that inputs with different "
                  "latencies are applied in stamp order; later frames are dropped as late.", 0.0, 10.0, **ro),
        ParamSpec("pose_tolerance", 0.2, "Ego poses are held this long (s) past the newest one.", 0.0, 10.0, **ro),
        ParamSpec("max_range", 200.0, "Detections farther than this (m) are absurd and drop the message.",
                  1.0, 1e5, **ro),
        *stamp_specs(),
    ]
