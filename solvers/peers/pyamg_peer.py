"""PyAMG (Olson & Schroder) as a standalone solver: ``smoothed_aggregation_solver(A).solve(b)``.

Beside ``amg`` (ours: one PyAMG cycle as a CG preconditioner), this is PyAMG's own iteration:
stationary V-cycles by default, or PyAMG's Krylov acceleration (``accel="cg"`` and the
others PyAMG accepts). PyAMG's solve loop takes a callback after every cycle: it records the
relative residual ``||b - Ax|| / ||b||`` (history label "relative residual", as our linear
methods) and asks the solve context whether to stop, ending the solve by raising out of it
(its last iterate is kept), so time limits, Ctrl-C and a callback's stop act within one cycle.
The hierarchy setup is one PyAMG call and is not interruptible. Converged when the true
relative residual of the returned ``x`` is at most ``tol``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from problems import LinearSystem

from ..context import SolveContext
from ..result import Result, Status
from ..stop import StopReason
from ._common import peer_info


class _Stopped(Exception):
    """Raised from PyAMG's callback when the solve context says stop."""


def solve_pyamg(problem: LinearSystem, ctx: SolveContext, *, tol: float, max_iter: int | None,
                cycle: str, accel: str | None, strength: str | None, smooth: str | None) -> Result:
    """Smoothed-aggregation hierarchy, then cycles until ``tol``, ``max_iter`` cycles, the time
    limit or a stop request."""
    import pyamg

    t0 = time.perf_counter()
    A = sp.csr_matrix(problem.A)
    ml = pyamg.smoothed_aggregation_solver(A, symmetry="symmetric", strength=strength, smooth=smooth)
    setup = time.perf_counter() - t0
    b = problem.b
    bnorm = float(np.linalg.norm(b)) or 1.0
    cap = max_iter if max_iter is not None else 10 * problem.size
    state: dict[str, Any] = {"k": 0, "x": None, "residuals": []}

    def callback(xk: np.ndarray) -> None:
        state["k"] += 1
        x = np.array(xk, dtype=np.float64, copy=True).ravel()
        state["x"] = x
        rel = float(np.linalg.norm(b - A @ x)) / bnorm
        state["residuals"].append(rel)
        ctx.record(rel, iteration=state["k"], incumbent=x)
        if rel <= tol:
            ctx.converged()
            raise _Stopped
        if state["k"] >= cap:
            ctx.reason = StopReason.ITERATION_LIMIT
            raise _Stopped
        if ctx.should_stop():
            raise _Stopped

    x = None
    if not ctx.should_stop():
        try:
            # PyAMG's own test is relative to ||b|| as well; ours (on the true residual) ends it
            x = ml.solve(b, tol=tol * 1e-3, maxiter=cap + 1, cycle=cycle, accel=accel,
                         callback=callback)
        except _Stopped:
            x = state["x"]
    stats = {"peer": peer_info("pyamg"), "setup_time": setup, "levels": len(ml.levels),
             "operator_complexity": float(ml.operator_complexity()), "cycles": state["k"],
             "residuals": state["residuals"]}
    if x is None:
        return ctx.result(iterations=0, stats=stats, message="stopped before the first cycle")
    x = np.asarray(x, dtype=np.float64).ravel()
    rel = problem.objective(x)
    status = None
    if not np.isfinite(rel):
        return ctx.result(status=Status.ERROR, iterations=state["k"], stats=stats,
                          message="PyAMG's iteration diverged")
    if rel <= tol * 1.5 and ctx.reason in (None, StopReason.CONVERGED):
        status = Status.CONVERGED
    elif ctx.reason is None:  # PyAMG ended on its own without reaching tol
        status = Status.ITERATION_LIMIT
    return ctx.result(solution=x, objective=rel, status=status, iterations=state["k"], stats=stats)
