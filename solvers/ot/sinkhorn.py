"""Sinkhorn scaling (Cuturi 2013), stabilized (Schmitzer 2019), and log-domain Sinkhorn."""

from __future__ import annotations

import numpy as np

from problems import OptimalTransport

from ..context import SolveContext
from ..result import Result, Status
from . import _kernels as K
from ._common import Reduced, check_options, scaling_sweeps
from .newton_sparse import _init as init_potentials
from .newton_sparse import pack


def log_plan(problem: OptimalTransport, f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """log P_ij = (f_i + g_j - C_ij) / reg."""
    return (f[:, None] + g[None, :] - problem.C) / problem.reg


def solve_sinkhorn(problem: OptimalTransport, ctx: SolveContext, tol: float = 1e-9,
                   max_iter: int = 100_000) -> Result:
    """Matrix-vector Sinkhorn u = a/(Kv), v = b/(K^T u) with absorption of the scalings into
    the potentials (stable for any reg; design.md §3 stage 1). ``history`` holds the L1
    marginal error every 10 sweeps."""
    check_options(tol, max_iter)
    red = Reduced(problem)
    status = Status.ITERATION_LIMIT
    try:
        f, g = init_potentials(red)
        f, g, it, err, reason = scaling_sweeps(red, f, g, ctx, tol, int(max_iter))
        status = {"converged": Status.CONVERGED, "stop": ctx.stop_status(status)}.get(reason, status)
    except KeyboardInterrupt:
        f, g = init_potentials(red)
        it, status = 0, Status.INTERRUPTED
    return pack(red, ctx, f, g, status, it, {"sinkhorn_iterations": it, "newton_iterations": 0,
                                            "tol": tol})


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
    return pack(red, ctx, f, g, status, it, {"sinkhorn_iterations": it, "newton_iterations": 0,
                                            "tol": tol})
