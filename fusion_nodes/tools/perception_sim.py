# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion sim --perception``: objects around the drive seen by a camera and a radar.

Classes (ids in :data:`CLASSES`): car, pedestrian, cyclist, pole. Each object
has a class, a start pose, a constant velocity (poles are static) and a
colour drawn around its class colour, so that appearance is informative but
ambiguous, and more so at range where it covers few pixels. Objects are
spawned at random along the drive (``objects_per_minute``) and scripted
relative to the ego (``scripted``: crossing pedestrians, overtaking and
oncoming cars, a cyclist ahead). ``camera.decoys`` are painted boards
beside the road, seen by the camera only and in no truth: camera false
positives. ``camera.blackout`` / ``radar.blackout`` fail a sensor for a
while (dark noise frames; empty scans).

* ``/camera/image_raw`` (bgr8) + ``/camera/camera_info``: pinhole rendering
  with OpenCV (filled projected boxes, far to near, so near objects occlude),
  a lighting factor that drifts over the drive, and pixel noise.
* ``/radar/points`` (PointCloud2: x y z range azimuth doppler rcs snr):
  class-dependent point count, RCS and Doppler spread (micro-Doppler of legs
  and wheels), misses and clutter. Each object point lies on the object's
  extent; with ``radar.glint`` (``fraction`` k, ``time`` s) the points of a
  scan gather round a scattering centre that wanders over the object (its
  offset a Gauss-Markov process of k times the points' spread, correlated
  over ``time``: radar glint, so their centroid is off the object's middle
  for a while, as on real targets), the points' own spread shrunk by
  ``sqrt(1 - k^2)`` so that they cover the same extent;
  ``radar.range_std`` (m) and ``radar.azimuth_std`` (rad) add a
  radar's measurement error to it, polar as in a datasheet (range along the
  line of sight, azimuth across it, so the cross-range error grows with range).
* ``/ground_truth/objects`` (PointCloud2: x y z in base_link, vx vy in
  map, class_id, object_id; 20 Hz).
* the drive's own ``/imu/data``, ``/wheel/odom``, ``/gps/fix`` and
  ``/ground_truth/odom`` from :class:`fusion_nodes.tools.sim.Simulator`, so
  the whole graph (IMU/GPS, Kalman, radar ego motion, IMU features) runs.

Each sensor has its own clock offset and stamp jitter, and ``latency`` (s,
default 0): its messages are logged (delivered) that long after the moment
they are stamped with, as a driver's processing and transport delay them, so
a node sees the other inputs of that moment first. Seeded and deterministic;
parameters from a scenario YAML.
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header

from fusion_nodes.core.geometry import rpy_to_matrix
from fusion_nodes.ros import pointcloud
from fusion_nodes.ros.convert import sec_to_stamp

from .bagio import BagWriter
from .paths import InputError, load_yaml
from .progress import progress
from .sim import T0, SimConfig, Simulator, _at, trajectory

CLASSES = ("car", "pedestrian", "cyclist", "pole")


@dataclass(frozen=True)
class ClassModel:
    size: tuple            # length, width, height (m)
    speed: tuple           # m/s range
    colour: tuple          # BGR mean
    rcs: float             # dBsm mean
    micro_doppler: float   # m/s spread
    radar_points: float    # mean detections


MODELS = {
    "car": ClassModel((4.5, 1.8, 1.5), (3.0, 9.0), (170, 90, 60), 10.0, 0.2, 7.0),
    "pedestrian": ClassModel((0.5, 0.5, 1.75), (0.5, 1.6), (70, 80, 170), -5.0, 0.7, 1.8),
    "cyclist": ClassModel((1.8, 0.6, 1.7), (2.0, 6.0), (80, 160, 80), 0.0, 1.2, 2.5),
    "pole": ClassModel((0.3, 0.3, 3.0), (0.0, 0.0), (140, 140, 140), 5.0, 0.0, 1.5),
}


def _merged(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merged(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def load_scenario(path=None) -> dict:
    """A scenario YAML; one with ``extends: FILE`` (relative to it) is that file with its own keys on top."""
    from .paths import config_file
    path = Path(path or config_file("perception_scenario.yaml"))
    data = load_yaml(path)
    if "extends" in data:
        data = _merged(load_scenario(path.parent / data.pop("extends")), data)
    return data


# A painted board beside the road (camera false positive): thin, wide, its colour one of a class's.
DECOY_SIZE = (0.1, 2.0, 1.6)


class PerceptionSim:
    """Generates camera, radar and truth messages for a scenario dict."""

    def __init__(self, scenario: dict):
        self.sc = scenario
        self.rng = np.random.default_rng(scenario["seed"])
        # Scripted objects and decoys draw from their own stream: adding them leaves the rest of a seed's drive.
        self.extra_rng = np.random.default_rng([scenario["seed"], 7])
        self.radar_noise_rng = np.random.default_rng([scenario["seed"], 11])    # the same, for radar errors
        self.glint_rng = np.random.default_rng([scenario["seed"], 13])          # and for radar glint
        self._glint: dict = {}                                                  # object id -> (t, offset m)
        self.drive = SimConfig(seed=scenario["seed"], duration=scenario["duration"])
        self.traj = trajectory(self.drive)
        self.objects = self._spawn()
        self.objects += self._scripted(len(self.objects))
        self.decoys = self._decoys()
        cam, rad = scenario["camera"], scenario["radar"]
        self.cam_R = rpy_to_matrix(*cam["mount"][3:])
        self.cam_t = np.array(cam["mount"][:3])
        self.rad_R = rpy_to_matrix(*rad["mount"][3:])
        self.rad_t = np.array(rad["mount"][:3])
        self.K = np.array([[cam["fx"], 0, cam["width"] / 2], [0, cam["fy"], cam["height"] / 2], [0, 0, 1]])
        self._latency("camera"), self._latency("radar")      # a bad value refused before anything is written

    def _spawn(self):
        objs, t, oid = [], self.traj, 0
        lo, hi = self.sc["lateral_range"]
        for cls, rate in self.sc["objects_per_minute"].items():
            m = MODELS[cls]
            for _ in range(int(round(rate * self.sc["duration"] / 60.0))):
                i = self.rng.integers(len(t["t"]) // 10, len(t["t"]))
                side = self.rng.choice([-1.0, 1.0])
                off = side * self.rng.uniform(lo, hi)
                yaw = t["yaw"][i]
                pos = np.array([t["x"][i] - off * np.sin(yaw), t["y"][i] + off * np.cos(yaw)])
                heading = self.rng.uniform(-np.pi, np.pi)
                speed = self.rng.uniform(*m.speed)
                colour = np.clip(np.array(m.colour) + self.rng.normal(0, 35, 3), 0, 255)
                objs.append(dict(id=oid, cls=cls, p0=pos, v=speed * np.array([np.cos(heading), np.sin(heading)]),
                                 colour=colour))
                oid += 1
        return objs

    def _scripted(self, first_id: int) -> list:
        """Objects placed relative to the ego: at drive time ``at`` (s), ``ahead`` m along its heading and
        ``left`` m to its left, moving at ``speed`` m/s in direction ``heading`` (rad, from the ego's).
        """
        out = []
        for k, spec in enumerate(self.sc.get("scripted", [])):
            s = _at(self.traj, spec["at"])
            yaw = s["yaw"]
            pos = np.array([s["x"], s["y"]]) + spec["ahead"] * np.array([np.cos(yaw), np.sin(yaw)]) \
                + spec["left"] * np.array([-np.sin(yaw), np.cos(yaw)])
            v = spec["speed"] * np.array([np.cos(yaw + spec["heading"]), np.sin(yaw + spec["heading"])])
            colour = np.clip(np.array(MODELS[spec["cls"]].colour) + self.extra_rng.normal(0, 35, 3), 0, 255)
            out.append(dict(id=first_id + k, cls=spec["cls"], p0=pos - v * spec["at"], v=v, colour=colour))
        return out

    def _decoys(self) -> list:
        """Static boards beside the path, coloured like a random class (camera false positives)."""
        t, out = self.traj, []
        lo, hi = self.sc["lateral_range"]
        for _ in range(int(self.sc["camera"].get("decoys", 0))):
            i = self.extra_rng.integers(len(t["t"]) // 10, len(t["t"]))
            off = self.extra_rng.choice([-1.0, 1.0]) * self.extra_rng.uniform(lo, hi)
            yaw = t["yaw"][i]
            cls = CLASSES[self.extra_rng.integers(len(CLASSES))]
            out.append(dict(p0=np.array([t["x"][i] - off * np.sin(yaw), t["y"][i] + off * np.cos(yaw)]),
                            v=np.zeros(2), heading=yaw, colour=np.array(MODELS[cls].colour, float)))
        return out

    def _in_base(self, t):
        """Objects at time t in base_link: list of (obj, centre xyz, world velocity)."""
        s = _at(self.traj, t)
        c, sn = np.cos(s["yaw"]), np.sin(s["yaw"])
        out = []
        for o in self.objects:
            p = o["p0"] + o["v"] * t - [s["x"], s["y"]]
            h = MODELS[o["cls"]].size[2]
            out.append((o, np.array([c * p[0] + sn * p[1], -sn * p[0] + c * p[1], h / 2]), o["v"]))
        return out, s

    def messages(self):
        """Yield ``(topic, t_ns, msg)`` in log-time order: perception and the drive's own sensors."""
        sc = self.sc
        events = []
        # Each sensor's own clock: its rate and a fixed phase offset (s); delivered its latency later.
        for kind, rate, phase in (("camera", sc["camera"]["rate"], 0.011), ("radar", sc["radar"]["rate"], 0.023),
                                  ("truth", 20.0, 0.0)):
            events += [(k / rate + phase, kind) for k in range(1, int(sc["duration"] * rate))]

        def perception():
            # Drawn in the order of the moments they show (a latency leaves the drive as it is), delivered in
            # log-time order: nothing drawn later is delivered before time t, as latencies are >= 0.
            pending: list = []
            seq = itertools.count()
            for t, kind in sorted(events) + [(np.inf, "")]:
                while pending and pending[0][0] <= (T0 + t) * 1e9:
                    yield heapq.heappop(pending)[2]
                if kind:
                    t_ns = int(round((T0 + t + self._latency(kind)) * 1e9))
                    for topic, msg in getattr(self, "_" + kind)(t):
                        heapq.heappush(pending, (t_ns, next(seq), (topic, t_ns, msg)))
        yield from heapq.merge(perception(), Simulator(self.drive).messages(), key=lambda m: m[1])

    def _latency(self, kind: str) -> float:
        late = float(self.sc.get(kind, {}).get("latency", 0.0)) if kind != "truth" else 0.0
        if not 0.0 <= late <= 10.0:
            raise InputError(f"scenario {kind}.latency {late} is outside [0, 10] s (the delivery delay, s)")
        return late

    def _stamp(self, t, sensor):
        return sec_to_stamp(T0 + t + self.rng.normal(0, self.sc[sensor]["jitter"]))

    # -- camera -------------------------------------------------------------
    def _camera(self, t):
        cam = self.sc["camera"]
        objs, ego = self._in_base(t)
        w, h = cam["width"], cam["height"]
        light = np.interp(np.sin(2 * np.pi * t / 30.0), [-1, 1], cam["lighting"])
        img = np.zeros((h, w, 3), np.float32)
        img[: h // 2] = (200, 170, 140)            # sky
        img[h // 2:] = (90, 100, 100)              # road
        visible = []
        for o, c, _ in objs + self._decoys_in_base(t):
            pc = self.cam_R.T @ (c - self.cam_t)
            if pc[2] > 1.0:
                visible.append((pc[2], o, c))
        for _, o, c in sorted(visible, key=lambda v: -v[0]):   # far to near: near objects occlude
            pts = self._box_pixels(o, c, ego["yaw"])
            if pts is not None:
                cv2.fillConvexPoly(img, cv2.convexHull(pts), tuple(float(v) for v in o["colour"]))
        img = img * light + self.rng.normal(0, cam["noise"], img.shape)
        lo, hi = cam.get("blackout", (0.0, 0.0))
        if lo <= t < hi:        # a covered or failed camera: dark frames of pure sensor noise
            img = np.abs(self.rng.normal(0, cam["noise"] / 4, img.shape))
        stamp = self._stamp(t, "camera")
        msg = Image(header=Header(stamp=stamp, frame_id="camera_optical"), height=h, width=w,
                    encoding="bgr8", is_bigendian=0, step=3 * w)
        msg.data = np.clip(img, 0, 255).astype(np.uint8).tobytes()
        info = CameraInfo(header=Header(stamp=stamp, frame_id="camera_optical"), height=h, width=w,
                          distortion_model="plumb_bob")
        info.k = self.K.ravel().tolist()
        info.p = np.hstack([self.K, np.zeros((3, 1))]).ravel().tolist()
        info.d = [0.0] * 5
        return [("/camera/image_raw", msg), ("/camera/camera_info", info)]

    def _decoys_in_base(self, t) -> list:
        s = _at(self.traj, t)
        c, sn = np.cos(s["yaw"]), np.sin(s["yaw"])
        out = []
        for o in self.decoys:
            p = o["p0"] - [s["x"], s["y"]]
            out.append((o, np.array([c * p[0] + sn * p[1], -sn * p[0] + c * p[1], 0.6 + DECOY_SIZE[2] / 2]), o["v"]))
        return out

    def _box_pixels(self, o, c, ego_yaw):
        """Pixels of the 8 corners of object ``o`` centred at ``c`` (base_link), or None if one is behind."""
        L, W, H = MODELS[o["cls"]].size if "cls" in o else DECOY_SIZE
        # headings are world-frame; the corners are placed in base_link
        heading = o.get("heading", np.arctan2(o["v"][1], o["v"][0]) if np.any(o["v"]) else 0.0) - ego_yaw
        corners = np.array([[sx * L / 2, sy * W / 2, sz * H / 2] for sx in (-1, 1) for sy in (-1, 1)
                            for sz in (-1, 1)])
        ch, sh = np.cos(heading), np.sin(heading)
        corners = corners @ np.array([[ch, sh, 0], [-sh, ch, 0], [0, 0, 1]]) + c
        pc = (corners - self.cam_t) @ self.cam_R
        if np.any(pc[:, 2] < 0.5):
            return None
        uv = (pc @ self.K.T)[:, :2] / pc[:, 2:3]
        return np.round(uv).astype(np.int32)

    # -- radar --------------------------------------------------------------
    def _radar_error(self, q):
        """A point (radar frame, m) as the radar measures it: range and azimuth off by their errors."""
        rd = self.sc["radar"]
        s_r, s_az = rd.get("range_std", 0.0), rd.get("azimuth_std", 0.0)
        if s_r <= 0 and s_az <= 0:          # no draw: a scenario without radar errors keeps its drive
            return q
        rng_, az = np.hypot(q[0], q[1]), np.arctan2(q[1], q[0])
        rng_, az = rng_ + self.radar_noise_rng.normal(0, s_r), az + self.radar_noise_rng.normal(0, s_az)
        return np.array([rng_ * np.cos(az), rng_ * np.sin(az), q[2]])

    def _glint_fraction(self) -> float:
        k = float(self.sc["radar"].get("glint", {}).get("fraction", 0.0))
        if not 0.0 <= k < 1.0:     # the points' own spread is sqrt(1 - k^2) of the object's
            raise InputError(f"scenario radar.glint.fraction {k} is outside [0, 1) (the share of the points' spread)")
        return k

    def _glint_offset(self, oid: int, t: float, std: np.ndarray) -> np.ndarray:
        """The object's scattering centre (m, radar axes) off its middle: a Gauss-Markov process of standard
        deviation ``std`` per axis and correlation time ``radar.glint.time`` (s), drawn from its own stream.
        """
        tau = float(self.sc["radar"]["glint"].get("time", 1.0))
        last = self._glint.get(oid)
        if last is None:
            g = self.glint_rng.normal(0.0, std)
        else:
            a = np.exp(-max(t - last[0], 0.0) / tau)
            g = a * last[1] + np.sqrt(1.0 - a * a) * self.glint_rng.normal(0.0, std)
        self._glint[oid] = (t, g)
        return g

    def _radar(self, t):
        rd, r = self.sc["radar"], self.rng
        objs, s = self._in_base(t)
        ego_v = np.array([s["v"], 0.0, 0.0])
        rows = []
        lo, hi = rd.get("blackout", (0.0, 0.0))
        if lo <= t < hi:        # a failed radar: scans keep coming, empty
            objs = []
        for o, c, v_world in objs:
            m = MODELS[o["cls"]]
            p = self.rad_R.T @ (c - self.rad_t)
            rng_, az = np.linalg.norm(p), np.arctan2(p[1], p[0])
            if rng_ > rd["max_range"] or abs(az) > rd["fov"] / 2 or r.random() < rd["miss_probability"]:
                continue
            yaw = s["yaw"]
            v_rel = self.rad_R.T @ (np.array([np.cos(yaw) * v_world[0] + np.sin(yaw) * v_world[1],
                                              -np.sin(yaw) * v_world[0] + np.cos(yaw) * v_world[1], 0.0])
                                    - ego_v - np.cross([0, 0, s["w"]], self.rad_t))
            spread, centre = np.array(m.size) / 4, p
            k = self._glint_fraction()
            if k > 0:                      # the points gather round a scattering centre that wanders
                centre = p + self._glint_offset(o["id"], t, k * spread)
                spread = spread * np.sqrt(1.0 - k * k)
            for _ in range(max(1, r.poisson(m.radar_points))):
                q = self._radar_error(centre + r.normal(0, spread))
                u = q / np.linalg.norm(q)
                rcs = m.rcs + r.normal(0, 3.0)
                rows.append([*q, u @ v_rel + r.normal(0, m.micro_doppler + 0.05), rcs,
                             35.0 - 20 * np.log10(np.linalg.norm(q)) + rcs / 2 + r.normal(0, 2)])
        for _ in range(0 if lo <= t < hi else rd["clutter"]):
            rr, az = r.uniform(2, rd["max_range"]), r.uniform(-rd["fov"] / 2, rd["fov"] / 2)
            q = np.array([rr * np.cos(az), rr * np.sin(az), r.uniform(0, 2)])
            rows.append([*q, r.normal(-s["v"] * np.cos(az), 2.0), r.normal(-8, 4),
                         35.0 - 20 * np.log10(rr) + r.normal(-6, 3)])
        a = np.array(rows, dtype=float).reshape(-1, 6)
        cols = {"x": a[:, 0], "y": a[:, 1], "z": a[:, 2], "range": np.linalg.norm(a[:, :3], axis=1),
                "azimuth": np.arctan2(a[:, 1], a[:, 0]), "doppler": a[:, 3], "rcs": a[:, 4], "snr": a[:, 5]}
        return [("/radar/points", pointcloud.write(PointCloud2(), cols,
                                                   Header(stamp=self._stamp(t, "radar"), frame_id="radar")))]

    # -- truth --------------------------------------------------------------
    def _truth(self, t):
        objs, _ = self._in_base(t)
        # reshape: a moment with no object around is an empty truth list, not a crash
        a = np.array([[*c, *v, CLASSES.index(o["cls"]), o["id"]] for o, c, v in objs], dtype=float).reshape(-1, 7)
        cols = {k: a[:, i] for i, k in enumerate(("x", "y", "z", "vx", "vy", "class_id", "object_id"))}
        header = Header(stamp=sec_to_stamp(T0 + t), frame_id="base_link")
        return [("/ground_truth/objects", pointcloud.write(PointCloud2(), cols, header))]


def write(scenario: dict, out) -> int:
    sim = PerceptionSim(scenario)      # a scenario error is raised before the bag exists
    with BagWriter(out) as w:
        for topic, t_ns, msg in progress(sim.messages(), None, "simulating"):
            w.write(topic, msg, t_ns)
        return w.count
