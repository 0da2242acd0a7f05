"""Numba kernels for the TSP: Lin–Kernighan moves on an array tour, Or-opt, and the iterated
local search (segment double-bridge kicks) that drives them.

A tour is ``tour`` (position -> node) with its inverse ``pos``. A Lin–Kernighan move (Lin &
Kernighan 1973, step 2-6; the flip form of Applegate et al., *Chained Lin-Kernighan for large
traveling salesman problems*, 2003, §2) starts at ``t1``: it removes (t1, t2), adds (t2, t3),
removes (t3, t4) and closes with (t4, t1) — one 2-opt flip of the path t2..t4 — and continues
from t4 while the partial gain G_i = Σ|x| - Σ|y| stays positive (the gain criterion), keeping
the best closed tour seen (depth 1: 2-opt, depth 2: sequential 3-opt, depth 3: 4-opt, ...).
Level 1 tries every candidate of t2 (and both tour neighbours of t1), deeper levels the best
candidate by |x_{i+1}| - |y_i|. Added edges are never removed again, removed ones never added
(LK's disjointness rule). Flips reverse the shorter side (O(n) worst case).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._ls_kernels import _reverse, dist

_EPS = 1e-7


@njit(cache=True, nogil=True)
def lk_ils(tour, pos, best, coords, matrix, code, cand, depth, kicks, state, window, cur, queue, inq,
           count, elite, elite_len, temp, global_permille):
    """One kernel for the whole TSP search (one compilation): with ``kicks`` = 0, the LK + Or-opt
    descent from the ``count`` active nodes in ``queue`` (don't-look bits = "not in the queue");
    otherwise ``kicks`` rounds of: segment double-bridge kick on ``tour`` (= ``best``, the current
    tour of length ``cur``), descent from the kick's six end nodes, keep the result if not longer
    than ``cur`` — or longer by Δ with probability exp(-Δ / ``temp``) (Martin, Otto & Felten's
    large-step Markov chain; ``temp`` = 0: never) — else restore ``best``; a tour shorter than
    ``elite_len`` is copied to ``elite``. ``global_permille`` of the kicks span the whole tour
    (the chained-LK kick) instead of ``window`` positions. Returns (cur, elite length, gain of
    the descent / strict improvements of the elite).

    LK move from t1 (module docstring): level 1 tries every candidate t3 of t2 for both tour
    neighbours t2 of t1, deeper levels the best (t3, t4) by |x| - |y| under the gain criterion
    and the disjointness rule; flips logged in ``log`` and undone past the best closed tour.
    Or-opt (tried when no LK move exists): the 1-3 node segment starting at t1 between a
    candidate c of one of its ends and succ(c), in the better orientation.
    """
    n = tour.size
    qn = queue.size
    kc = cand.shape[1]
    log = np.empty(2 * depth + 2, dtype=np.int64)
    touched = np.empty(2 * depth + 8, dtype=np.int64)
    added = np.empty(2 * depth + 2, dtype=np.int64)
    removed = np.empty(2 * depth + 4, dtype=np.int64)
    draws = np.empty(5, dtype=np.int64)
    rounds = max(kicks, 1)
    better = 0
    total = 0.0
    for _round in range(rounds):
        delta = 0.0
        if kicks > 0:  # ---- segment double bridge A B C D -> A C B D inside the window
            w = min(window, n - 1)
            for r in range(5):
                x = state[0]
                x ^= x >> np.uint64(12)
                x ^= x << np.uint64(25)
                x ^= x >> np.uint64(27)
                state[0] = x
                draws[r] = np.int64((x * np.uint64(2685821657736338717)) >> np.uint64(33))
            if draws[4] % 1000 < global_permille:  # a double bridge over the whole tour
                w = n - 1
            s = draws[0] % n
            lo = 1 + draws[1] % (w - 2)
            mid = lo + 1 + draws[2] % (w - 1 - lo)
            hi = mid + 1 + draws[3] % (w - mid)
            a0 = tour[(s + lo - 1) % n]
            b0 = tour[(s + lo) % n]
            b1 = tour[(s + mid - 1) % n]
            c0 = tour[(s + mid) % n]
            c1 = tour[(s + hi - 1) % n]
            d0 = tour[(s + hi) % n]
            delta = (dist(coords, matrix, code, a0, c0) + dist(coords, matrix, code, c1, b0)
                     + dist(coords, matrix, code, b1, d0) - dist(coords, matrix, code, a0, b0)
                     - dist(coords, matrix, code, b1, c0) - dist(coords, matrix, code, c1, d0))
            start = (s + lo) % n
            _reverse(tour, pos, start, hi - lo)  # B C -> C^r B^r -> C B
            _reverse(tour, pos, start, hi - mid)
            _reverse(tour, pos, (start + hi - mid) % n, mid - lo)
            queue[0] = a0
            queue[1] = b0
            queue[2] = b1
            queue[3] = c0
            queue[4] = c1
            queue[5] = d0
            count = 0
            for r in range(6):
                if not inq[queue[r]]:
                    inq[queue[r]] = True
                    queue[count] = queue[r]
                    count += 1
        # ---- descent over the queue of active nodes
        head = 0
        gain_sum = 0.0
        while count > 0:
            t1 = queue[head]
            head = (head + 1) % qn
            count -= 1
            inq[t1] = False
            gain = 0.0
            nt = 0
            for side in range(2):  # ---- LK move from t1
                if nt > 0:
                    break
                t2 = tour[(pos[t1] + 1) % n] if side == 0 else tour[(pos[t1] - 1 + n) % n]
                d12 = dist(coords, matrix, code, t1, t2)
                for c1 in range(kc):
                    t3 = cand[t2, c1]
                    if t3 < 0:
                        break
                    if t3 == t1:
                        continue
                    y1 = dist(coords, matrix, code, t2, t3)
                    if d12 - y1 <= _EPS:
                        continue
                    t4 = tour[(pos[t3] - 1 + n) % n] if side == 0 else tour[(pos[t3] + 1) % n]
                    if t4 == t2:
                        continue
                    nlog = 0
                    best_g, best_log, best_touch = 0.0, 0, 0
                    last = t2
                    G = d12
                    touched[0] = t1
                    touched[1] = t2
                    nt = 2
                    removed[0] = t1
                    removed[1] = t2
                    na = 0
                    nr = 2
                    for level in range(depth):
                        fwd = tour[(pos[t1] + 1) % n] == last
                        if level > 0:  # greedy choice of the next (t3, t4)
                            t3 = -1
                            score = -np.inf
                            for c in range(kc):
                                u = cand[last, c]
                                if u < 0:
                                    break
                                if u == t1:
                                    continue
                                yu = dist(coords, matrix, code, last, u)
                                if G - yu <= _EPS:
                                    continue
                                v = tour[(pos[u] - 1 + n) % n] if fwd else tour[(pos[u] + 1) % n]
                                if v == last:
                                    continue
                                tabu = False
                                for e in range(0, nr, 2):  # (last, u) removed before?
                                    if (removed[e] == last and removed[e + 1] == u) or \
                                            (removed[e] == u and removed[e + 1] == last):
                                        tabu = True
                                for e in range(0, na, 2):  # (u, v) added before?
                                    if (added[e] == u and added[e + 1] == v) or \
                                            (added[e] == v and added[e + 1] == u):
                                        tabu = True
                                if tabu:
                                    continue
                                sc = dist(coords, matrix, code, u, v) - yu
                                if sc > score:
                                    score, t3, t4, y1 = sc, u, v, yu
                            if t3 < 0:
                                break
                        # flip the path last..t4 (forward orientation) or its complement
                        a, b = (last, t4) if fwd else (t4, last)
                        i = pos[a]
                        length = (pos[b] - i + n) % n + 1
                        if 2 * length > n:
                            i = (pos[b] + 1) % n
                            length = n - length
                        _reverse(tour, pos, i, length)
                        log[nlog] = i
                        log[nlog + 1] = length
                        nlog += 2
                        added[na] = last
                        added[na + 1] = t3
                        na += 2
                        removed[nr] = t3
                        removed[nr + 1] = t4
                        nr += 2
                        touched[nt] = t3
                        touched[nt + 1] = t4
                        nt += 2
                        G += dist(coords, matrix, code, t3, t4) - y1
                        close = G - dist(coords, matrix, code, t4, t1)
                        if close > best_g + _EPS:
                            best_g, best_log, best_touch = close, nlog, nt
                        last = t4
                    for k in range(nlog - 2, best_log - 2, -2):  # undo past the best
                        _reverse(tour, pos, log[k], log[k + 1])
                    if best_g > _EPS:
                        gain = best_g
                        nt = best_touch
                        break
                    nt = 0
            if nt == 0:  # ---- Or-opt from t1
                for seg in range(1, 4):
                    if nt > 0 or seg + 3 > n:
                        break
                    i = pos[t1]
                    p = tour[(i - 1 + n) % n]
                    lst = tour[(i + seg - 1) % n]
                    nx = tour[(i + seg) % n]
                    remove_gain = (dist(coords, matrix, code, p, t1) + dist(coords, matrix, code, lst, nx)
                                   - dist(coords, matrix, code, p, nx))
                    if remove_gain <= _EPS:
                        continue
                    for t in range(2 * kc):
                        anchor = t1 if t < kc else lst
                        c = cand[anchor, t % kc]
                        if c < 0 or dist(coords, matrix, code, anchor, c) >= remove_gain:
                            continue
                        if (pos[c] - i + n) % n < seg:
                            continue  # c inside the segment
                        sc = tour[(pos[c] + 1) % n]
                        if c == p or sc == t1:
                            continue
                        d_csc = dist(coords, matrix, code, c, sc)
                        add_rev = (dist(coords, matrix, code, c, lst) + dist(coords, matrix, code, t1, sc)
                                   - d_csc)
                        add_fwd = (dist(coords, matrix, code, c, t1) + dist(coords, matrix, code, lst, sc)
                                   - d_csc)
                        best_add = min(add_rev, add_fwd)
                        if remove_gain - best_add > _EPS:
                            after = (pos[c] - (i + seg) + n) % n + 1  # nx .. c
                            _reverse(tour, pos, i, seg + after)
                            _reverse(tour, pos, i, after)
                            if add_fwd < add_rev:
                                _reverse(tour, pos, (i + after) % n, seg)
                            touched[0] = p
                            touched[1] = nx
                            touched[2] = c
                            touched[3] = sc
                            touched[4] = t1
                            touched[5] = lst
                            nt = 6
                            gain = remove_gain - best_add
                            break
            if nt > 0:
                gain_sum += gain
                for k in range(nt):
                    v = touched[k]
                    if not inq[v]:
                        inq[v] = True
                        queue[(head + count) % qn] = v
                        count += 1
        if kicks == 0:
            total = gain_sum
            cur -= gain_sum
            break
        new = cur + delta - gain_sum
        accept = new <= cur + 1e-9  # ties too: a plateau move
        if not accept and temp > 0.0:
            x = state[0]
            x ^= x >> np.uint64(12)
            x ^= x << np.uint64(25)
            x ^= x >> np.uint64(27)
            state[0] = x
            u = (np.float64((x * np.uint64(2685821657736338717)) >> np.uint64(11)) + 0.5) / 9007199254740992.0
            accept = u < np.exp(-(new - cur) / temp)
        if accept:
            cur = new
            for k in range(n):
                best[k] = tour[k]
            if new < elite_len - 1e-9:
                better += 1
                elite_len = new
                for k in range(n):
                    elite[k] = tour[k]
        else:
            for k in range(n):
                tour[k] = best[k]
                pos[best[k]] = k
    return cur, elite_len, (total if kicks == 0 else float(better))
