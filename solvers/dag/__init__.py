"""DAG structure learning: TOPO topological swaps, NOTEARS, exhaustive search for tiny d."""

from ..registry import MethodSpec

METHODS = [
    MethodSpec(
        name="exhaustive",
        problems=("DAGLearning",),
        target="solvers.dag.exhaustive:solve_exhaustive",
        options={"threshold": 0.3},
        description="exact: best topological order by enumeration (d <= 8, l2 loss)",
        default_rank=lambda p: 1 if p.n_nodes <= 8 and p.loss == "l2" else None,
    ),
]
