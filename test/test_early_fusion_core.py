# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Early-fusion core: classifier, association, model fitting (scikit-learn, tools) and its JSON round trip."""
import json

import numpy as np
import pytest

from fusion_nodes.core import early_fusion as ef
from fusion_nodes.core.classify import SoftmaxClassifier
from fusion_nodes.core.geometry import rpy_to_matrix
from fusion_nodes.tools import early_fit

# base_link -> optical frame: z forward, x right, y down.
CAM_R = rpy_to_matrix(-np.pi / 2, 0.0, -np.pi / 2)
CAM_T = np.array([1.5, 0.0, 1.4])
K = np.array([[260.0, 0, 160], [0, 260.0, 120], [0, 0, 1]])


def test_softmax_recovers_known_probabilities():
    # Two classes with logit difference 2 z: the fitted model must give p = sigmoid(2 z).
    rng = np.random.default_rng(0)
    z = rng.normal(size=(20000, 1))
    y = (rng.random(20000) < 1 / (1 + np.exp(-2 * z[:, 0]))).astype(int)
    clf = early_fit.logistic(z, y, 2, l2=1e-6)
    p = clf.predict_proba([[0.5]])[0, 1]
    assert p == pytest.approx(1 / (1 + np.exp(-1.0)), abs=0.02)
    assert np.allclose(clf.predict_proba(z[:5]).sum(axis=1), 1.0)


def test_the_exported_classifier_gives_scikit_learns_probabilities():
    from sklearn.linear_model import LogisticRegression
    rng = np.random.default_rng(4)
    Z = rng.normal(size=(600, 3))
    y = (Z[:, 0] > 0).astype(int) + 2 * (Z[:, 1] > 0.5)       # classes 0, 1, 2, 3; class 4 never seen
    lr = LogisticRegression(max_iter=2000).fit(Z, y)
    clf = early_fit.softmax_of(lr, 5)
    np.testing.assert_allclose(clf.predict_proba(Z)[:, :4], lr.predict_proba(Z), atol=1e-10)
    assert np.all(clf.predict_proba(Z)[:, 4] < 1e-12)
    binary = LogisticRegression().fit(Z, y % 2)
    np.testing.assert_allclose(early_fit.softmax_of(binary, 2).predict_proba(Z), binary.predict_proba(Z), atol=1e-12)
    # the weight decay keeps its meaning: C = 1 / (l2 n), balanced classes
    balanced = LogisticRegression(C=1 / (0.1 * len(y)), class_weight="balanced", max_iter=5000, tol=1e-8).fit(Z, y)
    np.testing.assert_allclose(early_fit.logistic(Z, y, 4, 0.1).predict_proba(Z), balanced.predict_proba(Z),
                               atol=1e-8)


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
    model = early_fit.fit(*train, ("a", "b", "c", "d"), kind)
    cam, rad, imu, y = test
    acc = {m: np.mean(y == model.predict_proba(**kw).argmax(axis=1)) for m, kw in
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
    d = early_fit.fit(*_views(400, rng), ("a", "b", "c", "d")).to_dict()
    for change, text in (({"format": "pickle"}, "not an early-fusion model"),
                         ({"projection": "lda"}, "unknown projection"),
                         ({"inputs": {"camera": ["x"], "radar": [], "imu": []}}, "different feature inputs")):
        with pytest.raises(ValueError, match=text):
            ef.EarlyFusionModel.from_dict({**d, **change})
    with pytest.raises(ValueError, match="do not match"):
        SoftmaxClassifier.from_dict({"W": [[1.0, 2.0]], "b": [0.0, 1.0]})
    with pytest.raises(ValueError, match="projection must be"):
        early_fit.fit(*_views(50, rng), ("a", "b", "c", "d"), "ica")
    s = early_fit.scaler(np.array([[1.0, 5.0], [3.0, 5.0]]))
    np.testing.assert_allclose(s.transform([[2.0, 5.0]]), [[0.0, 0.0]])  # constant column: scale 1
