"""Numba kernels for tour improvement: 2-opt and Or-opt with neighbour lists and don't-look bits.

A tour is an array ``tour`` (position -> node) with its inverse ``pos`` (node -> position).
Edge lengths follow the instance's TSPLIB convention (``problems.distances`` codes).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_EPS = 1e-9


@njit(cache=True, nogil=True)
def dist(coords, matrix, code, i, j):
    """Edge length under TSPLIB convention ``code`` (0 EUC, 1 EUC_2D, 2 CEIL_2D, 3 ATT,
    4 GEO, 5 EXPLICIT)."""
    if code == 5:
        return matrix[i, j]
    if code == 4:
        if i == j:
            return 0.0
        pi = 3.141592
        lat_i = pi * (np.trunc(coords[i, 0]) + 5.0 * (coords[i, 0] - np.trunc(coords[i, 0])) / 3.0) / 180.0
        lon_i = pi * (np.trunc(coords[i, 1]) + 5.0 * (coords[i, 1] - np.trunc(coords[i, 1])) / 3.0) / 180.0
        lat_j = pi * (np.trunc(coords[j, 0]) + 5.0 * (coords[j, 0] - np.trunc(coords[j, 0])) / 3.0) / 180.0
        lon_j = pi * (np.trunc(coords[j, 1]) + 5.0 * (coords[j, 1] - np.trunc(coords[j, 1])) / 3.0) / 180.0
        q1 = np.cos(lon_i - lon_j)
        q2 = np.cos(lat_i - lat_j)
        q3 = np.cos(lat_i + lat_j)
        arg = 0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3)
        arg = min(1.0, max(-1.0, arg))
        return np.floor(6378.388 * np.arccos(arg) + 1.0)
    dx = coords[i, 0] - coords[j, 0]
    dy = coords[i, 1] - coords[j, 1]
    sq = dx * dx + dy * dy
    if code == 0:
        return np.sqrt(sq)
    if code == 1:
        return np.floor(np.sqrt(sq) + 0.5)
    if code == 2:
        return np.ceil(np.sqrt(sq))
    r = np.sqrt(sq / 10.0)
    t = np.floor(r + 0.5)
    return t + 1.0 if t < r else t


@njit(cache=True, nogil=True)
def tour_length(tour, coords, matrix, code):
    n = tour.size
    total = 0.0
    for k in range(n):
        total += dist(coords, matrix, code, tour[k], tour[(k + 1) % n])
    return total


@njit(cache=True, nogil=True)
def _reverse(tour, pos, start, length):
    """Reverse ``length`` consecutive positions starting at ``start`` (circularly)."""
    n = tour.size
    i = start
    j = (start + length - 1) % n
    for _ in range(length // 2):
        a = tour[i]
        b = tour[j]
        tour[i] = b
        pos[b] = i
        tour[j] = a
        pos[a] = j
        i = (i + 1) % n
        j = (j - 1 + n) % n


@njit(cache=True, nogil=True)
def _two_opt_move(tour, pos, x1, x2, allow_complement):
    """Replace edges (x1, succ x1) and (x2, succ x2) by (x1, x2) and (succ x1, succ x2):
    reverse positions pos[x1]+1 .. pos[x2] (or the complement, the same cycle, if shorter)."""
    n = tour.size
    i = (pos[x1] + 1) % n
    j = pos[x2]
    length = (j - i + n) % n + 1
    if allow_complement and 2 * length > n:
        _reverse(tour, pos, (j + 1) % n, n - length)
    else:
        _reverse(tour, pos, i, length)


@njit(cache=True, nogil=True)
def local_search(tour, pos, coords, matrix, code, neigh, fixed_ends, max_passes, dontlook):
    """2-opt + Or-opt (segments of 1-3 nodes, both orientations) until no improving move.

    ``fixed_ends`` > 0 treats the tour as an open path whose first and last nodes stay in
    place (UDC's conquer on a segment): moves never touch the closing edge.
    ``dontlook`` (node -> bool) marks nodes whose neighbourhood is known not to improve.
    Returns the total gain.
    """
    n = tour.size
    if n < 5:
        return 0.0
    total = 0.0
    k_nb = neigh.shape[1]
    for _ in range(max_passes):
        improved = False
        for idx in range(n):
            a = tour[idx]
            if dontlook[a]:
                continue
            found = False
            # ---- 2-opt, both tour directions around a
            for direction in range(2):
                if found:
                    break
                if direction == 0:
                    pa = a
                    sa = tour[(pos[a] + 1) % n]
                else:
                    pa = tour[(pos[a] - 1 + n) % n]
                    sa = a
                if fixed_ends > 0 and pos[pa] == n - 1:
                    continue
                d_a = dist(coords, matrix, code, pa, sa)
                for t in range(k_nb):
                    c = neigh[a, t]
                    if c < 0:
                        break
                    if direction == 0:
                        g1 = d_a - dist(coords, matrix, code, a, c)
                    else:
                        g1 = d_a - dist(coords, matrix, code, c, a)
                    if g1 <= _EPS:
                        break
                    if direction == 0:
                        pc = c
                        sc = tour[(pos[c] + 1) % n]
                    else:
                        pc = tour[(pos[c] - 1 + n) % n]
                        sc = c
                    if pc == pa or sc == sa or pc == sa or sc == pa:
                        continue
                    if fixed_ends > 0 and pos[pc] == n - 1:
                        continue
                    gain = g1 + dist(coords, matrix, code, pc, sc) - dist(coords, matrix, code, sa, sc)
                    if direction == 1:
                        gain = g1 + dist(coords, matrix, code, pc, sc) - dist(coords, matrix, code, pa, pc)
                    if gain > _EPS:
                        x1, x2 = pa, pc
                        if fixed_ends > 0 and pos[x1] > pos[x2]:
                            x1, x2 = pc, pa
                        _two_opt_move(tour, pos, x1, x2, fixed_ends == 0)
                        total += gain
                        for v in (pa, sa, pc, sc):
                            dontlook[v] = False
                        found = True
                        break
            # ---- Or-opt: move the segment starting at a (length 1..3) next to a neighbour
            if not found:
                for seg in range(1, 4):
                    if found or seg + 3 > n:
                        break
                    i = pos[a]
                    if fixed_ends > 0 and (i == 0 or i + seg >= n):
                        break
                    p = tour[(i - 1 + n) % n]
                    last = tour[(i + seg - 1) % n]
                    nx = tour[(i + seg) % n]
                    remove_gain = (dist(coords, matrix, code, p, a) + dist(coords, matrix, code, last, nx)
                                   - dist(coords, matrix, code, p, nx))
                    if remove_gain <= _EPS:
                        continue
                    for end in range(2):
                        if found:
                            break
                        anchor = a if end == 0 else last
                        for t in range(k_nb):
                            c = neigh[anchor, t]
                            if c < 0:
                                break
                            if dist(coords, matrix, code, anchor, c) >= remove_gain:
                                break
                            off = (pos[c] - i + n) % n
                            if off < seg:
                                continue  # c inside the segment
                            if fixed_ends > 0 and pos[c] < i:
                                continue  # an open path must not wrap around its ends
                            sc = tour[(pos[c] + 1) % n]
                            if c == p or sc == a:
                                continue
                            if fixed_ends > 0 and pos[c] == n - 1:
                                continue
                            d_csc = dist(coords, matrix, code, c, sc)
                            # orientation 1: c - last ... a - sc (segment reversed)
                            add_rev = (dist(coords, matrix, code, c, last) + dist(coords, matrix, code, a, sc)
                                       - d_csc)
                            # orientation 2: c - a ... last - sc (segment kept)
                            add_fwd = (dist(coords, matrix, code, c, a) + dist(coords, matrix, code, last, sc)
                                       - d_csc)
                            best_add = min(add_rev, add_fwd)
                            if remove_gain - best_add > _EPS:
                                _or_move(tour, pos, i, seg, c, add_fwd < add_rev)
                                total += remove_gain - best_add
                                for v in (p, nx, c, sc, a, last):
                                    dontlook[v] = False
                                found = True
                                break
            if found:
                improved = True
            else:
                dontlook[a] = True
        if not improved:
            break
    return total


@njit(cache=True, nogil=True)
def _or_move(tour, pos, i, seg, c, keep_orientation):
    """Move the ``seg`` nodes at positions i.. to sit between c and succ(c) (two or three
    reversals: p S nx..c sc -> p nx..c S^r sc)."""
    n = tour.size
    length_after = (pos[c] - (i + seg) + n) % n + 1  # positions of nx .. c
    _reverse(tour, pos, i, seg + length_after)
    _reverse(tour, pos, i, length_after)
    if keep_orientation:
        _reverse(tour, pos, (i + length_after) % n, seg)


@njit(cache=True, nogil=True)
def nearest_neighbour_tour(coords, matrix, code, neigh, start):
    """Greedy nearest-neighbour construction using the candidate lists (full scan when all
    candidates are already visited)."""
    n = coords.shape[0] if code != 5 else matrix.shape[0]
    tour = np.empty(n, dtype=np.int64)
    visited = np.zeros(n, dtype=np.bool_)
    cur = start
    tour[0] = cur
    visited[cur] = True
    for k in range(1, n):
        nxt = -1
        for t in range(neigh.shape[1]):
            c = neigh[cur, t]
            if c >= 0 and not visited[c]:
                nxt = c
                break
        if nxt < 0:
            best = np.inf
            for c in range(n):
                if not visited[c]:
                    dc = dist(coords, matrix, code, cur, c)
                    if dc < best:
                        best = dc
                        nxt = c
        tour[k] = nxt
        visited[nxt] = True
        cur = nxt
    return tour


@njit(cache=True, nogil=True)
def split_giant_tour(order, demands, capacity, coords, matrix, code, depot):
    """Prins' optimal split of a giant tour (customers in ``order``) into capacity-feasible
    routes by shortest path on the auxiliary DAG. Returns route start indices (n+1 entries
    with -1 padding) as predecessor labels."""
    n = order.size
    best = np.full(n + 1, np.inf)
    pred = np.full(n + 1, -1, dtype=np.int64)
    best[0] = 0.0
    for i in range(n):
        if best[i] == np.inf:
            continue
        load = 0.0
        cost = 0.0
        for j in range(i, n):
            c = order[j]
            load += demands[c]
            if load > capacity + 1e-9:
                break
            if j == i:
                cost = dist(coords, matrix, code, depot, c) + dist(coords, matrix, code, c, depot)
            else:
                prev = order[j - 1]
                cost += (dist(coords, matrix, code, prev, c) + dist(coords, matrix, code, c, depot)
                         - dist(coords, matrix, code, prev, depot))
            if best[i] + cost < best[j + 1]:
                best[j + 1] = best[i] + cost
                pred[j + 1] = i
    return pred
