# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Perception simulator: deterministic, every sensor present, radar_node runs over it."""
import numpy as np
import pytest

from conftest import REPO
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros.convert import stamp_to_sec as sec
from fusion_nodes.tools import bagio, perception_sim
from fusion_nodes.tools.offline import run_offline
from fusion_nodes.tools.paths import InputError


def short_scenario(seconds=6.0):
    sc = perception_sim.load_scenario()
    sc["duration"] = seconds
    return sc


def test_deterministic_and_complete(tmp_path):
    a, b = tmp_path / "a.mcap", tmp_path / "b.mcap"
    perception_sim.write(short_scenario(), a)
    perception_sim.write(short_scenario(), b)
    ra = [(t, bytes(m.data)) for _, t, m in bagio.read(a, ["/camera/image_raw", "/radar/points"])]
    rb = [(t, bytes(m.data)) for _, t, m in bagio.read(b, ["/camera/image_raw", "/radar/points"])]
    assert ra == rb
    topics = bagio.topics(a)
    assert topics["/camera/image_raw"][1] >= 15 * 6 - 2 and topics["/radar/points"][1] >= 13 * 6 - 2
    for _, _, msg in bagio.read(a, ["/ground_truth/objects"]):
        truth = pointcloud.read(msg)
    assert set(np.unique(truth["class_id"]).astype(int)) == {0, 1, 2, 3}
    # The camera sees something: image differs from the empty sky/road background.
    for _, _, img in bagio.read(a, ["/camera/image_raw"]):
        pass
    px = np.frombuffer(bytes(img.data), np.uint8).reshape(img.height, img.width, 3)
    assert img.encoding == "bgr8" and px.std() > 20


def test_radar_node_clusters_the_simulated_radar(tmp_path):
    bag, out = tmp_path / "p.mcap", tmp_path / "clusters.mcap"
    perception_sim.write(short_scenario(10.0), bag)
    res = run_offline(bag, REPO / "config" / "radar.yaml", out, topics=["/radar/points", "/ground_truth/odom"])
    scans = res.published["/radar/clusters"]
    assert scans >= 120
    clusters = [pointcloud.read(m) for _, _, m in bagio.read(out, ["/radar/clusters"])]
    assert np.mean([len(c) for c in clusters]) >= 3
    moving = np.concatenate([c["moving"] for c in clusters])
    assert 0.05 < moving.mean() < 0.95   # both moving objects and static poles/clutter


def test_scripted_objects_decoys_and_radar_blackout(tmp_path):
    """config/tracking_scenario.yaml: a scripted object is where its script puts it, relative to the ego, at
    its time; decoys are in no truth; a radar blackout sends empty scans and the camera keeps going.
    """
    sc = perception_sim.load_scenario(REPO / "config" / "tracking_scenario.yaml")
    sc["duration"] = 10.0
    sc["radar"]["blackout"] = [4.0, 5.0]
    sim = perception_sim.PerceptionSim(sc)
    assert len(sim.decoys) == sc["camera"]["decoys"] and len(sc["scripted"]) >= 5
    spec = sc["scripted"][0]                                   # the pedestrian crossing at 9 s
    bag = tmp_path / "t.mcap"
    perception_sim.write(sc, bag)
    n_truth, seen = None, False
    for _, t_ns, msg in bagio.read(bag, ["/ground_truth/objects"]):
        truth = pointcloud.read(msg)
        n_truth = len(truth)
        if abs(t_ns * 1e-9 - perception_sim.T0 - spec["at"]) < 1e-6:
            row = truth[truth["object_id"] == len(sim.objects) - len(sc["scripted"])][0]
            np.testing.assert_allclose([row["x"], row["y"]], [spec["ahead"], spec["left"]], atol=1e-6)
            assert np.hypot(row["vx"], row["vy"]) == pytest.approx(spec["speed"])
            seen = True
    assert seen and n_truth == len(sim.objects)                         # every object, no decoy
    scans = [(t_ns * 1e-9 - perception_sim.T0, len(pointcloud.read(m)))
             for _, t_ns, m in bagio.read(bag, ["/radar/points"])]
    assert all(n == 0 for t, n in scans if 4.0 <= t < 5.0) and all(n > 0 for t, n in scans if t < 4.0 or t >= 5.0)
    frames = [t_ns for _, t_ns, _ in bagio.read(bag, ["/camera/image_raw"])]
    assert len(frames) >= 15 * 10 - 2


def test_radar_range_and_azimuth_errors_are_the_scenarios(tmp_path):
    """radar.range_std / azimuth_std: a pole's points (a pole is thin and static) spread in azimuth by the
    configured error, and the scenario without them draws nothing more: its drive is unchanged.
    """
    sc = short_scenario(8.0)
    plain = perception_sim.PerceptionSim(sc)._radar_error(np.array([30.0, 2.0, 0.5]))
    np.testing.assert_array_equal(plain, [30.0, 2.0, 0.5])
    sc["radar"].update(range_std=0.3, azimuth_std=0.02)
    sim = perception_sim.PerceptionSim(sc)
    q = np.array([sim._radar_error(np.array([30.0, 2.0, 0.5])) for _ in range(4000)])
    az, rng_ = np.arctan2(q[:, 1], q[:, 0]), np.hypot(q[:, 0], q[:, 1])
    assert np.std(az) == pytest.approx(0.02, rel=0.06) and np.std(rng_) == pytest.approx(0.3, rel=0.06)
    assert np.mean(rng_) == pytest.approx(np.hypot(30.0, 2.0), abs=0.02) and np.all(q[:, 2] == 0.5)


def test_sensor_latency_delivers_a_sensors_messages_late_and_leaves_the_drive():
    """``radar.latency``: each scan is logged that long after its stamp (a driver's delay), the camera's
    messages are not; the drive's content is the same (same stamps, same points), only delivered later.
    """
    def radar_and_camera(sc):
        sim = perception_sim.PerceptionSim(sc)
        return [(topic, t, sec(m.header.stamp), bytes(m.data)) for topic, t, m in sim.messages()
                if topic in ("/radar/points", "/camera/image_raw")]
    sc = short_scenario(4.0)
    plain = radar_and_camera(sc)
    sc["radar"]["latency"] = 0.08
    late = radar_and_camera(sc)
    assert sorted((tp, st, d) for tp, _, st, d in plain) == sorted((tp, st, d) for tp, _, st, d in late)
    delay = {tp: np.array([t * 1e-9 - st for tp2, t, st, _ in late if tp2 == tp]) for tp in ("/radar/points",
                                                                                              "/camera/image_raw")}
    jitter = 4 * sc["radar"]["jitter"]
    assert np.all(np.abs(delay["/radar/points"] - 0.08) < jitter)
    assert np.all(np.abs(delay["/camera/image_raw"]) < 4 * sc["camera"]["jitter"])
    logged = [t for _, t, _, _ in late]
    assert logged == sorted(logged)
    sc["radar"]["latency"] = -0.1
    with pytest.raises(InputError, match="radar.latency"):
        perception_sim.PerceptionSim(sc)


def test_radar_glint_moves_a_scans_points_together_and_slowly():
    """radar.glint: the offset of an object's scattering centre is shared by the points of a scan and
    correlated from scan to scan over ``time`` (a centroid off the middle for a while, as on real targets);
    its spread is ``fraction`` of the points'; objects wander independently.
    """
    sc = short_scenario(8.0)
    plain = perception_sim.PerceptionSim(sc)
    assert plain._glint_fraction() == 0.0
    sc["radar"]["glint"] = {"fraction": 0.8, "time": 1.0}
    sim = perception_sim.PerceptionSim(sc)
    std = np.array([1.125, 0.45, 0.375])                      # a car's points' spread, m (size / 4)
    g = np.array([sim._glint_offset(7, k / 13.0, 0.8 * std) for k in range(13 * 60)])   # 60 s of scans
    np.testing.assert_allclose(np.std(g, axis=0), 0.8 * std, rtol=0.25)
    a = np.exp(-1.0 / 13.0)                                    # one scan's correlation at time 1 s
    lag1 = np.mean([np.corrcoef(g[:-1, i], g[1:, i])[0, 1] for i in range(3)])
    assert lag1 == pytest.approx(a, abs=0.03)
    # another object's centre wanders on its own
    h = np.array([sim._glint_offset(8, k / 13.0, 0.8 * std) for k in range(13 * 60)])
    assert abs(np.corrcoef(g[:, 0], h[:, 0])[0, 1]) < 0.2
    sc["radar"]["glint"] = {"fraction": 1.0}                   # no spread left for the points: refused
    with pytest.raises(ValueError, match="glint.fraction"):
        perception_sim.PerceptionSim(sc)._glint_fraction()
