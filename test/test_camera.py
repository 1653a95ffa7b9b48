# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""camera_node: detection on the simulated camera, and bad images over DDS."""
import time

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header

from conftest import REPO
from fusion_nodes.core import vision
from fusion_nodes.ros import pointcloud
from fusion_nodes.tools import bagio, perception_sim
from fusion_nodes.tools.offline import run_offline
from harness import diagnostics_values, write_params


def test_to_bgr_checks_encoding_and_size():
    data = bytes(range(12))
    np.testing.assert_array_equal(vision.to_bgr(data, 2, 2, 6, "rgb8")[0, 0], [2, 1, 0])
    assert vision.to_bgr(bytes(4), 2, 2, 2, "mono8").shape == (2, 2, 3)
    for args in ((data, 2, 2, 6, "yuv422"), (data[:-1], 2, 2, 6, "bgr8"), (data, 0, 2, 6, "bgr8"),
                 (data, 4, 2, 6, "bgr8")):
        with pytest.raises(ValueError):
            vision.to_bgr(*args)


@pytest.mark.parametrize("scale_down", [False, True])
def test_box_centre_is_where_the_projection_is(scale_down):
    """A shape filled between continuous image columns ``u0 .. u1`` (the simulator's projection, rounded to
    pixels) is segmented; its box centre is ``(u0 + u1) / 2`` in ``K``'s pixel-centre coordinates on average
    (the centre ``x + w / 2`` of the box's pixel indices was half a pixel to the right). The same for a
    1280-px image, which is segmented at a quarter size and its boxes scaled back.
    """
    import cv2
    rng = np.random.default_rng(3)
    k = 4 if scale_down else 1
    err = []
    for _ in range(200):
        img = np.zeros((240 * k, 320 * k, 3), np.uint8)
        img[: 120 * k], img[120 * k:] = (200, 170, 140), (90, 100, 100)
        u0, v0 = rng.uniform(20, 250) * k, rng.uniform(60, 120) * k
        u1, v1 = u0 + rng.uniform(4, 50) * k, v0 + rng.uniform(6, 60) * k
        corners = np.round([[u0, v0], [u1, v0], [u1, v1], [u0, v1]]).astype(np.int32)
        cv2.fillConvexPoly(img, corners, (170, 90, 60))
        boxes = vision.segment(img, 60.0, 10)
        if len(boxes) == 1:
            u, v = vision.box_centre(boxes[0])
            err.append((u - (u0 + u1) / 2, v - (v0 + v1) / 2))
    bias = np.mean(err, axis=0)
    assert len(err) > 150
    assert np.all(np.abs(bias) < 0.1 * k), bias


@pytest.mark.parametrize("seed", range(5))
def test_touching_objects_of_different_colours_are_split(seed):
    """A pedestrian in front of a car (touching, different colours) on a noisy road: one box without
    ``split``, the two objects' own boxes with it; a lone object stays one box (the pixel noise does
    not cut it up).
    """
    import cv2
    rng = np.random.default_rng(seed)
    img = np.zeros((240, 320, 3), np.float32)
    img[:120], img[120:] = (200, 170, 140), (90, 100, 100)
    car, person, lone = (100, 100, 160, 140), (150, 90, 170, 150), (240, 95, 250, 140)     # x0 y0 x1 y1
    for (x0, y0, x1, y1), colour in ((car, (170, 90, 60)), (person, (70, 80, 170)), (lone, (80, 160, 80))):
        cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), colour, -1)
    img = np.clip(img + rng.normal(0, 12.0, img.shape), 0, 255).astype(np.uint8)
    assert len(vision.segment(img)) == 2                       # car + person merged, the lone one
    boxes = sorted(vision.segment(img, split=30.0))
    assert len(boxes) == 3, boxes
    for (x, y, w, h), (x0, y0, x1, y1) in zip(boxes, (car, person, lone)):
        # the car's box ends where the person starts (the part of the car the person hides is not in it)
        want_x1 = person[0] if (x0, y0) == car[:2] else x1
        assert abs(x - x0) <= 1 and abs(y - y0) <= 1 and abs(x + w - want_x1) <= 1 and abs(y + h - y1) <= 1


def test_detections_on_the_simulated_camera(tmp_path):
    sc = perception_sim.load_scenario()
    sc["duration"] = 8.0
    bag, out = tmp_path / "p.mcap", tmp_path / "det.mcap"
    perception_sim.write(sc, bag)
    res = run_offline(bag, REPO / "config" / "camera.yaml", out,
                      topics=["/camera/image_raw", "/camera/camera_info"])
    assert res.published["/camera/detections"] >= 110
    dets = [pointcloud.read(m) for _, _, m in bagio.read(out, ["/camera/detections"])]
    assert np.mean([len(d) for d in dets]) >= 1.0
    d = np.concatenate([x for x in dets if len(x)])
    assert set(vision.FEATURE_NAMES) <= set(d.dtype.names)
    assert np.all(np.abs(d["bearing"]) < 0.6)   # within the 320 px / fx 260 field of view


def image(stamp, w=8, h=6, encoding="bgr8", step=None, data=None):
    step = step if step is not None else 3 * w
    m = Image(header=Header(stamp=stamp), width=w, height=h, encoding=encoding, step=step)
    m.data = data if data is not None else bytes(step * h)
    return m


def test_bad_images_are_dropped_and_counted(tmp_path, probe, nodes):
    node = nodes("camera_node", write_params(tmp_path / "c.yaml", "camera_node", {
        "image_topic": "/t/image", "camera_info_topic": "/t/info", "detections_topic": "/t/det"}))
    probe.collect(PointCloud2, "/t/det")
    probe.collect(DiagnosticArray, "/diagnostics")
    img_pub, info_pub = probe.publisher(Image, "/t/image"), probe.publisher(CameraInfo, "/t/info")
    assert probe.wait_for_subscribers(img_pub) and probe.wait_for_subscribers(info_pub)
    assert probe.wait_for_publishers("/t/det")
    stamps = iter(range(5, 100))                                # every image a new stamp (repeats are dropped)
    got = lambda: diagnostics_values(probe.messages("/diagnostics"), "camera_node: camera")  # noqa: E731

    def t():
        return Time(sec=next(stamps))

    def send(msg):
        """Publish an image and wait until the node has counted it.

        A sample lost on a loaded machine (sensor QoS is best effort) is sent again, so every image is
        counted exactly once.
        """
        before = int(got().get("received", 0))
        for _ in range(5):
            img_pub.publish(msg)
            if probe.wait_for(lambda: int(got().get("received", 0)) > before, 10.0):
                return
        raise AssertionError(f"camera_node never received the image: {got()!r}")

    send(image(t()))                                            # before any CameraInfo
    for _ in range(5):                                          # zero focal length
        info_pub.publish(CameraInfo(k=[0.0] * 9))
        if probe.wait_for(lambda: got().get("dropped.bad_camera_info") == "1", 10.0):
            break
    send(image(t()))                                            # still no usable intrinsics
    for _ in range(3):                                          # usable (repeats change nothing)
        info_pub.publish(CameraInfo(k=[100.0, 0, 4, 0, 100.0, 3, 0, 0, 1]))
        time.sleep(0.1)
    for bad in (image(t(), encoding="yuv422"), image(t(), data=bytes(10)), image(t(), w=0, h=0, data=b""),
                image(Time(sec=0))):
        send(bad)
    send(image(t()))                                            # a good (empty) frame
    assert probe.wait_for(lambda: probe.messages("/t/det"))
    want = {"dropped.no_camera_info": "2", "dropped.bad_camera_info": "1", "dropped.unsupported_encoding": "1",
            "dropped.inconsistent_image": "2", "dropped.zero_stamp": "1", "frames": "1", "received": "7"}
    assert probe.wait_for(lambda: all(got().get(k) == v for k, v in want.items()), 30.0), repr(got())
    assert node.alive()
