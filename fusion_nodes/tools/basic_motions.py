# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""``fusion late basic-motions``: late fusion on real smartwatch data (BasicMotions, UEA archive).

Two modalities, a 3-axis accelerometer and a 3-axis gyroscope (10 Hz, 10 s series, four
activities), through the general own-data path of :mod:`.own_data` (scikit-learn underneath): the
window features, ``StandardScaler`` + ``LogisticRegression`` with ``C`` chosen by group-aware
cross-validated log-loss on TRAIN (each series its own group, so windows of one series never vouch
for each other across folds), out-of-fold TRAIN probabilities for the reliability weights and the
stacking meta-classifier, every rule scored on the archive's TEST split.

``window`` splits each series into non-overlapping windows of that many samples (a decision every
window, as a streaming node would make them); 100 is the archive's own task (one decision per 10 s
series).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import own_data

MODALITIES = {"accelerometer": slice(0, 3), "gyroscope": slice(3, 6)}
RATE = 10.0   # Hz, the archive's sample rate


def load_ts(path):
    """An sktime/aeon ``.ts`` file -> ``X`` (n, dims, length), ``y`` (n,), class names."""
    X, y, classes = [], [], None
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.lower().startswith("@classlabel"):
            classes = line.split()[2:]
        if not line or line[0] in "@#":
            continue
        *dims, label = line.split(":")
        X.append([[float(v) for v in d.split(",")] for d in dims])
        y.append(classes.index(label))
    return np.array(X), np.array(y), classes


def windows(X, y, length: int):
    """Non-overlapping windows of ``length`` samples; labels repeated."""
    n = X.shape[2] // length
    W = X[:, :, : n * length].reshape(len(X), X.shape[1], n, length).transpose(0, 2, 1, 3)
    return W.reshape(-1, X.shape[1], length), np.repeat(y, n)


def features(X, dims: slice) -> np.ndarray:
    """The per-modality window features (:func:`.own_data.features`)."""
    return own_data.features(X[:, dims, :])


def evaluate(data_dir, window: int = 100, stacking_out=None):
    """Per-modality and per-rule TEST accuracy; returns (rows, test probabilities, y_test, classes, weights, C)."""
    Xtr, ytr, classes = load_ts(Path(data_dir) / "BasicMotions_TRAIN.ts")
    Xte, yte, _ = load_ts(Path(data_dir) / "BasicMotions_TEST.ts")
    n_tr, n_te = Xtr.shape[2] // window, Xte.shape[2] // window
    (Xtr, ytr), (Xte, yte) = windows(Xtr, ytr, window), windows(Xte, yte, window)
    groups = np.concatenate([np.repeat(np.arange(len(Xtr) // n_tr), n_tr),
                             1000 + np.repeat(np.arange(len(Xte) // n_te), n_te)]).astype(str)
    X = np.concatenate([Xtr, Xte])
    F = {m: features(X, sl) for m, sl in MODALITIES.items()}
    y = np.concatenate([ytr, yte])
    test = np.arange(len(y)) >= len(ytr)
    rows, (fold,) = own_data.evaluate(F, y, groups, len(classes), test_mask=test)
    if stacking_out:
        from fusion_nodes.core.late_fusion import save_stacking
        save_stacking(fold.stacking, stacking_out, classes, list(MODALITIES))
    return rows, fold.probabilities, yte, classes, dict(zip(MODALITIES, fold.weights)), fold.C


table = own_data.table
TOPIC = "/basic_motions/{}/decision"
TRUTH_TOPIC = "/basic_motions/truth"


def write_bag(P: dict, y, classes, window: int, out) -> int:
    """TEST decisions as a replayable bag (:func:`.own_data.write_decisions`), one set every window."""
    return own_data.write_decisions(P, y, classes, window / RATE, out, "/basic_motions")


def report(data_dir, windows_=(100, 10), bag=None, stacking_out=None) -> str:
    """``fusion late basic-motions``: a table per window length; optionally the bag of the first."""
    out = []
    for j, window in enumerate(windows_):
        rows, P, y, classes, w_rel, C = evaluate(data_dir, window, stacking_out if j == 0 else None)
        out += [f"### window {window} samples ({window / RATE:g} s): {len(y)} TEST decisions; "
                f"C (scikit-learn, 1 / weight decay) {C}; reliability weights "
                + ", ".join(f"{m} {v:.2f}" for m, v in w_rel.items()), "", table(rows, len(y)), ""]
        if bag and j == 0:
            n = write_bag(P, y, classes, window, bag)
            out.append(f"wrote {n} messages to {bag}\n")
    return "\n".join(out)
