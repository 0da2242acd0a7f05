"""k-nearest-neighbour candidate lists of a routing instance (KD-tree, or the matrix rows)."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from problems import CVRP, TSP


def neighbour_lists(problem: TSP | CVRP, k: int = 10) -> np.ndarray:
    """k nearest neighbours of every node (by the instance's own lengths where explicit)."""
    n = problem.n_nodes
    k = min(k, n - 1)
    if problem.edge_weight_type == "EXPLICIT":
        M = problem.matrix.copy()
        np.fill_diagonal(M, np.inf)
        return np.argsort(M, axis=1, kind="stable")[:, :k].astype(np.int64)
    coords = problem.coords
    if problem.edge_weight_type == "GEO":
        from problems.distances import geo_radians

        rad = geo_radians(coords)
        coords = np.c_[np.cos(rad[:, 0]) * np.cos(rad[:, 1]), np.cos(rad[:, 0]) * np.sin(rad[:, 1]),
                       np.sin(rad[:, 0])]
    _, idx = cKDTree(coords).query(coords, k=k + 1)
    out = np.empty((n, k), dtype=np.int64)
    for v in range(n):  # drop v itself wherever duplicates put it
        row = [u for u in idx[v] if u != v][:k]
        out[v, : len(row)] = row
        out[v, len(row):] = -1
    return out
