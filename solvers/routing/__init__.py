"""Routing: OR-Tools, numba local search and UDC divide-and-conquer.

UDC's solve function lives with its network in ``learned/udc`` and is named here by its
dotted path only (``solvers`` never imports ``learned``).
"""

from __future__ import annotations

from typing import Any

from ..options import Option, positive_int
from ..registry import MethodSpec

#: UDC is the CVRP default from this many nodes (at equal time it beats local-search on
#: CVRPLIB X 500-1000 and CVRP1000, benchmarks/results/routing.md). For the TSP the
#: Lin-Kernighan local search is the default at every size: at equal time it is ahead of UDC
#: from 1k to 50k nodes (pr1002 10 s 0.36 vs 0.95 %, TSP 10k 60 s 0.75 vs 2.01 %, TSP 50k
#: 120 s 1.34 vs 3.39 % above BHH; benchmarks/results/routing_lk.md).
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
    Option("neighbours", int, 10, "nearest-neighbour candidates per node (TSP: where α is not used)",
           low=2),
    KICKS,
    Option("candidates", str, "alpha", "TSP candidate sets: 5 α-nearest after the Held-Karp ascent "
           "(LKH's; not compiled on a first call under 30 s) or the nearest neighbours",
           choices=("alpha", "nearest")),
)

def _udc_weights(value: Any) -> Any:
    """UDC ``weights``: None (shipped), "untrained" (the seeded initial network) or a file path."""
    from pathlib import Path

    if value is None or (isinstance(value, str) and value == "untrained"):
        return value
    if not isinstance(value, (str, Path)):
        raise ValueError(f"weights must be None, 'untrained' or a file path, got {value!r}")
    if not Path(value).is_file():
        raise ValueError(f"UDC weights file {value} does not exist")
    return str(value)


UDC_OPTIONS = (
    Option("start", str, "random-insertion", "divider: learned heatmap (next node ~ heatmap), random "
           "insertion (the paper's ablation start; the default: it measures best after conquer, "
           "benchmarks/results/learned_udc.md) or nearest neighbour",
           choices=("learned", "random-insertion", "nearest")),
    Option("weights", object, None, "divider weights: None (shipped), 'untrained' (the same network "
           "with its seeded initial weights) or a weights file", check=_udc_weights,
           accepts="None, 'untrained' or a path"),
    positive_int("starts", 4, "solutions divided, each conquered + reunited (the best is kept)"),
    Option("segment", int, 100, "nodes per conquered segment (CVRP: customers per route group)", low=6),
    Option("rounds", int, 4, "conquer passes: cut points at 0, segment/2, then random offsets", low=0),
    Option("polish", bool, True, "iterated local search on the whole solution after the reunion"),
    Option("refresh", int, None, "heatmap recomputed every this many construction steps on the "
           "unvisited nodes (None or 0: one heatmap, as trained)", low=0, none=True),
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
        description="TSP: α-nearness candidates (Held-Karp 1-tree ascent), numba Lin-Kernighan "
                    "(depth 10) + Or-opt with don't-look bits, iterated local search with segment "
                    "double-bridge kicks (CVRP: giant tour + optimal split, then granular capacity-aware "
                    "relocate/swap/2-opt* with ruin-and-recreate ILS)",
        randomized=True,
        default_rank=lambda p: 2 if type(p).__name__ == "TSP" or p.n_nodes < UDC_FROM else None,
    ),
    MethodSpec(
        name="udc",
        problems=("TSP", "CVRP"),
        target="learned.udc.solve:solve_udc",
        options=UDC_OPTIONS,
        description="UDC divide-conquer-reunion: random-insertion start (default, measured best) or "
                    "the learned AGNN k-NN heatmap divider (next node ~ heatmap; CVRP capacity-"
                    "feasible), segment 2-opt/Or-opt with fixed ends (CVRP: capacity-aware relocate/"
                    "swap/2-opt* on route groups), reunion at shifts n/2 then random, ILS polish",
        randomized=True,
        default_rank=lambda p: 3 if type(p).__name__ == "CVRP" and p.n_nodes >= UDC_FROM else None,
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
