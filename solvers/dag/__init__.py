"""DAG structure learning: TOPO topological swaps, NOTEARS, exhaustive search for tiny d."""

from ..registry import MethodSpec

METHODS = [
    MethodSpec(
        name="exhaustive",
        problems=("DAGLearning",),
        target="solvers.dag.exhaustive:solve_exhaustive",
        options={"threshold": 0.3},
        description="exact: best topological order by enumeration (d <= 8, l2 loss)",
        default_rank=lambda p: 3 if p.n_nodes <= 6 and p.loss == "l2" and p.lambda1 == 0 else None,
    ),
    MethodSpec(
        name="topo",
        problems=("DAGLearning",),
        target="solvers.dag.topo:solve_topo",
        options={"threshold": 0.3, "n_restarts": None, "init": None, "l2": 1e-6, "tol": 1e-10,
                 "max_iter": 10_000},
        description="TOPO: topological swaps guided by grad h, refit between swapped positions",
        randomized=True,
        default_rank=lambda p: 2,
    ),
    MethodSpec(
        name="notears",
        problems=("DAGLearning",),
        target="solvers.dag.notears:solve_notears",
        options={"lambda1": None, "w_threshold": 0.3, "h_tol": 1e-8, "rho_max": 1e16, "max_iter": 100},
        description="NOTEARS: augmented Lagrangian with h = tr(exp(W o W)) - d, L-BFGS-B",
    ),
]
