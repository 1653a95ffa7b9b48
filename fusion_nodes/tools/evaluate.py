# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion eval``: accuracy of odometry estimates against a truth topic.

For each estimate topic (nav_msgs/Odometry), the truth is interpolated at the
estimate's header stamps and the errors are summarised: horizontal position
error (m), yaw error (rad), forward-speed error (m/s), and position NEES
``e^T P_xy^-1 e`` with the share of samples inside the two-sided 95 %
chi-square band (2 dof) when the estimate carries a covariance.
"""
from __future__ import annotations

import difflib
import textwrap
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.stats import chi2

from fusion_nodes.core.geometry import quaternion_to_rpy, wrap_angle
from fusion_nodes.ros.convert import stamp_to_sec

from . import bagio
from .paths import InputError


@dataclass
class Track:
    """Odometry samples as arrays: t (s), xy (m), yaw (rad), speed (m/s, horizontal ``|v_xy|``), Pxy (m^2);
    ``frame`` / ``child`` the header's frame_id and the child_frame_id.
    """

    t: np.ndarray
    xy: np.ndarray
    yaw: np.ndarray
    speed: np.ndarray
    Pxy: np.ndarray
    frame: str = ""
    child: str = ""


ODOMETRY = "nav_msgs/msg/Odometry"


def _check_odometry_topics(bag, topics) -> None:
    """Each topic must be in the bag, as nav_msgs/Odometry: else an :class:`InputError` listing what is."""
    have = bagio.topics(bag)
    listing = ", ".join(f"{t} ({m.split('/')[-1]})" for t, (m, _) in sorted(have.items()))
    for topic in topics:
        if topic not in have:
            near = difflib.get_close_matches(topic, list(have), n=1)
            hint = f"did you mean {near[0]}? " if near else ""
            raise InputError(f"{bag} has no topic {topic}; {hint}its topics: {listing}")
        if have[topic][0] != ODOMETRY:
            raise InputError(f"{topic} in {bag} is {have[topic][0]}; odometry evaluation needs {ODOMETRY} "
                             f"(odometry topics here: {', '.join(t for t, (m, _) in have.items() if m == ODOMETRY)})")


def other_odometry(bag, used) -> list[str]:
    """The bag's nav_msgs/Odometry topics not in ``used``: the single-sensor baselines (GPS only, wheels)."""
    return sorted(t for t, (m, _) in bagio.topics(bag).items() if m == ODOMETRY and t not in used)


def load_tracks(bag, topics) -> dict[str, Track]:
    """Read the Odometry ``topics`` of a bag into :class:`Track` arrays."""
    _check_odometry_topics(bag, topics)
    rows = {t: [] for t in topics}
    frames = {}
    for topic, _, msg in bagio.read(bag, topics):
        frames.setdefault(topic, (msg.header.frame_id, msg.child_frame_id))
        p = msg.pose.pose
        yaw = quaternion_to_rpy([p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w])[2]
        cov = np.asarray(msg.pose.covariance).reshape(6, 6)[:2, :2]
        v = msg.twist.twist.linear   # |v_xy| is the same in every frame rotated about z (body or world)
        rows[topic].append((stamp_to_sec(msg.header.stamp), p.position.x, p.position.y, yaw,
                            float(np.hypot(v.x, v.y)), cov))
    tracks = {}
    for topic, r in rows.items():
        if not r:
            raise ValueError(f"no messages on {topic}")
        r.sort(key=lambda row: row[0])
        tracks[topic] = Track(np.array([x[0] for x in r]), np.array([[x[1], x[2]] for x in r]),
                              np.array([x[3] for x in r]), np.array([x[4] for x in r]),
                              np.array([x[5] for x in r]), *frames[topic])
    return tracks


@dataclass
class Errors:
    t: np.ndarray
    pos: np.ndarray
    yaw: np.ndarray
    speed: np.ndarray
    nees: Optional[np.ndarray]


def errors(est: Track, truth: Track) -> Errors:
    """Errors of ``est`` against ``truth`` interpolated at the estimate stamps."""
    keep = (est.t >= truth.t[0]) & (est.t <= truth.t[-1])
    t = est.t[keep]
    txy = np.column_stack([np.interp(t, truth.t, truth.xy[:, i]) for i in range(2)])
    tyaw = np.interp(t, truth.t, np.unwrap(truth.yaw))
    tspeed = np.interp(t, truth.t, truth.speed)
    e = est.xy[keep] - txy
    P = est.Pxy[keep]
    nees = None
    if np.all(np.linalg.det(P) > 0):
        nees = np.einsum("ni,nij,nj->n", e, np.linalg.inv(P), e)
    return Errors(t, np.hypot(e[:, 0], e[:, 1]), np.abs(wrap_angle(est.yaw[keep] - tyaw)),
                  np.abs(est.speed[keep] - tspeed), nees)


def summary(err: Errors) -> dict:
    """RMSE, median and 95th percentile of each error; NEES band share."""
    out = {}
    for name in ("pos", "yaw", "speed"):
        v = getattr(err, name)
        out[name] = (float(np.sqrt(np.mean(v ** 2))), float(np.median(v)), float(np.percentile(v, 95)))
    if err.nees is not None:
        lo, hi = chi2.ppf([0.025, 0.975], 2)
        out["nees_in_band"] = float(np.mean((err.nees >= lo) & (err.nees <= hi)))
        out["nees_mean"] = float(np.mean(err.nees))
    return out


def format_table(results: dict[str, dict], position_only=()) -> str:
    """One row per estimate: position, yaw and speed error statistics.

    Estimates named in ``position_only`` (e.g. raw GPS) show n/a for yaw and speed.
    """
    head = (f"{'estimate':<28} {'pos RMSE':>9} {'pos med':>8} {'pos p95':>8} {'yaw RMSE':>9} "
            f"{'yaw p95':>8} {'spd RMSE':>9} {'NEES in 95%':>12}")
    lines = [head, "-" * len(head)]
    for label, s in results.items():
        skip = label in position_only
        spd = "n/a" if skip else f"{s['speed'][0]:.3f}"
        yaw = (f"{'n/a':>10} {'n/a':>8}" if skip else
               f"{np.degrees(s['yaw'][0]):>7.2f}deg {np.degrees(s['yaw'][2]):>6.2f}deg")
        nees = f"{100 * s['nees_in_band']:.1f} %" if "nees_in_band" in s else "n/a"
        lines.append(f"{label:<28} {s['pos'][0]:>8.3f}m {s['pos'][1]:>7.3f}m {s['pos'][2]:>7.3f}m "
                     f"{yaw} {spd:>9} {nees:>12}")
    return "\n".join(lines + textwrap.wrap(LEGEND, len(head)))


LEGEND = ("pos: horizontal position error (m, RMSE / median / 95th percentile); yaw (deg); spd: horizontal "
          "speed |v_xy| error (m/s). NEES in 95%: the share of samples whose position NEES e^T P^-1 e lies in "
          "the two-sided 95 % chi-square band for 2 dof: a filter whose covariance is honest scores 95 %, an "
          "over-confident one less (its NEES above the band), an over-cautious one less too (below it).")


def frames_note(truth: Track, tracks: dict[str, Track]) -> str:
    """The frames compared, and a warning for every estimate whose position frame is not the truth's."""
    lines = [f"truth: {truth.frame or '?'} -> {truth.child or '?'}"]
    for label, tr in tracks.items():
        lines.append(f"{label}: {tr.frame or '?'} -> {tr.child or '?'}")
        if tr.frame.lstrip("/") != truth.frame.lstrip("/"):
            lines.append(f"  note: {label} is in {tr.frame or '(no frame)'}, the truth in "
                         f"{truth.frame or '(no frame)'}: "
                         "its positions are compared as if the frames coincided (true only where they do, e.g. "
                         "odom = map at the start of a drive that begins at the map origin)")
    return "\n".join(lines)


_STYLES = ("-", "--", "-.", ":")


def _with_gaps(t: np.ndarray, v: np.ndarray):
    """``t, v`` with NaN where samples are missing (a sensor out), so a line is not drawn across the gap."""
    if len(t) < 3:
        return t, v
    dt = np.diff(t)
    cut = np.flatnonzero(dt > 5 * np.median(dt))
    return np.insert(t, cut + 1, np.nan), np.insert(v.astype(float), cut + 1, np.nan)


def plot(tracks: dict[str, Track], truth: Optional[Track], errs: dict[str, Errors], path, shade=()) -> None:
    """Trajectories (left) and position error over time (right) to a PNG.

    The truth is drawn last (on top), GPS fixes as small grey dots beneath, each estimate with its own
    colour and line style (an EKF and a UKF that nearly coincide stay distinguishable), error lines
    broken where an input was out, legends below the axes rather than over the data.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 7))
    k = 0
    for label, tr in tracks.items():
        if "gps" in label.lower():
            ax1.plot(tr.xy[:, 0], tr.xy[:, 1], ".", ms=2, color="0.6", label=label, zorder=1)
        else:
            x, y = _with_gaps(tr.t, tr.xy[:, 0])[1], _with_gaps(tr.t, tr.xy[:, 1])[1]
            ax1.plot(x, y, _STYLES[k % len(_STYLES)], lw=1.4, label=label, zorder=2 + k)
            k += 1
    if truth is not None:
        ax1.plot(truth.xy[:, 0], truth.xy[:, 1], "k-", lw=1.0, alpha=0.9, label="truth", zorder=10)
    ax1.set_xlabel("east (m)")
    ax1.set_ylabel("north (m)")
    ax1.axis("equal")
    ax1.set_title("trajectory (ENU)")
    t0 = truth.t[0] if truth is not None else 0.0
    for i, (label, e) in enumerate(errs.items()):
        t, v = _with_gaps(e.t - t0, e.pos)
        colour = "0.6" if "gps" in label.lower() else None
        ax2.plot(t, v, _STYLES[i % len(_STYLES)], lw=1, color=colour, label=label)
    for lo, hi, text in shade:
        ax2.axvspan(lo, hi, alpha=0.15, color="grey")
        ax2.text(lo, 0.95, text, transform=ax2.get_xaxis_transform(), fontsize=8)
    if errs:
        ax2.set_yscale("log")
    ax2.set_xlabel("time (s)")
    ax2.set_ylabel("horizontal position error (m)")
    ax2.set_title("position error" if errs else "position error: no truth topic given")
    for ax in (ax1, ax2):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate(bag, truth_topic: str, estimates: dict[str, str]):
    """``estimates`` maps label -> topic. Returns (tracks, truth, errors, summaries)."""
    tracks = load_tracks(bag, [truth_topic, *estimates.values()])
    truth = tracks[truth_topic]
    est = {label: tracks[topic] for label, topic in estimates.items()}
    errs = {label: errors(tr, truth) for label, tr in est.items()}
    return est, truth, errs, {label: summary(e) for label, e in errs.items()}


def last_diagnostics(bag, name_prefix: str = "") -> dict[str, dict[str, str]]:
    """The last ``/diagnostics`` status of each name starting with ``name_prefix``.

    Returns ``status name -> {"level": ..., "message": ..., key: value ...}``.
    """
    out = {}
    for _, _, msg in bagio.read(bag, ["/diagnostics"]):
        for st in msg.status:
            if st.name.startswith(name_prefix):
                out[st.name] = {"level": int.from_bytes(st.level, "little") if isinstance(st.level, bytes)
                                else int(st.level), "message": st.message,
                                **{kv.key: kv.value for kv in st.values}}
    return out
