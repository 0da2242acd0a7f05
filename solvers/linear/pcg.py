"""Preconditioned CG with IC(0) (numba) or PyAMG smoothed aggregation as the preconditioner.

PCG: Saad, *Iterative Methods for Sparse Linear Systems* (2nd ed.), Algorithm 9.1. The
recurrence assumes a fixed SPD preconditioner M ≈ A⁻¹; both IC(0) (``L Lᵀ``) and a
symmetric AMG V-cycle (pre- and post-smoothing mirrored) are.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from problems import InvalidProblemError, LinearSystem

from ..context import SolveContext
from ..result import Result, Status


def check_common(problem: LinearSystem, tol: float, max_iter: int | None) -> int:
    """Validate ``tol`` / ``max_iter``; returns the iteration cap (default 10 n)."""
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    if max_iter is None:
        return 10 * problem.size
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    return int(max_iter)


def check_count(value: object, minimum: int, what: str) -> int:
    """``value`` as an int if it is an integer (not a bool) ``>= minimum``, else a ValueError
    naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def initial_guess(problem: LinearSystem, x0: np.ndarray | None) -> np.ndarray:
    if x0 is None:
        return np.zeros(problem.size)
    x = np.asarray(x0, dtype=np.float64).ravel()
    if x.size != problem.size or not np.all(np.isfinite(x)):
        raise ValueError(f"x0 must be a finite vector of {problem.size} entries")
    return x.copy()


def pcg(problem: LinearSystem, ctx: SolveContext, precond: Callable[[np.ndarray], np.ndarray],
        tol: float, max_iter: int, x0: np.ndarray | None, stats: dict) -> Result:
    """Preconditioned CG (Algorithm 9.1) to ``‖b − Ax‖ ≤ tol ‖b‖``; the relative residual of
    every iteration (the recursive one; the true one is checked at the end) in
    ``stats['residuals']``."""
    A, b = problem.A, problem.b
    bnorm = float(np.linalg.norm(b)) or 1.0
    x = initial_guess(problem, x0)
    r = b - A @ x
    residuals: list[float] = []
    t0 = time.perf_counter()
    status = Status.ITERATION_LIMIT
    k = 0
    try:
        rel = float(np.linalg.norm(r)) / bnorm
        if rel <= tol:
            status = Status.CONVERGED
        else:
            z = precond(r)
            p = z.copy()
            rz = float(r @ z)
            while k < max_iter:
                Ap = A @ p
                pAp = float(p @ Ap)
                if not pAp > 0 or not np.isfinite(pAp):
                    status = Status.ERROR
                    stats["message"] = "pᵀAp <= 0: A (or the preconditioner) is not positive definite"
                    break
                alpha = rz / pAp
                x += alpha * p
                r -= alpha * Ap
                k += 1
                rel = float(np.linalg.norm(r)) / bnorm
                residuals.append(rel)
                ctx.record(rel, iteration=k)
                if rel <= tol:
                    status = Status.CONVERGED
                    break
                if ctx.should_stop():
                    status = ctx.stop_status(Status.ITERATION_LIMIT)
                    break
                z = precond(r)
                rz_new = float(r @ z)
                p = z + (rz_new / rz) * p
                rz = rz_new
    except KeyboardInterrupt:
        status = Status.INTERRUPTED
    stats["solve_time"] = time.perf_counter() - t0
    stats["residuals"] = residuals
    return finish(problem, ctx, x, status, k, tol, stats)


def finish(problem: LinearSystem, ctx: SolveContext, x: np.ndarray, status: Status, iterations: int,
           tol: float, stats: dict) -> Result:
    """Check the true residual and build the result (shared by every iterative method)."""
    rel = problem.objective(x)
    message = stats.pop("message", "")
    if not np.isfinite(rel):
        return ctx.result(solution=None, objective=None, status=Status.ERROR, iterations=iterations,
                          message=message or "the iteration diverged (NaN)", stats=stats)
    if status == Status.CONVERGED and not rel <= tol * 1.5:
        status = Status.ITERATION_LIMIT
        message = message or f"recursive residual converged but the true one is {rel:.2e}"
    return ctx.result(solution=x, objective=rel, status=status, iterations=iterations,
                      message=message, stats=stats)


def ic0(A: sp.spmatrix) -> Callable[[np.ndarray], np.ndarray]:
    """IC(0) preconditioner ``r ↦ (L Lᵀ)⁻¹ r`` (``_kernels.ic0_factor``); on a non-positive
    pivot the factorization is retried on ``A + σ diag(A)`` with σ = 1e-3, 1e-2, ... (Manteuffel's
    shift)."""
    from ._kernels import ic0_factor, ic0_solve

    low = sp.tril(sp.csr_matrix(A), format="csr")
    low.sum_duplicates()
    low.sort_indices()
    indptr = low.indptr.astype(np.int64)
    indices = low.indices.astype(np.int64)
    data = low.data.astype(np.float64)
    if np.any(indices[indptr[1:] - 1] != np.arange(A.shape[0])):
        raise ValueError("IC(0) needs a stored, nonzero diagonal")
    for shift in (0.0, 1e-3, 1e-2, 1e-1, 1.0):
        L = ic0_factor(indptr, indices, data, shift)
        if L.size:
            break
    else:
        raise ValueError("IC(0) broke down: A is not positive definite")
    return lambda r: ic0_solve(indptr, indices, L, r)


def solve_pcg_ic(problem: LinearSystem, ctx: SolveContext, tol: float = 1e-6,
                 max_iter: int | None = None, x0: np.ndarray | None = None) -> Result:
    """CG preconditioned with the incomplete Cholesky factorization IC(0)."""
    cap = check_common(problem, tol, max_iter)
    t0 = time.perf_counter()
    try:
        M = ic0(problem.A)
    except ValueError as exc:
        return ctx.result(status=Status.ERROR, message=str(exc), stats={"residuals": []})
    stats = {"setup_time": time.perf_counter() - t0, "network_time": 0.0}
    return pcg(problem, ctx, M, tol, cap, x0, stats)


def solve_amg(problem: LinearSystem, ctx: SolveContext, tol: float = 1e-6,
              max_iter: int | None = None, x0: np.ndarray | None = None, cycle: str = "V",
              strength: str = "symmetric", smooth: str = "jacobi") -> Result:
    """CG preconditioned with one PyAMG smoothed-aggregation cycle (Vaněk, Mandel & Brezina
    1996) per iteration; setup (aggregation, prolongation smoothing) timed apart."""
    import pyamg

    cap = check_common(problem, tol, max_iter)
    if cycle not in ("V", "W", "F"):
        raise ValueError(f"cycle must be 'V', 'W' or 'F', got {cycle!r}")
    t0 = time.perf_counter()
    ml = pyamg.smoothed_aggregation_solver(sp.csr_matrix(problem.A), symmetry="symmetric",
                                           strength=strength, smooth=smooth)
    M = ml.aspreconditioner(cycle=cycle)
    stats = {"setup_time": time.perf_counter() - t0, "network_time": 0.0, "levels": len(ml.levels),
             "operator_complexity": float(ml.operator_complexity())}
    return pcg(problem, ctx, lambda r: M @ r, tol, cap, x0, stats)


def solve_pcg_sgs(problem: LinearSystem, ctx: SolveContext, tol: float = 1e-6,
                  max_iter: int | None = None, x0: np.ndarray | None = None,
                  sweeps: int = 1, threads: int | None = None) -> Result:
    """CG preconditioned with symmetric red-black Gauss–Seidel (``sweeps`` red, black sweeps
    then the same in reverse order; grid Poisson problems): DCDM's smoother without the
    network (``solvers/linear/smoother.py``), the ablation that shows what the network adds.
    ``threads``: CPU threads for the sweeps (default ``NUMBA_NUM_THREADS``)."""
    from .smoother import GridVCycle

    cap = check_common(problem, tol, max_iter)
    if getattr(problem, "grid", None) is None:
        raise InvalidProblemError("pcg-sgs needs a grid Poisson problem (LinearSystem.poisson)")
    t0 = time.perf_counter()
    M = GridVCycle(problem, None, sweeps, threads=threads)
    stats = {"setup_time": time.perf_counter() - t0, "network_time": 0.0}
    return pcg(problem, ctx, M, tol, cap, x0, stats)
