"""Numba kernels of the UDC divide stage (Zheng et al. 2024, §4.1): node-by-node construction
from a sparse k-NN heatmap (TSP, and capacity-feasible CVRP with a depot slot)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _nearest_unvisited(coords, visited, demand, left, cur):
    """The unvisited node closest to ``cur`` whose demand fits ``left`` (-1 if none): the
    fallback when every k-NN candidate of ``cur`` is visited."""
    nxt = -1
    bd = np.inf
    for u in range(visited.shape[0]):
        if not visited[u] and demand[u] <= left:
            dx = coords[u, 0] - coords[cur, 0]
            dy = coords[u, 1] - coords[cur, 1]
            d = dx * dx + dy * dy
            if d < bd:
                bd = d
                nxt = u
    return nxt


@njit(cache=True, nogil=True)
def construct(logits, neigh, coords, demand, capacity, depot_slot, depot, cur, left, at_depot,
              visited, steps, greedy, seed, rows, masks, slots):
    """At most ``steps`` construction steps from node ``cur`` (§4.1): the next node is drawn
    with probability ~ exp(logits[cur, s]) over the allowed slots s of ``cur`` (unvisited
    neighbours whose demand fits the load ``left``; CVRP: the depot slot ``depot_slot`` while
    not at the depot), argmax if ``greedy``.  After a return to the depot (``at_depot``) the
    next route starts from ``cur``'s row again with the depot masked and the load reset, so
    routes continue where the last one ended.  When no neighbour of ``cur`` is unvisited the
    nearest unvisited fitting node is taken (or, CVRP, the depot) -- not a policy decision.

    ``visited`` is updated in place.  TSP: ``depot_slot`` = -1, ``demand`` = 0, ``left`` = inf.
    Every policy decision is written to ``rows`` / ``masks`` / ``slots`` (the REINFORCE
    log-probability, ``model.log_prob``).  Returns (path, decisions, cur, left, at_depot):
    ``path`` = the nodes entered, the depot (``depot``) at every return."""
    np.random.seed(seed)
    m, S = neigh.shape
    path = np.empty(2 * steps + 2, dtype=np.int64)
    npath = 0
    nrec = 0
    todo = 0
    for u in range(m):
        if not visited[u]:
            todo += 1
    mask = np.zeros(S, dtype=np.bool_)
    w = np.zeros(S)
    done = 0
    while done < steps and todo > 0:
        near = False
        nok = 0
        mx = -np.inf
        for s in range(S):
            u = neigh[cur, s]
            ok = False
            if s == depot_slot:
                ok = not at_depot
            elif not visited[u]:
                near = True
                ok = demand[u] <= left
            mask[s] = ok
            if ok:
                nok += 1
                mx = max(mx, logits[cur, s])
        if not near:  # every neighbour visited: nearest fitting node, else back to the depot
            nxt = _nearest_unvisited(coords, visited, demand, left, cur)
            if nxt < 0:
                at_depot = True
                left = capacity
                path[npath] = depot
                npath += 1
                continue
        else:
            best = -1
            if greedy:
                for s in range(S):
                    if mask[s] and (best < 0 or logits[cur, s] > logits[cur, best]):
                        best = s
            else:
                tot = 0.0
                for s in range(S):
                    w[s] = np.exp(logits[cur, s] - mx) if mask[s] else 0.0
                    tot += w[s]
                r = np.random.random() * tot
                acc = 0.0
                for s in range(S):
                    if mask[s]:
                        acc += w[s]
                        best = s
                        if acc >= r:
                            break
            if nok > 1:  # a real choice: recorded for the log-probability
                rows[nrec] = cur
                masks[nrec] = mask
                slots[nrec] = best
                nrec += 1
            if best == depot_slot:
                at_depot = True
                left = capacity
                path[npath] = depot
                npath += 1
                continue
            nxt = neigh[cur, best]
        visited[nxt] = True
        left -= demand[nxt]
        at_depot = False
        path[npath] = nxt
        npath += 1
        cur = nxt
        todo -= 1
        done += 1
    return path[:npath], nrec, cur, left, at_depot
