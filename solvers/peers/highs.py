"""HiGHS (Huangfu & Hall) through ``highspy`` for MIPs, reading the problem's own MPS / LP text.

HiGHS runs in a worker thread (``Highs.startSolve``) while the main thread watches the solve
context, so Ctrl-C, a callback's stop and the time limit end it at once through HiGHS's user
interrupt (``cancelSolve``); HiGHS's own ``time_limit`` is the time left as a backstop. Each
improving MIP solution is recorded (history and the callback's incumbent). The result carries
HiGHS's dual bound (``bound``) and gap (``stats["gap"]``); the objective is recomputed by the
problem. Statuses: proven optimal -> ``optimal`` (within ``gap``), HiGHS's time limit ->
``time_limit`` (with its best solution when it has one), infeasible / unbounded as proven
("unbounded or infeasible" decided by a feasibility solve with a zero objective).
"""

from __future__ import annotations

import gzip
import os
import sys
import tempfile
from typing import Any

import numpy as np

from problems import MIP

from ..context import SolveContext
from ..result import Result, Status
from ._common import peer_info, run_in_thread


def model_file(problem: MIP) -> str:
    """The problem's MPS / LP source in a temporary file HiGHS can read (gzip undone); the
    caller removes it."""
    ext = problem._ext
    source = problem._source
    if ext.endswith(".gz"):
        source, ext = gzip.decompress(source), ext[: -len(".gz")]
    fd, path = tempfile.mkstemp(suffix=ext)
    with os.fdopen(fd, "wb") as fh:
        fh.write(source)
    return path


_BANNER_SHOWN = False


def quiet_highs() -> Any:
    """A ``highspy.Highs`` with its output off. HiGHS prints its start-up banner from the C++
    constructor of the process's first instance, before any option can be set: that first
    construction runs with the process's standard output (file descriptor 1) sent to /dev/null."""
    import highspy

    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    return h


def read_highs(problem: MIP) -> Any:
    """A quiet ``highspy.Highs`` holding ``problem``."""
    import highspy

    h = quiet_highs()
    path = model_file(problem)
    try:
        if h.readModel(path) == highspy.HighsStatus.kError:
            raise ValueError("HiGHS could not read the model")
    finally:
        os.unlink(path)
    return h


def as_dict(problem: MIP, names: list[str], values: Any) -> dict[str, float]:
    """HiGHS's column values as our ``{name: value}`` (positional when HiGHS lost the names)."""
    values = [float(v) for v in values]
    if set(names) != set(problem.data.names):
        names = problem.data.names
    return dict(zip(names, values))


def _feasible(problem: MIP) -> bool:
    """Whether the constraints alone have a solution (zero objective, 10 s)."""
    import highspy

    h = read_highs(problem)
    n = h.getNumCol()
    h.changeColsCost(n, np.arange(n, dtype=np.int32), np.zeros(n))
    h.setOptionValue("time_limit", 10.0)
    h.run()
    return h.getModelStatus() == highspy.HighsModelStatus.kOptimal


def solve_highs(problem: MIP, ctx: SolveContext, *, gap: float, threads: int,
                presolve: bool) -> Result:
    """HiGHS branch-and-cut until optimal (within ``gap``), the time limit or a stop request."""
    import highspy

    h = read_highs(problem)
    if ctx.time_limit is not None:
        h.setOptionValue("time_limit", max(ctx.remaining(), 0.01))
    if ctx.seed is not None:
        h.setOptionValue("random_seed", int(ctx.seed) % 2**31)
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("presolve", "on" if presolve else "off")
    names = list(h.getLp().col_names_)

    def improving(event: Any) -> None:
        value = float(event.data_out.objective_function_value)
        sol = np.array(event.data_out.mip_solution, dtype=np.float64)
        ctx.record(value, incumbent=lambda: as_dict(problem, names, sol))
        if ctx.stop_reason() is not None:
            event.interrupt()

    h.cbMipImprovingSolution.subscribe(improving)
    h.HandleUserInterrupt = True
    stats: dict[str, Any] = {"peer": peer_info("highspy")}
    if ctx.should_stop():
        return ctx.result(message="stopped before HiGHS started", stats=stats)
    run_in_thread(ctx, h.run, h.cancelSolve)
    model_status = h.getModelStatus()
    info = h.getInfo()
    S = highspy.HighsModelStatus
    has_sol = info.primal_solution_status == 2  # kSolutionStatusFeasible
    status = {S.kOptimal: Status.OPTIMAL, S.kInfeasible: Status.INFEASIBLE,
              S.kUnbounded: Status.UNBOUNDED, S.kTimeLimit: Status.TIME_LIMIT}.get(model_status)
    if model_status == S.kUnboundedOrInfeasible:
        status = Status.UNBOUNDED if _feasible(problem) else Status.INFEASIBLE
    elif model_status in (S.kInterrupt, S.kHighsInterrupt):
        status = ctx.stop_status(Status.INTERRUPTED)
    elif status is None:  # HiGHS's other limits (iterations, solutions, objective bound)
        status = Status.FEASIBLE if has_sol else Status.ERROR
    stats.update(model_status=h.modelStatusToString(model_status), nodes=int(info.mip_node_count),
                 gap=float(info.mip_gap) if has_sol and np.isfinite(info.mip_gap) else None)
    integral = bool(np.any(problem.data.vtypes != "C"))
    bound = float(info.mip_dual_bound) if integral else (
        float(info.objective_function_value) if model_status == S.kOptimal else None)
    if bound is not None and not np.isfinite(bound):
        bound = None
    if not has_sol or status in (Status.INFEASIBLE, Status.UNBOUNDED):
        message = f"HiGHS: {stats['model_status']}" if status in (Status.INFEASIBLE, Status.UNBOUNDED) \
            else f"HiGHS found no solution ({stats['model_status']})"
        return ctx.result(status=status, bound=bound, message=message, stats=stats,
                          iterations=int(info.mip_node_count))
    solution = as_dict(problem, names, h.getSolution().col_value)
    objective = problem.objective(solution)
    if not ctx.history or abs(ctx.history[-1][1] - objective) > 1e-9 * max(1.0, abs(objective)):
        ctx.record(objective, incumbent=solution)  # an LP, or HiGHS's last solution not reported
    return ctx.result(solution=solution, objective=objective, status=status, bound=bound,
                      iterations=int(info.mip_node_count), stats=stats,
                      message="" if status in (Status.OPTIMAL, Status.FEASIBLE) else stats["model_status"])
