"""Mixed-integer programming over SCIP: plain SCIP and Balans (bandit ALNS, :mod:`solvers.mip.lns`).

Import-light: pyscipopt is imported only by the implementations (and the example factory).
"""

from __future__ import annotations

import math
from typing import Any

from ..options import Option, fraction, max_iter, positive_float, positive_int
from ..registry import MethodSpec
from .lns.accept import ACCEPTANCE
from .lns.operators import check_operators
from .lns.select import BACKENDS, BANDITS, DEFAULT_SCORES, check_scores

#: SCIP's parameter emphasis settings (SCIP_PARAMEMPHASIS members, lower case)
EMPHASES = ("default", "feasibility", "optimality", "easycip", "hardlp", "counter", "cpsolver",
            "numerics", "benchmark", "phasefeas", "phaseimprove", "phaseproof")


def _finite(value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value!r}")


SCIP_OPTIONS = (
    positive_int("threads", 1, "SCIP threads (parallel/maxnthreads)"),
    Option("gap", float, 0.0, "relative gap at which SCIP stops (0: prove optimality)", low=0.0,
           check=_finite),
    Option("params", dict, None, "raw SCIP parameters, e.g. {'limits/nodes': 100}", none=True),
    Option("emphasis", str, None, "SCIP parameter emphasis, e.g. 'feasibility'", choices=EMPHASES,
           none=True),
)

BALANS_OPTIONS = (
    Option("operators", object, "paper", "'paper', 'all' or a list of operator names like 'rins_50'",
           check=check_operators),
    Option("bandit", str, "thompson", "operator selection policy", choices=BANDITS),
    Option("acceptance", str, "hill_climbing", "acceptance criterion", choices=tuple(ACCEPTANCE)),
    fraction("epsilon", 0.15, "exploration rate of epsilon_greedy"),
    positive_float("tau", 2.0, "temperature of softmax"),
    Option("scores", object, DEFAULT_SCORES, "rewards of (new best, better, accepted, rejected)",
           check=check_scores),
    positive_float("sub_time_limit", None, "seconds per sub-MIP (None: 5 % of the limit, >= 1 s)",
                   none=True),
    Option("sub_settings", str, "fast", "sub-MIP settings: fast presolve, no cuts / SCIP's defaults",
           choices=("fast", "default")),
    Option("lp_time_fraction", float, 0.2, "share of the limit for the LP relaxation", low=0.0,
           low_open=True, high=1.0),
    Option("first_solution", str, "scip", "start: 'scip' (default: plain SCIP until it stalls, then "
           "the LNS, handing back to the resumed SCIP search when the LNS stalls); no hand-over, "
           "the LNS alone after the first solution: 'lns' (= 'root': SCIP's root node, then "
           "feasibility emphasis if it found none) or 'feasibility' (the paper's start)",
           choices=("scip", "lns", "root", "feasibility")),
    Option("root_time_fraction", float, 0.1, "share of the limit for the root start", low=0.0,
           low_open=True, high=1.0),
    Option("temperature", float, 0.05, "simulated annealing start temperature (relative)", low=0.0),
    positive_float("scip_stall", None, "seconds without a new best before SCIP hands over "
                   "(None: max(0.5, 5 % of the limit))", none=True),
    positive_float("lns_stall", None, "seconds without a new best before the LNS hands back "
                   "(None: max(1, 10 % of the limit))", none=True),
    positive_float("root_stall", None, "stall allowed while SCIP's root node is open "
                   "(None: max(scip_stall, 15 % of the limit))", none=True),
    Option("bandit_backend", str, "native", "bandit implementation", choices=tuple(BACKENDS)),
    Option("bandit_cost", bool, True, "native bandit scores per second of iteration time"),
    Option("bandit_optimistic", bool, True, "one optimistic pseudo-observation per arm before its "
           "first pull (False: the flat prior of the package, Thompson Beta(1 + s, 1 + f))"),
    max_iter(None, "LNS iterations (None: until the limit; 200 without a time limit)",
             aliases=("max_iterations",)),
    positive_int("threads", 1, "SCIP threads per solve"),
)

METHODS = [
    MethodSpec(
        name="scip",
        problems=("MIP",),
        target="solvers.mip.scip:solve_scip",
        options=SCIP_OPTIONS,
        description="SCIP branch-and-cut (pyscipopt), history of incumbents",
        randomized=True,
        default_rank=lambda p: 1,
    ),
    MethodSpec(
        name="balans",
        problems=("MIP",),
        target="solvers.mip.lns.loop:solve_balans",
        options=BALANS_OPTIONS,
        description="Balans: bandit-selected adaptive LNS over SCIP (Cai, Kadioglu, Dilkina 2024)",
        randomized=True,
        default_rank=lambda p: 2,
    ),
]


def _knapsack() -> Any:
    """The small seeded multi-dimensional knapsack of the contract tests (30 items, 3 rows)."""
    from problems.mip_generators import multi_knapsack

    return multi_knapsack(30, 3, seed=0)


EXAMPLES = {"MIP": _knapsack}
