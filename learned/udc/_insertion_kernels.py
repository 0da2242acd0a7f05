"""Numba kernels of the random-insertion start (UDC divide stage, the paper's ablation start):
the cheapest-insertion step and the bucket grid it uses.
The step looks only at the tour edges next to the ``K`` nearest nodes already in the tour (a
bucket grid over the unit box), so building a tour costs O(n K) instead of O(n^2)."""

from __future__ import annotations

import numpy as np
from numba import njit

K_NEAR = 8  # tour nodes around which insertion positions are tried


@njit(cache=True, nogil=True)
def grid_new(coords):
    """Bucket grid over the bounding box of ``coords`` with about 2 nodes per cell at the end.
    Returns (cell of every node, head of every cell (-1 = empty), next node in the same cell,
    cells per side, lower-left corner, cell side)."""
    n = coords.shape[0]
    g = max(1, int(np.sqrt(n / 2.0)))
    lo0, lo1 = coords[:, 0].min(), coords[:, 1].min()
    span = max(coords[:, 0].max() - lo0, coords[:, 1].max() - lo1)
    if span <= 0.0:
        span = 1.0
    h = span / g * (1.0 + 1e-9)
    cell = np.empty(n, dtype=np.int64)
    for v in range(n):
        cx = min(g - 1, int((coords[v, 0] - lo0) / h))
        cy = min(g - 1, int((coords[v, 1] - lo1) / h))
        cell[v] = cx * g + cy
    head = np.full(g * g, -1, dtype=np.int64)
    link = np.full(n, -1, dtype=np.int64)
    return cell, head, link, g, h


@njit(cache=True, nogil=True)
def grid_add(v, cell, head, link):
    link[v] = head[cell[v]]
    head[cell[v]] = v


@njit(cache=True, nogil=True)
def _d(coords, i, j):
    return np.hypot(coords[i, 0] - coords[j, 0], coords[i, 1] - coords[j, 1])


@njit(cache=True, nogil=True)
def cheapest_insert(c, coords, cell, head, link, g, h, nxt, prv, near_d, near_v):
    """Insert ``c`` into the tour (doubly linked ``nxt`` / ``prv``) on the edge, among those next
    to the ``K_NEAR`` nearest tour nodes (grid search, rings until no closer node can exist),
    that lengthens the tour least, and add ``c`` to the grid."""
    k = near_d.shape[0]
    cnt = 0
    cx, cy = cell[c] // g, cell[c] % g
    r = 0
    while r <= g:
        for x in range(max(0, cx - r), min(g - 1, cx + r) + 1):
            edge = abs(x - cx) == r
            step = 1 if edge or r == 0 else 2 * r  # ring r only: whole column at the ends
            for y in range(cy - r, cy + r + 1, step):
                if y < 0 or y >= g:
                    continue
                v = head[x * g + y]
                while v >= 0:
                    d = _d(coords, c, v)
                    if cnt < k or d < near_d[cnt - 1]:  # insertion into the sorted top-k
                        q = cnt if cnt < k else k - 1
                        while q > 0 and near_d[q - 1] > d:
                            near_d[q] = near_d[q - 1]
                            near_v[q] = near_v[q - 1]
                            q -= 1
                        near_d[q] = d
                        near_v[q] = v
                        if cnt < k:
                            cnt += 1
                    v = link[v]
        # every node in ring r + 1 or beyond is at least r * h away
        if cnt == k and near_d[k - 1] <= r * h:
            break
        r += 1
    best = np.inf
    at = near_v[0]
    for q in range(cnt):
        i = near_v[q]
        for side in range(2):
            a = prv[i] if side == 0 else i
            b = nxt[a]
            cost = _d(coords, a, c) + _d(coords, c, b) - _d(coords, a, b)
            if cost < best:
                best = cost
                at = a
    b = nxt[at]
    nxt[at] = c
    prv[c] = at
    nxt[c] = b
    prv[b] = c
    grid_add(c, cell, head, link)


@njit(cache=True, nogil=True)
def tour_from_links(nxt, start):
    n = nxt.shape[0]
    tour = np.empty(n, dtype=np.int64)
    cur = start
    for t in range(n):
        tour[t] = cur
        cur = nxt[cur]
    return tour


@njit(cache=True, nogil=True)
def random_insertion_kernel(coords, order):
    """Insert ``order[0], order[1], ...`` one by one, each at its cheapest position next to one of
    its ``K_NEAR`` nearest tour nodes (random insertion when ``order`` is a random permutation)."""
    n = order.size
    cell, head, link, g, h = grid_new(coords)
    nxt = np.empty(n, dtype=np.int64)
    prv = np.empty(n, dtype=np.int64)
    near_d = np.empty(min(K_NEAR, max(1, n - 1)))
    near_v = np.empty(near_d.shape[0], dtype=np.int64)
    a = order[0]
    nxt[a] = a
    prv[a] = a
    grid_add(a, cell, head, link)
    for t in range(1, n):
        cheapest_insert(order[t], coords, cell, head, link, g, h, nxt, prv, near_d, near_v)
    return tour_from_links(nxt, order[0])
