# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Decision lists in PointCloud2 (one point per object, or one for a scene) <-> core records."""
from __future__ import annotations

import numpy as np

from fusion_nodes.core.late_fusion import DecisionTable
from fusion_nodes.core.matching import ObjectList
from fusion_nodes.core.validation import InvalidInput


def _table(points, classes, source: str, stamp: float, id_field: str, require_ids: bool):
    """``(DecisionTable, keep)`` of a cloud's rows: ``score_<class>`` fields (all of them), else ``class_id``.

    Raises
    ------
    InvalidInput
        ``missing_field`` when neither all score fields nor class_id exist, or
        when ``require_ids`` (matching by id) and ``id_field`` is absent.
    """
    names = points.dtype.names or ()
    if require_ids and id_field not in names:
        raise InvalidInput("missing_field", f"no {id_field!r} field to match objects by id")
    K = len(classes)
    score_fields = [f"score_{c}" for c in classes]
    if all(f in names for f in score_fields):
        P = np.column_stack([points[f].astype(float) for f in score_fields]) if len(points) else np.zeros((0, K))
        return DecisionTable.from_arrays(source, stamp, K, probabilities=P)
    if "class_id" in names:
        return DecisionTable.from_arrays(source, stamp, K, labels=points["class_id"].astype(float))
    raise InvalidInput("missing_field", f"neither {score_fields} nor class_id in the cloud")


def screen(points: np.ndarray, classes, id_field: str = "object_id", require_ids: bool = False):
    """The usable rows of a decision cloud, checked where it arrives (before synchronisation).

    Returns ``(points, {"bad_decision": n})`` with the ``n`` unusable rows
    removed. A cloud without the decision fields, or whose every row is
    unusable, is dropped whole (``InvalidInput``) so it takes no part in a set.
    """
    _, keep = _table(points, classes, "", 0.0, id_field, require_ids)
    if len(points) and not keep.any():
        raise InvalidInput("bad_decision", f"none of the {len(points)} decisions is usable")
    return points[keep], {"bad_decision": int(len(points) - keep.sum())}


def parse(points: np.ndarray, classes, source: str, stamp: float, id_field: str = "object_id",
          require_ids: bool = False):
    """Objects and decisions of one cloud's points.

    Probabilities come from ``score_<class>`` fields (all of them), else a
    hard label from ``class_id``. Returns ``(ObjectList, DecisionTable, bad)``
    where rows whose scores are unusable (NaN, negative, all zero, label out
    of range) are left out and counted in ``bad``.

    Raises
    ------
    InvalidInput
        As :func:`_table`.
    """
    names = points.dtype.names or ()
    table, keep = _table(points, classes, source, stamp, id_field, require_ids)
    sel = points[keep]
    xy = np.column_stack([sel["x"], sel["y"]]).astype(float) if {"x", "y"} <= set(names) else None
    objects = ObjectList(xy, sel["bearing"].astype(float) if "bearing" in names else None,
                         sel[id_field].astype(float) if id_field in names else None)
    if len(objects) == 0 and len(table):
        objects = ObjectList(ids=np.arange(len(table), dtype=float))   # scene decisions: nothing to match by
    return objects, table, int(len(points) - keep.sum())


def score_columns(classes, proba: np.ndarray) -> dict:
    """``class_id``, ``confidence`` (largest probability) and ``score_<class>`` columns."""
    proba = np.asarray(proba, float).reshape(-1, len(classes))
    cols = {"class_id": proba.argmax(axis=1).astype(float) if len(proba) else np.zeros(0),
            "confidence": proba.max(axis=1) if len(proba) else np.zeros(0)}
    cols.update({f"score_{c}": proba[:, i] for i, c in enumerate(classes)})
    return cols
