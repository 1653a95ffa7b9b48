"""Radar scan processing: gating, ego-motion compensation, clustering, cluster features.

A scan is a set of detections in the radar frame: position (m), radial
(Doppler) velocity (m/s, positive moving away), RCS (dBsm) and SNR (dB).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .geometry import cross

FEATURE_NAMES = ("x", "y", "z", "extent_x", "extent_y", "extent_z", "doppler_mean", "doppler_std",
                 "rcs_mean", "rcs_max", "points", "moving")


@dataclass(frozen=True)
class RadarScan:
    """Detections as columns; ``xyz`` is n x 3, the others length n."""

    stamp: float
    xyz: np.ndarray
    doppler: np.ndarray
    rcs: np.ndarray
    snr: np.ndarray

    def __post_init__(self):
        n = len(self.xyz)
        if any(len(a) != n for a in (self.doppler, self.rcs, self.snr)):
            raise ValueError("radar columns differ in length")

    def subset(self, keep) -> "RadarScan":
        return RadarScan(self.stamp, self.xyz[keep], self.doppler[keep], self.rcs[keep], self.snr[keep])


def finite(scan: RadarScan) -> np.ndarray:
    """Detections whose position, Doppler and RCS are finite (SNR may be +inf: no SNR field)."""
    return np.isfinite(scan.xyz).all(axis=1) & np.isfinite(scan.doppler) & np.isfinite(scan.rcs) \
        & ~np.isnan(scan.snr)


def gate(scan: RadarScan, min_range: float, max_range: float, min_snr: float) -> RadarScan:
    """Keep :func:`finite` detections with ``min_range <= |p| <= max_range`` and ``snr >= min_snr``."""
    finite_ = finite(scan)
    r = np.linalg.norm(np.where(finite_[:, None], scan.xyz, 0.0), axis=1)
    return scan.subset(finite_ & (r >= min_range) & (r <= max_range) & (scan.snr >= min_snr))


def doppler_residual(scan: RadarScan, v_sensor: np.ndarray) -> np.ndarray:
    """Doppler minus what a static world would give.

    A static point at unit direction ``u`` seen from a sensor moving with
    velocity ``v`` (sensor frame) has radial velocity ``-u . v``; the residual
    ``doppler + u . v`` is the target's own radial speed.
    """
    u = scan.xyz / np.maximum(np.linalg.norm(scan.xyz, axis=1, keepdims=True), 1e-9)
    return scan.doppler + u @ np.asarray(v_sensor, dtype=float)


def sensor_velocity(v_base, w_base, mount_R, mount_t) -> np.ndarray:
    """Radar-frame velocity of a sensor mounted at ``t`` with rotation ``R`` (base -> sensor)."""
    return mount_R.T @ (np.asarray(v_base, float) + cross(w_base, mount_t))


def cluster(xyz: np.ndarray, eps: float, min_points: int) -> np.ndarray:
    """Label points by single-linkage clusters (neighbours within ``eps`` m).

    Returns one label per point; ``-1`` for clusters smaller than ``min_points``.
    """
    n = len(xyz)
    if n == 0:
        return np.zeros(0, dtype=int)
    pairs = cKDTree(xyz).query_pairs(eps, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    counts = np.bincount(labels)
    labels = np.where(counts[labels] >= min_points, labels, -1)
    # Renumber 0..k-1 in order of first appearance for stable output.
    uniq = [label for label in dict.fromkeys(labels) if label >= 0]
    remap = {old: new for new, old in enumerate(uniq)}
    return np.array([remap.get(label, -1) for label in labels])


def cluster_features(scan: RadarScan, labels: np.ndarray, residual: np.ndarray,
                     moving_threshold: float) -> np.ndarray:
    """One row of :data:`FEATURE_NAMES` per cluster label ``0..k-1``."""
    k = labels.max() + 1 if len(labels) else 0
    rows = []
    for c in range(k):
        idx = labels == c
        p, d, rcs = scan.xyz[idx], residual[idx], scan.rcs[idx]
        rows.append([*p.mean(axis=0), *(p.max(axis=0) - p.min(axis=0)), d.mean(), d.std(), rcs.mean(),
                     rcs.max(), idx.sum(), float(abs(d.mean()) > moving_threshold)])
    return np.array(rows, dtype=float).reshape(-1, len(FEATURE_NAMES))
