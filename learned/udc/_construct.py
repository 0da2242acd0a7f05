"""Numba kernel: node-by-node tour construction from a sparse k-NN heatmap (UDC divide stage)."""

from __future__ import annotations

import numpy as np
from numba import njit


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
