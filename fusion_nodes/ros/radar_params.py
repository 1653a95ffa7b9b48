# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""radar_node parameters."""
from __future__ import annotations

from .objects import output_specs
from .params import ParamSpec, stamp_specs, length


def cross_checks():
    """Checks across radar_node's parameters."""
    return [lambda p: None if p["min_range"] < p["max_range"] else
            f"min_range {p['min_range']} must be below max_range {p['max_range']} (no detection would pass)"]


def specs() -> list[ParamSpec]:
    return [
        ParamSpec("input_topic", "radar/points", "Radar detections (sensor_msgs/PointCloud2).", read_only=True),
        ParamSpec("output_topic", "radar/clusters", "Clusters with features (PointCloud2).", read_only=True),
        ParamSpec("odometry_topic", "odometry/filtered", "Ego motion for Doppler compensation "
                  "(nav_msgs/Odometry, twist in base_link); empty: none.", read_only=True),
        ParamSpec("base_link_frame", "base_link", "Frame of the published cluster positions.", read_only=True),
        ParamSpec("doppler_fields", ["doppler", "velocity", "radial_velocity", "v_r"],
                  "Names tried, in order, for the radial velocity field.", read_only=True),
        ParamSpec("rcs_fields", ["rcs", "intensity"], "Names tried for the RCS field.", read_only=True),
        ParamSpec("snr_fields", ["snr", "power"], "Names tried for the SNR field (none found: "
                  "no SNR gate).", read_only=True),
        ParamSpec("mount", [0.0] * 6, "Transform base_link -> radar: x y z (m) roll pitch yaw (rad).",
                  check=length(6), read_only=True),
        ParamSpec("min_range", 0.5, "Detections closer than this (m) are dropped.", 0.0, 1000.0),
        ParamSpec("max_range", 100.0, "Detections farther than this (m) are dropped.", 0.0, 10000.0),
        ParamSpec("min_snr", 0.0, "Detections below this SNR (dB) are dropped.", -100.0, 200.0),
        ParamSpec("cluster_eps", 1.5, "Neighbour distance (m) for clustering.", 0.01, 100.0),
        ParamSpec("cluster_min_points", 2, "Smallest cluster kept.", 1, 10000),
        ParamSpec("moving_threshold", 0.5, "|ego-compensated Doppler| (m/s) above which a cluster "
                  "is moving.", 0.0, 100.0),
        ParamSpec("odometry_timeout", 0.5, "The Doppler is compensated with the odometry's twist at the scan's "
                  "stamp (interpolated; the nearest held up to this many s past the newest or oldest of the last "
                  "2 s); farther from any odometry the Doppler is used as measured.", 0.0, 60.0),
        ParamSpec("model_file", "", "Model from `fusion fit` (JSON) whose classifier adds class_id, "
                  "confidence and score_<class> fields; a bare name is looked up in the package's config "
                  "directory; empty: no scores.", read_only=True),
        *output_specs("radar/detections", "radar/markers"),
        ParamSpec("max_points", 100000, "Scans with more detections than this are dropped (too_many_points): "
                  "they would cost more than a scan period.", 1, 10_000_000, read_only=True),
        *stamp_specs(),
    ]
