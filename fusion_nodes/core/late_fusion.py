# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
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

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Optional, Sequence

import numpy as np

from .classify import SoftmaxClassifier

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


@dataclass(frozen=True)
class DecisionTable:
    """One source's decisions about ``n`` objects as arrays: the vectorised :class:`Decision`.

    Attributes
    ----------
    source : str
    stamp : float
    probabilities : ndarray (n, K)
        Normalised class probabilities (one-hot rows for hard labels).
    labels : ndarray (n,) of int
        ``argmax`` of each row, or the hard label.
    """

    source: str
    stamp: float
    probabilities: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_arrays(cls, source: str, stamp: float, n_classes: int, probabilities=None, labels=None):
        """``(table, keep)``: the usable rows (the rules of :class:`Decision`) and their mask.

        Probabilities must be finite, non-negative and not all zero (then
        normalised); hard labels non-negative integers below ``n_classes``.
        """
        if probabilities is not None:
            P = np.asarray(probabilities, dtype=float).reshape(-1, n_classes)
            total = P.sum(axis=1)
            keep = np.isfinite(P).all(axis=1) & (P >= 0).all(axis=1) & (total > 0)
            P = P[keep] / total[keep, None]
            return cls(source, stamp, P, np.argmax(P, axis=1) if len(P) else np.zeros(0, int)), keep
        lab = np.asarray(labels, dtype=float).ravel()
        keep = np.isfinite(lab) & (lab >= 0) & (lab < n_classes) & (lab == np.floor(lab))
        L = lab[keep].astype(int)
        return cls(source, stamp, np.eye(n_classes)[L], L), keep

    def decision(self, i: int) -> "Decision":
        """Row ``i`` as a :class:`Decision`."""
        return Decision(self.source, self.stamp, self.probabilities[i], int(self.labels[i]))


@dataclass(frozen=True)
class FusedTable:
    """The fused decision of each group: the vectorised :class:`Fused`.

    ``present`` (G x N) marks the sources that took part (present and
    weighted); abstained groups have label -1, NaN probabilities and
    confidence 0.
    """

    probabilities: np.ndarray
    labels: np.ndarray
    confidence: np.ndarray
    present: np.ndarray


def gather(tables: Sequence[Optional[DecisionTable]], groups: Sequence[dict], n_classes: int):
    """``(P, L)`` for groups ``{source: row}``: P (G x N x K, zeros where absent), L (G x N, -1 where absent)."""
    G, N = len(groups), len(tables)
    P, L = np.zeros((G, N, n_classes)), np.full((G, N), -1, dtype=int)
    for i, t in enumerate(tables):
        rows = np.array([g.get(i, -1) for g in groups], dtype=int)
        has = rows >= 0
        if t is not None and has.any():
            P[has, i] = t.probabilities[rows[has]]
            L[has, i] = t.labels[rows[has]]
    return P, L


def _abstain(n_classes: int, sources=()) -> Fused:
    return Fused(np.full(n_classes, np.nan), -1, 0.0, tuple(sources))


@dataclass(frozen=True)
class Rule(ABC):
    """Shared parts of every rule: class count, quorum, priors.

    Subclasses implement ``_combine(P, w, labels, decisions, w_all) -> (probabilities, label)``
    on the present sources' probability rows ``P``, their weights ``w`` and labels, the present
    :class:`Decision` s and the weights of every configured source ``w_all`` (for coverage), and
    ``_combine_many(P, M, w, L)``, the same over many decision sets at once.
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

    @abstractmethod
    def _combine(self, P, w, labels, decisions, w_all) -> tuple[np.ndarray, int]:
        """Fused probabilities and label of one decision set (see the class docstring)."""

    @abstractmethod
    def _combine_many(self, P, M, w, L) -> np.ndarray:
        """Fused probabilities (groups x classes) of many decision sets (see :meth:`fuse_table`)."""

    def _coverage(self, w_all, present) -> float:
        return float(w_all[present].sum() / w_all[w_all > 0].sum())

    def fuse_table(self, tables: Sequence[Optional[DecisionTable]], groups: Sequence[dict], weights) -> FusedTable:
        """:meth:`fuse` of every group at once (``groups``: ``{source index: row}``, as matching makes them).

        The same numbers as a loop of :meth:`fuse` (the tests hold the two
        equal), as array operations over groups x sources x classes.
        """
        w = np.asarray(weights, dtype=float)
        if len(w) != len(tables):
            raise ValueError(f"{len(w)} weights for {len(tables)} sources")
        K = self.n_classes
        P, L = gather(tables, groups, K)
        M = (L >= 0) & (w > 0)
        if len(groups) == 0:
            return FusedTable(np.zeros((0, K)), np.zeros(0, int), np.zeros(0), M)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = self._combine_many(P, M, w, L)
            label = self._labels_many(p, P, M, L, w)
            cover = self._coverage_many(M, w)
        ok = M.sum(axis=1) >= max(1, self.quorum)
        p[~ok] = np.nan
        label = np.where(ok, label, -1)
        conf = np.where(ok, p[np.arange(len(p)), np.maximum(label, 0)] * cover, 0.0)
        return FusedTable(p, label, conf, M)

    def _labels_many(self, p, P, M, L, w):
        return np.argmax(np.nan_to_num(p, nan=-np.inf), axis=1)

    def _coverage_many(self, M, w):
        return (M * w).sum(axis=1) / w[w > 0].sum()

    @staticmethod
    def _vote_many(votes, P, M, L):
        """:meth:`_vote` of each row of ``votes`` (G x K)."""
        top = np.isclose(votes, votes.max(axis=1, keepdims=True))
        onehot = (L[..., None] == np.arange(votes.shape[1])) & M[..., None]
        support = np.where(top, (onehot * P).sum(axis=1), -np.inf)
        top &= np.isclose(support, support.max(axis=1, keepdims=True))
        return np.argmax(top, axis=1)

    @staticmethod
    def _onehot_votes(M, L, weights, K):
        onehot = (L[..., None] == np.arange(K)) & M[..., None]
        return (onehot * weights[None, :, None]).sum(axis=1)

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

    def _combine_many(self, P, M, w, L):
        votes = self._onehot_votes(M, L, np.ones(len(w)), self.n_classes)
        return votes / votes.sum(axis=1, keepdims=True)

    def _labels_many(self, p, P, M, L, w):
        return self._vote_many(self._onehot_votes(M, L, np.ones(len(w)), self.n_classes), P, M, L)

    def _coverage_many(self, M, w):
        return M.sum(axis=1) / int(np.sum(w > 0))


class WeightedVote(Rule):
    name = "weighted_vote"

    def _combine(self, P, w, labels, decisions, w_all):
        votes = np.bincount(labels, weights=w, minlength=self.n_classes)
        return votes / votes.sum(), self._vote(votes, P, labels)

    def _combine_many(self, P, M, w, L):
        votes = self._onehot_votes(M, L, w, self.n_classes)
        return votes / votes.sum(axis=1, keepdims=True)

    def _labels_many(self, p, P, M, L, w):
        return self._vote_many(self._onehot_votes(M, L, w, self.n_classes), P, M, L)


class WeightedAverage(Rule):
    name = "average"

    def _combine(self, P, w, labels, decisions, w_all):
        p = w @ P / w.sum()
        return p, int(np.argmax(p))

    def _combine_many(self, P, M, w, L):
        W = M * w
        return np.einsum("gn,gnk->gk", W, P) / W.sum(axis=1, keepdims=True)


class BayesianProduct(Rule):
    name = "bayes"

    def _combine(self, P, w, labels, decisions, w_all):
        logp = w @ np.log(np.maximum(P, _EPS)) + (1.0 - w.sum()) * np.log(self.prior())
        p = np.exp(logp - logp.max())
        p /= p.sum()
        return p, int(np.argmax(p))

    def _combine_many(self, P, M, w, L):
        W = M * w
        logp = np.einsum("gn,gnk->gk", W, np.log(np.maximum(P, _EPS))) \
            + (1.0 - W.sum(axis=1, keepdims=True)) * np.log(self.prior())
        p = np.exp(logp - logp.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)


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

    def _combine_many(self, P, M, w, L):
        if self.meta is None:
            raise ValueError("stacking needs a fitted meta-classifier")
        rows = np.where(M[..., None], P, self.prior())            # a missing source enters as its prior
        return self.meta.predict_proba(np.log(np.maximum(rows, _EPS)).reshape(len(P), -1))


def save_stacking(rule: Stacking, path, classes, sources) -> None:
    """Write the meta-classifier as JSON (no pickle), with the class and source order it expects."""
    import json
    from pathlib import Path
    Path(path).write_text(json.dumps({"format": "fusion_nodes.stacking/1", "classes": list(classes),
                                      "sources": list(sources), "priors": rule.prior().tolist(),
                                      "meta": rule.meta.to_dict()}))


def load_stacking(path, classes, sources, quorum: int = 1) -> Stacking:
    """Read :func:`save_stacking` output; ValueError if it does not fit ``classes`` / ``sources`` (the
    input names in order, or just their number).
    """
    import json
    from pathlib import Path
    d = json.loads(Path(path).read_text())
    if d.get("format") != "fusion_nodes.stacking/1":
        raise ValueError(f"{path} is not a stacking model")
    n_sources = sources if isinstance(sources, int) else len(sources)
    if list(d["classes"]) != list(classes) or len(d["sources"]) != n_sources or (
            not isinstance(sources, int) and list(d["sources"]) != list(sources)):
        raise ValueError(f"stacking model {path} is for classes {d['classes']} and inputs {d['sources']}; "
                         f"the parameters give classes {list(classes)} and input_names "
                         f"{sources if not isinstance(sources, int) else n_sources}")
    meta = SoftmaxClassifier.from_dict(d["meta"])
    if meta.W.shape != (len(classes), len(classes) * n_sources):
        raise ValueError(f"meta-classifier shape {meta.W.shape} does not fit")
    return Stacking(len(classes), quorum, np.asarray(d["priors"], float), meta=meta)


def stack_features(decisions, n_classes: int, prior) -> np.ndarray:
    """``[log p_1 | ... | log p_N]`` with ``log prior`` for a missing source (floored at 1e-3)."""
    rows = [prior if d is None else d.probs(n_classes) for d in decisions]
    return np.log(np.maximum(np.concatenate(rows), _EPS))[None, :]


RULE_TYPES: dict[str, type] = {}
"""Rule name -> :class:`Rule` subclass: the registry :func:`make_rule` and the node's ``rule`` parameter use."""


def register_rule(cls: type) -> type:
    """Add a :class:`Rule` subclass to :data:`RULE_TYPES` under its ``name`` (usable as a decorator).

    A new rule is one file with the subclass (``name``, ``_combine``, ``_combine_many``) and one call of
    this function; late_fusion_node then accepts ``rule: <name>``.
    """
    if not (isinstance(cls, type) and issubclass(cls, Rule) and cls.name):
        raise TypeError(f"{cls!r} is not a named Rule subclass")
    RULE_TYPES[cls.name] = cls
    return cls


for _rule in (MajorityVote, WeightedVote, WeightedAverage, BayesianProduct, Stacking):
    register_rule(_rule)


def rules() -> tuple[str, ...]:
    """The registered rule names."""
    return tuple(RULE_TYPES)


def make_rule(name: str, n_classes: int, quorum: int = 1, priors=None, meta=None) -> Rule:
    """The registered rule called ``name``; ``meta`` is the stacking meta-classifier (other rules take none)."""
    priors = None if priors is None or len(priors) == 0 else np.asarray(priors, float)
    if name not in RULE_TYPES:
        raise ValueError(f"unknown rule {name!r}; one of {rules()}")
    cls = RULE_TYPES[name]
    return cls(n_classes, quorum, priors, meta=meta) if issubclass(cls, Stacking) else cls(n_classes, quorum, priors)


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

    def update_table(self, labels: np.ndarray, fused: FusedTable) -> None:
        """:meth:`update` for each group in order; ``labels`` (G x N) the sources' labels, -1 where absent."""
        for row, label in zip(labels, fused.labels):
            if label >= 0:
                there = row >= 0
                self.accuracy[there] += self.rate * ((row[there] == label) - self.accuracy[there])

    def weights(self) -> np.ndarray:
        return reliability_weights(self.accuracy, self.n_classes, self.floor)
