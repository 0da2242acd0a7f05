"""PyVRP (Wouters et al.) for the CVRP: its iterated local search (HGS before PyVRP 0.12).

The instance goes to PyVRP as arrays (``ProblemData`` with the distance matrix; no n^2 edge
calls in Python). PyVRP computes in integers: a file's rounded lengths (EUC_2D, CEIL_2D, ATT,
GEO, integral explicit matrices) are passed as they are; exact Euclidean lengths (``EUC``)
and fractional matrices are scaled by 10^4 and rounded. Demands and capacity must be integral.
The routes are scored with the problem's own ``objective``.

PyVRP's search loop asks a stopping criterion once per iteration: ours asks the solve
context (time limit, Ctrl-C, a callback's stop) and records the best feasible cost when it
improves, so the run is interruptible and the history is PyVRP's progress. The time limit
is PyVRP's ``MaxRuntime`` in effect, counted from the start of the solve (setup included).
"""

from __future__ import annotations

import numpy as np

from problems import CVRP

from ..context import SolveContext
from ..result import Result, Status
from ..stop import StopReason
from ._common import peer_info

#: the scale of exact Euclidean (or fractional) lengths before rounding to PyVRP's integers
SCALE = 10_000.0


def integer_lengths(problem: CVRP) -> tuple[np.ndarray, float]:
    """The distance matrix in PyVRP's integers and the scale it was multiplied by."""
    D = problem.distance_matrix()
    integral = problem.edge_weight_type != "EUC" and np.allclose(D, np.round(D))
    scale = 1.0 if integral else SCALE
    return np.round(D * scale).astype(np.int64), scale


def build_data(problem: CVRP) -> tuple[object, float]:
    """``pyvrp.ProblemData`` of ``problem`` (one vehicle type, as many vehicles as customers)."""
    import pyvrp

    dem = np.round(problem.demands).astype(np.int64)
    if not np.allclose(problem.demands, dem) or problem.capacity != round(problem.capacity):
        raise ValueError("pyvrp needs integer demands and capacity")
    D, scale = integer_lengths(problem)
    n = problem.n_nodes
    xy = problem.coords if problem.coords is not None else np.zeros((n, 2))
    locations = [pyvrp.Location(x=float(x), y=float(y)) for x, y in xy.tolist()]
    clients = [pyvrp.Client(location=i, delivery=[int(dem[i])]) for i in range(1, n)]
    vehicles = [pyvrp.VehicleType(num_available=n - 1, capacity=[int(problem.capacity)])]
    data = pyvrp.ProblemData(locations, clients, [pyvrp.Depot(location=0)], vehicles, [D],
                             [np.zeros_like(D)])
    return data, scale


def routes_of(solution: object) -> list[list[int]]:
    """PyVRP's routes as our lists of customer indices (client k is node k + 1)."""
    return [[int(a.idx) + 1 for a in route if a.is_client()] for route in solution.routes()]


class _Stop:
    """PyVRP's stopping criterion: the context decides; each new best feasible cost is recorded."""

    def __init__(self, ctx: SolveContext, scale: float, max_iter: int | None):
        self.ctx, self.scale, self.max_iter = ctx, scale, max_iter
        self.iterations = 0
        self.best = np.inf
        self.capped = False

    def __call__(self, best_cost: float) -> bool:
        ctx = self.ctx
        if best_cost < self.best and best_cost < 1e15:  # PyVRP's cost of an infeasible best is huge
            self.best = best_cost
            ctx.record(best_cost / self.scale, iteration=self.iterations)
        if self.max_iter is not None and self.iterations >= self.max_iter:
            self.capped = True
            return True
        self.iterations += 1
        return ctx.should_stop()


def solve_pyvrp(problem: CVRP, ctx: SolveContext, *, max_iter: int | None) -> Result:
    """PyVRP until the time limit, ``max_iter`` iterations or a stop request (without either
    limit: 10,000 iterations, PyVRP's own examples' budget)."""
    import pyvrp

    data, scale = build_data(problem)
    default_cap = max_iter is None and ctx.time_limit is None
    stop = _Stop(ctx, scale, 10_000 if default_cap else max_iter)
    res = pyvrp.solve(data, stop=stop, seed=0 if ctx.seed is None else int(ctx.seed) % 2**31,
                      collect_stats=False, display=False)
    stats = {"peer": peer_info("pyvrp"), "scale": scale, "pyvrp_iterations": int(res.num_iterations)}
    if stop.capped:
        if default_cap:
            ctx.finished()
        else:
            ctx.reason = StopReason.ITERATION_LIMIT
    if not res.best.is_feasible():
        return ctx.result(status=ctx.stop_status(Status.ERROR), iterations=stop.iterations, stats=stats,
                          message="PyVRP found no feasible solution")
    routes = routes_of(res.best)
    return ctx.result(solution=routes, objective=problem.objective(routes), iterations=stop.iterations,
                      stats=stats)
