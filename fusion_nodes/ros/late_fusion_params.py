# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""late_fusion_node parameters."""
from __future__ import annotations

from fusion_nodes.core.late_fusion import rules

from .sync import sync_specs
from .objects import output_specs
from .params import ParamSpec, stamp_specs, length, one_of


def _weights(v):
    if any(w < 0 for w in v):
        return "weights must be non-negative"
    if not any(w > 0 for w in v):
        return "weights must not all be zero"
    return None


def _priors(v):
    if v and (any(p <= 0 for p in v)):
        return "priors must be positive (or empty for uniform)"
    return None


def cross_checks():
    """Checks across late_fusion_node's parameters."""
    return [lambda p: None if p["quorum"] <= len(p["inputs"]) else
            f"quorum {p['quorum']} is more than the {len(p['inputs'])} inputs: the node would always abstain"]


def specs() -> list[ParamSpec]:
    return [
        ParamSpec("inputs", ["radar/clusters", "camera/detections"], "Decision topics (PointCloud2 with "
                  "score_<class> fields, or class_id for hard labels), in matching order.", read_only=True),
        ParamSpec("input_type", "PointCloud2", "Message type of every input: PointCloud2 (decision clouds "
                  "with score_<class> fields) or Detection3DArray (vision_msgs, class hypotheses with "
                  "scores; e.g. radar/detections, or any detector's).",
                  check=one_of("PointCloud2", "Detection3DArray"), read_only=True),
        ParamSpec("input_names", ["radar", "camera"], "A name per input (diagnostics, from_<name> fields).",
                  read_only=True),
        ParamSpec("classes", ["car", "pedestrian", "cyclist", "pole"], "Class names; score fields are "
                  "score_<class>.", read_only=True),
        ParamSpec("output_topic", "fusion/late/objects", "Fused decisions (PointCloud2: x y bearing class_id "
                  "confidence score_<class> sources from_<name>).", read_only=True),
        ParamSpec("rule", "average", f"Fusion rule: {', '.join(rules())}.", check=_registered_rule),
        ParamSpec("weights", [0.5, 0.5], "Weight per input (>= 0, not all 0, one per input).",
                  check=_weights),
        ParamSpec("priors", [0.0], "Class priors for bayes/stacking; [0.0] or []: uniform.",
                  check=lambda v: None if list(v) in ([], [0.0]) else _priors(v), allow_empty=True),
        ParamSpec("quorum", 1, "Fewest inputs (with weight > 0) that must be present, else abstain "
                  "(class_id -1, confidence 0).", 1, 100),
        ParamSpec("stacking_model", "", "Stacking meta-classifier (JSON from `fusion late`), for rule "
                  "stacking.", read_only=True),
        ParamSpec("adaptive_weights", False, "Scale the weights online by each input's agreement with the "
                  "fused decision (log-odds reliability, floored)."),
        ParamSpec("adaptive_rate", 0.02, "Agreement update rate per fused decision.", 1e-4, 1.0),
        ParamSpec("weight_floor", 0.05, "Smallest adaptive reliability weight (no input is silenced "
                  "for good).", 1e-4, 10.0),
        ParamSpec("match_by", "position", "position (x,y; bearing when an input has none), id, or scene "
                  "(one decision per input per set).", check=one_of("position", "id", "scene"),
                  read_only=True),
        ParamSpec("position_gate", 2.0, "Largest distance (m) between matched objects.", 0.01, 1000.0),
        ParamSpec("bearing_gate", 0.06, "Largest bearing difference (rad) between matched objects.",
                  1e-4, 3.2),
        ParamSpec("bearing_origin", [0.0, 0.0], "x y (m, base_link) of the sensor whose objects only carry "
                  "a bearing (e.g. the camera).", check=length(2)),
        ParamSpec("id_field", "object_id", "Field with the track id for match_by: id.", read_only=True),
        *sync_specs(),
        ParamSpec("stale_after", 1.0, "An input silent this long (s) is reported degraded.", 0.01, 3600.0),
        *output_specs("fusion/late/detections", "fusion/late/markers"),
        *stamp_specs(),
    ]


def _registered_rule(v):
    """One of the rules registered when the node starts (core.late_fusion.register_rule adds more)."""
    return one_of(*rules())(v)
