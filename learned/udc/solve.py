"""``udc``: divide (learned heatmap or random insertion) - conquer (segment 2-opt/Or-opt with fixed
ends) - reunion (shifted cut points, r rounds), Zheng et al. NeurIPS 2024, Alg. 1 / §4.2-4.3.

Registered in ``solvers/routing/__init__.py`` by its path (``learned.udc.solve:solve_udc``).
The stages live in :mod:`learned.udc.divide` and :mod:`learned.udc.conquer`; the remaining time
goes to iterated local search on the whole tour (``local-search``'s ILS). CVRP: the divider's
giant tour (depot included) is split optimally into capacity-feasible routes (Prins); the
conquer step improves groups of about ``segment`` customers (routes adjacent by polar angle)
with the capacity-aware granular search, the reunion shifts the groups; the remaining time
goes to the ruin-and-recreate ILS of ``local-search``.
"""

from __future__ import annotations

import numpy as np

from problems import CVRP, TSP
from solvers.context import SolveContext
from solvers.result import Result
from solvers.routing.local_search import (
    RouteState,
    TourImprover,
    cvrp_cost,
    cvrp_ils,
    cvrp_neighbours,
    improve_route,
    neighbour_lists,
    split_routes,
)

from .conquer import conquer_cvrp, reunion_round
from .divide import divide_tsp


def solve_udc(problem: TSP | CVRP, ctx: SolveContext, *, start: str, starts: int, segment: int,
              rounds: int, polish: bool, refresh: int | None, kicks: int | None) -> Result:
    """Divide - conquer - reunion (Alg. 1), then ILS polish with the remaining time (or ``kicks``
    kicks / ruin-and-recreate rounds; default 20 n without a time limit, as ``local-search``).

    ``refresh``: heatmap recomputed every ``refresh`` construction steps on the unvisited nodes
    (default max(50, n // 4); 0 = one heatmap for the whole construction)."""
    if kicks is None and ctx.time_limit is None:
        kicks = 20 * problem.n_nodes
    rng = ctx.rng
    every = max(50, problem.n_nodes // 4) if refresh is None else refresh
    tour, how = divide_tsp(problem, start, starts, rng, refresh=every, stop=ctx.should_stop)
    improver = TourImprover(problem, neighbour_lists(problem, 10))
    L0 = improver.length(tour)
    is_tsp = not isinstance(problem, CVRP)  # the CVRP history holds route lengths only
    if is_tsp:
        ctx.record(L0, iteration=0, incumbent=tour)
    done = 0
    for r in ctx.iterations():
        if r >= rounds:
            break
        tour = reunion_round(tour, improver, segment, r)  # a new array: recorded tours stay as they are
        done += 1
        if is_tsp:
            ctx.record(improver.length(tour), iteration=done, incumbent=tour)
    conquered = improver.length(tour)
    if isinstance(problem, CVRP):
        return _finish_cvrp(problem, ctx, improver, tour, polish, how, L0, conquered, segment, rounds,
                            kicks)
    done_kicks = 0
    if polish and not ctx.should_stop():
        tour = improver.descend(tour.copy())
        tour, done_kicks = improver.iterate(tour, ctx, kicks, rng)
    if ctx.reason is None:  # every round and kick ran
        ctx.finished()
    return ctx.result(solution=tour, objective=problem.objective(tour), iterations=done,
                      stats={"start": how, "divided": L0, "conquered": conquered, "kicks": done_kicks})


def _finish_cvrp(problem: CVRP, ctx: SolveContext, improver: TourImprover, giant: np.ndarray,
                 polish: bool, how: str, L0: float, conquered: float, segment: int,
                 rounds: int, max_kicks: int | None) -> Result:
    """Split the divided giant tour into routes (Prins), conquer sub-problems of ~``segment``
    customers with the capacity-aware granular search for ``rounds`` shifted reunion rounds,
    then (``polish``) ruin-and-recreate ILS on the whole solution until the time limit (or
    ``max_kicks`` rounds). ``state.best`` always holds feasible routes: the incumbent."""
    routes = [improve_route(improver, r, improver.neigh) for r in split_routes(problem, improver, giant)]
    split_obj = problem.objective(routes)
    ctx.record(split_obj, incumbent=[r.tolist() for r in routes])
    neigh = cvrp_neighbours(problem)
    state = RouteState(problem, routes)
    rng = ctx.rng
    done = 0
    per_route = max(1.0, (problem.n_nodes - 1) / max(1, len(routes)))
    kicks = 0
    for r in ctx.iterations():
        if r >= rounds:
            break
        shift = int(round(r * segment / (2 * per_route)))
        conquer_cvrp(problem, improver, state, neigh, segment, shift, ctx, rng, max(1, segment // 4))
        done += 1
        ctx.record(cvrp_cost(state, improver, best=True), iteration=done, incumbent=state.solution)
    conquered_routes = cvrp_cost(state, improver, best=True)
    if polish and not ctx.should_stop():
        kicks = cvrp_ils(problem, improver, state, neigh, ctx, max_kicks, rng)
    if ctx.reason is None:  # every round and kick ran
        ctx.finished()
    routes = state.solution()
    return ctx.result(solution=routes, objective=problem.objective(routes), iterations=done,
                      stats={"start": how, "divided": L0, "conquered": conquered, "split": split_obj,
                             "conquered_routes": conquered_routes, "routes": len(routes), "kicks": kicks})
