"""The one preconditioned CG loop, and the methods that are PCG with a fixed preconditioner:
``cg`` (M = I), ``pcg-ic`` (IC(0)), ``amg`` (a PyAMG cycle) and ``pcg-sgs`` (symmetric
red-black Gauss–Seidel).

PCG: Saad, *Iterative Methods for Sparse Linear Systems* (2nd ed.), Algorithm 9.1. The
recurrence assumes a fixed SPD preconditioner M ≈ A⁻¹; ``flexible`` takes the Polak–Ribière
β of flexible CG (Notay 2000) for a preconditioner that varies between iterations (DCDM's
``fcg`` variant runs its network through this loop).
"""

from __future__ import annotations

import time

import numpy as np

from problems import LinearSystem

from ..context import SolveContext
from ..result import Result, Status
from ._common import ResidualHistory, finish, initial_guess, require_grid
from .precond import Preconditioner, amg, ic0, identity, symmetric_gauss_seidel


def iteration_cap(problem: LinearSystem, max_iter: int | None) -> int:
    """``max_iter``, or 10 n when None."""
    return 10 * problem.size if max_iter is None else max_iter


def pcg(problem: LinearSystem, ctx: SolveContext, precond: Preconditioner, tol: float, max_iter: int,
        x0: np.ndarray | None, stats: dict, flexible: bool = False) -> Result:
    """Preconditioned CG (Algorithm 9.1) to ``‖b − Ax‖ ≤ tol ‖b‖``, at most ``max_iter``
    iterations (:func:`pcg_loop`), and its result: the true residual checked at the end
    (:func:`._common.finish`)."""
    x, error = pcg_loop(problem, ctx, precond, tol, max_iter, x0, stats, flexible)
    return finish(problem, ctx, x, len(stats["residuals"]), tol, stats, error)


def pcg_loop(problem: LinearSystem, ctx: SolveContext, precond: Preconditioner, tol: float, max_iter: int,
             x0: np.ndarray | None, stats: dict, flexible: bool = False) -> tuple[np.ndarray, str | None]:
    """The PCG iteration from ``x0``: returns the last iterate and a breakdown message (or
    None); the relative residual of every iteration (the recursive one) goes to
    ``stats['residuals']`` and the history, its seconds to ``stats['solve_time']``.
    ``flexible``: β = zᵀ(r − r_old) / z_oldᵀr_old instead of zᵀr / z_oldᵀr_old."""
    A, b = problem.A, problem.b
    x = initial_guess(problem, x0)
    r = b - A @ x
    history = ResidualHistory(ctx, b, x)
    t0 = time.perf_counter()
    error = None
    if history.relative(r) <= tol:
        ctx.converged()
    else:
        p = r_old = None
        rz = 0.0
        for k in ctx.iterations(max_iter):
            z = precond(r)
            rz_new = float(r @ z)
            if p is None:
                p = z.copy()
            else:
                num = float(z @ (r - r_old)) if flexible else rz_new
                p = z + (num / rz) * p
            rz = rz_new
            Ap = A @ p
            pAp = float(p @ Ap)
            if not pAp > 0 or not np.isfinite(pAp):
                error = "pᵀAp <= 0: A (or the preconditioner) is not positive definite"
                break
            alpha = rz / pAp
            x += alpha * p
            if flexible:
                r_old = r.copy()
            r -= alpha * Ap
            rel = history.relative(r)
            history.record(rel, k + 1)
            if rel <= tol:
                ctx.converged()
                break
    stats["solve_time"] = time.perf_counter() - t0
    stats["residuals"] = history.values
    return x, error


def solve_cg(problem: LinearSystem, ctx: SolveContext, *, tol: float, max_iter: int | None,
             x0: np.ndarray | None) -> Result:
    """Unpreconditioned CG (Hestenes-Stiefel; Saad, Algorithm 6.18): the shared PCG loop with
    M = I, so ``cg``, ``pcg-ic``, ``amg`` and ``dcdm`` are timed on the same recurrence. It
    takes the same iterates as ``scipy.sparse.linalg.cg`` (tested) but records the recursive
    residual of every iteration for free; a scipy callback would need one extra mat-vec per
    iteration to know the residual (it nearly doubled CG's time at 256²). Stops at
    ||b - Ax|| <= tol ||b|| (checked on the true residual at the end), the time limit or
    ``max_iter`` (default 10 n)."""
    stats = {"setup_time": 0.0, "network_time": 0.0}
    return pcg(problem, ctx, identity, tol, iteration_cap(problem, max_iter), x0, stats)


def solve_pcg_ic(problem: LinearSystem, ctx: SolveContext, *, tol: float, max_iter: int | None,
                 x0: np.ndarray | None, precision: str) -> Result:
    """CG preconditioned with the incomplete Cholesky factorization IC(0), its factor stored
    in ``precision`` (mixed precision: the recurrence stays float64)."""
    t0 = time.perf_counter()
    try:
        M = ic0(problem.A, precision)
    except ValueError as exc:
        return ctx.result(status=Status.ERROR, message=str(exc), stats={"residuals": []})
    stats = {"setup_time": time.perf_counter() - t0, "network_time": 0.0}
    return pcg(problem, ctx, M, tol, iteration_cap(problem, max_iter), x0, stats)


def solve_amg(problem: LinearSystem, ctx: SolveContext, *, tol: float, max_iter: int | None,
              x0: np.ndarray | None, cycle: str, strength: str | None, smooth: str | None) -> Result:
    """CG preconditioned with one PyAMG smoothed-aggregation cycle (Vaněk, Mandel & Brezina
    1996) per iteration; setup (aggregation, prolongation smoothing) timed apart."""
    t0 = time.perf_counter()
    M, figures = amg(problem.A, cycle, strength, smooth)
    stats = {"setup_time": time.perf_counter() - t0, "network_time": 0.0, **figures}
    return pcg(problem, ctx, M, tol, iteration_cap(problem, max_iter), x0, stats)


def solve_pcg_sgs(problem: LinearSystem, ctx: SolveContext, *, tol: float, max_iter: int | None,
                  x0: np.ndarray | None, sweeps: int, threads: int | None) -> Result:
    """CG preconditioned with symmetric red-black Gauss–Seidel (``sweeps`` red, black sweeps
    then the same in reverse order; grid Poisson problems): DCDM's smoother without the
    network (:class:`.grid.GridVCycle`), the ablation that shows what the network adds.
    ``threads``: CPU threads for the sweeps (default ``NUMBA_NUM_THREADS``)."""
    require_grid(problem, "pcg-sgs")
    t0 = time.perf_counter()
    M = symmetric_gauss_seidel(problem, sweeps, threads)
    stats = {"setup_time": time.perf_counter() - t0, "network_time": 0.0}
    return pcg(problem, ctx, M, tol, iteration_cap(problem, max_iter), x0, stats)
