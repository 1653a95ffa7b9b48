# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Feature-level projections for early fusion: PCA, CCA, multi-set CCA.

All take row-sample matrices (n samples x p features), centre them with
the training means, and are fitted in closed form with scipy.linalg.

CCA (two views X, Y). With covariances ``Sxx, Syy, Sxy`` (plus ``reg * I``
on the auto-covariances) and Cholesky factors ``Sxx = Lx Lx^T``,
``Syy = Ly Ly^T``, the SVD ``Lx^-1 Sxy Ly^-T = U diag(rho) V^T`` gives the
canonical correlations ``rho`` and directions ``Wx = Lx^-T U``,
``Wy = Ly^-T V`` (``Wx^T Sxx Wx = I``).

Multi-set CCA (m views, MAXVAR / generalised eigenvalue form). With ``C``
the covariance of all views stacked and ``D`` its block diagonal, solve
``C w = lambda D w``. For two views the eigenvalues are ``1 +- rho``; for
m views sharing one component with pairwise correlation ``rho`` the top
eigenvalue is ``1 + (m - 1) rho``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.linalg


def _center(X):
    X = np.asarray(X, dtype=float)
    mean = X.mean(axis=0)
    return X - mean, mean


def _to_dict(obj) -> dict:
    """Array fields of a projection as nested lists (JSON-able)."""
    return {k: np.asarray(v).tolist() for k, v in vars(obj).items()}


def _cov(A, B):
    return A.T @ B / (A.shape[0] - 1)


class Projection(ABC):
    """The fused feature vector of early fusion from the standardised camera, radar and IMU views.

    ``fuse(zc, zr, zi)`` maps row-aligned views (n x p_i) to the fused rows; ``fit`` (classmethod)
    fits one on training views; ``to_dict`` / ``from_dict`` are its JSON form in the model file.
    Registered in :data:`PROJECTION_TYPES` under ``name`` (the model file's ``projection``).
    """

    name: ClassVar[str] = ""

    @abstractmethod
    def fuse(self, zc, zr, zi) -> np.ndarray:
        """Fused rows of the three views."""

    @classmethod
    @abstractmethod
    def fit(cls, zc, zr, zi, k: int | None = None, reg: float = 0.0) -> "Projection":
        """Fitted on training views; ``k`` components / directions (None: all), ``reg`` on auto-covariances."""

    @abstractmethod
    def to_dict(self):
        """JSON-able parameters."""


@dataclass(frozen=True)
class Concatenation(Projection):
    """No projection: the views stacked, ``[zc | zr | zi]``."""

    name: ClassVar[str] = "none"

    def fuse(self, zc, zr, zi) -> np.ndarray:
        return np.hstack([zc, zr, zi])

    @classmethod
    def fit(cls, zc, zr, zi, k=None, reg=0.0) -> "Concatenation":
        return cls()

    def to_dict(self):
        return None

    @classmethod
    def from_dict(cls, d) -> "Concatenation":
        return cls()


@dataclass(frozen=True)
class Pca(Projection):
    mean: np.ndarray
    components: np.ndarray      # k x p, rows orthonormal
    explained_variance: np.ndarray
    name: ClassVar[str] = "pca"

    def fuse(self, zc, zr, zi) -> np.ndarray:
        """Principal components of the stacked views."""
        return self.transform(np.hstack([zc, zr, zi]))

    @classmethod
    def fit(cls, zc, zr, zi, k=None, reg=0.0) -> "Pca":
        """As many components as camera and radar have features, unless ``k`` is given."""
        return pca(np.hstack([zc, zr, zi]), k or zc.shape[1] + zr.shape[1])

    def transform(self, X) -> np.ndarray:
        return (np.asarray(X, dtype=float) - self.mean) @ self.components.T

    def to_dict(self) -> dict:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Pca":
        return cls(*(np.asarray(d[k], float) for k in ("mean", "components", "explained_variance")))


def pca(X, k: int) -> Pca:
    """Principal components by SVD of the centred data."""
    Xc, mean = _center(X)
    _, s, Vt = scipy.linalg.svd(Xc, full_matrices=False)
    return Pca(mean, Vt[:k], (s[:k] ** 2) / (Xc.shape[0] - 1))


@dataclass(frozen=True)
class Cca:
    mean_x: np.ndarray
    mean_y: np.ndarray
    Wx: np.ndarray              # p x k
    Wy: np.ndarray              # q x k
    correlations: np.ndarray    # k, descending
    name: ClassVar[str] = "cca"

    def fuse(self, zc, zr, zi) -> np.ndarray:
        """Canonical variates of camera and radar, the IMU view appended."""
        return np.hstack([self.transform(zc, zr), zi])

    @classmethod
    def fit(cls, zc, zr, zi, k=None, reg=0.0) -> "Cca":
        return cca(zc, zr, k, reg)

    def transform(self, X, Y) -> np.ndarray:
        """Canonical variates of both views side by side (n x 2k)."""
        return np.hstack([(np.asarray(X, float) - self.mean_x) @ self.Wx,
                          (np.asarray(Y, float) - self.mean_y) @ self.Wy])

    def to_dict(self) -> dict:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Cca":
        return cls(*(np.asarray(d[k], float) for k in ("mean_x", "mean_y", "Wx", "Wy", "correlations")))


def cca(X, Y, k: int | None = None, reg: float = 0.0) -> Cca:
    """Canonical correlation analysis of two views (see module docstring)."""
    Xc, mx = _center(X)
    Yc, my = _center(Y)
    Sxx = _cov(Xc, Xc) + reg * np.eye(Xc.shape[1])
    Syy = _cov(Yc, Yc) + reg * np.eye(Yc.shape[1])
    Lx = scipy.linalg.cholesky(Sxx, lower=True)
    Ly = scipy.linalg.cholesky(Syy, lower=True)
    M = scipy.linalg.solve_triangular(Lx, _cov(Xc, Yc), lower=True)
    M = scipy.linalg.solve_triangular(Ly, M.T, lower=True).T
    U, rho, Vt = scipy.linalg.svd(M, full_matrices=False)
    k = k or len(rho)
    Wx = scipy.linalg.solve_triangular(Lx.T, U[:, :k], lower=False)
    Wy = scipy.linalg.solve_triangular(Ly.T, Vt.T[:, :k], lower=False)
    return Cca(mx, my, Wx, Wy, rho[:k])


@dataclass(frozen=True)
class Mcca:
    means: tuple
    weights: tuple              # one p_i x k matrix per view
    eigenvalues: np.ndarray     # k, descending
    name: ClassVar[str] = "mcca"

    def fuse(self, zc, zr, zi) -> np.ndarray:
        return self.transform([zc, zr, zi])

    @classmethod
    def fit(cls, zc, zr, zi, k=None, reg=0.0) -> "Mcca":
        return mcca([zc, zr, zi], k, reg)

    def transform(self, views) -> np.ndarray:
        return np.hstack([(np.asarray(V, float) - m) @ W for V, m, W in zip(views, self.means, self.weights)])

    def to_dict(self) -> dict:
        return {"means": [m.tolist() for m in self.means], "weights": [W.tolist() for W in self.weights],
                "eigenvalues": self.eigenvalues.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Mcca":
        return cls(tuple(np.asarray(m, float) for m in d["means"]),
                   tuple(np.asarray(W, float) for W in d["weights"]), np.asarray(d["eigenvalues"], float))


def mcca(views, k: int | None = None, reg: float = 0.0) -> Mcca:
    """Multi-set CCA of ``m >= 2`` views (see module docstring)."""
    centred = [_center(V) for V in views]
    Z = np.hstack([c for c, _ in centred])
    C = _cov(Z, Z)
    sizes = [c.shape[1] for c, _ in centred]
    D = scipy.linalg.block_diag(*[C[s:s + n, s:s + n] for s, n in zip(np.cumsum([0] + sizes[:-1]), sizes)])
    C = C + reg * np.eye(len(C))
    D = D + reg * np.eye(len(D))
    lam, W = scipy.linalg.eigh(C, D)
    order = np.argsort(lam)[::-1][: (k or min(sizes))]
    W = W[:, order]
    splits = np.cumsum(sizes)[:-1]
    return Mcca(tuple(m for _, m in centred), tuple(np.split(W, splits, axis=0)), lam[order])


PROJECTION_TYPES: dict[str, type] = {cls.name: cls for cls in (Concatenation, Pca, Cca, Mcca)}
"""Projection name -> :class:`Projection` subclass (the model file's ``projection``, ``fusion fit --projection``)."""
