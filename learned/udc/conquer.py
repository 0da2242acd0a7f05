"""UDC conquer and reunion stages (Zheng et al. NeurIPS 2024, Alg. 1 / §4.2-4.3).

TSP: the tour is cut into segments of ``segment`` nodes whose end points stay fixed, every
segment is solved as an open-path sub-TSP (2-opt / Or-opt descent plus double-bridge kicks,
segments in parallel: :mod:`learned.udc._conquer_kernels`) and kept only if shorter (conquer); the
cut points are then shifted by half a segment, then by random offsets, and the conquer repeated
(reunion, :func:`reunion_offsets`). CVRP: the
routes, ordered by polar angle around the depot, are grouped into sub-problems of about
``segment`` customers improved by the capacity-aware granular search of ``local-search``; the
reunion shifts the groups. The training reward (``train.py``) runs the same code
(:func:`dcr_tsp`, :func:`dcr_cvrp`).
"""

from __future__ import annotations

import numpy as np

from problems import CVRP
from solvers.context import SolveContext
from solvers.routing.local_search import RouteState, TourImprover, cvrp_cost, cvrp_descend, cvrp_ils

# Double-bridge kicks per TSP sub-path in the conquer: on TSPLIB pr1002 / pcb1173 / d2103
# (random-insertion start, 4 starts, 4 rounds) 0 kicks leave 6.2 / 11.9 / 17.6 % above the
# optimum, 50 kicks 2.7 / 6.1 / 9.6 % for 0.2-0.3 s more per solve.
CONQUER_KICKS = 50


def conquer(tour: np.ndarray, improver: TourImprover, segment: int, offset: int, kicks: int = 0,
            seed: int = 0) -> tuple[np.ndarray, int]:
    """One conquer pass: cut ``tour`` (rolled by ``offset``) into open paths of ``segment``
    nodes with fixed ends and solve each one as a sub-TSP (2-opt/Or-opt descent, then ``kicks``
    double-bridge kicks, seeded by ``seed``), keeping it only if shorter (paper §4.2); the
    segments run in parallel (:func:`learned.udc._conquer_kernels.conquer_pass`).
    Returns a new array (``tour`` is left as it is) and the number of improved segments."""
    from ._conquer_kernels import conquer_pass

    rolled = np.ascontiguousarray(np.roll(tour, -offset), dtype=np.int64)
    improved = conquer_pass(rolled, improver.coords, improver.matrix, improver.code, int(segment),
                            int(kicks), int(seed))
    return np.roll(rolled, offset), int(improved)


def reunion_offsets(segment: int, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """Cut-point offsets of the ``rounds`` conquer passes (Alg. 1): 0 (the conquer), then
    segment / 2 (the first reunion, §4.3), then distinct random offsets (seeded by ``rng``);
    all distinct modulo ``segment`` while ``rounds <= segment``."""
    first = [0, segment // 2][:rounds]
    pool = np.setdiff1d(np.arange(segment), first)
    more = rng.permutation(pool)[: max(0, rounds - len(first))].tolist()
    extra = rng.integers(0, segment, size=max(0, rounds - len(first) - len(more))).tolist()
    return np.asarray(first + more + extra, dtype=np.int64)


def reunion_round(tour: np.ndarray, improver: TourImprover, segment: int, offset: int, kicks: int = 0,
                  seed: int = 0) -> np.ndarray:
    """One reunion round (Alg. 1): a :func:`conquer` pass with the cut points at ``offset``."""
    return conquer(tour, improver, segment, int(offset) % max(1, tour.size), kicks, seed)[0]


def dcr_tsp(tour: np.ndarray, improver: TourImprover, segment: int, offsets: np.ndarray,
            stop=None, kicks: int = CONQUER_KICKS, seed: int = 0) -> np.ndarray:
    """Conquer + reunion of one divided tour (the rounds at ``offsets``, ``kicks`` kicks per
    sub-path): what ``solve_udc`` runs and what the DCR training reward measures (``train.py``)."""
    for r, off in enumerate(offsets):
        if stop is not None and stop():
            break
        tour = reunion_round(tour, improver, segment, off, kicks, seed * 7919 + r)
    return tour


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
