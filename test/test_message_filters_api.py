# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""message_filters' own Python tests, run against the real package and against the drop-in.

The tests come with the ROS tools (``../shared/ros-tools/message_filters-tests``,
or ``FUSION_MF_TESTS``). Each run is a separate pytest process: for the drop-in,
a directory holding a ``message_filters`` package that re-exports
:mod:`fusion_nodes.ros.msgfilters` is put first on the import path, so the test
files run unchanged.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

TESTS = Path(os.environ.get("FUSION_MF_TESTS", REPO.parent / "shared" / "ros-tools" / "message_filters-tests"))
FILES = ("directed.py", "test_approxsync.py", "test_message_filters_cache.py")
CASES = 4   # test_synchronizer, test_approx, test_all_funcs, test_headerless

pytestmark = pytest.mark.skipif(not (TESTS / "test_approxsync.py").exists(),
                                reason=f"message_filters' own tests are not at {TESTS} (they come with "
                                       "the ROS tools; set FUSION_MF_TESTS)")


def _real_message_filters() -> bool:
    probe = "import message_filters, sys; sys.exit('fusion_nodes' in message_filters.__file__)"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def _run(tmp_path, drop_in: bool) -> str:
    work = tmp_path / "tests"
    work.mkdir()
    for f in FILES:
        shutil.copy(TESTS / f, work / ("test_directed.py" if f == "directed.py" else f))
    env = dict(os.environ)
    if drop_in:
        shim = tmp_path / "shim" / "message_filters"
        shim.mkdir(parents=True)
        (shim / "__init__.py").write_text(
            "from fusion_nodes.ros.msgfilters import (ApproximateTimeSynchronizer, Cache, SimpleFilter,\n"
            "                                         Subscriber, TimeSynchronizer)\n")
        env["PYTHONPATH"] = os.pathsep.join([str(shim.parent), env.get("PYTHONPATH", "")])
    which = "import message_filters; print('MODULE', message_filters.__file__)"
    module = subprocess.run([sys.executable, "-c", which], env=env, capture_output=True, text=True).stdout
    assert ("shim" in module) == drop_in, module
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(work)],
                          env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    return proc.stdout + proc.stderr


def _passed(output: str) -> int:
    m = re.search(r"(\d+) passed", output)
    assert m and "failed" not in output.splitlines()[-1], output[-3000:]
    return int(m.group(1))


def test_message_filters_own_tests_pass_against_the_drop_in(tmp_path):
    assert _passed(_run(tmp_path, drop_in=True)) == CASES


@pytest.mark.skipif(not _real_message_filters(), reason="the real message_filters is not installed")
def test_message_filters_own_tests_pass_against_the_real_package(tmp_path):
    assert _passed(_run(tmp_path, drop_in=False)) == CASES
