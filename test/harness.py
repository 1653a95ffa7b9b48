# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Helpers for integration tests: node executables as processes, a probe node over DDS."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import rclpy
import yaml
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy

from fusion_nodes.tools import paths



class _NoAliases(yaml.SafeDumper):
    # rcl's YAML parser does not resolve anchors/aliases (&id001 / *id001).
    def ignore_aliases(self, data):
        return True


def write_params(path: Path, node: str, params: dict) -> Path:
    path.write_text(yaml.dump({node: {"ros__parameters": params}}, Dumper=_NoAliases))
    return path


def run_offline(tmp_path: Path, node: str, params: dict, messages) -> dict:
    """``node`` with ``params`` fed ``messages`` (``(topic, t_ns, msg)``, deep-copied) by the OfflineRunner:
    every message it published, by topic.
    """
    import copy

    from fusion_nodes.tools.offline import OfflineRunner
    tmp_path.mkdir(parents=True, exist_ok=True)
    runner = OfflineRunner(write_params(tmp_path / "p.yaml", node, params), capture=True)
    try:
        runner.feed(copy.deepcopy(messages))
        return runner.captured
    finally:
        runner.close()


def wait_until(check, timeout=90.0, period=0.5):
    """The first truthy ``check()`` within ``timeout`` s (an event wait, not a timing assertion)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(period)
    return check()


class NodeProcess:
    """A package executable started with ``--ros-args --params-file``."""

    def __init__(self, executable: str, params_file, *ros_args, log_dir: Path):
        self.log = log_dir / f"{executable}.log"
        self._fh = open(self.log, "w")
        cmd = [paths.executable(executable), "--ros-args", "--params-file", str(params_file), *ros_args]
        self.proc = subprocess.Popen(cmd, stdout=self._fh, stderr=subprocess.STDOUT, env=os.environ.copy())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        if not self._fh.closed:
            self._fh.flush()
        return self.log.read_text()

    def wait(self, timeout=20.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._fh.close()
        return self.proc.returncode


class Probe:
    """A test-side rclpy node spinning in a background thread."""

    def __init__(self):
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("test_probe", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.received: dict[str, list] = {}
        self.subscriptions: dict[str, object] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def publisher(self, msg_type, topic, depth=100):
        return self.node.create_publisher(msg_type, topic, QoSProfile(depth=depth,
                                                                      reliability=ReliabilityPolicy.RELIABLE))

    def collect(self, msg_type, topic, depth=1000, reliable=False):
        """Keep every ``topic`` message. ``reliable``: for a reliable publisher whose every message a test
        waits for (a best-effort reader may lose one on a loaded machine, and a wait for it never ends).
        """
        self.received[topic] = []

        def cb(msg):
            with self._lock:
                self.received[topic].append((time.monotonic(), msg))
        # Best effort matches reliable and best-effort publishers alike.
        self.subscriptions[topic] = self.node.create_subscription(msg_type, topic, cb, QoSProfile(
            depth=depth, reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT))

    def clear(self, topic):
        """Forget what ``topic`` delivered so far."""
        with self._lock:
            self.received[topic] = []

    def messages(self, topic):
        with self._lock:
            return [m for _, m in self.received[topic]]

    def timed(self, topic):
        with self._lock:
            return list(self.received[topic])

    def now(self):
        return self.node.get_clock().now()

    def wait_for(self, condition, timeout=15.0, period=0.05) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return True
            time.sleep(period)
        return condition()

    def wait_for_subscribers(self, pub, timeout=15.0) -> bool:
        return self.wait_for(lambda: pub.get_subscription_count() > 0, timeout)

    def wait_for_publishers(self, topic, timeout=15.0) -> bool:
        """Until a remote publisher of ``topic`` is discovered and, where the probe collects ``topic``,
        matched by the probe's subscription (then a moment for the publisher's side to match too: a
        best-effort message sent before it has is lost; tests that must not lose the first output
        handshake first, see test_late_fusion_node_dds.warm_up).
        """
        sub = self.subscriptions.get(topic)
        ok = self.wait_for(lambda: self.node.count_publishers(topic) > 0
                           and (sub is None or sub.get_publisher_count() > 0), timeout)
        time.sleep(0.2)
        return ok

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def diagnostics_values(msgs, name: str) -> dict:
    """Key/values of the last status called ``name`` in DiagnosticArray messages."""
    out = {}
    for m in msgs:
        for st in m.status:
            if st.name == name:
                out = {kv.key: kv.value for kv in st.values}
                out["message"] = st.message
    return out
