"""Numba kernels for capacity-aware CVRP local search (granular neighbourhood, Toth & Vigo 2003).

Solution state (all int64 / float64 arrays, customers are nodes 1..n-1, the depot is node 0):

- ``R[r, 0:L[r]]``: the customers of route r in visiting order (depot implied at both ends);
- ``route_of[v]``, ``pos[v]``: route and position of customer v;
- ``load[r]``: total demand of route r.

Moves, for a customer u and each customer v among u's nearest neighbours (new edge (u, v)):
relocate u next to v, swap u and v (different routes), 2-opt* between routes (both tail
exchanges), 2-opt inside a route.  Every move is checked for capacity, applied first-improvement,
and the touched customers lose their don't-look bit.  ``ruin_recreate`` removes a cluster of
customers around a random seed and reinserts them at their cheapest feasible position next to a
neighbour (a simple SISR-style perturbation, Christiaens & Vanden Berghe 2020).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._ls_kernels import dist

_EPS = 1e-9


@njit(cache=True, nogil=True)
def _prev(R, route_of, pos, v):
    p = pos[v]
    return 0 if p == 0 else R[route_of[v], p - 1]


@njit(cache=True, nogil=True)
def _next(R, L, route_of, pos, v):
    r = route_of[v]
    p = pos[v]
    return 0 if p == L[r] - 1 else R[r, p + 1]


@njit(cache=True, nogil=True)
def _reindex(R, L, route_of, pos, r):
    for p in range(L[r]):
        v = R[r, p]
        route_of[v] = r
        pos[v] = p


@njit(cache=True, nogil=True)
def _remove(R, L, route_of, pos, load, dem, u):
    r = route_of[u]
    for p in range(pos[u], L[r] - 1):
        R[r, p] = R[r, p + 1]
    L[r] -= 1
    load[r] -= dem[u]
    _reindex(R, L, route_of, pos, r)
    route_of[u] = -1


@njit(cache=True, nogil=True)
def _insert(R, L, route_of, pos, load, dem, u, r, at):
    """Insert u into route r at position ``at`` (0 = first customer)."""
    for p in range(L[r], at, -1):
        R[r, p] = R[r, p - 1]
    R[r, at] = u
    L[r] += 1
    load[r] += dem[u]
    _reindex(R, L, route_of, pos, r)


@njit(cache=True, nogil=True)
def solution_cost(R, L, coords, matrix, code):
    total = 0.0
    for r in range(L.size):
        if L[r] == 0:
            continue
        prev = 0
        for p in range(L[r]):
            total += dist(coords, matrix, code, prev, R[r, p])
            prev = R[r, p]
        total += dist(coords, matrix, code, prev, 0)
    return total


@njit(cache=True, nogil=True)
def _two_opt_star(R, L, route_of, pos, load, dem, buf, ra, ia, rb, ib, reverse):
    """Exchange tails.  ``reverse`` False: A[:ia] + B[ib:] and B[:ib] + A[ia:].
    ``reverse`` True: A[:ia] + rev(B[:ib]) and rev(A[ia:]) + B[ib:]."""
    la, lb = L[ra], L[rb]
    m = 0
    if not reverse:
        for p in range(ia):
            buf[m] = R[ra, p]
            m += 1
        for p in range(ib, lb):
            buf[m] = R[rb, p]
            m += 1
        m2 = 0
        tmp = buf[m:]
        for p in range(ib):
            tmp[m2] = R[rb, p]
            m2 += 1
        for p in range(ia, la):
            tmp[m2] = R[ra, p]
            m2 += 1
    else:
        for p in range(ia):
            buf[m] = R[ra, p]
            m += 1
        for p in range(ib - 1, -1, -1):
            buf[m] = R[rb, p]
            m += 1
        m2 = 0
        tmp = buf[m:]
        for p in range(la - 1, ia - 1, -1):
            tmp[m2] = R[ra, p]
            m2 += 1
        for p in range(ib, lb):
            tmp[m2] = R[rb, p]
            m2 += 1
    for p in range(m):
        R[ra, p] = buf[p]
    for p in range(m2):
        R[rb, p] = tmp[p]
    L[ra], L[rb] = m, m2
    for r in (ra, rb):
        s = 0.0
        for p in range(L[r]):
            s += dem[R[r, p]]
        load[r] = s
        _reindex(R, L, route_of, pos, r)


@njit(cache=True, nogil=True)
def _prefix_load(R, pos, route_of, dem, v):
    """Demand of route_of[v] up to and including v."""
    r = route_of[v]
    s = 0.0
    for p in range(pos[v] + 1):
        s += dem[R[r, p]]
    return s


@njit(cache=True, nogil=True)
def granular_descent(R, L, route_of, pos, load, coords, matrix, code, dem, cap, neigh, allowed,
                     dontlook, order):
    """First-improvement descent over relocate / swap / 2-opt* / 2-opt with granular neighbour
    lists and don't-look bits.  Only customers with ``allowed[v]`` move or serve as neighbours
    (UDC's conquer on a sub-problem).  Returns the total gain (never negative)."""
    n = route_of.size
    k = neigh.shape[1]
    buf = np.empty(2 * n + 2, dtype=np.int64)
    total = 0.0
    improved = True
    while improved:
        improved = False
        for oi in range(order.size):
            u = order[oi]
            if u == 0 or dontlook[u] or not allowed[u] or route_of[u] < 0:
                continue
            found = False
            for t in range(k):
                v = neigh[u, t]
                if v < 0:
                    break
                if v == 0 or not allowed[v] or route_of[v] < 0:
                    continue
                ru, rv = route_of[u], route_of[v]
                pu = _prev(R, route_of, pos, u)
                nu = _next(R, L, route_of, pos, u)
                pv = _prev(R, route_of, pos, v)
                nv = _next(R, L, route_of, pos, v)
                duv = dist(coords, matrix, code, u, v)
                d_pu_u = dist(coords, matrix, code, pu, u)
                d_u_nu = dist(coords, matrix, code, u, nu)
                d_pv_v = dist(coords, matrix, code, pv, v)
                d_v_nv = dist(coords, matrix, code, v, nv)
                rem = d_pu_u + d_u_nu - dist(coords, matrix, code, pu, nu)
                fits = ru == rv or load[rv] + dem[u] <= cap + 1e-9
                # relocate u after v
                if fits and v != pu:
                    g = rem - (duv + dist(coords, matrix, code, u, nv) - d_v_nv)
                    if g > _EPS:
                        _remove(R, L, route_of, pos, load, dem, u)
                        _insert(R, L, route_of, pos, load, dem, u, rv, pos[v] + 1)
                        total += g
                        for w in (pu, nu, v, nv):
                            dontlook[w] = False
                        found = True
                        break
                # relocate u before v
                if fits and v != nu:
                    g = rem - (dist(coords, matrix, code, pv, u) + duv - d_pv_v)
                    if g > _EPS:
                        _remove(R, L, route_of, pos, load, dem, u)
                        _insert(R, L, route_of, pos, load, dem, u, rv, pos[v])
                        total += g
                        for w in (pu, nu, v, pv):
                            dontlook[w] = False
                        found = True
                        break
                if ru != rv:
                    # swap u and v: u takes v's place (next to v's neighbours), v takes u's
                    if (load[ru] - dem[u] + dem[v] <= cap + 1e-9
                            and load[rv] - dem[v] + dem[u] <= cap + 1e-9):
                        g = (d_pu_u + d_u_nu + d_pv_v + d_v_nv
                             - dist(coords, matrix, code, pu, v) - dist(coords, matrix, code, v, nu)
                             - dist(coords, matrix, code, pv, u) - dist(coords, matrix, code, u, nv))
                        if g > _EPS:
                            a, b = pos[u], pos[v]
                            R[ru, a] = v
                            R[rv, b] = u
                            route_of[u], route_of[v] = rv, ru
                            pos[u], pos[v] = b, a
                            load[ru] += dem[v] - dem[u]
                            load[rv] += dem[u] - dem[v]
                            total += g
                            for w in (pu, nu, pv, nv):
                                dontlook[w] = False
                            found = True
                            break
                    pre_u = _prefix_load(R, pos, route_of, dem, u)
                    pre_v = _prefix_load(R, pos, route_of, dem, v)
                    # 2-opt* (reversing): A[..u] + rev(B[..v]); rev(A[nu..]) + B[nv..]
                    if (pre_u + pre_v <= cap + 1e-9
                            and load[ru] - pre_u + load[rv] - pre_v <= cap + 1e-9):
                        g = d_u_nu + d_v_nv - duv - dist(coords, matrix, code, nu, nv)
                        if g > _EPS:
                            _two_opt_star(R, L, route_of, pos, load, dem, buf, ru, pos[u] + 1, rv,
                                          pos[v] + 1, True)
                            total += g
                            for w in (nu, nv):
                                dontlook[w] = False
                            found = True
                            break
                    # 2-opt* (tails): B[..v] + A[u..]; A[..pu] + B[nv..]  (new edges v-u, pu-nv)
                    pre_pu = pre_u - dem[u]
                    if (pre_v + load[ru] - pre_pu <= cap + 1e-9
                            and pre_pu + load[rv] - pre_v <= cap + 1e-9):
                        g = d_pu_u + d_v_nv - duv - dist(coords, matrix, code, pu, nv)
                        if g > _EPS:
                            _two_opt_star(R, L, route_of, pos, load, dem, buf, ru, pos[u], rv,
                                          pos[v] + 1, False)
                            total += g
                            for w in (pu, nv):
                                dontlook[w] = False
                            found = True
                            break
                    # 2-opt* (tails): A[..u] + B[v..]; B[..pv] + A[nu..]  (new edges u-v, pv-nu)
                    pre_pv = pre_v - dem[v]
                    if (pre_u + load[rv] - pre_pv <= cap + 1e-9
                            and pre_pv + load[ru] - pre_u <= cap + 1e-9):
                        g = d_u_nu + d_pv_v - duv - dist(coords, matrix, code, pv, nu)
                        if g > _EPS:
                            _two_opt_star(R, L, route_of, pos, load, dem, buf, ru, pos[u] + 1, rv,
                                          pos[v], False)
                            total += g
                            for w in (nu, pv):
                                dontlook[w] = False
                            found = True
                            break
                else:
                    # intra-route 2-opt giving the edge (u, v)
                    a, b = pos[u], pos[v]
                    if a < b and v != nu:
                        g = d_u_nu + d_v_nv - duv - dist(coords, matrix, code, nu, nv)
                        lo, hi = a + 1, b
                    elif b < a and u != nv:
                        g = d_pv_v + d_pu_u - duv - dist(coords, matrix, code, pv, pu)
                        lo, hi = b, a - 1
                    else:
                        g = 0.0
                        lo, hi = 0, -1
                    if g > _EPS:
                        while lo < hi:
                            x = R[ru, lo]
                            R[ru, lo] = R[ru, hi]
                            R[ru, hi] = x
                            lo += 1
                            hi -= 1
                        _reindex(R, L, route_of, pos, ru)
                        total += g
                        for w in (pu, nu, pv, nv):
                            dontlook[w] = False
                        found = True
                        break
            if found:
                improved = True
                dontlook[u] = False
                dontlook[0] = False
            else:
                dontlook[u] = True
    return total


@njit(cache=True, nogil=True)
def ruin_recreate(R, L, route_of, pos, load, coords, matrix, code, dem, cap, neigh, seed_node,
                  n_remove):
    """Remove ``n_remove`` customers: ``seed_node`` and its nearest neighbours; reinsert them in
    random order (numba's seeded generator) at the cheapest feasible slot next to one of their
    neighbours, else anywhere, else in an empty route.  Returns the removed customers."""
    k = neigh.shape[1]
    removed = np.empty(n_remove, dtype=np.int64)
    m = 0
    removed[m] = seed_node
    m += 1
    for t in range(k):
        if m >= n_remove:
            break
        v = neigh[seed_node, t]
        if v > 0 and route_of[v] >= 0:
            removed[m] = v
            m += 1
    for i in range(m):
        _remove(R, L, route_of, pos, load, dem, removed[i])
    perm = np.random.permutation(m)
    for i in range(m):
        u = removed[perm[i]]
        best = np.inf
        br = -1
        bat = 0
        for t in range(k):
            v = neigh[u, t]
            if v < 0:
                break
            if v == 0 or route_of[v] < 0:
                continue
            r = route_of[v]
            if load[r] + dem[u] > cap + 1e-9:
                continue
            pv = _prev(R, route_of, pos, v)
            nv = _next(R, L, route_of, pos, v)
            duv = dist(coords, matrix, code, u, v)
            c1 = duv + dist(coords, matrix, code, u, nv) - dist(coords, matrix, code, v, nv)
            if c1 < best:
                best, br, bat = c1, r, pos[v] + 1
            c2 = dist(coords, matrix, code, pv, u) + duv - dist(coords, matrix, code, pv, v)
            if c2 < best:
                best, br, bat = c2, r, pos[v]
        if br < 0:
            # no neighbour route fits: cheapest slot anywhere, else a fresh route
            for r in range(L.size):
                if L[r] == 0 or load[r] + dem[u] > cap + 1e-9:
                    continue
                prev = 0
                for p in range(L[r] + 1):
                    nxt = R[r, p] if p < L[r] else 0
                    c = (dist(coords, matrix, code, prev, u) + dist(coords, matrix, code, u, nxt)
                         - dist(coords, matrix, code, prev, nxt))
                    if c < best:
                        best, br, bat = c, r, p
                    prev = nxt
            c = 2.0 * dist(coords, matrix, code, 0, u)
            if br < 0 or c < best:
                for r in range(L.size):
                    if L[r] == 0:
                        br, bat = r, 0
                        break
        _insert(R, L, route_of, pos, load, dem, u, br, bat)
    return removed[:m]


@njit(cache=True, nogil=True)
def ils_chunk(R, L, route_of, pos, load, bR, bL, broute_of, bpos, bload, coords, matrix, code, dem,
              cap, neigh, allowed, iters, seed, threshold, cur_cost, best_cost, max_remove):
    """``iters`` rounds of ruin-and-recreate + granular descent; accept when the new cost is
    below ``best_cost * (1 + threshold)`` (record-to-record travel), keep the best in ``b*``.
    Returns (current cost, best cost, accepted, improved)."""
    np.random.seed(seed)
    n = route_of.size
    cL = L.copy()
    croute = route_of.copy()
    cpos = pos.copy()
    cload = load.copy()
    dontlook = np.ones(n, dtype=np.bool_)
    order = np.arange(n)
    cand = np.flatnonzero(allowed)
    accepted = 0
    improved = 0
    for _ in range(iters):
        # keep a copy of the current solution to restore on rejection (O(n) state)
        cL[:] = L
        croute[:] = route_of
        cpos[:] = pos
        cload[:] = load
        s = cand[np.random.randint(cand.size)]
        if s == 0:
            continue
        nr = 2 + np.random.randint(max(1, max_remove - 1))
        removed = ruin_recreate(R, L, route_of, pos, load, coords, matrix, code, dem, cap, neigh,
                                s, nr)
        dontlook[:] = True
        for u in removed:
            dontlook[u] = False
            for t in range(min(5, neigh.shape[1])):
                w = neigh[u, t]
                if w > 0:
                    dontlook[w] = False
        np.random.shuffle(order)
        granular_descent(R, L, route_of, pos, load, coords, matrix, code, dem, cap, neigh, allowed,
                         dontlook, order)
        c = solution_cost(R, L, coords, matrix, code)
        if c < best_cost * (1.0 + threshold) - _EPS:
            accepted += 1
            cur_cost = c
            if c < best_cost - _EPS:
                best_cost = c
                improved += 1
                bL[:] = L
                broute_of[:] = route_of
                bpos[:] = pos
                bload[:] = load
                for v in range(1, n):
                    bR[broute_of[v], bpos[v]] = v
        else:
            L[:] = cL
            route_of[:] = croute
            pos[:] = cpos
            load[:] = cload
            for v in range(1, n):
                R[route_of[v], pos[v]] = v
    return cur_cost, best_cost, accepted, improved
