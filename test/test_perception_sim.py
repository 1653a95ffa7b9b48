"""Perception simulator: deterministic, every sensor present, radar_node runs over it."""
import numpy as np

from conftest import REPO
from fusion_nodes.ros import pointcloud
from fusion_nodes.tools import bagio, perception_sim
from fusion_nodes.tools.offline import run_offline


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
