"""OR-Tools CP-SAT for pure-integer MIPs, built from the problem's arrays (``MIP.data``).

CP-SAT needs integer variables with finite domains and integer constraint coefficients:
continuous variables are refused with a ``ValueError`` (use ``highs`` or ``scip``); each row
is scaled by the smallest power of ten (up to 10^6) that makes it integral, or refused; an
infinite variable bound becomes +-2^40, and an optimum that sits on such an artificial bound
is reported ``unbounded``. The objective may have fractional coefficients (CP-SAT's
floating-point objective). CP-SAT searches in a worker thread while the main thread watches
the solve context (``StopSearch`` on Ctrl-C, a callback's stop or the time limit; CP-SAT's
``max_time_in_seconds`` is the time left as a backstop); each improving solution is recorded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from problems import MIP

from ..context import SolveContext
from ..result import Result, Status
from ._common import peer_info, run_in_thread

#: the stand-in for an infinite variable bound
BIG = 2**40


def _integral_row(vals: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, float, float]:
    for k in range(7):
        f = 10.0**k
        s = vals * f
        if np.allclose(s, np.round(s), rtol=0, atol=1e-9 * f):
            return np.round(s).astype(np.int64), lo * f, hi * f
    raise ValueError("cpsat needs constraint coefficients that are integral after scaling by "
                     "at most 10^6; use highs or scip")


def build_model(problem: MIP) -> tuple[Any, list[Any]]:
    """The CP-SAT model of ``problem`` and its variables in the problem's order."""
    from ortools.sat.python import cp_model

    d = problem.data
    continuous = [name for name, t in zip(d.names, d.vtypes) if t == "C"]
    if continuous:
        raise ValueError(f"cpsat solves pure-integer models; this one has {len(continuous)} continuous "
                         f"variable(s) (e.g. {continuous[0]!r}): use highs or scip")
    if d.nonlinear_constraints:
        raise ValueError(f"cpsat reads linear constraints only; the model has {d.nonlinear_constraints} "
                         "other constraint(s)")
    m = cp_model.CpModel()
    lb = np.where(np.isfinite(d.lb), np.ceil(d.lb - 1e-9), -BIG)
    ub = np.where(np.isfinite(d.ub), np.floor(d.ub + 1e-9), BIG)
    xs = [m.new_int_var(int(lo), int(hi), name) for lo, hi, name in zip(lb, ub, d.names)]
    A = d.A.tocsr()
    for r in range(A.shape[0]):
        cols = A.indices[A.indptr[r]:A.indptr[r + 1]]
        coefs, lo, hi = _integral_row(A.data[A.indptr[r]:A.indptr[r + 1]], d.lhs[r], d.rhs[r])
        expr = sum(int(c) * xs[j] for c, j in zip(coefs, cols))
        if np.isfinite(lo) and np.isfinite(hi) and lo == hi:
            m.add(expr == int(round(lo)))
            continue
        if np.isfinite(lo):
            m.add(expr >= int(np.ceil(lo - 1e-9)))
        if np.isfinite(hi):
            m.add(expr <= int(np.floor(hi + 1e-9)))
    nz = np.flatnonzero(d.c)
    c = d.c[nz]
    integral = np.allclose(c, np.round(c))
    objective = sum((int(round(v)) if integral else float(v)) * xs[j] for v, j in zip(c, nz))
    if len(nz):
        (m.maximize if d.maximize else m.minimize)(objective)
    return m, xs


def solve_cpsat(problem: MIP, ctx: SolveContext, *, workers: int, gap: float) -> Result:
    """CP-SAT until optimal (within ``gap``), the time limit or a stop request."""
    from ortools.sat.python import cp_model

    model, xs = build_model(problem)
    names = problem.data.names
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.num_workers = int(workers)
    p.catch_sigint_signal = False  # Ctrl-C is the solve context's (CP-SAT's own handler aborts here)
    p.relative_gap_limit = float(gap)
    p.random_seed = 0 if ctx.seed is None else int(ctx.seed) % 2**31
    if ctx.time_limit is not None:
        p.max_time_in_seconds = max(ctx.remaining(), 0.01)
    offset = problem.data.offset

    class Recorder(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            values = [self.value(x) for x in xs]
            ctx.record(self.objective_value + offset,
                       incumbent=lambda: {n: float(v) for n, v in zip(names, values)})
            if ctx.stop_reason() is not None:
                self.stop_search()

    stats: dict[str, Any] = {"peer": peer_info("ortools")}
    if ctx.should_stop():
        return ctx.result(message="stopped before CP-SAT started", stats=stats)
    code = run_in_thread(ctx, lambda: solver.solve(model, Recorder()), solver.stop_search)
    st = cp_model
    stats.update(cpsat_status=solver.status_name(code), branches=int(solver.num_branches))
    if code == st.INFEASIBLE:
        return ctx.result(status=Status.INFEASIBLE, stats=stats, message="CP-SAT: the model is infeasible")
    if code == st.MODEL_INVALID:
        return ctx.result(status=Status.ERROR, message=solver.solution_info() or "invalid model",
                          stats=stats)
    if code not in (st.OPTIMAL, st.FEASIBLE):
        status = ctx.stop_status(Status.TIME_LIMIT if ctx.time_up() else Status.ERROR)
        return ctx.result(status=status, stats=stats, message="CP-SAT found no solution")
    values = np.array([solver.value(x) for x in xs], dtype=np.float64)
    solution = {n: float(v) for n, v in zip(names, values)}
    objective = problem.objective(solution)
    bound = float(solver.best_objective_bound) + offset
    on_big = np.any(np.abs(values) >= BIG)
    if on_big:
        return ctx.result(status=Status.UNBOUNDED, stats=stats,
                          message=f"the optimum sits on the artificial variable bound +-{BIG}")
    if code == st.OPTIMAL:
        status = Status.OPTIMAL
    else:
        status = ctx.stop_status(Status.FEASIBLE)
        if status == Status.FEASIBLE and ctx.time_limit is not None and ctx.time_up():
            status = Status.TIME_LIMIT
    stats["gap"] = abs(objective - bound) / max(1e-10, abs(objective)) if np.isfinite(bound) else None
    return ctx.result(solution=solution, objective=objective, bound=bound, status=status,
                      iterations=int(solver.num_branches), stats=stats)
