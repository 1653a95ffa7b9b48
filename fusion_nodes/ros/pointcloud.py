# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``sensor_msgs/PointCloud2`` <-> numpy structured arrays, with the checks drivers need.

Object and detection lists travel as PointCloud2 with named float fields.
:func:`read` validates the layout before touching the bytes: field types and
offsets, ``point_step`` against the fields, ``row_step`` and ``len(data)``
against ``width * height``; it raises :class:`InvalidInput` otherwise.
"""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import PointField

from fusion_nodes.core.validation import InvalidInput

_DTYPES = {PointField.INT8: "i1", PointField.UINT8: "u1", PointField.INT16: "i2", PointField.UINT16: "u2",
           PointField.INT32: "i4", PointField.UINT32: "u4", PointField.FLOAT32: "f4", PointField.FLOAT64: "f8"}


def read(msg, required=()) -> np.ndarray:
    """Structured array of the points (one row per point), fields by name.

    Fields with ``count != 1`` are left out (the package reads scalars only);
    any byte order is read (``is_bigendian``).

    Raises
    ------
    InvalidInput
        ``malformed_cloud`` for an inconsistent layout, ``missing_field`` when
        a ``required`` field is absent.
    """
    names, formats, offsets = [], [], []
    for f in msg.fields:
        if f.datatype not in _DTYPES:
            raise InvalidInput("malformed_cloud", f"field {f.name!r} has unknown datatype {f.datatype}")
        if f.offset + max(f.count, 1) * np.dtype(_DTYPES[f.datatype]).itemsize > msg.point_step:
            raise InvalidInput("malformed_cloud", f"field {f.name!r} ends past point_step {msg.point_step}")
        if f.count != 1:
            # Every field the package reads is a scalar per point; an array field (count 0 or > 1)
            # is left out, so a required one is reported missing and an optional one is absent.
            continue
        if f.name in names:
            raise InvalidInput("malformed_cloud", f"field {f.name!r} appears twice")
        names.append(f.name)
        formats.append(("<" if not msg.is_bigendian else ">") + _DTYPES[f.datatype])
        offsets.append(f.offset)
    missing = [r for r in required if r not in names]
    if missing:
        raise InvalidInput("missing_field", f"point cloud lacks fields {missing}")
    n = msg.width * msg.height
    try:
        dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": msg.point_step})
    except ValueError as exc:
        raise InvalidInput("malformed_cloud", f"fields do not fit point_step {msg.point_step}: {exc}") from None
    if msg.height > 1 and msg.row_step != msg.width * msg.point_step:
        raise InvalidInput("malformed_cloud", f"row_step {msg.row_step} != width * point_step")
    if len(msg.data) != n * msg.point_step:
        raise InvalidInput("malformed_cloud", f"data has {len(msg.data)} bytes, layout needs "
                                              f"{n} x {msg.point_step}")
    return np.frombuffer(bytes(msg.data), dtype=dtype, count=n)


def write(msg, points: np.ndarray, header) -> object:
    """Fill PointCloud2 ``msg`` with float32 fields from a structured array (or dict of columns).

    Values beyond float32's range become +-inf, as a float32 sensor would send them (no warning: the
    readers reject them).
    """
    with np.errstate(over="ignore"):
        cols = {k: np.asarray(points[k], dtype=np.float32)
                for k in (points.dtype.names if hasattr(points, "dtype") else points)}
    n = len(next(iter(cols.values()))) if cols else 0
    msg.header = header
    msg.height, msg.width = 1, n
    msg.fields = [PointField(name=k, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                  for i, k in enumerate(cols)]
    msg.is_bigendian = False
    msg.point_step = 4 * len(cols)
    msg.row_step = msg.point_step * n
    msg.is_dense = True
    packed = np.empty((n, len(cols)), dtype="<f4")
    for i, v in enumerate(cols.values()):
        packed[:, i] = v
    msg.data = packed.tobytes()
    return msg
