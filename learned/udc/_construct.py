"""Numba kernel: node-by-node tour construction from a sparse k-NN heatmap (UDC divide stage)."""

from __future__ import annotations

import numpy as np
from numba import njit

from ._insertion_kernels import K_NEAR, cheapest_insert, grid_add, grid_new, tour_from_links


@njit(cache=True, nogil=True)
def _best_slot(logits, neigh, visited, cur):
    """The neighbour slot of ``cur`` with the largest heatmap logit among unvisited k-NN
    (-1 when all are visited) and that logit."""
    best = -1
    mx = -np.inf
    for s in range(neigh.shape[1]):
        u = neigh[cur, s]
        if u >= 0 and not visited[u] and logits[cur, s] > mx:
            mx = logits[cur, s]
            best = s
    return best, mx


@njit(cache=True, nogil=True)
def _nearest_unvisited(coords, visited, cur):
    """The unvisited node closest to ``cur`` (Euclidean on ``coords``): the fallback when every
    k-NN candidate is visited."""
    nxt = -1
    bd = np.inf
    for u in range(visited.shape[0]):
        if not visited[u]:
            dx = coords[u, 0] - coords[cur, 0]
            dy = coords[u, 1] - coords[cur, 1]
            d = dx * dx + dy * dy
            if d < bd:
                bd = d
                nxt = u
    return nxt


@njit(cache=True, nogil=True)
def construct_tour(logits, neigh, coords, start, greedy, seed):
    """Build a tour from ``start``: at every step pick among the unvisited k-NN of the
    current node by the heatmap (argmax if ``greedy`` else softmax sample); when all of
    them are visited, jump to the nearest unvisited node (Euclidean on ``coords``).

    Returns (tour, slot) where ``slot[t]`` is the neighbour slot chosen at step t (-1 when
    the fallback was used) -- what REINFORCE needs to recompute log-probabilities.
    """
    np.random.seed(seed)
    n, k = neigh.shape
    visited = np.zeros(n, dtype=np.bool_)
    tour = np.empty(n, dtype=np.int64)
    slot = np.full(n, -1, dtype=np.int64)
    cur = start
    visited[cur] = True
    tour[0] = cur
    probs = np.empty(k)
    for t in range(1, n):
        best, mx = _best_slot(logits, neigh, visited, cur)
        if best >= 0 and not greedy:
            tot = 0.0
            for s in range(k):
                u = neigh[cur, s]
                if u >= 0 and not visited[u]:
                    probs[s] = np.exp(logits[cur, s] - mx)
                    tot += probs[s]
                else:
                    probs[s] = 0.0
            r = np.random.random() * tot
            acc = 0.0
            for s in range(k):
                acc += probs[s]
                if probs[s] > 0.0 and acc >= r:
                    best = s
                    break
        if best >= 0:
            nxt = neigh[cur, best]
            slot[t] = best
        else:
            nxt = _nearest_unvisited(coords, visited, cur)
        visited[nxt] = True
        tour[t] = nxt
        cur = nxt
    return tour, slot


@njit(cache=True, nogil=True)
def construct_steps(logits, neigh, coords, start, steps, visited0):
    """Greedy construction of at most ``steps`` moves from ``start`` on a sub-problem whose
    nodes with ``visited0`` set may not be entered (the CVRP depot kept as feature anchor).
    Used when the heatmap is recomputed every ``steps`` steps on the unvisited nodes (UDC §4.1).
    Returns the visited nodes after ``start`` (local indices)."""
    visited = visited0.copy()
    visited[start] = True
    m = min(steps, int((~visited).sum()))
    out = np.empty(m, dtype=np.int64)
    cur = start
    for t in range(m):
        best, _ = _best_slot(logits, neigh, visited, cur)
        if best >= 0:
            nxt = neigh[cur, best]
        else:
            nxt = _nearest_unvisited(coords, visited, cur)
        visited[nxt] = True
        out[t] = nxt
        cur = nxt
    return out


@njit(cache=True, nogil=True)
def insertion_tour(a, b, coords, greedy, seed, record):
    """Learned-order insertion (divide stage with a node heatmap): at step t the next node v is
    chosen among the nodes not yet in the tour with probability proportional to
    exp(a_v + b_v * delta_t(v)), where delta_t(v) = sqrt(n) * (distance from v to the nearest
    node already in the tour) on the unit-box ``coords`` (delta_0 = 0), argmax if ``greedy``;
    v is then inserted where it lengthens the tour least (next to one of its nearest tour nodes,
    the same step as ``random_insertion_kernel``).  a = b = 0 is random insertion, b -> +inf
    farthest insertion.  The weights exp(.) are updated only where delta_t changed, O(n) per step.

    Returns (tour, order, delta): ``order`` is the insertion order and, if ``record``,
    ``delta[t]`` the delta_t vector seen at step t (an (n, n) array; (1, n) otherwise) -- what
    REINFORCE needs to recompute the log-probabilities."""
    np.random.seed(seed)
    n = a.shape[0]
    scale = np.sqrt(n)
    cell, head, link, g, h = grid_new(coords)  # grid of the tour nodes (cheapest insertion)
    head_all = head.copy()  # grid of all nodes (delta updates)
    link_all = link.copy()
    for v in range(n):
        grid_add(v, cell, head_all, link_all)
    reach = np.inf
    nxt = np.empty(n, dtype=np.int64)
    prv = np.empty(n, dtype=np.int64)
    near_d = np.empty(min(K_NEAR, max(1, n - 1)))
    near_v = np.empty(near_d.shape[0], dtype=np.int64)
    inserted = np.zeros(n, dtype=np.bool_)
    mind = np.zeros(n)
    delta = np.zeros((n if record else 1, n))
    order = np.empty(n, dtype=np.int64)
    w = np.empty(n)
    shift = 0.0
    total = 0.0
    for t in range(n):
        if record:
            for v in range(n):
                delta[t, v] = mind[v]
        if t <= 1 or t % 512 == 0 or not 1e-200 < total < 1e250:  # (re)normalise: exact weights and sum
            shift = -np.inf
            for v in range(n):
                if not inserted[v]:
                    shift = max(shift, a[v] + b[v] * mind[v])
            total = 0.0
            for v in range(n):
                w[v] = np.exp(min(700.0, a[v] + b[v] * mind[v] - shift)) if not inserted[v] else 0.0
                total += w[v]
        c = -1
        if greedy:
            mx = -np.inf
            for v in range(n):
                if not inserted[v] and a[v] + b[v] * mind[v] > mx:
                    mx = a[v] + b[v] * mind[v]
                    c = v
        else:
            r = np.random.random() * total
            acc = 0.0
            for v in range(n):
                if not inserted[v]:
                    acc += w[v]
                    c = v
                    if acc >= r:
                        break
        order[t] = c
        inserted[c] = True
        total -= w[c]
        w[c] = 0.0
        if t == 0:
            nxt[c] = c
            prv[c] = c
            grid_add(c, cell, head, link)
        else:
            cheapest_insert(c, coords, cell, head, link, g, h, nxt, prv, near_d, near_v)
        if t == 0 or t % 512 == 0:  # upper bound on delta over the nodes not yet inserted
            reach = 0.0
            for v in range(n):
                if not inserted[v]:
                    reach = max(reach, mind[v])
            reach = np.inf if t == 0 else reach / scale
        # delta can only drop for nodes closer to c than ``reach``: scan those grid cells
        rc = g if reach >= g * h else int(reach / h) + 1
        cx, cy = cell[c] // g, cell[c] % g
        for x in range(max(0, cx - rc), min(g - 1, cx + rc) + 1):
            for y in range(max(0, cy - rc), min(g - 1, cy + rc) + 1):
                v = head_all[x * g + y]
                while v >= 0:
                    if not inserted[v]:
                        d = scale * np.hypot(coords[v, 0] - coords[c, 0], coords[v, 1] - coords[c, 1])
                        if t == 0 or d < mind[v]:
                            mind[v] = d
                            if t > 0:
                                nw = np.exp(min(700.0, a[v] + b[v] * d - shift))
                                total += nw - w[v]
                                w[v] = nw
                    v = link_all[v]
    return tour_from_links(nxt, order[0]), order, delta
