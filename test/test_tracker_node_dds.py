# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""tracker_node over DDS from its console script: two moving objects tracked with stable ids, velocity from
the radar; garbage clouds and stamps dropped by reason in /diagnostics without touching the tracks.
"""
import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from fusion_msgs.msg import TrackedObject, TrackedObjectArray
from nav_msgs.msg import Odometry
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header
from vision_msgs.msg import Detection3DArray, LabelInfo

from fusion_nodes.ros import pointcloud
from fusion_nodes.ros.convert import sec_to_stamp
from fusion_nodes.ros.qos import latched_qos
from harness import diagnostics_values, write_params

RADAR_X = 2.0            # radar mount x on base_link (m)
PARAMS = {"radar_topic": "/trk/radar", "camera_topic": "", "odometry_topic": "/trk/odom", "output_topic": "/trk/tracks",
          "markers_topic": "/trk/markers", "vision_topic": "/trk/detections",
          "radar_mount": [RADAR_X, 0.0, 0.5, 0.0, 0.0, 0.0], "radar_fov": [60.0, 0.8], "processing_delay": 0.0,
          "radar_position_std": 0.3, "radar_doppler_std": 0.2}
P0 = np.array([[20.0, -3.0], [25.0, 4.0]])          # object positions at t0 (world, m)
V = np.array([[0.0, 1.5], [-2.0, 0.0]])              # their velocities (m/s)
EGO_SPEED = 3.0                                      # the robot drives along +x


def odom(t, x):
    m = Odometry(header=Header(stamp=sec_to_stamp(t), frame_id="odom"), child_frame_id="base_link")
    m.pose.pose.position.x = x
    m.pose.pose.orientation.w = 1.0
    return m


def clusters(t, ego_x, p, v, **override):
    base = p - [ego_x, 0.0]
    u = (base - [RADAR_X, 0.0]) / np.linalg.norm(base - [RADAR_X, 0.0], axis=1, keepdims=True)
    cols = {"x": base[:, 0], "y": base[:, 1], "doppler_mean": (u * v).sum(axis=1)}
    cols.update({k: np.asarray(val, float) for k, val in override.items()})
    return pointcloud.write(PointCloud2(), cols, Header(stamp=sec_to_stamp(t), frame_id="base_link"))


def confirmed(probe):
    msgs = probe.messages("/trk/tracks")
    return [o for o in msgs[-1].objects if o.status == TrackedObject.STATUS_CONFIRMED] if msgs else []


@pytest.fixture
def tracker(tmp_path, probe, nodes):
    node = nodes("tracker_node", write_params(tmp_path / "p.yaml", "tracker_node", PARAMS))
    probe.collect(TrackedObjectArray, "/trk/tracks")
    probe.collect(DiagnosticArray, "/diagnostics")
    probe.collect(Detection3DArray, "/trk/detections", reliable=True)
    pubs = {"odom": probe.publisher(Odometry, "/trk/odom"), "radar": probe.publisher(PointCloud2, "/trk/radar")}
    for p in pubs.values():
        assert probe.wait_for_subscribers(p)
    assert probe.wait_for_publishers("/trk/tracks")
    return node, pubs


def _drive(probe, pubs, t0, steps, start=0, **override):
    """Frames every 0.1 s; the ego pose of the next frame goes out one frame ahead, so it is there in time."""
    for k in range(start, start + steps):
        t, ego_x = t0 + 0.1 * k, EGO_SPEED * 0.1 * k
        pubs["odom"].publish(odom(t + 0.1, ego_x + EGO_SPEED * 0.1))
        # each frame waits for the previous one's tracks, so none is lost and the order holds
        n = len(probe.messages("/trk/tracks"))
        pubs["radar"].publish(clusters(t, ego_x, P0 + V * 0.1 * k, V, **override))
        assert probe.wait_for(lambda: len(probe.messages("/trk/tracks")) > n, timeout=30.0)


def test_two_objects_tracked_with_velocity_and_garbage_dropped_by_reason(probe, tracker):
    node, pubs = tracker
    t0 = probe.now().nanoseconds * 1e-9
    pubs["odom"].publish(odom(t0, 0.0))
    assert probe.wait_for(lambda: int(diagnostics_values(probe.messages("/diagnostics"), "tracker_node: odometry")
                                      .get("received", 0)) >= 1, timeout=60.0)
    _drive(probe, pubs, t0, 15)
    tracks = confirmed(probe)
    assert len(tracks) == 2
    ids = sorted(o.id for o in tracks)
    assert probe.messages("/trk/tracks")[-1].header.frame_id == "odom"
    for o in tracks:
        k = int(np.argmin(np.hypot(*(P0 + V * 1.4 - [o.pose.pose.position.x, o.pose.pose.position.y]).T)))
        assert np.hypot(o.twist.twist.linear.x - V[k, 0], o.twist.twist.linear.y - V[k, 1]) < 0.5
        assert o.sensors == ["radar"] and o.existence_probability > 0.5
        cov = np.reshape(o.twist.covariance, (6, 6))
        assert np.all(np.linalg.eigvalsh(cov[:2, :2]) > 0) and cov[5, 5] == -1.0

    before = len(probe.messages("/trk/tracks"))
    t_bad = t0 + 1.45
    pubs["radar"].publish(clusters(t_bad, 0.0, P0, V, x=[np.nan, 1.0]))                 # NaN position
    pubs["radar"].publish(clusters(t_bad + 0.01, 0.0, P0, V, x=[1e9, 1.0]))            # absurd position
    pubs["radar"].publish(clusters(t0 + 1e6, 0.0, P0, V))                               # far future stamp
    pubs["radar"].publish(clusters(t0 + 0.05, 0.0, P0, V))                              # backwards stamp
    name = "tracker_node: radar"
    assert probe.wait_for(lambda: sum(int(diagnostics_values(probe.messages("/diagnostics"), name)
                                          .get(f"dropped.{r}", 0)) > 0
                                      for r in ("non_finite", "absurd_value", "future_stamp", "stamp_backwards"))
                          == 4, timeout=60.0)
    assert len(probe.messages("/trk/tracks")) == before        # nothing of the garbage reached the tracker
    _drive(probe, pubs, t0, 5, start=15)
    assert sorted(o.id for o in confirmed(probe)) == ids       # the same objects, the same ids
    # the same tracks as vision_msgs: the track ids, and the class list latched for a tool that joins late
    last = probe.messages("/trk/tracks")[-1]
    assert probe.wait_for(lambda: any(d.header.stamp == last.header.stamp for d in probe.messages("/trk/detections")),
                          timeout=30.0)
    vision = next(d for d in probe.messages("/trk/detections") if d.header.stamp == last.header.stamp)
    assert [d.id for d in vision.detections] == [str(o.id) for o in last.objects]
    labels = []
    probe.node.create_subscription(LabelInfo, "/trk/detections/label_info", labels.append, latched_qos())
    assert probe.wait_for(lambda: labels, timeout=30.0)
    assert [c.class_name for c in labels[0].class_map] == ["car", "pedestrian", "cyclist", "pole"]
    tracks_status = diagnostics_values(probe.messages("/diagnostics"), "tracker_node: tracks")
    assert probe.wait_for(lambda: int(diagnostics_values(probe.messages("/diagnostics"), "tracker_node: tracks")
                                      .get("tracks_confirmed", 0)) == 2, timeout=30.0), tracks_status
