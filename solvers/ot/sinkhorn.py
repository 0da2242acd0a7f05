"""Sinkhorn scaling (Cuturi 2013), stabilized (Schmitzer 2019), and log-domain Sinkhorn."""

from __future__ import annotations

import numpy as np

from problems import OptimalTransport

from ..context import SolveContext
from ..result import Result, Status
from . import _kernels as K
from . import _ot_kernels as OK
from ._common import Reduced, plan_status
from .scaled import Scaled, pack
from .sweeps import sweeps


def log_plan(problem: OptimalTransport, f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """log P_ij = (f_i + g_j - C_ij) / reg."""
    return (f[:, None] + g[None, :] - problem.C) / problem.reg


def _pack_log(red: Reduced, ctx: SolveContext, f: np.ndarray, g: np.ndarray, iterations: int,
              stats: dict) -> Result:
    """Plan exp((f + g - C)/eps) and objective <C,P> + eps sum P(log P - 1) in one fused pass."""
    P = np.empty(red.C.shape)
    obj = OK.plan_objective(red.C, f, g, red.eps, P)
    err = float(np.abs(P.sum(1) - red.a).sum() + np.abs(P.sum(0) - red.b).sum())
    Pf, ff, gf = red.embed(P, f, g)
    stats = dict(stats, potentials=(ff, gf), marginal_error=err)
    return ctx.result(solution=Pf, objective=float(obj), status=plan_status(ctx, err, stats["tol"]),
                      iterations=iterations, stats=stats)


def solve_sinkhorn(problem: OptimalTransport, ctx: SolveContext, *, tol: float,
                   max_iter: int | None) -> Result:
    """Matrix-vector Sinkhorn u = a/(Kv), v = b/(K^T u) with absorption of the scalings into
    the potentials (stable for any reg; design.md §3 stage 1). ``history`` holds the L1
    marginal error every 10 sweeps; the stopping test is on the returned plan."""
    red = Reduced(problem)
    stats = {"sinkhorn_iterations": 0, "newton_iterations": 0, "tol": tol}
    st = Scaled(red)
    reason = sweeps(st, ctx, tol, max_iter, stats)
    if reason == "converged":
        ctx.converged()
    # the sweep cap counts sweeps, not the loop's chunks of them: its status is said here
    return pack(red, ctx, st, stats, status=Status.ITERATION_LIMIT if reason == "limit" else None)


def solve_sinkhorn_log(problem: OptimalTransport, ctx: SolveContext, *, tol: float,
                       max_iter: int | None) -> Result:
    """Alternate exact maximization of the dual in f and g, every exp in log-sum-exp form:
    f_i = eps (log a_i - LSE_j (g_j - C_ij)/eps), then the same for g (design.md §3, stage 1).

    The row error is read off the f-update for free: r_i = a_i exp((f_old_i - f_new_i)/eps)."""
    red = Reduced(problem)
    eps = red.eps
    log_a, log_b = np.log(red.a), np.log(red.b)
    f = np.zeros(red.a.size)
    g = np.zeros(red.b.size)
    K.update_f(red.C, g, log_a, eps, f)
    K.update_g(red.C, f, log_b, eps, g)
    it = 0
    f_new = f.copy()
    for k in ctx.iterations(max_iter):
        it = k + 1
        K.update_f(red.C, g, log_a, eps, f_new)
        err = float(np.abs(red.a * np.expm1((f - f_new) / eps)).sum())
        if it % 10 == 0 or err <= tol:  # err is that of the plan of (f, g): copy them for it
            ctx.record(err, iteration=it, incumbent=lambda f=f.copy(), g=g.copy(): red.plan_of(f, g))
        if err <= tol:
            ctx.converged()
            break
        f, f_new = f_new, f
        K.update_g(red.C, f, log_b, eps, g)
    return _pack_log(red, ctx, f, g, it, {"sinkhorn_iterations": it, "newton_iterations": 0, "tol": tol})
