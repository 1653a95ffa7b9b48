# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion params``: the parameter tables of the nodes, as Markdown.

The README's tables are this command's output, so they follow the code.
"""
from __future__ import annotations

from .paths import InputError


def _fmt(v) -> str:
    if isinstance(v, list) and len(v) > 6:
        return f"{len(v)} values"
    if isinstance(v, float) and v == float("inf"):
        return "inf"
    if isinstance(v, str):
        return f"`{v}`" if v else "`''`"
    return f"`{v!r}`"


def _range(s) -> str:
    if s.low is None and s.high is None:
        return ""
    return f"[{s.low if s.low is not None else '-inf'}, {s.high if s.high is not None else 'inf'}]"


def table(specs, rename=lambda n: n) -> str:
    rows = ["| parameter | default | range | live | description |", "|---|---|---|---|---|"]
    rows += [f"| `{rename(s.name)}` | {_fmt(s.default)} | {_range(s)} | {'no' if s.read_only else 'yes'} "
             f"| {s.description} |" for s in specs]
    return "\n".join(rows)


def tables() -> dict[str, str]:
    from fusion_nodes.ros import (camera_params, early_fusion_params, imu_gps_params, late_fusion_params,
                                  radar_params, tracker_params)
    from fusion_nodes.ros.kalman_params import global_specs, sensor_specs
    per_sensor = sensor_specs("imu0") + [s for s in sensor_specs("odom0")
                                         if s.name.endswith(("differential", "relative"))]
    return {
        "kalman_fusion_node": table(global_specs()),
        "kalman_fusion_node inputs": table(per_sensor, lambda n: n.replace("imu0", "<sensor>")
                                           .replace("odom0", "<sensor>")),
        "imu_gps_node": table(imu_gps_params.specs()),
        "radar_node": table(radar_params.specs()),
        "camera_node": table(camera_params.specs()),
        "early_fusion_node": table(early_fusion_params.specs()),
        "late_fusion_node": table(late_fusion_params.specs()),
        "tracker_node": table(tracker_params.specs()),
    }


def main(node: str | None = None) -> None:
    every = tables()
    found = {name: text for name, text in every.items() if node is None or name.startswith(node)}
    if not found:
        raise InputError(f"no node named {node!r}; the nodes: {', '.join(n for n in every if ' ' not in n)}")
    for name, text in found.items():
        print(f"### {name}\n\n{text}\n")
