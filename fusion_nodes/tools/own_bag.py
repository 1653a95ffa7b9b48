# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion late data BAG``: a user's labelled recordings from a bag instead of a table.

Each modality is a topic and the numeric fields that form its channels,
``NAME=TOPIC:FIELD,FIELD`` with dotted paths into the message
(``acc=/imu/data:linear_acceleration.x,linear_acceleration.y,linear_acceleration.z``).
The labels come as a CSV of segments, ``recording, start, end, label, group``
(start and end in seconds of the messages' header stamps): each segment
becomes one recording of :mod:`.own_data`. The first modality's stamps inside
a segment are the samples; every other modality is linearly interpolated
onto them (sensors rarely share a clock tick), and the sample rate is the
inverse of the first modality's median stamp step. Messages without a header
are placed at their log time.
"""
from __future__ import annotations

import csv
import operator
from pathlib import Path

import numpy as np

from fusion_nodes.ros.convert import stamp_to_sec

from . import bagio
from .own_data import DataSet, Recording
from .paths import InputError

SEGMENT_COLUMNS = ("recording", "start", "end", "label", "group")


def is_bag(path) -> bool:
    """A rosbag2 directory, MCAP, SQLite or ROS 1 bag (anything else is a table)."""
    path = Path(path)
    return path.is_dir() or path.suffix in (".mcap", ".db3", ".bag")


def parse_modalities(specs: dict) -> dict:
    """``name -> "TOPIC:FIELD"`` column lists (from ``--modality``) -> ``name -> (topic, fields)``."""
    out = {}
    for name, cols in specs.items():
        topic, _, first = cols[0].partition(":")
        if not topic.startswith("/") or not first:
            raise InputError(f"--modality {name}: a bag modality is NAME=TOPIC:FIELD,FIELD,... "
                             f"(e.g. {name}=/imu/data:linear_acceleration.x,linear_acceleration.y)")
        out[name] = (topic, [first, *cols[1:]])
    return out


def segments(path) -> list[tuple[str, float, float, str, str]]:
    """The labelled segments of a CSV with the columns of :data:`SEGMENT_COLUMNS`."""
    with Path(path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [c for c in SEGMENT_COLUMNS if not rows or c not in rows[0]]
    if missing:
        raise InputError(f"{path}: needs the columns {', '.join(SEGMENT_COLUMNS)} (missing {', '.join(missing)})")
    try:
        out = [(r["recording"], float(r["start"]), float(r["end"]), r["label"], r["group"]) for r in rows]
    except ValueError as exc:
        raise InputError(f"{path}: start and end must be seconds ({exc})") from None
    if any(not e > s for _, s, e, _, _ in out):
        raise InputError(f"{path}: every segment needs end > start")
    return out


def _series(bag, topic: str, fields: list) -> tuple[np.ndarray, np.ndarray]:
    """Stamps (s) and channels (n x fields) of one topic."""
    getters = [operator.attrgetter(f) for f in fields]
    stamps, values = [], []
    for _, t_ns, msg in bagio.read(bag, [topic]):
        try:
            values.append([float(g(msg)) for g in getters])
        except (AttributeError, TypeError) as exc:
            raise InputError(f"{bag}: {topic} ({bagio.type_name(msg)}) has no numeric field among "
                             f"{', '.join(fields)} ({exc})") from None
        stamps.append(stamp_to_sec(msg.header.stamp) if hasattr(msg, "header") else t_ns * 1e-9)
    if not stamps:
        known = bagio.topics(bag)
        raise InputError(f"{bag}: no messages on {topic}; its topics: "
                         + ", ".join(f"{t} ({ty.split('/')[-1]})" for t, (ty, _) in sorted(known.items())))
    order = np.argsort(stamps, kind="stable")
    return np.asarray(stamps)[order], np.asarray(values)[order]


def load(bag, modalities: dict, segments_csv) -> DataSet:
    """The recordings of ``bag``'s segments (see the module docstring); ``modalities`` as from ``--modality``."""
    spec = parse_modalities(modalities)
    series = {m: _series(bag, topic, fields) for m, (topic, fields) in spec.items()}
    segs = segments(segments_csv)
    classes = sorted({label for _, _, _, label, _ in segs})
    first = next(iter(series))
    t_all = series[first][0]
    recordings, steps = [], []
    for rec, start, end, label, group in segs:
        t = t_all[(t_all >= start) & (t_all < end)]
        if len(t) < 2:
            raise InputError(f"{segments_csv}: segment {rec} ({start}-{end} s) holds {len(t)} {first} samples")
        steps.append(np.median(np.diff(t)))
        data = {m: np.column_stack([np.interp(t, ts, x[:, j]) for j in range(x.shape[1])])
                for m, (ts, x) in series.items()}
        recordings.append(Recording(group, classes.index(label), data))
    return DataSet(recordings, classes, list(spec), 1.0 / float(np.median(steps)))
