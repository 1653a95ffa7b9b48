# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion offline``: run nodes over a bag in one process on a simulated clock.

The nodes named in the params file are created in-process with
``use_sim_time``. Bag messages are delivered to their subscription callbacks
in log-time order; before each one, every timer due at or before its time
fires at its own simulated time. Whatever the nodes publish is delivered to
the other in-process subscribers at once and recorded, with the bag's own
messages, to an MCAP bag. Nothing is left to DDS scheduling, so two runs
give identical output, no message is lost, and the run is as fast as the
callbacks allow.
"""
from __future__ import annotations

import heapq
import importlib
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

import rclpy
from rclpy.context import Context
from rclpy.parameter import Parameter
from rclpy.serialization import deserialize_message, serialize_message
from rclpy.subscription import Subscription
from rclpy.time import Time

from fusion_nodes.nodes.registry import NODES, node_type
from fusion_nodes.ros.instances import INSTANCES, executable, remaps as instance_remaps
from fusion_nodes.ros.params import YAML_BOOLEAN_HINT, mixed_lists

from . import bagio
from .paths import InputError, load_yaml
from .progress import progress

NODE_TYPES = {name: node_type(name) for name in NODES}
NODE_TYPES.update({name: NODE_TYPES[executable(name)] for name in INSTANCES})   # e.g. odom_fusion_node
_INTERNAL = ("/rosout", "/parameter_events", "/clock")


def node_names(params_file) -> list[str]:
    """Node names (top-level keys, namespace stripped) of a ROS 2 params file."""
    data = load_yaml(params_file) or {}
    return [k.strip("/").split("/")[-1] for k in data if k.strip("/") not in ("**", "")]


def _load(spec: str):
    module, cls = spec.split(":")
    return getattr(importlib.import_module(module), cls)


@dataclass
class OfflineResult:
    """Counts of one offline run."""

    input_messages: int = 0
    published: dict = field(default_factory=dict)
    timer_calls: int = 0
    duration: float = 0.0


class OfflineRunner:
    """Nodes + a simulated clock + synchronous delivery.

    Parameters
    ----------
    params_file : str
        ROS 2 parameters YAML; each top-level node name whose type is known
        (see ``NODE_TYPES`` or ``node_types``) is instantiated.
    remaps : list of str
        ``FROM:=TO`` applied to bag topics and to every node.
    node_types : dict, optional
        ``node name -> 'module:Class'`` for names not in ``NODE_TYPES``.
    capture : bool
        Keep every published message in ``captured`` (topic -> list), for tests.
    """

    def __init__(self, params_file, remaps=(), node_types=None, extra_params=(), capture=False):
        load_yaml(params_file)                     # a syntax error: file, line and column
        mixed = mixed_lists(Path(params_file).read_text())
        if mixed:       # rcl would refuse the file with "Sequence should be of same type" and no name
            raise InputError(f"{params_file}: {'; '.join(mixed)}: {YAML_BOOLEAN_HINT}")
        self.captured: dict[str, list] | None = {} if capture else None   # topic -> published messages
        self.context = Context()
        # A private domain keeps stray /clock publishers of other runs away.
        rclpy.init(context=self.context, domain_id=200 + os.getpid() % 30)
        self.remap = dict(r.split(":=", 1) for r in remaps)
        types = {**NODE_TYPES, **(node_types or {})}
        args = ["--ros-args", "--params-file", str(params_file)]
        for r in remaps:
            args += ["-r", r]
        for p in extra_params:
            args += ["-p", p]
        self.nodes = []
        for name in node_names(params_file):
            if name not in types:
                raise ValueError(f"params file names node {name!r} of unknown type; "
                                 f"pass --node {name}:=<type> with a type from {sorted(NODE_TYPES)}")
            cls = _load(types[name] if ":" in types[name] else NODE_TYPES[types[name]])
            own = [x for f, t in instance_remaps(name).items() for x in ("-r", f"{f}:={t}")]
            self.nodes.append(cls(context=self.context, cli_args=args + own + ["-r", f"__node:={name}"],
                                  parameter_overrides=[Parameter("use_sim_time", value=True)]))
        self._subs: dict[str, list] = {}
        for node in self.nodes:
            for sub in node.subscriptions:
                if sub.topic_name not in _INTERNAL:
                    self._subs.setdefault(sub.topic_name, []).append(sub)
        self._writer = None
        self._now_ns = 0
        self._heap, self._seq = [], itertools.count()
        self.result = OfflineResult()
        for node in self.nodes:
            for pub in node.publishers:
                if pub.topic_name not in _INTERNAL:
                    pub.publish = self._make_publish(pub.topic_name)
                    pub.recorded = True      # see fusion_nodes.ros.objects.has_audience

    def _make_publish(self, topic: str):
        def publish(msg):
            data = serialize_message(msg)
            self.result.published[topic] = self.result.published.get(topic, 0) + 1
            if self.captured is not None:
                self.captured.setdefault(topic, []).append(deserialize_message(data, type(msg)))
            if self._writer is not None:
                self._writer.write(topic, msg, self._now_ns)
            for sub in self._subs.get(topic, ()):
                _deliver(sub, deserialize_message(data, sub.msg_type))
        return publish

    def _set_clock(self, t_ns: int) -> None:
        self._now_ns = t_ns
        for node in self.nodes:
            clock = node.get_clock()
            clock.set_ros_time_override(Time(nanoseconds=t_ns, clock_type=clock.clock_type))

    def run(self, bag, out=None, topics=None, start=0.0, record_inputs=True) -> OfflineResult:
        """Feed ``bag`` through the nodes; record to ``out`` if given."""
        counts = bagio.topics(bag)
        total = sum(n for t, (_, n) in counts.items() if not topics or t in topics)
        messages = progress(bagio.read(bag, topics, start), total, f"replaying {Path(bag).name}")
        return self.feed(messages, out, record_inputs)

    def feed(self, messages, out=None, record_inputs=True) -> OfflineResult:
        """Deliver ``(topic, t_ns, msg)`` in order, firing the timers due before each; record to ``out``
        the outputs and the inputs (``record_inputs`` True), none of them (False) or those of the topics it
        names (e.g. the CameraInfo without which recorded detections cannot be placed).

        Each call starts the timers at its first message, as a new bag would; a
        first message stamped earlier than the clock is a clock jump back (a bag
        loop), one stamped later continues the clock.
        """
        writer = bagio.BagWriter(out) if out else None
        first = None
        try:
            if writer:
                self._writer = writer.__enter__()
            for topic, t_ns, msg in messages:
                topic = self.remap.get(topic, topic)
                if first is None:
                    first = t_ns
                    self._start_timers(t_ns)
                self._fire_timers(self._heap, self._seq, t_ns)
                self._set_clock(max(t_ns, self._now_ns))
                self.result.input_messages += 1
                if writer and (record_inputs is True or (record_inputs and topic in record_inputs)):
                    writer.write(topic, msg, t_ns)
                for sub in self._subs.get(topic, ()):
                    _deliver(sub, msg)
            if first is not None:
                self._fire_timers(self._heap, self._seq, self._now_ns)
                self.result.duration = (self._now_ns - first) * 1e-9
        finally:
            if writer:
                writer.__exit__(None, None, None)
            self._writer = None
        return self.result

    def _start_timers(self, t_ns: int) -> None:
        """(Re)start the simulated clock and every node timer at ``t_ns``."""
        self._set_clock(t_ns)
        self._heap = [(t_ns + t.timer_period_ns, next(self._seq), t) for n in self.nodes for t in n.timers]
        heapq.heapify(self._heap)

    def advance(self, t_ns: int) -> None:
        """Move the clock to ``t_ns`` with no message, firing the timers due (a silent input)."""
        self._fire_timers(self._heap, self._seq, t_ns)
        self._set_clock(max(t_ns, self._now_ns))

    def _fire_timers(self, heap, seq, until_ns: int) -> None:
        while heap and heap[0][0] <= until_ns:
            due, _, timer = heapq.heappop(heap)
            self._set_clock(due)
            timer.callback()
            self.result.timer_calls += 1
            heapq.heappush(heap, (due + timer.timer_period_ns, next(seq), timer))

    def close(self) -> None:
        for node in self.nodes:
            node.destroy_node()
        rclpy.shutdown(context=self.context)


def _deliver(sub, msg) -> None:
    """Call a subscription's callback as the executor would: with message info when it takes one
    (in process there is no DDS: nothing skipped, no wait, so ``None``).
    """
    if sub._callback_type == Subscription.CallbackType.WithMessageInfo:  # rclpy's own dispatch flag
        sub.callback(msg, None)
    else:
        sub.callback(msg)


def run_offline(bag, params_file, out=None, remaps=(), node_types=None, topics=None, start=0.0,
                extra_params=()) -> OfflineResult:
    """Convenience wrapper: build an :class:`OfflineRunner`, run it, close it."""
    runner = OfflineRunner(params_file, remaps, node_types, extra_params)
    try:
        return runner.run(bag, out, topics, start)
    finally:
        runner.close()
