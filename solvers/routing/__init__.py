"""Routing: OR-Tools, numba local search and UDC divide-and-conquer."""

from ..registry import MethodSpec

#: UDC is the default from this many nodes (issue 6; at equal time it matches or beats
#: local-search from TSP1000 / CVRPLIB X 500 up, benchmarks/results/routing.md)
UDC_FROM = 200

METHODS = [
    MethodSpec(
        name="ortools",
        problems=("TSP", "CVRP"),
        target="solvers.routing.ortools_routing:solve_ortools",
        options={"strategy": "guided_local_search", "scale": None},
        description="OR-Tools routing: savings/cheapest-arc start + guided local search",
        default_rank=lambda p: 1,
    ),
    MethodSpec(
        name="local-search",
        problems=("TSP", "CVRP"),
        target="solvers.routing.local_search:solve_local_search",
        options={"neighbours": 10, "kicks": None},
        description="numba 2-opt + Or-opt with neighbour lists and don't-look bits, iterated "
                    "local search (CVRP: giant tour + optimal split, then granular capacity-aware "
                    "relocate/swap/2-opt* with ruin-and-recreate ILS)",
        randomized=True,
        default_rank=lambda p: 2 if p.n_nodes < UDC_FROM else None,
    ),
    MethodSpec(
        name="udc",
        problems=("TSP", "CVRP"),
        target="solvers.routing.udc:solve_udc",
        options={"start": "learned", "starts": 4, "segment": 100, "rounds": 4, "polish": True,
                 "refresh": None, "kicks": None},
        description="UDC divide-conquer-reunion: learned k-NN heatmap divider (shipped weights, "
                    "recomputed every n/4 steps) or random insertion, segment 2-opt/Or-opt with fixed "
                    "ends (CVRP: capacity-aware relocate/swap/2-opt* on route groups), shifted reunion "
                    "rounds, ILS polish",
        randomized=True,
        default_rank=lambda p: 3 if p.n_nodes >= UDC_FROM else None,
    ),
]
