# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Bag reading and writing with the ``rosbags`` library, exchanging rclpy messages.

Reads rosbag2 (MCAP or sqlite3, directory or bare ``.mcap`` file) and ROS 1
bags. ROS 2 CDR payloads are deserialised by rclpy directly; ROS 1 messages
are copied field by field into the rclpy type (fields ROS 2 dropped, such as
``Header.seq``, are skipped). Writes MCAP with rclpy's serialiser.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from .paths import InputError

_TYPESTORE = get_typestore(Stores.ROS2_JAZZY)
_LOG = logging.getLogger("fusion_nodes.bagio")


def message_class(msgtype: str):
    """``'sensor_msgs/msg/Imu'`` (or ROS 1 ``'sensor_msgs/Imu'``) to the rclpy class.

    Raises
    ------
    LookupError
        When no installed package provides the type.
    """
    parts = msgtype.split("/")
    pkg, name = parts[0], parts[-1]
    try:
        return getattr(importlib.import_module(f"{pkg}.msg"), name)
    except (ImportError, AttributeError):
        raise LookupError(f"no installed message package provides {msgtype}") from None


def _readable(conns) -> dict:
    """``connection id -> rclpy class`` of the connections whose type is installed.

    A bag from a real robot carries types this environment may lack (a
    driver's own messages, tf2_msgs without a ROS install): those topics are
    skipped, each named once in a warning, and the rest is read.
    """
    classes, skipped = {}, {}
    for c in conns:
        try:
            classes[c.id] = message_class(c.msgtype)
        except LookupError:
            skipped[c.topic] = c.msgtype
    for topic, msgtype in sorted(skipped.items()):
        _LOG.warning("skipping %s: its type %s is not installed here", topic, msgtype)
    return classes


def type_name(msg) -> str:
    """Rclpy message instance to ``'pkg/msg/Name'``."""
    pkg = type(msg).__module__.split(".")[0]
    return f"{pkg}/msg/{type(msg).__name__}"


def to_rclpy(obj, cls):
    """Copy a rosbags message object into a new rclpy message of class ``cls``."""
    out = cls()
    for name, ftype in cls.get_fields_and_field_types().items():
        if not hasattr(obj, name):
            continue
        value = getattr(obj, name)
        setattr(out, name, _convert(value, ftype, getattr(out, name)))
    return out


def _convert(value, ftype: str, current):
    if hasattr(current, "get_fields_and_field_types"):
        return to_rclpy(value, type(current))
    if isinstance(value, np.ndarray):
        return value.tobytes() if value.dtype == np.uint8 else value.tolist()
    if isinstance(value, list):
        inner = ftype[len("sequence<"):-1] if ftype.startswith("sequence<") else ftype.split("[")[0]
        if "/" in inner:
            cls = message_class(inner)
            return [to_rclpy(v, cls) for v in value]
        return value
    return value


def _hint(path: Path) -> str:
    if path.is_dir() and not (path / "metadata.yaml").exists():
        return "a directory without metadata.yaml is not a rosbag2 bag (ros2 bag reindex DIR rebuilds it)"
    if path.suffix == ".mcap":
        return ("a truncated or still-recording MCAP has no index: `mcap recover FILE -o fixed.mcap` "
                "(the mcap CLI) or `ros2 bag reindex` rebuilds it")
    return "give a rosbag2 directory, .mcap, .db3 or ROS 1 .bag"


@contextlib.contextmanager
def _open(path):
    """``AnyReader`` on one bag; a file that is not a readable bag is an :class:`InputError` with a hint."""
    path = Path(path)
    try:
        reader = AnyReader([path])
        reader.open()
    except Exception as exc:   # rosbags raises several types (AnyReaderError, ReaderError, FileNotFoundError)
        raise InputError(f"{path}: cannot be read as a bag ({exc}); {_hint(path)}") from None
    try:
        yield reader
    finally:
        reader.close()


def read(path, topics: Optional[Iterable[str]] = None, start: float = 0.0) -> Iterator[tuple]:
    """Yield ``(topic, t_ns, rclpy_msg)`` in log-time order.

    Parameters
    ----------
    path : str or Path
        Bag file or rosbag2 directory.
    topics : iterable of str, optional
        Only these topics.
    start : float
        Skip the first ``start`` seconds.
    """
    with _open(path) as reader:
        conns = [c for c in reader.connections if not topics or c.topic in set(topics)]
        if not conns:  # rosbags reads every connection when given none
            return
        t0 = reader.start_time + int(start * 1e9)
        ros2 = {c.id: _is_cdr(c) for c in conns}
        classes = _readable(conns)
        conns = [c for c in conns if c.id in classes]
        if not conns:
            return
        for conn, t_ns, raw in reader.messages(connections=conns, start=t0):
            cls = classes[conn.id]
            if ros2[conn.id]:
                msg = deserialize_message(bytes(raw), cls)
            else:
                msg = to_rclpy(reader.deserialize(raw, conn.msgtype), cls)
            yield conn.topic, t_ns, msg


class HeldValues:
    """What a node holds from a latched-style topic (``CameraInfo``) at each log time of a bag.

    Each message of ``topic`` is turned into a value by ``convert``; one it refuses with
    :class:`~fusion_nodes.core.validation.InvalidInput` is skipped, as the node drops it and keeps the last
    good one. :meth:`at` gives the newest value logged at or before a time, ``None`` before the first (the
    node has nothing yet and drops what needs it).
    """

    def __init__(self, path, topic: str, convert):
        from fusion_nodes.core.validation import InvalidInput
        self.times, self.values = [], []
        for _, t_ns, msg in read(path, [topic]):
            try:
                value = convert(msg)
            except InvalidInput:
                continue
            self.times.append(t_ns)
            self.values.append(value)

    def __len__(self) -> int:
        return len(self.values)

    def at(self, t_ns: int):
        """The value held at log time ``t_ns`` (ns), or ``None``."""
        i = int(np.searchsorted(self.times, t_ns, side="right")) - 1
        return self.values[i] if i >= 0 else None


def _is_cdr(conn) -> bool:
    return getattr(conn.ext, "serialization_format", "") == "cdr"


def readable_topics(path) -> dict:
    """``topic -> rclpy class`` of the topics whose type is installed (others warned, skipped)."""
    with _open(path) as reader:
        classes = _readable(reader.connections)
        return {c.topic: classes[c.id] for c in reader.connections if c.id in classes}


def topics(path) -> dict:
    """``topic -> (msgtype, count)`` of a bag."""
    with _open(path) as reader:
        return {t: (info.msgtype, info.msgcount) for t, info in reader.topics.items()}


_PRIMITIVES = {"double": "float64", "float": "float32", "boolean": "bool", "octet": "byte"}


def _msg_type(ftype: str) -> tuple[str, list]:
    """One rclpy field type (``'sequence<vision_msgs/Detection3D>'``) as .msg syntax, and its nested types."""
    if ftype.startswith("sequence<"):
        inner, _, bound = ftype[len("sequence<"):-1].partition(", ")
        name, nested = _msg_type(inner)
        return name + (f"[<={bound}]" if bound else "[]"), nested
    if ftype.endswith("]"):
        base, _, size = ftype[:-1].partition("[")
        name, nested = _msg_type(base)
        return f"{name}[{size}]", nested
    if "/" in ftype:
        return ftype, [ftype]
    if ftype.startswith("string<="):
        return ftype, []
    return _PRIMITIVES.get(ftype, ftype), []


def register(cls, typestore=_TYPESTORE) -> str:
    """Make an rclpy message class known to the rosbags typestore (from its fields); its type name."""
    name = type_name(cls())
    if name in typestore.fielddefs:
        return name
    lines = []
    for field_name, ftype in cls.get_fields_and_field_types().items():
        text, nested = _msg_type(ftype)
        for n in nested:
            register(message_class(n), typestore)
        lines.append(f"{text} {field_name}")
    typestore.register(get_types_from_msg("\n".join(lines), name))
    return name


class BagWriter:
    """Write rclpy messages to MCAP.

    A path ending in ``.mcap`` becomes a single MCAP file; any other path a
    rosbag2 directory.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._single = self.path.suffix == ".mcap"
        if self._single:
            self._tmp = Path(tempfile.mkdtemp(prefix="fusion_bag_", dir=self.path.parent or "."))
            self._dir = self._tmp / "bag"
        else:
            self._dir = self.path
        self._writer = Writer(self._dir, version=9, storage_plugin=StoragePlugin.MCAP)
        self._conns = {}
        self.count = 0

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            shutil.rmtree(self.path) if self.path.is_dir() else self.path.unlink()
        self._writer.open()
        return self

    def write(self, topic: str, msg, t_ns: int) -> None:
        conn = self._conns.get(topic)
        if conn is None:
            conn = self._writer.add_connection(topic, register(type(msg)), typestore=_TYPESTORE)
            self._conns[topic] = conn
        self._writer.write(conn, int(t_ns), serialize_message(msg))
        self.count += 1

    def __exit__(self, *exc):
        try:
            self._writer.close()
            if self._single:    # an interrupted run keeps what it wrote, as a valid MCAP
                shutil.move(str(next(self._dir.glob("*.mcap"))), self.path)
        finally:
            if self._single:    # never leave the fusion_bag_* working directory behind
                shutil.rmtree(self._tmp, ignore_errors=True)
        return False
