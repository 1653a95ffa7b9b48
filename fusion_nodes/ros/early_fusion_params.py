# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""early_fusion_node parameters."""
from __future__ import annotations

from .sync import sync_specs
from .objects import output_specs
from .params import ParamSpec, intrinsics, stamp_specs, length


def specs() -> list[ParamSpec]:
    return [
        ParamSpec("camera_topic", "camera/detections", "camera_node detections (PointCloud2).", read_only=True),
        ParamSpec("radar_topic", "radar/clusters", "radar_node clusters (PointCloud2, base_link).",
                  read_only=True),
        ParamSpec("imu_topic", "imu/features", "imu_gps_node windowed IMU features (PointCloud2).",
                  read_only=True),
        ParamSpec("output_topic", "fusion/early/objects", "Fused objects (PointCloud2: x y z bearing "
                  "class_id confidence score_<class> has_camera has_radar [f_<i>]).", read_only=True),
        ParamSpec("scene_topic", "fusion/early/scene", "Scene features (PointCloud2, one point: counts, "
                  "mean confidence, IMU features).", read_only=True),
        ParamSpec("model_file", "early_fusion_model.json", "Model from `fusion fit` (JSON). A bare file "
                  "name is looked up in the package's config directory.", read_only=True),
        ParamSpec("camera_mount", [0.0, 0.0, 0.0, -1.5707963267948966, 0.0, -1.5707963267948966],
                  "Transform base_link -> camera optical frame: x y z (m) roll pitch yaw (rad).",
                  check=length(6), read_only=True),
        ParamSpec("camera_intrinsics", [500.0, 500.0, 320.0, 240.0], "fx fy cx cy (px) of the camera "
                  "that produced the detections; unused with camera_info_topic.", check=intrinsics),
        ParamSpec("camera_info_topic", "", "The camera's sensor_msgs/CameraInfo (camera_node's own): K with its "
                  "binning and ROI applied (REP-104) replaces camera_intrinsics; until the first, camera "
                  "detections are dropped from their sets (no_camera_info); empty: camera_intrinsics.",
                  read_only=True),
        ParamSpec("association_gate", 1.5, "Largest camera-radar association cost: distance from the "
                  "box centre to the projected cluster in box half-sizes (+ margin).", 0.01, 100.0),
        ParamSpec("association_margin", 6.0, "Pixels added to each box half-size in the association cost.",
                  0.0, 1000.0),
        *sync_specs(),
        ParamSpec("publish_features", False, "Add the fused feature vector (f_0 ..) to each object."),
        ParamSpec("publish_camera_only", True, "Publish camera detections without a radar partner "
                  "(position NaN, bearing from the camera)."),
        *output_specs("fusion/early/detections", "fusion/early/markers"),
        *stamp_specs(),
    ]
