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


# Points per grid cell used to test links between cells (see :func:`cluster`).
CELL_CAP = 32


def cluster(xyz: np.ndarray, eps: float, min_points: int, cell_cap: int = CELL_CAP) -> np.ndarray:
    """Label points by single-linkage clusters (neighbours within ``eps`` m), in O(N log N).

    Points are binned in cubes of side ``eps / sqrt(3)``: any two points of
    one cube are closer than ``eps``, so a cube belongs to one cluster
    whatever it holds. Links between cubes are found with a k-d tree
    (``query_pairs``) over at most ``cell_cap`` points per cube: its extreme
    points along x, y and z first, then the others in scan order. That bounds
    the pairs to O(N) where a dense blob (thousands of co-located
    detections) used to make O(N^2) of them. The result is exactly single
    linkage whenever no cube holds more than ``cell_cap`` points (a 0.87 m
    cube with 32 detections at ``eps`` 1.5 m); beyond that, links out of a
    dense cube are tested from its sampled points only.

    Returns one label per point, ``0..k-1`` in order of first appearance;
    ``-1`` for clusters smaller than ``min_points`` points.
    """
    n = len(xyz)
    if n == 0:
        return np.zeros(0, dtype=int)
    cells = np.floor(xyz / (eps / np.sqrt(3.0))).astype(np.int64)
    _, cell_of, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    cell_of = cell_of.ravel()
    sample = _sample_per_cell(xyz, cell_of, counts, cell_capacity=cell_cap)
    pairs = cKDTree(xyz[sample]).query_pairs(eps, output_type="ndarray")
    a, b = cell_of[sample[pairs[:, 0]]], cell_of[sample[pairs[:, 1]]]
    m = len(counts)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(m, m))
    _, cell_label = connected_components(graph, directed=False)
    labels = cell_label[cell_of]
    sizes = np.bincount(labels)
    labels = np.where(sizes[labels] >= min_points, labels, -1)
    return _renumber(labels)


def _sample_per_cell(xyz, cell_of, counts, cell_capacity: int) -> np.ndarray:
    """Indices of at most ``cell_capacity`` points per cell: the 6 axis extremes, then scan order."""
    if counts.max() <= cell_capacity:
        return np.arange(len(xyz))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    keep = np.zeros(len(xyz), dtype=bool)
    for axis in range(3):
        order = np.lexsort((xyz[:, axis], cell_of))   # by cell, then by coordinate
        keep[order[starts]] = True                    # smallest along the axis
        keep[order[starts + counts - 1]] = True       # largest
    order = np.argsort(cell_of, kind="stable")
    rank = np.empty(len(xyz), dtype=np.int64)
    rank[order] = np.arange(len(xyz)) - np.repeat(starts, counts)
    keep |= rank < cell_capacity - 6
    return np.flatnonzero(keep)


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Labels ``>= 0`` renumbered 0..k-1 by first appearance (stable output); -1 kept."""
    valid = labels >= 0
    if not valid.any():
        return labels
    uniq, first = np.unique(labels[valid], return_index=True)
    new = np.empty(uniq.max() + 1, dtype=np.int64)
    new[uniq[np.argsort(first)]] = np.arange(len(uniq))
    out = np.full(len(labels), -1, dtype=np.int64)
    out[valid] = new[labels[valid]]
    return out


def cluster_features(scan: RadarScan, labels: np.ndarray, residual: np.ndarray,
                     moving_threshold: float) -> np.ndarray:
    """One row of :data:`FEATURE_NAMES` per cluster label ``0..k-1`` (grouped reductions, no per-cluster loop).

    Rows: centroid (m), extent max - min (m), Doppler residual mean and
    population standard deviation (m/s), RCS mean and max (dBsm), point
    count, and ``moving`` = ``|mean residual| > moving_threshold``.
    """
    k = int(labels.max()) + 1 if len(labels) else 0
    if k == 0:
        return np.zeros((0, len(FEATURE_NAMES)))
    idx = np.flatnonzero(labels >= 0)
    order = idx[np.argsort(labels[idx], kind="stable")]
    lab = labels[order]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    count = np.diff(np.r_[starts, len(order)]).astype(float)
    p, d, rcs = scan.xyz[order], residual[order], scan.rcs[order]
    mean_p = np.add.reduceat(p, starts, axis=0) / count[:, None]
    extent = np.maximum.reduceat(p, starts, axis=0) - np.minimum.reduceat(p, starts, axis=0)
    d_mean = np.add.reduceat(d, starts) / count
    d_std = np.sqrt(np.add.reduceat((d - np.repeat(d_mean, count.astype(int))) ** 2, starts) / count)
    rows = np.column_stack([mean_p, extent, d_mean, d_std, np.add.reduceat(rcs, starts) / count,
                            np.maximum.reduceat(rcs, starts), count,
                            (np.abs(d_mean) > moving_threshold).astype(float)])
    return rows
