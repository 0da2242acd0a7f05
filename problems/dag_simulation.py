"""Random DAGs and structural equation models (the NOTEARS/TOPO benchmark protocol)."""

from __future__ import annotations

import numpy as np


def random_dag(d: int, n_edges: int, graph: str, rng: np.random.Generator) -> np.ndarray:
    """Binary adjacency of a random DAG: ``"ER"`` (Erdos-Renyi) or ``"SF"`` (Barabasi-Albert),
    with rows/columns randomly permuted so the topological order is hidden."""
    import networkx as nx

    if graph.upper() == "ER":
        p = min(1.0, 2.0 * n_edges / max(d * (d - 1), 1))
        B = np.tril((rng.random((d, d)) < p).astype(float), k=-1)
    elif graph.upper() == "SF":
        m = max(1, int(round(n_edges / d)))
        G = nx.barabasi_albert_graph(d, min(m, d - 1), seed=int(rng.integers(2**31)))
        B = np.zeros((d, d))
        for i, j in G.edges():
            B[max(i, j), min(i, j)] = 1.0  # newer nodes point to older hubs' parents
        B = B.T
    else:
        raise ValueError(f"graph must be 'ER' or 'SF', got {graph!r}")
    perm = rng.permutation(d)
    return B[np.ix_(perm, perm)]


def random_weights(B: np.ndarray, rng: np.random.Generator, low: float = 0.5,
                   high: float = 2.0) -> np.ndarray:
    """Weights uniform in ±[low, high] on the support of B."""
    W = rng.uniform(low, high, size=B.shape) * rng.choice([-1.0, 1.0], size=B.shape)
    return W * B


def simulate(
    d: int, n: int, seed: int = 0, graph: str = "ER", edges_per_node: int = 2, sem: str = "gauss",
) -> tuple[np.ndarray, np.ndarray]:
    """Samples X (n, d) of a linear SEM X_j = X_pa(j) W_pa(j),j + noise on a random DAG.

    ``sem``: ``"gauss"``, ``"exp"``, ``"gumbel"`` (unit-scale noise) or ``"logistic"``
    (X_j ~ Bernoulli(sigmoid(X W_j))). Returns (X, W_true).
    """
    import networkx as nx

    rng = np.random.default_rng(seed)
    B = random_dag(d, edges_per_node * d, graph, rng)
    W = random_weights(B, rng)
    order = list(nx.topological_sort(nx.DiGraph(B)))
    X = np.zeros((n, d))
    for j in order:
        mean = X @ W[:, j]
        if sem == "gauss":
            X[:, j] = mean + rng.normal(size=n)
        elif sem == "exp":
            X[:, j] = mean + rng.exponential(size=n)
        elif sem == "gumbel":
            X[:, j] = mean + rng.gumbel(size=n)
        elif sem == "logistic":
            X[:, j] = rng.binomial(1, 1.0 / (1.0 + np.exp(-mean))).astype(float)
        else:
            raise ValueError(f"unknown sem {sem!r}")
    return X, W


def structural_hamming_distance(W_est: np.ndarray, W_true: np.ndarray) -> dict[str, float]:
    """SHD (extra + missing + reversed edges), TPR, FDR and edge count, as in NOTEARS'
    ``count_accuracy``: a reversed edge counts once."""
    E = np.asarray(W_est) != 0
    T = np.asarray(W_true) != 0
    pred = set(zip(*np.nonzero(E)))
    true = set(zip(*np.nonzero(T)))
    reversed_ = {(i, j) for (i, j) in pred if (j, i) in true and (i, j) not in true}
    correct = pred & true
    extra = pred - true - reversed_
    missing = {(i, j) for (i, j) in true if (i, j) not in pred and (j, i) not in pred}
    shd = len(extra) + len(missing) + len(reversed_)
    tpr = len(correct) / max(len(true), 1)
    fdr = (len(extra) + len(reversed_)) / max(len(pred), 1)
    return {"shd": float(shd), "tpr": tpr, "fdr": fdr, "nnz": float(len(pred))}
