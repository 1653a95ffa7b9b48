# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""A new filter and a new late-fusion rule, each one class plus one registry line, used by the nodes.

This file is the "one new file": an information filter (the Kalman update in
information form, gated before the gain like the package's filters) and a
median rule. Each is registered with one call; kalman_fusion_node and
late_fusion_node then run them from their parameters, offline, with no other
change to the package.
"""
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import yaml

from fusion_nodes.core import kalman, late_fusion
from fusion_nodes.core.filters import UpdateResult
from fusion_nodes.core.geometry import wrap_angle
from fusion_nodes.core.late_fusion import Decision, Rule, make_rule, register_rule
from fusion_nodes.core.motion import ConstantAcceleration3D
from fusion_nodes.ros import pointcloud
from fusion_nodes.tools import bagio, sim
from fusion_nodes.tools.offline import run_offline
from fusion_nodes.tools.own_data import write_decisions


class InformationFilter(kalman.LeanFilter):
    """Predict in covariance form; update in information form.

    ``Y = P^-1``, ``Y+ = Y + H^T R^-1 H``, ``x+ = x + Y+^-1 H^T R^-1 y``: the
    same estimate as the Kalman gain form, by the matrix inversion lemma.
    """

    name = "information"
    updates = 0                 # class-wide count: the node's estimator must be one of these

    def predict(self, dt):
        if dt > 0:
            x, F = self.motion.step(self.x, dt)
            self.x, self.P = x, F @ self.P @ F.T + self.motion.Q(dt)

    def _update(self, m):
        InformationFilter.updates += 1
        H, R = m.model.jacobian(self.x), m.R
        y = m.z - m.model.h(self.x)
        angles = np.flatnonzero(getattr(m.model, "angle_mask", np.zeros(len(y), bool)))
        y[angles] = wrap_angle(y[angles])
        S = H @ self.P @ H.T + R
        total, results, rows = kalman.gate_parts(m, y, S, kalman.cholesky(S))
        if rows is not None:
            if not rows:
                return UpdateResult(results, total, len(y)), None, None
            H, R, y = H[rows], R[np.ix_(rows, rows)], y[rows]
        Rinv = np.linalg.inv(R)
        P = np.linalg.inv(np.linalg.inv(self.P) + H.T @ Rinv @ H)
        return UpdateResult(results, total, len(m.z)), self.x + P @ H.T @ Rinv @ y, P


@dataclass(frozen=True)
class MedianRule(Rule):
    """Per class, the median of the present sources' probabilities, normalised (weights unused)."""

    name: ClassVar[str] = "median"

    def _combine(self, P, w, labels, decisions, w_all):
        p = np.median(P, axis=0)
        p = p / p.sum()
        return p, int(np.argmax(p))

    def _combine_many(self, P, M, w, L):
        p = np.nanmedian(np.where(M[..., None], P, np.nan), axis=1)
        return p / p.sum(axis=1, keepdims=True)


@pytest.fixture
def registered(monkeypatch):
    """The one registry line of each (undone after the test, so other tests see the shipped registry)."""
    monkeypatch.setattr(kalman, "FILTERS", dict(kalman.FILTERS))
    monkeypatch.setattr(late_fusion, "RULE_TYPES", dict(late_fusion.RULE_TYPES))
    kalman.register_filter("information", InformationFilter)
    register_rule(MedianRule)


def _odometry(bag):
    return np.array([[m.pose.pose.position.x, m.pose.pose.position.y, m.twist.twist.linear.x,
                      *np.diag(np.reshape(m.pose.covariance, (6, 6)))]
                     for _, _, m in bagio.read(bag, ["/odometry/filtered"])])


def test_an_information_filter_in_one_file_runs_in_kalman_fusion_node(tmp_path, registered):
    f, e = InformationFilter(ConstantAcceleration3D()), kalman.Ekf(ConstantAcceleration3D())
    assert isinstance(kalman.make_filter("information", ConstantAcceleration3D()), InformationFilter)
    bag = tmp_path / "sim.mcap"
    sim.write(sim.SimConfig(seed=5, duration=30.0), bag)
    from conftest import REPO
    outs, InformationFilter.updates = {}, 0
    for kind in ("ekf", "information"):
        outs[kind] = tmp_path / f"{kind}.mcap"
        run_offline(bag, REPO / "config" / "demo_sim.yaml", outs[kind], extra_params=[f"filter_type:={kind}"])
    assert InformationFilter.updates > 1000          # the node ran this filter, not the EKF
    a, b = _odometry(outs["ekf"]), _odometry(outs["information"])
    assert a.shape == b.shape and len(a) > 500
    diff = np.abs(a - b).max()
    print(f"information filter vs EKF over {len(a)} outputs: largest difference {diff:.2e}")
    assert diff < 1e-5
    assert f.name == "information" and e.name == "ekf"


def test_a_median_rule_in_one_file_runs_in_late_fusion_node(tmp_path, registered):
    rng = np.random.default_rng(3)
    classes = ["a", "b", "c"]
    P = {m: rng.dirichlet(np.ones(3), size=40) for m in ("camera", "radar", "lidar")}
    y = rng.integers(0, 3, 40)
    bag = tmp_path / "decisions.mcap"
    write_decisions(P, y, classes, 0.5, bag, "/d")
    rule = make_rule("median", 3)
    ref = [rule.fuse([Decision(m, 0.0, P[m][i]) for m in P], [1.0, 1.0, 1.0]).label for i in range(40)]
    params = {"late_fusion_node": {"ros__parameters": {
        "inputs": [f"/d/{m}/decision" for m in P], "input_names": list(P), "classes": classes,
        "output_topic": "/fused", "rule": "median", "weights": [1.0, 1.0, 1.0], "quorum": 1,
        "match_by": "scene", "slop": 0.01, "max_wait": 0.2}}}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    run_offline(bag, tmp_path / "p.yaml", tmp_path / "fused.mcap")
    node = [int(pointcloud.read(m)["class_id"][0]) for _, _, m in bagio.read(tmp_path / "fused.mcap", ["/fused"])]
    assert len(node) == 40 and node == ref
    # the median is not one of the shipped rules' answers on these decisions
    assert any(node != [make_rule(r, 3).fuse([Decision(m, 0.0, P[m][i]) for m in P], [1.0] * 3).label
                        for i in range(40)] for r in ("average", "bayes"))
