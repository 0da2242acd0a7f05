"""Sinkhorn scaling (Cuturi 2013), stabilized (Schmitzer 2019), and log-domain Sinkhorn."""

from __future__ import annotations

import numpy as np

from problems import OptimalTransport

from ..context import SolveContext
from ..result import Result, Status
from . import _kernels as K
from . import _ot_kernels as OK
from ._common import Reduced, check_options
from .newton_sparse import Scaled, pack, sweeps


def log_plan(problem: OptimalTransport, f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """log P_ij = (f_i + g_j - C_ij) / reg."""
    return (f[:, None] + g[None, :] - problem.C) / problem.reg


def _pack_log(red: Reduced, ctx: SolveContext, f: np.ndarray, g: np.ndarray, status: Status,
              iterations: int, stats: dict) -> Result:
    """Plan exp((f + g - C)/eps) and objective <C,P> + eps sum P(log P - 1) in one fused pass."""
    P = np.empty(red.C.shape)
    obj = OK.plan_objective(red.C, f, g, red.eps, P)
    err = float(np.abs(P.sum(1) - red.a).sum() + np.abs(P.sum(0) - red.b).sum())
    Pf, ff, gf = red.embed(P, f, g)
    stats = dict(stats, potentials=(ff, gf), marginal_error=err)
    if status == Status.CONVERGED and not err <= stats.get("tol", np.inf):
        status = Status.ITERATION_LIMIT
    return ctx.result(solution=Pf, objective=float(obj), status=status, iterations=iterations,
                      stats=stats)


def solve_sinkhorn(problem: OptimalTransport, ctx: SolveContext, tol: float = 1e-9,
                   max_iter: int = 100_000) -> Result:
    """Matrix-vector Sinkhorn u = a/(Kv), v = b/(K^T u) with absorption of the scalings into
    the potentials (stable for any reg; design.md §3 stage 1). ``history`` holds the L1
    marginal error every 10 sweeps; the stopping test is on the returned plan."""
    check_options(tol, max_iter)
    red = Reduced(problem)
    stats = {"sinkhorn_iterations": 0, "newton_iterations": 0, "tol": tol}
    st = Scaled(red)
    status = Status.ITERATION_LIMIT
    try:
        reason = sweeps(st, ctx, tol, int(max_iter), stats)
        status = {"converged": Status.CONVERGED, "stop": ctx.stop_status(status)}.get(reason, status)
    except KeyboardInterrupt:
        status = Status.INTERRUPTED
    return pack(red, ctx, st, status, stats, P=st.P if status == Status.CONVERGED else None)


def solve_sinkhorn_log(problem: OptimalTransport, ctx: SolveContext, tol: float = 1e-9,
                       max_iter: int = 100_000) -> Result:
    """Alternate exact maximization of the dual in f and g, every exp in log-sum-exp form:
    f_i = eps (log a_i - LSE_j (g_j - C_ij)/eps), then the same for g (design.md §3, stage 1).

    The row error is read off the f-update for free: r_i = a_i exp((f_old_i - f_new_i)/eps)."""
    check_options(tol, max_iter)
    red = Reduced(problem)
    eps = red.eps
    log_a, log_b = np.log(red.a), np.log(red.b)
    f = np.zeros(red.a.size)
    g = np.zeros(red.b.size)
    K.update_f(red.C, g, log_a, eps, f)
    K.update_g(red.C, f, log_b, eps, g)
    status = Status.ITERATION_LIMIT
    it = 0
    f_new = f.copy()
    try:
        while it < int(max_iter):
            it += 1
            K.update_f(red.C, g, log_a, eps, f_new)
            err = float(np.abs(red.a * np.expm1((f - f_new) / eps)).sum())
            if it % 10 == 0 or err <= tol:
                ctx.record(err, iteration=it)
            if err <= tol:
                status = Status.CONVERGED
                break
            f, f_new = f_new, f
            K.update_g(red.C, f, log_b, eps, g)
            if ctx.should_stop():
                status = ctx.stop_status(status)
                break
    except KeyboardInterrupt:
        status = Status.INTERRUPTED
    return _pack_log(red, ctx, f, g, status, it, {"sinkhorn_iterations": it, "newton_iterations": 0,
                                                 "tol": tol})
