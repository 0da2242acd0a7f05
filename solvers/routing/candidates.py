"""Candidate sets and the start tour of the TSP path: the sparse k-nearest + quadrant graph, the
Held–Karp ascent and α-nearness (``_alpha_kernels``), greedy-edge matching.

Candidate graph: the ``graph_k`` nearest neighbours of every node plus, for planar coordinates,
the two nearest in each quadrant among its 4 ``graph_k`` nearest (the nearest over all points
where that quadrant is empty; Helsgaun 2000 §4.3's quadrant neighbours, which keep clustered
inputs connected), made symmetric, components joined by their shortest links. The ascent runs on
that graph (O(n k) memory); α and the bound then use the complete graph up to DENSE_ALPHA_MAX.
"""

from __future__ import annotations

import time

import numpy as np

from problems import TSP

from . import _alpha_kernels as A
from .neighbours import neighbour_lists

#: α on the complete graph (O(n^2) time) up to this many nodes, else on the sparse graph
DENSE_ALPHA_MAX = 12000
#: Polyak steps towards the greedy tour's length (else LKH's step schedule)
POLYAK = True
#: 1-trees per ascent call (between two checks of the stop criteria)
ASCENT_CHUNK = 50


def candidate_graph(problem: TSP, graph_k: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric sparse graph (CSR: indptr, neighbours, lengths) of k-nearest + quadrant neighbours."""
    n = problem.n_nodes
    wide = neighbour_lists(problem, min(n - 1, 4 * graph_k))
    rows = [wide[:, :graph_k]]
    if problem.coords is not None and problem.edge_weight_type not in ("GEO", "EXPLICIT"):
        c = problem.coords
        valid = wide >= 0
        dx = c[np.where(valid, wide, 0), 0] - c[:, None, 0]
        dy = c[np.where(valid, wide, 0), 1] - c[:, None, 1]
        quad = (dx >= 0).astype(int) * 2 + (dy >= 0).astype(int)
        for q in range(4):
            hit = (quad == q) & valid
            rank = np.cumsum(hit, axis=1)
            for r in (1, 2):
                pick = hit & (rank == r)
                has = pick.any(axis=1)
                col = np.argmax(pick, axis=1)
                picked = np.where(has, wide[np.arange(n), col], -1)
                if r == 1:  # none among the wide neighbours: the nearest over all points
                    picked = _far_quadrant(problem, q, picked)
                rows.append(picked[:, None])
    nb = np.concatenate(rows, axis=1)
    src = np.repeat(np.arange(n), nb.shape[1])
    dst = nb.ravel()
    keep = (dst >= 0) & (dst != src)
    src, dst = _connect(problem, src[keep], dst[keep])
    pairs = np.unique(np.concatenate([np.c_[src, dst], np.c_[dst, src]]), axis=0)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, pairs[:, 0] + 1, 1)
    indptr = np.cumsum(indptr)
    nbr = np.ascontiguousarray(pairs[:, 1], dtype=np.int64)
    base = np.asarray(problem.pair_lengths(pairs[:, 0], pairs[:, 1]), dtype=np.float64)
    return indptr, nbr, base


def _far_quadrant(problem: TSP, q: int, picked: np.ndarray) -> np.ndarray:
    """Fill the nodes with no neighbour in quadrant ``q`` among their wide list (cluster edges)
    by a scan of all points (skipped when that would exceed ~5e7 pair lengths)."""
    miss = np.flatnonzero(picked < 0)
    n = problem.n_nodes
    if miss.size == 0 or miss.size * n > 5e7:
        return picked
    c = problem.coords
    out = picked.copy()
    for v in miss.tolist():
        dx, dy = c[:, 0] - c[v, 0], c[:, 1] - c[v, 1]
        ok = ((dx >= 0) if q >= 2 else (dx < 0)) & ((dy >= 0) if q % 2 else (dy < 0))
        ok[v] = False
        idx = np.flatnonzero(ok)
        if idx.size:
            out[v] = idx[np.argmin(problem.pair_lengths(np.full(idx.size, v), idx))]
    return out


def _connect(problem: TSP, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Join the components of the graph (clusters farther apart than their k nearest): each
    component but the largest gets its two shortest edges to the other nodes."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = problem.n_nodes
    for _ in range(n):
        g = coo_matrix((np.ones(src.size), (src, dst)), shape=(n, n))
        m, label = connected_components(g, directed=False)
        if m == 1:
            break
        big = np.argmax(np.bincount(label))
        extra_s, extra_d = [], []
        for comp in range(m):
            if comp == big:
                continue
            inside = np.flatnonzero(label == comp)
            outside = np.flatnonzero(label != comp)
            if problem.coords is None:
                sub = problem.matrix[np.ix_(inside, outside)]
                near, d = np.argmin(sub, axis=1), np.min(sub, axis=1)
            else:  # the nearest by coordinates (exact for the planar metrics, a proxy for GEO)
                d, near = cKDTree(problem.coords[outside]).query(problem.coords[inside])
            for t in np.argsort(d, kind="stable")[:2]:
                extra_s.append(inside[t])
                extra_d.append(outside[near[t]])
        src = np.concatenate([src, extra_s]).astype(np.int64)
        dst = np.concatenate([dst, extra_d]).astype(np.int64)
    return src, dst


def alpha_candidates(problem: TSP, k: int = 5, graph_k: int = 10, max_iter: int | None = None,
                     graph: tuple | None = None, upper: float | None = None,
                     stop=None) -> tuple[np.ndarray | None, float, dict]:
    """The ``k`` α-nearest candidates of every node (rows sorted by α) after the Held–Karp ascent
    (at most ``max_iter`` 1-trees; None: 10 n), the lower bound w(π) reached (on the complete
    graph up to DENSE_ALPHA_MAX nodes: a valid lower bound; above, the sparse graph's), and
    stats; (None, -inf, ...) for a disconnected graph or when ``stop()`` (checked between
    chunks of ASCENT_CHUNK trees) says so."""
    n = problem.n_nodes
    t0 = time.perf_counter()
    indptr, nbr, base = candidate_graph(problem, graph_k) if graph is None else graph
    scale = float(np.mean(base)) if base.size else 1.0
    iters = 10 * n if max_iter is None else max_iter
    dense = n <= DENSE_ALPHA_MAX
    ub = (float(problem.objective(greedy_tour(problem, (indptr, nbr, base)))) if POLYAK else 0.0) \
        if upper is None else upper
    pi, lam, done = np.zeros(n), 1.0, 0
    while True:  # Polyak's ascent resumes chunk by chunk (LKH's schedule runs in one call)
        step = iters - done if ub <= 0 else min(ASCENT_CHUNK, iters - done)
        cand, bound, it, pi, lam = A.ascent_alpha(indptr, nbr, base, int(step), 0.01 * scale, k,
                                                  True, ub, pi, lam)
        done += it
        if lam <= 0.0 or done >= iters or not np.isfinite(bound):
            break
        if stop is not None and stop():
            return None, -np.inf, {"ascent_iterations": int(done), "stopped": True}
    if not dense:
        cand, bound, _, _, _ = A.ascent_alpha(indptr, nbr, base, 0, 0.01 * scale, k, False, ub, pi, 0.0)
    stats = {"ascent_iterations": int(done), "graph_edges": int(nbr.size // 2)}
    if not np.isfinite(bound):
        return None, -np.inf, stats
    if dense:  # α and the bound on the complete graph for the graph's π
        coords = problem.coords if problem.coords is not None else np.zeros((n, 2))
        matrix = problem.matrix if problem.matrix is not None else np.zeros((1, 1))
        cand, bound = A.alpha_dense(coords, matrix, problem.distance_code, pi, k)
    stats["alpha_seconds"] = time.perf_counter() - t0
    stats["alpha_graph"] = "complete" if dense else "sparse"
    if cand.shape[0] != n:
        return None, -np.inf, stats
    return cand, float(bound), stats


def greedy_tour(problem: TSP, graph: tuple | None = None) -> np.ndarray:
    """Greedy-edge start without compiled code (Johnson & McGeoch's best start for LK): the
    candidate-graph edges by length, each kept if both ends have degree < 2 and it closes no
    cycle; the fragments are then chained end to nearest free end."""
    n = problem.n_nodes
    indptr, nbr, base = candidate_graph(problem) if graph is None else graph
    src = np.repeat(np.arange(n), np.diff(indptr))
    keep = src < nbr
    a, b, w = src[keep], nbr[keep], base[keep]
    order = np.argsort(w, kind="stable")
    deg = np.zeros(n, dtype=np.int64)
    root = np.arange(n)
    adj = np.full((n, 2), -1, dtype=np.int64)

    def find(x: int) -> int:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    for e in order.tolist():
        u, v = int(a[e]), int(b[e])
        if deg[u] < 2 and deg[v] < 2:
            ru, rv = find(u), find(v)
            if ru != rv:
                root[ru] = rv
                adj[u, deg[u]] = v
                adj[v, deg[v]] = u
                deg[u] += 1
                deg[v] += 1
    seen = np.zeros(n, dtype=bool)
    tour: list[int] = []

    def walk(start: int) -> int:  # append the fragment from its end ``start``; return its other end
        prev, cur = -1, start
        while True:
            tour.append(cur)
            seen[cur] = True
            nxt = adj[cur, 0] if adj[cur, 0] != prev else adj[cur, 1]
            if nxt < 0 or seen[nxt]:
                return cur
            prev, cur = cur, int(nxt)

    ends = np.flatnonzero(deg < 2)
    end = walk(int(ends[0]) if ends.size else 0)
    while len(tour) < n:
        free = ends[~seen[ends]]
        d = problem.pair_lengths(np.full(free.size, end), free)
        end = walk(int(free[int(np.argmin(d))]))
    return np.asarray(tour, dtype=np.int64)


def graph_candidates(graph: tuple, k: int) -> np.ndarray:
    """The ``k`` shortest edges of every node in the candidate graph (nearest + quadrant
    neighbours; n × k, -1 where a node has fewer): compile-free candidates for a first call."""
    indptr, nbr, base = graph
    n = indptr.size - 1
    rows = np.repeat(np.arange(n), np.diff(indptr))
    order = np.lexsort((base, rows))
    rank = np.arange(order.size) - indptr[rows[order]]
    keep = rank < k
    out = np.full((n, k), -1, dtype=np.int64)
    out[rows[order][keep], rank[keep]] = nbr[order][keep]
    return out
