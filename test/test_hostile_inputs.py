# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Hostile input to the other nodes: the reproducers of issue 9, one regression test each.

The nodes run in process (offline runner, simulated clock); each bad message
must be dropped and counted by reason, and the node must go on with the next
good one.
"""
import math

import numpy as np
import pytest
import yaml
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image, Imu, NavSatFix, PointCloud2, PointField
from std_msgs.msg import Header

from fusion_nodes.core import vision
from fusion_nodes.core.validation import InvalidInput, StampOrder, check_psd
from fusion_nodes.ros import pointcloud
from fusion_nodes.tools.offline import OfflineRunner


def stamp(t):
    return Time(sec=int(t), nanosec=int(round((t % 1) * 1e9)))


def run(tmp_path, node, params, messages):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({node: {"ros__parameters": params}}))
    runner = OfflineRunner(tmp_path / "p.yaml", capture=True)
    try:
        runner.feed(messages)
        return runner.captured, runner.nodes[0]
    finally:
        runner.close()


IMU_GPS = {"imu_topic": "/imu", "gps_topic": "/fix", "imu_output_topic": "/imu_out", "gps_output_topic": "/gps",
           "features_topic": ""}


def imu(t, acc=(0.0, 0.0, 9.81), gyro_cov=None):
    m = Imu(header=Header(stamp=stamp(t)))
    m.orientation.w = 1.0
    m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z = acc
    m.orientation_covariance = list(np.eye(3).ravel() * 1e-3)
    m.angular_velocity_covariance = list(np.eye(3).ravel() * 1e-4) if gyro_cov is None else gyro_cov
    m.linear_acceleration_covariance = list(np.eye(3).ravel() * 1e-2)
    return m


def fix(t, lat=42.376, lon=-71.147, alt=10.0, status=0):
    m = NavSatFix(header=Header(stamp=stamp(t)), latitude=lat, longitude=lon, altitude=alt)
    m.status.status = status
    m.position_covariance = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 4.0]
    m.position_covariance_type = NavSatFix.COVARIANCE_TYPE_DIAGONAL_KNOWN
    return m


def test_imu_gps_node_drops_impossible_fixes_and_imu_stamps_and_values(tmp_path):
    good = [("/fix", fix(100.0)), ("/imu", imu(100.0))]
    bad = [("/fix", fix(100.5, lon=9665.21, alt=-1e308), "implausible"),     # used to raise OverflowError
           ("/fix", fix(100.6, lat=100.0, lon=400.0), "implausible"),
           ("/fix", fix(100.6, alt=1e300), "implausible"),
           ("/imu", imu(100.0), "duplicate_stamp"),
           ("/imu", imu(99.0), "stamp_backwards"),
           ("/imu", imu(100.0 + 1e5), "future_stamp"),
           ("/imu", imu(100.7, gyro_cov=[1e-4, 1, 0, 1, 1e-4, 0, 0, 0, 1e-4]), "bad_covariance"),   # not PSD
           ("/imu", imu(100.8, acc=(1e300, 0.0, 9.81)), "implausible")]
    after = [("/fix", fix(101.0)), ("/imu", imu(101.0))]
    msgs = [(topic, int(100.0e9) + k * 1000, m) for k, (topic, m) in enumerate(good)]
    msgs += [(topic, int(100.9e9) + k * 1000, m) for k, (topic, m, _) in enumerate(bad)]
    msgs += [(topic, int(101.0e9) + k * 1000, m) for k, (topic, m) in enumerate(after)]
    out, node = run(tmp_path, "imu_gps_node", IMU_GPS, msgs)
    expected = {}
    for topic, _, reason in bad:
        src = "gps" if topic == "/fix" else "imu"
        expected.setdefault(src, {}).setdefault(reason, 0)
        expected[src][reason] += 1
    assert {s: dict(node.monitors[s].dropped) for s in ("imu", "gps")} == expected
    assert len(out["/gps"]) == 2 and len(out["/imu_out"]) == 2            # the good ones, before and after
    assert out["/gps"][1].pose.pose.position.y == pytest.approx(0.0, abs=1e-6)   # the datum is the good fix
    assert all(np.all(np.isfinite(m.linear_acceleration_covariance)) for m in out["/imu_out"])


def test_camera_node_survives_a_one_pixel_high_image(tmp_path):
    from sensor_msgs.msg import CameraInfo
    params = {"image_topic": "/img", "camera_info_topic": "/info", "detections_topic": "/det", "detector": "color"}
    info = CameraInfo(header=Header(stamp=stamp(10.0)), k=[500.0, 0, 350, 0, 500.0, 0.5, 0, 0, 1])
    thin = Image(header=Header(stamp=stamp(10.1)), width=700, height=1, step=2100, encoding="bgr8",
                 data=bytes(2100))                                          # used to crash cv2.resize
    normal = Image(header=Header(stamp=stamp(10.2)), width=640, height=480, step=1920, encoding="bgr8",
                   data=bytes(1920 * 480))
    out, node = run(tmp_path, "camera_node", params, [("/info", 10_000_000_000, info),
                                                      ("/img", 10_100_000_000, thin),
                                                      ("/img", 10_200_000_000, normal)])
    assert len(out["/det"]) == 2
    assert vision.segment(np.zeros((1, 700, 3), np.uint8)) == []


def test_camera_node_reads_binning_and_roi_and_drops_images_their_camera_info_does_not_describe(tmp_path):
    """One coloured box seen at full resolution and again binned 2 x 2 from a ROI (the same CameraInfo
    calibration, REP-104): the same bearing. An image of a size its CameraInfo does not describe is dropped
    (camera_info_mismatch) until a CameraInfo that does arrives; an impossible CameraInfo is dropped and the
    last good one kept.
    """
    from sensor_msgs.msg import CameraInfo, RegionOfInterest
    params = {"image_topic": "/img", "camera_info_topic": "/info", "detections_topic": "/det", "detector": "color"}
    k = [400.0, 0, 319.5, 0, 400.0, 239.5, 0, 0, 1]

    def image(t, w, h, box):                    # box: x0, y0, x1, y1 in this image's pixels
        img = np.zeros((h, w, 3), np.uint8)
        img[box[1]:box[3], box[0]:box[2]] = (30, 40, 220)
        return Image(header=Header(stamp=stamp(t)), width=w, height=h, step=3 * w, encoding="bgr8",
                     data=img.tobytes())
    full = CameraInfo(header=Header(stamp=stamp(10.0)), width=640, height=480, k=k)
    binned = CameraInfo(header=Header(stamp=stamp(10.0)), width=640, height=480, k=k, binning_x=2, binning_y=2,
                        roi=RegionOfInterest(x_offset=160, y_offset=120, width=320, height=240))
    impossible = CameraInfo(width=640, height=480, k=[400.0, 0, 319.5, 0, math.nan, 239.5, 0, 0, 1])
    box_full = (440, 280, 480, 320)             # columns 440-479: the ROI's 280-319, binned 140-159
    msgs = [("/info", 10_000_000_000, full), ("/img", 10_100_000_000, image(10.1, 640, 480, box_full)),
            ("/img", 10_200_000_000, image(10.2, 160, 120, (140, 80, 160, 100))),     # binned, CameraInfo full
            ("/info", 10_250_000_000, binned), ("/info", 10_260_000_000, impossible),
            ("/img", 10_300_000_000, image(10.3, 160, 120, (140, 80, 160, 100)))]
    out, node = run(tmp_path, "camera_node", params, msgs)
    assert dict(node.monitor.dropped) == {"camera_info_mismatch": 1, "bad_camera_info": 1}
    first, last = (pointcloud.read(m) for m in out["/det"])
    assert len(first) == len(last) == 1
    assert first["bearing"][0] == pytest.approx(-np.arctan2(459.5 - 319.5, 400.0), abs=2e-3)
    assert last["bearing"][0] == pytest.approx(first["bearing"][0], abs=5e-3)        # within a binned pixel
    assert last["elevation"][0] == pytest.approx(first["elevation"][0], abs=5e-3)


def _cloud_with_count(field, count):
    cols = {"doppler": np.array([1.0, 1.0]), "x": np.array([10.0, 11.0]), "y": np.array([0.0, 1.0]),
            "z": np.array([0.5, 0.5])}
    msg = pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(5.0)))
    for f in msg.fields:
        if f.name == field:
            f.count = count
    return msg


@pytest.mark.parametrize("field", ["z", "doppler"])
def test_pointfield_count_two_is_not_a_crash(field):
    """Count 2 (issue 9: ValueError in radar.py): the field is not read; a required one is missing."""
    msg = _cloud_with_count(field, 2)
    if field == "z":
        with pytest.raises(InvalidInput) as e:
            pointcloud.read(msg, required=("x", "y", "z"))
        assert e.value.reason in ("missing_field", "malformed_cloud")
    else:
        pts = pointcloud.read(msg, required=("x", "y", "z"))
        assert "doppler" not in pts.dtype.names and len(pts) == 2


def test_pointfield_past_the_point_step_is_malformed():
    msg = _cloud_with_count("z", 2)      # 2 floats from offset 12 > point_step 16
    with pytest.raises(InvalidInput) as e:
        pointcloud.read(msg)
    assert e.value.reason == "malformed_cloud"


def test_radar_node_counts_a_cloud_whose_z_is_an_array(tmp_path):
    params = {"input_topic": "/r", "output_topic": "/c", "odometry_topic": "", "cluster_min_points": 1}
    good = _cloud_with_count("x", 1)
    good.header.stamp = stamp(6.0)
    out, node = run(tmp_path, "radar_node", params, [("/r", 5_000_000_000, _cloud_with_count("z", 2)),
                                                     ("/r", 6_000_000_000, good)])
    dropped = dict(node.monitor.dropped)
    assert len(out["/c"]) == 1 and sum(dropped.values()) == 1 and set(dropped) <= {"missing_field", "malformed_cloud"}


def test_late_fusion_match_by_id_with_an_input_without_ids(tmp_path):
    params = {"inputs": ["/a", "/b"], "input_names": ["a", "b"], "classes": ["hot", "cold"], "output_topic": "/f",
              "match_by": "id", "slop": 0.01, "max_wait": 0.3}

    def dec(t, with_id):
        cols = {"score_hot": np.array([0.7]), "score_cold": np.array([0.3])}
        if with_id:
            cols["object_id"] = np.array([4.0])
        return pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(t)))
    times = [5.0 + 0.1 * k for k in range(10)]
    msgs = [(topic, int(t * 1e9), dec(t, topic == "/a")) for t in times for topic in ("/a", "/b")]
    out, node = run(tmp_path, "late_fusion_node", params, msgs)     # used to raise TypeError in matching
    # b's clouds are dropped where they arrive; a's go out alone once max_wait (0.3 s) has passed.
    assert node.inputs[1].monitor.dropped["missing_field"] == 10
    assert len(out["/f"]) >= 6 and all(pointcloud.read(m)["sources"][0] == 1 for m in out["/f"])


def test_late_fusion_counts_a_burst_that_overflows_the_synchronizer_queue(tmp_path):
    # A burst of 30 on one input within one slop window: its queue (10) keeps the newest, the rest
    # is pushed out before it can find a partner or expire; counted, not silent.
    params = {"inputs": ["/a", "/b"], "input_names": ["a", "b"], "classes": ["hot", "cold"], "output_topic": "/f",
              "slop": 0.05, "max_wait": 0.3, "queue_size": 10}

    def dec(t):
        cols = {"x": np.array([5.0]), "y": np.array([0.0]), "score_hot": np.array([0.7]),
                "score_cold": np.array([0.3])}
        return pointcloud.write(PointCloud2(), cols, Header(stamp=stamp(t), frame_id="base_link"))
    msgs = []
    for k in range(40):                 # 4 s: diagnostics (1 Hz) after the burst
        t = 5.0 + 0.1 * k
        msgs += [("/a", int((t + 0.001 * j) * 1e9), dec(t + 0.001 * j)) for j in range(30 if k == 10 else 1)]
        msgs.append(("/b", int((t + 0.002) * 1e9), dec(t + 0.002)))
    out, node = run(tmp_path, "late_fusion_node", params, msgs)
    diag = [st for m in out["/diagnostics"] for st in m.status if st.name == "late_fusion_node: fusion"][-1]
    values = {kv.key: kv.value for kv in diag.values}
    # 30 of /a inside one 0.03 s span: one pairs with /b, the queue of 10 holds the newest of the rest.
    assert int(values["synchronizer_queue_overflow"]) == node.sync.dropped > 0
    assert int(values["synchronizer_partial"]) == node.sync.partial


def test_stamp_order_and_psd_checks():
    order = StampOrder()
    order.check("s", 1.0)
    order.accept("s", 1.0)
    for t, reason in ((1.0, "duplicate_stamp"), (0.5, "stamp_backwards")):
        with pytest.raises(InvalidInput) as e:
            order.check("s", t)
        assert e.value.reason == reason
    order.check("s", 1.5)       # checked but not used: leaves no trace
    order.check("s", 1.5)
    order.reset()
    order.check("s", 0.5)
    check_psd("ok", np.eye(3))
    for bad in ([[1e-4, 1], [1, 1e-4]], [[1, 0.5], [0.4, 1]]):
        with pytest.raises(InvalidInput):
            check_psd("bad", bad)


def _float64_cloud(cols: dict, t: float) -> PointCloud2:
    """A cloud with FLOAT64 fields (as some drivers send): values float32 cannot hold survive the wire."""
    names = list(cols)
    arr = np.zeros(len(next(iter(cols.values()))), dtype=[(n, "<f8") for n in names])
    for n in names:
        arr[n] = cols[n]
    return PointCloud2(header=Header(stamp=stamp(t)), height=1, width=len(arr), is_bigendian=False,
                       point_step=8 * len(names), row_step=8 * len(names) * len(arr), is_dense=True,
                       fields=[PointField(name=n, offset=8 * i, datatype=PointField.FLOAT64, count=1)
                               for i, n in enumerate(names)], data=arr.tobytes())


def _odom(t, vx):
    """Odometry with only a forward speed (m/s): what radar_node reads."""
    from nav_msgs.msg import Odometry
    m = Odometry(header=Header(stamp=stamp(t)))
    m.twist.twist.linear.x = vx
    return m


def test_radar_node_drops_bad_odometry_and_oversized_scans(tmp_path):
    params = {"input_topic": "/r", "output_topic": "/c", "odometry_topic": "/o", "cluster_min_points": 1,
              "max_points": 50}
    odom = _odom
    scan = {"x": np.array([10.0, 10.2]), "y": np.zeros(2), "z": np.zeros(2), "doppler": np.array([-3.0, -3.0])}
    big = {k: np.resize(v, 60) for k, v in scan.items()}
    t0 = 5_000_000_000   # log times with the stamps, so the clock is where the data is
    msgs = [("/o", t0 + 1, odom(5.0, math.nan)), ("/o", t0 + 2, odom(5.0, 1e39)),
            ("/o", t0 + 3, odom(5.0 + 1e5, 3.0)), ("/r", t0 + 4, _float64_cloud(big, 5.0)),
            ("/o", t0 + 5, odom(5.0, 3.0)), ("/r", t0 + 6, _float64_cloud(scan, 5.0))]
    out, node = run(tmp_path, "radar_node", params, msgs)
    assert dict(node.odom_monitor.dropped) == {"non_finite": 1, "implausible": 1, "future_stamp": 1}
    assert dict(node.monitor.dropped) == {"too_many_points": 1}
    (clusters,) = [pointcloud.read(m) for m in out["/c"]]
    # The good odometry (3 m/s) compensated the Doppler: the object ahead is static, not NaN.
    assert len(clusters) == 1 and abs(clusters["doppler_mean"][0]) < 0.1


def test_radar_node_compensates_the_doppler_with_the_twist_at_the_scan_stamp(tmp_path):
    """A radar driver's latency stamps a scan before the newest odometry: the twist of the scan's moment
    (interpolated) is the one to subtract, not the newest. Backwards / repeated odometry is dropped and
    counted, and leaves the history as if it never came.
    """
    params = {"input_topic": "/r", "output_topic": "/c", "odometry_topic": "/o", "cluster_min_points": 1,
              "odometry_timeout": 0.5}
    odom = _odom

    def scan(t, doppler):   # a static object 10 m straight ahead: its Doppler is minus the ego speed
        return _float64_cloud({"x": np.array([10.0, 10.2]), "y": np.zeros(2), "z": np.zeros(2),
                               "doppler": np.full(2, doppler)}, t)
    t0 = 5_000_000_000
    msgs = [("/o", t0 + 1, odom(5.0, 2.0)), ("/o", t0 + 200_000_000, odom(5.2, 4.0)),
            ("/o", t0 + 200_000_001, odom(5.1, 40.0)), ("/o", t0 + 200_000_002, odom(5.2, 40.0)),
            ("/r", t0 + 200_000_003, scan(5.1, -3.0)),     # 100 ms old: between 2 and 4 m/s
            ("/r", t0 + 500_000_000, scan(5.5, -4.0)),     # newer than the newest: 4 m/s held
            ("/r", t0 + 800_000_000, scan(5.8, -4.0))]     # 0.6 s past it: no compensation
    out, node = run(tmp_path, "radar_node", params, msgs)
    assert dict(node.odom_monitor.dropped) == {"stamp_backwards": 1, "duplicate_stamp": 1}
    doppler = [float(pointcloud.read(m)["doppler_mean"][0]) for m in out["/c"]]
    np.testing.assert_allclose(doppler, [0.0, 0.0, -4.0], atol=1e-6)


def test_early_fusion_drops_future_stamps_and_absurd_values_without_poisoning_the_sets(tmp_path):
    import sys
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_early_fusion_node_dds import PARAMS, camera, imu, radar
    from fusion_nodes.core import early_fusion as ef
    params = {**PARAMS, "max_wait": 0.3}

    def absurd_radar(t):
        cols = {k: np.full(1, 1.0) for k in ef.RADAR_FIELDS}
        cols.update(x=np.array([1e300]), y=np.zeros(1), z=np.full(1, 1.4))
        return _float64_cloud(cols, t)
    msgs = []
    for k in range(20):
        t = 10.0 + 0.1 * k
        n = int(t * 1e9)
        msgs += [("/t/cam", n, camera(t)), ("/t/rad", n + 1, radar(t) if k != 5 else absurd_radar(t)),
                 ("/t/imu", n + 2, imu(t if k != 3 else t + 1e5))]       # one IMU message 1e5 s ahead
    out, node = run(tmp_path, "early_fusion_node", params, msgs)
    assert dict(node.inputs["imu"].monitor.dropped) == {"future_stamp": 1}
    assert dict(node.inputs["radar"].monitor.dropped) == {"implausible_points": 1}
    objs = [pointcloud.read(m) for m in out["/t/objects"]]
    assert len(objs) >= 19
    both = sum(int(((o["has_camera"] == 1) & (o["has_radar"] == 1)).sum()) for o in objs)
    assert both >= 18                                   # the future message did not stall association
    assert all(np.all(np.isfinite(o["confidence"])) for o in objs)
