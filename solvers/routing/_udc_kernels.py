"""Numba kernel for the random-insertion start (UDC ablation)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def random_insertion_kernel(coords, order):
    """Insert ``order[k]`` at the cheapest position of the current tour (linked list), O(n^2)."""
    n = order.size
    nxt = np.empty(n, dtype=np.int64)
    a, b = order[0], order[1 % n]
    nxt[a] = b
    nxt[b] = a
    members = np.empty(n, dtype=np.int64)
    members[0], members[1] = a, b
    m = 2
    for t in range(2, n):
        c = order[t]
        best = np.inf
        at = a
        for q in range(m):
            i = members[q]
            j = nxt[i]
            d = (np.hypot(coords[i, 0] - coords[c, 0], coords[i, 1] - coords[c, 1])
                 + np.hypot(coords[c, 0] - coords[j, 0], coords[c, 1] - coords[j, 1])
                 - np.hypot(coords[i, 0] - coords[j, 0], coords[i, 1] - coords[j, 1]))
            if d < best:
                best = d
                at = i
        nxt[c] = nxt[at]
        nxt[at] = c
        members[m] = c
        m += 1
    tour = np.empty(n, dtype=np.int64)
    cur = order[0]
    for t in range(n):
        tour[t] = cur
        cur = nxt[cur]
    return tour
