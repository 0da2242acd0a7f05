"""A sparse direct solve (SuperLU via scipy) for small SPD systems."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse.linalg as spla

from problems import LinearSystem

from ..context import SolveContext
from ..result import Result, Status


def solve_direct(problem: LinearSystem, ctx: SolveContext) -> Result:
    """Sparse LU factorization (SuperLU); exact up to rounding. A singular matrix is reported by
    the status and message, not by SuperLU's warning. The history holds the one relative
    residual ``‖b − Ax‖ / ‖b‖`` of the solution."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", spla.MatrixRankWarning)
        x = spla.spsolve(problem.A.tocsc(), problem.b)
    rel = problem.objective(x)
    status = Status.OPTIMAL if np.isfinite(rel) and rel < 1e-8 else Status.ERROR
    msg = "" if status is Status.OPTIMAL else "the matrix is singular or badly conditioned"
    if np.isfinite(rel):
        ctx.record(rel, iteration=1, incumbent=x if status is Status.OPTIMAL else None)
    return ctx.result(solution=x if status is Status.OPTIMAL else None,
                      objective=rel if np.isfinite(rel) else None, status=status,
                      iterations=1, message=msg, stats={"residuals": [rel]})
