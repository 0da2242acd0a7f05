"""Routing: OR-Tools, numba local search and UDC divide-and-conquer.

UDC's solve function lives with its network in ``learned/udc`` and is named here by its
dotted path only (``solvers`` never imports ``learned``).
"""

from __future__ import annotations

from typing import Any

from ..options import Option, positive_int
from ..registry import MethodSpec

#: UDC is the default from this many nodes (issue 6; at equal time it matches or beats
#: local-search from TSP1000 / CVRPLIB X 500 up, benchmarks/results/routing.md)
UDC_FROM = 200

KICKS = Option("kicks", int, None, "ILS kicks / ruin-and-recreate rounds (None: until the time limit; "
               "20 n without one)", low=0, none=True)

ORTOOLS_OPTIONS = (
    Option("strategy", str, "guided_local_search", "OR-Tools local search metaheuristic",
           choices=("guided_local_search", "simulated_annealing", "tabu_search", "greedy_descent")),
    Option("scale", float, None, "factor making arc lengths integer (None: 1 for integral lengths, "
           "else 1e6 / longest arc)", low=0.0, low_open=True, none=True),
)

LOCAL_SEARCH_OPTIONS = (
    Option("neighbours", int, 10, "nearest-neighbour candidates per node", low=2),
    KICKS,
)

UDC_OPTIONS = (
    Option("start", str, "learned", "divider: learned heatmap, random insertion or nearest neighbour",
           choices=("learned", "random-insertion", "nearest")),
    positive_int("starts", 4, "tours built by the divider (the shortest is kept)"),
    Option("segment", int, 100, "nodes per conquered segment (CVRP: customers per route group)", low=6),
    Option("rounds", int, 4, "reunion rounds (cut points shifted by half a segment each)", low=0),
    Option("polish", bool, True, "iterated local search on the whole solution after the reunion"),
    Option("refresh", int, None, "heatmap recomputed every this many construction steps (None: "
           "max(50, n // 4); 0: one heatmap)", low=0, none=True),
    KICKS,
)

METHODS = [
    MethodSpec(
        name="ortools",
        problems=("TSP", "CVRP"),
        target="solvers.routing.ortools_routing:solve_ortools",
        options=ORTOOLS_OPTIONS,
        description="OR-Tools routing: savings/cheapest-arc start + guided local search",
        default_rank=lambda p: 1,
    ),
    MethodSpec(
        name="local-search",
        problems=("TSP", "CVRP"),
        target="solvers.routing.local_search:solve_local_search",
        options=LOCAL_SEARCH_OPTIONS,
        description="numba 2-opt + Or-opt with neighbour lists and don't-look bits, iterated "
                    "local search (CVRP: giant tour + optimal split, then granular capacity-aware "
                    "relocate/swap/2-opt* with ruin-and-recreate ILS)",
        randomized=True,
        default_rank=lambda p: 2 if p.n_nodes < UDC_FROM else None,
    ),
    MethodSpec(
        name="udc",
        problems=("TSP", "CVRP"),
        target="learned.udc.solve:solve_udc",
        options=UDC_OPTIONS,
        description="UDC divide-conquer-reunion: learned k-NN heatmap divider (shipped weights, "
                    "recomputed every n/4 steps) or random insertion, segment 2-opt/Or-opt with fixed "
                    "ends (CVRP: capacity-aware relocate/swap/2-opt* on route groups), shifted reunion "
                    "rounds, ILS polish",
        randomized=True,
        default_rank=lambda p: 3 if p.n_nodes >= UDC_FROM else None,
    ),
]


def _tsp() -> Any:
    from problems import TSP

    return TSP.random(30, seed=1)


def _cvrp() -> Any:
    from problems import CVRP

    return CVRP.random(20, seed=1)


#: one small seeded instance per problem type (``optbox warmup``, the contract tests)
EXAMPLES = {"TSP": _tsp, "CVRP": _cvrp}
