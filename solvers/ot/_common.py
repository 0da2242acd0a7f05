"""Shared pieces of the OT solvers: option checks, support reduction (zero-mass bins)."""

from __future__ import annotations

import numpy as np

from problems import OptimalTransport


def check_options(tol: float, max_iter: int) -> None:
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter!r}")


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
