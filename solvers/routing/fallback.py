"""Compile-free TSP descent for a first call: 2-opt and Or-opt on candidate lists in numpy.

While the Lin–Kernighan kernel compiles (seconds on an empty numba cache), the solve improves
its greedy start with this descent, so that a short first call returns a 2-opt + Or-opt local
optimum instead of the start tour. Every round evaluates all moves at once (vectorised over
nodes × candidates) and applies a batch of improving ones whose tour regions are disjoint
(their gains then add up exactly), best gain first:

- 2-opt (Croes 1958; neighbour-list form of Johnson & McGeoch 1997 §3.2): remove (a, succ a) and
  (c, succ c), add (a, c) and (succ a, succ c) — and the same with predecessors — for every
  candidate c of a; a reversal of the positions between them.
- Or-opt (Or 1976): the segment of 1-3 nodes starting at a moved next to a candidate c of its
  first or last node, on either side of c, in the orientation that puts the candidate edge in.

A move is a rewrite of one slice ``tour[lo:hi + 1]``; slices that wrap past the end of the array
are skipped, and the tour is rotated by a third of its length between rounds so that every
node gets its turn.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from problems import TSP

_EPS = 1e-7
#: improving moves considered per round (best first)
BATCH = 256


def descend(problem: TSP, cand: np.ndarray, tour: np.ndarray,
            stop: Callable[[], bool] = lambda: False, max_rounds: int = 1_000_000) -> np.ndarray:
    """2-opt + Or-opt descent of ``tour`` on the candidate lists ``cand`` (n × k, -1 = none)
    until no improving move is left, ``stop()`` or ``max_rounds``; returns the new tour."""
    n = tour.size
    tour = np.asarray(tour, dtype=np.int64).copy()
    if n < 8:
        return tour
    valid = cand >= 0
    C = np.where(valid, cand, 0).astype(np.int64)
    rows = np.repeat(np.arange(n), C.shape[1]).reshape(C.shape)
    dC = np.asarray(problem.pair_lengths(rows.ravel(), C.ravel()), dtype=np.float64).reshape(C.shape)
    dC[~valid] = np.inf
    quiet = 0  # rounds in a row without a move (3 rotations: a local optimum everywhere)
    for _ in range(max_rounds):
        if quiet >= 3 or stop():
            break
        moves = _moves(problem, tour, C, dC, valid)
        if moves is None:
            quiet += 1
        else:
            quiet = 0
            tour = _apply(tour, moves)
        tour = np.roll(tour, -(n // 3))
    return tour


def _moves(problem: TSP, tour: np.ndarray, C: np.ndarray, dC: np.ndarray, valid: np.ndarray):
    """Improving moves as (gain, lo, hi, new slice builder args), best first; None if none."""
    n = tour.size
    pos = np.empty(n, dtype=np.int64)
    pos[tour] = np.arange(n)
    succ = tour[(pos + 1) % n]
    pred = tour[(pos - 1) % n]
    nodes = np.arange(n)
    d_next = np.asarray(problem.pair_lengths(nodes, succ), dtype=np.float64)
    d_prev = d_next[pred]
    def pair(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        i, j = np.broadcast_arrays(i, j)
        return np.asarray(problem.pair_lengths(i.ravel(), j.ravel()), dtype=np.float64).reshape(i.shape)

    out = []
    # ---- 2-opt, successor form: reverse sa..c (pos a < pos c) or sc..a
    sc = succ[C]
    g = d_next[:, None] + d_next[C] - dC - pair(succ[:, None], sc)
    g = np.where(valid, g, -np.inf)
    a, j = np.nonzero(g > _EPS)
    if a.size:
        c = C[a, j]
        pa, pc = pos[a], pos[c]
        lo = np.where(pa < pc, pa + 1, pc + 1)
        hi = np.where(pa < pc, pc, pa)
        out.append((g[a, j], lo, hi, np.zeros(a.size, np.int64), lo, hi))
    # ---- 2-opt, predecessor form: reverse a..pc (pos a < pos c) or c..pa
    pcn = pred[C]
    g = d_prev[:, None] + d_prev[C] - dC - pair(pred[:, None], pcn)
    g = np.where(valid, g, -np.inf)
    a, j = np.nonzero(g > _EPS)
    if a.size:
        c = C[a, j]
        pa, pc = pos[a], pos[c]
        lo = np.where(pa < pc, pa, pc)
        hi = np.where(pa < pc, pc - 1, pa - 1)
        out.append((g[a, j], lo, hi, np.zeros(a.size, np.int64), lo, hi))
    # ---- Or-opt: segment tour[i:i+L] next to a candidate c of its first (end=0) or last node
    for L in (1, 2, 3):
        i = np.arange(1, n - L)  # segments that neither wrap nor touch position 0 / n-1
        first, last = tour[i], tour[i + L - 1]
        p, nx = tour[i - 1], tour[i + L]
        remove = d_prev[first] + d_next[last] - pair(p, nx)
        for end in (0, 1):
            v, w = (first, last) if end == 0 else (last, first)  # v: the node next to c
            cv = C[v]
            pc = pos[cv]
            inside = ((pc - i[:, None]) % n) < L
            for side in (0, 1):  # 0: c, v ... w, succ c; 1: pred c, w ... v, c
                other = succ[cv] if side == 0 else pred[cv]
                d_other = d_next[cv] if side == 0 else d_prev[cv]
                add = dC[v] + pair(w[:, None], other) - d_other
                bad = inside | ~valid[v] | (cv == (p[:, None] if side == 0 else nx[:, None]))
                g = np.where(bad, -np.inf, remove[:, None] - add)
                r, j = np.nonzero(g > _EPS)
                if not r.size:
                    continue
                seg_lo = i[r]
                c_pos = pc[r, j]
                # the slice rewritten: from the segment to the gap next to c
                gap = c_pos + 1 if side == 0 else c_pos  # new segment goes before tour[gap]
                lo = np.minimum(seg_lo, gap)
                hi = np.maximum(seg_lo + L, gap) - 1
                # orientation: side 0 puts v right after c, side 1 right before c
                rev = (end == 0) == (side == 1)
                kind = np.full(r.size, L + 3 * int(rev), np.int64)  # Or-opt: L (1-3), +3 reversed
                out.append((g[r, j], lo, hi, kind, seg_lo, gap))
    if not out:
        return None
    gain = np.concatenate([o[0] for o in out])
    lo = np.concatenate([o[1] for o in out])
    hi = np.concatenate([o[2] for o in out])
    kind = np.concatenate([o[3] for o in out])
    x = np.concatenate([o[4] for o in out])
    y = np.concatenate([o[5] for o in out])
    ok = (lo >= 1) & (hi <= n - 2) & (hi >= lo)
    if not ok.any():
        return None
    idx = np.flatnonzero(ok)
    top = idx[np.argsort(-gain[idx], kind="stable")[:BATCH]]
    return [(int(lo[t]), int(hi[t]), int(kind[t]), int(x[t]), int(y[t])) for t in top.tolist()]


def _apply(tour: np.ndarray, moves: list) -> np.ndarray:
    """Apply the moves (best first) whose closed regions [lo - 1, hi + 1] share no edge with an
    applied one's; every slice is rebuilt from the old tour."""
    n = tour.size
    used = np.zeros(n + 1, dtype=np.bool_)  # used[q]: edge (q - 1, q) belongs to an applied move
    new = tour.copy()
    for lo, hi, kind, x, y in moves:
        if used[lo:hi + 2].any():
            continue
        used[lo:hi + 2] = True
        if kind == 0:  # 2-opt: reverse the slice
            new[lo:hi + 1] = tour[lo:hi + 1][::-1]
            continue
        L = (kind - 1) % 3 + 1
        rev = kind > 3
        seg = tour[x:x + L][::-1] if rev else tour[x:x + L]
        if x < y:  # segment moves right: rest of the slice, then the segment before tour[y]
            new[lo:hi + 1] = np.concatenate([tour[x + L:y], seg])
        else:  # segment moves left: the segment, then tour[y:x]
            new[lo:hi + 1] = np.concatenate([seg, tour[y:x]])
    return new
