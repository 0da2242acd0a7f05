"""Balans: bandit-driven adaptive large-neighbourhood search over SCIP (Cai, Kadioglu, Dilkina 2024).

Algorithm (paper Alg. 1, design §4):

1. LP relaxation once (x_lp, the fractional set), then a first feasible solution from SCIP: its
   root node with the root heuristics (a share of the limit), else feasibility emphasis until the
   first solution; both count against the wall-clock limit.
2. Loop: a multi-armed bandit (ε-greedy, softmax, Thompson sampling; built in, or ``mabwiser``
   with ``bandit_backend="mabwiser"``) picks a destroy
   operator (an arm = operator x destroy rate); the sub-MIP (a copy of the model with bound changes,
   an extra constraint or another objective) is repaired by SCIP, warm-started with the current
   solution and capped by the remaining time; the candidate is accepted by hill climbing or
   simulated annealing; the outcome (new best / better / accepted / rejected) is the reward.
   Iterations cut short by the global deadline are not rewarded.

Operators that do not apply to the model (no binaries, no general integers, no LP solution) are
left out automatically.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyscipopt import SCIP_EVENTTYPE, Eventhdlr

from problems import MIP

from ..context import SolveContext
from ..result import Result, Status
from .scip import STATUS_MAP, _IncumbentRecorder, _infeasible_or_unbounded, set_common_params

# Paper portfolio (design §4): Crossover, Mutation 25/50/75, LB 10/25/50, Proximity 5/15/30 %,
# RENS 25/50/75, RINS 25/50/75.
PAPER_PORTFOLIO = (
    "crossover", "mutation_25", "mutation_50", "mutation_75", "local_branching_10",
    "local_branching_25", "local_branching_50", "proximity_5", "proximity_15", "proximity_30",
    "rens_25", "rens_50", "rens_75", "rins_25", "rins_50", "rins_75",
)
EXTRA_OPERATORS = ("dins_25", "dins_50", "dins_75", "random_objective_25", "random_objective_50",
                   "random_objective_75")
ALL_OPERATORS = PAPER_PORTFOLIO + EXTRA_OPERATORS
OPERATOR_KINDS = ("mutation", "rins", "rens", "crossover", "dins", "local_branching", "proximity",
                  "random_objective")
BANDITS = ("epsilon_greedy", "softmax", "thompson")
ACCEPTANCE = ("hill_climbing", "simulated_annealing")
# Reward of each outcome (paper §3: new best > better than current > accepted > rejected).
OUTCOMES = ("best", "better", "accepted", "rejected")
DEFAULT_SCORES = (8.0, 4.0, 2.0, 1.0)
_TOL = 1e-6
# Without a time limit the hand-overs must not depend on the clock (same seed, same run): SCIP
# hands over after this many nodes without a new best, the LNS after LNS_STALL_ITERATIONS
# iterations without one (doubled after a fruitless SCIP slice).
SCIP_STALL_NODES = 500
LNS_STALL_ITERATIONS = 5.0


@dataclass
class _Operator:
    name: str
    kind: str
    rate: float  # destroy rate in [0, 1] (proximity: relative improvement demanded)


def parse_operators(spec: str | list[str] | tuple[str, ...]) -> list[_Operator]:
    """``"paper"``, ``"all"`` or a list of ``kind_rate`` names (rate in %, crossover without)."""
    if isinstance(spec, str):
        if spec == "paper":
            names: tuple[str, ...] | list[str] = PAPER_PORTFOLIO
        elif spec == "all":
            names = ALL_OPERATORS
        else:
            raise ValueError(f"operators must be 'paper', 'all' or a list of names, got {spec!r}")
    else:
        names = list(spec)
    if not names:
        raise ValueError("operators must name at least one operator")
    ops = []
    for name in names:
        if not isinstance(name, str):
            raise ValueError(f"operator names are strings like 'mutation_25', got {name!r}")
        kind, _, rate = name.rpartition("_")
        if name == "crossover":
            kind, rate = "crossover", "50"
        if kind not in OPERATOR_KINDS or not rate.isdigit() or not 0 < int(rate) <= 100:
            raise ValueError(f"unknown operator {name!r}: use one of {OPERATOR_KINDS} with a rate "
                             "in percent, e.g. 'rins_50', or 'crossover'")
        ops.append(_Operator(name, kind, int(rate) / 100.0))
    return ops


# Events at which the hand-over is checked: rows added by the separators fire inside the root
# cut loop, where SCIP can spend the whole limit without solving a node.
_MAIN_EVENTS = (SCIP_EVENTTYPE.FIRSTLPSOLVED, SCIP_EVENTTYPE.LPSOLVED, SCIP_EVENTTYPE.NODESOLVED,
                SCIP_EVENTTYPE.BESTSOLFOUND, SCIP_EVENTTYPE.ROWADDEDSEPA, SCIP_EVENTTYPE.PRESOLVEROUND)


class _MainController(Eventhdlr):
    """Watches the main SCIP run: keeps its root LP solution (for RINS/RENS/DINS) and interrupts
    it when its incumbent stalls (no new best for ``stall`` seconds of this slice; ``root_stall``
    while the root node is not solved yet, so SCIP's heuristics at the end of the root get
    their turn)."""

    def __init__(self, ctx: SolveContext, variables: list[Any]):
        super().__init__()
        self.ctx, self.vars = ctx, variables
        self.lp: np.ndarray | None = None
        self.stall = math.inf
        self.root_stall = 0.0
        self.root_done = False
        self.slice_start = 0.0
        self.last_best = 0.0
        self.last_best_nodes = 0
        self.fired = False

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


class _NativeBandit:
    """The arm selector without ``mabwiser`` (whose import pulls in scikit-learn: 2-4 s, a large
    share of a short limit). Same policies and prior as :class:`_Bandit`: ε-greedy and softmax on
    the mean reward per arm, Thompson sampling on Beta posteriors of "improved or not".

    ``cost_prior`` (seconds, or None) makes it cost-aware: each arm's score (Thompson draw or mean
    reward) is divided by the arm's mean iteration time relative to the arms' average (one prior
    observation of ``cost_prior`` seconds per arm), so the bandit maximises reward per second of
    the wall-clock budget rather than per iteration (cf. the effort term in the rewards of
    Hendel's ALNS heuristic in SCIP, 2022): a neighbourhood that burns its whole sub-MIP limit
    without improving loses to one that improves as often in a tenth of the time."""

    def __init__(self, arms: list[str], policy: str, epsilon: float, tau: float, scores: tuple,
                 seed: int, cost_prior: float | None = None):
        self.arms, self.policy = list(arms), policy
        self.epsilon, self.tau, self.threshold = epsilon, tau, scores[1]
        self.rng = np.random.default_rng(seed)
        prior = scores[1] if policy == "thompson" else scores[2]
        self.sums = np.zeros(len(self.arms))
        self.counts = np.zeros(len(self.arms))
        self.success = np.zeros(len(self.arms))
        self.cost_prior = cost_prior
        self.seconds = np.full(len(self.arms), cost_prior if cost_prior is not None else 1.0)
        self.timed = np.ones(len(self.arms))
        self.index = {a: k for k, a in enumerate(self.arms)}
        for arm in self.arms:
            self.update(arm, prior)

    def _per_cost(self, score: np.ndarray) -> np.ndarray:
        if self.cost_prior is None:
            return score
        cost = np.maximum(self.seconds / self.timed, 1e-3)
        return score * (cost.mean() / cost)

    def select(self) -> str:
        if self.policy == "thompson":
            draws = self.rng.beta(self.success + 1.0, self.counts - self.success + 1.0)
            return self.arms[int(np.argmax(self._per_cost(draws)))]
        means = self._per_cost(self.sums / np.maximum(self.counts, 1.0))
        if self.policy == "epsilon_greedy":
            if self.rng.random() < self.epsilon:
                return self.arms[int(self.rng.integers(len(self.arms)))]
            best = np.flatnonzero(means >= means.max() - 1e-12)
            return self.arms[int(self.rng.choice(best))]
        z = (means - means.max()) / self.tau
        prob = np.exp(z) / np.exp(z).sum()
        return self.arms[int(self.rng.choice(len(self.arms), p=prob))]

    def update(self, arm: str, reward: float, seconds: float | None = None) -> None:
        k = self.index[arm]
        self.sums[k] += reward
        self.counts[k] += 1.0
        self.success[k] += float(reward >= self.threshold)
        if seconds is not None:
            self.seconds[k] += seconds
            self.timed[k] += 1.0


class _Bandit:
    """The arm selector: a ``mabwiser`` MAB with one optimistic prior observation per arm."""

    def __init__(self, arms: list[str], policy: str, epsilon: float, tau: float, scores: tuple,
                 seed: int):
        from mabwiser.mab import MAB, LearningPolicy

        if policy == "epsilon_greedy":
            lp = LearningPolicy.EpsilonGreedy(epsilon=epsilon)
        elif policy == "softmax":
            lp = LearningPolicy.Softmax(tau=tau)
        else:
            threshold = scores[1]  # Thompson sampling on a Bernoulli reward: improved or not
            lp = LearningPolicy.ThompsonSampling(binarizer=lambda arm, reward: reward >= threshold)
        self.mab = MAB(list(arms), lp, seed=int(seed))
        prior = scores[1] if policy == "thompson" else scores[2]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.mab.fit(list(arms), [prior] * len(arms))

    def select(self) -> str:
        return str(self.mab.predict())

    def update(self, arm: str, reward: float, seconds: float | None = None) -> None:
        self.mab.partial_fit([arm], [reward])


def solve_balans(problem: MIP, ctx: SolveContext, operators: Any = "paper",
                 bandit: str = "thompson", acceptance: str = "hill_climbing", epsilon: float = 0.15,
                 tau: float = 2.0, scores: Any = DEFAULT_SCORES, sub_time_limit: float | None = None,
                 sub_settings: str = "fast",
                 lp_time_fraction: float = 0.2, first_solution: str = "scip",
                 root_time_fraction: float = 0.1,
                 temperature: float = 0.05,
                 max_iterations: int | None = None, threads: int = 1,
                 scip_stall: float | None = None, lns_stall: float | None = None,
                 root_stall: float | None = None,
                 bandit_backend: str = "native", bandit_cost: bool = True) -> Result:
    """Balans (paper Alg. 1): LP, first solution, then bandit-selected LNS iterations over SCIP.

    ``first_solution="scip"`` (default) starts with plain SCIP on the whole model (full presolve,
    root cuts and heuristics) and hands over to the LNS loop when SCIP's incumbent has not improved
    for ``scip_stall`` seconds (default max(0.5, 5 % of the limit)); the LNS loop gives the time back
    to the same (resumed) SCIP search when it has found no new best for ``lns_stall`` seconds
    (default max(1, 10 % of the limit), doubled after every SCIP slice that finds nothing). The
    two share incumbents, SCIP's root LP solution serves RINS/RENS/DINS and SCIP's dual bound is
    the bound. ``"root"`` / ``"feasibility"`` are the paper's
    start (separate LP relaxation, then a first solution) without interleaving.

    ``root_stall`` (seconds, default max(``scip_stall``, 15 % of the limit)) is the stall allowed
    while SCIP's root node is still open: its heuristics at the end of the root often find the
    big improvements (measured: combinatorial auction and facility location at 1.3-5 s, which an
    earlier hand-over cut off).

    ``bandit_cost=True`` (default; native bandits, with a time limit) divides each arm's score by its mean
    iteration time: the bandit maximises improvements per second, not per iteration.
    """
    ops = parse_operators(operators)
    if bandit not in BANDITS:
        raise ValueError(f"bandit must be one of {BANDITS}, got {bandit!r}")
    if acceptance not in ACCEPTANCE:
        raise ValueError(f"acceptance must be one of {ACCEPTANCE}, got {acceptance!r}")
    if not 0.0 <= float(epsilon) <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
    if not float(tau) > 0:
        raise ValueError(f"tau must be positive, got {tau!r}")
    scores = tuple(float(s) for s in scores)
    if len(scores) != 4 or not all(math.isfinite(s) for s in scores):
        raise ValueError(f"scores must be 4 finite numbers (best, better, accepted, rejected), got {scores}")
    if sub_time_limit is not None and not float(sub_time_limit) > 0:
        raise ValueError(f"sub_time_limit must be positive seconds, got {sub_time_limit!r}")
    if not 0.0 < float(lp_time_fraction) <= 1.0:
        raise ValueError(f"lp_time_fraction must be in (0, 1], got {lp_time_fraction!r}")
    if sub_settings not in ("fast", "default"):
        raise ValueError(f"sub_settings must be 'fast' or 'default', got {sub_settings!r}")
    if first_solution not in ("scip", "root", "feasibility"):
        raise ValueError(f"first_solution must be 'scip', 'root' or 'feasibility', got {first_solution!r}")
    if bandit_backend not in ("native", "mabwiser"):
        raise ValueError(f"bandit_backend must be 'native' or 'mabwiser', got {bandit_backend!r}")
    if not isinstance(bandit_cost, (bool, np.bool_)):
        raise ValueError(f"bandit_cost must be True or False, got {bandit_cost!r}")
    for key, value in (("scip_stall", scip_stall), ("lns_stall", lns_stall), ("root_stall", root_stall)):
        if value is not None and not (isinstance(value, (int, float)) and float(value) > 0):
            raise ValueError(f"{key} must be positive seconds, got {value!r}")
    if not 0.0 < float(root_time_fraction) <= 1.0:
        raise ValueError(f"root_time_fraction must be in (0, 1], got {root_time_fraction!r}")
    if not float(temperature) >= 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    if max_iterations is not None and (not isinstance(max_iterations, int) or max_iterations < 0):
        raise ValueError(f"max_iterations must be a non-negative integer, got {max_iterations!r}")
    run = _Balans(problem, ctx, ops, bandit, acceptance, float(epsilon), float(tau), scores,
                  sub_time_limit, float(lp_time_fraction), first_solution, float(root_time_fraction),
                  float(temperature), max_iterations, int(threads))
    run.sub_settings = sub_settings
    run.bandit_backend = bandit_backend
    run.bandit_cost = bool(bandit_cost)
    limit = ctx.time_limit
    run.scip_stall = float(scip_stall) if scip_stall is not None else (
        max(0.5, 0.05 * limit) if limit is not None else 2.0)
    run.lns_stall = float(lns_stall) if lns_stall is not None else (
        max(1.0, 0.1 * limit) if limit is not None else 5.0)
    run.root_stall = float(root_stall) if root_stall is not None else (
        max(run.scip_stall, 0.15 * limit) if limit is not None else run.scip_stall)
    return run.run()


class _Balans:
    def __init__(self, problem: MIP, ctx: SolveContext, ops: list[_Operator], bandit: str,
                 acceptance: str, epsilon: float, tau: float, scores: tuple, sub_time_limit: float | None,
                 lp_time_fraction: float, first_solution: str, root_time_fraction: float,
                 temperature: float,
                 max_iterations: int | None, threads: int):
        self.problem, self.ctx, self.d = problem, ctx, problem.data
        self.ops_requested = ops
        self.bandit_name, self.acceptance = bandit, acceptance
        self.epsilon, self.tau, self.scores = epsilon, tau, scores
        self.sub_time_limit, self.lp_time_fraction = sub_time_limit, lp_time_fraction
        self.temperature, self.threads = temperature, threads
        self.root_time_fraction, self.first_solution = root_time_fraction, first_solution
        self.sub_settings = "fast"
        if max_iterations is None and ctx.time_limit is None:
            max_iterations = 200  # without a time limit the search needs some end
        self.max_iterations = max_iterations
        self.sense = -1.0 if self.d.maximize else 1.0  # internal value g = sense * f (minimized)
        self.discrete = np.flatnonzero(self.d.vtypes != "C")
        self.binaries = np.flatnonzero(self.d.vtypes == "B")
        self.integers = np.flatnonzero(self.d.vtypes == "I")
        self.rng = ctx.rng
        self.stats: dict[str, Any] = {}
        self.base: Any = None  # the original model, source of every sub-MIP copy
        self.main: Any = None  # the plain SCIP run (first_solution="scip")
        self.controller: _MainController | None = None
        self.scip_stall, self.lns_stall = 2.0, 5.0
        self.bandit_backend = "native"
        self.bandit_cost = False
        self.root_stall = 0.0

    # ------------------------------------------------------------------ helpers
    def _params(self, model: Any, cap: float | None, seed_offset: int = 0) -> None:
        remaining = self.ctx.remaining()
        limit = remaining if cap is None else min(remaining, cap)
        if math.isfinite(limit):
            model.setParam("limits/time", max(limit, 0.01))
        if self.ctx.seed is not None:
            model.setParam("randomization/randomseedshift", (int(self.ctx.seed) + seed_offset) % 2**31)
        model.setParam("parallel/maxnthreads", self.threads)

    def _copy(self) -> tuple[Any, list[Any]]:
        from pyscipopt import Model

        if self.base is None:  # built on first use: a run SCIP finishes alone never pays for it
            self.base = self.problem.create_model()
            index = {var.name: k for k, var in enumerate(self.base.getVars())}
            self.perm = [index[n] for n in self.d.names]
        sub = Model(sourceModel=self.base, origcopy=True)
        sub.hideOutput()
        variables = sub.getVars()
        return sub, [variables[k] for k in self.perm]

    def _vector(self, model: Any, variables: list[Any], sol: Any) -> np.ndarray:
        x = np.array([model.getSolVal(sol, v) for v in variables], dtype=np.float64)
        x[self.discrete] = np.round(x[self.discrete])
        return x

    def _value(self, x: np.ndarray) -> float:
        return float(self.d.c @ x + self.d.offset)

    def _solution(self, x: np.ndarray) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.d.names, x)}

    # ------------------------------------------------------------------ phases
    def _lp_relaxation(self) -> tuple[np.ndarray | None, float | None]:
        """Solve the LP relaxation once (all variables continuous) under a share of the time."""
        sub, variables = self._copy()
        for v in variables:
            if v.vtype() != "CONTINUOUS":
                sub.chgVarType(v, "C")
        cap = None if self.ctx.time_limit is None else self.lp_time_fraction * self.ctx.time_limit
        self._params(sub, cap)
        sub.optimize()
        if sub.getStatus() != "optimal" or sub.getNSols() == 0:
            return None, None
        best = sub.getBestSol()
        x = np.array([sub.getSolVal(best, v) for v in variables], dtype=np.float64)
        return x, float(sub.getObjVal())

    def _first_solution(self) -> tuple[str, np.ndarray | None, float | None]:
        """``first_solution="root"``: SCIP's root node (default settings, its root heuristics)
        under ``root_time_fraction`` of the limit; without a solution there (or with
        ``"feasibility"``, the paper's start) SCIP runs with feasibility emphasis until the first
        solution (or a final status)."""
        from pyscipopt import SCIP_PARAMEMPHASIS

        sub, variables = self._copy()
        sub.includeEventhdlr(_IncumbentRecorder(self.ctx), "optbox-history", "records incumbents")
        status = "unknown"
        if self.first_solution == "root":
            cap = None if self.ctx.time_limit is None else self.root_time_fraction * self.ctx.time_limit
            self._params(sub, cap)
            sub.setParam("limits/nodes", 1)
            sub.optimize()
            status = sub.getStatus()
        if sub.getNSols() == 0 and status in ("nodelimit", "timelimit", "unknown") \
                and not self.ctx.should_stop():
            if status != "unknown":
                sub.freeTransform()
            sub.setEmphasis(SCIP_PARAMEMPHASIS.FEASIBILITY)
            self._params(sub, None)
            sub.setParam("limits/nodes", -1)
            sub.setParam("limits/solutions", 1)
            sub.optimize()
            status = sub.getStatus()
        x = self._vector(sub, variables, sub.getBestSol()) if sub.getNSols() else None
        bound = float(sub.getDualbound()) if sub.getNSols() else None
        return status, x, bound

    def _start_scip(self) -> tuple[str, np.ndarray | None, float | None]:
        """Plain SCIP on the whole model (same settings as ``method="scip"``) until its incumbent
        stalls for ``scip_stall`` seconds, it finishes, or the limit; the run is kept for resuming."""
        main = self.problem.create_model()
        index = {var.name: var for var in main.getVars()}
        self.main_vars = [index[n] for n in self.d.names]
        set_common_params(main, self.ctx, self.threads)
        main.setParam("limits/gap", 0.0)
        main.includeEventhdlr(_IncumbentRecorder(self.ctx), "optbox-history", "records incumbents")
        self.controller = _MainController(self.ctx, self.main_vars)
        self.controller.root_stall = self.root_stall
        main.includeEventhdlr(self.controller, "optbox-balans-switch", "hands over to the LNS")
        self.main, self.main_open = main, True
        x, status = self._scip_slice(first=True)
        if status in ("optimal", "infeasible", "unbounded", "inforunbd"):
            self.main_open = False
        bound = float(main.getDualbound()) if main.getNSols() or status == "optimal" else None
        return status, x, bound

    def _scip_slice(self, first: bool = False) -> tuple[np.ndarray | None, str]:
        """Run (or resume) the main SCIP search until its incumbent stalls or the deadline."""
        main, ctx = self.main, self.ctx
        if math.isfinite(ctx.remaining()):
            used = 0.0 if first else float(main.getSolvingTime())
            main.setParam("limits/time", used + max(ctx.remaining(), 0.01))
        if ctx.time_limit is None:  # no clock: hand over after SCIP_STALL_NODES nodes without a new best
            since = 0 if first else int(main.getNNodes()) - self.controller.last_best_nodes
            main.setParam("limits/stallnodes", max(since, 0) + SCIP_STALL_NODES)
            self.controller.start_slice(math.inf)
        else:
            self.controller.start_slice(self.scip_stall)
        main.optimize()
        status = main.getStatus()
        if status == "userinterrupt" and not self.controller.fired:
            ctx.interrupted = True  # Ctrl-C or a callback, not our hand-over
        if status not in ("userinterrupt", "timelimit", "nodelimit", "stallnodelimit"):
            self.main_open = False
        x = self._vector(main, self.main_vars, main.getBestSol()) if main.getNSols() else None
        return x, status

    def _share(self, x: np.ndarray) -> None:
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

    def _main_bound(self, bound: float | None) -> float | None:
        """SCIP's global dual bound, tightened with the one known so far."""
        b = float(self.main.getDualbound())
        if not math.isfinite(b):
            return bound
        if bound is None:
            return b
        return min(b, bound) if self.d.maximize else max(b, bound)

    # ------------------------------------------------------------------ operators
    def _n_free(self, rate: float) -> int:
        return max(1, int(round(rate * len(self.discrete))))

    def _pick(self, preferred: np.ndarray, others: np.ndarray, n: int) -> np.ndarray:
        """``n`` indices: preferred ones first (random subset if too many), then random others."""
        preferred = self.rng.permutation(preferred)
        if len(preferred) >= n:
            return preferred[:n]
        return np.concatenate([preferred, self.rng.permutation(others)[: n - len(preferred)]])

    def _applicable(self, op: _Operator) -> bool:
        if op.kind in ("local_branching", "proximity"):
            return len(self.binaries) > 0
        if op.kind == "dins":
            return len(self.integers) > 0 and self.x_lp is not None
        if op.kind in ("rins", "rens"):
            return self.x_lp is not None and len(self.discrete) > 0
        return len(self.discrete) > 0

    def _build(self, op: _Operator, cur: np.ndarray) -> tuple[Any, list[Any], bool]:
        """The sub-MIP of operator ``op`` around ``cur``; returns (model, vars, warm start ok)."""
        from pyscipopt import quicksum

        sub, v = self._copy()
        d, disc = self.d, self.discrete
        fix = np.zeros(len(cur), dtype=bool)  # discrete variables fixed to cur
        warm = True
        if op.kind in ("mutation", "random_objective"):
            free = self.rng.choice(disc, size=min(self._n_free(op.rate), len(disc)), replace=False)
            fix[disc] = True
            fix[free] = False
        elif op.kind == "rins":  # free where incumbent and LP disagree (design §4)
            differ = np.abs(cur[disc] - self.x_lp[disc]) > _TOL
            free = self._pick(disc[differ], disc[~differ], self._n_free(op.rate))
            fix[disc] = True
            fix[free] = False
        elif op.kind == "crossover":
            partner = self._partner(cur)
            if partner is None:  # no second solution yet: a half mutation instead
                free = self.rng.choice(disc, size=max(1, len(disc) // 2), replace=False)
            else:
                free = disc[np.abs(cur[disc] - partner[disc]) > _TOL]
            fix[disc] = True
            fix[free] = False
        elif op.kind == "rens":  # LP-integral discrete vars fixed to x_lp, fractional ones to floor/ceil
            xl = self.x_lp
            frac = np.abs(xl[disc] - np.round(xl[disc])) > _TOL
            integral = disc[~frac]
            keep_free = self.rng.permutation(integral)[: int(round(op.rate * len(integral)))]
            to_fix = np.setdiff1d(integral, keep_free)
            for k in disc[frac]:
                lo, hi = max(d.lb[k], math.floor(xl[k])), min(d.ub[k], math.ceil(xl[k]))
                sub.chgVarLb(v[k], lo)
                sub.chgVarUb(v[k], hi)
            for k in to_fix:
                val = float(np.clip(np.round(xl[k]), d.lb[k], d.ub[k]))
                sub.chgVarLb(v[k], val)
                sub.chgVarUb(v[k], val)
            warm = bool(np.all(np.abs(cur[to_fix] - np.round(xl[to_fix])) <= _TOL))
        elif op.kind == "dins":  # |x - x_lp| <= |x_inc - x_lp| on integers; binaries as RINS
            xl, ints, bins = self.x_lp, self.integers, self.binaries
            radius = np.abs(cur[ints] - xl[ints])
            for k, r in zip(ints, radius):
                sub.chgVarLb(v[k], max(d.lb[k], math.ceil(xl[k] - r - _TOL)))
                sub.chgVarUb(v[k], min(d.ub[k], math.floor(xl[k] + r + _TOL)))
            if len(bins):
                agree = bins[np.abs(cur[bins] - xl[bins]) < 0.5]
                release = self.rng.permutation(agree)[: int(round(op.rate * len(agree)))]
                fix[np.setdiff1d(agree, release)] = True
        elif op.kind == "local_branching":  # Hamming ball of radius k on binaries (Fischetti-Lodi)
            k = max(1, int(round(op.rate * len(self.binaries))))
            sub.addCons(self._hamming(v, cur) <= k, name="optbox_local_branching")
        elif op.kind == "proximity":  # Hamming objective, demand an improvement (Fischetti-Monaci)
            f = self._value(cur)
            step = max(op.rate * abs(f), 1e-4 * max(1.0, abs(f)))
            expr = quicksum(float(d.c[k]) * v[k] for k in np.flatnonzero(d.c)) + float(d.offset)
            if d.maximize:
                sub.addCons(expr >= f + step, name="optbox_proximity")
            else:
                sub.addCons(expr <= f - step, name="optbox_proximity")
            sub.setObjective(self._hamming(v, cur), "minimize")
            warm = False
        for k in np.flatnonzero(fix):
            sub.chgVarLb(v[k], float(cur[k]))
            sub.chgVarUb(v[k], float(cur[k]))
        if op.kind == "random_objective":
            coef = self.rng.uniform(-1.0, 1.0, size=len(disc))
            sub.setObjective(quicksum(float(c) * v[k] for c, k in zip(coef, disc)), "minimize")
        return sub, v, warm

    def _hamming(self, v: list[Any], cur: np.ndarray) -> Any:
        from pyscipopt import quicksum

        bins = self.binaries
        return quicksum(v[k] if cur[k] < 0.5 else 1 - v[k] for k in bins)

    def _partner(self, cur: np.ndarray) -> np.ndarray | None:
        others = [x for x in self.pool if np.any(np.abs(x[self.discrete] - cur[self.discrete]) > _TOL)]
        return None if not others else others[int(self.rng.integers(len(others)))]

    # ------------------------------------------------------------------ main loop
    def run(self) -> Result:
        from pyscipopt import SCIP_PARAMSETTING

        ctx, d = self.ctx, self.d

        try:
            if self.first_solution == "scip":
                status, x0, first_bound = self._start_scip()
                self.x_lp, lp_bound = self.controller.lp, None
                if self.x_lp is None and x0 is not None and status not in ("optimal", "timelimit") \
                        and len(self.discrete) and not ctx.should_stop():
                    self.x_lp, lp_bound = self._lp_relaxation()
            else:
                self.x_lp, lp_bound = self._lp_relaxation() if len(self.discrete) else (None, None)
                status, x0, first_bound = self._first_solution()
        except KeyboardInterrupt:
            return ctx.result(status=Status.INTERRUPTED, message="interrupted before a first solution")
        bounds = [b for b in (lp_bound, first_bound) if b is not None and math.isfinite(b)]
        bound = (min(bounds) if d.maximize else max(bounds)) if bounds else None
        if x0 is None or status in ("infeasible", "unbounded", "inforunbd"):
            st = STATUS_MAP.get(status, Status.TIME_LIMIT)
            if status == "inforunbd":
                st = _infeasible_or_unbounded(self.problem)
            if st in (Status.OPTIMAL, Status.FEASIBLE):
                st = Status.ERROR
            msg = f"SCIP status {status}" if st in (Status.INFEASIBLE, Status.UNBOUNDED) else \
                "no feasible solution found before the limit"
            if status == "userinterrupt":
                st = Status.INTERRUPTED
            return ctx.result(status=st, message=msg, bound=None,
                              stats={"first_solution_status": status})
        f0 = self._value(x0)
        if not ctx.history or abs(ctx.history[-1][1] - f0) > 1e-9 * max(1.0, abs(f0)):
            ctx.record(f0, extra="first", iteration=0)
        arms = [op for op in self.ops_requested if self._applicable(op)]
        skipped = [op.name for op in self.ops_requested if not self._applicable(op)]
        self.stats = {"first_solution_status": status, "first_objective": f0,
                      "lp_bound": lp_bound, "operators_skipped": skipped,
                      "operator_counts": {op.name: 0 for op in arms},
                      "operator_rewards": {op.name: 0.0 for op in arms},
                      "operator_outcomes": {op.name: dict.fromkeys(OUTCOMES, 0) for op in arms},
                      "unrewarded_timeouts": 0, "scip_slices": 1 if self.main is not None else 0,
                      "switch_time": ctx.elapsed(), "iteration_log": []}
        if status == "optimal":
            return self._finish(x0, f0, bound, Status.OPTIMAL, 0, self.stats)
        if not arms:
            return self._finish(x0, f0, bound, ctx.stop_status(Status.FEASIBLE), 0, self.stats)
        by_name = {op.name: op for op in arms}
        seed = ctx.seed if ctx.seed is not None else int(self.rng.integers(2**31))
        names = [op.name for op in arms]
        if self.bandit_backend == "mabwiser":
            selector: Any = _Bandit(names, self.bandit_name, self.epsilon, self.tau, self.scores, seed)
        else:  # cost-aware only on the clock (without a limit the run must not depend on it)
            cost_prior = None
            if self.bandit_cost and ctx.time_limit is not None:
                cost_prior = 0.5 * (float(self.sub_time_limit) if self.sub_time_limit is not None
                                    else max(1.0, 0.05 * ctx.time_limit))
            selector = _NativeBandit(names, self.bandit_name, self.epsilon, self.tau, self.scores,
                                     seed, cost_prior)
        best, g_best = x0, self.sense * f0
        cur, g_cur = x0, g_best
        self.pool = [x0]
        if self.sub_time_limit is not None:
            sub_cap: float | None = float(self.sub_time_limit)
        elif ctx.time_limit is not None:
            sub_cap = max(1.0, 0.05 * ctx.time_limit)
        else:
            sub_cap = 10.0
        t0 = self.temperature * max(abs(g_best), 1.0)
        iteration, final = 0, Status.FEASIBLE
        clock = ctx.time_limit is not None

        def progress() -> float:  # seconds, or iterations when there is no clock
            return ctx.elapsed() if clock else float(iteration)

        base_patience = self.lns_stall if clock else LNS_STALL_ITERATIONS
        lns_mark, patience = progress(), base_patience
        try:
            while not ctx.should_stop() and (self.max_iterations is None or iteration < self.max_iterations):
                if bound is not None and self._gap(g_best, bound) <= 1e-9:
                    final = Status.OPTIMAL
                    break
                if self.main is not None and self.main_open and progress() - lns_mark >= patience:
                    # The LNS stalls: the time goes back to the (resumed) SCIP search. A slice
                    # that finds nothing doubles the LNS patience before the next one (back-off).
                    x_main, main_status = self._scip_slice()
                    self.stats["scip_slices"] += 1
                    lns_mark = progress()
                    bound = self._main_bound(bound)
                    g_main = math.inf if x_main is None else self.sense * self._value(x_main)
                    patience *= 2.0
                    if g_main < g_best - _TOL * max(1.0, abs(g_best)):
                        patience = base_patience
                        best, g_best = x_main, g_main
                        cur, g_cur = best, g_best
                        self.pool = (self.pool + [best])[-10:]
                    if main_status == "optimal":
                        final = Status.OPTIMAL
                        break
                    continue
                iteration += 1
                op = by_name[selector.select()]
                t_it = ctx.elapsed()
                sub, v, warm = self._build(op, cur)
                self._params(sub, sub_cap, seed_offset=iteration)
                if self.sub_settings == "fast":  # LNS sub-MIPs: quick presolve, no cutting planes
                    sub.setPresolve(SCIP_PARAMSETTING.FAST)
                    sub.setSeparating(SCIP_PARAMSETTING.OFF)
                if warm:
                    sol = sub.createSol()
                    for k, var in enumerate(v):
                        sub.setSolVal(sol, var, float(cur[k]))
                    sub.addSol(sol, free=True)
                t_sub = ctx.elapsed()
                sub.optimize()
                t_sub = ctx.elapsed() - t_sub
                sub_status = sub.getStatus()
                x = self._vector(sub, v, sub.getBestSol()) if sub.getNSols() else None
                sub.freeProb()
                t_it = ctx.elapsed() - t_it
                if sub_status == "userinterrupt":
                    ctx.interrupted = True
                outcome = "rejected"
                if x is not None:
                    g = self.sense * self._value(x)
                    if g < g_best - _TOL * max(1.0, abs(g_best)):
                        outcome = "best"
                    elif g < g_cur - _TOL * max(1.0, abs(g_cur)):
                        outcome = "better"
                    elif self._accept(g, g_cur, t0) and np.any(np.abs(x - cur) > _TOL):
                        outcome = "accepted"
                    if outcome != "rejected":
                        cur, g_cur = x, g
                        self.pool = (self.pool + [x])[-10:]
                    if outcome == "best":
                        best, g_best = x, g
                        ctx.record(self.sense * g, extra=op.name, iteration=iteration,
                                   solution=None)
                        lns_mark = progress()
                        self._share(x)
                self.stats["iteration_log"].append((round(ctx.elapsed(), 3), op.name, outcome,
                                                    round(t_sub, 3), sub_status))
                self.stats["operator_counts"][op.name] += 1
                self.stats["operator_outcomes"][op.name][outcome] += 1
                if sub_status == "timelimit" and ctx.time_up() and outcome == "rejected":
                    self.stats["unrewarded_timeouts"] += 1  # cut by the global deadline: no reward
                    continue
                reward = self.scores[OUTCOMES.index(outcome)]
                self.stats["operator_rewards"][op.name] += reward
                selector.update(op.name, reward, t_it)
        except KeyboardInterrupt:
            ctx.interrupted = True
        if final != Status.OPTIMAL:
            final = ctx.stop_status(Status.ITERATION_LIMIT if self.max_iterations is not None
                                    and iteration >= self.max_iterations else Status.FEASIBLE)
        return self._finish(best, self.sense * g_best, bound, final, iteration, self.stats)

    def _gap(self, g_best: float, bound: float) -> float:
        return (g_best - self.sense * bound) / max(1.0, abs(g_best))

    def _accept(self, g: float, g_cur: float, t0: float) -> bool:
        """Hill climbing: never worse. Simulated annealing: exp(-Δ/T), T falling linearly in time."""
        if g <= g_cur + _TOL * max(1.0, abs(g_cur)):
            return True
        if self.acceptance == "hill_climbing" or t0 <= 0:
            return False
        if self.ctx.time_limit is not None:
            frac = min(1.0, self.ctx.elapsed() / self.ctx.time_limit)
        else:
            frac = min(1.0, len(self.pool) / 50)
        temp = t0 * max(1e-3, 1.0 - frac)
        return bool(self.rng.random() < math.exp(-(g - g_cur) / temp))

    def _finish(self, x: np.ndarray, f: float, bound: float | None, status: Status, iterations: int,
                stats: dict[str, Any]) -> Result:
        if self.main is not None:
            bound = self._main_bound(bound)
        if bound is not None and status != Status.OPTIMAL and self._gap(self.sense * f, bound) <= 1e-9:
            status = Status.OPTIMAL
        if status == Status.OPTIMAL:
            bound = f if bound is None else bound
        if self.base is not None:
            self.base.freeProb()
        if self.main is not None:
            self.main.freeProb()
            self.main = None
        return self.ctx.result(solution=self._solution(x), objective=f, bound=bound, status=status,
                               iterations=iterations, stats=stats)
