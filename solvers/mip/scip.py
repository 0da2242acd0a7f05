"""Plain SCIP with optbox's limits, seed and an incumbent history (the baseline for Balans).

:class:`IncumbentRecorder` is the bridge between a SCIP run and the solve context: it
records every new best solution (objective and incumbent, so a callback sees it) and
interrupts SCIP when a stopping criterion of the context fires. SCIP catches SIGINT itself
while it optimizes (``misc/catchctrlc``): a Ctrl-C then ends the run with status
``userinterrupt`` and never reaches Python, so :func:`note_interrupt` turns it into
``ctx.interrupted`` afterwards.
"""

from __future__ import annotations

from typing import Any

from pyscipopt import SCIP_EVENTTYPE, Eventhdlr

from problems import MIP

from ..context import SolveContext
from ..result import Result, Status

#: events at which a SCIP run asks the context whether to stop (the root LP loop included)
_WATCHED = (SCIP_EVENTTYPE.BESTSOLFOUND, SCIP_EVENTTYPE.NODESOLVED, SCIP_EVENTTYPE.LPSOLVED)


class IncumbentRecorder(Eventhdlr):
    """Records each new best solution in the context and stops SCIP when the context says so
    (the callback's ``StopIteration``, the time limit, a Ctrl-C Python saw)."""

    def __init__(self, ctx: SolveContext):
        super().__init__()
        self.ctx = ctx
        self.stopped = False  # this handler interrupted the run (not the user's Ctrl-C)

    def eventinit(self) -> None:
        for event in _WATCHED:
            self.model.catchEvent(event, self)

    def eventexit(self) -> None:
        for event in _WATCHED:
            self.model.dropEvent(event, self)

    def eventexec(self, event: Any) -> None:
        if event.getType() == SCIP_EVENTTYPE.BESTSOLFOUND:
            self._record()
        if not self.stopped and self.ctx.should_stop():
            self.stopped = True
            self.model.interruptSolve()

    def _record(self) -> None:
        model = self.model
        sol = model.getBestSol()
        value = model.getSolObjVal(sol)
        hist = self.ctx.history
        if hist and abs(hist[-1][1] - value) <= 1e-9 * max(1.0, abs(value)):
            return  # a solution handed over by Balans is recorded once
        self.ctx.record(value, incumbent=lambda: {v.name: model.getSolVal(sol, v) for v in model.getVars()})


def note_interrupt(ctx: SolveContext, scip_status: str, requested: bool) -> None:
    """After ``optimize``: a ``userinterrupt`` none of our handlers asked for is the user's
    Ctrl-C, which SCIP caught itself; it becomes ``ctx.interrupted`` (the run stops with its
    best solution), or, when a first Ctrl-C was already seen, the second one: abort."""
    if scip_status != "userinterrupt" or requested:
        return
    if ctx.interrupted:
        raise KeyboardInterrupt
    ctx.interrupted = True


def set_common_params(model: Any, ctx: SolveContext, threads: int = 1) -> None:
    """Time limit from the context, seed, single thread: the settings every run shares."""
    if ctx.time_limit is not None:
        model.setParam("limits/time", max(ctx.remaining(), 0.01))
    if ctx.seed is not None:
        model.setParam("randomization/randomseedshift", int(ctx.seed) % 2**31)
        model.setParam("randomization/permutationseed", int(ctx.seed) % 2**31)
    model.setParam("parallel/maxnthreads", int(threads))


#: SCIP's own final statuses (a stop asked by optbox, ``userinterrupt``, follows the context)
STATUS_MAP = {
    "optimal": Status.OPTIMAL,
    "infeasible": Status.INFEASIBLE,
    "unbounded": Status.UNBOUNDED,
    "inforunbd": Status.INFEASIBLE,
    "timelimit": Status.TIME_LIMIT,
}


def scip_status(problem: MIP, ctx: SolveContext, status: str) -> Status:
    """optbox's status for SCIP's ``status``: its own terminations from :data:`STATUS_MAP`
    ("infeasible or unbounded" decided), an interrupted or unstarted run from the context."""
    if status in ("userinterrupt", "unknown"):
        return ctx.stop_status(Status.INTERRUPTED)
    if status == "inforunbd":
        return infeasible_or_unbounded(problem)
    return STATUS_MAP.get(status, Status.FEASIBLE)


def solve_scip(problem: MIP, ctx: SolveContext, *, threads: int, gap: float,
               params: dict[str, Any] | None, emphasis: str | None) -> Result:
    """Run SCIP to optimality, the time limit or an interrupt; return the best solution.

    ``emphasis`` picks one of SCIP's parameter emphasis settings (e.g. ``"feasibility"``);
    ``params`` sets raw SCIP parameters (``{"limits/nodes": 100}``).
    """
    from pyscipopt import SCIP_PARAMEMPHASIS

    model = problem.create_model()
    if emphasis is not None:
        model.setEmphasis(getattr(SCIP_PARAMEMPHASIS, emphasis.upper()))
    set_common_params(model, ctx, threads)
    model.setParam("limits/gap", gap)
    for key, value in (params or {}).items():
        try:
            model.setParam(key, value)
        except (KeyError, LookupError, TypeError, ValueError) as exc:
            raise ValueError(f"SCIP parameter {key!r}={value!r} rejected: {exc}") from None
    recorder = IncumbentRecorder(ctx)
    model.includeEventhdlr(recorder, "optbox-history", "records incumbents, honours the stops")
    if not ctx.should_stop():
        model.optimize()
    status_text = model.getStatus()
    note_interrupt(ctx, status_text, recorder.stopped)
    status = scip_status(problem, ctx, status_text)
    message = "" if status in (Status.OPTIMAL, Status.FEASIBLE) else f"SCIP status {status_text}"
    solution, objective = None, None
    if model.getNSols() > 0 and status not in (Status.INFEASIBLE, Status.UNBOUNDED):
        best = model.getBestSol()
        solution = {v.name: model.getSolVal(best, v) for v in model.getVars()}
        objective = problem.objective(solution)
        if status == Status.TIME_LIMIT and not ctx.time_up():
            status = Status.FEASIBLE
    elif status in (Status.TIME_LIMIT, Status.INTERRUPTED):
        message = "no feasible solution found before the limit"
    bound = model.getDualbound() if model.getNSols() or status_text == "optimal" else None
    return ctx.result(solution=solution, objective=objective, bound=bound, status=status,
                      message=message, iterations=int(model.getNNodes()),
                      stats={"nodes": int(model.getNNodes()), "scip_status": status_text,
                             "gap": model.getGap() if model.getNSols() else None})


def infeasible_or_unbounded(problem: MIP) -> Status:
    """SCIP's 'infeasible or unbounded': decide with a zero objective (feasibility only)."""
    model = problem.create_model()
    model.setObjective(0)
    model.setParam("limits/time", 10.0)
    model.optimize()
    return Status.UNBOUNDED if model.getNSols() > 0 else Status.INFEASIBLE
