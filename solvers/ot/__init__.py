"""Entropic optimal transport: Sinkhorn variants and Sinkhorn-Newton-Sparse (design.md §3)."""

from ..registry import MethodSpec

_TOL = 1e-9

METHODS = [
    MethodSpec(
        name="sns",
        problems=("OptimalTransport",),
        target="solvers.ot.newton_sparse:solve_sns",
        options={"tol": _TOL, "max_iter": 1000, "n1": 2000, "switch_after": 30.0, "lam": None,
                 "cg_maxit": 1000, "stall": 8, "eps_scaling": 4.0},
        description="Sinkhorn-Newton-Sparse (Tang et al. 2024): Sinkhorn warm start, sparse Newton + CG",
        default_rank=lambda p: 10,
    ),
    MethodSpec(
        name="sinkhorn",
        problems=("OptimalTransport",),
        target="solvers.ot.sinkhorn:solve_sinkhorn",
        options={"tol": _TOL, "max_iter": 100_000},
        description="stabilized matrix-vector Sinkhorn scaling (absorption into potentials)",
    ),
    MethodSpec(
        name="sinkhorn-log",
        problems=("OptimalTransport",),
        target="solvers.ot.sinkhorn:solve_sinkhorn_log",
        options={"tol": _TOL, "max_iter": 100_000},
        description="log-domain Sinkhorn (numba log-sum-exp passes)",
    ),
    MethodSpec(
        name="sinkhorn-torch",
        problems=("OptimalTransport",),
        target="solvers.ot.torch_sinkhorn:solve_torch",
        options={"tol": _TOL, "max_iter": 100_000, "device": None},
        description="log-domain Sinkhorn in torch (CUDA when present); batched Sinkhorn or Sinkhorn+Newton: "
                    "torch_sinkhorn.solve_batch(problems, method='sinkhorn'|'sns')",
        requires=("torch",),
    ),
]
