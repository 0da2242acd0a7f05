"""UDC conquer and reunion stages (Zheng et al. NeurIPS 2024, Alg. 1 / §4.2-4.3).

TSP: the tour is cut into segments of ``segment`` nodes whose end points stay fixed, every
segment is improved as an open path (2-opt / Or-opt) and kept only if shorter (conquer); the
cut points are then shifted by half a segment, then by random offsets, and the conquer repeated
(reunion, :func:`reunion_offsets`). CVRP: the
routes, ordered by polar angle around the depot, are grouped into sub-problems of about
``segment`` customers improved by the capacity-aware granular search of ``local-search``; the
reunion shifts the groups. The training reward (``train.py``) runs the same code
(:func:`dcr_tsp`, :func:`dcr_cvrp`).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from problems import CVRP
from solvers.context import SolveContext
from solvers.routing import _ls_kernels as K
from solvers.routing.local_search import RouteState, TourImprover, cvrp_cost, cvrp_descend, cvrp_ils


def conquer(tour: np.ndarray, improver: TourImprover, segment: int, offset: int) -> tuple[np.ndarray, int]:
    """One conquer pass: cut ``tour`` (rolled by ``offset``) into open paths of ``segment``
    nodes with fixed ends, 2-opt/Or-opt each one, keep it only if shorter (paper §4.2).
    Returns a new array (``tour`` is left as it is) and the number of improved segments."""
    n = tour.size
    tour = np.roll(tour, -offset)
    improved = 0
    coords, matrix, code = improver.coords, improver.matrix, improver.code
    for a in range(0, n, segment):
        b = min(n, a + segment + 1)  # segment shares its last node with the next segment
        nodes = tour[a:b] if b <= n else tour[a:]
        if nodes.size < 6:
            continue
        sub_c = coords[nodes] if code != 5 else coords
        sub_m = matrix[np.ix_(nodes, nodes)] if code == 5 else matrix
        m = nodes.size
        local = np.arange(m, dtype=np.int64)
        old = _path_len(local, sub_c, sub_m, code)
        kk = min(8, m - 1)
        if code == 5:
            M = sub_m.copy()
            np.fill_diagonal(M, np.inf)
            nb = np.argsort(M, axis=1)[:, :kk].astype(np.int64)
        else:
            _, idx = cKDTree(sub_c).query(sub_c, k=kk + 1)
            nb = np.array([[u for u in row if u != v][:kk] for v, row in enumerate(idx)], dtype=np.int64)
        pos = local.copy()
        cand = local.copy()
        K.local_search(cand, pos, sub_c, sub_m, code, nb, 1, 1_000_000, np.zeros(m, dtype=np.bool_))
        if cand[0] == 0 and cand[-1] == m - 1 and _path_len(cand, sub_c, sub_m, code) < old - 1e-9:
            tour[a:a + m] = nodes[cand]
            improved += 1
    return np.roll(tour, offset), improved


def reunion_offsets(segment: int, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """Cut-point offsets of the ``rounds`` conquer passes (Alg. 1): 0 (the conquer), then
    segment / 2 (the first reunion, §4.3), then distinct random offsets (seeded by ``rng``);
    all distinct modulo ``segment`` while ``rounds <= segment``."""
    first = [0, segment // 2][:rounds]
    pool = np.setdiff1d(np.arange(segment), first)
    more = rng.permutation(pool)[: max(0, rounds - len(first))].tolist()
    extra = rng.integers(0, segment, size=max(0, rounds - len(first) - len(more))).tolist()
    return np.asarray(first + more + extra, dtype=np.int64)


def reunion_round(tour: np.ndarray, improver: TourImprover, segment: int, offset: int) -> np.ndarray:
    """One reunion round (Alg. 1): a :func:`conquer` pass with the cut points at ``offset``."""
    return conquer(tour, improver, segment, int(offset) % max(1, tour.size))[0]


def dcr_tsp(tour: np.ndarray, improver: TourImprover, segment: int, offsets: np.ndarray,
            stop=None) -> np.ndarray:
    """Conquer + reunion of one divided tour (the rounds at ``offsets``): what ``solve_udc``
    runs and what the DCR training reward measures (``train.py``)."""
    for off in offsets:
        if stop is not None and stop():
            break
        tour = reunion_round(tour, improver, segment, off)
    return tour


def _path_len(path: np.ndarray, coords: np.ndarray, matrix: np.ndarray, code: int) -> float:
    return float(K.tour_length(path, coords, matrix, code) - K.dist(coords, matrix, code, path[-1], path[0]))


def conquer_cvrp(problem: CVRP, improver: TourImprover, state: RouteState, neigh: np.ndarray,
                 segment: int, shift: int, ctx: SolveContext, rng: np.random.Generator,
                 iterations: int) -> int:
    """CVRP conquer (paper §4.2 for CVRP): the routes, ordered by the polar angle of their centroid
    around the depot, are grouped into sub-problems of about ``segment`` customers (the first
    group starts ``shift`` routes later in every reunion round); every sub-problem is improved by
    the granular capacity-aware descent (relocate / swap / 2-opt* / 2-opt) and ``iterations``
    ruin-and-recreate rounds restricted to its customers.  The best solution is kept, so a
    sub-problem is only replaced when the total length shrinks.  Returns the number of groups."""
    routes = state.routes(best=True)
    if not routes:
        return 0
    xy = improver.coords if improver.code != 5 else None
    if xy is not None and xy.shape[0] == problem.n_nodes:
        ang = np.array([np.arctan2(*(xy[r].mean(axis=0) - xy[0])[::-1]) for r in routes])
        order = np.argsort(ang, kind="stable")
    else:
        order = np.arange(len(routes))
    order = np.roll(order, -(shift % len(order)))
    groups, cur = [], []
    for r in order:
        cur.append(routes[r])
        if sum(len(x) for x in cur) >= segment:
            groups.append(np.concatenate(cur))
            cur = []
    if cur:
        groups.append(np.concatenate(cur))
    for members in groups:
        if ctx.should_stop():
            break
        allowed = np.zeros(problem.n_nodes, dtype=np.bool_)
        allowed[members] = True
        state.restore_best()
        cvrp_descend(problem, improver, state, neigh, allowed, rng)
        if cvrp_cost(state, improver) < cvrp_cost(state, improver, best=True) - 1e-9:
            state.keep_best()
        cvrp_ils(problem, improver, state, neigh, ctx, iterations, rng, allowed=allowed, record=False)
    state.restore_best()
    return len(groups)


def dcr_cvrp(problem: CVRP, improver: TourImprover, routes: list[np.ndarray], neigh: np.ndarray,
             segment: int, offsets: np.ndarray, ctx: SolveContext, rng: np.random.Generator,
             iterations: int | None = None) -> RouteState:
    """Conquer + reunion of one divided CVRP solution: every route 2-opt'ed, then one
    :func:`conquer_cvrp` pass per offset (in customers; turned into a shift of whole routes).
    What ``solve_udc`` runs and what the DCR training reward measures."""
    from solvers.routing.local_search import improve_route

    routes = [improve_route(improver, r, improver.neigh) for r in routes]
    state = RouteState(problem, routes)
    per_route = max(1.0, (problem.n_nodes - 1) / max(1, len(routes)))
    its = max(1, segment // 4) if iterations is None else iterations
    for off in offsets:
        if ctx.should_stop():
            break
        conquer_cvrp(problem, improver, state, neigh, segment, int(round(off / per_route)), ctx, rng, its)
    return state
