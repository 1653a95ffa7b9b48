# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Console-script entry points of the node executables.

Each one installs the stop handlers (:mod:`fusion_nodes.ros.stopping`) before
importing its node module, so a stop request during the seconds of start-up
imports is honoured cleanly.
"""
from __future__ import annotations

import importlib

from fusion_nodes.ros import stopping

from .registry import NODES


def _run(module: str, cls: str) -> int:
    stopping.install()
    node_class = getattr(importlib.import_module(f"fusion_nodes.nodes.{module}"), cls)
    from fusion_nodes.ros.runner import run_node
    return run_node(node_class)


def _entry(name: str):
    def main() -> int:
        return _run(name, NODES[name])
    main.__name__ = main.__qualname__ = name
    main.__doc__ = f"Run {NODES[name]} (the ``{name}`` executable)."
    return main


# one console-script function per node of the registry: imu_gps_node(), kalman_fusion_node(), ...
globals().update({name: _entry(name) for name in NODES})
