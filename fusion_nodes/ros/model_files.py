# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Files the package ships or a parameter names: the config directory, fitted model files."""
from __future__ import annotations

from pathlib import Path

from fusion_nodes.core.early_fusion import EarlyFusionModel


def config_file(name: str) -> Path:
    """Path of ``config/<name>`` from a source checkout or an installed package."""
    local = Path(__file__).resolve().parents[2] / "config" / name
    if local.exists():
        return local
    from ament_index_python.packages import get_package_share_directory
    return Path(get_package_share_directory("fusion_nodes")) / "config" / name


def resolve(name: str) -> Path:
    """A model path: as given if it has a directory part or exists, else from the package's config dir."""
    path = Path(name).expanduser()
    if path.exists() or path.parent != Path("."):
        return path
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
