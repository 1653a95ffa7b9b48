# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Late-fusion rules on hand-worked cases: the 0.66 example, ties, missing sources, zero weights."""
import numpy as np
import pytest

from fusion_nodes.core.classify import SoftmaxClassifier
from fusion_nodes.core.late_fusion import (Decision, OnlineReliability, make_rule,
                                           reliability_weights, stack_features)


def d(p=None, label=None, source="s"):
    return Decision(source, 1.0, p, label)


def test_weighted_average_reproduces_the_066_example():
    # "Stress" probabilities 0.7 and 0.6, weights 0.6 and 0.4: 0.7 x 0.6 + 0.6 x 0.4 = 0.66.
    fused = make_rule("average", 2).fuse([d([0.3, 0.7]), d([0.4, 0.6])], [0.6, 0.4])
    assert fused.probabilities[1] == pytest.approx(0.66, abs=1e-15)
    assert fused.label == 1 and fused.confidence == pytest.approx(0.66, abs=1e-15)


def test_majority_vote_and_its_tie_rule():
    rule = make_rule("majority", 3)
    # Two of three say class 2.
    fused = rule.fuse([d(label=2), d(label=0), d(label=2)], [1, 1, 1])
    np.testing.assert_allclose(fused.probabilities, [1 / 3, 0, 2 / 3])
    assert fused.label == 2 and fused.confidence == pytest.approx(2 / 3)
    # 1-1 tie: the class whose voter was more sure wins (0.9 for class 1 against 0.6 for class 0).
    tie = rule.fuse([d([0.6, 0.3, 0.1]), d([0.05, 0.9, 0.05]), None], [1, 1, 1])
    assert tie.label == 1 and tie.confidence == pytest.approx(0.5 * 2 / 3)
    # Hard labels tied with equal support: the lowest class index.
    assert rule.fuse([d(label=2), d(label=1)], [1, 1]).label == 1
    # Weights do not count in a plain majority, except that 0 switches a source off.
    assert rule.fuse([d(label=0), d(label=1), d(label=1)], [5, 1, 1]).label == 1
    assert rule.fuse([d(label=0), d(label=1), d(label=1)], [1, 0, 0]).label == 0


def test_weighted_vote():
    rule = make_rule("weighted_vote", 3)
    fused = rule.fuse([d(label=0), d(label=1), d(label=1)], [0.5, 0.2, 0.2])
    np.testing.assert_allclose(fused.probabilities, [0.5 / 0.9, 0.4 / 0.9, 0])
    assert fused.label == 0
    # Equal weighted votes: tie broken by probability support.
    assert rule.fuse([d([0.55, 0.45, 0]), d([0.1, 0.9, 0])], [1, 1]).label == 1


def test_bayesian_product_with_priors():
    # Two sources 0.8/0.2 and 0.6/0.4 with a uniform prior: 0.48 : 0.08 -> 6/7.
    fused = make_rule("bayes", 2).fuse([d([0.8, 0.2]), d([0.6, 0.4])], [1, 1])
    np.testing.assert_allclose(fused.probabilities, [6 / 7, 1 / 7])
    # Prior 0.9/0.1 divided out once (two posteriors each carry it): 0.48/0.9 : 0.08/0.1 = 0.533 : 0.8.
    fused = make_rule("bayes", 2, priors=[0.9, 0.1]).fuse([d([0.8, 0.2]), d([0.6, 0.4])], [1, 1])
    np.testing.assert_allclose(fused.probabilities, [0.48 / 0.9 / (0.48 / 0.9 + 0.8), 0.8 / (0.48 / 0.9 + 0.8)])
    assert fused.label == 1
    # One source alone returns its own posterior; a zero probability does not veto outright.
    np.testing.assert_allclose(make_rule("bayes", 2).fuse([d([0.8, 0.2]), None], [1, 1]).probabilities, [0.8, 0.2])
    assert make_rule("bayes", 2).fuse([d([0.0, 1.0]), d([0.99, 0.01]), d([0.99, 0.01])], [1, 1, 1]).label == 0


def test_missing_source_renormalises_and_quorum_abstains():
    avg = make_rule("average", 2)
    fused = avg.fuse([d([0.3, 0.7]), None], [0.6, 0.4])
    np.testing.assert_allclose(fused.probabilities, [0.3, 0.7])
    assert fused.confidence == pytest.approx(0.7 * 0.6)        # coverage 0.6 of the weight
    quorum = make_rule("average", 2, quorum=2)
    out = quorum.fuse([d([0.3, 0.7]), None], [0.6, 0.4])
    assert out.abstained and out.confidence == 0.0 and np.isnan(out.probabilities).all()
    assert not quorum.fuse([d([0.3, 0.7]), d([0.5, 0.5])], [0.6, 0.4]).abstained
    # A zero weight is the same as a missing source, and does not count for the quorum.
    np.testing.assert_allclose(avg.fuse([d([0.3, 0.7]), d([1.0, 0.0])], [0.6, 0.0]).probabilities, [0.3, 0.7])
    assert quorum.fuse([d([0.3, 0.7]), d([0.5, 0.5])], [0.6, 0.0]).abstained
    with pytest.raises(ValueError, match="weights for"):
        avg.fuse([d([0.3, 0.7])], [0.5, 0.5])


def test_decision_validation():
    for bad in ([np.nan, 1.0], [-0.1, 1.1], [0.0, 0.0]):
        with pytest.raises(ValueError):
            d(bad)
    with pytest.raises(ValueError):
        Decision("s", 1.0)
    with pytest.raises(ValueError):
        d(label=1.5)
    np.testing.assert_allclose(d([2.0, 6.0]).probabilities, [0.25, 0.75])   # normalised
    with pytest.raises(ValueError, match="classes"):
        make_rule("average", 3).fuse([d([0.5, 0.5])], [1])


def test_stacking_uses_a_meta_classifier_and_the_prior_for_missing_sources():
    # A hand-set meta-classifier that trusts only source 2: logits = log p_2.
    meta = SoftmaxClassifier(np.hstack([np.zeros((2, 2)), np.eye(2)]), np.zeros(2))
    rule = make_rule("stacking", 2, meta=meta)
    fused = rule.fuse([d([0.9, 0.1]), d([0.3, 0.7])], [1, 1])
    np.testing.assert_allclose(fused.probabilities, [0.3, 0.7])
    # Source 2 missing: its slot holds the (uniform) prior -> 0.5 / 0.5.
    np.testing.assert_allclose(rule.fuse([d([0.9, 0.1]), None], [1, 1]).probabilities, [0.5, 0.5])
    np.testing.assert_allclose(stack_features([None], 2, np.array([0.5, 0.5])), np.log([[0.5, 0.5]]))
    # Fitted (scikit-learn, the tools' path; binary: the two-row softmax of the logistic model): source 1
    # is noise, source 2 is right -> the fit learns to follow source 2.
    from fusion_nodes.tools.own_data import fit_stacking
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p2 = np.where(y[:, None] == 1, [0.2, 0.8], [0.8, 0.2])
    p1 = rng.dirichlet([1, 1], 400)
    fitted = fit_stacking([p1, p2], y, 2)
    preds = [fitted.fuse([d(a), d(b)], [1, 1]).label for a, b in zip(p1, p2)]
    assert np.mean(np.array(preds) == y) == 1.0
    with pytest.raises(ValueError, match="meta-classifier"):
        make_rule("stacking", 2).fuse([d([0.5, 0.5])], [1])


def test_reliability_weights_and_online_updates():
    # Log-odds weights: accuracy 0.9 with 2 classes -> log 9; chance (0.5) -> floor.
    w = reliability_weights([0.9, 0.5, 0.2], 2, floor=0.05)
    np.testing.assert_allclose(w, [np.log(9), 0.05, 0.05])
    np.testing.assert_allclose(reliability_weights([0.5], 4), [np.log(3)])
    online = OnlineReliability(2, 2, rate=0.5, floor=0.05, initial=0.8)
    rule = make_rule("average", 2)
    for _ in range(6):   # source 2 keeps disagreeing with the (source-1-dominated) consensus
        decisions = [d([0.1, 0.9]), d([0.6, 0.4])]
        online.update(decisions, rule.fuse(decisions, [0.9, 0.1]))
    assert online.accuracy[0] > 0.95 and online.accuracy[1] < 0.05
    assert online.weights()[1] == 0.05                 # floored, not zero
    with pytest.raises(ValueError, match="unknown rule"):
        make_rule("dempster", 2)


@pytest.mark.parametrize("rule_name", ["majority", "weighted_vote", "average", "bayes", "stacking"])
def test_vectorised_fusion_equals_the_loop_of_fuse(rule_name):
    # Random sets with missing sources, zero weights, hard labels (ties) and a quorum: fuse_table must give
    # what a loop of fuse gives, group by group.
    from fusion_nodes.core.classify import SoftmaxClassifier
    from fusion_nodes.core.late_fusion import DecisionTable
    rng = np.random.default_rng(11)
    K, N = 4, 3
    checked = ties = 0
    for trial in range(60):
        meta = SoftmaxClassifier(rng.normal(size=(K, K * N)), rng.normal(size=K))
        rule = make_rule(rule_name, K, quorum=int(rng.integers(1, 3)), priors=rng.dirichlet(np.ones(K)),
                         meta=meta)
        tables = []
        for i in range(N):
            n = int(rng.integers(0, 8))
            if rng.random() < 0.4:
                t, _ = DecisionTable.from_arrays(f"s{i}", 1.0, K, labels=rng.integers(0, K, n))
            else:
                t, _ = DecisionTable.from_arrays(f"s{i}", 1.0, K, probabilities=rng.dirichlet(np.ones(K), n))
            tables.append(t if n or rng.random() < 0.5 else None)
        groups = [g for g in ({i: int(rng.integers(0, len(t))) for i, t in enumerate(tables)
                               if t is not None and len(t) and rng.random() < 0.7} for _ in range(6)) if g]
        weights = rng.choice([0.0, 0.3, 1.0, 2.0], N)
        batch = rule.fuse_table(tables, groups, weights)
        for k, g in enumerate(groups):
            ref = rule.fuse([tables[i].decision(g[i]) if i in g else None for i in range(N)], weights)
            assert batch.labels[k] == ref.label, (trial, k)
            np.testing.assert_allclose(batch.probabilities[k], ref.probabilities, rtol=1e-12, atol=1e-12)
            assert batch.confidence[k] == pytest.approx(ref.confidence, rel=1e-12, abs=1e-12)
            assert batch.present[k].sum() == len(ref.sources)
            checked += 1
            ties += rule_name in ("majority", "weighted_vote") and len(ref.sources) == 2
    assert checked > 150
    print(f"{rule_name}: {checked} groups, {ties} two-voter groups (ties likely)")


def test_decision_table_keeps_the_rows_a_decision_accepts():
    from fusion_nodes.core.late_fusion import DecisionTable
    P = np.array([[0.2, 0.8], [np.nan, 1.0], [-0.1, 1.1], [0.0, 0.0], [3.0, 1.0]])
    t, keep = DecisionTable.from_arrays("a", 1.0, 2, probabilities=P)
    assert keep.tolist() == [True, False, False, False, True]
    np.testing.assert_allclose(t.probabilities, [[0.2, 0.8], [0.75, 0.25]])
    assert t.labels.tolist() == [1, 0]
    t, keep = DecisionTable.from_arrays("b", 1.0, 3, labels=[0, 2, 3, -1, 1.5, np.inf])
    assert keep.tolist() == [True, True, False, False, False, False] and t.labels.tolist() == [0, 2]
