# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The RMSE difference of two trackers on their common matches, with an interval over objects."""
import numpy as np
import pytest

from fusion_nodes.core.track_metrics import rmse_difference


def _errors(per_object: dict, instants: int = 50, seed: int = 0) -> dict:
    """``(t, object id) -> (position error, 0)``: each object's error ``|N(0, std)|`` at ``instants`` stamps."""
    rng = np.random.default_rng(seed)
    return {(0.1 * k, g): (abs(float(rng.normal(0.0, std))), 0.0) for g, std in per_object.items()
            for k in range(instants)}


def test_a_better_tracker_on_every_object_is_told_apart():
    base = _errors({g: 0.3 for g in range(20)}, seed=1)
    other = {k: (0.5 * e, v) for k, (e, v) in base.items()}          # half the error on every object
    d = rmse_difference(base, other)
    rmse = np.sqrt(np.mean([e ** 2 for e, _ in base.values()]))
    assert d.matches == 1000 and d.objects == 20
    assert d.base == pytest.approx(rmse) and d.other == pytest.approx(0.5 * rmse)
    assert d.difference == pytest.approx(-0.5 * rmse)
    assert d.low <= d.difference <= d.high < 0                       # the interval excludes "no difference"


def test_one_object_carrying_the_difference_is_not_a_difference_of_the_trackers():
    """One lost-and-refound track (object 7, 2 m off) in an otherwise identical run: the RMSE moves, the
    interval says it may be that one object, and names it.
    """
    base = _errors({g: 0.3 for g in range(20)}, seed=2)
    other = {k: ((e + 2.0) if k[1] == 7 else e, v) for k, (e, v) in base.items()}
    d = rmse_difference(base, other)
    assert d.difference > 0.1
    assert d.low <= 0.0 < d.difference <= d.high                     # the interval contains 0
    assert len(d.largest) == 1 and d.largest[0][0] == 7 and d.largest[0][1] > 0     # the others moved nothing


def test_only_common_matches_count_and_two_evaluations_agree():
    base = _errors({1: 0.3, 2: 0.3}, seed=3)
    other = {k: v for k, v in _errors({1: 0.3, 2: 0.3, 3: 5.0}, seed=3).items() if k[0] < 2.0}
    d = rmse_difference(base, other)
    assert d.matches == 40 and d.objects == 2 and d.difference == pytest.approx(0.0, abs=1e-12)
    assert rmse_difference(base, other) == d
    empty = rmse_difference(base, {})
    assert empty.matches == 0 and empty.difference != empty.difference       # NaN


def test_velocity_is_compared_the_same_way():
    base = {k: (0.0, e) for k, (e, _) in _errors({g: 0.5 for g in range(10)}, seed=4).items()}
    other = {k: (0.0, 2.0 * v) for k, (_, v) in base.items()}                # twice the velocity error
    d = rmse_difference(base, other, component=1)
    assert d.other == pytest.approx(2.0 * d.base) and 0 < d.low <= d.difference <= d.high
    assert rmse_difference(base, other).difference == 0.0                 # positions alike
