"""Mixed-integer programming over SCIP: plain SCIP and Balans (bandit ALNS)."""

from ..registry import MethodSpec

METHODS = [
    MethodSpec(
        name="scip",
        problems=("MIP",),
        target="solvers.mip.scip:solve_scip",
        options={"threads": 1, "gap": 0.0, "params": None},
        description="SCIP branch-and-cut (pyscipopt), history of incumbents",
        randomized=True,
        default_rank=lambda p: 1,
    ),
]
