"""Numba kernels of UDC's TSP conquer stage (Zheng et al. NeurIPS 2024, §4.2): every segment of
the cut tour is an open-path sub-TSP with fixed end points, solved by a small iterated local
search (2-opt / Or-opt descent, then ``kicks`` double-bridge kicks inside the path, each kept only
if the path gets shorter), the segments in parallel (``prange``; they share only their fixed end
nodes). The paper's sub-solver is a neural POMO/ICAM model; this is the classical sub-solver
that stands in for it, run to the same role: near-optimal sub-paths.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from solvers.routing._ls_kernels import dist, local_search

_K_SUB = 8  # neighbour-list width inside a sub-problem


@njit(cache=True, nogil=True)
def _path_length(path, coords, matrix, code):
    total = 0.0
    for i in range(path.size - 1):
        total += dist(coords, matrix, code, path[i], path[i + 1])
    return total


@njit(cache=True, nogil=True)
def _xorshift(state):
    """One step of xorshift64* on ``state[0]``; returns a non-negative int."""
    x = state[0]
    x ^= (x >> np.uint64(12))
    x ^= (x << np.uint64(25))
    x ^= (x >> np.uint64(27))
    state[0] = x
    return int((x * np.uint64(2685821657736338717)) >> np.uint64(33))


@njit(cache=True, nogil=True)
def _sub_neighbours(sub_c, sub_m, code, k):
    """k nearest nodes of every node of a sub-problem (brute force: sub-problems are small)."""
    m = sub_c.shape[0] if code != 5 else sub_m.shape[0]
    nb = np.empty((m, k), dtype=np.int64)
    d = np.empty(m)
    for v in range(m):
        for u in range(m):
            d[u] = np.inf if u == v else dist(sub_c, sub_m, code, v, u)
        order = np.argsort(d)
        for j in range(k):
            nb[v, j] = order[j]
    return nb


@njit(cache=True, nogil=True)
def solve_path(nodes, coords, matrix, code, kicks, seed):
    """Open-path sub-TSP over ``nodes`` (first and last fixed): descent, then ``kicks`` kicks.

    A kick is a double bridge between positions 1 .. m-2 (segments [p1, p2) and [p2, p3)
    swapped), so the end points never move; after the kick only its six end nodes are looked
    at again (don't-look bits). Returns the best order as indices into ``nodes`` and its length.
    """
    m = nodes.size
    if code == 5:
        sub_c = coords
        sub_m = np.empty((m, m))
        for i in range(m):
            for j in range(m):
                sub_m[i, j] = matrix[nodes[i], nodes[j]]
    else:
        sub_m = matrix
        sub_c = np.empty((m, coords.shape[1]))
        for i in range(m):
            sub_c[i] = coords[nodes[i]]
    k = min(_K_SUB, m - 1)
    nb = _sub_neighbours(sub_c, sub_m, code, k)
    best = np.arange(m)
    pos = np.arange(m)
    local_search(best, pos, sub_c, sub_m, code, nb, 1, 1_000_000, np.zeros(m, dtype=np.bool_))
    best_len = _path_length(best, sub_c, sub_m, code)
    if m < 10:
        return best, best_len
    state = np.array([np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1)], dtype=np.uint64)
    cur = np.empty(m, dtype=np.int64)
    look = np.ones(m, dtype=np.bool_)
    for _ in range(kicks):
        p1 = 1 + _xorshift(state) % (m - 3)
        p2 = 1 + _xorshift(state) % (m - 3)
        p3 = 1 + _xorshift(state) % (m - 3)
        a, b, c = min(p1, p2, p3), p1 + p2 + p3 - min(p1, p2, p3) - max(p1, p2, p3), max(p1, p2, p3)
        if a == b or b == c:
            continue
        q = 0
        for i in range(a):
            cur[q] = best[i]
            q += 1
        for i in range(b, c):
            cur[q] = best[i]
            q += 1
        for i in range(a, b):
            cur[q] = best[i]
            q += 1
        for i in range(c, m):
            cur[q] = best[i]
            q += 1
        for i in range(m):
            pos[cur[i]] = i
            look[i] = True
        for i in (a - 1, a, a + c - b - 1, a + c - b, c - 1, c):
            look[cur[i]] = False
        local_search(cur, pos, sub_c, sub_m, code, nb, 1, 1_000_000, look)
        length = _path_length(cur, sub_c, sub_m, code)
        if length < best_len - 1e-9:
            best_len = length
            best[:] = cur
    return best, best_len


@njit(cache=True, parallel=True)
def conquer_pass(tour, coords, matrix, code, segment, kicks, seed):
    """One conquer pass over ``tour`` (already rolled to its cut offset): segments
    [a, a + segment] (sharing their end nodes) solved in parallel; a segment is rewritten only
    if its path got shorter. Returns the number of improved segments."""
    n = tour.size
    starts = np.arange(0, n, segment)
    improved = np.zeros(starts.size, dtype=np.int64)
    for s in prange(starts.size):
        a = starts[s]
        b = min(n, a + segment + 1)
        m = b - a
        if m < 6:
            continue
        nodes = tour[a:b].copy()
        old = _path_length(nodes, coords, matrix, code)
        order, length = solve_path(nodes, coords, matrix, code, kicks, seed * 1_000_003 + s)
        if order[0] == 0 and order[m - 1] == m - 1 and length < old - 1e-9:
            for i in range(1, m - 1):  # interior only: the end nodes are shared and fixed
                tour[a + i] = nodes[order[i]]
            improved[s] = 1
    return improved.sum()
