"""``local-search``: numba 2-opt + Or-opt with neighbour lists, don't-look bits and
iterated local search (segment-local double-bridge kicks) for TSP; route-first
cluster-second (giant tour, Prins' optimal split, per-route improvement) for CVRP."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from problems import CVRP, TSP

from ..context import SolveContext
from ..result import Result, Status
from . import _ls_kernels as K

_EMPTY = np.zeros((1, 1))


def neighbour_lists(problem: TSP | CVRP, k: int = 10) -> np.ndarray:
    """k nearest neighbours of every node (by the instance's own lengths where explicit)."""
    n = problem.n_nodes
    k = min(k, n - 1)
    if problem.edge_weight_type == "EXPLICIT":
        M = problem.matrix.copy()
        np.fill_diagonal(M, np.inf)
        return np.argsort(M, axis=1, kind="stable")[:, :k].astype(np.int64)
    coords = problem.coords
    if problem.edge_weight_type == "GEO":
        from problems.distances import geo_radians

        rad = geo_radians(coords)
        coords = np.c_[np.cos(rad[:, 0]) * np.cos(rad[:, 1]), np.cos(rad[:, 0]) * np.sin(rad[:, 1]),
                       np.sin(rad[:, 0])]
    _, idx = cKDTree(coords).query(coords, k=k + 1)
    out = np.empty((n, k), dtype=np.int64)
    for v in range(n):  # drop v itself wherever duplicates put it
        row = [u for u in idx[v] if u != v][:k]
        out[v, : len(row)] = row
        out[v, len(row):] = -1
    return out


class TourImprover:
    """2-opt/Or-opt descent plus iterated local search on one tour (closed or open path)."""

    def __init__(self, problem: TSP | CVRP, neigh: np.ndarray, coords=None, matrix=None):
        self.coords = problem.coords if coords is None and problem.coords is not None else (
            coords if coords is not None else np.zeros((problem.n_nodes, 2)))
        self.matrix = problem.matrix if problem.matrix is not None else _EMPTY
        self.code = problem.distance_code
        self.neigh = neigh

    def length(self, tour: np.ndarray) -> float:
        return float(K.tour_length(tour, self.coords, self.matrix, self.code))

    def descend(self, tour: np.ndarray, neigh: np.ndarray | None = None, fixed_ends: bool = False,
                dontlook: np.ndarray | None = None) -> np.ndarray:
        tour = np.ascontiguousarray(tour, dtype=np.int64)
        nb = self.neigh if neigh is None else neigh
        pos = np.empty(nb.shape[0], dtype=np.int64)
        pos[tour] = np.arange(tour.size)
        dl = np.zeros(nb.shape[0], dtype=np.bool_) if dontlook is None else dontlook
        K.local_search(tour, pos, self.coords, self.matrix, self.code, nb, int(fixed_ends), 1_000_000, dl)
        return tour

    def iterate(self, tour: np.ndarray, ctx: SolveContext, kicks: int | None, rng: np.random.Generator
                ) -> tuple[np.ndarray, int]:
        """Iterated local search: double-bridge kick within a window, descend, keep if not worse."""
        n = tour.size
        if n < 8:
            return tour, 0
        best = tour.copy()
        best_len = self.length(best)
        done = 0
        window = min(n - 1, 50)
        while (kicks is None or done < kicks) and not ctx.should_stop():
            start = int(rng.integers(0, n))
            cur = np.roll(best, -start)
            cuts = np.sort(rng.choice(np.arange(1, window), size=3, replace=False))
            p1, p2, p3 = (int(c) for c in cuts)
            cur = np.concatenate([cur[:p1], cur[p2:p3], cur[p1:p2], cur[p3:]])
            dl = np.ones(n, dtype=np.bool_)
            for v in (cur[p1 - 1], cur[p1], cur[p3 - 1], cur[p3 % n], cur[p1 + p3 - p2 - 1],
                      cur[p1 + p3 - p2], cur[0], cur[-1]):
                dl[v] = False
            cur = self.descend(cur, dontlook=dl)
            cur_len = self.length(cur)
            done += 1
            if cur_len < best_len - 1e-9:
                best, best_len = cur, cur_len
                ctx.record(best_len, iteration=done)
        return best, done


def _start_tour(improver: TourImprover, n: int, start: int) -> np.ndarray:
    return K.nearest_neighbour_tour(improver.coords, improver.matrix, improver.code, improver.neigh, start)


def solve_local_search(problem: TSP | CVRP, ctx: SolveContext, neighbours: int = 10,
                       kicks: int | None = None) -> Result:
    """TSP: nearest-neighbour start, 2-opt + Or-opt descent, then ILS until the time limit
    (or ``kicks`` kicks; default 20 n without a time limit). CVRP: see ``_solve_cvrp``."""
    if neighbours < 2:
        raise ValueError("neighbours must be >= 2")
    if kicks is not None and kicks < 0:
        raise ValueError("kicks must be >= 0")
    if kicks is None and ctx.time_limit is None:
        kicks = 20 * problem.n_nodes
    neigh = neighbour_lists(problem, neighbours)
    improver = TourImprover(problem, neigh)
    if isinstance(problem, CVRP):
        return _solve_cvrp(problem, ctx, improver, kicks)
    tour = improver.descend(_start_tour(improver, problem.n_nodes, 0))
    ctx.record(improver.length(tour), iteration=0)
    try:
        tour, done = improver.iterate(tour, ctx, kicks, ctx.rng)
    except KeyboardInterrupt:
        done = 0
    status = ctx.stop_status(Status.FEASIBLE)
    return ctx.result(solution=tour, objective=problem.objective(tour), status=status, iterations=done,
                      stats={"kicks": done})


def split_routes(problem: CVRP, improver: TourImprover, giant: np.ndarray) -> list[np.ndarray]:
    """Optimal split (Prins 2004) of a giant tour through the depot into feasible routes."""
    order = giant[giant != 0] if 0 in giant else giant
    if 0 in giant:
        k = int(np.flatnonzero(giant == 0)[0])
        order = np.concatenate([giant[k + 1:], giant[:k]])
    pred = K.split_giant_tour(order, problem.demands, problem.capacity, improver.coords,
                              improver.matrix, improver.code, 0)
    routes = []
    j = order.size
    while j > 0:
        i = int(pred[j])
        routes.append(order[i:j].copy())
        j = i
    return routes[::-1]


def improve_route(improver: TourImprover, route: np.ndarray, neigh_full: np.ndarray) -> np.ndarray:
    """2-opt/Or-opt on the closed tour depot + route (node ids mapped to a local index)."""
    nodes = np.concatenate([[0], route])
    if nodes.size < 5:
        return route
    sub = TourImprover.__new__(TourImprover)
    sub.coords = improver.coords[nodes] if improver.code != 5 else improver.coords
    sub.matrix = improver.matrix[np.ix_(nodes, nodes)] if improver.code == 5 else improver.matrix
    sub.code = improver.code
    local = np.arange(nodes.size)
    if improver.code == 5:
        M = sub.matrix.copy()
        np.fill_diagonal(M, np.inf)
        sub.neigh = np.argsort(M, axis=1)[:, : min(10, nodes.size - 1)].astype(np.int64)
    else:
        kk = min(10, nodes.size - 1)
        _, idx = cKDTree(sub.coords).query(sub.coords, k=kk + 1)
        sub.neigh = np.array([[u for u in row if u != v][:kk] for v, row in enumerate(idx)], dtype=np.int64)
    tour = sub.descend(local)
    k = int(np.flatnonzero(tour == 0)[0])
    tour = np.roll(tour, -k)
    return nodes[tour[1:]]


def _solve_cvrp(problem: CVRP, ctx: SolveContext, improver: TourImprover, kicks: int | None) -> Result:
    """Route-first cluster-second: ILS on the giant TSP tour (depot included), optimal split,
    then 2-opt/Or-opt inside every route; the best split found is kept."""
    giant = improver.descend(_start_tour(improver, problem.n_nodes, 0))

    def evaluate(tour: np.ndarray) -> tuple[float, list[np.ndarray]]:
        routes = [improve_route(improver, r, improver.neigh) for r in split_routes(problem, improver, tour)]
        return problem.objective(routes), routes

    best_obj, best_routes = evaluate(giant)
    ctx.record(best_obj, iteration=0)
    rounds = 0
    budget = kicks if kicks is not None else None
    rng = ctx.rng
    while not ctx.should_stop() and (budget is None or rounds * 50 < budget):
        giant, _ = improver.iterate(giant, ctx, 50, rng)
        obj, routes = evaluate(giant)
        rounds += 1
        if obj < best_obj - 1e-9:
            best_obj, best_routes = obj, routes
            ctx.record(best_obj, iteration=rounds)
        if ctx.time_limit is None and rounds >= 20:
            break
    routes = [r.tolist() for r in best_routes]
    return ctx.result(solution=routes, objective=problem.objective(routes),
                      status=ctx.stop_status(Status.FEASIBLE), iterations=rounds,
                      stats={"routes": len(routes)})
