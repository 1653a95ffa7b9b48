"""Late (decision-level) fusion: decision records, fusion rules, reliability weights.

Each modality's model hands over a :class:`Decision` (class probabilities or a
hard label). A rule's ``fuse(decisions, weights)`` takes one decision per
configured source (``None`` when that source has nothing) and returns a
:class:`Fused` result: probabilities, label and confidence.

Rules (``w_i`` the weights of the present sources, ``p_i`` their probabilities):

* ``majority``: one vote per present source (weights only switch a source
  off when 0); ``p = votes / voters``.
* ``weighted_vote``: ``votes_c = sum_i w_i [label_i = c]``; ``p = votes / sum w``.
* ``average``: ``p = sum_i w_i p_i / sum_i w_i`` (weighted probability average;
  0.6 x 0.7 + 0.4 x 0.6 = 0.66).
* ``bayes``: product of calibrated posteriors under conditional independence,
  ``p(c | x_1..x_n) ∝ prior_c^(1 - sum w_i) prod_i p_i(c)^w_i``; each ``p_i`` is
  floored at ``1e-3`` (no calibrated model here is surer than 99.9 %), so one
  overconfident zero cannot veto a class the other sources agree on.
* ``stacking``: a softmax meta-classifier over ``[log p_1 | ... | log p_N]``,
  fitted offline; a missing source enters as ``log prior``.

Ties (vote rules): the tied class with the larger summed probability of its
voters wins; if still tied, the lowest class index. Missing sources: the
rules renormalise over the present ones; below ``quorum`` present sources the
result abstains (label -1, NaN probabilities, confidence 0).

Confidence: the largest fused probability times the coverage, the share of
the total configured weight (of voters, for ``majority``) that was present.
A fused result from half the configured evidence therefore says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional, Sequence

import numpy as np

from .classify import SoftmaxClassifier

RULES = ("majority", "weighted_vote", "average", "bayes", "stacking")
_EPS = 1e-3


@dataclass(frozen=True)
class Decision:
    """One source's decision about one object or scene.

    Attributes
    ----------
    source : str
    stamp : float
        s, from the message header.
    probabilities : array, optional
        Class probabilities (non-negative, finite; normalised here).
    label : int, optional
        Hard label; derived as ``argmax(probabilities)`` when not given.
    confidence : float, optional
        The source's own confidence, if it reports one (informational).
    """

    source: str
    stamp: float
    probabilities: Optional[np.ndarray] = None
    label: Optional[int] = None
    confidence: Optional[float] = None

    def __post_init__(self):
        if self.probabilities is None and self.label is None:
            raise ValueError("a decision needs probabilities or a label")
        if self.probabilities is not None:
            p = np.asarray(self.probabilities, dtype=float)
            if p.ndim != 1 or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
                raise ValueError(f"probabilities must be finite, non-negative, not all zero: {p}")
            object.__setattr__(self, "probabilities", p / p.sum())
            if self.label is None:
                object.__setattr__(self, "label", int(np.argmax(p)))
        if self.label is not None and (not float(self.label).is_integer() or self.label < 0):
            raise ValueError(f"label must be a non-negative integer, not {self.label!r}")
        object.__setattr__(self, "label", int(self.label))

    def probs(self, n_classes: int) -> np.ndarray:
        """Probabilities, or the one-hot vector of a hard label."""
        if self.probabilities is not None:
            if len(self.probabilities) != n_classes:
                raise ValueError(f"{self.source}: {len(self.probabilities)} classes, expected {n_classes}")
            return self.probabilities
        if self.label >= n_classes:
            raise ValueError(f"{self.source}: label {self.label} outside {n_classes} classes")
        return np.eye(n_classes)[self.label]


@dataclass(frozen=True)
class Fused:
    probabilities: np.ndarray
    label: int
    confidence: float
    sources: tuple = ()

    @property
    def abstained(self) -> bool:
        return self.label < 0


def _abstain(n_classes: int, sources=()) -> Fused:
    return Fused(np.full(n_classes, np.nan), -1, 0.0, tuple(sources))


@dataclass(frozen=True)
class Rule:
    """Shared parts of every rule: class count, quorum, priors.

    Subclasses implement ``_combine(P, w, labels) -> (probabilities, label)``
    on the present sources' probability rows ``P``, weights ``w`` and labels.
    """

    n_classes: int
    quorum: int = 1
    priors: Optional[np.ndarray] = None
    name: ClassVar[str] = ""

    def prior(self) -> np.ndarray:
        if self.priors is None or len(self.priors) == 0:
            return np.full(self.n_classes, 1.0 / self.n_classes)
        p = np.asarray(self.priors, float)
        return p / p.sum()

    def fuse(self, decisions: Sequence[Optional[Decision]], weights) -> Fused:
        """Fuse one decision (or None) per configured source with ``weights``."""
        w_all = np.asarray(weights, dtype=float)
        if len(w_all) != len(decisions):
            raise ValueError(f"{len(w_all)} weights for {len(decisions)} sources")
        present = [i for i, d in enumerate(decisions) if d is not None and w_all[i] > 0]
        sources = tuple(decisions[i].source for i in present)
        if len(present) < max(1, self.quorum):
            return _abstain(self.n_classes, sources)
        P = np.array([decisions[i].probs(self.n_classes) for i in present])
        labels = np.array([decisions[i].label for i in present])
        p, label = self._combine(P, w_all[present], labels, decisions, w_all)
        return Fused(p, label, float(p[label] * self._coverage(w_all, present)), sources)

    def _coverage(self, w_all, present) -> float:
        return float(w_all[present].sum() / w_all[w_all > 0].sum())

    @staticmethod
    def _vote(votes, P, labels) -> int:
        """Winner of ``votes``; ties broken by summed voter probability, then lowest index."""
        top = np.flatnonzero(np.isclose(votes, votes.max()))
        if len(top) > 1:
            support = np.array([P[labels == c, c].sum() if np.any(labels == c) else 0.0 for c in top])
            top = top[np.isclose(support, support.max())]
        return int(top[0])


class MajorityVote(Rule):
    name = "majority"

    def _combine(self, P, w, labels, decisions, w_all):
        votes = np.bincount(labels, minlength=self.n_classes).astype(float)
        return votes / votes.sum(), self._vote(votes, P, labels)

    def _coverage(self, w_all, present) -> float:
        return len(present) / int(np.sum(w_all > 0))


class WeightedVote(Rule):
    name = "weighted_vote"

    def _combine(self, P, w, labels, decisions, w_all):
        votes = np.bincount(labels, weights=w, minlength=self.n_classes)
        return votes / votes.sum(), self._vote(votes, P, labels)


class WeightedAverage(Rule):
    name = "average"

    def _combine(self, P, w, labels, decisions, w_all):
        p = w @ P / w.sum()
        return p, int(np.argmax(p))


class BayesianProduct(Rule):
    name = "bayes"

    def _combine(self, P, w, labels, decisions, w_all):
        logp = w @ np.log(np.maximum(P, _EPS)) + (1.0 - w.sum()) * np.log(self.prior())
        p = np.exp(logp - logp.max())
        p /= p.sum()
        return p, int(np.argmax(p))


@dataclass(frozen=True)
class Stacking(Rule):
    """Meta-classifier over all sources' log-probabilities (see module docstring)."""

    meta: Optional[SoftmaxClassifier] = None
    name: ClassVar[str] = "stacking"

    def _combine(self, P, w, labels, decisions, w_all):
        if self.meta is None:
            raise ValueError("stacking needs a fitted meta-classifier")
        used = [d if d is not None and w_all[i] > 0 else None for i, d in enumerate(decisions)]
        p = self.meta.predict_proba(stack_features(used, self.n_classes, self.prior()))[0]
        return p, int(np.argmax(p))


def save_stacking(rule: Stacking, path, classes, sources) -> None:
    """Write the meta-classifier as JSON (no pickle), with the class and source order it expects."""
    import json
    from pathlib import Path
    Path(path).write_text(json.dumps({"format": "fusion_nodes.stacking/1", "classes": list(classes),
                                      "sources": list(sources), "priors": rule.prior().tolist(),
                                      "meta": rule.meta.to_dict()}))


def load_stacking(path, classes, n_sources: int, quorum: int = 1) -> Stacking:
    """Read :func:`save_stacking` output; ValueError if it does not fit ``classes``/``n_sources``."""
    import json
    from pathlib import Path
    d = json.loads(Path(path).read_text())
    if d.get("format") != "fusion_nodes.stacking/1":
        raise ValueError(f"{path} is not a stacking model")
    if list(d["classes"]) != list(classes) or len(d["sources"]) != n_sources:
        raise ValueError(f"stacking model is for classes {d['classes']} and sources {d['sources']}")
    meta = SoftmaxClassifier.from_dict(d["meta"])
    if meta.W.shape != (len(classes), len(classes) * n_sources):
        raise ValueError(f"meta-classifier shape {meta.W.shape} does not fit")
    return Stacking(len(classes), quorum, np.asarray(d["priors"], float), meta=meta)


def stack_features(decisions, n_classes: int, prior) -> np.ndarray:
    """``[log p_1 | ... | log p_N]`` with ``log prior`` for a missing source (floored at 1e-3)."""
    rows = [prior if d is None else d.probs(n_classes) for d in decisions]
    return np.log(np.maximum(np.concatenate(rows), _EPS))[None, :]


def fit_stacking(probabilities: Sequence[np.ndarray], y, n_classes: int, l2: float = 0.1,
                 priors=None, quorum: int = 1) -> Stacking:
    """Fit the stacking rule on per-source probabilities (n x K each, rows aligned with ``y``).

    Use out-of-fold probabilities (each sample predicted by a model that did
    not see it), or the meta-classifier learns to trust overfitted sources.
    """
    Z = np.log(np.maximum(np.hstack([np.asarray(p, float) for p in probabilities]), _EPS))
    from .classify import fit_softmax
    return Stacking(n_classes, quorum, None if priors is None else np.asarray(priors, float),
                    meta=fit_softmax(Z, y, n_classes, l2))


def make_rule(name: str, n_classes: int, quorum: int = 1, priors=None, meta=None) -> Rule:
    """The rule called ``name`` (one of :data:`RULES`)."""
    priors = None if priors is None or len(priors) == 0 else np.asarray(priors, float)
    if name == "stacking":
        return Stacking(n_classes, quorum, priors, meta=meta)
    types = {"majority": MajorityVote, "weighted_vote": WeightedVote, "average": WeightedAverage,
             "bayes": BayesianProduct}
    if name not in types:
        raise ValueError(f"unknown rule {name!r}; one of {RULES}")
    return types[name](n_classes, quorum, priors)


def reliability_weights(accuracies, n_classes: int, floor: float = 0.05) -> np.ndarray:
    """Weights from each source's accuracy ``a``: ``max(log(a (K - 1) / (1 - a)), floor)``.

    For independent voters these log-odds weights make the weighted vote the
    most accurate (Nitzan and Paroush, 1982). A source at or below chance
    gets ``floor``, not 0, so it can earn weight back (online updates) and is
    never silenced for good. Accuracies are clipped to ``[0, 0.999]``.
    """
    a = np.clip(np.asarray(accuracies, float), 0.0, 0.999)
    with np.errstate(divide="ignore"):
        w = np.log(a * (n_classes - 1) / (1.0 - a))
    return np.maximum(np.nan_to_num(w, neginf=floor), floor)


class OnlineReliability:
    """Per-source accuracy tracked online as agreement with the fused label.

    ``accuracy_i <- (1 - rate) accuracy_i + rate [label_i == fused label]``
    for every present source, then :func:`reliability_weights`. Agreement with
    the consensus is a proxy for accuracy when no ground truth is available;
    the floor keeps a source that disagreed for a while in the game.
    """

    def __init__(self, n_sources: int, n_classes: int, rate: float = 0.02, floor: float = 0.05,
                 initial: float = 0.8):
        self.n_classes, self.rate, self.floor = n_classes, rate, floor
        self.accuracy = np.full(n_sources, float(initial))

    def update(self, decisions: Sequence[Optional[Decision]], fused: Fused) -> None:
        if fused.abstained:
            return
        for i, d in enumerate(decisions):
            if d is not None:
                self.accuracy[i] += self.rate * (float(d.label == fused.label) - self.accuracy[i])

    def weights(self) -> np.ndarray:
        return reliability_weights(self.accuracy, self.n_classes, self.floor)
