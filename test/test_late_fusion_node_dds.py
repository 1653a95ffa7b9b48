# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""late_fusion_node over DDS: live weights, rejected changes, a silent and a garbage input."""
import itertools
import time

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from fusion_nodes.ros import pointcloud
from harness import diagnostics_values, write_params

CLASSES = ["stress", "calm"]
PARAMS = {"inputs": ["/t/a", "/t/b"], "input_names": ["a", "b"], "classes": CLASSES, "output_topic": "/t/fused",
          "rule": "average", "weights": [0.6, 0.4], "match_by": "scene", "slop": 0.01, "max_wait": 0.3,
          "stale_after": 0.5}


def decision(t, p_stress, **extra):
    cols = {"score_stress": np.array([p_stress]), "score_calm": np.array([1.0 - p_stress])}
    cols.update({k: np.array([v]) for k, v in extra.items()})
    return pointcloud.write(PointCloud2(), cols, Header(stamp=Time(sec=int(t), nanosec=int(round(t % 1 * 1e9)))))


WARM_UP_BEFORE = 5.0       # s: hand-shake sets are stamped before this, the tests' own after it


def fused(probe):
    """The node's outputs for the tests' own decisions (stamped from WARM_UP_BEFORE on)."""
    out = [(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9, pointcloud.read(m))
           for m in probe.messages(probe.fused_topic)]
    return [(t, o) for t, o in out if t >= WARM_UP_BEFORE]


def warm_up(probe, pubs):
    """Send agreeing decisions (stamps 1.0, 1.01, ...) until one fused set comes back: the node's output
    publisher (best effort) has then matched the probe, so no output of the test itself can be lost to
    discovery still under way on a loaded machine. Bounded by an event, generously.
    """
    sent = itertools.count()

    def answered():
        t = 1.0 + 0.01 * next(sent)
        for p in pubs.values():
            p.publish(decision(t, 0.5))
        return len(probe.messages(probe.fused_topic)) > 0
    assert probe.wait_for(answered, 120.0, period=0.5), "no fused output to the hand-shake decisions"


# Each started node gets its own topics: a node stopped by the previous test stays in the DDS
# graph for a while, and its endpoints would satisfy the waits for the new node's.
_RUN = itertools.count()


@pytest.fixture
def start_late(tmp_path, probe, nodes):
    """Start late_fusion_node with PARAMS (plus overrides); returns the process and the input publishers."""
    def start(**overrides):
        ns = f"/t{next(_RUN)}"
        topics = {"inputs": [f"{ns}/a", f"{ns}/b"], "output_topic": f"{ns}/fused"}
        node = nodes("late_fusion_node", write_params(tmp_path / "p.yaml", "late_fusion_node",
                                                      {**PARAMS, **topics, **overrides}))
        probe.fused_topic = f"{ns}/fused"
        probe.collect(PointCloud2, probe.fused_topic)
        probe.collect(DiagnosticArray, "/diagnostics")
        pubs = {k: probe.publisher(PointCloud2, f"{ns}/{k}") for k in ("a", "b")}
        for p in pubs.values():
            assert probe.wait_for_subscribers(p)
        assert probe.wait_for_publishers(probe.fused_topic)
        return node, pubs
    return start


@pytest.fixture
def late(start_late, probe):
    node, pubs = start_late()
    warm_up(probe, pubs)
    return node, pubs


@pytest.fixture(params=["fusion_nodes", "message_filters"])
def late_any_backend(start_late, probe, request):
    """late_fusion_node with each synchronizer backend (message_filters: the real one where installed)."""
    node, pubs = start_late(sync_backend=request.param)
    warm_up(probe, pubs)
    return node, pubs


def test_live_weight_change_changes_the_output_and_bad_changes_are_rejected(probe, late_any_backend):
    node, pubs = late_any_backend
    pubs["a"].publish(decision(10.0, 0.7))
    pubs["b"].publish(decision(10.0, 0.6))
    assert probe.wait_for(lambda: len(fused(probe)) == 1)
    out = fused(probe)[0][1]
    assert out["score_stress"][0] == pytest.approx(0.66, abs=1e-6)        # 0.7 x 0.6 + 0.6 x 0.4
    assert out["class_id"][0] == 0 and out["sources"][0] == 2

    client = AsyncParameterClient(probe.node, "late_fusion_node")
    assert client.wait_for_services(10.0)

    def set_params(*params):
        fut = client.set_parameters(list(params))
        assert probe.wait_for(fut.done, 10.0)
        return fut.result().results[0]
    for value, reason in (([0.5, -0.1], "non-negative"), ([0.0, 0.0], "not all be zero"),
                          ([1.0, 1.0, 1.0], "3 values for 2 inputs")):
        r = set_params(Parameter("weights", value=value))
        assert not r.successful and reason in r.reason, r.reason
    r = set_params(Parameter("rule", value="dempster"))
    assert not r.successful and "not one of" in r.reason
    assert not set_params(Parameter("priors", value=[0.2, 0.3, 0.5])).successful

    assert set_params(Parameter("weights", value=[0.1, 0.9])).successful
    pubs["a"].publish(decision(11.0, 0.7))
    pubs["b"].publish(decision(11.0, 0.3))
    assert probe.wait_for(lambda: len(fused(probe)) == 2)
    out = fused(probe)[1][1]
    assert out["score_stress"][0] == pytest.approx(0.1 * 0.7 + 0.9 * 0.3, abs=1e-6)
    assert out["class_id"][0] == 1                  # b now dominates: calm
    assert set_params(Parameter("rule", value="bayes")).successful
    pubs["a"].publish(decision(12.0, 0.8))
    pubs["b"].publish(decision(12.0, 0.8))
    assert probe.wait_for(lambda: len(fused(probe)) == 3)
    # Weighted log-linear pool with weights 0.1/0.9 (sum 1: the prior cancels): 0.8 exactly.
    assert fused(probe)[2][1]["score_stress"][0] == pytest.approx(0.8, abs=1e-6)
    assert node.alive()


def test_silent_and_garbage_inputs_degrade_without_stopping_the_output(probe, late):
    node, pubs = late
    for k in range(10):          # both inputs at 10 Hz
        pubs["a"].publish(decision(20.0 + 0.1 * k, 0.7))
        pubs["b"].publish(decision(20.0 + 0.1 * k, 0.6))
        time.sleep(0.1)
    assert probe.wait_for(lambda: len(fused(probe)) >= 10)
    # b dies; a goes on at 10 Hz. Then b sends garbage: NaN scores, a malformed cloud, no score fields.
    for k in range(10, 30):
        pubs["a"].publish(decision(20.0 + 0.1 * k, 0.7))
        if k >= 20:
            bad = decision(20.0 + 0.1 * k, np.nan) if k % 3 == 0 else \
                pointcloud.write(PointCloud2(), {"x": np.array([1.0])}, decision(20.0 + 0.1 * k, 0.5).header)
            if k % 3 == 2:
                bad = decision(20.0 + 0.1 * k, 0.5)
                bad.data = bytes(bad.data)[:-2]
            pubs["b"].publish(bad)
        time.sleep(0.1)
    # b's garbage is dropped where it arrives, so it completes no set: a's messages go out as partial
    # sets once they are max_wait (0.3 s) older than the newest stamp, i.e. all but the last three.
    assert probe.wait_for(lambda: len(fused(probe)) >= 26)
    out = fused(probe)
    late_sets = [o for t, o in out if t >= 21.05]
    stamps = np.array([t for t, _ in out if t >= 21.05])
    assert len(late_sets) >= 15 and np.median(np.diff(stamps)) == pytest.approx(0.1, abs=0.01)  # rate kept
    assert all(o["sources"][0] == 1 and o["from_b"][0] == 0 for o in late_sets)
    # Confidence drops with the missing evidence: 0.7 x coverage 0.6 instead of 0.66 x 1.
    assert late_sets[-1]["confidence"][0] == pytest.approx(0.42, abs=1e-6)
    assert out[0][1]["confidence"][0] == pytest.approx(0.66, abs=1e-6)

    def status(name):
        for m in reversed(probe.messages("/diagnostics")):
            for st in m.status:
                if st.name == f"late_fusion_node: {name}":
                    return st
    assert probe.wait_for(lambda: status("fusion") is not None and "degraded inputs: b" in status("fusion").message,
                          5.0)
    assert status("fusion").level == DiagnosticStatus.WARN

    def counts():
        b = diagnostics_values(probe.messages("/diagnostics"), "late_fusion_node: b")
        return [int(b.get(f"dropped.{k}", 0)) for k in ("bad_decision", "missing_field", "malformed_cloud")]
    # NaN scores at k = 21, 24, 27; no score fields at 22, 25, 28; truncated data at 20, 23, 26, 29.
    assert probe.wait_for(lambda: counts() == [3, 3, 4], 5.0), counts()
    assert node.alive()


def test_invalid_start_parameters_exit_with_the_reason(tmp_path, nodes):
    for bad, text in (({"weights": [1.0]}, "1 values for 2 inputs"), ({"weights": [0.0, 0.0]}, "not all be zero"),
                      ({"rule": "stacking"}, "needs stacking_model"), ({"input_names": ["a"]}, "input_names")):
        node = nodes("late_fusion_node", write_params(tmp_path / "bad.yaml", "late_fusion_node", {**PARAMS, **bad}))
        assert node.wait(30) == 2
        assert text in node.output(), node.output()


def test_adaptive_weights_follow_agreement_with_the_fused_decision(probe, start_late):
    node, pubs = start_late(adaptive_weights=True, adaptive_rate=0.2, weight_floor=0.05)
    for k in range(20):   # a: stress 0.9; b keeps saying calm (0.2 stress) and is outvoted (0.62 stress)
        pubs["a"].publish(decision(30.0 + 0.1 * k, 0.9))
        pubs["b"].publish(decision(30.0 + 0.1 * k, 0.2))
        time.sleep(0.03)
    assert probe.wait_for(lambda: len(fused(probe)) >= 20)
    first, last = fused(probe)[0][1], fused(probe)[-1][1]
    assert first["score_stress"][0] == pytest.approx(0.9 * 0.6 + 0.2 * 0.4, abs=1e-6)
    assert last["score_stress"][0] > 0.85        # b's weight has fallen towards its floor

    def weights():
        w = diagnostics_values(probe.messages("/diagnostics"), "late_fusion_node: fusion").get("weights")
        return [float(v) for v in w.strip("[]").split(",")] if w else None
    assert probe.wait_for(lambda: weights() is not None and weights()[1] < 0.1 * weights()[0], 5.0), weights()
    assert weights()[1] > 0                      # floored, never zero
    assert node.alive()
