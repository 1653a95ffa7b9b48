# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion late data``: late fusion fitted and evaluated on a user's own labelled recordings.

The data set is a long table (CSV, or NPZ with the same column names as arrays): one row per sample,
with a recording id, a label, a group (the subject or session that must not be split across folds),
optionally a time column, and the channels of each modality. Recordings may differ in length; the
sample rate comes from the time column (median step) or is given.

Each recording is cut into non-overlapping windows of ``window`` seconds; per modality and window the
features are, per channel, mean, standard deviation, minimum, maximum and mean absolute first
difference, plus the mean and standard deviation of the vector magnitude. scikit-learn does the fitting:
``StandardScaler`` + multinomial ``LogisticRegression`` whose ``C`` is chosen by ``GridSearchCV`` with
``StratifiedGroupKFold`` on log-loss (groups never straddle folds, so windows of one subject do not
vouch for each other). Out-of-fold probabilities on the training part calibrate the reliability
weights and fit the stacking meta-classifier (also scikit-learn); the outer evaluation holds out whole
groups too. Models are exported in the package's JSON formats (no pickle): the nodes load them without
scikit-learn.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fusion_nodes.core.classify import Standardizer
from fusion_nodes.core.late_fusion import Decision, Stacking, make_rule, reliability_weights

from .early_fit import softmax_of
from .paths import InputError

C_GRID = np.logspace(-3, 3, 13)          # inverse weight decay (scikit-learn's C), searched on log-loss


@dataclass(frozen=True)
class Recording:
    """One labelled recording: ``data[modality]`` is (samples x channels)."""

    group: str
    label: int
    data: dict


@dataclass(frozen=True)
class DataSet:
    recordings: list
    classes: list
    modalities: list
    rate: float                          # Hz


def _columns(path: Path) -> dict:
    """Column name -> array of strings (CSV) or values (NPZ)."""
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise InputError(f"{path}: needs a header row and data rows")
    head, body = rows[0], rows[1:]
    return {name: np.array([r[i] if i < len(r) else "" for r in body]) for i, name in enumerate(head)}


def _need(cols: dict, name: str, path) -> np.ndarray:
    if name not in cols:
        raise InputError(f"{path}: no column {name!r}; its columns: {', '.join(cols)}")
    return cols[name]


def load(path, modalities: dict, label: str, group: str, recording: str, time: str | None = None,
         rate: float | None = None) -> DataSet:
    """Read a long table into recordings (see the module docstring); ``modalities``: name -> columns."""
    path = Path(path)
    cols = _columns(path)
    try:
        chans = {m: np.column_stack([_need(cols, c, path).astype(float) for c in cs]) for m, cs in modalities.items()}
    except ValueError as exc:
        raise InputError(f"{path}: a channel column is not numeric ({exc})") from None
    rec, lab, grp = (_need(cols, c, path).astype(str) for c in (recording, label, group))
    classes = sorted(set(lab.tolist()))
    t = _need(cols, time, path).astype(float) if time else None
    recordings, steps = [], []
    for r in dict.fromkeys(rec.tolist()):                 # recordings in file order
        idx = np.flatnonzero(rec == r)
        if len(set(lab[idx])) != 1 or len(set(grp[idx])) != 1:
            raise InputError(f"{path}: recording {r} has more than one label or group")
        if t is not None and len(idx) > 1:
            steps.append(np.median(np.diff(t[idx])))
        recordings.append(Recording(grp[idx[0]], classes.index(lab[idx[0]]), {m: x[idx] for m, x in chans.items()}))
    if rate is None:
        if not steps or not np.median(steps) > 0:
            raise InputError(f"{path}: give the sample rate (--rate) or a time column with increasing stamps")
        rate = 1.0 / float(np.median(steps))
    return DataSet(recordings, classes, list(modalities), float(rate))


def features(x: np.ndarray) -> np.ndarray:
    """Window features of one modality: ``x`` (windows x channels x samples) -> (windows x 5 ch + 2)."""
    mag = np.linalg.norm(x, axis=1)
    return np.column_stack([x.mean(2), x.std(2), x.min(2), x.max(2), np.abs(np.diff(x, axis=2)).mean(2),
                            mag.mean(1), mag.std(1)])


def windows(ds: DataSet, seconds: float):
    """``(F: modality -> features, y, groups)`` of every whole window of ``seconds`` in every recording."""
    n = int(round(seconds * ds.rate))
    if n < 2:
        raise InputError(f"a {seconds} s window holds {n} samples at {ds.rate:g} Hz: give a longer --window")
    F = {m: [] for m in ds.modalities}
    y, groups = [], []
    for r in ds.recordings:
        k = len(next(iter(r.data.values()))) // n
        for m in ds.modalities:
            x = r.data[m][: k * n].reshape(k, n, -1).transpose(0, 2, 1)
            F[m].append(features(x))
        y += [r.label] * k
        groups += [r.group] * k
    if not y:
        raise InputError(f"no recording is {seconds} s long: give a shorter --window")
    return {m: np.vstack(v) for m, v in F.items()}, np.array(y), np.array(groups)


def _splitter(groups, k: int = 5):
    from sklearn.model_selection import StratifiedGroupKFold
    n = len(set(groups.tolist()))
    if n < 2:
        raise InputError("group-aware cross-validation needs at least 2 groups (subjects / sessions)")
    return StratifiedGroupKFold(n_splits=min(k, n), shuffle=True, random_state=0)


def fit_modality(F, y, groups):
    """``(fitted pipeline, chosen C, out-of-fold probabilities)`` on the training windows."""
    import warnings

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    search = GridSearchCV(pipe, {"logisticregression__C": C_GRID}, cv=_splitter(groups), scoring="neg_log_loss")
    with warnings.catch_warnings():          # a fold missing a class warns; the log-loss still ranks the grid
        warnings.simplefilter("ignore")
        search.fit(F, y, groups=groups)
        oof = cross_val_predict(search.best_estimator_, F, y, groups=groups, cv=_splitter(groups),
                                method="predict_proba")
    return search.best_estimator_, float(search.best_params_["logisticregression__C"]), oof


def modality_json(pipe, n_classes: int) -> dict:
    """The scaler and classifier of :func:`fit_modality` in the package's JSON layout."""
    scaler, lr = pipe[0], pipe[-1]
    s = Standardizer(np.asarray(scaler.mean_, float), np.asarray(scaler.scale_, float))
    return {"scaler": s.to_dict(), "classifier": softmax_of(lr, n_classes).to_dict()}


def fit_stacking(oof: list, y, n_classes: int, quorum: int = 1) -> Stacking:
    """The stacking meta-classifier (scikit-learn LogisticRegression on the sources' log-probabilities)."""
    from sklearn.linear_model import LogisticRegression
    Z = np.log(np.maximum(np.hstack(oof), 1e-3))
    lr = LogisticRegression(C=1.0, max_iter=5000).fit(Z, y)
    priors = np.bincount(y, minlength=n_classes) / len(y)
    return Stacking(n_classes, quorum, priors, meta=softmax_of(lr, n_classes))


RULES = (("majority vote", "majority", False), ("weighted vote (reliability)", "weighted_vote", True),
         ("average (equal)", "average", False), ("average (reliability)", "average", True),
         ("Bayesian product", "bayes", False))


@dataclass(frozen=True)
class Fold:
    """One split's fitted models and its test decisions."""

    probabilities: dict                  # modality -> test probabilities (windows x classes)
    y: np.ndarray
    weights: np.ndarray                  # reliability weights from the out-of-fold accuracies
    stacking: Stacking
    C: dict                              # modality -> chosen C
    models: dict                         # modality -> fitted pipeline


def fit_and_test(F: dict, y, groups, train, test, n_classes: int) -> Fold:
    """Fit every modality and the rules on ``train`` (boolean mask), predict ``test``."""
    if len(set(y[train].tolist())) < n_classes:
        raise InputError("a training split lacks a class: give more groups, or fewer classes")
    fits = {m: fit_modality(F[m][train], y[train], groups[train]) for m in F}
    acc = np.array([np.mean(fits[m][2].argmax(1) == y[train]) for m in F])
    return Fold({m: fits[m][0].predict_proba(F[m][test]) for m in F}, y[test],
                reliability_weights(acc, n_classes), fit_stacking([fits[m][2] for m in F], y[train], n_classes),
                {m: fits[m][1] for m in F}, {m: fits[m][0] for m in F})


def fuse(fold: Fold, n_classes: int) -> dict:
    """Label -> fused test probabilities of every rule (and each modality alone)."""
    names = list(fold.probabilities)
    out = {f"{m} only": fold.probabilities[m] for m in names}
    ones = np.ones(len(names))
    for label, name, reliability in RULES + (("stacking", None, False),):
        rule = fold.stacking if name is None else make_rule(name, n_classes)
        w = fold.weights if reliability else ones
        out[label] = np.array([rule.fuse([Decision(m, float(i), fold.probabilities[m][i]) for m in names], w)
                               .probabilities for i in range(len(fold.y))])
    return out


def evaluate(F: dict, y, groups, n_classes: int, test_mask=None, folds: int = 5):
    """Accuracy and log-loss per modality and rule; the test windows are whole groups held out (outer
    ``StratifiedGroupKFold``), or ``test_mask`` (a given split). Returns ``(rows, pooled Fold list)``.
    """
    n = np.arange(len(y))
    if test_mask is not None:
        splits = [(~test_mask, test_mask)]
    else:
        splits = [(np.isin(n, tr), np.isin(n, te)) for tr, te in _splitter(groups, folds).split(n, y, groups)]
    from .progress import progress
    done = [fit_and_test(F, y, groups, tr, te, n_classes) for tr, te in progress(splits, len(splits), "folds", "fold")]
    fused = [fuse(f, n_classes) for f in done]
    yy = np.concatenate([f.y for f in done])
    rows = []
    for label in fused[0]:
        P = np.vstack([fu[label] for fu in fused])
        rows.append((label, float(np.mean(P.argmax(1) == yy)),
                     float(-np.log(np.maximum(P[np.arange(len(yy)), yy], 1e-3)).mean()) + 0.0))
    return rows, done


def write_decisions(P: dict, y, classes, period: float, out, prefix: str) -> int:
    """Decisions as a replayable bag: one single-point PointCloud2 per modality per window on
    ``<prefix>/<modality>/decision`` (``score_<class>``, ``class_id``, ``confidence``), stamped ``period`` s
    apart (the window length: the cadence a streaming classifier would have), plus ``<prefix>/truth``.
    """
    from sensor_msgs.msg import PointCloud2
    from std_msgs.msg import Header

    from fusion_nodes.ros import pointcloud
    from fusion_nodes.ros.convert import sec_to_stamp
    from fusion_nodes.ros.decisions import score_columns

    from .bagio import BagWriter
    from .sim import T0
    with BagWriter(out) as w:
        for i in range(len(y)):
            t = T0 + i * period
            header = Header(stamp=sec_to_stamp(t), frame_id="sensor")
            t_ns = int(round(t * 1e9))
            for k, m in enumerate(P):
                cols = score_columns(classes, P[m][i:i + 1])
                w.write(f"{prefix}/{m}/decision", pointcloud.write(PointCloud2(), cols, header), t_ns + k * 1_000_000)
            w.write(f"{prefix}/truth", pointcloud.write(PointCloud2(), {"class_id": np.array([float(y[i])])}, header),
                    t_ns + 5_000_000)
        return w.count


def table(rows, n) -> str:
    lines = [f"| decision | accuracy (n={n}) | log-loss |", "|---|---|---|"]
    lines += [f"| {name} | {acc:.3f} | {nll:.3f} |" for name, acc, nll in rows]
    return "\n".join(lines)


def export(ds: DataSet, F: dict, y, groups, out) -> None:
    """Models fitted on every window, as JSON: each modality's scaler and classifier, and the stacking
    meta-classifier in the format late_fusion_node's ``stacking_model`` loads.
    """
    import json

    from fusion_nodes.core.late_fusion import save_stacking
    fits = {m: fit_modality(F[m], y, groups) for m in F}
    stacking = fit_stacking([fits[m][2] for m in F], y, len(ds.classes))
    save_stacking(stacking, out, ds.classes, ds.modalities)
    models = {"format": "fusion_nodes.modalities/1", "classes": ds.classes, "rate_hz": ds.rate,
              "modalities": {m: {**modality_json(fits[m][0], len(ds.classes)), "C": fits[m][1]} for m in F}}
    Path(out).with_suffix(".modalities.json").write_text(json.dumps(models))


def report(ds: DataSet, seconds: float, bag=None, model_out=None, prefix: str = "/late") -> str:
    """``fusion late data``: the table (whole groups held out), optionally the decisions bag and the models."""
    F, y, groups = windows(ds, seconds)
    rows, folds = evaluate(F, y, groups, len(ds.classes))
    C = {m: sorted({f.C[m] for f in folds}) for m in ds.modalities}
    out = [f"{len(ds.recordings)} recordings, {len(set(groups.tolist()))} groups, {ds.rate:g} Hz, classes "
           f"{ds.classes}; {len(y)} windows of {seconds:g} s; test = whole groups held out "
           f"({len(folds)} folds); C chosen per fold {C}", "", table(rows, len(y)), ""]
    if bag:
        P = {m: np.vstack([f.probabilities[m] for f in folds]) for m in ds.modalities}
        n = write_decisions(P, np.concatenate([f.y for f in folds]), ds.classes, seconds, bag, prefix)
        out.append(f"wrote {n} messages to {bag} (topics {prefix}/<modality>/decision, {prefix}/truth)")
    if model_out:
        export(ds, F, y, groups, model_out)
        out.append(f"wrote {model_out} (stacking) and {Path(model_out).with_suffix('.modalities.json')}")
    return "\n".join(out)
