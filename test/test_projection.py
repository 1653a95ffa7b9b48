# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""PCA, CCA and multi-set CCA against analytic constructions (exact to 1e-6)."""
import numpy as np
import pytest

from fusion_nodes.core.projection import cca, mcca, pca


def orthonormal_centred(n, k, seed=0):
    """K mean-zero, mutually orthogonal columns of norm sqrt(n - 1): unit sample variance."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, k))
    A -= A.mean(axis=0)
    Q, _ = np.linalg.qr(A)
    return Q * np.sqrt(n - 1)


def test_cca_recovers_constructed_correlations_under_mixing():
    n = 500
    e = orthonormal_centred(n, 6)
    r1, r2 = 0.9, 0.4
    X = np.column_stack([e[:, 0], e[:, 2], e[:, 5]])
    Y = np.column_stack([r1 * e[:, 0] + np.sqrt(1 - r1 ** 2) * e[:, 1],
                         r2 * e[:, 2] + np.sqrt(1 - r2 ** 2) * e[:, 3], e[:, 4]])
    rng = np.random.default_rng(1)
    X = X @ rng.normal(size=(3, 3)) + 5.0        # CCA is invariant to invertible mixing and offsets
    Y = Y @ rng.normal(size=(3, 3)) - 2.0
    res = cca(X, Y)
    np.testing.assert_allclose(res.correlations, [r1, r2, 0.0], atol=1e-6)
    U = res.transform(X, Y)
    C = np.corrcoef(U.T)
    np.testing.assert_allclose(np.diag(C[:3, 3:])[:2], [r1, r2], atol=1e-6)
    np.testing.assert_allclose(np.cov(U[:, :3].T), np.eye(3), atol=1e-6)   # Wx^T Sxx Wx = I


@pytest.mark.parametrize("m,rho", [(3, 0.6), (4, 0.3)])
def test_mcca_top_eigenvalue_for_a_shared_component(m, rho):
    n = 400
    e = orthonormal_centred(n, 2 * m + 1, seed=m)
    rng = np.random.default_rng(5)
    views = []
    for i in range(m):
        shared = np.sqrt(rho) * e[:, 0] + np.sqrt(1 - rho) * e[:, 1 + i]
        V = np.column_stack([shared, e[:, 1 + m + i]])
        views.append(V @ rng.normal(size=(2, 2)))
    res = mcca(views, k=1)
    assert res.eigenvalues[0] == pytest.approx(1 + (m - 1) * rho, abs=1e-6)


def test_mcca_reduces_to_cca_for_two_views():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(300, 2))
    X = np.column_stack([z[:, 0] + 0.3 * rng.normal(size=300), rng.normal(size=300)])
    Y = np.column_stack([z[:, 0] + 0.5 * rng.normal(size=300), z[:, 1], rng.normal(size=300)])
    rho = cca(X, Y).correlations
    lam = mcca([X, Y], k=2).eigenvalues
    np.testing.assert_allclose(lam - 1, rho[:2], atol=1e-9)


def test_pca_finds_the_dominant_direction():
    e = orthonormal_centred(200, 2)
    X = np.column_stack([3 * e[:, 0], 0.5 * e[:, 1], 3 * e[:, 0]])  # variance 18 along (1, 0, 1)/sqrt(2)
    p = pca(X, 1)
    np.testing.assert_allclose(np.abs(p.components[0]), [np.sqrt(0.5), 0, np.sqrt(0.5)], atol=1e-9)
    assert p.explained_variance[0] == pytest.approx(18.0)
