# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Every live parameter of every node: a change takes effect, and stays when another one changes.

Each case runs the node in process (the offline runner, simulated clock) on
the same input three times:

1. as configured (the baseline),
2. with the parameter changed live (``set_parameters``, the path of
   ``ros2 param set``), which must move the case's measure the way it should,
3. with the same change and then a second, unrelated live parameter set to
   its current value (which makes the nodes rebuild what they derive from
   their parameters): the measure must equal run 2. This is the class of bug
   where a per-sensor threshold silently went back to its start value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import yaml
from builtin_interfaces.msg import Time
from nav_msgs.msg import Odometry
from rclpy.parameter import Parameter
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Imu, NavSatFix, NavSatStatus, PointCloud2
from std_msgs.msg import Header

from conftest import DATA, REPO
from fusion_nodes.ros import pointcloud
from fusion_nodes.tools import bagio, perception_sim
from fusion_nodes.tools.offline import OfflineRunner
from test_radar import cloud, scene

TEST2 = DATA / "robot_localization" / "test2.bag"
T0 = 1_000_000_000_000   # 1000 s, in ns


def stamp(t: float) -> Time:
    return Time(sec=int(t), nanosec=int(round((t % 1) * 1e9)))


# -- inputs (fresh messages for every run: some nodes write into their input's header) ---------------
def bag2_inputs(gap=False):
    first = None
    for topic, t, msg in bagio.read(TEST2):
        first = first or t
        if t - first > 15e9:
            return
        if gap and 6e9 < t - first < 10e9:
            continue     # both inputs silent for 4 s
        yield topic, t, msg


def radar_inputs():
    xyz, dop, rcs, snr = scene(np.random.default_rng(0))   # the same scene in every run
    u = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
    odom = Odometry()
    odom.header.stamp = stamp(1000.0)
    odom.twist.twist.linear.x = 3.0            # ego speed: measured Dopplers = own - 3 u_x
    yield "/t/odom", T0, odom
    for k in range(10):
        t = 1000.0 + 0.1 * k
        yield "/t/radar", int(t * 1e9), cloud(xyz, dop - 3.0 * u[:, 0], rcs, snr, stamp=stamp(t))


def decision_inputs(pa=0.7, pb=0.6, b_until=None, a_xy=None, b_xy=None, b_bearing=None, n=40):
    for k in range(n):
        t = 1000.0 + 0.1 * k
        for name, p, xy in (("a", pa, a_xy), ("b", pb, b_xy)):
            if name == "b" and b_until is not None and t >= b_until:
                continue
            cols = {"score_stress": np.array([p]), "score_calm": np.array([1.0 - p])}
            if xy is not None:
                cols.update(x=np.array([xy[0]]), y=np.array([xy[1]]))
            if name == "b" and b_bearing is not None:
                cols["bearing"] = np.array([b_bearing])
            yield f"/t/{name}", int(t * 1e9), pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(t)))


def imu_gps_inputs(cov_type=NavSatFix.COVARIANCE_TYPE_DIAGONAL_KNOWN, status=NavSatStatus.STATUS_FIX):
    lat0, lon0 = 42.376, -71.147
    for k in range(100):                        # 10 s of IMU at 10 Hz, fixes at 1 Hz driving north-east 3 m/s
        t = 1000.0 + 0.1 * k
        imu = Imu(header=Header(stamp=stamp(t), frame_id="base_link"))
        imu.orientation.w = 1.0
        imu.angular_velocity.z = 0.01
        imu.linear_acceleration.z = 9.81       # covariances all zero: unknown (REP-145)
        yield "/t/imu", int(t * 1e9), imu
        if k % 10 == 0:
            d = 3.0 * (t - 1000.0) / np.sqrt(2)
            fix = NavSatFix(header=Header(stamp=stamp(t), frame_id="gps"), latitude=lat0 + d / 111_000.0,
                            longitude=lon0 + d / (111_000.0 * np.cos(np.radians(lat0))), altitude=10.0)
            fix.status.status = status
            fix.position_covariance = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 4.0]
            fix.position_covariance_type = cov_type
            yield "/t/fix", int(t * 1e9), fix


_PERCEPTION: list = []


def perception_inputs():
    """A 6 s simulated drive (seed 21) with camera, radar, IMU, GPS and wheel odometry."""
    if not _PERCEPTION:
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            sc = perception_sim.load_scenario()
            sc["seed"], sc["duration"] = 21, 6.0
            perception_sim.write(sc, f"{d}/drive.mcap")
            _PERCEPTION.extend((topic, t, serialize_message(m), type(m))
                               for topic, t, m in bagio.read(f"{d}/drive.mcap"))
    for topic, t, data, cls in _PERCEPTION:
        yield topic, t, deserialize_message(data, cls)


# -- node configurations -----------------------------------------------------------------------------
def _file(name):
    return yaml.safe_load((REPO / "config" / name).read_text())


def kalman_config(**extra):
    cfg = _file("rl_test2.yaml")
    cfg["kalman_fusion_node"]["ros__parameters"].update(print_diagnostics=True, **extra)
    return cfg


RADAR = {"radar_node": {"ros__parameters": {
    "input_topic": "/t/radar", "output_topic": "/t/clusters", "odometry_topic": "/t/odom", "min_snr": 10.0,
    "cluster_eps": 2.0, "cluster_min_points": 3, "moving_threshold": 1.0}}}


def late_config(**extra):
    p = {"inputs": ["/t/a", "/t/b"], "input_names": ["a", "b"], "classes": ["stress", "calm"],
         "output_topic": "/t/fused", "rule": "bayes", "weights": [1.0, 1.0], "match_by": "scene",
         "slop": 0.01, "max_wait": 0.3, **extra}
    return {"late_fusion_node": {"ros__parameters": p}}


IMU_GPS = {"imu_gps_node": {"ros__parameters": {
    "imu_topic": "/t/imu", "gps_topic": "/t/fix", "imu_output_topic": "/t/imu_out", "gps_output_topic": "/t/gps",
    "features_topic": "", "cog_min_speed": 1.0, "cog_min_distance": 2.0, "cog_window": 3.0}}}


def perception_config(*nodes):
    cfg = _file("perception.yaml")
    return {k: v for k, v in cfg.items() if k in nodes}


def perception_config_by_parameters(*nodes):
    """perception_config with the camera geometry from camera_intrinsics, not the CameraInfo (the parameter's
    live case: with camera_info_topic it is unused).
    """
    cfg = perception_config(*nodes)
    for node in nodes:
        cfg[node]["ros__parameters"].pop("camera_info_topic", None)
    return cfg


# -- measures ----------------------------------------------------------------------------------------
def out(r, topic):
    return r.captured.get(topic, [])


def clouds(r, topic):
    return [pointcloud.read(m) for m in out(r, topic)]


def mean_of(values):
    values = list(values)
    return float(np.mean(values)) if values else 0.0


def rejected(name):
    return lambda r, node: node.estimator.stats[name].rejected


def pose_variance(r, node):
    return mean_of(m.pose.covariance[0] + m.pose.covariance[7] for m in out(r, "/odometry/filtered"))


def silent_statuses(r, node):
    return sum(st.message.startswith("silent") for m in out(r, "/diagnostics") for st in m.status
               if st.name == "kalman_fusion_node: odom0")


def yaw_variance(r, node):
    return mean_of(m.pose.covariance[35] for m in out(r, "/odometry/filtered"))


def filter_lag(r, node):
    return r._now_ns * 1e-9 - node.estimator.time


def fused_stress(last=None):
    def measure(r, node):
        rows = [c["score_stress"] for c in clouds(r, "/t/fused") if len(c)]
        return mean_of(np.concatenate(rows[-last if last else 0:])) if rows else 0.0
    return measure


def abstentions(r, node):
    return sum(int((c["class_id"] == -1).sum()) for c in clouds(r, "/t/fused"))


def objects_per_set(topic):
    return lambda r, node: mean_of(len(c) for c in clouds(r, topic))


def track_field(fn):
    """Mean over the published tracks of ``fn(track)``."""
    return lambda r, node: mean_of(fn(o) for m in out(r, "/tracks") for o in m.objects)


def tracks_per_message(r, node):
    return mean_of(len(m.objects) for m in out(r, "/tracks"))


def tracker_config():
    from test_tracker_node_offline import PARAMS
    return {"tracker_node": {"ros__parameters": dict(PARAMS)}}


def tracker_inputs():
    from test_tracker_node_offline import feed
    return feed()


def degraded(r, node):
    return sum(st.message.startswith("degraded") for m in out(r, "/diagnostics") for st in m.status
               if st.name == "late_fusion_node: fusion")


def moving(r, node):
    return sum(float(c["moving"].sum()) for c in clouds(r, "/t/clusters"))


def car_doppler(r, node):
    """Ego-compensated radial speed of the biggest cluster (the car, 5 m/s away; 2 m/s uncompensated)."""
    return mean_of(c["doppler_mean"][np.argmax(c["points"])] for c in clouds(r, "/t/clusters") if len(c))


def count(topic):
    return lambda r, node: len(out(r, topic))


def covariance_entry(topic, field, index):
    """Mean of ``msg.<field>[index]`` (``field`` may be dotted, e.g. pose.covariance)."""
    def get(m):
        for part in field.split("."):
            m = getattr(m, part)
        return m[index]
    return lambda r, node: mean_of(get(m) for m in out(r, topic))


def course_known(r, node):
    return sum(m.pose.covariance[35] < node.p["unknown_variance"] for m in out(r, "/t/gps"))


def course_variance(r, node):
    """Mean variance (rad^2) of the published course; a longer baseline makes it smaller."""
    known = [m.pose.covariance[35] for m in out(r, "/t/gps") if m.pose.covariance[35] < node.p["unknown_variance"]]
    return mean_of(known)


def associated(r, node):
    return sum(int(((c["has_camera"] == 1) & (c["has_radar"] == 1)).sum()) for c in clouds(r, "/fusion/early/objects"))


def feature_fields(r, node):
    return mean_of(sum(n.startswith("f_") for n in (c.dtype.names or ())) for c in clouds(r, "/fusion/early/objects"))


# -- the cases ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    node: str
    param: str
    value: object
    config: Callable[[], dict]
    inputs: Callable[[], object]
    measure: Callable
    expect: str          # 'more' or 'less' than the baseline
    other: str           # a second live parameter, set to its current value after the first

    @property
    def id(self):
        return f"{self.node}.{self.param}"


def _pnc():
    return [v * 100 for v in kalman_config()["kalman_fusion_node"]["ros__parameters"]["process_noise_covariance"]]


K, PNC = "kalman_fusion_node", "process_noise_covariance"
CASES = [
    Case(K, PNC, None, kalman_config, bag2_inputs, pose_variance, "more", "sensor_timeout"),
    Case(K, "sensor_timeout", 5.0, kalman_config, lambda: bag2_inputs(gap=True), silent_statuses, "less", PNC),
    Case(K, "processing_delay", 0.5, kalman_config, bag2_inputs, filter_lag, "more", PNC),
    # test2's odometry is recorded ~30 ms after its stamps: the automatic delay takes that lateness.
    Case(K, "auto_processing_delay", True, kalman_config, bag2_inputs, filter_lag, "more", PNC),
    Case(K, "max_processing_delay", 0.0, lambda: kalman_config(auto_processing_delay=True), bag2_inputs,
         filter_lag, "less", PNC),
    Case(K, "odom0_rejection_threshold", 0.01, kalman_config, bag2_inputs, rejected("odom0"), "more", PNC),
    Case(K, "odom0_twist_rejection_threshold", 0.01, kalman_config, bag2_inputs, rejected("odom0"), "more",
         "imu0_twist_rejection_threshold"),
    Case(K, "imu0_rejection_threshold", 0.01, kalman_config, bag2_inputs, rejected("imu0"), "more", PNC),
    Case(K, "imu0_pose_rejection_threshold", 0.01, kalman_config, bag2_inputs, rejected("imu0"), "more", PNC),
    Case(K, "imu0_twist_rejection_threshold", 0.01, kalman_config, bag2_inputs, rejected("imu0"), "more",
         "odom0_twist_rejection_threshold"),
    Case(K, "imu0_linear_acceleration_rejection_threshold", 0.01, kalman_config, bag2_inputs,
         rejected("imu0"), "more", "sensor_timeout"),
    # the wheel odometry's declared covariance x100: dead reckoning grows less certain
    Case(K, "odom0_covariance_scale", 100.0, kalman_config, bag2_inputs, pose_variance, "more", PNC),
    # the IMU's yaw variance stated as 1 rad^2 instead of the declared one: the heading is less certain
    Case(K, "imu0_covariance_override", [-1.0] * 5 + [1.0] + [-1.0] * 9, kalman_config, bag2_inputs,
         yaw_variance, "more", PNC),
    # radar_node
    *[Case("radar_node", p, v, lambda: RADAR, radar_inputs, m, "more" if m is car_doppler else "less", o)
      for p, v, m, o in (
        ("min_range", 25.0, objects_per_set("/t/clusters"), "max_range"),
        ("max_range", 15.0, objects_per_set("/t/clusters"), "min_range"),
        ("min_snr", 50.0, objects_per_set("/t/clusters"), "cluster_eps"),
        ("cluster_eps", 0.05, objects_per_set("/t/clusters"), "min_snr"),
        ("cluster_min_points", 10, objects_per_set("/t/clusters"), "min_snr"),
        ("moving_threshold", 10.0, moving, "min_snr"),
        ("odometry_timeout", 5.0, car_doppler, "min_snr"))],
    # late_fusion_node (rule bayes, weights 1 / 1, a says 0.7 stress, b 0.6)
    Case("late_fusion_node", "rule", "average", late_config, decision_inputs, fused_stress(), "less", "weights"),
    Case("late_fusion_node", "weights", [0.1, 1.0], late_config, decision_inputs, fused_stress(), "less", "rule"),
    Case("late_fusion_node", "priors", [0.1, 0.9], late_config, decision_inputs, fused_stress(), "more", "weights"),
    Case("late_fusion_node", "quorum", 2, late_config, lambda: decision_inputs(b_until=0.0), abstentions, "more",
         "weights"),
    Case("late_fusion_node", "adaptive_weights", True, late_config, lambda: decision_inputs(0.9, 0.2, n=80),
         fused_stress(last=20), "more", "weights"),
    Case("late_fusion_node", "adaptive_rate", 0.5, lambda: late_config(adaptive_weights=True),
         lambda: decision_inputs(0.9, 0.2, n=80), fused_stress(last=20), "more", "weights"),
    Case("late_fusion_node", "weight_floor", 5.0, lambda: late_config(adaptive_weights=True),
         lambda: decision_inputs(0.9, 0.2, n=80), fused_stress(last=20), "less", "weights"),
    Case("late_fusion_node", "position_gate", 1.0, lambda: late_config(match_by="position"),
         lambda: decision_inputs(a_xy=(10.0, 0.0), b_xy=(11.5, 0.0)), objects_per_set("/t/fused"), "more", "weights"),
    Case("late_fusion_node", "bearing_gate", 0.01, lambda: late_config(match_by="position"),
         lambda: decision_inputs(a_xy=(10.0, 0.0), b_bearing=0.04), objects_per_set("/t/fused"), "more", "weights"),
    Case("late_fusion_node", "bearing_origin", [0.0, 5.0], lambda: late_config(match_by="position"),
         lambda: decision_inputs(a_xy=(10.0, 0.0), b_bearing=0.04), objects_per_set("/t/fused"), "more", "weights"),
    Case("late_fusion_node", "stale_after", 100.0, late_config, lambda: decision_inputs(b_until=1001.0),
         degraded, "less", "weights"),
    # imu_gps_node (IMU covariances unknown: replaced by the defaults; fixes 1 Hz driving straight at 3 m/s)
    *[Case("imu_gps_node", p, v, lambda: IMU_GPS, i, m, e, o) for p, v, i, m, e, o in (
        ("zero_covariance_policy", "reject", imu_gps_inputs, count("/t/imu_out"), "less", "gps_min_status"),
        ("imu_orientation_variance", 0.5, imu_gps_inputs,
         covariance_entry("/t/imu_out", "orientation_covariance", 0), "more", "gps_min_status"),
        ("imu_angular_velocity_variance", 0.5, imu_gps_inputs,
         covariance_entry("/t/imu_out", "angular_velocity_covariance", 0), "more", "gps_min_status"),
        ("imu_linear_acceleration_variance", 0.5, imu_gps_inputs,
         covariance_entry("/t/imu_out", "linear_acceleration_covariance", 0), "more", "gps_min_status"),
        ("gps_min_status", 1, imu_gps_inputs, count("/t/gps"), "less", "cog_window"),
        ("gps_default_variance", [9.0, 9.0, 9.0],
         lambda: imu_gps_inputs(cov_type=NavSatFix.COVARIANCE_TYPE_UNKNOWN),
         covariance_entry("/t/gps", "pose.covariance", 0), "more", "gps_min_status"),
        ("gps_max_variance", 0.5, imu_gps_inputs, count("/t/gps"), "less", "gps_min_status"),
        ("cog_min_speed", 10.0, imu_gps_inputs, course_known, "less", "gps_min_status"),
        ("cog_min_distance", 100.0, imu_gps_inputs, course_known, "less", "gps_min_status"),
        ("cog_window", 0.5, imu_gps_inputs, course_variance, "more", "gps_min_status"),
        ("cog_max_yaw_rate", 0.0, imu_gps_inputs, course_known, "less", "gps_min_status"),
        ("unknown_variance", 5.0, imu_gps_inputs, covariance_entry("/t/gps", "pose.covariance", 21), "less",
         "gps_min_status"))],
    # camera_node and early_fusion_node on a simulated drive
    *[Case("camera_node", p, v, lambda: perception_config("camera_node"), perception_inputs, m, e, o)
      for p, v, m, e, o in (
        ("detector", "hog", objects_per_set("/camera/detections"), "less", "min_area"),
        ("segment_threshold", 700.0, objects_per_set("/camera/detections"), "less", "min_area"),
        ("min_area", 100000, objects_per_set("/camera/detections"), "less", "segment_threshold"),
        ("segment_split", 30.0, objects_per_set("/camera/detections"), "more", "min_area"),
        ("segment_max_width", 16, objects_per_set("/camera/detections"), "less", "min_area"),
        ("publish_debug_image", True, count("/camera/debug_image"), "more", "min_area"))],
    Case("early_fusion_node", "camera_intrinsics", [520.0, 520.0, 160.0, 120.0],
         lambda: perception_config_by_parameters("imu_gps_node", "camera_node", "radar_node", "early_fusion_node"),
         perception_inputs, associated, "less", "association_margin"),
    *[Case("early_fusion_node", p, v,
           lambda: perception_config("imu_gps_node", "camera_node", "radar_node", "early_fusion_node"),
           perception_inputs, m, e, o) for p, v, m, e, o in (
        ("association_gate", 0.05, associated, "less", "association_margin"),
        ("association_margin", 200.0, associated, "more", "association_gate"),
        ("publish_features", True, feature_fields, "more", "association_gate"),
        ("publish_camera_only", False, objects_per_set("/fusion/early/objects"), "less", "association_gate"))],
    # tracker_node: three objects passing a driving radar (test_tracker_node_offline.feed)
    *[Case("tracker_node", p, v, tracker_config, tracker_inputs, m, e, o) for p, v, m, e, o in (
        ("publish_existence", 0.999999, tracks_per_message, "less", "radar_position_std"),
        ("radar_position_std", 3.0, track_field(lambda o: o.pose.covariance[0]), "more", "publish_existence"),
        ("radar_doppler_std", 5.0, track_field(lambda o: o.twist.covariance[0]), "more", "publish_existence"),
        ("radar_range_std", 3.0, track_field(lambda o: o.pose.covariance[0] + o.pose.covariance[7]), "more",
         "publish_existence"),
        ("radar_azimuth_std", 0.2, track_field(lambda o: o.pose.covariance[0] + o.pose.covariance[7]), "more",
         "publish_existence"),
        ("radar_detection_probability", 0.99, track_field(lambda o: o.existence_probability), "more",
         "publish_existence"))],
]


def _run(tmp_path, case: Case, changes) -> float:
    path = tmp_path / f"{case.node}.yaml"
    path.write_text(yaml.safe_dump(case.config()))
    runner = OfflineRunner(path, capture=True)
    try:
        node = next(n for n in runner.nodes if n.get_name() == case.node)
        for name, value in changes:
            value = node.p[name] if value is ... else value
            (result,) = node.set_parameters([Parameter(name, value=value)])
            assert result.successful, f"{name} := {value!r}: {result.reason}"
        runner.feed(case.inputs())
        return float(case.measure(runner, node))
    finally:
        runner.close()


def _value(case):
    return _pnc() if case.value is None else case.value


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_live_parameter_takes_effect_and_stays(tmp_path, case):
    base = _run(tmp_path, case, [])
    changed = _run(tmp_path, case, [(case.param, _value(case))])
    held = _run(tmp_path, case, [(case.param, _value(case)), (case.other, ...)])
    print(f"{case.id}: {base:.6g} -> {changed:.6g} (after {case.other} set again: {held:.6g})")
    assert (changed > base) if case.expect == "more" else (changed < base), (base, changed)
    assert held == changed


def test_every_live_parameter_of_every_node_has_a_case():
    from fusion_nodes.ros import camera_params, early_fusion_params, imu_gps_params, late_fusion_params, \
        radar_params, tracker_params
    from fusion_nodes.ros.kalman_params import global_specs, sensor_specs
    live = {("kalman_fusion_node", s.name.replace("imu0", "<s>").replace("odom0", "<s>"))
            for s in global_specs() + sensor_specs("imu0") + sensor_specs("odom0") if not s.read_only}
    for node, module in (("camera_node", camera_params), ("radar_node", radar_params),
                         ("early_fusion_node", early_fusion_params), ("late_fusion_node", late_fusion_params),
                         ("imu_gps_node", imu_gps_params), ("tracker_node", tracker_params)):
        live |= {(node, s.name) for s in module.specs() if not s.read_only}
    covered = {(c.node, c.param.replace("imu0", "<s>").replace("odom0", "<s>")) for c in CASES}
    assert live - covered == set()
