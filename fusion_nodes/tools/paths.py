# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Where the package's own config files are: the source tree or the ament share dir."""
from __future__ import annotations

from pathlib import Path

from fusion_nodes.ros.model_files import config_file  # noqa: F401  (the tools' name for it)


class InputError(ValueError):
    """A file the user gave that cannot be used (a bag that is not one, a YAML syntax error): the command
    line reports it as one line with its hint, exit 2.
    """


def load_yaml(path):
    """Parse a YAML file; a syntax error names the file, line and column."""
    import yaml
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"{path}: YAML syntax error{where}: {exc.problem or exc.context} "
                         "(check brackets, quotes and indentation)") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (give a YAML file)") from None


def executable(name: str) -> str:
    """Path of one of the package's executables.

    Looks beside the running interpreter (a pip/venv install), then in the
    ament prefix's ``lib/fusion_nodes`` (a colcon install, where ``ros2 run``
    finds them), then on PATH.
    """
    import shutil
    import sys
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    try:
        from ament_index_python.packages import get_package_prefix
        lib = Path(get_package_prefix("fusion_nodes")) / "lib" / "fusion_nodes" / name
        if lib.exists():
            return str(lib)
    except (ImportError, LookupError, ValueError):
        pass
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"executable {name!r} of fusion_nodes not found")
    return found
