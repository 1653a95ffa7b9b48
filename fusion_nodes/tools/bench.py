# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion bench``: every figure next to its baseline, its peer and its limit, measured in one run.

Machines here are noisy, so nothing is compared with a number from another
run: the Kalman core next to a plain numpy EKF (the limit), the filterpy
reference and Stone Soup (:mod:`.bench_core`); radar, camera and fusion
costs next to trivial baselines, with their scaling tables
(:mod:`.bench_perception`); the object tracker next to Stone Soup's GNN
at 10 / 50 / 200 objects (:mod:`.bench_tracking`); the synchronizer next to message_filters on the
same stream (:mod:`.bench_sync`); offline replay of test1.bag against its
duration; and kalman_fusion_node over DDS next to relay_node (a subscriber
that republishes each message and does nothing else) at rising IMU rates,
with the lossless rate of each and their ratio.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
import timeit
from pathlib import Path

import numpy as np
import yaml

from . import bench_core, bench_perception, bench_sync, bench_tracking
from .paths import executable as executable_path

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


def _us(fn, number=2000, repeat=5) -> float:
    """Median over ``repeat`` runs of the mean cost of ``fn`` in microseconds."""
    return float(np.median(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Bench:
    """An in-process rclpy node that publishes the load and counts the outputs."""

    def __init__(self):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        self.rclpy = rclpy
        self.ctx = Context()
        rclpy.init(context=self.ctx)
        self.node = rclpy.create_node("fusion_bench", context=self.ctx)
        self.ex = SingleThreadedExecutor(context=self.ctx)
        self.ex.add_node(self.node)
        self.counts: dict[str, int] = {}
        self.last: dict[str, object] = {}
        self.filter_status: dict[str, list] = {}     # topic -> [(stamp, published)] of kalman filter statuses
        self._thread = threading.Thread(target=self.ex.spin, daemon=True)
        self._thread.start()

    def count(self, msg_type, topic, depth: int = 5000):
        """Count ``topic`` from now on (a fresh subscription: :meth:`forget` it after the step)."""
        from fusion_nodes.ros.qos import sensor_qos
        self.counts[topic] = 0
        self.last.pop(topic, None)
        self.filter_status[topic] = []

        def cb(msg):
            self.counts[topic] += 1
            self.last[topic] = msg
            for st in getattr(msg, "status", ()):
                if st.name.endswith(": filter"):
                    vals = {kv.key: kv.value for kv in st.values}
                    stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
                    self.filter_status[topic].append((stamp, int(vals.get("published", 0))))
        return self.node.create_subscription(msg_type, topic, cb, sensor_qos(depth))

    def forget(self, *entities) -> None:
        """Destroy the step's subscriptions and publishers, so later steps do not wait on them."""
        for e in entities:
            if hasattr(e, "msg_type") and hasattr(e, "callback"):
                self.node.destroy_subscription(e)
            else:
                self.node.destroy_publisher(e)

    def settle(self, topic: str, quiet: float = 0.5, limit: float = 10.0) -> int:
        """Wait (at most ``limit`` s) until ``topic``'s count stops growing for ``quiet`` s; the count."""
        end, last, since = time.monotonic() + limit, -1, time.monotonic()
        while time.monotonic() < end:
            n = self.counts[topic]
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
            time.sleep(0.05)
        return self.counts[topic]

    def close(self):
        self.ex.shutdown(timeout_sec=2.0)
        self._thread.join(timeout=2.0)
        self.node.destroy_node()
        self.rclpy.shutdown(context=self.ctx)


def _start(executable: str, params: dict, node_name: str, tmp: Path) -> subprocess.Popen:
    f = tmp / f"{node_name}.yaml"
    f.write_text(yaml.safe_dump({node_name: {"ros__parameters": params}}))
    return subprocess.Popen([executable_path(executable), "--ros-args", "--params-file", str(f)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stream(bench, pubs, duration: float):
    """Publish each ``(publisher, rate, make_msg)`` at its rate for ``duration`` s; returns counts.

    Message ``k`` of a stream is stamped ``start + k / rate`` (node clock), so
    stamps are distinct and evenly spaced even when the loop publishes a
    few messages at once to catch up.
    """
    from builtin_interfaces.msg import Time
    sent = [0] * len(pubs)
    t0 = time.monotonic()
    start_ns = bench.node.get_clock().now().nanoseconds
    while (elapsed := time.monotonic() - t0) < duration:
        for i, (pub, rate, make) in enumerate(pubs):
            while sent[i] < int(elapsed * rate):
                ns = start_ns + int(sent[i] * 1e9 / rate)
                pub.publish(make(Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)))
                sent[i] += 1
        time.sleep(0.001)
    return sent


def _imu(stamp):
    from sensor_msgs.msg import Imu
    m = Imu()
    m.header.stamp = stamp
    m.orientation.w = 1.0
    m.orientation_covariance = [1e-3, 0, 0, 0, 1e-3, 0, 0, 0, 1e-3]
    m.angular_velocity_covariance = [1e-4, 0, 0, 0, 1e-4, 0, 0, 0, 1e-4]
    m.linear_acceleration.z = 9.80665
    m.linear_acceleration_covariance = [1e-2, 0, 0, 0, 1e-2, 0, 0, 0, 1e-2]
    return m


def _odom(stamp, var=1e-3):
    from nav_msgs.msg import Odometry
    m = Odometry()
    m.header.stamp = stamp
    m.pose.covariance = list(np.diag([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]).ravel())
    m.twist.twist.linear.x = 1.0
    m.twist.covariance = list(np.diag([var, var, 1.0, 1.0, 1.0, var]).ravel())
    return m


def relay_throughput(bench, rate: int, duration: float, tmp: Path, cloud: bool = False) -> dict:
    """relay_node over DDS at ``rate``: IMU messages, or (``cloud``) 10-object decision clouds."""
    from sensor_msgs.msg import Imu, PointCloud2
    from fusion_nodes.ros.qos import sensor_qos
    kind = "cloud" if cloud else "imu"
    out = f"/bench/relayed_{kind}_{rate}"
    msg_type, make = (PointCloud2, _decisions(0)) if cloud else (Imu, _imu)
    proc = _start("relay_node", {"input": f"/bench/relay_in_{kind}_{rate}", "output": out,
                                 "message_type": f"sensor_msgs/msg/{msg_type.__name__}"}, "relay_node", tmp)
    sub = pub = None
    try:
        sub = bench.count(msg_type, out, depth=int(rate * duration * 1.2) + 100)
        pub = bench.node.create_publisher(msg_type, f"/bench/relay_in_{kind}_{rate}", sensor_qos(1000))
        _wait(lambda: pub.get_subscription_count() > 0 and bench.node.count_publishers(out) > 0)
        time.sleep(0.5)
        cpu0 = _cpu_seconds(proc.pid)
        (sent,) = _stream(bench, [(pub, rate, make)], duration)
        cpu = (_cpu_seconds(proc.pid) - cpu0) / duration
        return {"sent": sent, "received": bench.settle(out), "cpu": cpu}
    finally:
        _stop(proc)
        bench.forget(*(e for e in (sub, pub) if e is not None))


def kalman_throughput(bench, rate: int, frequency: float, duration: float, tmp: Path) -> dict:
    from diagnostic_msgs.msg import DiagnosticArray
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import Imu
    from fusion_nodes.ros.qos import sensor_qos
    tag = f"{rate}_{int(frequency)}"
    params = {"frequency": float(frequency), "two_d_mode": True, "processing_delay": PROCESSING_DELAY,
              "auto_processing_delay": True,
              "imu0": f"/bench/imu_{tag}", "imu0_queue_size": 1000,
              "imu0_config": [False] * 5 + [True] + [False] * 5 + [True, True, True, False],
              "odom0": f"/bench/odom_{tag}", "odom0_queue_size": 100,
              "odom0_config": [False] * 6 + [True, True, False, False, False, True] + [False] * 3,
              "odom1": f"/bench/gps_{tag}", "odom1_queue_size": 100,
              "odom1_config": [True, True] + [False] * 13}
    proc = _start("kalman_fusion_node", params, "kalman_fusion_node", tmp)
    entities = []
    try:
        entities += [bench.count(Odometry, "/odometry/filtered"), bench.count(DiagnosticArray, "/diagnostics")]
        pubs = [(bench.node.create_publisher(Imu, params["imu0"], sensor_qos(1000)), rate, _imu),
                (bench.node.create_publisher(Odometry, params["odom0"], sensor_qos(100)), 50, _odom),
                (bench.node.create_publisher(Odometry, params["odom1"], sensor_qos(100)), 10,
                 lambda s: _odom(s, 1.0))]
        entities += [p for p, _, _ in pubs]
        _wait(lambda: all(p.get_subscription_count() > 0 for p, _, _ in pubs)
              and bench.node.count_publishers("/odometry/filtered") > 0)
        time.sleep(0.5)
        cpu0 = _cpu_seconds(proc.pid)
        t0, start = time.monotonic(), bench.node.get_clock().now().nanoseconds * 1e-9
        sent = _stream(bench, pubs, duration)
        wall = time.monotonic() - t0
        cpu = (_cpu_seconds(proc.pid) - cpu0) / wall
        time.sleep(1.5)  # one more diagnostics period
        received = _diag_received(bench.last.get("/diagnostics"))
        return {"sent": sent, "received": received, "cpu": cpu,
                "out_rate": _output_rate(bench.filter_status["/diagnostics"], start, start + wall)}
    finally:
        _stop(proc)
        bench.forget(*entities)


def _output_rate(statuses, start: float, end: float) -> float:
    """The node's own output rate (its ``published`` count per second of its clock) over [start, end]."""
    inside = [(t, n) for t, n in statuses if start <= t <= end]
    if len(inside) < 2:
        return float("nan")
    (t0, n0), (t1, n1) = inside[0], inside[-1]
    return (n1 - n0) / (t1 - t0)


def _stop(proc, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if the node is not gone within ``timeout`` s (a bench never hangs on a stop)."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        print(f"  (pid {proc.pid} ignored SIGTERM for {timeout:g} s: killed)")
        proc.kill()
        proc.wait(timeout)


def _decisions(offset: float, n: int = 10):
    """A maker of n-object decision clouds (x, y, 4 class scores), positions shifted by ``offset`` m."""
    from sensor_msgs.msg import PointCloud2
    from std_msgs.msg import Header
    from fusion_nodes.ros import pointcloud
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.ones(4), n)
    cols = {"x": np.linspace(5, 50, n) + offset, "y": np.linspace(-10, 10, n),
            **{f"score_{c}": P[:, k] for k, c in enumerate(("car", "pedestrian", "cyclist", "pole"))}}
    return lambda stamp: pointcloud.write(PointCloud2(), cols, Header(stamp=stamp, frame_id="base_link"))


def late_throughput(bench, rate: int, duration: float, tmp: Path) -> dict:
    """late_fusion_node over DDS: two inputs of 10-object decision clouds at ``rate`` each."""
    from sensor_msgs.msg import PointCloud2
    from fusion_nodes.ros.qos import sensor_qos
    topics = [f"/bench/late_a_{rate}", f"/bench/late_b_{rate}"]
    out = f"/bench/late_out_{rate}"
    proc = _start("late_fusion_node", {"inputs": topics, "input_names": ["a", "b"], "output_topic": out,
                                       "rule": "average", "weights": [0.6, 0.4], "queue_size": 100,
                                       "slop": 0.0005}, "late_fusion_node", tmp)
    entities = []
    try:
        entities.append(bench.count(PointCloud2, out, depth=int(rate * duration * 1.2) + 100))
        pubs = [(bench.node.create_publisher(PointCloud2, t, sensor_qos(1000)), rate, _decisions(0.3 * i))
                for i, t in enumerate(topics)]
        entities += [p for p, _, _ in pubs]
        _wait(lambda: all(p.get_subscription_count() > 0 for p, _, _ in pubs) and bench.node.count_publishers(out))
        time.sleep(0.5)
        cpu0, t0 = _cpu_seconds(proc.pid), time.monotonic()
        sent = _stream(bench, pubs, duration)
        wall = time.monotonic() - t0
        cpu = (_cpu_seconds(proc.pid) - cpu0) / wall
        return {"sent": sent, "fused": bench.settle(out), "cpu": cpu}
    finally:
        _stop(proc)
        bench.forget(*entities)


def late_section(bench, duration: float, tmp: Path, rates=(50, 200, 500)) -> None:
    print("\n== late_fusion_node over DDS: 2 inputs x 10-object decision clouds, vs relay_node ==")
    print(f"  {'sets/s':>7} {'msgs in':>8} {'relay out':>10} {'relay CPU':>10} {'fused sets':>11} "
          f"{'late CPU':>9} {'µs/set':>7}")
    for r in rates:
        relay = relay_throughput(bench, 2 * r, duration, tmp, cloud=True)
        late = late_throughput(bench, r, duration, tmp)
        per_set = 1e6 * late["cpu"] * duration / max(1, late["fused"])
        print(f"  {r:>7} {sum(late['sent']):>8} {relay['received']:>5}/{relay['sent']:<5} "
              f"{100 * relay['cpu']:>9.0f}% {late['fused']:>5}/{late['sent'][0]:<5} {100 * late['cpu']:>8.0f}% "
              f"{per_set:>7.0f}")


PROCESSING_DELAY = 0.06  # s: odometry here is stamped 20 ms before it is sent, plus DDS delay


def _diag_received(msg) -> dict:
    out = {}
    for st in getattr(msg, "status", []):
        vals = {kv.key: kv.value for kv in st.values}
        if "received" in vals and ":" in st.name:
            out[st.name.split(": ")[-1]] = int(vals["received"])
    return out


def _wait(cond, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end and not cond():
        time.sleep(0.05)


def _lossless(rows, ok) -> int:
    """Highest rate of the leading run of rates that passed ``ok`` (0 if the first failed)."""
    best = 0
    for rate, res in rows:
        if not ok(res):
            break
        best = rate
    return best


def node_section(bench, duration: float, tmp: Path, rates) -> None:
    print("\n== relay_node vs kalman_fusion_node over DDS: IMU + 50 Hz odometry + 10 Hz GPS ==")
    print("  (kalman: EKF, two_d_mode, auto_processing_delay; 'lossless' = every IMU message reached the "
          "callback and the output kept >= 90 % of its rate)")
    print(f"  {'IMU Hz':>7} {'relay':>13} {'CPU':>5} | {'out 50 Hz: IMU':>15} {'out Hz':>7} {'CPU':>5} | "
          f"{'out 200 Hz: IMU':>16} {'out Hz':>7} {'CPU':>5}")
    relay, k50, k200 = [], [], []
    for r in rates:
        relay.append((r, relay_throughput(bench, r, duration, tmp)))
        k50.append((r, kalman_throughput(bench, r, 50.0, duration, tmp)))
        k200.append((r, kalman_throughput(bench, r, 200.0, duration, tmp)))
        a, b, c = relay[-1][1], k50[-1][1], k200[-1][1]
        print(f"  {r:>7} {a['received']:>6}/{a['sent']:<6} {100 * a['cpu']:>4.0f}% | "
              f"{b['received'].get('imu0', 0):>7}/{b['sent'][0]:<7} {b['out_rate']:>7.1f} {100 * b['cpu']:>4.0f}% | "
              f"{c['received'].get('imu0', 0):>8}/{c['sent'][0]:<7} {c['out_rate']:>7.1f} {100 * c['cpu']:>4.0f}%")
    lossless_relay = _lossless(relay, lambda res: res["received"] >= res["sent"])
    for freq, rows in ((50.0, k50), (200.0, k200)):
        rate = _lossless(rows, lambda res: res["received"].get("imu0", 0) >= res["sent"][0]
                         and res["out_rate"] >= 0.9 * freq)
        ratio = rate / lossless_relay if lossless_relay else float("nan")
        print(f"  lossless: relay_node {lossless_relay} msg/s, kalman_fusion_node (output {freq:g} Hz) {rate} msg/s "
              f"= {ratio:.2f}x the relay (>= 0.65)")


def offline_section(bag: Path | None = None) -> None:
    """CPU time of ``fusion offline`` on test1.bag (EKF and UKF, whole process) against the bag's duration."""
    from .bagio import topics
    from .paths import config_file
    bag = bag or Path(__file__).resolve().parents[2] / "data" / "robot_localization" / "test1.bag"
    params = config_file("rl_test1.yaml")
    if not bag.exists():
        print("\n== offline replay: data/robot_localization/test1.bag not found, skipped ==")
        return
    from rosbags.highlevel import AnyReader
    with AnyReader([bag]) as reader:
        duration = reader.duration * 1e-9
    n_messages = sum(n for _, n in topics(bag).values())
    print(f"\n== offline replay of test1.bag ({duration:.0f} s, {n_messages} messages), whole process ==")
    print(f"  {'filter':>6} {'CPU s':>7} {'x real time (CPU)':>18}   (limits: EKF >= 20x, UKF >= 10x)")
    with tempfile.TemporaryDirectory() as d:
        for kind in ("ekf", "ukf"):
            out = Path(d) / f"{kind}.mcap"
            proc = subprocess.Popen([executable_path("fusion"), "offline", str(bag), "--params", str(params),
                                     "--out", str(out), "--param", f"filter_type:={kind}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            cpu = usage.ru_utime + usage.ru_stime
            note = "" if os.waitstatus_to_exitcode(status) == 0 else "  (failed)"
            print(f"  {kind:>6} {cpu:>7.1f} {duration / cpu:>17.1f}x{note}")


def main(duration: float = 4.0, rates=(500, 1000, 1500, 2000, 2500, 3000)) -> None:
    bench_core.print_section()
    bench_perception.print_section()
    bench_tracking.print_section()
    bench_sync.print_section()
    offline_section()
    bench = _Bench()
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            late_section(bench, duration, tmp)
            node_section(bench, duration, tmp, rates)
    finally:
        bench.close()
