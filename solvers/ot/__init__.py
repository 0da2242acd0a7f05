"""Entropic optimal transport: Sinkhorn variants and Sinkhorn-Newton-Sparse (design.md §3).

Every method records the L1 marginal error ||P1 - a||_1 + ||P^T 1 - b||_1 of its current plan
in the history, and ``tol`` bounds that error on the returned plan. The option records below
are also what the batched torch entry points (``torch_sinkhorn.solve_batch``,
``torch_newton.solve_batch_sns``) validate their arguments with.
"""

from __future__ import annotations

import math
from typing import Any

from ..options import Option, max_iter, positive_int, tolerance
from ..registry import MethodSpec


def _finite(value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"must be finite, got {value!r}")


TOL = tolerance(1e-9, "L1 marginal error target ||P1-a||_1 + ||P^T1-b||_1 of the returned plan",
                low_open=True, check=_finite)
SWEEPS = max_iter(100_000, "most Sinkhorn sweeps (None: no cap)")
LAM = Option("lam", float, None, "kept fraction of the plan entries in the sparsified Hessian: the "
             "least (sparsify='mass') or exact (sparsify='paper') share (None: 2/min(m, n) as in the "
             "paper)", low=0.0, low_open=True, high=1.0, none=True)
CG_MAXIT = positive_int("cg_maxit", 1000, "conjugate-gradient iterations per Newton step")
DEVICE = Option("device", object, None, "torch device (None: cuda when present, else cpu)", none=True)

SNS_OPTIONS = (
    TOL,
    max_iter(1000, "most Newton steps (None: no cap)"),
    Option("n1", int, None, "stage-1 Sinkhorn sweeps before the first Newton step (exactly n1, the "
           "paper's N1; None: adaptive, a probing Newton step after 5 sweeps, kept if it beats the "
           "sweeps' rate, else sweeps up to N1 = 20)", low=0, none=True),
    Option("switch_after", float, 30.0, "in the sweep phases after a stalled Newton phase, switch to "
           "Newton once the Sinkhorn rate predicts more sweeps than this (times 1 + 10 * plan density "
           "on dense plans)", low=0.0, low_open=True),
    LAM,
    CG_MAXIT,
    positive_int("stall", 8, "back to Sinkhorn sweeps when the best error has not halved in this many "
                 "Newton steps"),
    Option("eps_scaling", float, 4.0, "after the first stalled Newton phase, warm-start once through "
           "regularizations eps * eps_scaling^k (<= 1: never)", low=0.0),
    Option("sparsify", str, "mass", "Hessian sparsification: 'mass' (at least lam*m*n entries and all "
           "but a sigma fraction of the mass) or 'paper' (exactly the lam*m*n largest, Alg. 1 line 7)",
           choices=("mass", "paper")),
)

ONLINE = Option("online", str, "auto", "point-cloud problems (OptimalTransport.from_points): "
                "'auto' computes the cost on the fly when the dense kernel does not fit or is large, "
                "'always' / 'never' force it (dense problems: always dense)",
                choices=("auto", "always", "never"))

METHODS = [
    MethodSpec(
        name="sns",
        problems=("OptimalTransport",),
        target="solvers.ot.points:solve_sns",
        options=SNS_OPTIONS + (ONLINE,),
        description="Sinkhorn-Newton-Sparse (Tang et al. 2024): Sinkhorn warm start, sparse Newton + CG "
                    "(online, O(n) memory, for large point clouds)",
        default_rank=lambda p: 10,
        history_label="marginal error",
    ),
    MethodSpec(
        name="sinkhorn",
        problems=("OptimalTransport",),
        target="solvers.ot.sinkhorn:solve_sinkhorn",
        options=(TOL, SWEEPS),
        description="stabilized matrix-vector Sinkhorn scaling (absorption into potentials)",
        history_label="marginal error",
    ),
    MethodSpec(
        name="sinkhorn-log",
        problems=("OptimalTransport",),
        target="solvers.ot.points:solve_sinkhorn_log",
        options=(TOL, SWEEPS, ONLINE),
        description="log-domain Sinkhorn (numba log-sum-exp passes; online for large point clouds)",
        history_label="marginal error",
    ),
    MethodSpec(
        name="sinkhorn-torch",
        problems=("OptimalTransport",),
        target="solvers.ot.torch_sinkhorn:solve_torch",
        options=(TOL, SWEEPS, DEVICE),
        description="log-domain Sinkhorn in torch (CUDA when present); batched Sinkhorn or Sinkhorn+Newton: "
                    "torch_sinkhorn.solve_batch(problems, method='sinkhorn'|'sns')",
        requires=("torch",),
        history_label="marginal error",
    ),
]


def _example() -> Any:
    from problems import OptimalTransport

    # reg small enough that sns reaches its Newton stage (its kernels compile in the warm-up)
    return OptimalTransport.random(160, seed=0, reg=1e-3)


EXAMPLES = {"OptimalTransport": _example}
