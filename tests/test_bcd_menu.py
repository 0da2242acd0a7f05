"""Block coordinate descent menu: partitions, GSD / variable-block GSQ, matrix update, the numba
L1 outer step, and the paper's qualitative result (greedy/variable/Newton beats random/fixed/gradient)."""

from __future__ import annotations

import numpy as np
import pytest

from problems import L1LogisticRegression, Lasso, LeastSquares, LogisticRegression, SoftmaxRegression
from solvers import Status, solve
from solvers.bcd._datafit_kernels import l1_gap_and_ws


def _problems() -> list:
    rng = np.random.default_rng(7)
    A = rng.standard_normal((30, 10)) * (1 + 3 * rng.random(10))
    b = rng.standard_normal(30)
    return [LeastSquares(A, b, l2=0.1), LogisticRegression(A, np.sign(b), l2=1.0),
            SoftmaxRegression(A, rng.integers(0, 3, 30), l2=1.0)]


@pytest.mark.parametrize("partition", ["fixed", "sorted", "random", "variable"])
@pytest.mark.parametrize("rule,update", [("gsd", "matrix"), ("gsq", "matrix"), ("random", "matrix"),
                                         ("gsq", "newton"), ("gsl", "newton"), ("lipschitz", "newton")])
def test_menu_decreases_and_reaches_optimum(partition: str, rule: str, update: str) -> None:
    pbs = _problems() if partition == "variable" else _problems()[:2]
    for pb in pbs:
        res = solve(pb, "bcd", rule=rule, update=update, partition=partition, block_size=3, seed=1,
                    tol=1e-6, time_limit=20)
        objs = [h[1] for h in res.history]
        assert objs and all(b <= a + 1e-10 * max(1.0, abs(a)) for a, b in zip(objs, objs[1:]))
        assert res.status is Status.CONVERGED
        ref = solve(pb, "lbfgs", tol=1e-12)
        assert res.objective <= ref.objective + 1e-7 * max(1.0, abs(ref.objective))
        assert res.stats["partition"] == partition


def test_ridge_matches_closed_form_with_variable_gsq() -> None:
    rng = np.random.default_rng(3)
    A = rng.standard_normal((40, 25))
    b = rng.standard_normal(40)
    res = solve(LeastSquares(A, b, l2=0.5), "bcd", rule="gsq", update="matrix", partition="variable",
                block_size=4, tol=1e-10)
    x = np.linalg.solve(A.T @ A + 0.5 * np.eye(25), A.T @ b)
    assert np.max(np.abs(res.solution - x)) < 1e-8


def test_bad_partition() -> None:
    with pytest.raises(ValueError, match="partition"):
        solve(_problems()[0], "bcd", partition="nope")


def test_paper_ordering_on_least_squares() -> None:
    """Paper Fig. 1 (qualitative): after a fixed budget, greedy rules with variable blocks and
    Newton updates are far ahead of random selection with fixed blocks and gradient steps."""
    from benchmarks.bcd import paper_data

    A, b = paper_data("ls", 80, 300, seed=2)
    pb = LeastSquares(A, b, l2=1.0)
    fstar = pb.objective(np.linalg.solve(A.T @ A + np.eye(300), A.T @ b))
    sub = {}
    for key in [("random", "fixed", "gradient"), ("gs", "variable", "newton"), ("gsq", "variable", "newton")]:
        r = solve(pb, "bcd", rule=key[0], partition=key[1], update=key[2], block_size=5, max_iter=150,
                  tol=1e-300, seed=0)
        sub[key] = r.objective - fstar
    assert sub[("gs", "variable", "newton")] < 0.1 * sub[("random", "fixed", "gradient")]
    assert sub[("gsq", "variable", "newton")] < 0.1 * sub[("random", "fixed", "gradient")]


@pytest.mark.parametrize("kind", [0, 1])
def test_numba_gap_matches_problem_gap(kind: int) -> None:
    rng = np.random.default_rng(kind)
    A = np.asfortranarray(rng.standard_normal((40, 60)))
    t = rng.standard_normal(40)
    pb = Lasso(A, t) if kind == 0 else L1LogisticRegression(A, np.sign(t))
    pb.alpha = 0.1 * pb.alpha_max()
    x = np.where(rng.random(60) < 0.2, rng.standard_normal(60), 0.0)
    z = A @ x
    y = t if kind == 0 else np.sign(t)
    dummy = np.zeros(1, dtype=np.int64)
    primal, gap, vmax, ws = l1_gap_and_ws(True, A, dummy, dummy, np.zeros(1), y, x, z, pb.alpha, kind, 5)
    assert primal == pytest.approx(pb.objective(x), rel=1e-10)
    assert gap == pytest.approx(pb.duality_gap(x), rel=1e-8)
    # the working set holds the support plus the largest KKT violations
    assert set(np.flatnonzero(x)) <= set(ws.tolist())
    assert ws.size == max(5, 2 * np.count_nonzero(x)) and np.all(np.diff(ws) > 0)


def test_repeated_solves_reuse_design_cache_and_agree() -> None:
    rng = np.random.default_rng(5)
    A = rng.standard_normal((50, 90))
    b = A[:, :4] @ np.ones(4) + 0.1 * rng.standard_normal(50)
    pb = Lasso(A, b)
    pb.alpha = 0.05 * pb.alpha_max()
    r1 = solve(pb, "bcd", tol=1e-12)
    r2 = solve(pb, "bcd", tol=1e-12)
    assert np.array_equal(r1.solution, r2.solution)
    pb.A = A[:, ::-1].copy()  # a new design invalidates the cache
    r3 = solve(pb, "bcd", tol=1e-12)
    assert np.max(np.abs(r3.solution[::-1] - r1.solution)) < 1e-7


def test_gsq_scores_newton_cg_jacobi_blocks() -> None:
    """GSQ reads M_b⁻¹ of every fixed block, also on the Jacobi blocks newton-cg uses for sparse
    designs (those blocks used to carry none and the run failed)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    A = sp.random(100, 40, density=0.1, random_state=0, format="csc")
    b = rng.standard_normal(100)
    for pb in (LeastSquares(A, b, l2=0.5), LogisticRegression(A, np.sign(b), l2=1.0)):
        ref = solve(pb, "bcd", update="newton", block_size=40, tol=1e-10)
        for rule in ("gsq", "gsd"):
            res = solve(pb, "bcd", update="newton-cg", rule=rule, partition="fixed", block_size=4, tol=1e-8)
            assert res.status is Status.CONVERGED
            assert abs(res.objective - ref.objective) <= 1e-9 * max(1.0, abs(ref.objective))


def test_options_are_declared_per_problem_family() -> None:
    """One bcd entry per family with its own options: the rule choices follow the rule table,
    L1 problems take no block options, and the old ``max_epochs`` is the L1 inner epoch cap."""
    from solvers.bcd.rules import RULES
    from solvers.registry import get_method

    smooth = get_method("bcd", "LeastSquares")
    assert smooth.option("rule").choices == tuple(RULES)
    l1 = get_method("bcd", "Lasso")
    assert l1.option("update").default is None and "partition" not in l1.option_names
    assert l1.option("max_epochs").name == "inner_epochs"
    assert get_method("bcd", "LabelPropagation").option("partition").choices == ("forest", "red-black")
    A = np.random.default_rng(1).standard_normal((30, 12))
    pb = Lasso(A, A[:, 0], alpha=0.01)
    with pytest.warns(DeprecationWarning, match="inner_epochs"):
        old = solve(pb, "bcd", max_epochs=3)
    assert np.array_equal(old.solution, solve(pb, "bcd", inner_epochs=3).solution)
    with pytest.warns(UserWarning, match="unknown option"):
        solve(pb, "bcd", partition="fixed")
