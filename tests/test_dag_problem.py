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


@pytest.mark.parametrize("sem", ["gauss", "exp", "gumbel"])
def test_simulated_noise_has_unit_scale_residuals(sem):
    X, W = simulate(8, 20_000, seed=1, sem=sem)
    resid = X - X @ W
    scale = {"gauss": 1.0, "exp": 1.0, "gumbel": np.pi**2 / 6}[sem]
    np.testing.assert_allclose(resid.var(axis=0), scale, rtol=0.06)


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
    assert p.loss_value(W) == pytest.approx(0.5 / 500 * np.sum((X - X @ W) ** 2))


@pytest.mark.parametrize(
    "X,kwargs,match",
    [
        (np.ones((1, 3)), {}, "at least 2 samples"),
        (np.column_stack([np.arange(5.0), np.ones(5)]), {}, "constant"),
        (np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 0.0]]), {}, "(?i)nan|finite"),
        (np.array([[0.0, 1.0], [0.5, 0.0], [1.0, 1.0]]), {"loss": "logistic"}, "binary"),
        (np.random.default_rng(0).normal(size=(5, 2)), {"loss": "hinge"}, "loss"),
        (np.random.default_rng(0).normal(size=(5, 2)), {"lambda1": -1.0}, "lambda1"),
    ],
)
def test_bad_input_gives_clear_errors(X, kwargs, match):
    with pytest.raises(InvalidProblemError, match=match):
        DAGLearning(X, **kwargs)
