# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Parameter declaration and validation: one table per node, one code path.

A :class:`ParamSpec` holds a parameter's name, default, description, range
and validity check. :func:`declare` declares a list of them on a node,
validates the start-up values (raising :class:`InvalidParameters` with every
reason) and installs a set-parameters callback so that ``ros2 param set``
with an invalid value is rejected with the same reason. The values reach the
node as a :class:`Params` snapshot (``self.p.max_speed``), typed by the
table and immutable: an accepted change replaces the node's snapshot as a
whole, so a callback never sees half of a ``ros2 param set`` of several
values (generate_parameter_library's one declarative source -> typed
struct, without the code generation).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterator, Optional, Sequence

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.parameter import Parameter

Check = Callable[[Any], Optional[str]]


class InvalidParameters(ValueError):
    """Start-up parameter values that cannot be used; the message lists why."""


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter.

    Attributes
    ----------
    name, default, description
        As shown by ``ros2 param describe``.
    low, high : float, optional
        Inclusive numeric range (also put into the descriptor).
    check : callable, optional
        Extra validity check returning an error text or None.
    read_only : bool
        Fixed after start-up (topics, structure); others can change live.
    """

    name: str
    default: Any
    description: str
    low: Optional[float] = None
    high: Optional[float] = None
    check: Optional[Check] = None
    read_only: bool = False
    ptype: Optional[Parameter.Type] = None
    extra: dict = field(default_factory=dict)
    allow_empty: bool = False   # an empty list is a meaningful value (e.g. "uniform priors")

    def validate(self, value) -> Optional[str]:
        values = value if isinstance(value, (list, tuple)) else [value]
        if isinstance(value, (list, tuple)):
            reason = self._list_problem(value)
            if reason:
                return f"{self.name}: {reason}"
        if self.low is not None or self.high is not None:
            for v in values:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    continue
                if math.isnan(v):
                    return f"{self.name}: NaN is not a valid value"
                if (self.low is not None and v < self.low) or (self.high is not None and v > self.high):
                    return f"{self.name}: {v} is outside [{self.low}, {self.high}]"
        if self.check is not None:
            reason = self.check(value)
            if reason:
                return f"{self.name}: {reason}"
        return None

    def _list_problem(self, value) -> Optional[str]:
        """What is wrong with a list value in itself (the spec's own check comes after)."""
        if not value and isinstance(self.default, list) and self.default and not self.allow_empty:
            return "an empty list is not allowed (it would silently mean nothing)"
        numbers = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if any(not math.isfinite(v) for v in numbers):
            return "NaN or Inf in the list"
        if any(isinstance(v, str) and not v.strip() for v in value):
            return "an empty name in the list"
        return None

    def descriptor(self) -> ParameterDescriptor:
        d = ParameterDescriptor(name=self.name, description=self.description, read_only=self.read_only)
        if self.low is not None and self.high is not None and not isinstance(self.default, (bool, list)):
            if isinstance(self.default, int):
                d.integer_range = [IntegerRange(from_value=int(self.low), to_value=int(self.high), step=0)]
            elif math.isfinite(self.low) and math.isfinite(self.high):
                d.floating_point_range = [FloatingPointRange(from_value=float(self.low),
                                                             to_value=float(self.high), step=0.0)]
        return d


# -- reusable checks ----------------------------------------------------------
def one_of(*choices) -> Check:
    return lambda v: None if v in choices else f"{v!r} is not one of {list(choices)}"


def length(*allowed) -> Check:
    return lambda v: None if len(v) in allowed else f"needs {' or '.join(map(str, allowed))} values, got {len(v)}"


def intrinsics(v) -> Optional[str]:
    """A pinhole camera's ``fx fy cx cy`` (px): four finite values, focal lengths positive (a zero fx would
    put every box at infinite bearing).
    """
    if len(v) != 4:
        return f"needs fx fy cx cy (4 values), got {len(v)}"
    if not all(math.isfinite(x) for x in v):
        return "contains NaN or Inf"
    return None if v[0] > 0 and v[1] > 0 else "needs fx, fy > 0"


def covariance_matrix(n: int) -> Check:
    """A row-major n x n symmetric matrix with a non-negative diagonal (or n diagonal values)."""
    def check(v):
        import numpy as np
        if len(v) == n:
            return None if all(x >= 0 and math.isfinite(x) for x in v) else "diagonal must be finite and >= 0"
        if len(v) != n * n:
            return f"needs {n} (diagonal) or {n * n} (full matrix) values, got {len(v)}"
        m = np.asarray(v, dtype=float).reshape(n, n)
        if not np.all(np.isfinite(m)):
            return "contains NaN or Inf"
        if not np.allclose(m, m.T, atol=1e-12):
            return "matrix is not symmetric"
        if np.any(np.diag(m) < 0) or np.linalg.eigvalsh(m).min() < -1e-9:
            return "matrix is not positive semi-definite"
        return None
    return check


def _plain(value):
    """Parameter arrays (array.array, numpy) as plain lists."""
    return list(value) if isinstance(value, (list, tuple)) or hasattr(value, "tolist") \
        or type(value).__name__ == "array" else value


def _typed(default, value):
    """``value`` as the type of the table's ``default``: a float parameter given as ``1`` is ``1.0``, a
    list is a tuple (the snapshot is immutable all the way down).
    """
    if isinstance(value, list):
        item = default[0] if default else None
        return tuple(_typed(item, v) for v in value)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


class Params(Mapping):
    """An immutable, typed snapshot of a node's parameters: ``p.name`` (or ``p["name"]``, for the helpers
    that take any mapping of values, such as a params file's section).

    Values have the type of their table entry's default (lists as tuples). :meth:`replace` makes the next
    snapshot; nothing changes one in place.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping = MappingProxyType({})):
        object.__setattr__(self, "_values", MappingProxyType(dict(values)))

    def __getattr__(self, name: str):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no parameter {name!r}") from None

    def __setattr__(self, name, value):
        raise AttributeError(f"parameters are a read-only snapshot: set {name!r} with ros2 param set")

    def __getitem__(self, name: str):
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Params({dict(self._values)!r})"

    def replace(self, changed: Mapping) -> "Params":
        """The snapshot with ``changed`` values (already typed and validated) in place of the old ones."""
        return Params({**self._values, **changed})


def declare(node, specs: list[ParamSpec], on_change: Optional[Callable[[dict], None]] = None,
            into: Optional[Params] = None, cross: Sequence[Callable[[dict], Optional[str]]] = (),
            attr: str = "p") -> Params:
    """Declare ``specs`` on ``node``, validate start-up values, guard later changes.

    Parameters
    ----------
    cross : sequence of callables
        Checks across parameters (``values -> reason or None``), such as
        ``min_range < max_range``; run on the start-up values and on every
        change (with the changed values merged in).
    into : Params, optional
        A snapshot of tables declared before (a node that declares several):
        the returned snapshot holds both.
    attr : str
        The node attribute the caller keeps the snapshot in (``self.p``): an
        accepted change replaces it with the next one, after ``on_change`` ran
        (which sees the changed values and, in ``node.<attr>``, the old ones).

    Returns
    -------
    Params
        Every declared parameter (and ``into``'s).

    Raises
    ------
    InvalidParameters
        If any start-up value fails its check (all reasons joined).
    """
    by_name = {s.name: s for s in specs}
    values = dict(into or {})
    errors = []
    for s in specs:
        try:
            value = node.declare_parameter(s.name, s.ptype or s.default, s.descriptor()).value
        except (InvalidParameterValueException, InvalidParameterTypeException) as exc:
            # rclpy checks the descriptor's range and the type itself.
            errors.append(f"{s.name}: {exc}")
            continue
        if value is None and isinstance(s.default, list) and s.default and not s.allow_empty:
            # rcl reads `name: []` as "not set": it must not fall back to the default silently.
            errors.append(f"{s.name}: an empty list is not allowed (it would silently mean nothing)")
            continue
        value = _plain(s.default if value is None else value)
        reason = s.validate(value)
        if reason:
            errors.append(reason)
        values[s.name] = _typed(s.default, value)
    errors += [r for r in (c(values) for c in cross) if r] if not errors else []
    if errors:
        raise InvalidParameters("; ".join(errors))

    node.add_on_set_parameters_callback(_guard(node, by_name, cross, on_change, attr))
    return Params(values)


def _guard(node, by_name: dict, cross, on_change, attr: str) -> Callable:
    """The set-parameters callback of :func:`declare`: every changed value checked, then the cross checks on
    the snapshot with the changes merged in, then ``on_change``; all or nothing.
    """
    def guard(params):
        changed = {}
        for p in params:
            spec = by_name.get(p.name)
            if spec is None:
                continue
            value = _plain(p.value)
            if value is None and isinstance(spec.default, list):
                value = []                      # `ros2 param set n p []` arrives as "not set"
            reason = spec.validate(value)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
            changed[p.name] = _typed(spec.default, value)
        if not changed:
            return SetParametersResult(successful=True)
        for c in cross:
            reason = c({**getattr(node, attr), **changed})
            if reason:
                return SetParametersResult(successful=False, reason=reason)
        if on_change is not None:
            try:
                on_change(changed)
            except ValueError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
        setattr(node, attr, getattr(node, attr).replace(changed))
        return SetParametersResult(successful=True)

    return guard


def stamp_specs() -> list[ParamSpec]:
    """The stamp tolerance of a node's sensor inputs."""
    return [ParamSpec("max_future", 1.0, "Messages stamped more than this (s) ahead of the node clock are "
                      "dropped as future_stamp (they would advance the filter past every later message).",
                      0.0, 1.0e6, read_only=True)]


def input_limit_specs() -> list[ParamSpec]:
    """Stamp and plausibility limits of a node's sensor inputs (see ``core.validation.Limits``)."""
    from fusion_nodes.core.validation import Limits
    d = Limits()
    return [
        *stamp_specs(),
        ParamSpec("max_speed", d.speed, "Largest plausible linear velocity (m/s); beyond: implausible.",
                  0.0, 1.0e6, read_only=True),
        ParamSpec("max_angular_rate", d.angular_rate, "Largest plausible angular velocity (rad/s).",
                  0.0, 1.0e6, read_only=True),
        ParamSpec("max_acceleration", d.acceleration, "Largest plausible linear acceleration (m/s^2).",
                  0.0, 1.0e6, read_only=True),
        ParamSpec("max_position", d.position, "Largest plausible position coordinate (m).",
                  0.0, 1.0e12, read_only=True),
        ParamSpec("max_variance", d.variance, "Largest plausible variance in a covariance.",
                  1.0, 1.0e300, read_only=True),
    ]


def input_limits(p: dict):
    """The :class:`~fusion_nodes.core.validation.Limits` of a node's parameter values."""
    from fusion_nodes.core.validation import Limits
    return Limits(p["max_speed"], p["max_angular_rate"], p["max_acceleration"], p["max_position"],
                  p["max_variance"])


YAML_BOOLEAN_HINT = ("YAML 1.1 reads y, n, yes, no, on, off (lower, capitalised or upper case) as booleans, and a "
                     "ROS parameter list holds one type: quote such names ('y')")

# the plain scalars rcl's YAML parser takes for booleans (PyYAML's safe_load keeps y / n as strings)
_RCL_BOOLEANS = {w for base in ("y", "yes", "n", "no", "true", "false", "on", "off")
                 for w in (base, base.capitalize(), base.upper())}


def _mapping(node) -> dict:
    """A composed YAML mapping as ``key -> value node`` (empty for anything else)."""
    import yaml
    return {k.value: v for k, v in node.value} if isinstance(node, yaml.MappingNode) else {}


def mixed_lists(text: str) -> list[str]:
    """``node.parameter: [...]`` of every list in a params file that rcl would read as mixed types.

    rcl refuses a list whose items are not all of one type ("Sequence should be of same type", no
    parameter named). The usual cause is an unquoted name it reads as a boolean (``input_names: [x, y]``):
    see :data:`YAML_BOOLEAN_HINT`. Quoted scalars are strings, as rcl reads them.
    """
    import yaml
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return []                       # the syntax error is reported where the file is loaded
    out = []
    for node, section in _mapping(root).items():
        for name, value in _mapping(_mapping(section).get("ros__parameters")).items():
            words = [v for v in value.value if isinstance(v, yaml.ScalarNode)] \
                if isinstance(value, yaml.SequenceNode) else []
            booleans = [v.value for v in words if v.style is None and v.value in _RCL_BOOLEANS]
            if booleans and len(booleans) < len(words):
                out.append(f"{node}.{name}: [{', '.join(v.value for v in words)}] "
                           f"({', '.join(booleans)} read as booleans)")
    return out


def params_file_error(exc: Exception) -> str:
    """One line for an rcl error reading ``--params-file``, with the YAML hint when lists mix types."""
    text = " ".join(str(exc).split())
    return text + (f" ({YAML_BOOLEAN_HINT})" if "Sequence should be of same type" in text else "")
