"""Block coordinate descent: agreement with scikit-learn / scipy, duality gaps, rules, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from problems import (
    InvalidProblemError,
    L1LogisticRegression,
    LabelPropagation,
    Lasso,
    LeastSquares,
    LogisticRegression,
    SoftmaxRegression,
)
from solvers import Status, solve


def _lasso_data(seed: int = 0, n: int = 50, p: int = 80) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, p))
    A[:, 1:] += 0.5 * A[:, :-1]  # correlated columns
    x = np.zeros(p)
    x[:5] = rng.standard_normal(5) * 3
    return A, A @ x + 0.1 * rng.standard_normal(n)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("frac", [0.1, 0.01])
def test_lasso_matches_sklearn(sparse: bool, frac: float) -> None:
    sk = pytest.importorskip("sklearn.linear_model")
    A, b = _lasso_data()
    pb0 = Lasso(A, b)
    alpha = frac * pb0.alpha_max()
    pb = Lasso(sp.csc_matrix(A) if sparse else A, b, alpha=alpha)
    res = solve(pb, "bcd", tol=1e-13)
    assert res.status is Status.CONVERGED
    ref = sk.Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=200_000).fit(A, b).coef_
    assert np.max(np.abs(res.solution - ref)) < 1e-6
    assert pb.duality_gap(res.solution) <= 1e-10 * abs(res.objective) + 1e-14
    assert res.objective <= pb.objective(ref) + 1e-10
    assert 1 <= res.stats["active_set_iteration"] <= res.iterations


@pytest.mark.parametrize("sparse", [False, True])
def test_l1_logistic_matches_liblinear(sparse: bool) -> None:
    sk = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(1)
    A = rng.standard_normal((80, 30))
    y = np.sign(A[:, :3].sum(axis=1) + 0.5 * rng.standard_normal(80))
    pb0 = L1LogisticRegression(A, y)
    alpha = 0.05 * pb0.alpha_max()
    pb = L1LogisticRegression(sp.csc_matrix(A) if sparse else A, y, alpha=alpha)
    res = solve(pb, "bcd", tol=1e-13)
    assert res.status is Status.CONVERGED
    n = A.shape[0]
    ref = sk.LogisticRegression(C=1.0 / (alpha * n), l1_ratio=1.0, solver="liblinear", fit_intercept=False,
                                tol=1e-12, max_iter=100_000, random_state=0).fit(A, y).coef_.ravel()
    assert np.max(np.abs(res.solution - ref)) < 1e-6
    gap = pb.duality_gap(res.solution)
    assert 0 <= gap <= 1e-10
    # the gap certifies suboptimality of any point: f(x) - f* <= gap(x)
    x_bad = ref + 0.01
    assert pb.objective(x_bad) - res.objective <= pb.duality_gap(x_bad) + 1e-12


def test_l1_above_alpha_max_gives_zero() -> None:
    A, b = _lasso_data(2)
    pb = Lasso(A, b, alpha=1.01 * Lasso(A, b).alpha_max())
    res = solve(pb, "bcd")
    assert res.status is Status.CONVERGED and not np.any(res.solution)


def test_bcd_is_default_for_l1() -> None:
    A, b = _lasso_data(3)
    assert solve(Lasso(A, b)).method == "bcd"


def _smooth_problems() -> list:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((40, 12))
    b = rng.standard_normal(40)
    return [LeastSquares(A, b, l2=0.1), LogisticRegression(A, np.sign(b), l2=1.0),
            SoftmaxRegression(A, rng.integers(0, 3, 40), l2=1.0)]


@pytest.mark.parametrize("rule", ["cyclic", "random", "lipschitz", "gs", "gsl", "gsq"])
@pytest.mark.parametrize("update", ["gradient", "newton"])
def test_smooth_rules_decrease_and_converge(rule: str, update: str) -> None:
    for pb in _smooth_problems():
        res = solve(pb, "bcd", rule=rule, update=update, block_size=4, seed=0, tol=1e-7, time_limit=20)
        objs = [h[1] for h in res.history]
        assert objs and all(b <= a + 1e-10 * max(1.0, abs(a)) for a, b in zip(objs, objs[1:]))
        ref = solve(pb, "lbfgs", tol=1e-12)
        assert res.status is Status.CONVERGED
        assert res.objective <= ref.objective + 1e-8 * max(1.0, abs(ref.objective))


def test_least_squares_matches_lstsq() -> None:
    rng = np.random.default_rng(4)
    A = rng.standard_normal((30, 10))
    b = rng.standard_normal(30)
    res = solve(LeastSquares(A, b), "bcd", tol=1e-10)
    assert np.max(np.abs(res.solution - np.linalg.lstsq(A, b, rcond=None)[0])) < 1e-6


def test_logistic_matches_sklearn() -> None:
    sk = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(5)
    A = rng.standard_normal((60, 8))
    y = np.sign(A[:, 0] + rng.standard_normal(60))
    res = solve(LogisticRegression(A, y, l2=1.0), "bcd", tol=1e-10)
    ref = sk.LogisticRegression(C=1.0, fit_intercept=False, tol=1e-12, max_iter=10_000).fit(A, y).coef_.ravel()
    assert np.max(np.abs(res.solution - ref)) < 1e-6


@pytest.mark.parametrize("rule", ["cyclic", "random", "gs"])
def test_label_propagation_matches_direct_solve(rule: str) -> None:
    pb = LabelPropagation.lattice(12, n_labelled=6, n_classes=2, seed=0)
    res = solve(pb, "bcd", rule=rule, seed=0, tol=1e-10, partition="red-black")
    assert res.status is Status.CONVERGED
    L = pb.laplacian()
    unl, lab = pb.unlabelled, np.flatnonzero(pb.labels >= 0)
    Y = pb.clamped()
    from scipy.sparse.linalg import spsolve

    X_u = spsolve(sp.csc_matrix(L[unl][:, unl]), -(L[unl][:, lab] @ Y[lab]))
    assert np.max(np.abs(res.solution[unl] - X_u)) < 1e-6
    assert res.stats["n_colors"] == 2  # red-black on a lattice


def test_bad_inputs() -> None:
    A, b = _lasso_data()
    with pytest.raises(InvalidProblemError):
        Lasso(A, b, alpha=-1.0)
    bad = A.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InvalidProblemError):
        Lasso(bad, b)
    with pytest.raises(InvalidProblemError):
        Lasso(A, b[:-1])
    with pytest.raises(InvalidProblemError):
        L1LogisticRegression(A, np.where(b > 0, 1.0, 0.0))
    with pytest.raises(ValueError, match="rule"):
        solve(Lasso(A, b), "bcd", rule="nope")
    with pytest.raises(ValueError, match="update"):
        solve(_smooth_problems()[0], "bcd", update="nope")
    with pytest.raises(ValueError, match="block_size"):
        solve(_smooth_problems()[0], "bcd", block_size=0)
