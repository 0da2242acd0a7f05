"""The Balans loop (paper Alg. 1): a first solution, then bandit-selected LNS iterations over
SCIP, interleaved with the resumed main SCIP search when the LNS stalls.

Each round of ``ctx.iterations(max_iter)`` is one LNS iteration: the bandit picks an arm, the
operator builds the sub-MIP around the current solution, SCIP repairs it, the acceptance
criterion decides on the candidate and the outcome is the arm's reward. Before it, while the
LNS has found no new best for a while, the main SCIP search gets the time back (a slice).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from problems import MIP

from ...context import SolveContext
from ...result import Result, Status
from ..scip import scip_status
from .accept import ACCEPTANCE
from .operators import TOL, LNSState, Operator, applies, build, parse_operators
from .scip_session import ScipSession
from .select import OUTCOMES, make_selector, reward

# Without a time limit the search must not depend on the clock (same seed, same run): the LNS
# hands back to SCIP after LNS_STALL_ITERATIONS iterations without a new best (doubled after a
# fruitless SCIP slice), and stops after NO_CLOCK_ITERATIONS iterations unless max_iter says.
LNS_STALL_ITERATIONS = 5.0
NO_CLOCK_ITERATIONS = 200


@dataclass(frozen=True)
class BalansConfig:
    """The options of one run, defaults that depend on the time limit filled in."""

    ops: tuple[Operator, ...]
    bandit: str
    acceptance: str
    epsilon: float
    tau: float
    scores: tuple[float, ...]
    sub_time_limit: float | None
    sub_settings: str
    lp_time_fraction: float
    first_solution: str
    root_time_fraction: float
    temperature: float
    max_iter: int | None
    threads: int
    scip_stall: float
    lns_stall: float
    root_stall: float
    bandit_backend: str
    bandit_cost: bool
    bandit_optimistic: bool


def solve_balans(problem: MIP, ctx: SolveContext, *, operators: Any, bandit: str, acceptance: str,
                 epsilon: float, tau: float, scores: Any, sub_time_limit: float | None,
                 sub_settings: str, lp_time_fraction: float, first_solution: str,
                 root_time_fraction: float, temperature: float, max_iter: int | None, threads: int,
                 scip_stall: float | None, lns_stall: float | None, root_stall: float | None,
                 bandit_backend: str, bandit_cost: bool, bandit_optimistic: bool) -> Result:
    """Balans (paper Alg. 1): LP, first solution, then bandit-selected LNS iterations over SCIP.

    ``first_solution="scip"`` (default) starts with plain SCIP on the whole model (full presolve,
    root cuts and heuristics) and hands over to the LNS loop when SCIP's incumbent has not improved
    for ``scip_stall`` seconds (default max(0.5, 5 % of the limit)); the LNS loop gives the time back
    to the same (resumed) SCIP search when it has found no new best for ``lns_stall`` seconds
    (default max(1, 10 % of the limit), doubled after every SCIP slice that finds nothing). The
    two share incumbents, SCIP's root LP solution serves RINS/RENS/DINS and SCIP's dual bound is
    the bound: a win of this default over SCIP is SCIP's and the LNS's together.
    ``"lns"`` (= ``"root"``: SCIP's root node under ``root_time_fraction`` of the limit) and
    ``"feasibility"`` are the paper's start (Alg. 1: a separate LP relaxation, then a first
    solution) and then the LNS alone, no hand-over: what credits the bandit search.

    ``root_stall`` (seconds, default max(``scip_stall``, 15 % of the limit)) is the stall allowed
    while SCIP's root node is still open: its heuristics at the end of the root often find the
    big improvements (measured: combinatorial auction and facility location at 1.3-5 s, which an
    earlier hand-over cut off).

    ``bandit_cost=True`` (default; native bandits, with a time limit) scales each arm's score by
    sqrt(mean arm time / its mean iteration time), clipped to [1/2, 2]: the bandit leans toward
    improvements per second, not per iteration.
    ``bandit_optimistic=True`` (default) gives every arm one optimistic pseudo-observation before
    its first pull; ``False`` is the package's flat prior (Thompson: Beta(1 + s, 1 + f)).
    """
    limit = ctx.time_limit
    first_solution = "root" if first_solution == "lns" else first_solution
    if max_iter is None and limit is None:
        max_iter = NO_CLOCK_ITERATIONS  # without a time limit the search needs some end
    scip_stall = float(scip_stall) if scip_stall is not None else (
        max(0.5, 0.05 * limit) if limit is not None else 2.0)
    lns_stall = float(lns_stall) if lns_stall is not None else (
        max(1.0, 0.1 * limit) if limit is not None else 5.0)
    root_stall = float(root_stall) if root_stall is not None else (
        max(scip_stall, 0.15 * limit) if limit is not None else scip_stall)
    config = BalansConfig(
        tuple(parse_operators(operators)), bandit, acceptance, float(epsilon), float(tau),
        tuple(float(s) for s in scores), sub_time_limit, sub_settings, float(lp_time_fraction),
        first_solution, float(root_time_fraction), float(temperature), max_iter, int(threads),
        scip_stall, lns_stall, root_stall, bandit_backend, bool(bandit_cost), bool(bandit_optimistic))
    return Balans(problem, ctx, config).run()


class Balans:
    """One run: the start phase, the ALNS loop with its SCIP slices, the result."""

    def __init__(self, problem: MIP, ctx: SolveContext, config: BalansConfig):
        self.problem, self.ctx, self.cfg = problem, ctx, config
        self.sense = -1.0 if problem.data.maximize else 1.0  # internal value g = sense * f (minimized)
        self.state = LNSState(problem.data, ctx.rng)
        self.session = ScipSession(problem, ctx, config.threads)
        self.stats: dict[str, Any] = {}
        # the search: best and current solutions and their internal values
        self.best: np.ndarray | None = None
        self.cur: np.ndarray | None = None
        self.g_best = self.g_cur = math.inf
        self.bound: float | None = None
        # the hand-back to SCIP: progress at the last new best, and the patience before a slice
        self.lns_mark, self.patience = 0.0, math.inf

    # ------------------------------------------------------------------ start
    def start(self) -> tuple[str, np.ndarray | None, float | None, float | None]:
        """The first solution: (SCIP status, x0 or None, its dual bound, the LP bound)."""
        ctx, cfg, state, session = self.ctx, self.cfg, self.state, self.session
        if cfg.first_solution == "scip":
            status, x0, first_bound = session.start_main(cfg.root_stall, cfg.scip_stall)
            state.x_lp, lp_bound = session.controller.lp, None
            if state.x_lp is None and x0 is not None and status not in ("optimal", "timelimit") \
                    and len(state.discrete) and not ctx.should_stop():
                state.x_lp, lp_bound = session.lp_relaxation(cfg.lp_time_fraction)
        else:
            state.x_lp, lp_bound = session.lp_relaxation(cfg.lp_time_fraction) \
                if len(state.discrete) else (None, None)
            status, x0, first_bound = session.first_solution(cfg.first_solution, cfg.root_time_fraction)
        return status, x0, first_bound, lp_bound

    def run(self) -> Result:
        ctx, state = self.ctx, self.state
        status, x0, first_bound, lp_bound = self.start()
        bounds = [b for b in (lp_bound, first_bound) if b is not None and math.isfinite(b)]
        self.bound = (min(bounds) if state.data.maximize else max(bounds)) if bounds else None
        if x0 is None or status in ("infeasible", "unbounded", "inforunbd"):
            self.session.close()
            if status in ("infeasible", "unbounded", "inforunbd"):
                st, msg = scip_status(self.problem, ctx, status), f"SCIP status {status}"
            else:
                st, msg = ctx.stop_status(Status.TIME_LIMIT), "no feasible solution found before the limit"
            return ctx.result(status=st, message=msg, bound=None, stats={"first_solution_status": status})
        f0 = state.value(x0)
        if not ctx.history or abs(ctx.history[-1][1] - f0) > 1e-9 * max(1.0, abs(f0)):
            ctx.record(f0, extra="first", iteration=0, incumbent=lambda: state.solution(x0))
        arms = [op for op in self.cfg.ops if applies(op, state)]
        skipped = [op.name for op in self.cfg.ops if not applies(op, state)]
        self.stats = {"first_solution_status": status, "first_objective": f0,
                      "lp_bound": lp_bound, "operators_skipped": skipped,
                      "operator_counts": {op.name: 0 for op in arms},
                      "operator_rewards": {op.name: 0.0 for op in arms},
                      "operator_outcomes": {op.name: dict.fromkeys(OUTCOMES, 0) for op in arms},
                      "unrewarded_timeouts": 0, "scip_slices": 1 if self.session.main is not None else 0,
                      "switch_time": ctx.elapsed(), "iteration_log": []}
        self.best, self.g_best = x0, self.sense * f0
        self.cur, self.g_cur = x0, self.g_best
        if status == "optimal":
            return self._finish(0, proven=True)
        if not arms:
            return self._finish(0)
        return self._search(arms)

    # ------------------------------------------------------------------ the ALNS loop
    def _search(self, arms: list[Operator]) -> Result:
        ctx, cfg, state, session, stats = self.ctx, self.cfg, self.state, self.session, self.stats
        by_name = {op.name: op for op in arms}
        seed = ctx.seed if ctx.seed is not None else int(ctx.rng.integers(2**31))
        cost_prior = None  # cost-aware only on the clock (without a limit the run must not depend on it)
        if cfg.bandit_cost and ctx.time_limit is not None:
            cost_prior = 0.5 * (float(cfg.sub_time_limit) if cfg.sub_time_limit is not None
                                else max(1.0, 0.05 * ctx.time_limit))
        selector = make_selector(cfg.bandit_backend, [op.name for op in arms], cfg.bandit, cfg.epsilon,
                                 cfg.tau, cfg.scores, seed, cost_prior, cfg.bandit_optimistic)
        accept = ACCEPTANCE[cfg.acceptance](cfg.temperature * max(abs(self.g_best), 1.0))
        state.pool = [self.best]
        # crossover's partner: a random feasible solution, under the sub-MIP cap (set below)
        state.random_solution = lambda: session.random_feasible(sub_cap, seed_offset=iteration + 7919)
        if cfg.sub_time_limit is not None:
            sub_cap: float | None = float(cfg.sub_time_limit)
        elif ctx.time_limit is not None:
            sub_cap = max(1.0, 0.05 * ctx.time_limit)
        else:
            sub_cap = 10.0
        clock = ctx.time_limit is not None
        iteration = 0

        def progress() -> float:  # seconds, or iterations when there is no clock
            return ctx.elapsed() if clock else float(iteration)

        base_patience = cfg.lns_stall if clock else LNS_STALL_ITERATIONS
        self.lns_mark, self.patience = progress(), base_patience
        proven = False
        for k in ctx.iterations(cfg.max_iter):
            ended = self._interleave(progress, base_patience)
            if ended is not None:
                proven = ended
                break
            iteration = k + 1
            op = by_name[selector.select()]
            t_it = ctx.elapsed()
            sub, v = session.copy()
            warm = build(op, state, sub, v, self.cur)
            if ctx.should_stop():  # a Ctrl-C Python saw while the sub-MIP was built
                sub.freeProb()
                iteration = k
                break
            x, sub_status, t_sub = session.repair(sub, v, self.cur, warm, sub_cap, seed_offset=iteration,
                                                  fast=cfg.sub_settings == "fast")
            t_it = ctx.elapsed() - t_it
            outcome = "rejected"
            if x is not None:
                g = self.sense * state.value(x)
                if g < self.g_best - TOL * max(1.0, abs(self.g_best)):
                    outcome = "best"
                elif g < self.g_cur - TOL * max(1.0, abs(self.g_cur)):
                    outcome = "better"
                elif accept(ctx.rng, self.g_cur, g, self._progress()) and np.any(np.abs(x - self.cur) > TOL):
                    outcome = "accepted"
                if outcome != "rejected":
                    self.cur, self.g_cur = x, g
                    state.remember(x)
                if outcome == "best":
                    self.best, self.g_best = x, g
                    ctx.record(self.sense * g, extra=op.name, iteration=iteration,
                               incumbent=lambda x=x: state.solution(x))
                    self.lns_mark = progress()
                    session.share(x)
            stats["iteration_log"].append((round(ctx.elapsed(), 3), op.name, outcome,
                                           round(t_sub, 3), sub_status))
            stats["operator_counts"][op.name] += 1
            stats["operator_outcomes"][op.name][outcome] += 1
            if sub_status == "timelimit" and ctx.time_up() and outcome == "rejected":
                stats["unrewarded_timeouts"] += 1  # cut by the global deadline: no reward
                continue
            r = reward(cfg.scores, outcome)
            stats["operator_rewards"][op.name] += r
            selector.update(op.name, r, t_it)
        return self._finish(iteration, proven)

    def _interleave(self, progress: Any, base_patience: float) -> bool | None:
        """Before an LNS iteration: True when the bound proves the best optimal (or the main
        SCIP search finished with a proof); while the LNS stalls, the time goes back to the
        resumed SCIP search (a slice that finds nothing doubles the patience before the next);
        False when a stop fired during a slice; None: go on with the LNS."""
        ctx, session = self.ctx, self.session
        while True:
            if self.bound is not None and self._gap(self.g_best, self.bound) <= 1e-9:
                return True
            if not (session.main_open and progress() - self.lns_mark >= self.patience):
                return None
            x_main, main_status = session.resume(self.cfg.scip_stall)
            self.stats["scip_slices"] += 1
            self.lns_mark = progress()
            self.bound = session.main_bound(self.bound)
            g_main = math.inf if x_main is None else self.sense * self.state.value(x_main)
            self.patience *= 2.0
            if g_main < self.g_best - TOL * max(1.0, abs(self.g_best)):
                self.patience = base_patience
                self.best, self.g_best = x_main, g_main
                self.cur, self.g_cur = x_main, g_main
                self.state.remember(x_main)
            if main_status == "optimal":
                return True
            if ctx.should_stop():
                return False

    def _progress(self) -> float:
        """How far the search has come, for simulated annealing's cooling."""
        ctx = self.ctx
        if ctx.time_limit is not None:
            return min(1.0, ctx.elapsed() / ctx.time_limit)
        return min(1.0, len(self.state.pool) / 50)

    def _gap(self, g_best: float, bound: float) -> float:
        return (g_best - self.sense * bound) / max(1.0, abs(g_best))

    def _finish(self, iterations: int, proven: bool = False) -> Result:
        """The result: the best solution, the bound (SCIP's, tightened) and, when the bound
        closes the gap, the optimality proof; otherwise the status follows the stop reason."""
        f = self.sense * self.g_best
        bound = self.session.main_bound(self.bound)
        if bound is not None and not proven and self._gap(self.g_best, bound) <= 1e-9:
            proven = True
        if proven:
            bound = f if bound is None else bound
        result = self.ctx.result(solution=self.state.solution(self.best), objective=f, bound=bound,
                                 status=Status.OPTIMAL if proven else None, iterations=iterations,
                                 stats=self.stats)
        self.session.close()  # last: until here a salvaged incumbent may still read SCIP's models
        return result
