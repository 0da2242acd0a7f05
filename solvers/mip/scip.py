"""Plain SCIP with optbox's limits, seed and an incumbent history (the baseline for Balans)."""

from __future__ import annotations

import math
from typing import Any

from pyscipopt import SCIP_EVENTTYPE, Eventhdlr

from problems import MIP

from ..context import SolveContext
from ..result import Result, Status


class _IncumbentRecorder(Eventhdlr):
    """Appends (time, objective) to the context history at every new best solution."""

    def __init__(self, ctx: SolveContext):
        super().__init__()
        self.ctx = ctx

    def eventinit(self) -> None:
        self.model.catchEvent(SCIP_EVENTTYPE.BESTSOLFOUND, self)

    def eventexit(self) -> None:
        self.model.dropEvent(SCIP_EVENTTYPE.BESTSOLFOUND, self)

    def eventexec(self, event: Any) -> None:
        sol = self.model.getBestSol()
        value = self.model.getSolObjVal(sol)
        hist = self.ctx.history
        if not hist or abs(hist[-1][1] - value) > 1e-9 * max(1.0, abs(value)):
            self.ctx.record(value)  # a solution handed over by Balans is recorded once
        if self.ctx.stopped_by_callback:
            self.model.interruptSolve()


def set_common_params(model: Any, ctx: SolveContext, threads: int = 1) -> None:
    """Time limit from the context, seed, single thread: the settings every run shares."""
    if ctx.time_limit is not None:
        model.setParam("limits/time", max(ctx.remaining(), 0.01))
    if ctx.seed is not None:
        model.setParam("randomization/randomseedshift", int(ctx.seed) % 2**31)
        model.setParam("randomization/permutationseed", int(ctx.seed) % 2**31)
    model.setParam("parallel/maxnthreads", int(threads))


STATUS_MAP = {
    "optimal": Status.OPTIMAL,
    "infeasible": Status.INFEASIBLE,
    "unbounded": Status.UNBOUNDED,
    "inforunbd": Status.INFEASIBLE,
    "timelimit": Status.TIME_LIMIT,
    "userinterrupt": Status.INTERRUPTED,
}


EMPHASES = ("default", "feasibility", "optimality", "easycip", "hardlp", "counter", "cpsolver",
            "numerics", "benchmark", "phasefeas", "phaseimprove", "phaseproof")


def solve_scip(problem: MIP, ctx: SolveContext, threads: int = 1, gap: float = 0.0,
               params: dict[str, Any] | None = None, emphasis: str | None = None) -> Result:
    """Run SCIP to optimality, the time limit or an interrupt; return the best solution.

    ``emphasis`` picks one of SCIP's parameter emphasis settings (e.g. ``"feasibility"``);
    ``params`` sets raw SCIP parameters (``{"limits/nodes": 100}``).
    """
    from pyscipopt import SCIP_PARAMEMPHASIS

    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    if not (isinstance(gap, (int, float)) and 0.0 <= float(gap) < math.inf):
        raise ValueError(f"gap must be a non-negative number, got {gap!r}")
    if emphasis is not None and emphasis not in EMPHASES:
        raise ValueError(f"emphasis must be one of {EMPHASES}, got {emphasis!r}")
    if params is not None and not isinstance(params, dict):
        raise ValueError(f"params must be a dict of SCIP parameters, got {type(params).__name__}")
    model = problem.create_model()
    if emphasis is not None:
        model.setEmphasis(getattr(SCIP_PARAMEMPHASIS, emphasis.upper()))
    set_common_params(model, ctx, threads)
    model.setParam("limits/gap", float(gap))
    for key, value in (params or {}).items():
        try:
            model.setParam(key, value)
        except (KeyError, LookupError, TypeError, ValueError) as exc:
            raise ValueError(f"SCIP parameter {key!r}={value!r} rejected: {exc}") from None
    model.includeEventhdlr(_IncumbentRecorder(ctx), "optbox-history", "records incumbents")
    try:
        model.optimize()
    except KeyboardInterrupt:
        pass
    scip_status = model.getStatus()
    status = STATUS_MAP.get(scip_status, Status.FEASIBLE)
    if scip_status == "inforunbd":
        status = _infeasible_or_unbounded(problem)
    message = "" if status in (Status.OPTIMAL, Status.FEASIBLE) else f"SCIP status {scip_status}"
    solution, objective = None, None
    if model.getNSols() > 0 and status not in (Status.INFEASIBLE, Status.UNBOUNDED):
        best = model.getBestSol()
        solution = {v.name: model.getSolVal(best, v) for v in model.getVars()}
        objective = problem.objective(solution)
        if status == Status.TIME_LIMIT and not ctx.time_up():
            status = Status.FEASIBLE
    elif status in (Status.TIME_LIMIT, Status.INTERRUPTED):
        message = "no feasible solution found before the limit"
    bound = model.getDualbound() if model.getNSols() or scip_status == "optimal" else None
    return ctx.result(solution=solution, objective=objective, bound=bound, status=status,
                      message=message, iterations=int(model.getNNodes()),
                      stats={"nodes": int(model.getNNodes()), "scip_status": scip_status,
                             "gap": model.getGap() if model.getNSols() else None})


def _infeasible_or_unbounded(problem: MIP) -> Status:
    """SCIP's 'infeasible or unbounded': decide with a zero objective (feasibility only)."""
    model = problem.create_model()
    model.setObjective(0)
    model.setParam("limits/time", 10.0)
    model.optimize()
    return Status.UNBOUNDED if model.getNSols() > 0 else Status.INFEASIBLE
