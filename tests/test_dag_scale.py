"""TOPO's all-pairs swap gains (the O(d^3) kernel) against refits, and its lazy swaps."""

from __future__ import annotations

import numpy as np
import pytest

from problems import DAGLearning
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
