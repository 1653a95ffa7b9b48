# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Early-fusion core: classifier, association, model fitting and its JSON round trip."""
import json

import numpy as np
import pytest

from fusion_nodes.core import early_fusion as ef
from fusion_nodes.core.classify import (SoftmaxClassifier, Standardizer, accuracy, balanced_weights,
                                        f1_per_class, fit_softmax)
from fusion_nodes.core.geometry import rpy_to_matrix

# base_link -> optical frame: z forward, x right, y down.
CAM_R = rpy_to_matrix(-np.pi / 2, 0.0, -np.pi / 2)
CAM_T = np.array([1.5, 0.0, 1.4])
K = np.array([[260.0, 0, 160], [0, 260.0, 120], [0, 0, 1]])


def test_softmax_recovers_known_probabilities():
    # Two classes with logit difference 2 z: the fitted model must give p = sigmoid(2 z).
    rng = np.random.default_rng(0)
    z = rng.normal(size=(20000, 1))
    y = (rng.random(20000) < 1 / (1 + np.exp(-2 * z[:, 0]))).astype(int)
    clf = fit_softmax(z, y, 2, l2=0.0)
    p = clf.predict_proba([[0.5]])[0, 1]
    assert p == pytest.approx(1 / (1 + np.exp(-1.0)), abs=0.02)
    assert np.allclose(clf.predict_proba(z[:5]).sum(axis=1), 1.0)


def test_metrics_on_hand_worked_case():
    y, p = [0, 0, 1, 1, 2], [0, 1, 1, 1, 0]
    assert accuracy(y, p) == pytest.approx(0.6)
    # class 0: TP 1, FP 1, FN 1 -> 0.5; class 1: TP 2, FP 1 -> 0.8; class 2: TP 0 -> 0; class 3 absent -> NaN
    f1 = f1_per_class(y, p, 4)
    np.testing.assert_allclose(f1[:3], [0.5, 0.8, 0.0])
    assert np.isnan(f1[3])
    np.testing.assert_allclose(balanced_weights([0, 0, 0, 1], 2), [2 / 3, 2 / 3, 2 / 3, 2.0])


def test_projection_into_the_image():
    # A point 10 m ahead at camera height projects to the principal point; 1 m left -> 26 px left.
    uv, depth = ef.project_to_image([[11.5, 0.0, 1.4], [11.5, 1.0, 1.4], [-5.0, 0.0, 1.4]], CAM_R, CAM_T, K)
    np.testing.assert_allclose(uv[0], [160, 120], atol=1e-9)
    np.testing.assert_allclose(uv[1], [134, 120], atol=1e-9)
    np.testing.assert_allclose(depth, [10.0, 10.0, -6.5])


def test_association_is_globally_optimal_and_gated():
    radar = np.array([[11.5, 0.0, 1.4], [11.5, 1.0, 1.4], [11.5, -8.0, 1.4], [-5.0, 0.0, 1.4]])
    # Box A is centred between both near clusters, box B on cluster 1 only: greedy nearest-first would
    # give cluster 0 or 1 to A arbitrarily; the optimum pairs A-0 and B-1.
    boxes_uv = np.array([[148.0, 120.0], [134.0, 120.0], [300.0, 20.0]])
    boxes_wh = np.array([[40.0, 40.0], [10.0, 10.0], [10.0, 10.0]])
    pairs = ef.associate(boxes_uv, boxes_wh, radar, CAM_R, CAM_T, K, gate=1.5)
    assert sorted(pairs) == [(0, 0), (1, 1)]   # box 2 matches nothing; cluster 3 is behind the camera
    assert ef.associate(boxes_uv[:0], boxes_wh[:0], radar, CAM_R, CAM_T, K) == []
    assert ef.associate(boxes_uv, boxes_wh, radar[:0], CAM_R, CAM_T, K) == []


def _views(n, rng):
    """The same class signal, with independent noise, in camera and radar: each view alone is
    ambiguous; stacked the noise averages out. The views correlate through the class, so CCA and
    multi-set CCA keep the signal.
    """
    y = rng.integers(0, 4, n)
    cam = rng.normal(size=(n, len(ef.CAMERA_INPUTS)))
    rad = rng.normal(size=(n, len(ef.RADAR_INPUTS)))
    imu = rng.normal(size=(n, len(ef.IMU_INPUTS)))
    for view in (cam, rad):
        view[:, 0] += 2.0 * (y % 2)
        view[:, 1] += 2.0 * (y // 2)
    return cam, rad, imu, y


@pytest.mark.parametrize("kind", ef.PROJECTIONS)
def test_fused_model_beats_each_view_and_round_trips_json(tmp_path, kind):
    rng = np.random.default_rng(1)
    train, test = _views(3000, rng), _views(2000, rng)
    model = ef.fit(*train, ("a", "b", "c", "d"), kind)
    cam, rad, imu, y = test
    acc = {m: accuracy(y, model.predict_proba(**kw).argmax(axis=1)) for m, kw in
           (("camera", {"cam": cam}), ("radar", {"rad": rad}), ("fused", {"cam": cam, "rad": rad, "imu": imu}))}
    # Bayes rates: one view 0.84^2 = 0.71, both (d' = 2 sqrt 2) 0.92^2 = 0.85.
    assert acc["camera"] < 0.76 and acc["radar"] < 0.76 and acc["fused"] > 0.80, acc
    path = tmp_path / "m.json"
    model.save(path)
    again = ef.EarlyFusionModel.load(path)
    # Equal up to BLAS summation order (loaded arrays are C-ordered, fitted ones may not be).
    np.testing.assert_allclose(again.predict_proba(cam, rad, imu), model.predict_proba(cam, rad, imu), atol=1e-14)
    np.testing.assert_allclose(again.predict_proba(cam, rad, None), model.predict_proba(cam, rad, None), atol=1e-14)
    assert json.loads(path.read_text())["projection"] == kind


def test_model_file_errors_are_explicit(tmp_path):
    rng = np.random.default_rng(2)
    d = ef.fit(*_views(400, rng), ("a", "b", "c", "d")).to_dict()
    for change, text in (({"format": "pickle"}, "not an early-fusion model"),
                         ({"projection": "lda"}, "unknown projection"),
                         ({"inputs": {"camera": ["x"], "radar": [], "imu": []}}, "different feature inputs")):
        with pytest.raises(ValueError, match=text):
            ef.EarlyFusionModel.from_dict({**d, **change})
    with pytest.raises(ValueError, match="do not match"):
        SoftmaxClassifier.from_dict({"W": [[1.0, 2.0]], "b": [0.0, 1.0]})
    with pytest.raises(ValueError, match="projection must be"):
        ef.fit(*_views(50, rng), ("a", "b", "c", "d"), "ica")
    s = Standardizer.fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    np.testing.assert_allclose(s.transform([[2.0, 5.0]]), [[0.0, 0.0]])  # constant column: scale 1
