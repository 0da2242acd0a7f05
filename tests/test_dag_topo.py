"""TOPO and NOTEARS: recovery on small graphs, acyclicity, inner fits, monotone swaps."""

from __future__ import annotations

import numpy as np
import pytest

from problems import DAGLearning, InvalidProblemError
from problems.dag import is_dag
from problems.dag_simulation import simulate, structural_hamming_distance
from solvers import Status, solve
from solvers.context import SolveContext
from solvers.dag.inner import NodeFitter
from solvers.dag.topo import OrderSearch, acyclicity_gradient, candidate_sizes


@pytest.mark.parametrize("graph, k, seed", [("ER", 2, 0), ("SF", 4, 1), ("ER", 2, 2)])
def test_topo_recovers_small_graphs(graph, k, seed):
    problem = DAGLearning.random(12, n=1000, seed=seed, graph=graph, edges_per_node=k)
    result = solve(problem, "topo", seed=0)
    assert result.status == Status.CONVERGED and result.stats["local_minimum"]
    assert is_dag(result.solution)
    assert structural_hamming_distance(result.solution, problem.true_graph)["shd"] == 0
    assert result.objective <= problem.objective(problem.true_graph) * 1.005


def test_inner_fit_equals_least_squares_regression():
    sklearn = pytest.importorskip("sklearn.linear_model")
    problem = DAGLearning.random(6, n=400, seed=3)
    fitter = NodeFitter(problem, l2=0.0)
    parents = np.array([4, 0, 2])
    loss, w = fitter.fit(5, parents)
    reg = sklearn.LinearRegression(fit_intercept=False).fit(problem.X[:, parents], problem.X[:, 5])
    np.testing.assert_allclose(w, reg.coef_, rtol=1e-8, atol=1e-10)
    resid = problem.X[:, 5] - problem.X[:, parents] @ reg.coef_
    assert loss == pytest.approx(0.5 * np.mean(resid**2), rel=1e-8)


def test_swaps_never_increase_the_score():
    problem = DAGLearning.random(10, n=500, seed=5)
    seen = []
    solve(problem, "topo", seed=1, n_restarts=1, callback=lambda info: seen.append(info["objective"]))
    assert len(seen) >= 2
    assert all(b <= a + 1e-12 for a, b in zip(seen, seen[1:]))


def test_swap_gain_matches_full_refit():
    problem = DAGLearning.random(8, n=300, seed=6)
    fitter = NodeFitter(problem)
    search = OrderSearch(fitter, np.random.default_rng(0).permutation(8))
    before = search.score
    i, j = int(search.order[1]), int(search.order[6])
    gain = search.swap_gain(i, j)
    search.apply_swap(i, j)
    fresh = OrderSearch(fitter, search.order)
    assert fresh.score == pytest.approx(search.score, rel=1e-12)
    assert before - search.score == pytest.approx(gain, rel=1e-9, abs=1e-12)


def test_acyclicity_gradient_vanishes_exactly_on_acyclic_additions():
    W = np.zeros((4, 4))
    W[0, 1] = W[1, 2] = 0.5  # 0 -> 1 -> 2, 3 isolated
    G = acyclicity_gradient(W)
    assert G[2, 0] > 0 and G[1, 0] > 0  # adding 2 -> 0 or 1 -> 0 closes a cycle
    assert G[0, 2] == 0 and G[3, 0] == 0  # these additions keep the graph acyclic
    small, large = candidate_sizes(50)
    assert small == 75 and large == 50 * 49 // 2


def test_topo_as_post_processing_of_a_given_graph():
    problem = DAGLearning.random(10, n=1000, seed=4)
    d = problem.n_nodes
    chain = np.zeros((d, d))
    order = np.random.default_rng(9).permutation(d)
    chain[order[:-1], order[1:]] = 1.0
    result = solve(problem, "topo", init=chain, n_restarts=1)
    assert structural_hamming_distance(result.solution, problem.true_graph)["shd"] == 0
    with pytest.raises(ValueError, match="acyclic"):
        solve(problem, "topo", init=np.ones((d, d)))


def test_logistic_loss_runs_and_stays_acyclic():
    X, B = simulate(6, 1500, seed=2, sem="logistic")
    problem = DAGLearning(X, "logistic", true_graph=B)
    result = solve(problem, "topo", seed=0)
    assert is_dag(result.solution)
    assert np.isfinite(result.objective)


def test_notears_small_graph_then_topo_polish():
    problem = DAGLearning.random(5, n=500, seed=7)
    nt = solve(problem, "notears", lambda1=0.05, time_limit=60)
    assert is_dag(nt.solution)
    polished = solve(problem, "topo", init=nt.solution, n_restarts=1)
    assert polished.objective <= nt.objective + 1e-9
    assert structural_hamming_distance(polished.solution, problem.true_graph)["shd"] == 0


def test_time_limit_and_bad_options():
    problem = DAGLearning.random(60, n=300, seed=1)
    result = solve(problem, "topo", time_limit=1.0)
    assert result.runtime < 2.1 and is_dag(result.solution)
    with pytest.raises(ValueError):
        solve(DAGLearning.random(5, n=100), "topo", n_restarts=0)
    with pytest.raises(InvalidProblemError):
        DAGLearning(np.ones((1, 4)))


def test_context_reuse_is_deterministic():
    problem = DAGLearning.random(15, n=400, seed=8)
    a = solve(problem, "topo", seed=3, n_restarts=3)
    b = solve(problem, "topo", seed=3, n_restarts=3)
    np.testing.assert_array_equal(a.solution, b.solution)
    assert isinstance(SolveContext(seed=1).rng, np.random.Generator)


@pytest.mark.parametrize("method", ["exhaustive", "topo", "notears"])
def test_history_is_the_score_and_the_incumbent_the_result(method: str) -> None:
    problem = DAGLearning.random(5, n=200, seed=0)
    seen = []
    result = solve(problem, method, seed=0, callback=seen.append)
    assert result.history_label == "score"
    assert np.array_equal(seen[-1].incumbent, result.solution)
