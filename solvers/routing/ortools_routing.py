"""OR-Tools routing (time-limited guided local search) for TSP and CVRP."""

from __future__ import annotations

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


def solve_ortools(problem: TSP | CVRP, ctx: SolveContext, strategy: str = "guided_local_search",
                  scale: float | None = None) -> Result:
    """Build the routing model, search until the time limit (default 10 s), decode routes."""
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
    metas = {
        "guided_local_search": routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH,
        "simulated_annealing": routing_enums_pb2.LocalSearchMetaheuristic.SIMULATED_ANNEALING,
        "tabu_search": routing_enums_pb2.LocalSearchMetaheuristic.TABU_SEARCH,
        "greedy_descent": routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT,
    }
    if strategy not in metas:
        raise ValueError(f"strategy must be one of {sorted(metas)}, got {strategy!r}")
    params.local_search_metaheuristic = metas[strategy]
    seconds = ctx.remaining() if ctx.time_limit is not None else _DEFAULT_SECONDS
    params.time_limit.FromMilliseconds(max(int(seconds * 1000), 1))

    def on_solution() -> None:
        ctx.record(routing.CostVar().Value() / scale)

    routing.AddAtSolutionCallback(on_solution)
    sol = routing.SolveWithParameters(params)
    if sol is None:
        limited = ctx.time_limit is not None
        return ctx.result(status=Status.TIME_LIMIT if limited else Status.ERROR,
                          message="OR-Tools found no solution"
                          + (" within the time limit" if limited else ""))
    routes = []
    for v in range(vehicles):
        idx = routing.Start(v)
        route = []
        while not routing.IsEnd(idx):
            node = manager.IndexToNode(idx)
            if node != 0 or not is_cvrp:
                route.append(node)
            idx = sol.Value(routing.NextVar(idx))
        if route:
            routes.append(route)
    solution = np.array(routes[0]) if not is_cvrp else routes
    status = Status.TIME_LIMIT if ctx.time_limit is not None else Status.FEASIBLE
    return ctx.result(solution=solution, objective=problem.objective(solution), status=status,
                      iterations=len(ctx.history), stats={"scale": scale})
