"""Log-domain Sinkhorn scaling (Cuturi 2013; stabilized as in Schmitzer 2019)."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from problems import OptimalTransport

from ..context import SolveContext
from ..result import Result, Status


def log_plan(problem: OptimalTransport, f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """log P_ij = (f_i + g_j - C_ij) / reg."""
    return (f[:, None] + g[None, :] - problem.C) / problem.reg


def solve_sinkhorn_log(problem: OptimalTransport, ctx: SolveContext, tol: float = 1e-9,
                       max_iter: int = 100_000) -> Result:
    """Alternate exact maximization of the dual in f and g (design.md §3, stage 1)."""
    eps = problem.reg
    with np.errstate(divide="ignore"):
        log_a, log_b = np.log(problem.a), np.log(problem.b)
    f = np.zeros(problem.a.size)
    g = np.zeros(problem.b.size)
    status = Status.ITERATION_LIMIT
    it = 0
    err = np.inf
    for it in range(1, int(max_iter) + 1):
        f = eps * (log_a - logsumexp((g[None, :] - problem.C) / eps, axis=1))
        g = eps * (log_b - logsumexp((f[:, None] - problem.C) / eps, axis=0))
        if it % 10 == 0 or it == max_iter:
            P = np.exp(log_plan(problem, f, g))
            err = float(np.abs(P.sum(1) - problem.a).sum())  # column marginals are exact
            ctx.record(err, iteration=it)
            if err <= tol:
                status = Status.CONVERGED
                break
            if ctx.should_stop():
                status = ctx.stop_status(status)
                break
    P = np.exp(log_plan(problem, f, g))
    finite_f = np.where(np.isfinite(f), f, 0.0)
    finite_g = np.where(np.isfinite(g), g, 0.0)
    return ctx.result(solution=P, objective=problem.objective(P), status=status, iterations=it,
                      stats={"potentials": (finite_f, finite_g), "marginal_error": err,
                             "sinkhorn_iterations": it})
