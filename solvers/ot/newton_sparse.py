"""Sinkhorn-Newton-Sparse (Tang, Shavlovsky, Rahmanian, Tardini, Thekumparampil, Xiao, Ying,
"Accelerating Sinkhorn Algorithm with Sparse Newton Iterations", ICLR 2024; design.md §3): the
driver that alternates the two stages.

Everything runs in the stabilized scaling form P = diag(u) K diag(v) (``scaled.Scaled``).
Stage 1 (Alg. 1 lines 1-4, ``sweeps.sweeps``): N1 Sinkhorn sweeps (``n1``), or by default an
adaptive length: a probing Newton step after 5 sweeps, kept when it beats the sweeps' rate,
else back to sweeps up to the paper's N1 = 20 (see ``solve_sns``).
Stage 2 (lines 5-10, ``newton.newton``): keep the plan entries above a threshold (default
``sparsify="mass"``: at least the largest lam*m*n and all but a sigma fraction of the mass,
estimated on a sample, no sort: ``sampling.threshold``; ``"paper"``: exactly the largest
lam*m*n, line 7, ``sampling.top_entries``), solve the shifted sparse Newton system
(H_S + sigma diag H) z = grad by
eliminating the row block exactly and running conjugate gradient on the Schur complement
diag(c) - S^T diag(r)^-1 S, preconditioned by its diagonal (numba; about half the iterations of
Jacobi-PCG on the whole system), sigma = mu * err (safe sparse Newton, Tang & Qiu 2024), Armijo
backtracking on L.  When Newton stalls the solve goes back to warm-started sweeps (and once
through an eps-scaling ladder, :func:`eps_ladder`).
Stopping: ||P1 - a||_1 + ||P^T 1 - b||_1 <= tol, checked on the returned plan itself.
Options: see ``solve_sns`` and the declaration in ``solvers/ot/__init__.py``.
"""

from __future__ import annotations

from problems import OptimalTransport

from ..context import SolveContext
from ..result import Result
from ._common import Reduced
from .newton import newton
from .phases import alternate
from .scaled import Scaled, pack
from .sweeps import sweeps


def eps_ladder(st: Scaled, ctx: SolveContext, factor: float, stats: dict) -> None:
    """eps-scaling warm start (used once, after a first stalled Newton phase): from the current
    potentials, Sinkhorn sweeps to a loose 1e-3 error at eps * factor^k, ..., eps * factor
    (k such that the coarsest eps is about 1/50 of the cost range), then back at eps.  Coarse
    regularizations fix the global (slow-mode) part of the potentials that Newton's local
    model handles poorly far from the optimum (structured costs: images, clouds)."""
    red = st.red
    span = float(red.C.max() - red.C.min())
    ladder = []
    e = red.eps * factor
    while e < span / 50.0:
        ladder.append(e)
        e *= factor
    for e in reversed(ladder):
        st.absorb(e)
        if sweeps(st, ctx, 1e-3, 100, stats) == "stop":
            break
    st.absorb(red.eps)
    st.P = None
    stats["eps_ladder"] = len(ladder)


def solve_sns(problem: OptimalTransport, ctx: SolveContext, *, tol: float, max_iter: int | None,
              n1: int | None, switch_after: float, lam: float | None, cg_maxit: int, stall: int,
              eps_scaling: float, sparsify: str) -> Result:
    """Sinkhorn-Newton-Sparse.  ``tol``: L1 marginal error target ||P1-a||_1 + ||P^T1-b||_1
    (checked on the returned plan); ``max_iter``: Newton iterations; ``n1``: stage-1 Sinkhorn
    sweeps (exactly n1 unless they converge; None: adaptive, see below); ``switch_after``: in
    the sweep phases after a stalled Newton phase, switch to Newton once the Sinkhorn rate
    predicts more sweeps than this (times 1 + 10 * plan density); ``lam``: least kept fraction
    of the plan entries in the sparsified Hessian (default 2/n as in the paper; more are kept
    while the error is large relative to the dropped mass); ``cg_maxit``: conjugate-gradient
    iterations per Newton step; ``stall``: if the best error has not halved in this many Newton
    steps, the solve goes back to (warm-started) Sinkhorn sweeps for twice as many sweeps as
    the previous phase before trying Newton again, so the method is never much slower than
    Sinkhorn; ``eps_scaling``: after the first stalled Newton phase, warm-start once through
    regularizations eps * eps_scaling^k (<= 1 = never); ``sparsify``: "mass" (default: at least
    lam*m*n entries and all but a sigma fraction of the mass, threshold estimated on a sample)
    or "paper" (exactly the lam*m*n largest entries, Alg. 1 line 7).

    Stage 1.  The paper's Algorithm 1 runs a fixed N1 Sinkhorn steps (N1 = 20 in its
    experiments) before the first Newton step; ``n1=k`` is that, with N1 = k.  The default
    ``n1=None`` departs from it: a Newton step is tried after PROBE_AT = 5 sweeps, and kept
    (Newton continues as in Alg. 1) only if it, with the sweep fused after it, contracts the
    marginal error more per pass than the last PROBE_SPAN = 3 sweeps did; otherwise the solve
    goes back to sweeps up to the paper's N1 = MIN_SWEEPS = 20 in all, then Newton (no probe).
    No probe either when the sweeps' rate brings the error to ``tol`` within those 15 sweeps
    (uniform costs at large reg: a Newton step would save a few passes but cost more time).
    Neither the marginal error nor the sweep rate after 5 sweeps tells when Newton pays (it
    pays at err 0.4 on clouds at reg 1e-4 and fails at 0.38 on digits at 1e-3); the first
    step does, at the price of two passes when it loses (benchmarks/ot_n1.py).

    ``result.iterations`` counts every pass the paper counts (Fig. 1-3): Sinkhorn sweeps,
    Newton steps and the sweeps between Newton steps; the split is in ``stats``
    (``sinkhorn_iterations``, ``newton_iterations``, ``newton_sweeps``; ``stage1_retreat``
    when the probing step lost)."""
    red = Reduced(problem)
    m, n = red.C.shape
    lam = 2.0 / max(min(m, n), 1) if lam is None else float(lam)
    stats: dict = {"tol": tol, "sinkhorn_iterations": 0, "newton_iterations": 0, "cg_iterations": 0,
                   "line_search_evals": 0, "newton_sweeps": 0, "sparsify": sparsify}
    st = Scaled(red)
    alternate(st, ctx, tol=tol, n1=n1, switch_after=switch_after, eps_scaling=eps_scaling,
              stats=stats, sweeps=sweeps, eps_ladder=eps_ladder,
              newton=lambda probe: newton(st, ctx, tol, max_iter, lam, cg_maxit, stall, stats,
                                          sparsify=sparsify, probe=probe))
    return pack(red, ctx, st, stats)
