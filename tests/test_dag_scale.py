"""TOPO's all-pairs swap gains (the O(d^3) kernel) against refits, and its lazy swaps."""

from __future__ import annotations

import numpy as np
import pytest

from problems import DAGLearning, InvalidProblemError
from problems.dag_simulation import structural_hamming_distance
from solvers import solve
from solvers.dag.inner import NodeFitter
from solvers.dag.search import CholeskySearch, OrderSearch


@pytest.mark.parametrize("seed", [0, 1])
def test_every_swap_gain_equals_the_refit_difference(seed: int) -> None:
    problem = DAGLearning.random(9, n=300, seed=seed, graph="SF", edges_per_node=2,
                                 equal_variance=False)
    fitter = NodeFitter(problem)
    order = np.random.default_rng(seed).permutation(9)
    fast, slow = CholeskySearch(fitter, order), OrderSearch(fitter, order)
    assert fast.score == pytest.approx(slow.score, rel=1e-10)
    for p in range(9):
        for q in range(p + 1, 9):
            i, j = int(order[p]), int(order[q])
            assert fast.swap_gain(i, j) == pytest.approx(slow.swap_gain(i, j), rel=1e-8, abs=1e-11)


def test_disjoint_swaps_applied_without_refit_keep_the_exact_score() -> None:
    problem = DAGLearning.random(12, n=400, seed=3)
    fitter = NodeFitter(problem)
    search = CholeskySearch(fitter, np.arange(12))
    o = search.order.copy()
    for p, q in ((0, 3), (5, 9), (10, 11)):  # disjoint intervals: gains from one kernel call
        search.apply_swap(int(o[p]), int(o[q]))
    search.apply_swap(int(search.order[2]), int(search.order[6]))  # overlaps: refits first
    fresh = OrderSearch(fitter, search.order)
    assert search.score == pytest.approx(fresh.score, rel=1e-10)
    np.testing.assert_allclose(search.W, fresh.W, atol=1e-9)


@pytest.mark.slow
def test_d300_er2_recovered_quickly() -> None:
    problem = DAGLearning.random(300, n=1000, seed=300)
    result = solve(problem, "topo", seed=0)
    assert structural_hamming_distance(result.solution, problem.true_graph)["shd"] <= 0.02 * 600


# ---------------------------------------------------------------- gauss-nv (Gaussian BIC)
def _nv_problem(d: int = 10, seed: int = 0, **kw) -> DAGLearning:
    return DAGLearning.random(d, n=1000, seed=seed, graph="ER", equal_variance=False, loss="gauss-nv", **kw)


def test_bic_node_fit_is_the_bic_of_its_support() -> None:
    problem = _nv_problem()
    fitter = NodeFitter(problem, l2=0.0)
    X, n = problem.X, problem.n_samples
    parents = np.array([i for i in range(10) if i != 4])
    score, w = fitter.fit(4, parents)
    support = parents[w != 0]
    ref = np.linalg.lstsq(X[:, support], X[:, 4], rcond=None)[0]
    np.testing.assert_allclose(w[w != 0], ref, rtol=1e-6, atol=1e-8)
    resid = np.mean((X[:, 4] - X[:, support] @ ref) ** 2)
    assert score == pytest.approx(0.5 * np.log(resid) + 0.5 * np.log(n) / n * support.size, rel=1e-8)
    for k in range(support.size):  # no single removal lowers the BIC
        rest = np.delete(support, k)
        r = X[:, 4] - X[:, rest] @ np.linalg.lstsq(X[:, rest], X[:, 4], rcond=None)[0]
        assert 0.5 * np.log(np.mean(r**2)) + 0.5 * np.log(n) / n * rest.size > score


def test_gauss_nv_recovers_unequal_variance_graph_and_ignores_units() -> None:
    problem = _nv_problem(12, seed=2)
    result = solve(problem, "topo", seed=0, threshold=0.0)
    assert structural_hamming_distance(result.solution, problem.true_graph)["shd"] <= 1
    order = np.array(result.stats["order"])
    scale = np.random.default_rng(0).uniform(0.01, 100.0, size=12)
    scaled = DAGLearning(problem.data * scale, "gauss-nv")
    again = solve(scaled, "topo", init=order, add_default_starts=False, threshold=0.0)
    np.testing.assert_array_equal(again.solution != 0, result.solution != 0)
    shift = float(np.sum(np.log(scale)))  # Q moves by a constant under column scaling
    assert again.objective == pytest.approx(result.objective + shift, rel=1e-7)


def test_gauss_nv_refusals() -> None:
    with pytest.raises(InvalidProblemError, match="lambda1"):
        _nv_problem(lambda1=0.1)
    problem = _nv_problem(5)
    with pytest.raises(ValueError, match="gauss-nv"):
        solve(problem, "notears")
