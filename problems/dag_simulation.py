"""Random DAGs and structural equation models, following the NOTEARS / DAGMA simulators
(Zheng et al. 2018, Bello et al. 2022, ``utils.simulate_dag`` / ``simulate_linear_sem``).

- ``"ER"``: Erdos-Renyi G(d, m) with exactly m = edges_per_node * d undirected edges,
  oriented along a random order.
- ``"SF"``: directed Barabasi-Albert: every new node sends ``edges_per_node`` edges to older
  nodes picked with probability proportional to in-degree + 1, so the hubs are SINKS (high
  in-degree), as with igraph's ``Barabasi(directed=True)`` used by NOTEARS and DAGMA.
- ``"SF-source"``: optbox's former scale-free orientation (hubs are sources), kept only to
  reproduce old results; ``"ER-p"``: the former Bernoulli(p) ER graph.
Nodes are then randomly permuted so the topological order is hidden.
"""

from __future__ import annotations

import numpy as np

GRAPHS = ("ER", "SF", "ER-p", "SF-source")
NOISES = ("gauss", "exp", "gumbel", "uniform", "logistic")


def _erdos_renyi(d: int, n_edges: int, rng: np.random.Generator) -> np.ndarray:
    pairs = d * (d - 1) // 2
    m = min(int(n_edges), pairs)
    lower = np.flatnonzero(np.tril(np.ones((d, d), dtype=bool), k=-1).ravel())
    chosen = rng.choice(lower, size=m, replace=False)
    B = np.zeros(d * d)
    B[chosen] = 1.0
    return B.reshape(d, d)  # i > j: edge i -> j, acyclic along the reversed index order


def _barabasi_sink(d: int, m: int, rng: np.random.Generator) -> np.ndarray:
    B = np.zeros((d, d))
    indeg = np.zeros(d)
    for t in range(1, d):
        k = min(m, t)
        weights = indeg[:t] + 1.0
        targets = rng.choice(t, size=k, replace=False, p=weights / weights.sum())
        B[t, targets] = 1.0  # new node -> older nodes: the old hubs collect in-edges
        indeg[targets] += 1.0
    return B


def random_dag(d: int, n_edges: int, graph: str, rng: np.random.Generator) -> np.ndarray:
    """Binary adjacency (B[i, j] = 1 means i -> j) of a random DAG of kind ``graph``
    (see the module docstring), rows/columns randomly permuted."""
    kind = graph.upper()
    if kind == "ER":
        B = _erdos_renyi(d, n_edges, rng)
    elif kind == "SF":
        B = _barabasi_sink(d, max(1, int(round(n_edges / d))), rng)
    elif kind == "ER-P":
        p = min(1.0, 2.0 * n_edges / max(d * (d - 1), 1))
        B = np.tril((rng.random((d, d)) < p).astype(float), k=-1)
    elif kind == "SF-SOURCE":
        import networkx as nx

        m = max(1, int(round(n_edges / d)))
        G = nx.barabasi_albert_graph(d, min(m, d - 1), seed=int(rng.integers(2**31)))
        B = np.zeros((d, d))
        for i, j in G.edges():
            B[max(i, j), min(i, j)] = 1.0
        B = B.T  # older nodes (the hubs) point to newer ones: hubs are sources
    else:
        raise ValueError(f"graph must be one of {GRAPHS}, got {graph!r}")
    perm = rng.permutation(d)
    return B[np.ix_(perm, perm)]


def random_weights(B: np.ndarray, rng: np.random.Generator, low: float = 0.5,
                   high: float = 2.0) -> np.ndarray:
    """Weights uniform in ±[low, high] on the support of B."""
    W = rng.uniform(low, high, size=B.shape) * rng.choice([-1.0, 1.0], size=B.shape)
    return W * B


def topological_order(B: np.ndarray) -> list[int]:
    """A topological order of the DAG with adjacency B (Kahn's algorithm)."""
    A = np.asarray(B) != 0
    indeg = A.sum(axis=0).astype(np.int64)
    stack = sorted(np.flatnonzero(indeg == 0).tolist(), reverse=True)
    order = []
    while stack:
        i = stack.pop()
        order.append(i)
        for j in np.flatnonzero(A[i]):
            indeg[j] -= 1
            if indeg[j] == 0:
                stack.append(int(j))
    if len(order) != A.shape[0]:
        raise ValueError("graph has a directed cycle")
    return order


def simulate(
    d: int, n: int, seed: int = 0, graph: str = "ER", edges_per_node: int = 2, sem: str = "gauss",
    equal_variance: bool = True, noise_scale: float | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Samples X (n, d) of a linear SEM X_j = X_pa(j) W_pa(j),j + z_j on a random DAG.

    ``sem`` is the noise z: ``"gauss"`` N(0, s^2), ``"exp"`` Exp(scale s), ``"gumbel"``
    Gumbel(0, s), ``"uniform"`` U(-s, s) (the DAGMA conventions), or ``"logistic"``
    (X_j ~ Bernoulli(sigmoid(X W_j))). Scales s: ``noise_scale`` (a number or one per node),
    else 1 for every node (``equal_variance=True``) or drawn uniformly in [0.5, 2] per node
    (non-equal variances). Returns (X, W_true).
    """
    if sem not in NOISES:
        raise ValueError(f"unknown sem {sem!r}; one of {NOISES}")
    rng = np.random.default_rng(seed)
    B = random_dag(d, edges_per_node * d, graph, rng)
    W = random_weights(B, rng)
    if noise_scale is not None:
        scale = np.broadcast_to(np.asarray(noise_scale, dtype=float), (d,))
    elif equal_variance:
        scale = np.ones(d)
    else:
        scale = rng.uniform(0.5, 2.0, size=d)
    X = np.zeros((n, d))
    for j in topological_order(B):
        mean = X @ W[:, j]
        s = scale[j]
        if sem == "gauss":
            X[:, j] = mean + s * rng.normal(size=n)
        elif sem == "exp":
            X[:, j] = mean + rng.exponential(scale=s, size=n)
        elif sem == "gumbel":
            X[:, j] = mean + rng.gumbel(scale=s, size=n)
        elif sem == "uniform":
            X[:, j] = mean + rng.uniform(-s, s, size=n)
        else:
            X[:, j] = rng.binomial(1, 1.0 / (1.0 + np.exp(-mean))).astype(float)
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
