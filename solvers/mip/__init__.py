"""Mixed-integer programming over SCIP: plain SCIP and Balans (bandit ALNS)."""

from ..registry import MethodSpec

METHODS = [
    MethodSpec(
        name="scip",
        problems=("MIP",),
        target="solvers.mip.scip:solve_scip",
        options={"threads": 1, "gap": 0.0, "params": None, "emphasis": None},
        description="SCIP branch-and-cut (pyscipopt), history of incumbents",
        randomized=True,
        default_rank=lambda p: 1,
    ),
    MethodSpec(
        name="balans",
        problems=("MIP",),
        target="solvers.mip.balans:solve_balans",
        options={"operators": "paper", "bandit": "thompson", "acceptance": "hill_climbing",
                 "epsilon": 0.15, "tau": 2.0, "scores": (8.0, 4.0, 2.0, 1.0), "sub_time_limit": None,
                 "sub_settings": "fast",
                 "lp_time_fraction": 0.2, "first_solution": "scip", "scip_stall": None, "lns_stall": None,
                 "root_stall": None,
                 "bandit_backend": "native", "bandit_cost": True,
                 "root_time_fraction": 0.1, "temperature": 0.05, "max_iterations": None, "threads": 1},
        description="Balans: bandit-selected adaptive LNS over SCIP (Cai, Kadioglu, Dilkina 2024)",
        randomized=True,
        default_rank=lambda p: 2,
    ),
]
