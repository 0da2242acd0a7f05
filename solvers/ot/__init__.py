"""Entropic optimal transport: Sinkhorn variants and Sinkhorn-Newton-Sparse."""

from ..registry import MethodSpec

METHODS = [
    MethodSpec(
        name="sinkhorn-log",
        problems=("OptimalTransport",),
        target="solvers.ot.sinkhorn:solve_sinkhorn_log",
        options={"tol": 1e-9, "max_iter": 100_000},
        description="log-domain Sinkhorn (stable for small reg)",
        default_rank=lambda p: 1,
    ),
]
