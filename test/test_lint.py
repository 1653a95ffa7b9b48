# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Lint as a test, as ament_flake8 / ament_pep257 / ament_copyright are in a ROS package's test suite.

ruff with the rules of ``ruff.toml`` (pycodestyle, pyflakes, NumPy-convention pydocstyle), and the
copyright / licence header on every Python file.
"""
import subprocess
import sys

from conftest import REPO

TREES = ["fusion_nodes", "test", "launch", "scripts", "setup.py"]


def _python_files():
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [REPO / f for f in out.split() if f.split("/")[0] in TREES or f == "setup.py"]


def test_ruff_finds_nothing():
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *TREES], cwd=REPO,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_python_file_has_the_copyright_and_licence_header():
    files = _python_files()
    assert len(files) > 100
    missing = []
    for path in files:
        head = path.read_text().splitlines()[:3]
        if not (any(line.startswith("# Copyright ") for line in head)
                and "# SPDX-License-Identifier: Apache-2.0" in head):
            missing.append(str(path.relative_to(REPO)))
    assert not missing, missing
