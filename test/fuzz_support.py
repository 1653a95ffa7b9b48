# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""What the fuzz tests of every node's inputs share (``test_fuzz_*.py``; hypothesis, in process on a simulated
clock).

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
import math
import os
import time

import numpy as np
import pytest
import yaml
from builtin_interfaces.msg import Time
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

from conftest import DATA
from fusion_nodes.ros import pointcloud
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
    REPORT.clear()            # module-scoped: each test module reports its own nodes
    WORST_US.clear()


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




# -- CameraInfo (camera_node, early_fusion_node, tracker_node) ---------------------------------------
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
