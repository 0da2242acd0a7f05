"""``local-search``: numba 2-opt + Or-opt with neighbour lists, don't-look bits and
iterated local search (segment-local double-bridge kicks) for TSP; for CVRP a route-first
cluster-second start (giant tour, Prins' optimal split, per-route improvement) followed by a
granular capacity-aware inter-route local search (relocate / swap / 2-opt*) inside a
ruin-and-recreate ILS."""

from __future__ import annotations

import time

import numpy as np
from scipy.spatial import cKDTree

from problems import CVRP, TSP

from ..context import SolveContext
from ..result import Result
from . import _cvrp_kernels as CK
from . import _ls_kernels as K
from . import background
from .neighbours import neighbour_lists

_EMPTY = np.zeros((1, 1))
#: a first CVRP call runs OR-Tools while its kernels compile up to this many nodes (its model
#: takes an n² matrix of Python ints)
ORTOOLS_COLD_MAX = 1500
#: the kernels of the CVRP search after the start (``_solve_cvrp``): the descent's (compiled
#: first by the compiler process: ~5 of its 13 CPU s) and the ILS's
_DESCENT_KERNELS = (CK.granular_descent, CK.solution_cost)
_SEARCH_KERNELS = (*_DESCENT_KERNELS, CK.ils_chunk)


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
        """Iterated local search: double-bridge kick within a window, descend, keep if not worse;
        ``kicks`` kicks (None: until a stopping criterion of ``ctx`` fires)."""
        n = tour.size
        if n < 8:
            return tour, 0
        best = tour.copy()
        best_len = self.length(best)
        done = 0
        window = min(n - 1, 50)
        for k in ctx.iterations():
            if kicks is not None and k >= kicks:
                break
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
            done = k + 1
            if cur_len < best_len - 1e-9:
                best, best_len = cur, cur_len  # a new array each kick: the recorded one stays as is
                ctx.record(best_len, iteration=done, incumbent=best)
        return best, done


def _start_tour(improver: TourImprover, n: int, start: int) -> np.ndarray:
    return K.nearest_neighbour_tour(improver.coords, improver.matrix, improver.code, improver.neigh, start)


def solve_local_search(problem: TSP | CVRP, ctx: SolveContext, *, neighbours: int,
                       kicks: int | None, candidates: str) -> Result:
    """TSP (``tsp.solve_tsp``): α-nearness candidates, strip start, Lin–Kernighan + Or-opt
    descent, then ILS with segment double-bridge kicks until the time limit (or ``kicks`` kicks;
    default 20 n without a time limit). CVRP: see ``_solve_cvrp``."""
    if kicks is None and ctx.time_limit is None:
        kicks = 20 * problem.n_nodes
    if isinstance(problem, TSP):
        from .tsp import solve_tsp

        tour, done, stats = solve_tsp(problem, ctx, neighbours, kicks, candidates)
        if ctx.reason is None:  # the kick budget ran out
            ctx.finished()
        return ctx.result(solution=tour, objective=problem.objective(tour), iterations=done,
                          stats={"kicks": done, **stats})
    improver = TourImprover(problem, neighbour_lists(problem, neighbours))
    return _solve_cvrp(problem, ctx, improver, kicks)


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


class RouteState:
    """Mutable CVRP solution for the numba kernels of ``_cvrp_kernels`` (route array, route of /
    position of every customer, loads) plus a copy of the best solution seen."""

    def __init__(self, problem: CVRP, routes: list[np.ndarray]):
        n = problem.n_nodes
        dem = problem.demands
        positive = dem[1:][dem[1:] > 0]
        width = n - 1
        if positive.size:
            width = min(n - 1, int(np.sum(dem[1:] <= 0)) + int(problem.capacity // positive.min()) + 1)
        slots = max(1, n - 1)
        self.R = np.zeros((slots, max(1, width)), dtype=np.int64)
        self.L = np.zeros(slots, dtype=np.int64)
        self.route_of = np.full(n, -1, dtype=np.int64)
        self.pos = np.zeros(n, dtype=np.int64)
        self.load = np.zeros(slots)
        for r, route in enumerate(x for x in routes if len(x)):
            route = np.asarray(route, dtype=np.int64)
            self.R[r, : route.size] = route
            self.L[r] = route.size
            self.route_of[route] = r
            self.pos[route] = np.arange(route.size)
            self.load[r] = dem[route].sum()
        self.best = [a.copy() for a in (self.R, self.L, self.route_of, self.pos, self.load)]

    def routes(self, best: bool = False) -> list[np.ndarray]:
        R, L = (self.best[0], self.best[1]) if best else (self.R, self.L)
        return [R[r, : L[r]].copy() for r in range(L.size) if L[r] > 0]

    def solution(self, best: bool = True) -> list[list[int]]:
        """The routes as the ``Result`` holds them (lists of customers); as a bound method, the
        lazy incumbent handed to ``ctx.record``."""
        return [r.tolist() for r in self.routes(best)]

    def keep_best(self) -> None:
        self.best = [a.copy() for a in (self.R, self.L, self.route_of, self.pos, self.load)]

    def restore_best(self) -> None:
        self.R, self.L, self.route_of, self.pos, self.load = (a.copy() for a in self.best)


def cvrp_neighbours(problem: CVRP, k: int = 20) -> np.ndarray:
    """Granular candidate lists: the k nearest nodes of every node (the depot is skipped by the
    kernels)."""
    return neighbour_lists(problem, min(k, problem.n_nodes - 1))


def cvrp_descend(problem: CVRP, improver: TourImprover, state: RouteState, neigh: np.ndarray,
                 allowed: np.ndarray | None = None, rng: np.random.Generator | None = None) -> float:
    """Granular inter/intra-route descent (relocate, swap, 2-opt*, 2-opt) until no improving
    capacity-feasible move; returns the gain."""
    n = problem.n_nodes
    if allowed is None:
        allowed = np.ones(n, dtype=np.bool_)
        allowed[0] = False
    order = np.arange(n, dtype=np.int64) if rng is None else rng.permutation(n).astype(np.int64)
    return float(CK.granular_descent(state.R, state.L, state.route_of, state.pos, state.load,
                                     improver.coords, improver.matrix, improver.code, problem.demands,
                                     float(problem.capacity), neigh, allowed,
                                     np.zeros(n, dtype=np.bool_), order))


def cvrp_cost(state: RouteState, improver: TourImprover, best: bool = False) -> float:
    R, L = (state.best[0], state.best[1]) if best else (state.R, state.L)
    return float(CK.solution_cost(R, L, improver.coords, improver.matrix, improver.code))


def cvrp_ils(problem: CVRP, improver: TourImprover, state: RouteState, neigh: np.ndarray,
             ctx: SolveContext, iterations: int | None, rng: np.random.Generator,
             allowed: np.ndarray | None = None, threshold: float = 0.005, max_remove: int = 12,
             record: bool = True) -> int:
    """Ruin-and-recreate + granular descent, record-to-record acceptance (threshold shrinking to 0
    with the elapsed fraction of the time limit); the best solution ends up in ``state.best``.
    Runs ``iterations`` rounds, or until the time limit when ``iterations`` is None."""
    n = problem.n_nodes
    if allowed is None:
        allowed = np.ones(n, dtype=np.bool_)
        allowed[0] = False
    if not allowed[1:].any():
        return 0
    cur = cvrp_cost(state, improver)
    best = cvrp_cost(state, improver, best=True)
    if cur < best - 1e-9:
        state.keep_best()
        best = cur
    done, chunk = 0, 8
    max_remove = max(2, min(max_remove, neigh.shape[1] + 1))
    while (iterations is None or done < iterations) and not ctx.should_stop():
        todo = chunk if iterations is None else min(chunk, iterations - done)
        thr = threshold
        if ctx.time_limit is not None:
            thr = threshold * max(0.0, 1.0 - ctx.elapsed() / ctx.time_limit)
        b = state.best
        t0 = time.perf_counter()
        old = best
        cur, best, _, _ = CK.ils_chunk(state.R, state.L, state.route_of, state.pos, state.load,
                                       b[0], b[1], b[2], b[3], b[4], improver.coords, improver.matrix,
                                       improver.code, problem.demands, float(problem.capacity), neigh,
                                       allowed, todo, int(rng.integers(2**31 - 1)), thr, cur, best,
                                       max_remove)
        done += todo
        if record and best < old - 1e-9:
            ctx.record(best, iteration=done, incumbent=state.solution)
        dt = time.perf_counter() - t0
        if ctx.time_limit is not None:  # adapt the chunk to the clock; fixed (seeded) otherwise
            chunk = int(min(512, max(1, chunk * (2 if dt < 0.05 else 1) // (2 if dt > 0.2 else 1))))
    return done


def _warm_search() -> None:
    """Compile (or load) the kernels of the search after the start (``_SEARCH_KERNELS``) on a
    20-customer instance, one route per customer: what a first call needs first."""
    from ..context import SolveContext

    p = CVRP.random(20, seed=1)
    improver = TourImprover(p, neighbour_lists(p, 10))
    state = RouteState(p, [np.array([v], dtype=np.int64) for v in range(1, p.n_nodes)])
    neigh = cvrp_neighbours(p)
    cvrp_descend(p, improver, state, neigh)
    state.keep_best()
    cvrp_cost(state, improver)
    cvrp_ils(p, improver, state, neigh, SolveContext(), 5, np.random.default_rng(0))


def _cold_start(problem: CVRP, ctx: SolveContext, stats: dict) -> list[np.ndarray] | None:
    """A first call with a time limit (kernels not in numba's cache): a compiler process warms
    them (``background``) while OR-Tools' guided local search runs here until they are on disk
    (on a loaded machine, ``background.busy``, only up to its first solution); its routes are
    the start of the search. None: warm (or no compiler process / too large)."""
    if ctx.time_limit is None or all(background.ready(k) for k in _SEARCH_KERNELS) or \
            problem.n_nodes > ORTOOLS_COLD_MAX or not background.start("cvrp"):
        return None
    from .ortools_routing import ortools_search

    def ready() -> bool:  # the descent can run (or no compiler: compile here)
        return all(background.ready(k) for k in _DESCENT_KERNELS) or not background.compiling("cvrp")

    busy = background.busy()  # no spare core: OR-Tools' first solution only, then wait

    def stop() -> bool:
        return ready() or (busy and ctx.incumbent is not None)

    background.prepare()  # numba's set-up before OR-Tools: loading the kernels then takes ms
    routes, _, _ = ortools_search(problem, ctx, stop=stop)
    stats["fallback_gls"] = not busy
    while not ready() and not ctx.should_stop():  # OR-Tools ended (a local optimum) before that
        time.sleep(0.02)
    if routes is None:
        return None
    stats["cold_start"] = True
    stats["fallback"] = float(problem.objective(routes))
    stats["compiling"] = not all(background.ready(k) for k in _DESCENT_KERNELS)
    return [np.asarray(r, dtype=np.int64) for r in routes]


def _wait_for_ils(ctx: SolveContext, stats: dict) -> bool:
    """A first call after its descent: wait for the ILS kernel (the compiler process's last
    step) until the limit; whether it is ready."""
    while not background.ready(CK.ils_chunk) and background.compiling("cvrp") and not ctx.should_stop():
        time.sleep(0.02)
    stats["compiling"] = not background.ready(CK.ils_chunk)
    return not ctx.should_stop() and (background.ready(CK.ils_chunk) or not background.compiling("cvrp"))


def _solve_cvrp(problem: CVRP, ctx: SolveContext, improver: TourImprover, kicks: int | None) -> Result:
    """Route-first cluster-second start (giant tour, Prins split, 2-opt/Or-opt inside routes),
    then the granular inter-route descent (relocate / swap / 2-opt* / 2-opt, capacity-aware)
    and ruin-and-recreate iterated local search until the time limit (or ``kicks`` rounds;
    default 20 n without a time limit). A first call (kernels compiling) starts from OR-Tools'
    routes instead (``_cold_start``), descends once that kernel is on disk, and waits for the ILS
    kernel (``_wait_for_ils``)."""
    stats: dict = {}
    routes = _cold_start(problem, ctx, stats)
    if routes is not None and (stats["compiling"] or ctx.should_stop()):
        if ctx.reason is None:
            ctx.finished()
        sol = [r.tolist() for r in routes]
        return ctx.result(solution=sol, objective=problem.objective(sol), iterations=0,
                          stats={"routes": len(sol), "rounds": 0, **stats})
    if routes is None:
        giant = improver.descend(_start_tour(improver, problem.n_nodes, 0))
        routes = [improve_route(improver, r, improver.neigh)
                  for r in split_routes(problem, improver, giant)]
        ctx.record(problem.objective(routes), iteration=0, incumbent=[r.tolist() for r in routes])
    neigh = cvrp_neighbours(problem)
    state = RouteState(problem, routes)
    cvrp_descend(problem, improver, state, neigh)
    state.keep_best()
    ctx.record(cvrp_cost(state, improver), iteration=0, incumbent=state.solution)
    rounds = 0
    if not stats.get("cold_start") or _wait_for_ils(ctx, stats):
        rounds = cvrp_ils(problem, improver, state, neigh, ctx, kicks, ctx.rng)
    if ctx.reason is None:  # the round budget ran out
        ctx.finished()
    routes = state.solution()
    return ctx.result(solution=routes, objective=problem.objective(routes), iterations=rounds,
                      stats={"routes": len(routes), "rounds": rounds, **stats})
