# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Early (feature-level) fusion: per-object vectors [camera | radar | imu].

Per modality, node outputs become a fixed feature vector (documented order
in :data:`CAMERA_INPUTS`, :data:`RADAR_INPUTS`, :data:`IMU_INPUTS`):

* camera: appearance of the detection box; width and height enter as
  ``log`` pixels so that, stacked with the radar's ``log range``, a linear
  model can form the physical size ``log(h_px) + log(range) - log(f)``;
* radar: ``log range``, cluster extent, |ego-compensated Doppler| mean and
  spread, RCS statistics, ``log`` point count, moving flag;
* imu: the windowed IMU features of the scene (the same for every object).

A camera detection and a radar cluster are associated by projecting the
cluster centroid into the image (pinhole ``u = fx x/z + cx``,
``v = fy y/z + cy`` in the optical frame) and solving the assignment problem
(Hungarian, :func:`scipy.optimize.linear_sum_assignment`) on the distance to
the box centre measured in box half-sizes, with a gate.

:class:`EarlyFusionModel` standardises each view, projects the stack
(``none``: concatenation; ``pca``; ``cca`` between camera and radar with the
imu view appended; ``mcca`` over all three views), standardises again and
classifies with a softmax classifier. Objects seen by one modality only are
classified by that modality's own classifier, fitted on the same samples.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from . import projection
from .classify import SoftmaxClassifier, Standardizer

CAMERA_INPUTS = ("elevation", "log_width_px", "log_height_px", "aspect", "fill", "mean_b", "mean_g", "mean_r",
                 "saturation", "grad_mean", "grad_orient_entropy", *(f"hue_{i}" for i in range(8)))
RADAR_INPUTS = ("log_range", "extent_x", "extent_y", "extent_z", "abs_doppler_mean", "doppler_std", "rcs_mean",
                "rcs_max", "log_points", "moving")
IMU_INPUTS = ("vibration_energy", "acc_std_x", "acc_std_y", "acc_std_z", "gyro_mean_x", "gyro_mean_y",
              "gyro_mean_z", "gyro_std_x", "gyro_std_y", "gyro_std_z", "gyro_peak")
# Fields each input message must carry (camera_node, radar_node, imu_gps_node outputs).
CAMERA_FIELDS = ("u", "v", "bearing", "elevation", "width_px", "height_px", "aspect", "fill", "mean_b", "mean_g",
                 "mean_r", "saturation", "grad_mean", "grad_orient_entropy", *(f"hue_{i}" for i in range(8)))
RADAR_FIELDS = ("x", "y", "z", "extent_x", "extent_y", "extent_z", "doppler_mean", "doppler_std", "rcs_mean",
                "rcs_max", "points", "moving")
IMU_FIELDS = IMU_INPUTS
PROJECTIONS = tuple(projection.PROJECTION_TYPES)
MODALITIES = ("camera", "radar", "imu")


def camera_vectors(det) -> np.ndarray:
    """:data:`CAMERA_INPUTS` rows from camera detections (structured array or dict of columns)."""
    cols = {k: np.asarray(det[k], float) for k in ("elevation", "aspect", "fill", "mean_b", "mean_g", "mean_r",
                                                    "saturation", "grad_mean", "grad_orient_entropy",
                                                    *(f"hue_{i}" for i in range(8)))}
    cols["log_width_px"] = np.log(np.maximum(np.asarray(det["width_px"], float), 1.0))
    cols["log_height_px"] = np.log(np.maximum(np.asarray(det["height_px"], float), 1.0))
    return np.column_stack([cols[k] for k in CAMERA_INPUTS]) if len(cols["aspect"]) else np.zeros((0, 19))


def radar_vectors(clusters) -> np.ndarray:
    """:data:`RADAR_INPUTS` rows from radar clusters (positions in base_link, m)."""
    xyz = np.column_stack([np.asarray(clusters[k], float) for k in ("x", "y", "z")])
    rows = [np.log(np.maximum(np.linalg.norm(xyz, axis=1), 0.1)),
            *(np.asarray(clusters[k], float) for k in ("extent_x", "extent_y", "extent_z")),
            np.abs(np.asarray(clusters["doppler_mean"], float)), np.asarray(clusters["doppler_std"], float),
            np.asarray(clusters["rcs_mean"], float), np.asarray(clusters["rcs_max"], float),
            np.log(np.maximum(np.asarray(clusters["points"], float), 1.0)), np.asarray(clusters["moving"], float)]
    return np.column_stack(rows) if len(xyz) else np.zeros((0, len(RADAR_INPUTS)))


def imu_vector(features) -> np.ndarray:
    """:data:`IMU_INPUTS` from one imu/features point."""
    return np.array([float(np.asarray(features[k]).ravel()[0]) for k in IMU_INPUTS])


def project_to_image(points_base, cam_R, cam_t, K):
    """Pixels ``(n, 2)`` and depth ``(n,)`` (m, along the optical axis) of base_link points.

    ``cam_R`` rotates optical-frame vectors into base_link and ``cam_t`` is
    the camera origin in base_link, so ``p_cam = cam_R^T (p_base - cam_t)``.
    """
    pc = (np.asarray(points_base, float).reshape(-1, 3) - cam_t) @ cam_R
    z = pc[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = np.column_stack([K[0, 0] * pc[:, 0] / z + K[0, 2], K[1, 1] * pc[:, 1] / z + K[1, 2]])
    return uv, z


def associate(box_uv, box_wh, radar_xyz, cam_R, cam_t, K, gate: float = 1.5, margin_px: float = 6.0,
              min_depth: float = 0.5) -> list[tuple[int, int]]:
    """Pairs ``(camera index, radar index)`` of a globally optimal assignment.

    Cost of a pair: ``hypot(du / (w/2 + margin), dv / (h/2 + margin))`` with
    ``du, dv`` (px) from the box centre to the projected cluster centroid;
    1 is the edge of the box grown by ``margin_px``. Pairs with cost above
    ``gate`` or a centroid less than ``min_depth`` m in front of the camera
    are not allowed.
    """
    box_uv, box_wh = np.asarray(box_uv, float).reshape(-1, 2), np.asarray(box_wh, float).reshape(-1, 2)
    if len(box_uv) == 0 or len(radar_xyz) == 0:
        return []
    uv, depth = project_to_image(radar_xyz, cam_R, cam_t, K)
    half = box_wh / 2.0 + margin_px
    du = (uv[None, :, 0] - box_uv[:, 0:1]) / half[:, 0:1]
    dv = (uv[None, :, 1] - box_uv[:, 1:2]) / half[:, 1:2]
    cost = np.hypot(du, dv)
    allowed = (depth[None, :] >= min_depth) & np.isfinite(cost) & (cost <= gate)
    big = gate * 1e3 + 1.0   # finite stand-in for "not allowed": the solver needs a feasible matrix
    rows, cols = linear_sum_assignment(np.where(allowed, cost, big))
    return [(int(r), int(c)) for r, c in zip(rows, cols) if allowed[r, c]]


@dataclass(frozen=True)
class EarlyFusionModel:
    """Normalisation, projection and classifiers of early fusion (see module docstring)."""

    classes: tuple
    projection: str
    scalers: dict          # modality -> Standardizer
    projector: projection.Projection
    post: Standardizer     # on the projected vector
    classifiers: dict      # "camera" | "radar" | "fused" -> SoftmaxClassifier

    @property
    def dimension(self) -> int:
        return len(self.post.mean)

    def fused_features(self, cam, rad, imu) -> np.ndarray:
        """Projected, standardised fused vectors (n x :attr:`dimension`); ``imu`` None: mean IMU."""
        zc = self.scalers["camera"].transform(np.atleast_2d(cam))
        zr = self.scalers["radar"].transform(np.atleast_2d(rad))
        zi = np.zeros((len(zc), len(IMU_INPUTS))) if imu is None else \
            np.broadcast_to(self.scalers["imu"].transform(np.atleast_2d(imu)), (len(zc), len(IMU_INPUTS)))
        return self.post.transform(self.projector.fuse(zc, zr, zi))

    def predict_proba(self, cam=None, rad=None, imu=None) -> np.ndarray:
        """Class probabilities from whichever of camera and radar rows are given."""
        if cam is not None and rad is not None:
            return self.classifiers["fused"].predict_proba(self.fused_features(cam, rad, imu))
        if cam is not None:
            return self.classifiers["camera"].predict_proba(self.scalers["camera"].transform(np.atleast_2d(cam)))
        if rad is not None:
            return self.classifiers["radar"].predict_proba(self.scalers["radar"].transform(np.atleast_2d(rad)))
        raise ValueError("need camera or radar features")

    def to_dict(self) -> dict:
        return {"format": "fusion_nodes.early_fusion/1", "classes": list(self.classes),
                "projection": self.projection,
                "inputs": {"camera": list(CAMERA_INPUTS), "radar": list(RADAR_INPUTS), "imu": list(IMU_INPUTS)},
                "scalers": {k: v.to_dict() for k, v in self.scalers.items()},
                "projector": self.projector.to_dict(),
                "post": self.post.to_dict(),
                "classifiers": {k: v.to_dict() for k, v in self.classifiers.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "EarlyFusionModel":
        if d.get("format") != "fusion_nodes.early_fusion/1":
            raise ValueError(f"not an early-fusion model file (format {d.get('format')!r})")
        expected = {"camera": list(CAMERA_INPUTS), "radar": list(RADAR_INPUTS), "imu": list(IMU_INPUTS)}
        if d["inputs"] != expected:
            raise ValueError("model was fitted on different feature inputs than this version computes")
        kind = d["projection"]
        if kind not in projection.PROJECTION_TYPES:
            raise ValueError(f"unknown projection {kind!r}")
        return cls(tuple(d["classes"]), kind, {k: Standardizer.from_dict(v) for k, v in d["scalers"].items()},
                   projection.PROJECTION_TYPES[kind].from_dict(d["projector"]),
                   Standardizer.from_dict(d["post"]),
                   {k: SoftmaxClassifier.from_dict(v) for k, v in d["classifiers"].items()})

    def save(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path) -> "EarlyFusionModel":
        return cls.from_dict(json.loads(Path(path).read_text()))


def fit_projection(kind: str, zc, zr, zi, k: int | None = None, reg: float = 1e-3) -> projection.Projection:
    """The projection ``kind`` (:data:`PROJECTIONS`) fitted on standardised views.

    ``k`` is the number of PCA components or canonical directions (default:
    all that the views allow); ``reg`` is added to the auto-covariances of
    the standardised views in CCA / multi-set CCA.
    """
    if kind not in PROJECTIONS:
        raise ValueError(f"projection must be one of {PROJECTIONS}, not {kind!r}")
    return projection.PROJECTION_TYPES[kind].fit(zc, zr, zi, k, reg)
