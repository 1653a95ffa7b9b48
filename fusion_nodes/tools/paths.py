"""Where the package's own config files are: the source tree or the ament share dir."""
from __future__ import annotations

from pathlib import Path


def config_file(name: str) -> Path:
    """Path of ``config/<name>`` from a source checkout or an installed package."""
    local = Path(__file__).resolve().parents[2] / "config" / name
    if local.exists():
        return local
    from ament_index_python.packages import get_package_share_directory
    return Path(get_package_share_directory("fusion_nodes")) / "config" / name
