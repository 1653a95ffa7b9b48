# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Late inputs: the processing delay chosen from the observed lateness, against the history replay.

A real bag (test2.bag) with its wheel odometry delivered 0.15 s after its
stamps, as a slow driver or a congested link does: with the replay every
odometry message rewinds the filter; with ``auto_processing_delay`` the node
holds the filter back by the lateness it measures, so the odometry slots in
at its own time and nothing is replayed, and the estimate is the same.
"""
import numpy as np
import pytest

from conftest import DATA, REPO
from fusion_nodes.core.estimator import LatenessWindow
from fusion_nodes.tools import bagio
from fusion_nodes.tools.evaluate import last_diagnostics
from fusion_nodes.tools.offline import run_offline

ODOM = "/jackal_velocity_controller/odom"
LATE = 0.15


def test_lateness_window_is_the_sliding_maximum():
    w = LatenessWindow(window=5.0)
    assert w.current(1.0) == 0.0
    w.note(10.0, 9.9)        # 0.1 s late
    w.note(11.0, 10.7)       # 0.3 s late
    w.note(12.0, 11.95)      # 0.05 s late
    assert w.current(12.0) == pytest.approx(0.3)
    assert w.current(15.9) == pytest.approx(0.3)
    assert w.current(16.5) == pytest.approx(0.05)     # the 0.3 s one left the window
    assert w.current(30.0) == 0.0
    w.note(31.0, 31.5)       # stamped ahead of its arrival: not late
    assert w.current(31.0) == 0.0
    w.note(40.0, 39.0)
    w.note(5.0, 4.9)         # the clock jumped back (bag loop): the window starts again
    assert w.current(5.0) == pytest.approx(0.1)


@pytest.fixture(scope="module")
def late_bag(tmp_path_factory):
    out = tmp_path_factory.mktemp("late") / "late.mcap"
    msgs = [(t + (int(LATE * 1e9) if topic == ODOM else 0), topic, m)
            for topic, t, m in bagio.read(DATA / "robot_localization" / "test2.bag")]
    with bagio.BagWriter(out) as w:
        for t, topic, m in sorted(msgs, key=lambda e: e[0]):
            w.write(topic, m, t)
    return out


def _run(bag, out, auto):
    run_offline(bag, REPO / "config" / "rl_test2.yaml", out,
                extra_params=["print_diagnostics:=true", f"auto_processing_delay:={str(auto).lower()}"])
    filt = last_diagnostics(out, "kalman_fusion_node: filter")["kalman_fusion_node: filter"]
    last = None
    for _, _, m in bagio.read(out, ["/odometry/filtered"]):
        last = m
    p = last.pose.pose.position
    return filt, np.array([p.x, p.y, p.z])


@pytest.mark.realdata
def test_auto_processing_delay_takes_the_lateness_and_replaces_the_replay(tmp_path, late_bag):
    replay, end_replay = _run(late_bag, tmp_path / "replay.mcap", auto=False)
    auto, end_auto = _run(late_bag, tmp_path / "auto.mcap", auto=True)
    print(f"replay: {replay['history_replays']} replays, delay {replay['processing_delay_s']} s; "
          f"auto: {auto['history_replays']} replays, delay {auto['processing_delay_s']} s; "
          f"end points {np.linalg.norm(end_auto - end_replay):.4f} m apart")
    assert int(replay["history_replays"]) > 1000          # every odometry message rewound the filter
    assert float(replay["processing_delay_s"]) == 0.0
    assert LATE <= float(auto["processing_delay_s"]) <= LATE + 0.05
    # Only the first odometry messages (before any lateness was seen) are replayed.
    assert int(auto["history_replays"]) < 10
    # The same measurements fused in the same order: the same estimate (the output differs only in
    # being predicted over the delay at each tick).
    assert np.linalg.norm(end_auto - end_replay) < 0.05
