# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""The ``fusion`` command line: play, offline, sim, eval, fit, late, demo, params, bench."""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from .paths import InputError

# DDS discovery stays on this machine unless the user says otherwise.
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


class UsageError(Exception):
    """A misuse of the command line: reported as one line with a hint, exit 2."""


def _positive(kind):
    """Argparse type: a number > 0."""
    def check(text):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    check.__name__ = f"positive {kind.__name__}"
    return check


_INPUT_HINTS = {"bag": "a rosbag2 directory, .mcap, .db3 or ROS 1 .bag", "source": "the data directory or bag",
                "params": "a ROS 2 parameters YAML file", "scenario": "a perception scenario YAML",
                "model": "an early-fusion model JSON from fusion fit"}


def _existing_inputs(a) -> None:
    """Every input file or bag the command names must exist (outputs are created)."""
    for name, hint in _INPUT_HINTS.items():
        value = getattr(a, name, None)
        for path in value if isinstance(value, list) else [value]:
            if isinstance(path, str) and path and not Path(path).exists():
                raise UsageError(f"{path}: no such file or directory (give {hint})")


_OUTPUTS = ("out", "out_bag", "plot", "stacking_out")


def _output_dirs(a) -> None:
    """Every output goes into a directory that exists (a file is not created in a missing one)."""
    for name in _OUTPUTS:
        value = getattr(a, name, None)
        if isinstance(value, str) and value and a.cmd != "demo":
            parent = Path(value).resolve().parent
            if not parent.is_dir():
                flag = "--bag" if name == "out_bag" else "--" + name.replace("_", "-")
                raise UsageError(f"{flag} {value}: directory {parent} does not exist (create it first: "
                                 f"mkdir -p {parent})")


_ARGV: list = []   # the words being parsed, for the hints


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) and hints for the classic slips."""

    def error(self, message):
        if "required: bag" in message and "--topics" in _ARGV:
            message += " (--topics takes every word after it: put the bag path before --topics)"
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def _play(a) -> int:
    from .play import play
    play(a.bag, a.rate, a.topics, a.remap, a.start, delay=a.delay, loops=a.loop)
    return 0


def _offline(a) -> int:
    from .offline import run_offline
    types = dict(n.split(":=", 1) for n in a.node)
    res = run_offline(a.bag, a.params, a.out, a.remap, types, a.topics, a.start, a.param)
    print(f"{res.input_messages} input messages over {res.duration:.1f} s; "
          f"{res.timer_calls} timer calls; published {res.published}; wrote {a.out}")
    return 0


def _sim(a) -> int:
    if a.perception:
        from . import perception_sim
        scenario = perception_sim.load_scenario(a.scenario)
        scenario["seed"] = a.seed if a.seed != 1 else scenario["seed"]
        if a.duration != 240.0:
            scenario["duration"] = a.duration
        if a.blackout:
            scenario["camera"]["blackout"] = list(a.blackout)
        if a.radar_blackout:
            scenario["radar"]["blackout"] = list(a.radar_blackout)
        n = perception_sim.write(scenario, a.out)
        print(f"wrote {n} messages to {a.out} (perception scenario, seed {scenario['seed']})")
        return 0
    from . import sim
    cfg = sim.SimConfig(seed=a.seed, duration=a.duration, imu_orientation=a.imu_orientation,
                        gps_latency=a.gps_latency, start_yaw=a.start_yaw, drive_from=a.drive_from,
                        cruise_speed=a.cruise_speed,
                        odom_speed_scale=a.wheel_scale[0], odom_yaw_rate_scale=a.wheel_scale[1],
                        imu_declared_scale=a.declared_scale[0], odom_declared_scale=a.declared_scale[1],
                        gps_declared_scale=a.declared_scale[2])
    n = sim.write(cfg, a.out)
    print(f"wrote {n} messages to {a.out}: {sim.config_summary(cfg)}")
    return 0


def _fit(a) -> int:
    import numpy as np

    from . import early_eval
    model, data = early_eval.fit_model(a.bag, a.truth, a.out, a.params, a.projection, a.k, a.l2)
    counts = dict(zip(model.classes, map(int, np.bincount(data.y, minlength=len(model.classes)))))
    print(f"fitted early fusion ({model.projection}, {model.dimension} fused dimensions) on {len(data.y)} "
          f"associated objects {counts}; wrote {a.out}")
    print(early_eval.table(data, early_eval.scores(model, data)) + "\n(training data: optimistic)")
    return 0


def _modalities(specs) -> dict:
    """``--modality NAME=COL,COL,...`` (repeatable) -> name -> columns."""
    out = {}
    for spec in specs or []:
        name, _, cols = spec.partition("=")
        if not name or not cols:
            raise UsageError(f"--modality {spec}: give NAME=COLUMN,COLUMN,... (e.g. acc=ax,ay,az)")
        out[name] = [c for c in cols.split(",") if c]
    if len(out) < 2:
        raise UsageError("late fusion needs two or more --modality NAME=COLUMNS (one per sensor)")
    return out


def _late_data(a) -> int:
    from . import own_bag, own_data
    modalities = _modalities(a.modality)
    if own_bag.is_bag(a.source):
        if not a.labels:
            raise UsageError("data from a bag needs --labels SEGMENTS.csv (recording, start, end, label, group)")
        ds = own_bag.load(a.source, modalities, a.labels)
        print(own_data.report(ds, a.window_seconds, a.out_bag, a.stacking_out))
        return 0
    for flag in ("label", "group", "recording"):
        if not getattr(a, flag):
            raise UsageError(f"data needs --{flag} COLUMN")
    ds = own_data.load(a.source, modalities, a.label, a.group, a.recording, a.time, a.rate)
    print(own_data.report(ds, a.window_seconds, a.out_bag, a.stacking_out))
    return 0


def _late(a) -> int:
    if a.what == "data":
        return _late_data(a)
    if a.what == "basic-motions":
        from . import basic_motions
        print(basic_motions.report(a.source, a.window, a.out_bag, a.stacking_out))
        return 0
    from . import late_eval
    if not a.truth:
        raise UsageError("perception needs --truth TOPIC (the ground-truth objects, e.g. /ground_truth/objects)")
    print(late_eval.report(a.source, a.truth, a.params, a.out_bag, a.blackout))
    return 0


def _eval_models(a) -> int:
    from . import early_eval
    print(early_eval.report(a.bag[0], a.truth, a.model, a.params, a.out))
    return 0


def _eval_tracking(a) -> int:
    from . import track_compare
    if a.peer:
        try:
            import stonesoup  # noqa: F401
        except ImportError:
            raise UsageError("--peer needs Stone Soup: pip install -r requirements-bench.txt") from None
    # --tracks T1 T2 ...: each further topic against the first; --tracking: the fused rows against the others
    pairs = [(a.tracks[0], t) for t in a.tracks[1:]] if a.tracks else track_compare.DIFFERENCE_PAIRS
    drives = []
    for i, bag in enumerate(a.bag):
        if len(a.bag) > 1:
            print(("\n" if i else "") + f"## drive {i + 1} of {len(a.bag)}: {bag}")
        out = str(Path(a.out) / f"{i + 1}_{Path(bag).stem}") if a.out and len(a.bag) > 1 else a.out
        drives.append(_track_results(a, bag, out))
        print(track_compare.table(drives[-1]))
        for line in track_compare.differences(drives[-1], pairs):
            print(line)
        for m in drives[-1].values():
            if "bearing_persistence" in m:
                from .track_ceiling import describe
                print(describe(m["bearing_persistence"]))
            if "doppler_spread" in m:
                from . import doppler_spread
                print(doppler_spread.describe(m["doppler_spread"]))
        sys.stdout.flush()
    if len(drives) > 1:
        print(f"\n## the {len(drives)} drives' objects pooled")
        together = track_compare.pooled(drives)
        print(track_compare.table(together))
        for line in track_compare.differences(together, pairs):
            print(line)
    return 0


def _track_results(a, bag, out) -> dict:
    from . import track_compare, track_eval
    if a.tracks:
        return {t: track_eval.evaluate(bag, t, a.truth) for t in a.tracks}
    print(f"{bag}: running the perception input nodes, then one tracker per input choice, over the bag ...",
          file=sys.stderr, flush=True)
    return track_compare.run(bag, a.params, a.truth, out, blackout=a.blackout, peer=a.peer, ceiling=a.ceiling)


def _eval(a) -> int:
    if len(a.bag) > 1 and not (a.tracking or a.tracks):
        raise UsageError(f"{len(a.bag)} bags given: several drives only with --tracking or --tracks (their objects "
                         "are pooled); --estimate and --model take one bag")
    if a.model:
        return _eval_models(a)
    if a.tracking or a.tracks:
        return _eval_tracking(a)
    if not a.estimate:
        raise UsageError("give --estimate TOPIC (odometry), --model MODEL (early fusion) or --tracking "
                         "(object tracks)")
    from . import evaluate
    labels = a.label or a.estimate
    if len(labels) != len(a.estimate):
        raise UsageError("--label must be given once per --estimate (or not at all)")
    bag = a.bag[0]
    baselines = a.baseline if a.baseline is not None else evaluate.other_odometry(bag, [a.truth, *a.estimate])
    named = {**dict(zip(labels, a.estimate)), **{f"{t} (baseline)": t for t in baselines}}
    est, truth, errs, summaries = evaluate.evaluate(bag, a.truth, named)
    print(evaluate.frames_note(truth, est))
    print(evaluate.format_table(summaries))
    if a.plot:
        evaluate.plot(est, truth, errs, a.plot)
        print(f"plot: {a.plot}")
    return 0


def _demo(a) -> int:
    from . import demo
    if a.bag:
        if not a.params:
            raise UsageError("--bag needs --params FILE (the nodes to run over it)")
        demo.run_user_demo(a.bag, a.params, Path(a.out), a.truth)
    else:
        demo.run_sim_demo(Path(a.out), a.params, a.seed)
    return 0


def _params(a) -> int:
    from . import param_docs
    param_docs.main(a.node)
    return 0


def _bench(a) -> int:
    from . import bench
    bench.main(a.duration, a.rates)
    return 0


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fusion", description="The fusion_nodes command line: play, offline, sim, eval, fit, late, "
                "demo, params, bench.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    _add_bag_commands(sub)
    _add_evaluation_commands(sub)
    _add_other_commands(sub)
    return p


def _add_bag_commands(sub) -> None:
    s = sub.add_parser("play", help="publish a bag with its timing and /clock")
    s.add_argument("bag", help="rosbag2 (sqlite3 / mcap) or ROS 1 bag to publish")
    s.add_argument("--rate", type=_positive(float), default=1.0, help="replay speed, times real time (default 1)")
    s.add_argument("--topics", nargs="+", help="publish only these topics (default: every readable one; "
                   "after the bag path)")
    s.add_argument("--remap", action="append", default=[], metavar="FROM:=TO", help="rename a topic (repeatable)")
    s.add_argument("--loop", type=_positive(int), default=1, metavar="N",
                   help="play the bag N times; each loop restarts /clock, as ros2 bag play --loop")
    s.add_argument("--start", type=float, default=0.0, help="skip the first S seconds")
    s.add_argument("--delay", type=float, default=5.0,
                   help="wait at most this long (s) for every topic to have a subscriber")
    s.set_defaults(func=_play)

    s = sub.add_parser("offline", help="run nodes over a bag on a simulated clock")
    s.add_argument("bag", help="input bag (rosbag2 directory, .mcap, .db3 or ROS 1 .bag)")
    s.add_argument("--params", required=True, help="ROS 2 parameters YAML; every node it names is run")
    s.add_argument("--out", required=True, help="MCAP bag to write (inputs and outputs)")
    s.add_argument("--remap", action="append", default=[], metavar="FROM:=TO", help="rename a topic (repeatable)")
    s.add_argument("--node", action="append", default=[], metavar="NAME:=TYPE",
                   help="type of a node name in the params file (e.g. ekf_filter_node:=kalman_fusion_node)")
    s.add_argument("--param", action="append", default=[], metavar="NAME:=VALUE",
                   help="parameter override for every node")
    s.add_argument("--topics", nargs="+", help="read only these bag topics (default: all; after the bag path)")
    s.add_argument("--start", type=float, default=0.0, help="skip the first S seconds of the bag")
    s.set_defaults(func=_offline)

    s = sub.add_parser("sim", help="simulate a ground-vehicle drive with ground truth")
    s.add_argument("--out", required=True, help="MCAP bag to write")
    s.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    s.add_argument("--duration", type=_positive(float), default=240.0, help="seconds of drive (default 240)")
    s.add_argument("--imu-orientation", action="store_true", help="IMU reports orientation")
    s.add_argument("--gps-latency", type=float, default=0.1,
                   help="s the receiver stamps each fix after the moment it describes (default 0.1)")
    s.add_argument("--wheel-scale", type=_positive(float), nargs=2, default=[1.02, 1.05], metavar=("SPEED", "YAW_RATE"),
                   help="wheel odometry reads true speed and yaw rate times these (default 1.02 1.05)")
    s.add_argument("--declared-scale", type=_positive(float), nargs=3, default=[1.0, 1.0, 1.0],
                   metavar=("IMU", "ODOM", "GPS"),
                   help="each sensor declares its true covariance times this (default 1 1 1: honest)")
    s.add_argument("--start-yaw", type=float, default=0.0, help="rad, start heading (ENU: 0 east; default 0)")
    s.add_argument("--drive-from", type=float, default=2.0,
                   help="s standing still before driving (default 2; longer than --duration: never moves)")
    s.add_argument("--cruise-speed", type=_positive(float), default=4.0,
                   help="m/s mean forward speed, varying +-37.5%% over 40 s (default 4, a ground robot; "
                        "12 for a car)")
    s.add_argument("--perception", action="store_true",
                   help="objects seen by a camera and a radar instead of the IMU/GPS drive")
    s.add_argument("--scenario", help="perception scenario YAML (default config/perception_scenario.yaml)")
    s.add_argument("--blackout", type=float, nargs=2, metavar=("FROM", "TO"),
                   help="perception: the camera sends dark noise frames from FROM to TO s after the start")
    s.add_argument("--radar-blackout", type=float, nargs=2, metavar=("FROM", "TO"),
                   help="perception: the radar sends empty scans from FROM to TO s after the start")
    s.set_defaults(func=_sim)


def _add_evaluation_commands(sub) -> None:
    _add_eval_command(sub)
    _add_late_command(sub)
    _add_fit_command(sub)


def _add_eval_command(sub) -> None:
    s = sub.add_parser("eval", help="odometry errors against a truth topic (--estimate), "
                                    "classification of camera/radar/early-fused models (--model), or "
                                    "object tracking (--tracking, --tracks)")
    s.add_argument("bag", nargs="+", help="bag with the estimates and the truth (e.g. from fusion offline); "
                                          "--tracking / --tracks: one or more drives, whose objects are then "
                                          "also pooled")
    s.add_argument("--truth", required=True, help="ground-truth topic (nav_msgs/Odometry or objects)")
    s.add_argument("--estimate", action="append", default=[], help="odometry topic to evaluate (repeatable)")
    s.add_argument("--label", action="append", help="table label, once per --estimate (default: the topic)")
    s.add_argument("--baseline", action="append", help="odometry topic shown as a baseline row, e.g. "
                   "/odometry/gps (GPS only) or /wheel/odom (dead reckoning); repeatable (default: every other "
                   "nav_msgs/Odometry topic in the bag)")
    s.add_argument("--plot", help="write a trajectory / error plot (PNG) here")
    s.add_argument("--model", action="append", default=[], help="early-fusion model (repeatable)")
    s.add_argument("--params", help="perception params file (default config/perception.yaml)")
    s.add_argument("--out", help="--model: also write the early_fusion_node output bag here; --tracking: "
                                 "keep the intermediate bags in this directory")
    s.add_argument("--tracking", action="store_true",
                   help="run tracker_node on radar alone, camera alone, both and early-fused objects, plus the "
                        "per-frame early-fusion baseline; GOSPA, MOTA, IDF1, ID switches, RMSE per variant, and "
                        "radar + camera's position and velocity RMSE against each single sensor's, with 95 %% "
                        "intervals over objects")
    s.add_argument("--blackout", type=float, nargs=2, metavar=("FROM", "TO"),
                   help="--tracking: the bag's sensor blackout (s after the simulation start): ids kept across "
                        "it and the belief in each object's true class before, at its end and after")
    s.add_argument("--peer", action="store_true",
                   help="--tracking: also fusion_nodes' core and Stone Soup's GNN tracker on the same frames (with "
                        "association jpda also the core with GNN and Stone Soup's JPDA), each timed per frame "
                        "(Stone Soup: requirements-bench.txt, which make installs; several minutes)")
    s.add_argument("--ceiling", action="store_true",
                   help="--tracking: also radar + only the camera boxes the truth calls clean (one object's, "
                        "centred on it, no other object near): the most better boxes and association could give")
    s.add_argument("--tracks", action="append", default=[],
                   help="score a tracks topic (fusion_msgs/TrackedObjectArray) already in the bag (repeatable)")
    s.set_defaults(func=_eval)


def _add_late_command(sub) -> None:
    s = sub.add_parser("late", help="late-fusion rules compared: on BasicMotions (real smartwatch data) "
                                    "or on a perception drive")
    s.add_argument("what", choices=("basic-motions", "perception", "data"),
                   help="which data set: data = your own labelled recordings (CSV, NPZ or a bag)")
    s.add_argument("source", help="basic-motions: the data directory; perception: a bag from fusion sim "
                                  "--perception; data: a CSV / NPZ long table, one row per sample, or a bag")
    s.add_argument("--modality", action="append", metavar="NAME=COL,COL",
                   help="data: one sensor's channel columns (repeatable, two or more); from a bag "
                        "NAME=TOPIC:FIELD,FIELD (dotted message fields)")
    s.add_argument("--labels", help="data from a bag: CSV of labelled segments (recording, start, end, label, "
                                    "group; seconds of header stamps)")
    s.add_argument("--label", help="data: the column with each recording's class")
    s.add_argument("--group", help="data: the subject / session column: folds never split a group")
    s.add_argument("--recording", help="data: the recording id column (rows of one recording in time order)")
    s.add_argument("--time", help="data: a time column (s) to take the sample rate from")
    s.add_argument("--rate", type=_positive(float), help="data: the sample rate (Hz), if there is no --time")
    s.add_argument("--window-seconds", type=_positive(float), default=2.0,
                   help="data: decision window length (s, default 2)")
    s.add_argument("--window", type=_positive(int), nargs="+", default=[100, 10],
                   help="basic-motions: window lengths in samples (100 = the archive's task)")
    s.add_argument("--bag", dest="out_bag", help="write the decisions (basic-motions, first window) or the "
                   "node outputs (perception) to this bag")
    s.add_argument("--stacking-out", help="basic-motions, data: write the stacking meta-classifier (JSON; data: "
                                          "also each modality's model beside it, .modalities.json)")
    s.add_argument("--truth", help="perception: ground-truth objects topic")
    s.add_argument("--params", help="perception: params file (default config/late_fusion.yaml)")
    s.add_argument("--blackout", type=float, nargs=2, metavar=("FROM", "TO"),
                   help="perception: the bag's camera blackout (s after start), for the table")
    s.set_defaults(func=_late)


def _add_fit_command(sub) -> None:
    s = sub.add_parser("fit", help="fit early-fusion normalisation, projection and classifiers")
    s.add_argument("bag", help="bag with raw camera/radar/IMU data and ground-truth objects")
    s.add_argument("--truth", required=True, help="ground-truth objects: a topic of the bag (PointCloud2 with "
                   "x, y, class_id) or a labels CSV (columns stamp, x, y in base_link, class)")
    s.add_argument("--out", required=True, help="model file to write (JSON)")
    s.add_argument("--params", help="perception params file (default config/perception.yaml)")
    s.add_argument("--projection", choices=("none", "pca", "cca", "mcca"), default="none",
                   help="projection of the stacked features (default none)")
    s.add_argument("--k", type=int, help="PCA components / canonical directions (default: all)")
    s.add_argument("--l2", type=float, default=0.1, help="classifier weight decay")
    s.set_defaults(func=_fit)


def _add_other_commands(sub) -> None:
    s = sub.add_parser("demo", help="simulated drive -> EKF/UKF -> table and plot")
    s.add_argument("--bag", help="your own bag instead of the simulated drive (needs --params)")
    s.add_argument("--params", help="parameters YAML for the nodes (default: the demo's)")
    s.add_argument("--truth", help="--bag: ground-truth odometry topic, if the bag has one")
    s.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    s.add_argument("--out", default="out/demo", help="directory for the table, plots and bags (default out/demo)")
    s.set_defaults(func=_demo)

    s = sub.add_parser("params", help="print the nodes' parameter tables (Markdown)")
    s.add_argument("node", nargs="?", help="only this node")
    s.set_defaults(func=_params)

    s = sub.add_parser("bench", help="every cost next to its baseline, peer and limit, in one run")
    s.add_argument("--duration", type=_positive(float), default=4.0, help="seconds per throughput step (default 4)")
    s.add_argument("--rates", type=_positive(int), nargs="+", default=[500, 1000, 1500, 2000, 2500, 3000],
                   help="IMU message rates (Hz) for the DDS throughput steps (default 500 ... 3000)")
    s.set_defaults(func=_bench)



def main(argv=None) -> int:
    # A kill (a timeout, Ctrl-C in a pipeline) unwinds like an exception, so bags are closed and working
    # directories removed instead of being left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    p = parser()
    _ARGV[:] = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(argv)
    try:
        _existing_inputs(args)
        _output_dirs(args)
        return args.func(args)
    except (UsageError, InputError) as exc:
        p.exit(2, f"fusion {args.cmd}: error: {exc}\n")
    except KeyboardInterrupt:      # Ctrl-C: bags are closed and working directories gone by now (finally blocks)
        p.exit(130, f"fusion {args.cmd}: interrupted\n")


if __name__ == "__main__":
    sys.exit(main())
