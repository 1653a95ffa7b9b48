# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""camera_node parameters."""
from __future__ import annotations

from .objects import output_specs
from .params import ParamSpec, intrinsics, stamp_specs, one_of


def specs() -> list[ParamSpec]:
    return [
        ParamSpec("image_topic", "camera/image_raw", "Input image (sensor_msgs/Image).", read_only=True),
        ParamSpec("camera_info_topic", "camera/camera_info", "Intrinsics (sensor_msgs/CameraInfo).",
                  read_only=True),
        ParamSpec("detections_topic", "camera/detections", "Detections with features (PointCloud2).",
                  read_only=True),
        ParamSpec("scene_topic", "camera/scene_features", "Scene feature vector "
                  "(std_msgs/Float32MultiArray: detections, brightness, saturation, edge density).",
                  read_only=True),
        ParamSpec("detector", "color", "color (colour/contour segmentation), hog (OpenCV people "
                  "detector) or both.", check=one_of("color", "hog", "both")),
        ParamSpec("segment_threshold", 60.0, "Colour distance from the row median that marks an "
                  "object pixel (sum over BGR, 0-765).", 1.0, 765.0),
        ParamSpec("min_area", 30, "Smallest detection (pixels).", 1, 1_000_000),
        ParamSpec("segment_max_width", 320, "Images wider than this (px) are segmented at this width and the "
                  "boxes scaled back: faster, but objects closer than a few pixels merge and box centres are "
                  "coarser (raise to the image width for full resolution).", 16, 100_000),
        ParamSpec("segment_split", 0.0, "Separate touching objects of different colours: neighbouring object "
                  "pixels whose smoothed colours differ by this much (sum over BGR, 0-765) belong to different "
                  "detections; 0: every connected object region is one detection.", 0.0, 765.0),
        ParamSpec("publish_debug_image", False, "Publish the image with boxes on debug_topic (off: "
                  "raw images of people stay in the node)."),
        ParamSpec("debug_topic", "camera/debug_image", "Debug image topic.", read_only=True),
        ParamSpec("capture_device", "", "Driver mode: a device index ('0') or video file for "
                  "cv2.VideoCapture; empty: subscribe to image_topic.", read_only=True),
        ParamSpec("capture_rate", 15.0, "Frames per second in driver mode.", 0.1, 240.0, read_only=True),
        ParamSpec("capture_intrinsics", [500.0, 500.0, 320.0, 240.0], "fx fy cx cy (px) in driver "
                  "mode, where there is no CameraInfo.", check=intrinsics, read_only=True),
        ParamSpec("frame_id", "camera_optical", "Frame of captured images in driver mode.", read_only=True),
        ParamSpec("model_file", "", "Model from `fusion fit` (JSON) whose classifier adds class_id, "
                  "confidence and score_<class> fields; a bare name is looked up in the package's config "
                  "directory; empty: no scores.", read_only=True),
        *output_specs("camera/detections_2d", ""),
        *stamp_specs(),
    ]
