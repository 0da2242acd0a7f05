"""DAGLearning validation, simulation helpers and metrics (issue 5)."""

from __future__ import annotations

import numpy as np
import pytest

from problems import DAGLearning, InvalidProblemError
from problems.dag_simulation import random_dag, simulate, structural_hamming_distance


@pytest.mark.parametrize("graph,k", [("ER", 2), ("SF", 4)])
def test_generators_give_about_k_d_edges_and_acyclic(graph, k):
    import networkx as nx

    d = 100
    counts = []
    for seed in range(3):
        B = random_dag(d, k * d, graph, np.random.default_rng(seed))
        assert nx.is_directed_acyclic_graph(nx.DiGraph(B))
        assert np.all(np.diag(B) == 0)
        counts.append(B.sum())
    assert 0.85 * k * d <= np.mean(counts) <= 1.1 * k * d


def test_scale_free_hubs_are_sinks_as_in_notears_and_dagma():
    B = random_dag(50, 200, "SF", np.random.default_rng(0))
    indeg, outdeg = B.sum(axis=0), B.sum(axis=1)
    assert outdeg.max() <= 4 and indeg.max() >= 15  # directed Barabasi-Albert: hubs collect in-edges
    old = random_dag(50, 200, "SF-source", np.random.default_rng(0))
    assert old.sum(axis=1).max() >= 15 and old.sum(axis=0).max() <= 4  # the former orientation
    er = random_dag(30, 60, "ER", np.random.default_rng(1))
    assert er.sum() == 60  # G(n, m): exactly m edges


@pytest.mark.parametrize("sem", ["gauss", "exp", "gumbel", "uniform"])
def test_simulated_noise_has_unit_scale_residuals(sem):
    X, W = simulate(8, 20_000, seed=1, sem=sem)
    resid = X - X @ W
    scale = {"gauss": 1.0, "exp": 1.0, "gumbel": np.pi**2 / 6, "uniform": 1 / 3}[sem]
    np.testing.assert_allclose(resid.var(axis=0), scale, rtol=0.06)


def test_non_equal_variances():
    X, W = simulate(8, 20_000, seed=1, equal_variance=False)
    var = (X - X @ W).var(axis=0)
    assert var.min() >= 0.2 and var.max() <= 4.2 and var.max() / var.min() > 1.5


def test_logistic_sem_is_binary():
    X, _ = simulate(6, 300, seed=2, sem="logistic")
    assert set(np.unique(X)) <= {0.0, 1.0}
    DAGLearning(X, loss="logistic")


def test_shd_tpr_fdr_on_hand_example():
    T = np.zeros((4, 4))
    T[0, 1] = T[1, 2] = T[2, 3] = 1
    E = np.zeros((4, 4))
    E[0, 1] = 1  # correct
    E[2, 1] = 1  # reversed
    E[0, 3] = 1  # extra; 2->3 missing
    m = structural_hamming_distance(E, T)
    assert m == {"shd": 3.0, "tpr": pytest.approx(1 / 3), "fdr": pytest.approx(2 / 3), "nnz": 3.0}
    assert structural_hamming_distance(T, T)["shd"] == 0


def test_score_of_true_graph_matches_formula():
    X, W = simulate(10, 500, seed=3)
    p = DAGLearning(X)
    Xc = X - X.mean(axis=0)  # the score is on centred columns
    assert p.loss_value(W) == pytest.approx(0.5 / 500 * np.sum((Xc - Xc @ W) ** 2))
    raw = DAGLearning(X, center=False)
    assert raw.loss_value(W) == pytest.approx(0.5 / 500 * np.sum((X - X @ W) ** 2))


@pytest.mark.parametrize(
    "X,kwargs,match",
    [
        (np.ones((1, 3)), {}, "at least 2 samples"),
        (np.column_stack([np.arange(5.0), np.ones(5)]), {}, "constant"),
        (np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 0.0]]), {}, "(?i)nan|finite"),
        (np.array([[0.0, 1.0], [0.5, 0.0], [1.0, 1.0]]), {"loss": "logistic"}, "binary"),
        (np.random.default_rng(0).normal(size=(5, 2)), {"loss": "hinge"}, "loss"),
        (np.random.default_rng(0).normal(size=(5, 2)), {"lambda1": -1.0}, "lambda1"),
        (np.random.default_rng(0).normal(size=(5, 3)), {"forbidden": [(0, 0)]}, "self-loop"),
        (np.random.default_rng(0).normal(size=(5, 3)), {"forbidden": [(0, 7)]}, "column index"),
        (np.random.default_rng(0).normal(size=(5, 3)), {"required": [("x0", "zz")]}, "unknown node"),
        (np.random.default_rng(0).normal(size=(5, 3)), {"required": [(0, 1), (1, 2), (2, 0)]}, "cycle"),
        (np.random.default_rng(0).normal(size=(5, 3)),
         {"required": [(0, 1)], "forbidden": [(0, 1)]}, "both forbidden and required"),
        (np.random.default_rng(0).normal(size=(5, 3)),
         {"required": [(2, 0)], "tiers": [[0], [1, 2]]}, "earlier tier"),
        (np.random.default_rng(0).normal(size=(5, 3)), {"tiers": [[0], [1]]}, "needs a tier"),
        (np.random.default_rng(0).normal(size=(5, 3)), {"tiers": [[0, 1], [1, 2]]}, "two tiers"),
        (np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), {"loss": "logistic", "standardize": True},
         "standardize"),
    ],
)
def test_bad_input_gives_clear_errors(X, kwargs, match):
    with pytest.raises(InvalidProblemError, match=match):
        DAGLearning(X, **kwargs)
