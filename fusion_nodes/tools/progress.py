# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Progress bars for the command line: tqdm on a terminal, silent in logs and tests."""
from __future__ import annotations

from typing import Iterable, Optional


def progress(items: Iterable, total: Optional[int] = None, desc: str = "", unit: str = "msg"):
    """``items`` with a progress bar on stderr when it is a terminal (``disable=None``), refreshed at most
    once a second; the bar is removed when done.
    """
    from tqdm import tqdm
    # iter(): callers may use next() on what they get, and a tqdm object is iterable, not an iterator
    return iter(tqdm(items, total=total, desc=desc, unit=unit, disable=None, leave=False, mininterval=1.0,
                     dynamic_ncols=True))
