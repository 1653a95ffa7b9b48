"""``fusion bench``: core filter cost and node throughput over DDS, with same-run baselines.

Machines here are noisy, so each figure is printed next to a baseline measured
in the same run: the core's costs next to a bare numpy 15x15 ``F P F^T``; the
kalman_fusion_node next to relay_node (a subscriber that republishes each
message and does nothing else) fed the same IMU stream.
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

from . import bench_sync
from .paths import executable as executable_path

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


def _us(fn, number=2000, repeat=5) -> float:
    """Median over ``repeat`` runs of the mean cost of ``fn`` in microseconds."""
    return float(np.median(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6)


def core_costs() -> list[tuple[str, float]]:
    """Per-call cost (µs) of predict, update and a full IMU message for EKF and UKF."""
    from fusion_nodes.core.estimator import EstimatorConfig, StateEstimator
    from fusion_nodes.core.kalman import Ekf, Ukf
    from fusion_nodes.core.motion import ConstantAcceleration3D
    from fusion_nodes.core.records import ImuSample
    from fusion_nodes.core.sensors import ImuModel, SensorConfig

    rows = []
    P = np.eye(15) + 0.01
    F = np.eye(15) + 0.001
    rows.append(("baseline: numpy F P F^T (15x15)", _us(lambda: F @ P @ F.T, 20000)))
    imu_cfg = SensorConfig("imu0", [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1], remove_gravity=True)
    sample = ImuSample(1.0, [0, 0, 0, 1.0], np.eye(3) * 1e-3, [0.01, 0.02, 0.1], np.eye(3) * 1e-4,
                       [0.1, 0.2, 9.8], np.eye(3) * 1e-2)
    model = ImuModel(imu_cfg)
    gyro = ImuModel(SensorConfig("gyro", [0] * 9 + [1, 1, 1, 0, 0, 0])).measurements(sample)[0]
    for cls, n in ((Ekf, 2000), (Ukf, 300)):
        f = cls(ConstantAcceleration3D())
        f.set_state(np.full(15, 0.1), np.eye(15) * 0.1)
        rows.append((f"{cls.name.upper()} predict", _us(lambda: f.predict(0.01), n)))
        f.set_state(np.full(15, 0.1), np.eye(15) * 0.1)
        rows.append((f"{cls.name.upper()} update (3-D gyro)", _us(lambda: f.update(gyro), n)))
        est = StateEstimator(EstimatorConfig(filter_type=cls.name))
        clock = [1.0]

        def one_message():
            clock[0] += 0.001
            s = ImuSample(clock[0], sample.orientation, sample.orientation_cov, sample.angular_velocity,
                          sample.angular_velocity_cov, sample.linear_acceleration,
                          sample.linear_acceleration_cov)
            est.add(model.measurements(s))
            est.process()
        rows.append((f"{cls.name.upper()} full IMU message (9-D, 3 parts)", _us(one_message, n // 2)))
    return rows


def perception_costs() -> list[tuple[str, float]]:
    """Per-frame / per-scan / per-set cost (µs) of the perception pieces, with trivial baselines."""
    import cv2

    from fusion_nodes.core import radar, vision
    from fusion_nodes.core.sync import ApproximatePolicy
    from . import perception_sim

    sc = perception_sim.load_scenario()
    sc["camera"].update(width=640, height=480, fx=520.0, fy=520.0)
    sim = perception_sim.PerceptionSim(sc)
    _, img_msg = sim._camera(12.0)[0]
    data, K = bytes(img_msg.data), sim.K
    img = vision.to_bgr(data, 640, 480, 3 * 640, "bgr8")

    def camera_frame():
        frame = vision.to_bgr(data, 640, 480, 3 * 640, "bgr8")
        return [vision.features(frame, b, K) for b in vision.segment(frame)]
    rows = [("baseline: cv2.GaussianBlur 640x480", _us(lambda: cv2.GaussianBlur(img, (5, 5), 0), 200)),
            (f"camera frame 640x480 ({len(camera_frame())} detections)", _us(camera_frame, 20))]
    rng = np.random.default_rng(0)
    xyz = np.vstack([rng.normal([20, 0, 0.5], 0.5, (30, 3)) + rng.uniform(-40, 40, (1, 3)) * [1, 1, 0]
                     for _ in range(25)] + [rng.uniform([-50, -50, 0], [50, 50, 2], (250, 3))])
    scan = radar.RadarScan(1.0, xyz, rng.normal(0, 3, len(xyz)), rng.normal(0, 5, len(xyz)),
                           rng.uniform(0, 30, len(xyz)))

    def radar_scan():
        s = radar.gate(scan, 0.5, 100.0, 5.0)
        res = radar.doppler_residual(s, np.array([5.0, 0, 0]))
        labels = radar.cluster(s.xyz, 1.5, 2)
        return radar.cluster_features(s, labels, res, 0.5)
    rows += [("baseline: norms of 1000 points", _us(lambda: np.linalg.norm(xyz, axis=1), 2000)),
             (f"radar scan {len(xyz)} points", _us(radar_scan, 50))]
    emitted = []
    policy = ApproximatePolicy(3, 10, 40_000_000, emitted.append)
    k = [0]

    def sync_set():
        # camera 20 Hz, radar 15 Hz, IMU features 10 Hz -> one set per IMU message
        for _ in range(6):
            t = k[0] * 8_333_333
            if k[0] % 6 in (0, 3):
                policy.add(0, t, k[0])
            if k[0] % 8 == 0:
                policy.add(1, t, k[0])
            if k[0] % 12 == 0:
                policy.add(2, t, k[0])
            k[0] += 1
    n = 2000
    total = _us(sync_set, n, 1) * n
    rows += [("baseline: dict insert", _us(lambda: {}.__setitem__(1, 2), 20000)),
             ("synchronizer, per emitted set (3 inputs)", total / max(1, len(emitted)))]
    return rows + early_fusion_costs(rng)


def early_fusion_costs(rng) -> list[tuple[str, float]]:
    """Per-set cost (µs) of early fusion's core: associate 8 detections with 10 clusters, classify."""
    from fusion_nodes.core import early_fusion as ef
    from fusion_nodes.core.geometry import rpy_to_matrix
    from fusion_nodes.ros.models import load_early_fusion
    model = load_early_fusion("early_fusion_model.json")
    R, t = rpy_to_matrix(-np.pi / 2, 0.0, -np.pi / 2), np.array([1.5, 0.0, 1.4])
    K = np.array([[260.0, 0, 160], [0, 260.0, 120], [0, 0, 1]])
    xyz = np.column_stack([rng.uniform(5, 40, 10), rng.uniform(-10, 10, 10), np.full(10, 0.8)])
    uv, _ = ef.project_to_image(xyz[:8], R, t, K)
    wh = np.full((8, 2), 30.0)
    cam = rng.normal(size=(8, len(ef.CAMERA_INPUTS)))
    rad = rng.normal(size=(10, len(ef.RADAR_INPUTS)))
    imu = rng.normal(size=len(ef.IMU_INPUTS))

    def fuse_set():
        pairs = ef.associate(uv, wh, xyz, R, t, K)
        ic, jr = [i for i, _ in pairs], [j for _, j in pairs]
        return model.predict_proba(cam[ic], rad[jr], imu)
    return [("baseline: 8x10 distance matrix", _us(lambda: np.hypot(uv[:, None, 0] - uv[None, :, 0], 1.0), 2000)),
            (f"early fusion set: associate 8 x 10, classify {len(fuse_set())}", _us(fuse_set, 500))]


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
        self._thread = threading.Thread(target=self.ex.spin, daemon=True)
        self._thread.start()

    def count(self, msg_type, topic):
        from fusion_nodes.ros.qos import sensor_qos
        if topic in self.counts:
            return
        self.counts[topic] = 0

        def cb(msg):
            self.counts[topic] += 1
            self.last[topic] = msg
        self.node.create_subscription(msg_type, topic, cb, sensor_qos(5000))

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
    try:
        bench.count(msg_type, out)
        pub = bench.node.create_publisher(msg_type, f"/bench/relay_in_{kind}_{rate}", sensor_qos(1000))
        _wait(lambda: pub.get_subscription_count() > 0 and bench.node.count_publishers(out) > 0)
        time.sleep(0.5)
        cpu0 = _cpu_seconds(proc.pid)
        (sent,) = _stream(bench, [(pub, rate, make)], duration)
        time.sleep(0.5)
        cpu = (_cpu_seconds(proc.pid) - cpu0) / duration
        return {"sent": sent, "received": bench.counts[out], "cpu": cpu}
    finally:
        _stop(proc)


def kalman_throughput(bench, rate: int, frequency: float, duration: float, tmp: Path) -> dict:
    from diagnostic_msgs.msg import DiagnosticArray
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import Imu
    from fusion_nodes.ros.qos import sensor_qos
    tag = f"{rate}_{int(frequency)}"
    params = {"frequency": float(frequency), "two_d_mode": True, "processing_delay": PROCESSING_DELAY,
              "imu0": f"/bench/imu_{tag}", "imu0_queue_size": 1000,
              "imu0_config": [False] * 5 + [True] + [False] * 5 + [True, True, True, False],
              "odom0": f"/bench/odom_{tag}", "odom0_queue_size": 100,
              "odom0_config": [False] * 6 + [True, True, False, False, False, True] + [False] * 3,
              "odom1": f"/bench/gps_{tag}", "odom1_queue_size": 100,
              "odom1_config": [True, True] + [False] * 13}
    proc = _start("kalman_fusion_node", params, "kalman_fusion_node", tmp)
    try:
        bench.count(Odometry, "/odometry/filtered")
        bench.count(DiagnosticArray, "/diagnostics")
        pubs = [(bench.node.create_publisher(Imu, params["imu0"], sensor_qos(1000)), rate, _imu),
                (bench.node.create_publisher(Odometry, params["odom0"], sensor_qos(100)), 50, _odom),
                (bench.node.create_publisher(Odometry, params["odom1"], sensor_qos(100)), 10,
                 lambda s: _odom(s, 1.0))]
        _wait(lambda: all(p.get_subscription_count() > 0 for p, _, _ in pubs)
              and bench.node.count_publishers("/odometry/filtered") > 0)
        time.sleep(0.5)
        out0, cpu0 = bench.counts["/odometry/filtered"], _cpu_seconds(proc.pid)
        t0 = time.monotonic()
        sent = _stream(bench, pubs, duration)
        out = bench.counts["/odometry/filtered"] - out0
        wall = time.monotonic() - t0
        cpu = (_cpu_seconds(proc.pid) - cpu0) / wall
        time.sleep(1.5)  # one more diagnostics period
        received = _diag_received(bench.last.get("/diagnostics"))
        return {"sent": sent, "received": received, "out_rate": out / wall, "cpu": cpu}
    finally:
        _stop(proc)


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
    try:
        bench.count(PointCloud2, out)
        pubs = [(bench.node.create_publisher(PointCloud2, t, sensor_qos(1000)), rate, _decisions(0.3 * i))
                for i, t in enumerate(topics)]
        _wait(lambda: all(p.get_subscription_count() > 0 for p, _, _ in pubs) and bench.node.count_publishers(out))
        time.sleep(0.5)
        cpu0, t0 = _cpu_seconds(proc.pid), time.monotonic()
        sent = _stream(bench, pubs, duration)
        wall = time.monotonic() - t0
        cpu = (_cpu_seconds(proc.pid) - cpu0) / wall
        time.sleep(0.5)
        return {"sent": sent, "fused": bench.counts[out], "cpu": cpu}
    finally:
        _stop(proc)


def late_fusion_costs() -> list[tuple[str, float]]:
    """Match two 10-object decision lists (radar positions, camera bearings) and fuse each group."""
    from fusion_nodes.core import matching
    from fusion_nodes.core.late_fusion import Decision, make_rule
    rng = np.random.default_rng(2)
    xy = np.column_stack([np.linspace(5, 50, 10), np.linspace(-10, 10, 10)])
    lists = [matching.ObjectList(xy=xy), matching.ObjectList(bearing=np.arctan2(xy[:, 1], xy[:, 0] - 1.5))]
    decs = [[Decision(s, 0.0, p) for p in rng.dirichlet(np.ones(4), 10)] for s in ("radar", "camera")]
    rows = [("baseline: 10x10 distance matrix", _us(lambda: np.hypot(xy[:, None, 0] - xy[None, :, 0], 1.0), 2000))]
    for rule in ("majority", "average", "bayes"):
        r = make_rule(rule, 4)

        def fuse_set():
            groups = matching.group(lists, "position", 2.0, 0.06, (1.5, 0.0))
            return [r.fuse([decs[i][g[i]] if i in g else None for i in range(2)], [0.6, 0.4]) for g in groups]
        rows.append((f"late set 2 x 10 objects, {rule}", _us(fuse_set, 300)))
    return rows


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


def main(duration: float = 4.0, rates=(250, 500, 1000, 2000)) -> None:
    print("== core (µs per call, median of 5 runs) ==")
    for name, us in core_costs():
        print(f"  {name:<40} {us:8.1f}")
    print("\n== perception (µs per frame / scan / set, median of 5 runs) ==")
    for name, us in perception_costs():
        print(f"  {name:<40} {us:10.1f}")
    print("\n== late fusion core (µs per fused set, median of 5 runs) ==")
    for name, us in late_fusion_costs():
        print(f"  {name:<40} {us:10.1f}")
    bench_sync.print_section()
    bench = _Bench()
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            late_section(bench, duration, tmp)
            print("\n== relay_node baseline over DDS (sensor_msgs/Imu) ==")
            print(f"  {'IMU Hz':>7} {'sent':>7} {'relayed':>8} {'loss':>7} {'CPU':>6}")
            for r in rates:
                res = relay_throughput(bench, r, duration, tmp)
                loss = 1 - res["received"] / max(1, res["sent"])
                print(f"  {r:>7} {res['sent']:>7} {res['received']:>8} {100 * loss:>6.1f}% "
                      f"{100 * res['cpu']:>5.0f}%")
            print("\n== kalman_fusion_node over DDS: IMU + 50 Hz odometry + 10 Hz GPS ==")
            print(f"  {'IMU Hz':>7} {'out Hz':>7} {'IMU sent':>9} {'IMU fused':>10} {'odom':>9} "
                  f"{'gps':>7} {'output Hz':>10} {'CPU':>6}")
            cases = [(r, 50.0) for r in rates] + [(250, 200.0), (1000, 100.0)]
            for r, freq in cases:
                res = kalman_throughput(bench, r, freq, duration, tmp)
                rec = res["received"]
                print(f"  {r:>7} {freq:>7.0f} {res['sent'][0]:>9} {rec.get('imu0', 0):>10} "
                      f"{rec.get('odom0', 0):>4}/{res['sent'][1]:<4} {rec.get('odom1', 0):>3}/{res['sent'][2]:<3} "
                      f"{res['out_rate']:>10.1f} {100 * res['cpu']:>5.0f}%")
    finally:
        bench.close()
