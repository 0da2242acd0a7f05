"""A sparse direct solve (SuperLU via scipy) for small SPD systems."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse.linalg as spla

from problems import InvalidProblemError, LinearSystem

from ..context import SolveContext
from ..result import Result, Status

#: SuperLU's fill (stored entries of L + U per unknown, COLAMD ordering) on grid Poisson
#: systems with obstacles, fitted as c · n^k: 2-D 128²-512² (47-92 per unknown), 3-D 16³-40³
#: (160-895 per unknown; 40³ took 111 s)
FILL_FIT = {2: (4.9, 0.24), 3: (1.07, 0.62)}
#: bytes per stored entry (value + row index), doubled for SuperLU's working memory
BYTES_PER_ENTRY = 24


def predicted_factor_bytes(problem: LinearSystem) -> float | None:
    """The memory SuperLU's factor will take on a grid problem (:data:`FILL_FIT`), or None
    where there is no grid to predict from."""
    grid = getattr(problem, "grid", None)
    if grid is None or len(grid.shape) not in FILL_FIT:
        return None
    c, k = FILL_FIT[len(grid.shape)]
    n = problem.size
    return BYTES_PER_ENTRY * c * n ** (1.0 + k)


def available_memory() -> float:
    """Bytes of memory available now (``MemAvailable``; the physical memory where unknown)."""
    import os

    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return 1024.0 * float(line.split()[1])
    except OSError:
        pass
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def solve_direct(problem: LinearSystem, ctx: SolveContext) -> Result:
    """Sparse LU factorization (SuperLU); exact up to rounding. A singular matrix is reported by
    the status and message, not by SuperLU's warning. The history holds the one relative
    residual ``‖b − Ax‖ / ‖b‖`` of the solution. A grid problem whose predicted factor
    (:func:`predicted_factor_bytes`) does not fit the available memory is refused before the
    factorization starts (``InvalidProblemError``)."""
    need = predicted_factor_bytes(problem)
    if need is not None and need > (have := available_memory()):
        raise InvalidProblemError(
            f"the direct solve of this {len(problem.grid.shape)}-D grid system ({problem.size:,} "
            f"unknowns) needs about {need / 2**30:,.1f} GiB for its LU factor, "
            f"{have / 2**30:,.1f} GiB are available: use an iterative method "
            "(amg, pcg-ic, cg or dcdm)")
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
