# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Fitting the early-fusion model with scikit-learn; the result is the package's JSON model.

Per view a :class:`sklearn.preprocessing.StandardScaler`, then the
projection (closed form, :func:`fusion_nodes.core.early_fusion.fit_projection`),
a second scaler on the fused vector, and three multinomial
:class:`sklearn.linear_model.LogisticRegression` s (fused, camera only,
radar only) with balanced class weights. The weight decay ``l2`` keeps its
meaning of the package's first fitter: the objective is the mean weighted
negative log-likelihood plus ``l2 / 2 ||W||^2``, which is scikit-learn's
``C sum(w nll) + ||W||^2 / 2`` with ``C = 1 / (l2 n)`` for ``n`` samples.
The fitted numbers are exported to :class:`~fusion_nodes.core.classify.Standardizer`
and :class:`~fusion_nodes.core.classify.SoftmaxClassifier`, which the nodes
evaluate without scikit-learn.
"""
from __future__ import annotations

import numpy as np

from fusion_nodes.core import early_fusion as ef
from fusion_nodes.core.classify import SoftmaxClassifier, Standardizer


def scaler(X) -> Standardizer:
    """scikit-learn's StandardScaler fitted on ``X`` (a constant column gets scale 1)."""
    from sklearn.preprocessing import StandardScaler
    s = StandardScaler().fit(np.asarray(X, float))
    return Standardizer(np.asarray(s.mean_, float), np.asarray(s.scale_, float))


def softmax_of(lr, n_classes: int) -> SoftmaxClassifier:
    """A fitted LogisticRegression as a :class:`SoftmaxClassifier` over all ``n_classes``.

    The binary case becomes a two-row softmax; a class the training labels lacked gets a bias of
    -30 (probability ~1e-13), so that the rows stay indexed by class.
    """
    W, b = np.asarray(lr.coef_, float), np.asarray(lr.intercept_, float)
    if W.shape[0] == 1 and len(lr.classes_) == 2:
        W, b = np.vstack([np.zeros_like(W), W]), np.concatenate([[0.0], b])
    full_W, full_b = np.zeros((n_classes, W.shape[1])), np.full(n_classes, -30.0)
    full_W[np.asarray(lr.classes_, int)], full_b[np.asarray(lr.classes_, int)] = W, b
    return SoftmaxClassifier(full_W, full_b)


def logistic(Z, y, n_classes: int, l2: float) -> SoftmaxClassifier:
    """Balanced multinomial logistic regression with weight decay ``l2`` (see the module docstring)."""
    from sklearn.linear_model import LogisticRegression
    y = np.asarray(y, int)
    lr = LogisticRegression(C=1.0 / (l2 * len(y)), class_weight="balanced", max_iter=5000, tol=1e-8)
    return softmax_of(lr.fit(np.asarray(Z, float), y), n_classes)


def fit(cam, rad, imu, y, classes, kind: str = "none", k: int | None = None, l2: float = 0.1,
        reg: float = 1e-3) -> ef.EarlyFusionModel:
    """Scalers, projection and the camera / radar / fused classifiers on paired samples.

    ``cam``, ``rad``, ``imu`` are row-aligned (one row per associated object), ``y`` the true class
    indices; ``k`` and ``reg`` as in :func:`~fusion_nodes.core.early_fusion.fit_projection`.
    """
    if kind not in ef.PROJECTIONS:
        raise ValueError(f"projection must be one of {ef.PROJECTIONS}, not {kind!r}")
    views = [np.asarray(a, float) for a in (cam, rad, imu)]
    scalers = {m: scaler(V) for m, V in zip(ef.MODALITIES, views)}
    zc, zr, zi = (scalers[m].transform(V) for m, V in zip(ef.MODALITIES, views))
    projector = ef.fit_projection(kind, zc, zr, zi, k, reg)
    P = projector.fuse(zc, zr, zi)
    post = scaler(P)
    n = len(classes)
    classifiers = {"fused": logistic(post.transform(P), y, n, l2), "camera": logistic(zc, y, n, l2),
                   "radar": logistic(zr, y, n, l2)}
    return ef.EarlyFusionModel(tuple(classes), kind, scalers, projector, post, classifiers)
