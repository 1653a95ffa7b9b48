# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Feature normalisation and a probabilistic classifier, stored as plain arrays.

:class:`Standardizer` maps features to zero mean, unit variance
(``z = (x - mean) / scale``). :class:`SoftmaxClassifier` is multinomial
logistic regression,

    p(c | z) = exp(w_c . z + b_c) / sum_k exp(w_k . z + b_k),

fitted by minimising the mean negative log-likelihood plus
``l2 / 2 * ||W||^2`` with scipy's L-BFGS. Its probabilities are calibrated
in the maximum-likelihood sense, which matters when they are fused later
(Bayesian product, weighted averaging). Both keep their parameters as numpy
arrays and convert to and from JSON-able dicts: model files never need
pickle.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
from scipy.special import log_softmax, softmax


@dataclass(frozen=True)
class Standardizer:
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X) -> "Standardizer":
        X = np.asarray(X, dtype=float)
        scale = X.std(axis=0)
        return cls(X.mean(axis=0), np.where(scale > 1e-12, scale, 1.0))

    def transform(self, X) -> np.ndarray:
        return (np.asarray(X, dtype=float) - self.mean) / self.scale

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Standardizer":
        return cls(np.asarray(d["mean"], float), np.asarray(d["scale"], float))


@dataclass(frozen=True)
class SoftmaxClassifier:
    """``W`` (classes x features) and ``b`` (classes) of multinomial logistic regression."""

    W: np.ndarray
    b: np.ndarray

    def predict_proba(self, Z) -> np.ndarray:
        """Class probabilities, one row per sample (rows sum to 1)."""
        return softmax(np.atleast_2d(np.asarray(Z, float)) @ self.W.T + self.b, axis=1)

    def predict(self, Z) -> np.ndarray:
        return self.predict_proba(Z).argmax(axis=1)

    def to_dict(self) -> dict:
        return {"W": self.W.tolist(), "b": self.b.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "SoftmaxClassifier":
        W = np.asarray(d["W"], float)
        b = np.asarray(d["b"], float)
        if W.ndim != 2 or b.shape != (W.shape[0],):
            raise ValueError(f"classifier shapes W {W.shape}, b {b.shape} do not match")
        return cls(W, b)


def fit_softmax(Z, y, n_classes: int, l2: float = 1e-2, weights=None) -> SoftmaxClassifier:
    """Maximum a-posteriori multinomial logistic regression (see module docstring).

    Parameters
    ----------
    Z : (n, d) array
        Normalised features.
    y : (n,) int array
        Labels ``0 .. n_classes-1``.
    l2 : float
        Weight decay on ``W`` (not on the biases).
    weights : (n,) array, optional
        Per-sample weights (e.g. to balance classes); mean-normalised.
    """
    Z = np.asarray(Z, float)
    y = np.asarray(y, int)
    n, d = Z.shape
    Y = np.eye(n_classes)[y]
    w = np.ones(n) if weights is None else np.asarray(weights, float) / np.mean(weights)

    def loss(theta):
        W, b = theta[: n_classes * d].reshape(n_classes, d), theta[n_classes * d:]
        logits = Z @ W.T + b
        logp = log_softmax(logits, axis=1)
        nll = -(w * (Y * logp).sum(axis=1)).sum() / n + 0.5 * l2 * (W * W).sum()
        G = (w[:, None] * (np.exp(logp) - Y)) / n          # dNLL/dlogits
        return nll, np.concatenate([(G.T @ Z + l2 * W).ravel(), G.sum(axis=0)])

    res = scipy.optimize.minimize(loss, np.zeros(n_classes * (d + 1)), jac=True, method="L-BFGS-B",
                                  options={"maxiter": 2000})
    return SoftmaxClassifier(res.x[: n_classes * d].reshape(n_classes, d), res.x[n_classes * d:])


def balanced_weights(y, n_classes: int) -> np.ndarray:
    """Per-sample weights ``n / (n_classes * count(class))`` so every class counts equally."""
    counts = np.bincount(np.asarray(y, int), minlength=n_classes).astype(float)
    return len(y) / (n_classes * np.maximum(counts, 1.0))[np.asarray(y, int)]


def accuracy(y_true, y_pred) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if len(y_true) else float("nan")


def f1_per_class(y_true, y_pred, n_classes: int) -> np.ndarray:
    """F1 = 2 TP / (2 TP + FP + FN) per class (NaN for a class absent from both)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    out = np.full(n_classes, np.nan)
    for c in range(n_classes):
        tp = np.sum((y_true == c) & (y_pred == c))
        denom = 2 * tp + np.sum((y_true != c) & (y_pred == c)) + np.sum((y_true == c) & (y_pred != c))
        if denom:
            out[c] = 2 * tp / denom
    return out
