# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Stopping a node process: any number of SIGINT / SIGTERM, at any point of its life, ends it with exit 0.

A terminal's Ctrl-C reaches every process of the group and ``ros2 launch``
sends its own SIGINT as well; a node still importing rclpy / scipy / OpenCV
(seconds on a loaded machine) can get them. Each case below once ended with
exit -2 (a ``KeyboardInterrupt``, or Python's finalisation restoring the
default handler before a late second signal) and made ``ros2 launch``
report the node as died.
"""
import signal
import subprocess
import sys

import pytest

from conftest import REPO
from fusion_nodes.tools import paths
from harness import wait_until

CASES = [("late_fusion_node", "late_fusion.yaml", "late fusion ("),
         ("kalman_fusion_node", "fusion.yaml", "fusing")]


def _catches(pid: int, sig: int) -> bool:
    """Whether process ``pid`` has a handler for ``sig`` (Linux: SigCgt in /proc/PID/status)."""
    status = open(f"/proc/{pid}/status").read()
    caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(caught >> (sig - 1) & 1)


def _start(executable, params):
    return subprocess.Popen([paths.executable(executable), "--ros-args", "--params-file",
                             str(REPO / "config" / params)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


@pytest.mark.parametrize("executable,params,ready", CASES, ids=[c[0] for c in CASES])
def test_sigint_during_start_up_exits_cleanly(executable, params, ready):
    proc = _start(executable, params)
    # The stop handlers are the first thing the executable installs (before rclpy, numpy, scipy):
    # once SIGTERM is caught, the process is in its seconds of imports. A signal before that, in
    # the interpreter's first milliseconds, ends any program.
    assert wait_until(lambda: _catches(proc.pid, signal.SIGTERM), 60.0, 0.001)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out


@pytest.mark.parametrize("executable,params,ready", CASES, ids=[c[0] for c in CASES])
def test_repeated_signals_while_running_exit_cleanly(tmp_path, executable, params, ready):
    log = tmp_path / "out.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([paths.executable(executable), "--ros-args", "--params-file",
                                 str(REPO / "config" / params)], stdout=fh, stderr=subprocess.STDOUT)
        try:
            assert wait_until(lambda: ready in log.read_text(), 120.0), log.read_text()
            for s in (signal.SIGINT, signal.SIGINT, signal.SIGTERM):  # Ctrl-C, launch's SIGINT, escalation
                proc.send_signal(s)
            assert proc.wait(120) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "Traceback" not in log.read_text(), log.read_text()


def test_the_entry_points_catch_signals_before_the_heavy_imports():
    code = ("import signal, sys; import fusion_nodes.nodes.entry as e; "
            "heavy = [m for m in ('rclpy', 'numpy', 'scipy', 'cv2') if m in sys.modules]; "
            "from fusion_nodes.ros import stopping; stopping.install(); "
            "print(heavy, signal.getsignal(signal.SIGTERM) is stopping._request)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] True", out
