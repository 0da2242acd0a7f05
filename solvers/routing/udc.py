"""``udc``: divide (learned heatmap or random insertion) - conquer (segment 2-opt/Or-opt with fixed
ends) - reunion (shifted cut points, r rounds), Zheng et al. NeurIPS 2024, Alg. 1 / §4.2-4.3.

TSP: the shipped divider outputs a node heatmap and builds ``starts`` tours by learned-order
cheapest insertion (sampled, the shortest kept; ``learned.udc._construct.insertion_tour``); an
edge-heatmap network (``decode="next"``, used for CVRP) builds them greedily node by node from
several start nodes instead, with the heatmap recomputed every ``refresh`` steps. The
tour is cut into segments of ``segment`` nodes whose end points stay fixed, every segment is
improved as an open path and kept only if shorter (conquer); the cut points are then shifted by
half a segment and the conquer repeated (reunion, ``rounds`` rounds).  Remaining time goes to
iterated local search on the whole tour.  CVRP: the divider's giant tour (depot included) is
split optimally into capacity-feasible routes (Prins); the conquer step improves sub-problems of
about ``segment`` customers (routes adjacent by polar angle) with the capacity-aware granular
search (relocate / swap / 2-opt* / 2-opt + restricted ruin-and-recreate), reunion shifts the
groups; the remaining time goes to the ruin-and-recreate ILS of ``local-search``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from problems import CVRP, TSP

from ..context import SolveContext
from ..result import Result, Status
from . import _ls_kernels as K
from .local_search import (
    RouteState,
    TourImprover,
    cvrp_cost,
    cvrp_descend,
    cvrp_ils,
    cvrp_neighbours,
    improve_route,
    neighbour_lists,
    split_routes,
)

_EMPTY = np.zeros((1, 1))


def random_insertion(coords: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random insertion (the paper's ablation start): nodes in random order, each inserted
    where it lengthens the tour least (Euclidean; O(n^2) vectorized)."""
    n = coords.shape[0]
    order = rng.permutation(n)
    return _random_insertion(coords.astype(np.float64), order)


def _random_insertion(coords: np.ndarray, order: np.ndarray) -> np.ndarray:
    from ._udc_kernels import random_insertion_kernel

    return random_insertion_kernel(coords, order)


def conquer(tour: np.ndarray, improver: TourImprover, segment: int, offset: int) -> tuple[np.ndarray, int]:
    """One conquer pass: cut ``tour`` (rolled by ``offset``) into open paths of ``segment``
    nodes with fixed ends, 2-opt/Or-opt each one, keep it only if shorter (paper §4.2)."""
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


def reunion_round(tour: np.ndarray, improver: TourImprover, segment: int, r: int) -> np.ndarray:
    """Round ``r`` of the reunion (Alg. 1): one :func:`conquer` pass with the cut points shifted
    by r * segment / 2 (the training reward runs the same rounds)."""
    return conquer(tour, improver, segment, (r * segment) // 2 % max(1, tour.size))[0]


def _path_len(path: np.ndarray, coords: np.ndarray, matrix: np.ndarray, code: int) -> float:
    return float(K.tour_length(path, coords, matrix, code) - K.dist(coords, matrix, code, path[-1], path[0]))


def divide_tsp(problem: TSP | CVRP, start: str, starts: int, rng: np.random.Generator,
               model=None, refresh: int = 0, stop=None) -> tuple[np.ndarray, str]:
    """Initial tour: learned heatmap (greedy from ``starts`` start nodes, best kept) or random
    insertion.  With ``refresh`` > 0 the heatmap is recomputed on the not yet visited nodes every
    ``refresh`` construction steps (paper §4.1; the first start only, the others reuse the full
    heatmap).  ``stop`` (a no-argument callable, e.g. the solve's ``should_stop``) is asked after
    each start: once it says so, the best tour built so far is returned.  Returns (tour, how)."""
    coords = problem.coords if problem.coords is not None else None
    if coords is None or problem.distance_code == 5:
        start = "random-insertion" if coords is not None else "nearest"
    if start == "random-insertion":
        return _random_insertion(np.asarray(coords, float), rng.permutation(problem.n_nodes)), start
    if start == "nearest":
        imp = TourImprover(problem, neighbour_lists(problem, 10))
        return K.nearest_neighbour_tour(imp.coords, imp.matrix, imp.code, imp.neigh, 0), start
    from learned.udc import model as M
    from learned.udc._construct import construct_tour, insertion_tour

    kind = "cvrp" if isinstance(problem, CVRP) else "tsp"
    net = model if model is not None else M.load(kind, M.device()).to(M.device())
    neigh = M.knn(np.asarray(coords, float), net.k)
    feats = (M.node_features(coords, problem.demands, problem.capacity) if kind == "cvrp"
             else M.node_features(coords))
    logits = M.heatmap(net, feats, neigh)
    xy = M.unit_box(np.asarray(coords, float))
    if getattr(net, "decode", "next") == "insert":  # node heatmap: learned-order insertion
        a, b = np.ascontiguousarray(logits[:, 0]), np.ascontiguousarray(logits[:, 1])
        # ``starts`` sampled insertion orders
        tours = (insertion_tour(a, b, xy, False, int(rng.integers(2**31)), False)[0]
                 for _ in range(starts))
    else:
        firsts = rng.choice(problem.n_nodes, size=min(starts, problem.n_nodes), replace=False)
        tours = (_construct_refreshed(problem, net, int(s), refresh, kind)
                 if i == 0 and 0 < refresh < problem.n_nodes - 1
                 else construct_tour(logits, neigh, xy, int(s), True, 0)[0]
                 for i, s in enumerate(firsts))
    return _shortest(tours, TourImprover(problem, neigh), stop), "learned"


def _shortest(tours, length: TourImprover, stop) -> np.ndarray:
    """The shortest of the lazily built ``tours``; stops building once ``stop()`` says so."""
    best, best_len = None, np.inf
    for tour in tours:
        L = length.length(tour)
        if L < best_len:
            best, best_len = tour, L
        if stop is not None and stop():
            break
    return best


def _construct_refreshed(problem: TSP | CVRP, net, start: int, refresh: int, kind: str) -> np.ndarray:
    """Greedy construction whose heatmap is recomputed every ``refresh`` steps on the sub-problem
    (current node + unvisited nodes; for CVRP the depot stays in as the polar-feature anchor)."""
    from learned.udc import model as M
    from learned.udc._construct import construct_steps

    coords = np.asarray(problem.coords, float)
    n = problem.n_nodes
    visited = np.zeros(n, dtype=np.bool_)
    visited[start] = True
    tour = [start]
    cur = start
    while len(tour) < n:
        rest = np.flatnonzero(~visited)
        if kind == "cvrp" and visited[0] and cur != 0:
            nodes = np.concatenate([[cur, 0], rest])  # depot: anchor only, cannot be entered
        else:
            nodes = np.concatenate([[cur], rest])
        sub = coords[nodes]
        m = nodes.size
        if m <= 2:
            tour.extend(rest.tolist())
            break
        neigh = M.knn(sub, min(net.k, m - 1))
        if kind == "cvrp":
            anchor = np.flatnonzero(nodes == 0)  # the depot is always in the sub-problem
            perm = np.r_[anchor, np.setdiff1d(np.arange(m), anchor)]
            feats = np.empty((m, 5), dtype=np.float32)
            feats[perm] = M.node_features(sub[perm], problem.demands[nodes][perm], problem.capacity)
        else:
            feats = M.node_features(sub)
        if neigh.shape[1] < net.k:  # pad tiny sub-problems with repeats of the last neighbour
            neigh = np.concatenate([neigh, np.repeat(neigh[:, -1:], net.k - neigh.shape[1], 1)], 1)
        logits = M.heatmap(net, feats, neigh)
        blocked = np.zeros(m, dtype=np.bool_)
        blocked[1:] = visited[nodes[1:]]
        path = construct_steps(logits, neigh, M.unit_box(sub), 0, refresh, blocked)
        for v in nodes[path]:
            visited[v] = True
            tour.append(int(v))
        cur = tour[-1]
    return np.asarray(tour, dtype=np.int64)


def solve_udc(problem: TSP | CVRP, ctx: SolveContext, start: str = "learned", starts: int = 4,
              segment: int = 100, rounds: int = 4, polish: bool = True, refresh: int | None = None,
              kicks: int | None = None) -> Result:
    """Divide - conquer - reunion (Alg. 1), then ILS polish with the remaining time (or ``kicks``
    kicks / ruin-and-recreate rounds; default 20 n without a time limit, as ``local-search``).

    ``refresh``: heatmap recomputed every ``refresh`` construction steps on the unvisited nodes
    (default n // 4; 0 = one heatmap for the whole construction)."""
    if start not in ("learned", "random-insertion", "nearest"):
        raise ValueError("start must be 'learned', 'random-insertion' or 'nearest'")
    if segment < 6:
        raise ValueError("segment must be >= 6")
    if rounds < 0 or starts < 1:
        raise ValueError("rounds must be >= 0 and starts >= 1")
    if refresh is not None and refresh < 0:
        raise ValueError("refresh must be >= 0")
    if kicks is not None and kicks < 0:
        raise ValueError("kicks must be >= 0")
    if kicks is None and ctx.time_limit is None:
        kicks = 20 * problem.n_nodes
    rng = ctx.rng
    every = max(50, problem.n_nodes // 4) if refresh is None else refresh
    tour, how = divide_tsp(problem, start, starts, rng, refresh=every, stop=ctx.should_stop)
    neigh = neighbour_lists(problem, 10)
    improver = TourImprover(problem, neigh)
    L0 = improver.length(tour)
    is_tsp = not isinstance(problem, CVRP)  # the CVRP history holds route lengths only
    if is_tsp:
        ctx.record(L0, iteration=0)
    done = 0
    try:
        for r in range(rounds):
            if ctx.should_stop():
                break
            tour = reunion_round(tour, improver, segment, r)
            done += 1
            if is_tsp:
                ctx.record(improver.length(tour), iteration=done)
        conquered = improver.length(tour)
        if isinstance(problem, CVRP):
            return _finish_cvrp(problem, ctx, improver, tour, polish, how, L0, conquered, segment, rounds,
                                kicks)
        done_kicks = 0
        if polish and not ctx.should_stop():
            tour = improver.descend(tour)
            tour, done_kicks = improver.iterate(tour, ctx, kicks, rng)
    except KeyboardInterrupt:
        return ctx.result(solution=tour, objective=problem.objective(tour), status=Status.INTERRUPTED,
                          iterations=done)
    return ctx.result(solution=tour, objective=problem.objective(tour),
                      status=ctx.stop_status(Status.FEASIBLE), iterations=done,
                      stats={"start": how, "divided": L0, "conquered": conquered, "kicks": done_kicks})


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


def _finish_cvrp(problem: CVRP, ctx: SolveContext, improver: TourImprover, giant: np.ndarray,
                 polish: bool, how: str, L0: float, conquered: float, segment: int = 100,
                 rounds: int = 4, max_kicks: int | None = None) -> Result:
    """Split the divided giant tour into routes (Prins), conquer sub-problems of ~``segment``
    customers with the capacity-aware granular search for ``rounds`` shifted reunion rounds,
    then (``polish``) ruin-and-recreate ILS on the whole solution until the time limit (or
    ``max_kicks`` rounds)."""
    routes = [improve_route(improver, r, improver.neigh) for r in split_routes(problem, improver, giant)]
    split_obj = problem.objective(routes)
    ctx.record(split_obj)
    neigh = cvrp_neighbours(problem)
    state = RouteState(problem, routes)
    rng = ctx.rng
    done = 0
    per_route = max(1.0, (problem.n_nodes - 1) / max(1, len(routes)))
    kicks = 0
    try:
        for r in range(rounds):
            if ctx.should_stop():
                break
            shift = int(round(r * segment / (2 * per_route)))
            conquer_cvrp(problem, improver, state, neigh, segment, shift, ctx, rng, max(1, segment // 4))
            done += 1
            ctx.record(cvrp_cost(state, improver, best=True), iteration=done)
        conquered_routes = cvrp_cost(state, improver, best=True)
        if polish and not ctx.should_stop():
            kicks = cvrp_ils(problem, improver, state, neigh, ctx, max_kicks, rng)
    except KeyboardInterrupt:  # the best routes so far (state.best is always feasible)
        conquered_routes = cvrp_cost(state, improver, best=True)
    routes = [r.tolist() for r in state.routes(best=True)]
    return ctx.result(solution=routes, objective=problem.objective(routes),
                      status=ctx.stop_status(Status.FEASIBLE), iterations=done,
                      stats={"start": how, "divided": L0, "conquered": conquered, "split": split_obj,
                             "conquered_routes": conquered_routes, "routes": len(routes), "kicks": kicks})
