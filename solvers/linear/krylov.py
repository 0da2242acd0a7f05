"""Classical solvers for SPD systems: unpreconditioned CG and a sparse direct solve (SuperLU)."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse.linalg as spla

from problems import LinearSystem

from ..context import SolveContext
from ..result import Result, Status
from .pcg import check_common, pcg


def solve_cg(problem: LinearSystem, ctx: SolveContext, tol: float = 1e-6,
             max_iter: int | None = None, x0: np.ndarray | None = None) -> Result:
    """Unpreconditioned CG (Hestenes-Stiefel; Saad, Algorithm 6.18): the shared PCG loop of
    ``pcg`` with M = I, so ``cg``, ``pcg-ic``, ``amg`` and ``dcdm`` are timed on the same
    recurrence. It takes the same iterates as ``scipy.sparse.linalg.cg`` (tested) but records the
    recursive residual of every iteration for free; a scipy callback would need one extra
    mat-vec per iteration to know the residual (it nearly doubled CG's time at 256²).
    Stops at ||b - Ax|| <= tol ||b|| (checked on the true residual at the end), the time limit or
    ``max_iter`` (default 10 n)."""
    cap = check_common(problem, tol, max_iter)
    return pcg(problem, ctx, _identity, tol, cap, x0, {"setup_time": 0.0, "network_time": 0.0})


def _identity(r: np.ndarray) -> np.ndarray:
    return r


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
