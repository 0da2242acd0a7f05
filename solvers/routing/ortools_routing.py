"""OR-Tools routing (time-limited guided local search) for TSP and CVRP.

OR-Tools runs its search in C++; :class:`_SearchAdapter` connects it to the solve context: every
solution it accepts is recorded (``ctx.record``, with the tour or routes as incumbent), and a
custom search limit asks ``ctx.should_stop()`` (Ctrl-C, a callback's ``StopIteration``, the time
limit) tens of thousands of times a second, so a stop request ends the search within a fraction
of a second instead of at OR-Tools' own time limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from problems import CVRP, TSP

from ..context import SolveContext
from ..result import Result, Status

_DEFAULT_SECONDS = 10.0


def _integer_matrix(problem: TSP | CVRP, scale: float | None) -> tuple[np.ndarray, float]:
    """OR-Tools needs integer arc costs: scale float distances (rounded files keep scale 1)."""
    D = problem.distance_matrix()
    if scale is None:
        integral = np.allclose(D, np.round(D))
        scale = 1.0 if integral else 1e6 / max(float(D.max()), 1e-12)
    return np.round(D * scale).astype(np.int64), scale


class _SearchAdapter:
    """Progress and stopping for one OR-Tools search.

    OR-Tools' SWIG layer drops an exception raised inside a Python callback and goes on
    searching, so an exception raised there (the user's callback failing, the second Ctrl-C's
    ``KeyboardInterrupt`` from the signal handler) is kept, ends the search at the next limit
    check and is raised again, unchanged, once ``SolveWithParameters`` has returned
    (:meth:`reraise`): it is carried across the C++ frames, never swallowed.
    """

    def __init__(self, ctx: SolveContext, routing: Any, manager: Any, scale: float, is_cvrp: bool,
                 stop: Callable[[], bool] | None = None):
        self.ctx, self.routing, self.manager, self.stop = ctx, routing, manager, stop
        self.scale, self.is_cvrp = scale, is_cvrp
        solver = routing.solver()
        self.last = solver.Assignment()  # the last accepted solution, stored C++-side
        self.last.Add([routing.NextVar(i) for i in range(routing.Size())])
        self.solutions = 0
        self.error: BaseException | None = None
        routing.AddAtSolutionCallback(self._at_solution)
        self._limit = solver.CustomLimit(self._should_stop)  # kept alive with the adapter
        routing.AddSearchMonitor(self._limit)

    def _at_solution(self) -> None:
        try:
            self.last.Store()
            self.solutions += 1
            self.ctx.record(self.routing.CostVar().Value() / self.scale, iteration=self.solutions,
                            incumbent=self.incumbent)
        except BaseException as exc:  # carried to reraise(), see the class docstring
            self.error = exc

    def _should_stop(self) -> bool:
        if self.error is not None:
            return True
        try:
            return self.ctx.should_stop() or (self.stop is not None and self.stop())
        except BaseException as exc:  # carried to reraise(), see the class docstring
            self.error = exc
            return True

    def reraise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def incumbent(self) -> np.ndarray | list[list[int]]:
        """The last accepted solution as the ``Result`` holds it (a lazy incumbent)."""
        return self.decode(self.last)

    def decode(self, assignment: Any) -> np.ndarray | list[list[int]]:
        """TSP: the tour as an array; CVRP: the non-empty routes (customers only)."""
        routing, manager = self.routing, self.manager
        routes = []
        for v in range(routing.vehicles()):
            idx = routing.Start(v)
            route = []
            while not routing.IsEnd(idx):
                node = manager.IndexToNode(idx)
                if node != 0 or not self.is_cvrp:
                    route.append(node)
                idx = assignment.Value(routing.NextVar(idx))
            if route:
                routes.append(route)
        return routes if self.is_cvrp else np.array(routes[0])


def solve_ortools(problem: TSP | CVRP, ctx: SolveContext, *, strategy: str, scale: float | None) -> Result:
    """Build the routing model, search until the time limit (default 10 s) or a stop request,
    decode routes."""
    solution, solutions, scale = ortools_search(problem, ctx, strategy, scale)
    if ctx.reason is None:  # OR-Tools ended the search itself (its clock or a local optimum)
        ctx.finished()
    if solution is None:
        status = ctx.stop_status(Status.ERROR)  # stopped, out of time, or none exists
        return ctx.result(status=status, message=f"OR-Tools found no solution ({status.value})")
    return ctx.result(solution=solution, objective=problem.objective(solution),
                      iterations=solutions, stats={"scale": scale})


def ortools_search(problem: TSP | CVRP, ctx: SolveContext, strategy: str = "guided_local_search",
                   scale: float | None = None, stop: Callable[[], bool] | None = None
                   ) -> tuple[np.ndarray | list[list[int]] | None, int, float]:
    """The OR-Tools search until the time limit, a stop request of ``ctx`` or ``stop()`` (also
    the compile-free stand-in of a first CVRP call, ``local_search``); every accepted solution
    is recorded. Returns (tour or routes, or None; solutions accepted; cost scale)."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    D, scale = _integer_matrix(problem, scale)
    n = D.shape[0]
    is_cvrp = isinstance(problem, CVRP)
    vehicles = n - 1 if is_cvrp else 1
    manager = pywrapcp.RoutingIndexManager(n, vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)
    # arc costs and demands as C++-side matrices/vectors (no Python callback per arc: the
    # first-solution phase on 1000 nodes otherwise ran past the time limit)
    transit = routing.RegisterTransitMatrix(D.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    if is_cvrp:
        dem = np.round(problem.demands).astype(np.int64).tolist()
        if not np.allclose(problem.demands, dem):
            raise ValueError("OR-Tools needs integer demands")
        demand_cb = routing.RegisterUnaryTransitVector(dem)
        routing.AddDimensionWithVehicleCapacity(
            demand_cb, 0, [int(problem.capacity)] * vehicles, True, "load")
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.SAVINGS if is_cvrp
        else routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC)
    params.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, strategy.upper())
    # OR-Tools' own clock ends the search at the deadline at the latest (the adapter's limit
    # usually ends it first); rounded up, so that it never ends before the solve's deadline
    seconds = ctx.remaining() if ctx.time_limit is not None else _DEFAULT_SECONDS
    params.time_limit.FromMilliseconds(max(math.ceil(seconds * 1000), 1))
    search = _SearchAdapter(ctx, routing, manager, scale, is_cvrp, stop)
    sol = routing.SolveWithParameters(params)
    search.reraise()
    if sol is None and search.solutions:  # stopped by the adapter: its last solution
        sol = search.last
    return (None if sol is None else search.decode(sol)), search.solutions, scale
