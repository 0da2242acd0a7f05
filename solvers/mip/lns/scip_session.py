"""The SCIP side of Balans: model copies, the LP relaxation, the first solution, the main SCIP
search the LNS interleaves with, and the sub-MIP solves.

Every SCIP call here is bounded by the context's deadline. A Ctrl-C that SCIP catches during a
solve (status ``userinterrupt`` that none of our handlers asked for) becomes
``ctx.interrupted`` (:func:`solvers.mip.scip.note_interrupt`), so the loop stops at its next
check with the best solution.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pyscipopt import SCIP_EVENTTYPE, Eventhdlr

from problems import MIP

from ...context import SolveContext
from ..scip import IncumbentRecorder, note_interrupt, set_common_params

# Without a time limit the hand-over must not depend on the clock (same seed, same run): SCIP
# hands over after this many nodes without a new best.
SCIP_STALL_NODES = 500

# Events at which the hand-over is checked: rows added by the separators fire inside the root
# cut loop, where SCIP can spend the whole limit without solving a node.
_MAIN_EVENTS = (SCIP_EVENTTYPE.FIRSTLPSOLVED, SCIP_EVENTTYPE.LPSOLVED, SCIP_EVENTTYPE.NODESOLVED,
                SCIP_EVENTTYPE.BESTSOLFOUND, SCIP_EVENTTYPE.ROWADDEDSEPA, SCIP_EVENTTYPE.PRESOLVEROUND)


class MainController(Eventhdlr):
    """Watches the main SCIP run: keeps its root LP solution (for RINS/RENS/DINS) and interrupts
    it when its incumbent stalls (no new best for ``stall`` seconds of this slice; ``root_stall``
    while the root node is not solved yet, so SCIP's heuristics at the end of the root get
    their turn)."""

    def __init__(self, ctx: SolveContext, variables: list[Any], root_stall: float = 0.0):
        super().__init__()
        self.ctx, self.vars = ctx, variables
        self.lp: np.ndarray | None = None
        self.stall = math.inf
        self.root_stall = root_stall
        self.root_done = False
        self.slice_start = 0.0
        self.last_best = 0.0
        self.last_best_nodes = 0
        self.fired = False  # this slice ended by our hand-over

    def eventinit(self) -> None:
        for event in _MAIN_EVENTS:
            self.model.catchEvent(event, self)

    def eventexit(self) -> None:
        for event in _MAIN_EVENTS:
            self.model.dropEvent(event, self)

    def start_slice(self, stall: float) -> None:
        self.stall, self.fired = stall, False
        self.slice_start = self.ctx.elapsed()

    def eventexec(self, event: Any) -> None:
        now = self.ctx.elapsed()
        kind = event.getType()
        if kind == SCIP_EVENTTYPE.FIRSTLPSOLVED and self.lp is None:
            self.lp = np.array([self.model.getSolVal(None, v) for v in self.vars], dtype=np.float64)
        elif kind == SCIP_EVENTTYPE.BESTSOLFOUND:
            self.last_best = now
            self.last_best_nodes = int(self.model.getNNodes())
        elif kind == SCIP_EVENTTYPE.NODESOLVED:
            self.root_done = True
        stall = self.stall if self.root_done else max(self.stall, self.root_stall)
        if not self.fired and self.model.getNSols() > 0 \
                and now - max(self.last_best, self.slice_start) >= stall:
            self.fired = True
            self.model.interruptSolve()


class ScipSession:
    """The SCIP models of one Balans run; solutions come back as vectors in ``problem.data``
    order (discrete entries rounded)."""

    def __init__(self, problem: MIP, ctx: SolveContext, threads: int):
        self.problem, self.ctx, self.threads = problem, ctx, int(threads)
        self.data = problem.data
        self.discrete = np.flatnonzero(self.data.vtypes != "C")
        self.base: Any = None  # the original model, source of every sub-MIP copy
        self.perm: list[int] = []
        self.main: Any = None  # the plain SCIP run (first_solution="scip")
        self.main_open = False  # the main run can be resumed
        self.main_vars: list[Any] = []
        self.controller: MainController | None = None
        self.recorder: IncumbentRecorder | None = None

    # ------------------------------------------------------------------ helpers
    def params(self, model: Any, cap: float | None, seed_offset: int = 0) -> None:
        """Time limit (the remaining time, at most ``cap``), seed and threads of a copy."""
        remaining = self.ctx.remaining()
        limit = remaining if cap is None else min(remaining, cap)
        if math.isfinite(limit):
            model.setParam("limits/time", max(limit, 0.01))
        if self.ctx.seed is not None:
            model.setParam("randomization/randomseedshift", (int(self.ctx.seed) + seed_offset) % 2**31)
        model.setParam("parallel/maxnthreads", self.threads)

    def copy(self) -> tuple[Any, list[Any]]:
        """A fresh copy of the original model and its variables in data order."""
        from pyscipopt import Model

        if self.base is None:  # built on first use: a run SCIP finishes alone never pays for it
            self.base = self.problem.create_model()
            index = {var.name: k for k, var in enumerate(self.base.getVars())}
            self.perm = [index[n] for n in self.data.names]
        sub = Model(sourceModel=self.base, origcopy=True)
        sub.hideOutput()
        variables = sub.getVars()
        return sub, [variables[k] for k in self.perm]

    def vector(self, model: Any, variables: list[Any], sol: Any) -> np.ndarray:
        x = np.array([model.getSolVal(sol, v) for v in variables], dtype=np.float64)
        x[self.discrete] = np.round(x[self.discrete])
        return x

    def close(self) -> None:
        """Free every SCIP model of the run."""
        if self.base is not None:
            self.base.freeProb()
            self.base = None
        if self.main is not None:
            self.main.freeProb()
            self.main = None
            self.main_open = False

    # ------------------------------------------------------------------ start phases
    def lp_relaxation(self, lp_time_fraction: float) -> tuple[np.ndarray | None, float | None]:
        """Solve the LP relaxation once (all variables continuous) under a share of the time."""
        sub, variables = self.copy()
        for v in variables:
            if v.vtype() != "CONTINUOUS":
                sub.chgVarType(v, "C")
        cap = None if self.ctx.time_limit is None else lp_time_fraction * self.ctx.time_limit
        self.params(sub, cap)
        sub.optimize()
        note_interrupt(self.ctx, sub.getStatus(), False)
        if sub.getStatus() != "optimal" or sub.getNSols() == 0:
            return None, None
        best = sub.getBestSol()
        x = np.array([sub.getSolVal(best, v) for v in variables], dtype=np.float64)
        return x, float(sub.getObjVal())

    def first_solution(self, mode: str, root_time_fraction: float
                       ) -> tuple[str, np.ndarray | None, float | None]:
        """``mode="root"``: SCIP's root node (default settings, its root heuristics) under
        ``root_time_fraction`` of the limit; without a solution there (or with
        ``"feasibility"``, the paper's start) SCIP runs with feasibility emphasis until the first
        solution (or a final status)."""
        from pyscipopt import SCIP_PARAMEMPHASIS

        ctx = self.ctx
        sub, variables = self.copy()
        recorder = IncumbentRecorder(ctx)
        sub.includeEventhdlr(recorder, "optbox-history", "records incumbents, honours the stops")
        status = "unknown"
        if mode == "root":
            cap = None if ctx.time_limit is None else root_time_fraction * ctx.time_limit
            self.params(sub, cap)
            sub.setParam("limits/nodes", 1)
            sub.optimize()
            status = sub.getStatus()
            note_interrupt(ctx, status, recorder.stopped)
        if sub.getNSols() == 0 and status in ("nodelimit", "timelimit", "unknown") \
                and not ctx.should_stop():
            if status != "unknown":
                sub.freeTransform()
            sub.setEmphasis(SCIP_PARAMEMPHASIS.FEASIBILITY)
            self.params(sub, None)
            sub.setParam("limits/nodes", -1)
            sub.setParam("limits/solutions", 1)
            sub.optimize()
            status = sub.getStatus()
            note_interrupt(ctx, status, recorder.stopped)
        x = self.vector(sub, variables, sub.getBestSol()) if sub.getNSols() else None
        bound = float(sub.getDualbound()) if sub.getNSols() else None
        return status, x, bound

    # ------------------------------------------------------------------ the main SCIP search
    def start_main(self, root_stall: float, stall: float
                   ) -> tuple[str, np.ndarray | None, float | None]:
        """Plain SCIP on the whole model (same settings as ``method="scip"``) until its incumbent
        stalls for ``stall`` seconds, it finishes, or the limit; the run is kept for resuming."""
        main = self.problem.create_model()
        index = {var.name: var for var in main.getVars()}
        self.main_vars = [index[n] for n in self.data.names]
        set_common_params(main, self.ctx, self.threads)
        main.setParam("limits/gap", 0.0)
        self.recorder = IncumbentRecorder(self.ctx)
        main.includeEventhdlr(self.recorder, "optbox-history", "records incumbents, honours the stops")
        self.controller = MainController(self.ctx, self.main_vars, root_stall)
        main.includeEventhdlr(self.controller, "optbox-balans-switch", "hands over to the LNS")
        self.main, self.main_open = main, True
        x, status = self.resume(stall, first=True)
        if status in ("optimal", "infeasible", "unbounded", "inforunbd"):
            self.main_open = False
        bound = float(main.getDualbound()) if main.getNSols() or status == "optimal" else None
        return status, x, bound

    def resume(self, stall: float, first: bool = False) -> tuple[np.ndarray | None, str]:
        """Run (or resume) the main SCIP search until its incumbent stalls for ``stall`` seconds
        (without a clock: SCIP_STALL_NODES nodes without a new best), the deadline or a stop."""
        main, ctx, controller = self.main, self.ctx, self.controller
        if math.isfinite(ctx.remaining()):
            used = 0.0 if first else float(main.getSolvingTime())
            main.setParam("limits/time", used + max(ctx.remaining(), 0.01))
        if ctx.time_limit is None:
            since = 0 if first else int(main.getNNodes()) - controller.last_best_nodes
            main.setParam("limits/stallnodes", max(since, 0) + SCIP_STALL_NODES)
            controller.start_slice(math.inf)
        else:
            controller.start_slice(stall)
        main.optimize()
        status = main.getStatus()
        note_interrupt(ctx, status, controller.fired or self.recorder.stopped)
        if status not in ("userinterrupt", "timelimit", "nodelimit", "stallnodelimit"):
            self.main_open = False
        x = self.vector(main, self.main_vars, main.getBestSol()) if main.getNSols() else None
        return x, status

    def share(self, x: np.ndarray) -> None:
        """Hand an LNS incumbent to the main SCIP search (better pruning when it resumes)."""
        if self.main is None or not self.main_open:
            return
        try:
            sol = self.main.createOrigSol()
            for var, val in zip(self.main_vars, x):
                self.main.setSolVal(sol, var, float(val))
            self.main.addSol(sol, free=True)
        except Exception:  # noqa: BLE001 - sharing is an optimisation, never fatal
            pass

    def main_bound(self, bound: float | None) -> float | None:
        """SCIP's global dual bound, tightened with the one known so far."""
        if self.main is None:
            return bound
        b = float(self.main.getDualbound())
        if not math.isfinite(b):
            return bound
        if bound is None:
            return b
        return min(b, bound) if self.data.maximize else max(b, bound)

    def random_feasible(self, cap: float | None, seed_offset: int) -> np.ndarray | None:
        """A random feasible solution (crossover's partner, as in the paper's package): a copy
        with a random objective (uniform in [-1, 1] on every variable), feasibility emphasis,
        stopped at its first solution or after ``cap`` seconds; None without one."""
        from pyscipopt import SCIP_PARAMEMPHASIS, quicksum

        sub, variables = self.copy()
        rng = np.random.default_rng(None if self.ctx.seed is None else int(self.ctx.seed) + seed_offset)
        coef = rng.uniform(-1.0, 1.0, size=len(variables))
        sub.setObjective(quicksum(float(c) * v for c, v in zip(coef, variables)), "minimize")
        sub.setEmphasis(SCIP_PARAMEMPHASIS.FEASIBILITY)
        self.params(sub, cap, seed_offset=seed_offset)
        sub.setParam("limits/solutions", 1)
        sub.optimize()
        note_interrupt(self.ctx, sub.getStatus(), False)
        x = self.vector(sub, variables, sub.getBestSol()) if sub.getNSols() else None
        sub.freeProb()
        return x

    # ------------------------------------------------------------------ repair
    def repair(self, sub: Any, variables: list[Any], cur: np.ndarray, warm: bool, cap: float | None,
               seed_offset: int, fast: bool) -> tuple[np.ndarray | None, str, float]:
        """Solve the sub-MIP ``sub`` (warm-started with ``cur`` when ``warm``) under ``cap``
        seconds and the deadline, then free it; returns (best solution or None, SCIP status,
        seconds in SCIP)."""
        from pyscipopt import SCIP_PARAMSETTING

        self.params(sub, cap, seed_offset=seed_offset)
        if fast:  # LNS sub-MIPs: quick presolve, no cutting planes
            sub.setPresolve(SCIP_PARAMSETTING.FAST)
            sub.setSeparating(SCIP_PARAMSETTING.OFF)
        if warm:
            sol = sub.createSol()
            for k, var in enumerate(variables):
                sub.setSolVal(sol, var, float(cur[k]))
            sub.addSol(sol, free=True)
        t_sub = self.ctx.elapsed()
        sub.optimize()
        t_sub = self.ctx.elapsed() - t_sub
        status = sub.getStatus()
        x = self.vector(sub, variables, sub.getBestSol()) if sub.getNSols() else None
        sub.freeProb()
        note_interrupt(self.ctx, status, False)
        return x, status, t_sub
