"""Routing: OR-Tools, numba local search and UDC divide-and-conquer."""

from ..registry import MethodSpec

METHODS = [
    MethodSpec(
        name="ortools",
        problems=("TSP", "CVRP"),
        target="solvers.routing.ortools_routing:solve_ortools",
        options={"strategy": "guided_local_search", "scale": None},
        description="OR-Tools routing: savings/cheapest-arc start + guided local search",
        default_rank=lambda p: 1,
    ),
]
