# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The object / decision schema in standard messages: vision_msgs and RViz markers.

Every node's objects are first a table of named columns (``cols``: one
array per field, one row per object: ``x y z`` (m), ``extent_x/y/z`` (m),
``doppler_mean`` (m/s), ``u v width_px height_px`` (px), ``class_id``,
``confidence``, ``score_<class>``, ``object_id``). That table goes out as
PointCloud2 for the fusion chain (features that no standard message has
room for) and, through this module, as

* ``vision_msgs/Detection2DArray`` (camera: box in pixels) or
  ``vision_msgs/Detection3DArray`` (position, box, one
  ``ObjectHypothesisWithPose`` per class with its score, highest first),
* ``vision_msgs/LabelInfo`` once on ``<topic>/label_info`` (transient local,
  as vision_msgs recommends): the class list, ``class_id`` = index,
* ``visualization_msgs/MarkerArray`` for RViz / Foxglove: a box per object,
  its class and confidence as text, a velocity arrow where the radial
  velocity is known.

Objects without a finite position (camera-only objects in early fusion
carry only a bearing) are left out of the 3-D outputs.
"""
from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from vision_msgs.msg import (BoundingBox2D, Detection2D, Detection2DArray, Detection3D,
                             Detection3DArray, LabelInfo, ObjectHypothesis, ObjectHypothesisWithPose,
                             VisionClass)
from visualization_msgs.msg import Marker, MarkerArray

from .qos import latched_qos

DEFAULT_SIZE = 0.5   # m, box edge of an object whose extent is unknown
MIN_ARROW_SPEED = 0.1   # m/s: slower (static) objects get no velocity arrow
_COLOURS = [(0.9, 0.3, 0.2), (0.2, 0.6, 0.9), (0.3, 0.8, 0.3), (0.9, 0.8, 0.2), (0.7, 0.4, 0.9)]


def class_names(cols: dict) -> list[str]:
    """Class names from the ``score_<class>`` columns, in column order."""
    return [k[len("score_"):] for k in cols if k.startswith("score_")]


def hypotheses(cols: dict, i: int, classes: list[str]) -> list[ObjectHypothesisWithPose]:
    """Object ``i``'s class hypotheses, best first: every score, else class_id with its confidence."""
    if classes:
        scored = sorted(((float(cols[f"score_{c}"][i]), c) for c in classes), reverse=True)
    elif "class_id" in cols and cols["class_id"][i] >= 0:
        conf = float(cols["confidence"][i]) if "confidence" in cols else 1.0
        scored = [(conf, str(int(cols["class_id"][i])))]
    else:
        scored = []
    return [ObjectHypothesisWithPose(hypothesis=ObjectHypothesis(class_id=c, score=s)) for s, c in scored]


def _value(cols, name, i, default=0.0) -> float:
    v = float(cols[name][i]) if name in cols else default
    return v if np.isfinite(v) else default


def _positions(cols: dict) -> np.ndarray:
    """Rows with a finite position."""
    if "x" not in cols or "y" not in cols:
        return np.zeros(0, int)
    x, y = np.asarray(cols["x"], float), np.asarray(cols["y"], float)
    return np.flatnonzero(np.isfinite(x) & np.isfinite(y))


def _object_id(cols, i) -> str:
    return str(int(cols["object_id"][i])) if "object_id" in cols and np.isfinite(cols["object_id"][i]) else str(i)


def detections_3d(header, cols: dict) -> Detection3DArray:
    """Objects with a position as ``Detection3DArray`` in ``header.frame_id``."""
    classes, out = class_names(cols), Detection3DArray(header=header)
    for i in _positions(cols):
        det = Detection3D(header=header, id=_object_id(cols, i), results=hypotheses(cols, i, classes))
        c = det.bbox.center.position
        c.x, c.y, c.z = _value(cols, "x", i), _value(cols, "y", i), _value(cols, "z", i)
        det.bbox.center.orientation.w = 1.0
        s = det.bbox.size
        s.x, s.y, s.z = (max(_value(cols, f"extent_{a}", i, DEFAULT_SIZE), 0.05) for a in "xyz")
        for h in det.results:
            h.pose.pose = det.bbox.center
        out.detections.append(det)
    return out


def detections_2d(header, cols: dict) -> Detection2DArray:
    """Camera detections (box centre ``u v`` and size in px) as ``Detection2DArray``."""
    classes, out = class_names(cols), Detection2DArray(header=header)
    for i in range(len(cols.get("u", ()))):
        det = Detection2D(header=header, id=str(i), results=hypotheses(cols, i, classes))
        det.bbox = BoundingBox2D()
        det.bbox.center.position.x, det.bbox.center.position.y = _value(cols, "u", i), _value(cols, "v", i)
        det.bbox.size_x, det.bbox.size_y = _value(cols, "width_px", i), _value(cols, "height_px", i)
        for h in det.results:
            h.pose.pose.position.x, h.pose.pose.position.y = det.bbox.center.position.x, det.bbox.center.position.y
        out.detections.append(det)
    return out


def label_info(header, classes) -> LabelInfo:
    return LabelInfo(header=header, class_map=[VisionClass(class_id=k, class_name=c) for k, c in enumerate(classes)])


def markers(header, cols: dict, ns: str, lifetime: float = 0.5) -> MarkerArray:
    """A box, a text and (with ``doppler_mean``) a radial velocity arrow per located object.

    The first marker deletes the previous frame's markers (``DELETEALL``), so
    objects that left do not linger; ``lifetime`` (s) clears them if the node stops.
    """
    out = MarkerArray(markers=[Marker(header=header, ns=ns, action=Marker.DELETEALL)])
    life = Duration(sec=int(lifetime), nanosec=int((lifetime % 1) * 1e9))
    classes = class_names(cols)
    for i, det in zip(_positions(cols), detections_3d(header, cols).detections):
        best = det.results[0].hypothesis if det.results else None
        k = classes.index(best.class_id) if best and best.class_id in classes else 0
        r, g, b = _COLOURS[k % len(_COLOURS)]
        box = Marker(header=header, ns=ns, id=3 * int(i), type=Marker.CUBE, action=Marker.ADD, lifetime=life)
        box.pose, box.scale = det.bbox.center, det.bbox.size
        box.color.r, box.color.g, box.color.b, box.color.a = r, g, b, 0.5
        text = Marker(header=header, ns=ns, id=3 * int(i) + 1, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD,
                      lifetime=life, text=f"{best.class_id} {best.score:.2f}" if best else det.id)
        text.pose.position.x, text.pose.position.y = box.pose.position.x, box.pose.position.y
        text.pose.position.z = box.pose.position.z + box.scale.z / 2 + 0.3
        text.pose.orientation.w, text.scale.z = 1.0, 0.4
        text.color.r = text.color.g = text.color.b = text.color.a = 1.0
        out.markers += [box, text]
        if "doppler_mean" in cols and abs(cols["doppler_mean"][i]) >= MIN_ARROW_SPEED:
            out.markers.append(_arrow(header, ns, 3 * int(i) + 2, box.pose.position, float(cols["doppler_mean"][i]),
                                      life))
    return out


def _arrow(header, ns, mid, p, radial_speed, life) -> Marker:
    """Radial velocity (m/s, positive away from the sensor) as an arrow from the object, 1 s long."""
    rng = float(np.hypot(p.x, p.y)) or 1.0
    ux, uy = p.x / rng, p.y / rng
    arrow = Marker(header=header, ns=ns, id=mid, type=Marker.ARROW, action=Marker.ADD, lifetime=life)
    arrow.points = [Point(x=p.x, y=p.y, z=p.z), Point(x=p.x + ux * radial_speed, y=p.y + uy * radial_speed, z=p.z)]
    arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.1, 0.2, 0.2
    arrow.color.g = arrow.color.a = 1.0
    return arrow


def detections_to_points(msg: Detection3DArray, required=(), classes=None) -> np.ndarray:
    """The reverse of :func:`detections_3d`: a ``Detection3DArray`` as the object table.

    Fields ``x y z`` (box centre), ``extent_x/y/z``, ``object_id`` (the id when
    it is a number, else the index) and ``score_<class>`` for each of
    ``classes`` (default: every class named in a hypothesis; hypotheses of
    other classes are ignored, a class an object has none for scores 0), so a
    detector's vision_msgs output feeds late fusion like the package's own
    decision clouds. An empty array is an empty table with those fields.

    Raises
    ------
    InvalidInput
        ``missing_field`` when a ``required`` field cannot be formed.
    """
    from fusion_nodes.core.validation import InvalidInput
    if classes is None:
        classes = sorted({h.hypothesis.class_id for d in msg.detections for h in d.results})
    column = {c: 7 + k for k, c in enumerate(classes)}
    names = ["x", "y", "z", "extent_x", "extent_y", "extent_z", "object_id", *(f"score_{c}" for c in classes)]
    missing = [r for r in required if r not in names]
    if missing:
        raise InvalidInput("missing_field", f"detections lack {missing}")
    rows = np.zeros((len(msg.detections), len(names)))
    for i, d in enumerate(msg.detections):
        c, s = d.bbox.center.position, d.bbox.size
        rows[i, :7] = c.x, c.y, c.z, s.x, s.y, s.z, float(d.id) if d.id.lstrip("-").isdigit() else i
        for h in d.results:
            if h.hypothesis.class_id in column:
                rows[i, column[h.hypothesis.class_id]] = h.hypothesis.score
    return np.rec.fromarrays(rows.T, names=names)


class ObjectOutputs:
    """The standard-message outputs of one node's objects.

    Parameters
    ----------
    node : rclpy.node.Node
    kind : {'2d', '3d'}
        Detection2DArray (camera) or Detection3DArray.
    topic : str
        Detections topic (empty: off); LabelInfo goes to ``<topic>/label_info``.
    markers_topic : str
        MarkerArray topic (empty: off).
    """

    def __init__(self, node, kind: str, topic: str, markers_topic: str):
        self.kind, self.ns = kind, node.get_name()
        latched = latched_qos()
        msg_type = Detection2DArray if kind == "2d" else Detection3DArray
        self.det_pub = node.create_publisher(msg_type, topic, 10) if topic else None
        self.label_pub = node.create_publisher(LabelInfo, f"{topic}/label_info", latched) if topic else None
        self.marker_pub = node.create_publisher(MarkerArray, markers_topic, 10) \
            if markers_topic and kind == "3d" else None
        self._classes = None

    def publish(self, header, cols: dict) -> None:
        """Publish ``cols``; the detections and markers are only built when someone listens (RViz off: no cost)."""
        if self.det_pub is not None:
            classes = class_names(cols)
            if classes and classes != self._classes:
                self._classes = classes
                self.label_pub.publish(label_info(header, classes))     # latched: late joiners get it
            if has_audience(self.det_pub):
                self.det_pub.publish(detections_2d(header, cols) if self.kind == "2d"
                                     else detections_3d(header, cols))
        if self.marker_pub is not None and has_audience(self.marker_pub):
            self.marker_pub.publish(markers(header, cols, self.ns))


def has_audience(pub) -> bool:
    """Whether a publisher's messages go anywhere: a subscription (RViz, Foxglove, ``ros2 bag record``), or a
    recorder that took over ``publish`` (the offline runner marks those ``recorded``).
    """
    return getattr(pub, "recorded", False) or pub.get_subscription_count() > 0


def output_specs(vision_topic: str, markers_topic: str):
    """The standard-message output parameters of a node that publishes objects."""
    from .params import ParamSpec
    specs = [ParamSpec("vision_topic", vision_topic, "Objects as vision_msgs "
                       f"({'Detection2DArray' if not markers_topic else 'Detection3DArray'}; class list on "
                       "<topic>/label_info); empty: off.", read_only=True)]
    if markers_topic:
        specs.append(ParamSpec("markers_topic", markers_topic, "Objects as visualization_msgs/MarkerArray "
                               "(boxes, class text, radial velocity arrows) for RViz / Foxglove; empty: off.",
                               read_only=True))
    return specs
