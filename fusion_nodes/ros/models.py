# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Loading fitted model files named by parameters, and their outputs as PointCloud2 columns."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fusion_nodes.core.early_fusion import EarlyFusionModel


def resolve(name: str) -> Path:
    """A model path: as given if it has a directory part or exists, else from the package's config dir."""
    path = Path(name).expanduser()
    if path.exists() or path.parent != Path("."):
        return path
    from fusion_nodes.tools.paths import config_file
    return config_file(name)


def load_early_fusion(name: str) -> EarlyFusionModel | None:
    """The model of parameter value ``name`` ('' = none); ValueError with the reason if unusable."""
    if not name:
        return None
    path = resolve(name)
    try:
        return EarlyFusionModel.load(path)
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"model_file {str(path)!r} cannot be used: {exc}") from None


def score_columns(classes, proba: np.ndarray) -> dict:
    """``class_id``, ``confidence`` (largest probability) and ``score_<class>`` columns."""
    proba = np.asarray(proba, float).reshape(-1, len(classes))
    cols = {"class_id": proba.argmax(axis=1).astype(float) if len(proba) else np.zeros(0),
            "confidence": proba.max(axis=1) if len(proba) else np.zeros(0)}
    cols.update({f"score_{c}": proba[:, i] for i, c in enumerate(classes)})
    return cols
