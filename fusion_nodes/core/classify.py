# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Feature normalisation and a probabilistic classifier, stored as plain arrays.

:class:`Standardizer` maps features to zero mean, unit variance
(``z = (x - mean) / scale``). :class:`SoftmaxClassifier` is multinomial
logistic regression,

    p(c | z) = exp(w_c . z + b_c) / sum_k exp(w_k . z + b_k).

Both are what the nodes evaluate; they are fitted with scikit-learn by the
tools (:mod:`fusion_nodes.tools.early_fit`, :mod:`fusion_nodes.tools.own_data`),
whose maximum-likelihood probabilities matter when they are fused later
(Bayesian product, weighted averaging). Both keep their parameters as numpy
arrays and convert to and from JSON-able dicts: model files never need
pickle.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import softmax


@dataclass(frozen=True)
class Standardizer:
    mean: np.ndarray
    scale: np.ndarray

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
