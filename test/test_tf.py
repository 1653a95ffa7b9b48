# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""TF: kalman_fusion_node broadcasts its estimate and reads sensor mounts from /tf_static.

Also the bag tools on a bag as real robots record them: /tf, /tf_static and
a topic of a type that is not installed here.
"""
import logging

import numpy as np
import yaml
from builtin_interfaces.msg import Time
from geometry_msgs.msg import TransformStamped
from rosbags.typesys import get_types_from_msg
from tf2_msgs.msg import TFMessage

from conftest import DATA, REPO
from fusion_nodes.core.geometry import rpy_to_quaternion
from fusion_nodes.ros import diagnostics as diag
from fusion_nodes.ros.tf import transform_msg
from fusion_nodes.tools import bagio
from fusion_nodes.tools.evaluate import last_diagnostics, load_tracks
from fusion_nodes.tools.offline import run_offline

BAGS = DATA / "robot_localization"
TEST1_END, TEST1_TOL = np.array([-40.0454, -76.9988, -2.6974]), 1.0452   # robot_localization's own check


def test_offline_test2_records_odom_to_base_link_equal_to_the_filtered_odometry(tmp_path):
    out = tmp_path / "t2.mcap"
    res = run_offline(BAGS / "test2.bag", REPO / "config" / "rl_test2.yaml", out)
    assert res.published["/tf"] == res.published["/odometry/filtered"] == 3060
    odom = {(m.header.stamp.sec, m.header.stamp.nanosec): m for _, _, m in bagio.read(out, ["/odometry/filtered"])}
    tfs = [m for _, _, m in bagio.read(out, ["/tf"])]
    for msg in tfs:
        (tr,) = msg.transforms
        assert (tr.header.frame_id, tr.child_frame_id) == ("odom", "base_link")
        o = odom[(tr.header.stamp.sec, tr.header.stamp.nanosec)].pose.pose
        t, q = tr.transform.translation, tr.transform.rotation
        assert [t.x, t.y, t.z] == [o.position.x, o.position.y, o.position.z]
        assert [q.x, q.y, q.z, q.w] == [o.orientation.x, o.orientation.y, o.orientation.z, o.orientation.w]


def _imu_static_transform(stamp) -> TFMessage:
    """base_link -> imu_link of test1's Husky (the robot's own URDF values)."""
    tr = TransformStamped()
    tr.header.stamp, tr.header.frame_id, tr.child_frame_id = stamp, "base_link", "imu_link"
    tr.transform.translation.x, tr.transform.translation.y, tr.transform.translation.z = 0.0, -0.3, 0.52
    q = rpy_to_quaternion(np.pi / 2, 0.0, -np.pi / 2)
    r = tr.transform.rotation
    r.x, r.y, r.z, r.w = (float(v) for v in q)
    return TFMessage(transforms=[tr])


def _robot_bag(path, source="test1.bag"):
    """A robot_localization bag as a robot records it: plus /tf_static, /tf and a driver topic of an unknown type."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore
    from rclpy.serialization import serialize_message
    store = get_typestore(Stores.ROS2_JAZZY)
    store.register(get_types_from_msg("uint8 level\nstring text", "acme_driver/msg/Status"))
    status_cls = store.types["acme_driver/msg/Status"]
    msgs = list(bagio.read(BAGS / source))
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conns = {}

        def put(topic, msgtype, t_ns, data):
            if topic not in conns:
                conns[topic] = w.add_connection(topic, msgtype, typestore=store)
            w.write(conns[topic], t_ns, data)
        t0 = msgs[0][1]
        static = _imu_static_transform(msgs[0][2].header.stamp)
        put("/tf_static", "tf2_msgs/msg/TFMessage", t0 - 1, serialize_message(static))
        for k, (topic, t_ns, msg) in enumerate(msgs):
            put(topic, bagio.type_name(msg), t_ns, serialize_message(msg))
            if k % 100 == 0:
                put("/acme/status", "acme_driver/msg/Status", t_ns,
                    bytes(store.serialize_cdr(status_cls(level=0, text="ok"), "acme_driver/msg/Status")))
                wheel = TransformStamped()
                wheel.header.stamp, wheel.header.frame_id, wheel.child_frame_id = msg.header.stamp, "base_link", "wheel"
                wheel.transform.rotation.w = 1.0
                put("/tf", "tf2_msgs/msg/TFMessage", t_ns, serialize_message(TFMessage(transforms=[wheel])))
    return path


def test_imu_mount_from_tf_static_in_a_robot_bag_with_an_unknown_type(tmp_path, caplog):
    bag = _robot_bag(tmp_path / "robot_bag")
    params = yaml.safe_load((REPO / "config" / "rl_test1.yaml").read_text())
    del params["kalman_fusion_node"]["ros__parameters"]["imu0_mount"]   # the mount must come from TF
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "out.mcap"
    with caplog.at_level(logging.WARNING, logger="fusion_nodes.bagio"):
        run_offline(bag, tmp_path / "p.yaml", out)
    skipped = [r.getMessage() for r in caplog.records if "acme" in r.getMessage()]
    assert skipped == ["skipping /acme/status: its type acme_driver/msg/Status is not installed here"]
    last = [m for _, _, m in bagio.read(out, ["/odometry/filtered"])][-1].pose.pose.position
    err = np.linalg.norm(np.array([last.x, last.y, last.z]) - TEST1_END)
    print(f"test1, IMU mounted from /tf_static: final position error {err:.3f} m (tolerance {TEST1_TOL} m)")
    assert err < TEST1_TOL
    imu = last_diagnostics(out, "kalman_fusion_node: imu0")["kalman_fusion_node: imu0"]
    assert imu["mount"] == "/tf_static imu_link" and imu["mount_assumed_identity"] == "0"
    # The recorded output evaluates like any other bag (its unknown topic skipped again).
    tracks = load_tracks(out, ["/odometry/filtered", "/husky_velocity_controller/odom"])
    assert len(tracks["/odometry/filtered"].t) > 11000


def test_the_cli_replays_runs_and_evaluates_a_robot_bag(tmp_path, probe):
    """Fusion play / offline / eval on a bag with /tf, /tf_static and an unknown type: the unknown
    topic is named once in a warning, /tf_static is latched for late subscribers, nothing crashes.
    """
    import subprocess
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from fusion_nodes.tools.paths import executable
    bag = _robot_bag(tmp_path / "robot_bag", "test2.bag")
    fusion = executable("fusion")
    out = tmp_path / "out.mcap"
    off = subprocess.run([fusion, "offline", str(bag), "--params", str(REPO / "config" / "rl_test2.yaml"),
                          "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert off.returncode == 0, off.stderr[-2000:]
    assert off.stderr.count("skipping /acme/status: its type acme_driver/msg/Status is not installed here") == 1
    for evaluated, estimate in ((out, "/odometry/filtered"), (bag, "/jackal_velocity_controller/odom")):
        ev = subprocess.run([fusion, "eval", str(evaluated), "--truth", "/jackal_velocity_controller/odom",
                             "--estimate", estimate], capture_output=True, text=True, timeout=600)
        assert ev.returncode == 0 and "pos RMSE" in ev.stdout, ev.stderr[-2000:]
    got = []
    probe.node.create_subscription(TFMessage, "/tf_static", got.append, QoSProfile(
        depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
    play = subprocess.run([fusion, "play", str(bag), "--rate", "20", "--delay", "1"], capture_output=True,
                          text=True, timeout=600)
    assert play.returncode == 0, play.stderr[-2000:]
    assert play.stderr.count("skipping /acme/status") == 1
    assert probe.wait_for(lambda: got, 15.0) and got[0].transforms[0].child_frame_id == "imu_link"


def _transform(parent, child, xyz=(0.0, 0.0, 0.0), q=(0.0, 0.0, 0.0, 1.0), stamp=None):
    return transform_msg(stamp if stamp is not None else Time(), parent, child, xyz, q)


def _map_instance_run(tmp_path, hostile=(), inspect=lambda node: None):
    """test2.bag's first 500 messages through a world_frame: map instance, after an odom -> base_link on /tf
    (and then the ``hostile`` transforms, one message); its last odometry, map -> odom and ``inspect(node)``
    (called before the node is destroyed).
    """
    from fusion_nodes.tools.offline import OfflineRunner
    cfg = yaml.safe_load((REPO / "config" / "rl_test2.yaml").read_text())
    cfg["kalman_fusion_node"]["ros__parameters"]["world_frame"] = "map"
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(cfg))
    msgs = []
    for topic, t, msg in bagio.read(BAGS / "test2.bag"):
        if not msgs:
            good = _transform("odom", "base_link", (1.0, 2.0, 0.0), rpy_to_quaternion(0.0, 0.0, 0.5), msg.header.stamp)
            msgs.append(("/tf", t - 2, TFMessage(transforms=[good])))
            if hostile:
                msgs.append(("/tf", t - 1, TFMessage(transforms=list(hostile))))
        msgs.append((topic, t, msg))
        if len(msgs) > 500:
            break
    runner = OfflineRunner(tmp_path / "p.yaml", capture=True)
    try:
        runner.feed(msgs)
        return (runner.captured["/odometry/filtered"][-1], runner.captured["/tf"][-1].transforms[0],
                inspect(runner.nodes[0]))
    finally:
        runner.close()


def test_map_frame_instance_publishes_map_to_odom_from_the_odom_to_base_link_it_receives(tmp_path):
    """world_frame: map: map -> odom = (map -> base_link) ∘ (odom -> base_link)⁻¹, as robot_localization."""
    from fusion_nodes.core.geometry import quaternion_to_matrix
    odom, tf, _ = _map_instance_run(tmp_path)
    assert (tf.header.frame_id, tf.child_frame_id) == ("map", "odom")
    p, o = odom.pose.pose.position, odom.pose.pose.orientation
    R_mb, t_mb = quaternion_to_matrix([o.x, o.y, o.z, o.w]), np.array([p.x, p.y, p.z])
    R_ob, t_ob = quaternion_to_matrix(rpy_to_quaternion(0.0, 0.0, 0.5)), np.array([1.0, 2.0, 0.0])
    t_mo, R_mo = R_mb @ (-R_ob.T @ t_ob) + t_mb, R_mb @ R_ob.T
    got_t = tf.transform.translation
    g = tf.transform.rotation
    np.testing.assert_allclose([got_t.x, got_t.y, got_t.z], t_mo, atol=1e-9)
    np.testing.assert_allclose(quaternion_to_matrix([g.x, g.y, g.z, g.w]), R_mo, atol=1e-9)


def test_transforms_that_cannot_be_are_dropped_counted_and_leave_the_tree_as_it_was(tmp_path):
    """After a good odom -> base_link: a NaN one, one beyond 1e7 m, a non-unit rotation (tf2 refuses it too),
    a frame its own parent, an empty frame and base_link -> odom (a loop) arrive in one message. Each is
    dropped and counted in the node's tf status; map -> odom is exactly what the good transform alone gives.
    """
    q = rpy_to_quaternion(0.0, 0.0, 0.9)
    hostile = [_transform("odom", "base_link", (np.nan, 0.0, 0.0), q), _transform("odom", "base_link", (1e8, 0, 0), q),
               _transform("odom", "base_link", (3.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.2)),
               _transform("base_link", "base_link"), _transform("", "imu_link"), _transform("base_link", "odom"),
               _transform("base_link", "imu_link", (0.1, 0.0, 0.2))]            # and a good one, kept
    (tmp_path / "clean").mkdir()
    clean = _map_instance_run(tmp_path / "clean")

    def inspect(node):
        node._tf_drops_seen = 0                 # as before the first report (the run may have made one)
        return dict(node.tf_cache.dropped), set(node.tf_cache.edges), node._tf_status(), node._tf_status()
    odom, tf, (dropped, edges, first, second) = _map_instance_run(tmp_path, hostile, inspect)
    assert dropped == {"non_finite": 1, "implausible": 1, "bad_quaternion": 1, "bad_frame": 2, "tf_cycle": 1}
    assert {"base_link", "imu_link"} <= edges                   # (and map -> odom: the node's own, heard back)
    assert repr(tf.transform) == repr(clean[1].transform) and repr(odom.pose) == repr(clean[0].pose)
    values = {kv.key: kv.value for kv in first.values}
    assert values["dropped.bad_frame"] == "2" and values["dropped.tf_cycle"] == "1"
    assert values["edges"] == str(len(edges))
    assert first.level == diag.WARN and first.message.startswith("6 transforms dropped")
    assert second.level == diag.OK and {kv.key: kv.value for kv in second.values} == values    # counts stay
