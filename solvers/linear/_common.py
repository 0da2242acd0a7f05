"""What every iterative linear method shares: the starting vector, the grid requirement, the
relative-residual history and the final check on the true residual."""

from __future__ import annotations

from typing import Any

import numpy as np

from problems import InvalidProblemError, LinearSystem

from ..context import SolveContext
from ..result import Result, Status
from ..stop import StopReason


def finite_vector(value: Any) -> np.ndarray:
    """``x0``'s declared check: a finite float64 vector (its length is checked per problem)."""
    try:
        x = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"must be a finite numeric vector, got {type(value).__name__}") from None
    if not np.all(np.isfinite(x)):
        raise ValueError("must be a finite vector (no NaN or inf)")
    return x


def initial_guess(problem: LinearSystem, x0: np.ndarray | None) -> np.ndarray:
    """A fresh copy of ``x0`` (zeros when None; finite by its declaration, :func:`finite_vector`),
    checked against the problem's length."""
    if x0 is None:
        return np.zeros(problem.size)
    x = np.array(x0, dtype=np.float64).ravel()
    if x.size != problem.size:
        raise ValueError(f"x0 must be a finite vector of {problem.size} entries, got {x.size}")
    return x


def require_grid(problem: LinearSystem, method: str, why: str = "") -> Any:
    """The problem's grid, or a clear error for a matrix given without one."""
    grid = getattr(problem, "grid", None)
    if grid is None:
        raise InvalidProblemError(f"{method} needs a grid Poisson problem (LinearSystem.poisson){why}")
    return grid


class ResidualHistory:
    """The relative residual ``‖r‖ / ‖b‖`` of every iteration: the list kept in
    ``stats['residuals']`` and the solve's history (``history_label="relative residual"``),
    each entry recorded with the iterate ``x`` (copied only when a callback or a salvage asks)."""

    def __init__(self, ctx: SolveContext, b: np.ndarray, x: np.ndarray):
        self.ctx = ctx
        self.bnorm = float(np.linalg.norm(b)) or 1.0
        self.values: list[float] = []
        self._incumbent = lambda: x.copy()  # x is updated in place by the iteration

    def relative(self, r: np.ndarray) -> float:
        return float(np.linalg.norm(r)) / self.bnorm

    def record(self, rel: float, iteration: int) -> None:
        self.values.append(rel)
        self.ctx.record(rel, iteration=iteration, incumbent=self._incumbent)


def finish(problem: LinearSystem, ctx: SolveContext, x: np.ndarray, iterations: int, tol: float,
           stats: dict, error: str | None = None) -> Result:
    """Check the true residual and build the result (shared by every iterative method): the
    status follows from why the loop stopped, except an ``error`` (a breakdown the loop
    found), a diverged iterate, or a recursive residual that met ``tol`` while the true one
    is more than 1.5 ``tol``."""
    rel = problem.objective(x)
    if not np.isfinite(rel):
        return ctx.result(solution=None, objective=None, status=Status.ERROR, iterations=iterations,
                          message=error or "the iteration diverged (NaN)", stats=stats)
    if error is not None:
        return ctx.result(solution=x, objective=rel, status=Status.ERROR, iterations=iterations,
                          message=error, stats=stats)
    if ctx.reason is StopReason.CONVERGED and not rel <= tol * 1.5:
        return ctx.result(solution=x, objective=rel, status=Status.ITERATION_LIMIT, iterations=iterations,
                          message=f"recursive residual converged but the true one is {rel:.2e}",
                          stats=stats)
    return ctx.result(solution=x, objective=rel, iterations=iterations, stats=stats)
