"""Shared pieces of the OT solvers: support reduction (zero-mass bins), the status a plan decides."""

from __future__ import annotations

import numpy as np

from problems import OptimalTransport

from ..context import SolveContext
from ..result import Status
from ..stop import StopReason


class Reduced:
    """The problem restricted to the bins with positive mass (zero-mass bins carry no plan)."""

    def __init__(self, problem: OptimalTransport):
        self.problem = problem
        self.rows = np.flatnonzero(problem.a > 0)
        self.cols = np.flatnonzero(problem.b > 0)
        self.full = self.rows.size == problem.a.size and self.cols.size == problem.b.size
        self.C = problem.C if self.full else np.ascontiguousarray(problem.C[np.ix_(self.rows, self.cols)])
        self.a = problem.a[self.rows]
        self.b = problem.b[self.cols]
        self.eps = problem.reg

    def embed(self, P: np.ndarray, f: np.ndarray, g: np.ndarray):
        """Plan and potentials on the full grid; zero-mass bins get potential -inf (exp(-inf) = 0)."""
        if self.full:
            return P, f, g
        Pf = np.zeros(self.problem.C.shape)
        Pf[np.ix_(self.rows, self.cols)] = P
        ff = np.full(self.problem.a.size, -np.inf)
        gf = np.full(self.problem.b.size, -np.inf)
        ff[self.rows] = f
        gf[self.cols] = g
        return Pf, ff, gf

    def plan_of(self, f: np.ndarray, g: np.ndarray, eps: float | None = None) -> np.ndarray:
        """The full-grid plan exp((f_i + g_j - C_ij)/eps) of potentials on the support (an
        incumbent for callbacks and salvage; the solvers build their returned plan themselves)."""
        eps = self.eps if eps is None else eps
        with np.errstate(invalid="ignore", over="ignore"):
            P = np.exp((f[:, None] + g[None, :] - self.C) / eps)
        return self.embed(P, f, g)[0]


def plan_status(ctx: SolveContext, err: float, tol: float) -> Status | None:
    """The status the returned plan's own error ``err`` decides; None where the stop reason does.

    A plan within ``tol`` is converged however the loop ended (a time or callback stop between
    two checks of a plan that already met it); a loop whose own test passed but whose returned
    plan misses ``tol`` (rounding between the test and the plan) counts as having run out."""
    if ctx.reason is StopReason.CONVERGED:
        return None if err <= tol else Status.ITERATION_LIMIT
    return Status.CONVERGED if err <= tol else None
