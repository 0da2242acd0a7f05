"""LKH-3 (Helsgaun) through ``elkai`` for the TSP.

The instance is handed to LKH as TSPLIB text: a file's own distance rule (EUC_2D, CEIL_2D,
ATT, GEO) is kept, so LKH optimizes exactly the rounded lengths of the file. Exact Euclidean
instances (``EUC``, our random ones) and non-integral explicit matrices are scaled to integer
lengths (largest length about 1e6, LKH's integer arithmetic), and the tour is scored with the
problem's own ``objective``.

Time: with a time limit LKH runs as many runs/trials as fit (its ``TIME_LIMIT`` and
``TOTAL_TIME_LIMIT`` set to the time left); without one it does ``runs`` runs (default 1).
``elkai`` holds the GIL and offers no way to stop it, so LKH runs in a forked child process
that is killed on Ctrl-C, a callback's stop or when LKH overruns the deadline (its candidate
set is built before its clock is consulted); a killed run has no tour (status ``time_limit`` /
``interrupted``, ``solution`` None, the message says so). LKH reports no progress: the history
holds the final tour's length only.
"""

from __future__ import annotations

import time

import numpy as np

from problems import TSP

from ..context import SolveContext
from ..result import Result, Status
from ._common import peer_info, run_in_child

#: largest scaled integer length handed to LKH (its costs times PRECISION stay within int32)
_SCALE_TO = 1e6


def tsplib_text(problem: TSP) -> tuple[str, float]:
    """The instance as LKH reads it, and the factor its lengths were multiplied by."""
    n = problem.n_nodes
    head = f"NAME : optbox\nTYPE : TSP\nDIMENSION : {n}\n"
    kind = problem.edge_weight_type
    if kind == "EXPLICIT":
        D = np.asarray(problem.matrix, dtype=np.float64)
        integral = np.allclose(D, np.round(D)) and D.max() <= _SCALE_TO * 20
        scale = 1.0 if integral else _SCALE_TO / max(float(D.max()), 1e-300)
        M = np.round(D * scale).astype(np.int64)
        rows = "\n".join(" ".join(map(str, r)) for r in M.tolist())
        return (head + "EDGE_WEIGHT_TYPE : EXPLICIT\nEDGE_WEIGHT_FORMAT : FULL_MATRIX\n"
                f"EDGE_WEIGHT_SECTION\n{rows}\nEOF\n"), scale
    xy = np.asarray(problem.coords, dtype=np.float64)
    scale = 1.0
    if kind == "EUC":  # exact lengths: scaled coordinates, LKH's EUC_2D rounding then negligible
        span = float(np.ptp(xy, axis=0).max()) or 1.0
        scale = _SCALE_TO / span
        xy = (xy - xy.min(axis=0)) * scale
        kind = "EUC_2D"
    coords = "\n".join(f"{i + 1} {x!r} {y!r}" for i, (x, y) in enumerate(xy.tolist()))
    return head + f"EDGE_WEIGHT_TYPE : {kind}\nNODE_COORD_SECTION\n{coords}\nEOF\n", scale


def _lkh(params: str, text: str) -> list[int]:
    from elkai import _elkai

    return list(_elkai.solve_problem(params, text))


def solve_lkh(problem: TSP, ctx: SolveContext, *, runs: int | None, max_trials: int | None) -> Result:
    """LKH-3 until its runs end or the time limit (see the module doc: not interruptible, run in a
    child process that is killed on a stop request)."""
    text, scale = tsplib_text(problem)
    n = problem.n_nodes
    seed = 1 if ctx.seed is None else int(ctx.seed) % (2**31 - 1) + 1
    # LKH's own default of 10 runs under a time limit (its TIME_LIMIT counts CPU seconds, which
    # lag the wall clock on a loaded machine: endless runs would end by the kill, without a tour)
    lines = [f"RUNS = {runs or (10 if ctx.time_limit is not None else 1)}",
             f"MAX_TRIALS = {max_trials or n}", f"SEED = {seed}", "TRACE_LEVEL = 0",
             "PROBLEM_FILE = :stdin:"]
    budget = None
    if ctx.time_limit is not None:
        budget = max(0.9 * ctx.remaining() - 0.05, 0.01)
        lines[3:3] = [f"TIME_LIMIT = {budget:.3f}", f"TOTAL_TIME_LIMIT = {budget:.3f}"]
    params = "\n".join(lines) + "\n"
    grace = 0.0 if budget is None else min(0.5, 0.05 * ctx.time_limit + 0.2)
    t0 = time.perf_counter()
    stats = {"peer": peer_info("elkai"), "scale": scale, "lkh_time_limit": budget}
    if ctx.should_stop():
        return ctx.result(message="stopped before LKH started", stats=stats)
    out, killed = run_in_child(ctx, _lkh, (params, text), grace=grace)
    if killed:
        return ctx.result(stats=stats, message="LKH-3 was stopped before it returned a tour (elkai "
                          "cannot be interrupted: its process was killed); give it more time")
    tour = np.asarray(out[:n], dtype=np.int64) - 1
    objective = problem.objective(tour)
    ctx.record(objective, iteration=1, incumbent=tour)
    ran_out = budget is not None and time.perf_counter() - t0 >= 0.97 * budget
    status = Status.TIME_LIMIT if ran_out else ctx.stop_status(Status.FEASIBLE)
    return ctx.result(solution=tour, objective=objective, status=status, iterations=1, stats=stats)
