# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Property-based fuzzing of every node's inputs (hypothesis), in process on a simulated clock.

For each node a clean stream is fixed; each example slips generated
defective messages into it (each with at least one sure defect: NaN/Inf,
absurd magnitudes, impossible covariances, unset / far-future / backwards /
duplicate stamps, malformed PointCloud2 layouts, inconsistent images, random
other fields), delivered at the log time of a neighbouring message. The
properties:

* no exception escapes a callback (the offline runner calls them directly);
* every defective message is dropped and counted by reason;
* every output value is finite;
* the outputs are exactly those of the clean stream (the garbage never came).

``FUZZ_EXAMPLES`` sets the examples per node (default 40, about 1,000
defective messages per node); ``make fuzz`` runs 650 (10,000 or more).
"""
from __future__ import annotations

import collections
import copy
import math
import os
import time

import numpy as np
import pytest
import yaml
from builtin_interfaces.msg import Time
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sensor_msgs.msg import Image, Imu, NavSatFix, PointCloud2, PointField
from std_msgs.msg import Header

from conftest import DATA, REPO
from fusion_nodes.ros import pointcloud
from fusion_nodes.tools import bagio
from fusion_nodes.tools.offline import OfflineRunner

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
# No shrinking: a failing example is printed as found (shrinking a node run takes minutes).
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
                print_blob=False)
TEST2 = DATA / "robot_localization" / "test2.bag"

WILD = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                 st.sampled_from([0.0, -0.0, 5e-324, 1e-300, 1e20, -1e20, 1e300, -1e300, 3.4e38]))
ABSURD = st.sampled_from([math.nan, math.inf, -math.inf, 1e20, -1e39, 1e300])


def stamp(t: float) -> Time:
    return Time(sec=int(t), nanosec=int(round((t % 1) * 1e9)))


def sec(s) -> float:
    return s.sec + s.nanosec * 1e-9


STAMP_DEFECTS = ["stamp_zero", "stamp_future", "stamp_backwards"]


def broken_stamp(draw, defect: str, t: float, first: float) -> Time:
    """The stamp of one of :data:`STAMP_DEFECTS`: unset, far ahead of ``t``, or before ``first`` (the stream's first
    stamp, so older than anything accepted).
    """
    if defect == "stamp_zero":
        return Time()
    if defect == "stamp_future":
        return stamp(t + draw(st.sampled_from([30.0, 1e3, 1e6, 1e8])))
    return stamp(first - draw(st.floats(0.001, 40.0)))


# -- running -----------------------------------------------------------------------------------------
def _run(tmp_path, node, params, messages):
    (tmp_path / f"{node}.yaml").write_text(yaml.safe_dump({node: {"ros__parameters": params}}))
    runner = OfflineRunner(tmp_path / f"{node}.yaml", capture=True)
    try:
        runner.feed(messages)
        return runner.captured, runner.nodes[0]
    finally:
        runner.close()


def _insert(clean, garbage, positions):
    """Garbage at the given positions, each at the log time of the message it precedes."""
    out = list(clean)
    for pos, (topic, msg) in sorted(zip(positions, garbage), key=lambda g: -g[0]):
        out.insert(pos, (topic, out[pos][1], msg))
    return out


def _finite(msg) -> bool:
    """Every float in a message (recursively; PointCloud2 points decoded) is finite."""
    if isinstance(msg, PointCloud2):
        pts = pointcloud.read(msg)
        return all(np.all(np.isfinite(pts[n].astype(float))) for n in pts.dtype.names or ())
    if isinstance(msg, float):
        return math.isfinite(msg)
    if isinstance(msg, (list, tuple)) or (hasattr(msg, "dtype") and hasattr(msg, "tolist")):
        return all(_finite(v) for v in (msg.tolist() if hasattr(msg, "tolist") else msg))
    if hasattr(msg, "get_fields_and_field_types"):
        return all(_finite(getattr(msg, f)) for f in msg.get_fields_and_field_types())
    return True


def _outputs(captured, skip=("/diagnostics", "/rosout", "/parameter_events")):
    return {t: [repr(m) for m in ms] for t, ms in captured.items() if t not in skip}


_BASE: dict = {}
# node -> drop reason -> messages, and the largest CPU time per delivered message: the fuzz report.
REPORT: dict = collections.defaultdict(collections.Counter)
WORST_US: dict = collections.defaultdict(float)


def _values(inputs):
    return inputs.values() if isinstance(inputs, dict) else inputs if isinstance(inputs, list) else []


def _reasons(node) -> dict:
    """Drop counters of a node by reason (every node keeps them in its input monitors / estimator)."""
    out = collections.Counter()
    if hasattr(node, "estimator"):
        for stats in node.estimator.stats.values():
            out.update(stats.dropped)
    if hasattr(node, "tf_cache"):
        out.update(node.tf_cache.dropped)
    for mon in [*getattr(node, "monitors", {}).values(), getattr(node, "monitor", None),
                getattr(node, "odom_monitor", None),
                *(i.monitor for i in _values(getattr(node, "inputs", None)))]:
        if mon is not None:
            out.update(mon.dropped)
    return out


@pytest.fixture(scope="module", autouse=True)
def fuzz_report():
    """Print messages per node by drop reason, exceptions / non-finite / uncounted (0: the test passed)."""
    yield
    lines = [f"fuzz report ({EXAMPLES} examples per node; a failure stops a node's run, so these are all clean):"]
    for node, counts in sorted(REPORT.items()):
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "messages")
        lines.append(f"  {node}: {counts['messages']} defective messages, 0 exceptions, 0 non-finite outputs, "
                     f"0 uncounted; worst run {WORST_US[node]:.0f} µs CPU per delivered message "
                     f"(node start included); by reason: {reasons}")
    print("\n" + "\n".join(lines))


def check(tmp_path, node, params, clean, garbage, positions, dropped):
    """The four properties, for ``garbage`` slipped into ``clean``."""
    key = (node, repr(sorted(params.items())))
    if key not in _BASE:                       # the clean run is the same for every example
        _BASE[key] = _outputs(_run(tmp_path, node, params, clean)[0])
    base = _BASE[key]
    stream = _insert(clean, garbage, positions)
    cpu = time.process_time()
    got, n = _run(tmp_path, node, params, stream)
    WORST_US[node] = max(WORST_US[node], (time.process_time() - cpu) / len(stream) * 1e6)
    REPORT[node].update(_reasons(n))
    REPORT[node]["messages"] += len(garbage)
    assert dropped(n) == len(garbage), (dropped(n), len(garbage))
    for topic, msgs in got.items():
        assert all(_finite(m) for m in msgs if topic != "/diagnostics"), topic
    assert _outputs(got) == base


# -- kalman_fusion_node --------------------------------------------------------------------------
_TEST2_CLEAN: list = []


def bag2_clean(seconds=3.0):
    if not _TEST2_CLEAN:
        first = None
        for topic, t, msg in bagio.read(TEST2):
            first = first or t
            if t - first > seconds * 1e9:
                break
            _TEST2_CLEAN.append((topic, t, msg))
    return [(topic, t, copy.deepcopy(m)) for topic, t, m in _TEST2_CLEAN]


@st.composite
def bad_odometry(draw, t0):
    from nav_msgs.msg import Odometry
    m = Odometry(header=Header(stamp=stamp(t0 + draw(st.floats(0.1, 2.5)))))
    tw = m.twist.twist
    tw.linear.x, tw.linear.y, tw.angular.z = (draw(st.floats(-5, 5)) for _ in range(3))
    m.twist.covariance = [1e-3 if i % 7 == 0 else 0.0 for i in range(36)]
    defect = draw(st.sampled_from(["value", "covariance", "non_psd"] + STAMP_DEFECTS))
    if defect == "value":
        setattr(tw.linear if draw(st.booleans()) else tw.angular, draw(st.sampled_from("xyz")), draw(ABSURD))
    elif defect == "covariance":
        cov = list(m.twist.covariance)
        cov[draw(st.sampled_from([0, 7, 35]))] = draw(st.sampled_from([math.nan, math.inf, -1.0, 1e300]))
        m.twist.covariance = cov
    elif defect in STAMP_DEFECTS:
        m.header.stamp = broken_stamp(draw, defect, t0, t0)
    else:
        cov = [0.0] * 36
        cov[0], cov[7], cov[1], cov[6], cov[35] = 1e-4, 1e-4, 1.0, 1.0, 1e-3    # vx-vy block not PSD
        m.twist.covariance = cov
    return "/jackal_velocity_controller/odom", m


@st.composite
def bad_imu(draw, t0):
    m = Imu(header=Header(stamp=stamp(t0 + draw(st.floats(0.1, 2.5))), frame_id="base_link"))
    m.orientation.w = 1.0
    m.orientation_covariance = [1e-3 if i % 4 == 0 else 0.0 for i in range(9)]
    m.angular_velocity_covariance = [1e-4 if i % 4 == 0 else 0.0 for i in range(9)]
    m.linear_acceleration_covariance = [1e-2 if i % 4 == 0 else 0.0 for i in range(9)]
    m.linear_acceleration.z = 9.81
    defect = draw(st.sampled_from(["value", "quaternion", "stamp_future", "stamp_zero", "covariance"]))
    if defect == "value":
        vec = draw(st.sampled_from([m.angular_velocity, m.linear_acceleration]))
        setattr(vec, draw(st.sampled_from("xyz")), draw(ABSURD))
    elif defect == "quaternion":
        m.orientation.w = draw(st.sampled_from([0.0, 1e-9, math.nan, 1e10]))
    elif defect == "stamp_future":
        m.header.stamp = stamp(t0 + draw(st.sampled_from([30.0, 1e5, 1e8])))
    elif defect == "stamp_zero":
        m.header.stamp = Time()
    else:
        c = list(m.angular_velocity_covariance)
        c[4] = draw(st.sampled_from([-1e-4, math.nan, math.inf]))
        m.angular_velocity_covariance = c
    return "/imu/data", m


@pytest.mark.parametrize("filter_type", ["ekf", "ukf"])
def test_fuzz_kalman_fusion_node(tmp_path_factory, filter_type):
    params = yaml.safe_load((REPO / "config" / "rl_test2.yaml").read_text())["kalman_fusion_node"]["ros__parameters"]
    params["filter_type"] = filter_type
    clean = bag2_clean()
    t0 = sec(clean[0][2].header.stamp)
    first = max(next(i for i, m in enumerate(clean) if m[0] == topic) for topic in
                ("/jackal_velocity_controller/odom", "/imu/data")) + 1

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_odometry(t0), bad_imu(t0)), min_size=15, max_size=35),
           data=st.data())
    def prop(garbage, data):
        # After the first odometry and IMU message: a stamp before those is old, not a first one.
        positions = [data.draw(st.integers(first, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("k"), "kalman_fusion_node", params, bag2_clean(), garbage, positions,
              lambda n: sum(sum(s.dropped.values()) for s in n.estimator.stats.values()))
    prop()


# -- imu_gps_node --------------------------------------------------------------------------------
IMU_GPS = {"imu_topic": "/imu", "gps_topic": "/fix", "imu_output_topic": "/imu_out", "gps_output_topic": "/gps",
           "features_topic": "/feat"}


def imu_gps_clean():
    out = []
    for k in range(60):                     # 3 s: IMU 20 Hz, GPS 2 Hz, driving north-east
        t = 100.0 + 0.05 * k
        m = Imu(header=Header(stamp=stamp(t)))
        m.orientation.w, m.linear_acceleration.z, m.angular_velocity.z = 1.0, 9.81, 0.01
        m.orientation_covariance = [1e-3, 0, 0, 0, 1e-3, 0, 0, 0, 1e-3]
        m.angular_velocity_covariance = [1e-4, 0, 0, 0, 1e-4, 0, 0, 0, 1e-4]
        m.linear_acceleration_covariance = [1e-2, 0, 0, 0, 1e-2, 0, 0, 0, 1e-2]
        out.append(("/imu", int(t * 1e9), m))
        if k % 10 == 0:
            out.append(("/fix", int(t * 1e9) + 1, _fix(t, 42.376 + 1e-5 * k, -71.147 + 1e-5 * k, 10.0)))
    return out


def _fix(t, lat, lon, alt, status=0, cov=(1.0, 1.0, 4.0)):
    m = NavSatFix(header=Header(stamp=stamp(t)), latitude=lat, longitude=lon, altitude=alt)
    m.status.status = status
    m.position_covariance = [cov[0], 0, 0, 0, cov[1], 0, 0, 0, cov[2]]
    m.position_covariance_type = NavSatFix.COVARIANCE_TYPE_DIAGONAL_KNOWN
    return m


@st.composite
def bad_fix(draw):
    t = 100.0 + draw(st.floats(0.1, 2.9))
    lat, lon, alt = 42.376, -71.147, 10.0
    defect = draw(st.sampled_from(["lat", "lon", "alt", "status", "covariance", "stamp_future", "stamp_zero"]))
    status, cov = 0, (1.0, 1.0, 4.0)
    if defect == "lat":
        lat = draw(st.one_of(st.floats(90.01, 1e308), st.floats(-1e308, -90.01), ABSURD))
    elif defect == "lon":
        lon = draw(st.one_of(st.floats(180.01, 1e308), ABSURD))
    elif defect == "alt":
        alt = draw(st.sampled_from([-1e308, 1e300, math.nan, -math.inf, 2e5]))
    elif defect == "status":
        status = -1
    elif defect == "covariance":
        cov = (draw(st.sampled_from([math.nan, -1.0, 1e13, math.inf])), 1.0, 4.0)
    m = _fix(t, lat, lon, alt, status, cov)
    if defect == "stamp_future":
        m.header.stamp = stamp(t + draw(st.sampled_from([30.0, 1e6])))
    elif defect == "stamp_zero":
        m.header.stamp = Time()
    return "/fix", m


@st.composite
def bad_raw_imu(draw):
    _, m = draw(bad_imu(100.0))
    if draw(st.booleans()):       # or a duplicate / backwards stamp of a valid message
        m = copy.deepcopy(imu_gps_clean()[0][2])
        m.header.stamp = stamp(100.0 + draw(st.sampled_from([0.0, -0.5])))   # at or before the first
    return "/imu", m


def test_fuzz_imu_gps_node(tmp_path_factory):
    clean = imu_gps_clean()

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_fix(), bad_raw_imu()), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        # After the first IMU message and the first fix, so backwards / duplicate stamps are defects.
        positions = [data.draw(st.integers(3, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("g"), "imu_gps_node", IMU_GPS, imu_gps_clean(), garbage, positions,
              lambda n: sum(sum(m.dropped.values()) for m in n.monitors.values()))
    prop()


# kalman_fusion_node's pose and twist inputs (robot_localization's pose0 / twist0: AMCL, visual odometry, ...)
KALMAN_POSE_TWIST = {"pose0": "/pose", "pose0_config": [True, True, False, False, False, True] + [False] * 9,
                     "twist0": "/twist", "twist0_config": [False] * 6 + [True, False, False, False, False, True]
                     + [False] * 3}


def _pose(t: float):
    from geometry_msgs.msg import PoseWithCovarianceStamped
    m = PoseWithCovarianceStamped(header=Header(stamp=stamp(t), frame_id="odom"))
    m.pose.pose.position.x, m.pose.pose.position.y = 0.1 * (t % 100), 0.02 * (t % 100)
    m.pose.pose.orientation.w = 1.0
    m.pose.covariance = [0.05 if i % 7 == 0 else 0.0 for i in range(36)]
    return m


def _twist(t: float):
    from geometry_msgs.msg import TwistWithCovarianceStamped
    m = TwistWithCovarianceStamped(header=Header(stamp=stamp(t), frame_id="base_link"))
    m.twist.twist.linear.x, m.twist.twist.angular.z = 0.3, 0.05
    m.twist.covariance = [0.01 if i % 7 == 0 else 0.0 for i in range(36)]
    return m


def bag2_pose_twist_clean():
    """test2.bag's odometry and IMU with a 10 Hz pose and a 20 Hz twist source, each logged 1 ms after its stamp."""
    clean = bag2_clean()
    t0, log0 = sec(clean[0][2].header.stamp), clean[0][1]
    extra = [(topic, log0 + int(round((t - t0) * 1e9)) + 1_000_000, make(t)) for topic, rate, make in
             (("/pose", 10.0, _pose), ("/twist", 20.0, _twist)) for t in t0 + np.arange(1, int(3.0 * rate)) / rate]
    return sorted(clean + extra, key=lambda m: m[1])


@st.composite
def bad_pose_or_twist(draw, t0):
    """A pose or twist message with one sure defect: values, covariances, stamps."""
    topic = draw(st.sampled_from(["/pose", "/twist"]))
    t = t0 + draw(st.floats(0.1, 2.5))
    m = _pose(t) if topic == "/pose" else _twist(t)
    holder = m.pose if topic == "/pose" else m.twist
    defect = draw(st.sampled_from(["value", "covariance", "non_psd"] + STAMP_DEFECTS
                                  + (["quaternion"] if topic == "/pose" else [])))
    if defect == "value":
        vec = (draw(st.sampled_from([holder.pose.position])) if topic == "/pose" else
               draw(st.sampled_from([holder.twist.linear, holder.twist.angular])))
        setattr(vec, draw(st.sampled_from("xyz")), draw(ABSURD))
    elif defect == "covariance":       # the node reads the fused fields' block (x y yaw / vx vyaw)
        cov = list(holder.covariance)
        cov[draw(st.sampled_from([0, 7, 35] if topic == "/pose" else [0, 35]))] = draw(
            st.sampled_from([math.nan, math.inf, -1.0, 1e300]))
        holder.covariance = cov
    elif defect == "non_psd":
        cov = list(holder.covariance)
        i, j = (0, 1) if topic == "/pose" else (0, 5)         # |correlation| of x-y / vx-vyaw far above 1
        cov[6 * i + j] = cov[6 * j + i] = 1.0
        holder.covariance = cov
    elif defect == "quaternion":
        m.pose.pose.orientation.w = draw(st.sampled_from([0.0, 1e-9, math.nan, 1e10]))
    else:
        m.header.stamp = broken_stamp(draw, defect, t, t0)
    return topic, m


@pytest.mark.parametrize("filter_type", ["ekf", "ukf"])
def test_fuzz_kalman_fusion_node_pose_and_twist_inputs(tmp_path_factory, filter_type):
    """Garbage on a pose and a twist input (the kinds no shipped config uses): dropped, counted, state unchanged.

    A covariance is read in the fused fields' block only (README: ``bad_covariance``), so its defects are put there.
    """
    params = yaml.safe_load((REPO / "config" / "rl_test2.yaml").read_text())["kalman_fusion_node"]["ros__parameters"]
    params.update(KALMAN_POSE_TWIST, filter_type=filter_type)
    clean = bag2_pose_twist_clean()
    t0 = sec(clean[0][2].header.stamp)
    first = max(next(i for i, m in enumerate(clean) if m[0] == topic) for topic in
                ("/jackal_velocity_controller/odom", "/imu/data", "/pose", "/twist")) + 1

    @FUZZ
    @given(garbage=st.lists(bad_pose_or_twist(t0), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(first, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("kp"), "kalman_fusion_node", params, bag2_pose_twist_clean(), garbage,
              positions, lambda n: sum(sum(s.dropped.values()) for s in n.estimator.stats.values()))
    prop()


# kalman_fusion_node's /tf (a world_frame: map instance reads odom -> base_link there for map -> odom)
def _tf(parent, child, xyz, q):
    from tf2_msgs.msg import TFMessage

    from fusion_nodes.ros.tf import transform_msg
    return TFMessage(transforms=[transform_msg(Time(), parent, child, xyz, q)])


def bag2_map_clean():
    """test2.bag's first 3 s after one odom -> base_link on /tf (and a base_link -> imu_link mount)."""
    clean = bag2_clean()
    t = clean[0][1]
    return [("/tf", t - 2, _tf("odom", "base_link", (1.0, 2.0, 0.0), (0.0, 0.0, 0.2474, 0.9689))),
            ("/tf", t - 1, _tf("base_link", "imu_link", (0.0, 0.0, 0.2), (0.0, 0.0, 0.0, 1.0)))] + clean


@st.composite
def bad_transform(draw):
    """One transform that cannot be: NaN / absurd translation, a non-unit rotation, a bad frame, a loop."""
    parent, child = draw(st.sampled_from([("odom", "base_link"), ("base_link", "imu_link")]))
    xyz, q = [draw(st.floats(-5, 5)) for _ in range(3)], [0.0, 0.0, 0.0, 1.0]
    defect = draw(st.sampled_from(["translation", "rotation", "frame", "loop"]))
    if defect == "translation":
        xyz[draw(st.integers(0, 2))] = draw(ABSURD)
    elif defect == "rotation":
        q = draw(st.sampled_from([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.2], [0.5, 0.5, 0.5, 0.2],
                                  [math.nan, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1e30]]))
    elif defect == "frame":
        parent, child = draw(st.sampled_from([("", child), (parent, ""), (child, child), ("/", "base_link")]))
    else:
        parent, child = draw(st.sampled_from([("base_link", "odom"), ("imu_link", "odom"), ("imu_link", "base_link")]))
    return "/tf", _tf(parent, child, tuple(xyz), tuple(q))


def test_fuzz_kalman_fusion_node_tf(tmp_path_factory):
    """Garbage transforms on /tf: each dropped and counted, map -> odom and the state as without them."""
    params = yaml.safe_load((REPO / "config" / "rl_test2.yaml").read_text())["kalman_fusion_node"]["ros__parameters"]
    params["world_frame"] = "map"
    clean = bag2_map_clean()

    @FUZZ
    @given(garbage=st.lists(bad_transform(), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(2, len(clean) - 1)) for _ in garbage]    # after the good transforms
        check(tmp_path_factory.mktemp("kt"), "kalman_fusion_node", params, bag2_map_clean(), garbage, positions,
              lambda n: sum(n.tf_cache.dropped.values()))
    prop()


# -- radar_node and late_fusion_node (PointCloud2 inputs) ----------------------------------------
@st.composite
def bad_cloud(draw, t, required=("x", "y", "z"), removable=None):
    """A PointCloud2 with a broken layout or stamp (``removable``: fields whose absence is a defect)."""
    n = draw(st.integers(0, 6))
    cols = {k: np.asarray(draw(st.lists(st.floats(-50, 50), min_size=n, max_size=n)), float) for k in
            (*required, "doppler")}
    msg = pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(t)))
    defect = draw(st.sampled_from(["truncated", "point_step", "datatype", "offset", "count", "missing",
                                   "row_step", "stamp_zero", "stamp_future", "big_endian_garbage"]))
    if defect == "truncated":
        msg.data = bytes(msg.data)[:max(0, len(msg.data) - draw(st.integers(1, 8)))] if n else b"x"
    elif defect == "point_step":
        msg.point_step = draw(st.sampled_from([0, 1, 3, 7]))
    elif defect == "datatype":
        msg.fields[0].datatype = draw(st.sampled_from([0, 9, 42, 255]))
    elif defect == "offset":
        msg.fields[-1].offset = draw(st.integers(msg.point_step - 3, msg.point_step + 100))
    elif defect == "count":
        msg.fields[len(msg.fields) - 2].count = draw(st.integers(2, 5))        # z spills past point_step
    elif defect == "missing":
        gone = draw(st.sampled_from(removable or required))
        msg.fields = [f for f in msg.fields if not f.name.startswith(gone)]
    elif defect == "row_step":
        msg.height, msg.width = 2, max(1, n // 2) if n else 1
        msg.row_step = msg.point_step * msg.width + 1
    elif defect == "stamp_zero":
        msg.header.stamp = Time()
    elif defect == "stamp_future":
        msg.header.stamp = stamp(t + draw(st.sampled_from([100.0, 1e6])))
    else:
        msg.is_bigendian = True
        msg.fields.append(PointField(name="extra", offset=msg.point_step, datatype=PointField.FLOAT32, count=1))
    return msg


RADAR = {"input_topic": "/r", "output_topic": "/c", "odometry_topic": "", "cluster_min_points": 1}


def radar_clean():
    out = []
    for k in range(10):
        t = 50.0 + 0.1 * k
        cols = {"x": np.array([10.0, 10.3, 20.0]), "y": np.array([0.0, 0.2, 5.0]), "z": np.zeros(3),
                "doppler": np.array([1.0, 1.0, -2.0])}
        out.append(("/r", int(t * 1e9), pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(t)))))
    return out


def test_fuzz_radar_node(tmp_path_factory):
    clean = radar_clean()

    @FUZZ
    @given(garbage=st.lists(bad_cloud(50.5), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(0, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("r"), "radar_node", RADAR, radar_clean(), [("/r", g) for g in garbage],
              positions, lambda n: sum(n.monitor.dropped.values()))
    prop()


# -- the odometry inputs of radar_node (its twist) and tracker_node (pose and twist) ----------------------
def ego_odometry(t: float):
    """The clean ego motion of the odometry streams below: speed 2 + 0.5 sin(3t) m/s along a yawing path."""
    from fusion_nodes.ros.convert import odometry
    return odometry(stamp(t), "odom", "base_link", (2.0 * (t - 50.0), 0.1 * (t - 50.0) ** 2, 0.0),
                    (0.0, 0.0, 0.1 * (t - 50.0)), np.eye(6) * 1e-2, (2.0 + 0.5 * math.sin(3.0 * t), 0.0, 0.0),
                    (0.0, 0.0, 0.1), np.eye(6) * 1e-3)


def with_odometry(clean, topic="/o"):
    """``clean`` with 20 Hz odometry from 49.95 s (the first message), each scan delivered 30 ms after its stamp
    (a driver's latency: the scans fall between odometry already received).
    """
    odom = [(topic, int(round(t * 1e9)), ego_odometry(t)) for t in 49.95 + 0.05 * np.arange(23)]
    late = [(tp, t + 30_000_000, m) for tp, t, m in clean]
    return sorted(odom + late, key=lambda m: m[1])


@st.composite
def bad_ego_odometry(draw, topic="/o", pose=True):
    """Odometry with one sure defect (``pose``: defects of the pose too); ``None`` stamp: a duplicate, given the
    stamp of the odometry delivered before it (see :func:`place_duplicates`).
    """
    t = draw(st.floats(50.0, 51.0))
    m = ego_odometry(t)
    defects = ["twist", "twist_covariance", "non_psd", "duplicate"] + STAMP_DEFECTS + (
        ["pose", "quaternion", "pose_covariance"] if pose else [])
    defect = draw(st.sampled_from(defects))
    cov_value = st.sampled_from([math.nan, math.inf, -1.0, 1e300])
    if defect == "twist":
        setattr(draw(st.sampled_from([m.twist.twist.linear, m.twist.twist.angular])), draw(st.sampled_from("xyz")),
                draw(ABSURD))
    elif defect in ("twist_covariance", "pose_covariance"):
        holder = m.twist if defect == "twist_covariance" else m.pose
        cov = list(holder.covariance)
        cov[draw(st.sampled_from([0, 7, 35]))] = draw(cov_value)
        holder.covariance = cov
    elif defect == "non_psd":
        cov = [0.0] * 36
        cov[0], cov[7], cov[1], cov[6] = 1e-4, 1e-4, 1.0, 1.0      # vx-vy block not PSD
        m.twist.covariance = cov
    elif defect in STAMP_DEFECTS:
        m.header.stamp = broken_stamp(draw, defect, t, 49.95)
    elif defect == "duplicate":
        m.header.stamp = Time(sec=-1)          # placeholder: set where it is inserted
    elif defect == "pose":
        setattr(m.pose.pose.position, draw(st.sampled_from("xyz")), draw(ABSURD))
    elif defect == "quaternion":
        m.pose.pose.orientation.w = draw(st.sampled_from([0.0, 3.0, math.nan, -1e30]))
        m.pose.pose.orientation.z = 0.0
    return topic, m


def place_duplicates(clean, garbage, positions, topic="/o"):
    """Give each placeholder duplicate the stamp of the last ``topic`` message before its position."""
    for (tp, m), pos in zip(garbage, positions):
        if m.header.stamp.sec == -1:
            m.header.stamp = next(msg.header.stamp for t, _, msg in reversed(clean[:pos]) if t == topic)


RADAR_ODOM = {**RADAR, "odometry_topic": "/o"}


def test_fuzz_radar_node_odometry(tmp_path_factory):
    """Garbage odometry among the scans: each dropped and counted, the Doppler compensated as without it."""
    clean = with_odometry(radar_clean())
    assert clean[0][0] == "/o"

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_ego_odometry(pose=False), bad_cloud(50.5).map(lambda g: ("/r", g))),
                            min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(1, len(clean) - 1)) for _ in garbage]   # after the first odometry
        place_duplicates(clean, garbage, positions)
        check(tmp_path_factory.mktemp("ro"), "radar_node", RADAR_ODOM, with_odometry(radar_clean()), garbage,
              positions, lambda n: sum(n.monitor.dropped.values()) + sum(n.odom_monitor.dropped.values()))
    prop()


LATE = {"inputs": ["/a", "/b"], "input_names": ["a", "b"], "classes": ["hot", "cold"], "output_topic": "/f",
        "match_by": "position", "slop": 0.01, "max_wait": 0.3}


def late_clean():
    out = []
    for k in range(20):
        t = 50.0 + 0.1 * k
        for name, p in (("a", 0.7), ("b", 0.6)):
            cols = {"x": np.array([10.0]), "y": np.array([1.0]), "score_hot": np.array([p]),
                    "score_cold": np.array([1 - p])}
            out.append((f"/{name}", int(t * 1e9) + (name == "b"), pointcloud.write(PointCloud2(), cols,
                                                                                    Header(stamp=stamp(t)))))
    return out


def test_fuzz_late_fusion_node(tmp_path_factory):
    clean = late_clean()

    @FUZZ
    @given(garbage=st.lists(st.tuples(st.sampled_from(["/a", "/b"]),
                                      bad_cloud(50.95, required=("x", "y", "score_hot", "score_cold"),
                                                removable=("score_",))),
                            min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(0, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("l"), "late_fusion_node", LATE, late_clean(), garbage, positions,
              lambda n: sum(sum(i.monitor.dropped.values()) for i in n.inputs))
    prop()


# -- camera_node ---------------------------------------------------------------------------------
@st.composite
def bad_image(draw):
    w, h = draw(st.integers(0, 64)), draw(st.integers(0, 48))
    enc = draw(st.sampled_from(["bgr8", "rgb8", "mono8", "yuv422", "32FC1", "", "bgr16"]))
    ch = {"bgr8": 3, "rgb8": 3, "mono8": 1}.get(enc, 2)
    step = w * ch + draw(st.sampled_from([0, 0, 1, -1, 7]))
    size = max(0, step * h + draw(st.sampled_from([0, 0, -1, 1, -100])))
    m = Image(header=Header(stamp=stamp(20.0 + draw(st.floats(0.01, 0.9)))), width=w, height=h, encoding=enc,
              step=max(0, step), data=bytes(size))
    ok = enc in ("bgr8", "rgb8", "mono8") and w > 0 and h > 0 and step >= w * ch and size == step * h
    if ok:        # a consistent image must be made defective by its stamp
        m.header.stamp = draw(st.sampled_from([Time(), stamp(1e6), stamp(20.0)]))   # unset, future, duplicate
    return "/img", m


def camera_clean(sized=False):
    """A CameraInfo (``sized``: with the images' size, so every image of another size is a mismatch), then
    ten 64 x 48 images of one coloured box.
    """
    from sensor_msgs.msg import CameraInfo
    out = [("/info", 19_000_000_000, CameraInfo(header=Header(stamp=stamp(19.0)), width=64 if sized else 0,
                                                height=48 if sized else 0, k=[100.0, 0, 32, 0, 100.0, 24, 0, 0, 1]))]
    rng = np.random.default_rng(1)
    for k in range(10):
        t = 20.0 + 0.1 * k
        img = np.zeros((48, 64, 3), np.uint8)
        img[10:30, 20:40] = rng.integers(100, 255, 3)          # one coloured box
        out.append(("/img", int(t * 1e9), Image(header=Header(stamp=stamp(t)), width=64, height=48,
                                                encoding="bgr8", step=192, data=img.tobytes())))
    return out


@st.composite
def bad_camera_info(draw):
    """A CameraInfo that cannot describe a camera: its K not a pinhole matrix, or its ROI outside the image."""
    from sensor_msgs.msg import CameraInfo, RegionOfInterest
    m = CameraInfo(header=Header(stamp=stamp(20.0 + draw(st.floats(0.01, 0.9)))), width=64, height=48,
                   k=[100.0, 0, 32, 0, 100.0, 24, 0, 0, 1])
    if draw(st.booleans()):
        k = list(m.k)
        i = draw(st.sampled_from([0, 2, 3, 4, 5, 6, 7, 8]))
        k[i] = draw(st.sampled_from([math.nan, math.inf, -1.0, 0.0, 1e12] if i in (0, 4) else
                                    [math.nan, -math.inf, 1e12] if i in (2, 5) else [math.nan, 2.0, -3.0]))
        m.k = k
    else:
        x, y = draw(st.integers(0, 63)), draw(st.integers(0, 47))
        w, h = draw(st.integers(1, 64)), draw(st.integers(1, 48))
        side = draw(st.sampled_from(["no_width", "no_height", "right", "below"]))
        w, h = (0 if side == "no_width" else 65 - x if side == "right" else w,
                0 if side == "no_height" else 49 - y if side == "below" else h)
        m.roi = RegionOfInterest(x_offset=x, y_offset=y, width=w, height=h)
    return "/info", m


@pytest.mark.parametrize("sized", [False, True], ids=["camera_info_without_size", "camera_info_with_size"])
def test_fuzz_camera_node(tmp_path_factory, sized):
    """Without a size in the CameraInfo the image checks themselves (layout, encoding) meet every bad image;
    with one, a size mismatch stops most of them first.
    """
    params = {"image_topic": "/img", "camera_info_topic": "/info", "detections_topic": "/det",
              "detector": "color"}
    clean = camera_clean(sized)

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_image(), bad_camera_info()), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(2, len(clean) - 1)) for _ in garbage]   # after the first image
        check(tmp_path_factory.mktemp("c"), "camera_node", params, camera_clean(sized), garbage, positions,
              lambda n: sum(n.monitor.dropped.values()))
    prop()


def early_clean():
    from test_early_fusion_node_dds import camera, imu, radar
    out = []
    for k in range(15):
        t = 10.0 + 0.1 * k
        n = int(t * 1e9)
        out += [("/t/cam", n, camera(t)), ("/t/rad", n + 1, radar(t)), ("/t/imu", n + 2, imu(t))]
    return out


def test_fuzz_early_fusion_node(tmp_path_factory):
    from fusion_nodes.core import early_fusion as ef
    from test_early_fusion_node_dds import PARAMS
    clean = early_clean()
    required = {"/t/cam": ef.CAMERA_FIELDS, "/t/rad": ef.RADAR_FIELDS, "/t/imu": ef.IMU_FIELDS}

    @st.composite
    def bad_input(draw):
        topic = draw(st.sampled_from(sorted(required)))
        return topic, draw(bad_cloud(10.5, required=tuple(required[topic])))

    @FUZZ
    @given(garbage=st.lists(bad_input(), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(0, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("e"), "early_fusion_node", PARAMS, early_clean(), garbage, positions,
              lambda n: sum(sum(i.monitor.dropped.values()) for i in n.inputs.values()))
    prop()



def with_camera_info(clean, camera_topic: str, width: int, height: int, k: list) -> list:
    """``clean`` with a CameraInfo (``k``, ``width`` x ``height``) on /info just before each ``camera_topic``
    message, stamped as it.
    """
    from sensor_msgs.msg import CameraInfo
    out = []
    for topic, t, m in clean:
        if topic == camera_topic:
            out.append(("/info", t - 1, CameraInfo(header=m.header, width=width, height=height, k=k)))
        out.append((topic, t, m))
    return out


def early_info_clean():
    """early_clean with the camera's CameraInfo (PARAMS' matrix, 320 x 240) before each camera message."""
    return with_camera_info(early_clean(), "/t/cam", 320, 240, [260.0, 0, 160.0, 0, 260.0, 120.0, 0, 0, 1])


def test_fuzz_early_fusion_node_camera_info(tmp_path_factory):
    """Impossible CameraInfos and bad camera detections with camera_info_topic: each dropped and counted, the
    last good matrix kept, the fused objects as without them.
    """
    from fusion_nodes.core import early_fusion as ef
    from test_early_fusion_node_dds import PARAMS
    params = {**PARAMS, "camera_info_topic": "/info"}
    clean = early_info_clean()

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_camera_info(), bad_cloud(10.5, required=tuple(ef.CAMERA_FIELDS)).map(
        lambda g: ("/t/cam", g))), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(0, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("ei"), "early_fusion_node", params, early_info_clean(), garbage, positions,
              lambda n: sum(n.inputs["camera"].monitor.dropped.values()) + sum(n.info_monitor.dropped.values()))
    prop()

TRACKER = {"radar_topic": "/r", "camera_topic": "", "odometry_topic": "", "output_topic": "/tracks",
           "markers_topic": "", "radar_mount": [2.0, 0.0, 0.5, 0.0, 0.0, 0.0], "processing_delay": 0.0}


def tracker_clean():
    out = []
    for k in range(10):
        t = 50.0 + 0.1 * k
        cols = {"x": np.array([10.0 + 0.1 * k, 20.0]), "y": np.array([0.0, 5.0 - 0.2 * k]),
                "doppler_mean": np.array([1.0, -0.5])}
        out.append(("/r", int(t * 1e9), pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(t)))))
    return out


@st.composite
def bad_cluster_values(draw, t):
    """A well-formed cluster cloud whose values are impossible: NaN / Inf / absurd positions or Dopplers."""
    n = draw(st.integers(1, 4))
    cols = {k: np.asarray(draw(st.lists(st.floats(-40, 40), min_size=n, max_size=n)), float)
            for k in ("x", "y", "doppler_mean")}
    cols[draw(st.sampled_from(["x", "y", "doppler_mean"]))][draw(st.integers(0, n - 1))] = draw(ABSURD)
    return pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(t)))


def test_fuzz_tracker_node(tmp_path_factory):
    clean = tracker_clean()

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_cloud(50.45, required=("x", "y", "doppler_mean")),
                                      bad_cluster_values(50.45)), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(0, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("t"), "tracker_node", TRACKER, tracker_clean(), [("/r", g) for g in garbage],
              positions, lambda n: sum(n.monitors["radar"].dropped.values()))
    prop()


TRACKER_ODOM = {**TRACKER, "odometry_topic": "/o"}


def test_fuzz_tracker_node_odometry(tmp_path_factory):
    """Garbage ego poses among the radar frames: each dropped and counted, the tracks placed as without it."""
    clean = with_odometry(tracker_clean())
    assert clean[0][0] == "/o"

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_ego_odometry(), bad_cluster_values(50.45).map(lambda g: ("/r", g))),
                            min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(1, len(clean) - 1)) for _ in garbage]   # after the first odometry
        place_duplicates(clean, garbage, positions)
        check(tmp_path_factory.mktemp("to"), "tracker_node", TRACKER_ODOM, with_odometry(tracker_clean()), garbage,
              positions, lambda n: sum(sum(n.monitors[i].dropped.values()) for i in ("radar", "odometry")))
    prop()


TRACKER_ALL = {**TRACKER, "camera_topic": "/c", "fused_topic": "/f"}


def tracker_all_clean():
    """Radar clusters, camera detections and early-fused objects of the same two objects, 10 Hz each."""
    out = tracker_clean()
    for k in range(10):
        t = 50.0 + 0.1 * k
        det = {"u": np.array([330.0 + k, 250.0]), "v": np.array([260.0, 255.0]),
               "width_px": np.array([40.0, 20.0]), "height_px": np.array([60.0, 30.0])}
        # NaN: camera-only, no position
        fused = {"x": np.array([10.0 + 0.1 * k, np.nan]), "y": np.array([0.0, np.nan])}
        out.append(("/c", int(t * 1e9) + 2, pointcloud.write(PointCloud2(), det, Header(stamp=stamp(t + 0.002)))))
        out.append(("/f", int(t * 1e9) + 3, pointcloud.write(PointCloud2(), fused, Header(stamp=stamp(t + 0.003)))))
    return sorted(out, key=lambda m: m[1])


@st.composite
def bad_detection_values(draw, t, fields):
    """A well-formed cloud of ``fields`` with one impossible value (NaN / Inf / absurd) or a negative box."""
    n = draw(st.integers(1, 4))
    cols = {k: np.asarray(draw(st.lists(st.floats(1, 300), min_size=n, max_size=n)), float) for k in fields}
    name = draw(st.sampled_from(list(fields)))
    value = draw(st.one_of(ABSURD, st.just(-5.0))) if name.endswith("_px") else draw(ABSURD)
    cols[name][draw(st.integers(0, n - 1))] = value
    return pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(t)))


@pytest.mark.parametrize("association", ["gnn", "jpda"])
def test_fuzz_tracker_node_every_input(tmp_path_factory, association):
    """Garbage on the camera and early-fusion inputs too: every bad message dropped and counted, tracks unchanged
    (with either associator: JPDA weighs every gated detection into a track, so a bad one must not reach it).
    """
    clean = tracker_all_clean()
    params = {**TRACKER_ALL, "association": association}
    fields = {"/r": ("x", "y", "doppler_mean"), "/c": ("u", "v", "width_px", "height_px"), "/f": ("x", "y")}

    @st.composite
    def bad_input(draw):
        topic = draw(st.sampled_from(sorted(fields)))
        return topic, draw(st.one_of(bad_cloud(50.45, required=fields[topic]),
                                     bad_detection_values(50.45, fields[topic])))

    @FUZZ
    @given(garbage=st.lists(bad_input(), min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(0, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("t"), "tracker_node", params, tracker_all_clean(), garbage, positions,
              lambda n: sum(sum(n.monitors[i].dropped.values()) for i in ("radar", "camera", "fused")))
    prop()


TRACKER_INFO = {**TRACKER_ALL, "camera_info_topic": "/info"}


def tracker_info_clean():
    """tracker_all_clean with the camera's CameraInfo before each detection frame (the parameters' K, 640 x 480)."""
    return with_camera_info(tracker_all_clean(), "/c", 640, 480, [500.0, 0, 320.0, 0, 500.0, 240.0, 0, 0, 1])


def test_fuzz_tracker_node_camera_info(tmp_path_factory):
    """Impossible CameraInfos and bad detections with camera_info_topic: each dropped and counted, the last good
    geometry kept, the tracks as without them.
    """
    clean = tracker_info_clean()
    fields = ("u", "v", "width_px", "height_px")

    @FUZZ
    @given(garbage=st.lists(st.one_of(bad_camera_info(), st.one_of(
        bad_cloud(50.45, required=fields), bad_detection_values(50.45, fields)).map(lambda g: ("/c", g))),
        min_size=15, max_size=35), data=st.data())
    def prop(garbage, data):
        positions = [data.draw(st.integers(0, len(clean) - 1)) for _ in garbage]
        check(tmp_path_factory.mktemp("ti"), "tracker_node", TRACKER_INFO, tracker_info_clean(), garbage, positions,
              lambda n: sum(sum(n.monitors[i].dropped.values()) for i in ("camera", "camera_info")))
    prop()
