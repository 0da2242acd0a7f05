"""Partitions of the coordinates into blocks (Nutini, Laradji & Schmidt 2022, §3 and §5).

- fixed blocks of ``block_size`` consecutive coordinates of an order: the index order
  (``fixed``), the coordinates sorted by L_i (``sorted``) or a seeded permutation (``random``);
  ``variable`` blocks are chosen anew each iteration by the rule (:mod:`solvers.bcd.rules`);
- forest blocks (§5, greedy tree blocks): the nodes of a graph split into a few blocks whose
  induced subgraphs are forests (:func:`forest_partition`) — the unlabelled graph of label
  propagation, or the column graph of AᵀA of a sparse design (:func:`column_forests`), so every
  block Hessian is tree-structured and solved by message passing (:mod:`solvers.bcd.trees`);
- colour classes (red-black on a lattice, :func:`greedy_coloring`): independent sets, so the
  block Hessian of label propagation on each class is diagonal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ._forest_kernels import bfs_forest, greedy_forests


def block_order(partition: str, coord_l: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The order of the coordinates that fixed blocks chunk: index order (``fixed``), by
    decreasing L_i (``sorted``), else a seeded permutation."""
    if partition == "fixed":
        return np.arange(coord_l.size)
    if partition == "sorted":
        return np.argsort(-coord_l, kind="stable")
    return rng.permutation(coord_l.size)


def fixed_blocks(order: np.ndarray, block_size: int) -> list[np.ndarray]:
    """Consecutive chunks of ``order`` of at most ``block_size`` coordinates."""
    return [np.asarray(b, dtype=np.int64) for b in np.array_split(order, -(-order.size // block_size))]


def forest_partition(W: Any, order: np.ndarray | None = None) -> list[np.ndarray]:
    """Split the nodes of the symmetric graph ``W`` into a few blocks whose induced subgraphs are
    forests (greedy tree blocks of the paper's §5). Nodes are visited in ``order`` (default: a
    breadth-first order of each component); returns sorted index arrays covering every node once."""
    W = sp.csr_matrix(W)
    n = W.shape[0]
    if W.shape != (n, n):
        raise ValueError(f"W must be square, got shape {W.shape}")
    if n == 0:
        return []
    if order is None:
        order = bfs_order(W)
    order = np.asarray(order, dtype=np.int64)
    if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
        raise ValueError("order must be a permutation of the nodes")
    block = greedy_forests(W.indptr.astype(np.int64), W.indices.astype(np.int64), order)
    return [np.flatnonzero(block == k) for k in range(int(block.max()) + 1)]


def bfs_order(W: sp.csr_matrix) -> np.ndarray:
    """A breadth-first order of the nodes of every component."""
    return bfs_forest(W.indptr.astype(np.int64), W.indices.astype(np.int64),
                      W.data.astype(np.float64))[0]


def tree_structure(W: sp.csr_matrix, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(BFS order, parent, weight to parent) of the forest induced by ``nodes`` (global ids)."""
    sub = sp.csr_matrix(W[nodes][:, nodes])
    order, parent_l, wpar = bfs_forest(sub.indptr.astype(np.int64), sub.indices.astype(np.int64),
                                       sub.data.astype(np.float64))
    parent = np.where(parent_l >= 0, nodes[np.maximum(parent_l, 0)], -1)
    return nodes[order], parent[order], wpar[order]


def column_forests(A: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Greedy forest blocks of the column graph of AᵀA (paper §5, greedy tree blocks): columns j, l
    are adjacent when they share a nonzero row. Returns the blocks (column ids in BFS order) and,
    per block, each column's parent as a position in its block (-1 for roots)."""
    pat = sp.csc_matrix(A, copy=True) if sp.issparse(A) else sp.csc_matrix(np.asarray(A))
    pat.data = np.ones_like(pat.data)
    C = sp.csr_matrix(pat.T @ pat)
    C.setdiag(0)
    C.eliminate_zeros()
    blocks, parents = [], []
    for b in forest_partition(C):
        nodes, parent, _ = tree_structure(C, b)
        pos = np.empty(A.shape[1], dtype=np.int64)
        pos[nodes] = np.arange(nodes.size)
        blocks.append(nodes.astype(np.int64))
        parents.append(np.where(parent >= 0, pos[np.maximum(parent, 0)], -1).astype(np.int64))
    return blocks, parents


def greedy_coloring(W: sp.csr_matrix) -> np.ndarray:
    """Colour classes (independent sets): a 2-colouring (red-black) when the graph is bipartite
    (BFS parity with scipy.sparse.csgraph, linear time), else networkx's greedy largest-first
    colouring."""
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    n = W.shape[0]
    _, comp = connected_components(W, directed=False)
    parity = np.zeros(n, dtype=np.int64)
    seen = np.zeros(n, dtype=bool)
    for root in np.unique(comp, return_index=True)[1]:
        order, pred = breadth_first_order(W, int(root), directed=False, return_predecessors=True)
        seen[order] = True
        for v in order[1:]:
            parity[v] = 1 - parity[pred[v]]
    rows, cols = W.nonzero()
    if np.all(parity[rows] != parity[cols]):
        return parity
    import networkx as nx

    col = nx.greedy_color(nx.from_scipy_sparse_array(W), strategy="largest_first")
    return np.array([col[i] for i in range(n)], dtype=np.int64)
