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
    C, dC, valid = _prepare(problem, cand)
    quiet = 0  # rounds in a row without a move (3 rotations: a local optimum everywhere)
    for _ in range(max_rounds):
        if quiet >= 3 or stop():
            break
        moves = _moves(problem, tour, C, dC, valid)
        if moves is None:
            quiet += 1
        else:
            quiet = 0
            tour, _ = _apply(tour, moves)
        tour = np.roll(tour, -(n // 3))
    return tour


def iterate(problem: TSP, cand: np.ndarray, tour: np.ndarray, stop: Callable[[], bool],
            seed: int = 0, window: int = 50) -> np.ndarray:
    """Iterated local search from a local optimum ``tour`` until ``stop()``: a double bridge
    (segments B, C of a ``window``-position stretch swapped, the LK kernel's local kick), the
    descent from the kick's six end nodes (then from the ends of the changed edges), the new
    tour kept if not longer. Returns the best tour."""
    n = tour.size
    cur = np.asarray(tour, dtype=np.int64).copy()
    if n < 16:
        return cur
    C, dC, valid = _prepare(problem, cand)
    rng = np.random.default_rng(seed)
    cur_len = _length(problem, cur)
    w = max(4, min(window, n // 4))
    base = n // 4  # the kick's stretch starts here (moves never wrap past the array's end)
    while not stop():
        t = np.roll(cur, base - int(rng.integers(n)))
        a, b, c = np.sort(base + 1 + rng.choice(w - 1, 3, replace=False))
        new = np.concatenate([t[:a], t[b:c], t[a:b], t[c:]])
        active = np.unique(new[[a - 1, a, a + c - b - 1, a + c - b, c - 1, c]])
        for _ in range(100):
            moves = _moves(problem, new, C, dC, valid, active)
            if moves is None:
                break
            new, active = _apply(new, moves)
        new_len = _length(problem, new)
        if new_len <= cur_len + 1e-9:
            cur, cur_len = new, new_len
    return cur


def _prepare(problem: TSP, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates (-1 -> 0), their lengths (inf where none) and the validity mask."""
    valid = cand >= 0
    C = np.where(valid, cand, 0).astype(np.int64)
    rows = np.repeat(np.arange(C.shape[0]), C.shape[1]).reshape(C.shape)
    dC = np.asarray(problem.pair_lengths(rows.ravel(), C.ravel()), dtype=np.float64).reshape(C.shape)
    dC[~valid] = np.inf
    return C, dC, valid


def _length(problem: TSP, tour: np.ndarray) -> float:
    return float(np.sum(problem.pair_lengths(tour, np.roll(tour, -1))))


def _moves(problem: TSP, tour: np.ndarray, C: np.ndarray, dC: np.ndarray, valid: np.ndarray,
           active: np.ndarray | None = None):
    """Improving moves as (lo, hi, kind, x, y), best first (None if none): from every node, or
    from the ``active`` ones (2-opt from them, Or-opt of the segments holding one)."""
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
    rows = nodes if active is None else active
    Cr, dCr, vr = C[rows], dC[rows], valid[rows]
    # ---- 2-opt, successor form: reverse sa..c (pos a < pos c) or sc..a
    sc = succ[Cr]
    g = d_next[rows, None] + d_next[Cr] - dCr - pair(succ[rows, None], sc)
    g = np.where(vr, g, -np.inf)
    r, j = np.nonzero(g > _EPS)
    if r.size:
        a, c, g = rows[r], Cr[r, j], g[r, j]
        pa, pc = pos[a], pos[c]
        lo = np.where(pa < pc, pa + 1, pc + 1)
        hi = np.where(pa < pc, pc, pa)
        out.append((g, lo, hi, np.zeros(a.size, np.int64), lo, hi))
    # ---- 2-opt, predecessor form: reverse a..pc (pos a < pos c) or c..pa
    pcn = pred[Cr]
    g = d_prev[rows, None] + d_prev[Cr] - dCr - pair(pred[rows, None], pcn)
    g = np.where(vr, g, -np.inf)
    r, j = np.nonzero(g > _EPS)
    if r.size:
        a, c, g = rows[r], Cr[r, j], g[r, j]
        pa, pc = pos[a], pos[c]
        lo = np.where(pa < pc, pa, pc)
        hi = np.where(pa < pc, pc - 1, pa - 1)
        out.append((g, lo, hi, np.zeros(a.size, np.int64), lo, hi))
    # ---- Or-opt: segment tour[i:i+L] next to a candidate c of its first (end=0) or last node
    for L in (1, 2, 3):
        i = np.arange(1, n - L)  # segments that neither wrap nor touch position 0 / n-1
        if active is not None:  # the segments holding an active node
            i = np.unique((pos[active][:, None] - np.arange(L)[None, :]).ravel())
            i = i[(i >= 1) & (i < n - L)]
            if not i.size:
                continue
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


def _apply(tour: np.ndarray, moves: list) -> tuple[np.ndarray, np.ndarray]:
    """Apply the moves (best first) whose closed regions [lo - 1, hi + 1] share no edge with an
    applied one's; every slice is rebuilt from the old tour. Returns the new tour and the nodes
    at the ends of the changed edges."""
    n = tour.size
    used = np.zeros(n + 1, dtype=np.bool_)  # used[q]: edge (q - 1, q) belongs to an applied move
    new = tour.copy()
    ends: list[int] = []
    for lo, hi, kind, x, y in moves:
        if used[lo:hi + 2].any():
            continue
        used[lo:hi + 2] = True
        ends += [lo - 1, lo, hi, hi + 1]
        if kind == 0:  # 2-opt: reverse the slice
            new[lo:hi + 1] = tour[lo:hi + 1][::-1]
            continue
        L = (kind - 1) % 3 + 1
        ends += [lo + L - 1, lo + L, hi - L, hi - L + 1]
        rev = kind > 3
        seg = tour[x:x + L][::-1] if rev else tour[x:x + L]
        if x < y:  # segment moves right: rest of the slice, then the segment before tour[y]
            new[lo:hi + 1] = np.concatenate([tour[x + L:y], seg])
        else:  # segment moves left: the segment, then tour[y:x]
            new[lo:hi + 1] = np.concatenate([seg, tour[y:x]])
    return new, np.unique(new[np.clip(ends, 0, n - 1)])
