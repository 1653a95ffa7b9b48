# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""kalman_fusion_node against hostile input: the reproducers of issue 9, each a regression test.

Each runs the node in process (offline runner, simulated clock) over 20 s of
test2.bag with one bad message slipped in, delivered at the same log time as
a good one so nothing else changes, and checks that the message is dropped
and counted by reason and that the output is exactly the clean run's.
"""
import copy

import numpy as np
import pytest
import yaml

from conftest import DATA, REPO
from fusion_nodes.core.filters import FilterpyEkf, FilterpyUkf
from fusion_nodes.core.kalman import Ekf, Ukf
from fusion_nodes.core.measurement_models import StateSelection
from fusion_nodes.core.motion import ConstantAcceleration3D
from fusion_nodes.core.records import Measurement
from fusion_nodes.core.state import DEFAULT_PROCESS_NOISE, STATE_SIZE
from fusion_nodes.tools import bagio
from fusion_nodes.tools.offline import OfflineRunner

TEST2 = DATA / "robot_localization" / "test2.bag"


def _stream(seconds=20.0):
    first = None
    for topic, t, msg in bagio.read(TEST2):
        first = first or t
        if t - first > seconds * 1e9:
            return
        yield topic, t, msg


def _run(tmp_path, filter_type, inject=None):
    cfg = yaml.safe_load((REPO / "config" / "rl_test2.yaml").read_text())
    cfg["kalman_fusion_node"]["ros__parameters"]["filter_type"] = filter_type
    (tmp_path / f"{filter_type}.yaml").write_text(yaml.safe_dump(cfg))
    msgs = list(_stream())
    if inject is not None:
        k, topic, bad = inject(msgs)
        msgs.insert(k, (topic, msgs[k][1], bad))
    runner = OfflineRunner(tmp_path / f"{filter_type}.yaml", capture=True)
    try:
        runner.feed(msgs)
        node = runner.nodes[0]
        return [(m.header.stamp.sec, m.header.stamp.nanosec, tuple(m.pose.covariance),
                 m.pose.pose.position.x, m.pose.pose.position.y, m.twist.twist.angular.z)
                for m in runner.captured["/odometry/filtered"]], {
            name: dict(st.dropped) for name, st in node.estimator.stats.items()}
    finally:
        runner.close()


def _odom_at(msgs, k0=400):
    """Index and a copy of the first wheel odometry message after ``k0``."""
    k = next(i for i in range(k0, len(msgs)) if msgs[i][0].endswith("odom"))
    return k, msgs[k][0], copy.deepcopy(msgs[k][2])


def _future(seconds):
    def inject(msgs):
        k, topic, m = _odom_at(msgs)
        m.header.stamp.sec += int(seconds)
        return k, topic, m
    return inject


def _absurd_yaw_rate(msgs):
    k, topic, m = _odom_at(msgs)
    m.twist.twist.angular.z = 1e20
    m.twist.covariance = [0.01 if i % 7 == 0 else 0.0 for i in range(36)]
    return k, topic, m


CASES = [("future_30s", _future(30), "future_stamp"), ("future_1e6s", _future(1_000_000), "future_stamp"),
         ("angular_z_1e20", _absurd_yaw_rate, "implausible")]


@pytest.mark.parametrize("filter_type", ["ekf", "ukf"])
@pytest.mark.parametrize("name,inject,reason", CASES, ids=[c[0] for c in CASES])
def test_bad_odometry_is_dropped_counted_and_leaves_the_output_as_if_it_never_came(
        tmp_path, filter_type, name, inject, reason):
    clean, clean_drops = _run(tmp_path, filter_type)
    dirty, drops = _run(tmp_path, filter_type, inject)
    assert drops["odom0"].get(reason) == 1 and sum(drops["odom0"].values()) == 1, drops
    assert clean_drops["odom0"] == {}
    assert len(dirty) == len(clean) > 900 and dirty == clean


def _measurement(z, R, idx):
    return Measurement("s", 1.0, np.asarray(z, float), np.asarray(R, float), StateSelection(idx))


@pytest.mark.parametrize("cls,R,why", [
    (c, R, why) for c in (Ekf, FilterpyEkf) for R, why in (
        (np.zeros((2, 2)), "certain prior and certain measurement: S singular"),
        (np.full((2, 2), np.nan), "non-finite R"))]
    + [(c, np.full((2, 2), np.nan), "non-finite R") for c in (Ukf, FilterpyUkf)])
def test_an_update_that_would_go_singular_or_non_finite_is_rejected_and_the_state_kept(cls, R, why):
    f = cls(ConstantAcceleration3D(np.diag(DEFAULT_PROCESS_NOISE)))
    f.set_state(np.zeros(STATE_SIZE), np.zeros((STATE_SIZE, STATE_SIZE)) if "singular" in why else np.eye(STATE_SIZE))
    x0, P0 = f.x.copy(), f.P.copy()
    r = f.update(_measurement([1.0, 2.0], R, [0, 1]))
    assert r.numerical_failure and not r.accepted, why
    np.testing.assert_array_equal(f.x, x0)
    np.testing.assert_array_equal(f.P, P0)
    f.set_state(np.zeros(STATE_SIZE), np.eye(STATE_SIZE))
    ok = f.update(_measurement([1.0], [[1.0]], [0]))
    assert ok.accepted and not ok.numerical_failure and f.x[0] == pytest.approx(0.5)
