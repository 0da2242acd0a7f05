"""Classical solvers for SPD systems: CG (scipy) and a sparse direct solve."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse.linalg as spla

from problems import LinearSystem

from ..context import SolveContext
from ..result import Result, Status


def _max_iter(problem: LinearSystem, max_iter: int | None) -> int:
    return 10 * problem.size if max_iter is None else int(max_iter)


def solve_cg(problem: LinearSystem, ctx: SolveContext, tol: float = 1e-6,
             max_iter: int | None = None, x0: np.ndarray | None = None) -> Result:
    """Unpreconditioned CG; stops at ||b - Ax|| <= tol ||b||, the time limit or max_iter."""
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    bnorm = float(np.linalg.norm(problem.b)) or 1.0
    residuals: list[float] = []
    state = {"x": np.zeros(problem.size) if x0 is None else np.asarray(x0, float)}

    class _Stop(Exception):
        pass

    def monitor(xk: np.ndarray) -> None:
        state["x"] = xk
        res = float(np.linalg.norm(problem.b - problem.A @ xk)) / bnorm
        residuals.append(res)
        ctx.record(res, iteration=len(residuals))
        if ctx.should_stop():
            raise _Stop

    try:
        x, info = spla.cg(problem.A, problem.b, x0=state["x"], rtol=tol, atol=0.0,
                          maxiter=_max_iter(problem, max_iter), callback=monitor)
        status = Status.CONVERGED if info == 0 else Status.ITERATION_LIMIT
    except _Stop:
        x, status = state["x"], ctx.stop_status(Status.ITERATION_LIMIT)
    except KeyboardInterrupt:
        x, status = state["x"], Status.INTERRUPTED
    rel = problem.objective(x)
    if status == Status.CONVERGED and not rel <= tol * 1.01:
        status = Status.ERROR if not np.isfinite(rel) else Status.ITERATION_LIMIT
    return ctx.result(solution=x, objective=rel, status=status, iterations=len(residuals),
                      stats={"residuals": residuals})


def solve_direct(problem: LinearSystem, ctx: SolveContext) -> Result:
    """Sparse LU factorization (SuperLU); exact up to rounding. A singular matrix is reported by
    the status and message, not by SuperLU's warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", spla.MatrixRankWarning)
        x = spla.spsolve(problem.A.tocsc(), problem.b)
    rel = problem.objective(x)
    status = Status.OPTIMAL if np.isfinite(rel) and rel < 1e-8 else Status.ERROR
    msg = "" if status is Status.OPTIMAL else "the matrix is singular or badly conditioned"
    return ctx.result(solution=x if status is Status.OPTIMAL else None,
                      objective=rel if np.isfinite(rel) else None, status=status,
                      iterations=1, message=msg, stats={"residuals": [rel]})
