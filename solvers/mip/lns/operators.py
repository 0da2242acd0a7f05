"""The destroy operators of Balans: each one turns a copy of the model into the sub-MIP around the
current solution (fixed variables, tightened bounds, an extra constraint or another objective),
which SCIP then repairs.

An operator is one function registered in :data:`KINDS` with :func:`operator`: its destroy
rates (the arms it contributes, ``kind_rate`` in percent; proximity's in per mille, as the
paper's package: ``proximity_5`` demands a 0.5 % improvement), whether it is in the paper's
portfolio, and when it applies to a model.

The definitions follow the paper (Cai, Kadioglu, Dilkina, §3 "destroy operators") and its
package (``balans`` on PyPI): with D the discrete variables and cur the current solution,
mutation frees a random rate-share of D; RINS frees a random rate-share of the variables of D
where cur and the LP optimum differ; RENS bounds a random rate-share of the LP-fractional
variables of D to [floor, ceil] of their LP value; crossover frees the variables of D where cur
and a random feasible solution (a random-objective solve) differ; everything else in D is fixed
to cur.  Continuous variables are never fixed (the package fixes them as well, which turns every
sub-MIP of a mixed model into an LP around cur's continuous part).  Nothing else needs to
know about an operator: parsing, the portfolios, the bandit's arms and the applicability filter
all come from the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

TOL = 1e-6


@dataclass(frozen=True)
class Operator:
    """One arm: an operator kind and its destroy rate in [0, 1] (proximity: the relative
    improvement demanded)."""

    name: str
    kind: str
    rate: float


class LNSState:
    """What the operators see: the model's variable classes, the LP solution (None until
    known), the pool of recent solutions, ``random_solution`` (a callable returning a random
    feasible solution or None, set by the loop: crossover's partner) and the run's generator."""

    def __init__(self, data: Any, rng: np.random.Generator):
        self.data, self.rng = data, rng
        self.discrete = np.flatnonzero(data.vtypes != "C")
        self.binaries = np.flatnonzero(data.vtypes == "B")
        self.integers = np.flatnonzero(data.vtypes == "I")
        self.x_lp: np.ndarray | None = None
        self.pool: list[np.ndarray] = []
        self.random_solution: Callable[[], np.ndarray | None] | None = None

    def value(self, x: np.ndarray) -> float:
        """The objective of ``x`` in the model's own sense."""
        return float(self.data.c @ x + self.data.offset)

    def solution(self, x: np.ndarray) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.data.names, x)}

    def remember(self, x: np.ndarray) -> None:
        """Add an accepted solution to the pool (the last ten are kept)."""
        self.pool = (self.pool + [x])[-10:]

    def share(self, indices: np.ndarray, rate: float) -> np.ndarray:
        """A random ``rate``-share of ``indices`` (int(rate * len), at least one of a non-empty
        set), without replacement, ascending."""
        if len(indices) == 0:
            return indices
        n = min(len(indices), max(1, int(rate * len(indices))))
        return np.sort(self.rng.choice(indices, size=n, replace=False))

    def partner(self, cur: np.ndarray) -> np.ndarray | None:
        """Crossover's second solution: a random feasible one (``random_solution``, the
        package's definition) that differs from ``cur`` on the discrete variables; without it,
        a random pool solution that does."""
        disc = self.discrete
        if self.random_solution is not None:
            x = self.random_solution()
            if x is not None and np.any(np.abs(x[disc] - cur[disc]) > TOL):
                return x
        others = [x for x in self.pool if np.any(np.abs(x[disc] - cur[disc]) > TOL)]
        return None if not others else others[int(self.rng.integers(len(others)))]


#: build(state, sub, variables, cur, rate) -> whether cur stays feasible (a valid warm start)
Build = Callable[[LNSState, Any, list[Any], np.ndarray, float], bool]


@dataclass(frozen=True)
class OperatorKind:
    name: str
    build: Build
    applies: Callable[[LNSState], bool]
    rates: tuple[int, ...]  # destroy rates in percent; () for an operator without one
    paper: bool  # in the paper's portfolio (operators="paper")
    doc: str
    unit: float = 100.0  # a rate r in the arm's name means r / unit


#: every operator kind, in portfolio order
KINDS: dict[str, OperatorKind] = {}


def _has_discrete(s: LNSState) -> bool:
    return len(s.discrete) > 0


def _has_binaries(s: LNSState) -> bool:
    return len(s.binaries) > 0


def _has_lp(s: LNSState) -> bool:
    return s.x_lp is not None and len(s.discrete) > 0


def _has_integers_and_lp(s: LNSState) -> bool:
    return len(s.integers) > 0 and s.x_lp is not None


def operator(name: str, rates: Iterable[int], paper: bool,
             applies: Callable[[LNSState], bool] = _has_discrete,
             unit: float = 100.0) -> Callable[[Build], Build]:
    """Register the decorated function as the operator ``name`` (see the module doc)."""

    def register(build: Build) -> Build:
        doc = (build.__doc__ or name).strip().splitlines()[0]
        KINDS[name] = OperatorKind(name, build, applies, tuple(rates), paper, doc, unit)
        return build

    return register


def _fix(sub: Any, v: list[Any], cur: np.ndarray, indices: np.ndarray) -> None:
    """Fix the variables ``indices`` (ascending) to their values in ``cur``."""
    for k in indices:
        sub.chgVarLb(v[k], float(cur[k]))
        sub.chgVarUb(v[k], float(cur[k]))


def _hamming(s: LNSState, v: list[Any], cur: np.ndarray) -> Any:
    from pyscipopt import quicksum

    return quicksum(v[k] if cur[k] < 0.5 else 1 - v[k] for k in s.binaries)


# ---------------------------------------------------------------------- the operators
@operator("crossover", rates=(), paper=True)
def crossover(s: LNSState, sub: Any, v: list[Any], cur: np.ndarray, rate: float) -> bool:
    """Free the discrete variables where cur and a random feasible solution differ (paper §3;
    the package finds it with a random objective, feasibility emphasis, first solution).
    Without one (none found in time, or equal to cur) a half mutation instead of the package's
    no-op iteration."""
    disc = s.discrete
    partner = s.partner(cur)
    if partner is None:
        free = s.rng.choice(disc, size=max(1, len(disc) // 2), replace=False)
    else:
        free = disc[np.abs(cur[disc] - partner[disc]) > TOL]
    _fix(sub, v, cur, np.setdiff1d(disc, free))
    return True


@operator("mutation", rates=(25, 50, 75), paper=True)
def mutation(s: LNSState, sub: Any, v: list[Any], cur: np.ndarray, rate: float) -> bool:
    """Free a random share ``rate`` of the discrete variables, fix the others to cur."""
    disc = s.discrete
    free = s.share(disc, rate)
    _fix(sub, v, cur, np.setdiff1d(disc, free))
    return True


@operator("local_branching", rates=(10, 25, 50), paper=True, applies=_has_binaries)
def local_branching(s: LNSState, sub: Any, v: list[Any], cur: np.ndarray, rate: float) -> bool:
    """Hamming ball of radius ``rate`` x #binaries around cur (Fischetti-Lodi)."""
    k = max(1, int(round(rate * len(s.binaries))))
    sub.addCons(_hamming(s, v, cur) <= k, name="optbox_local_branching")
    return True


@operator("proximity", rates=(5, 15, 30), paper=True, applies=_has_binaries, unit=1000.0)
def proximity(s: LNSState, sub: Any, v: list[Any], cur: np.ndarray, rate: float) -> bool:
    """Hamming objective, demanding a relative improvement ``rate`` (Fischetti-Monaci; the
    paper's proximity_5/15/30 are 0.5/1.5/3 %)."""
    from pyscipopt import quicksum

    d = s.data
    f = s.value(cur)
    step = max(rate * abs(f), 1e-4 * max(1.0, abs(f)))
    expr = quicksum(float(d.c[k]) * v[k] for k in np.flatnonzero(d.c)) + float(d.offset)
    if d.maximize:
        sub.addCons(expr >= f + step, name="optbox_proximity")
    else:
        sub.addCons(expr <= f - step, name="optbox_proximity")
    sub.setObjective(_hamming(s, v, cur), "minimize")
    return False


def lp_fractional(s: LNSState) -> np.ndarray:
    """The discrete variables whose LP value is fractional."""
    xl = s.x_lp[s.discrete]
    return s.discrete[np.abs(xl - np.round(xl)) > TOL]


@operator("rens", rates=(25, 50, 75), paper=True, applies=_has_lp)
def rens(s: LNSState, sub: Any, v: list[Any], cur: np.ndarray, rate: float) -> bool:
    """A random share ``rate`` of the LP-fractional discrete variables bounded to
    [floor, ceil] of x_lp, every other discrete variable fixed to cur (the package's RENS)."""
    d, xl = s.data, s.x_lp
    bounded = s.share(lp_fractional(s), rate)
    for k in bounded:
        sub.chgVarLb(v[k], max(d.lb[k], math.floor(xl[k])))
        sub.chgVarUb(v[k], min(d.ub[k], math.ceil(xl[k])))
    _fix(sub, v, cur, np.setdiff1d(s.discrete, bounded))
    return bool(np.all((cur[bounded] >= np.floor(xl[bounded]) - TOL)
                       & (cur[bounded] <= np.ceil(xl[bounded]) + TOL)))


@operator("rins", rates=(25, 50, 75), paper=True, applies=_has_lp)
def rins(s: LNSState, sub: Any, v: list[Any], cur: np.ndarray, rate: float) -> bool:
    """Free a random share ``rate`` of the discrete variables where cur and the LP solution
    differ, fix every other discrete variable to cur (the package's RINS)."""
    disc = s.discrete
    differ = disc[np.abs(cur[disc] - s.x_lp[disc]) > TOL]
    _fix(sub, v, cur, np.setdiff1d(disc, s.share(differ, rate)))
    return True


@operator("dins", rates=(25, 50, 75), paper=False, applies=_has_integers_and_lp)
def dins(s: LNSState, sub: Any, v: list[Any], cur: np.ndarray, rate: float) -> bool:
    """|x - x_lp| <= |cur - x_lp| on general integers; binaries as RINS."""
    d, xl, ints, bins = s.data, s.x_lp, s.integers, s.binaries
    radius = np.abs(cur[ints] - xl[ints])
    for k, r in zip(ints, radius):
        sub.chgVarLb(v[k], max(d.lb[k], math.ceil(xl[k] - r - TOL)))
        sub.chgVarUb(v[k], min(d.ub[k], math.floor(xl[k] + r + TOL)))
    if len(bins):
        agree = bins[np.abs(cur[bins] - xl[bins]) < 0.5]
        release = s.rng.permutation(agree)[: int(round(rate * len(agree)))]
        _fix(sub, v, cur, np.setdiff1d(agree, release))
    return True


@operator("random_objective", rates=(25, 50, 75), paper=False)
def random_objective(s: LNSState, sub: Any, v: list[Any], cur: np.ndarray, rate: float) -> bool:
    """A mutation whose sub-MIP minimizes a random objective over the discrete variables."""
    from pyscipopt import quicksum

    mutation(s, sub, v, cur, rate)
    disc = s.discrete
    coef = s.rng.uniform(-1.0, 1.0, size=len(disc))
    sub.setObjective(quicksum(float(c) * v[k] for c, k in zip(coef, disc)), "minimize")
    return True


# ---------------------------------------------------------------------- portfolios
def _names(kinds: Iterable[OperatorKind]) -> tuple[str, ...]:
    return tuple(n for k in kinds for n in ((k.name,) if not k.rates else
                                               (f"{k.name}_{r}" for r in k.rates)))


# Paper portfolio (design §4): Crossover, Mutation 25/50/75, LB 10/25/50, Proximity 5/15/30 ‰,
# RENS 25/50/75, RINS 25/50/75.
PAPER_PORTFOLIO = _names(k for k in KINDS.values() if k.paper)
EXTRA_OPERATORS = _names(k for k in KINDS.values() if not k.paper)
ALL_OPERATORS = PAPER_PORTFOLIO + EXTRA_OPERATORS


def parse_operators(spec: str | list[str] | tuple[str, ...]) -> list[Operator]:
    """``"paper"``, ``"all"`` or a list of ``kind_rate`` names (rate in %, proximity's in ‰,
    crossover without)."""
    if isinstance(spec, str):
        if spec == "paper":
            names: tuple[str, ...] | list[str] = PAPER_PORTFOLIO
        elif spec == "all":
            names = ALL_OPERATORS
        else:
            raise ValueError(f"operators must be 'paper', 'all' or a list of names, got {spec!r}")
    else:
        try:
            names = list(spec)
        except TypeError:
            raise ValueError(f"operators must be 'paper', 'all' or a list of names, got {spec!r}") from None
    if not names:
        raise ValueError("operators must name at least one operator")
    ops = []
    for name in names:
        if not isinstance(name, str):
            raise ValueError(f"operator names are strings like 'mutation_25', got {name!r}")
        kind, _, rate = name.rpartition("_")
        if name in KINDS and not KINDS[name].rates:
            kind, rate = name, "50"
        if kind not in KINDS or not rate.isdigit() or not 0 < int(rate) <= KINDS[kind].unit:
            raise ValueError(f"unknown operator {name!r}: use one of {tuple(KINDS)} with a rate "
                             "in percent (proximity: per mille), e.g. 'rins_50', or 'crossover'")
        ops.append(Operator(name, kind, int(rate) / KINDS[kind].unit))
    return ops


def check_operators(spec: Any) -> None:
    """The ``operators`` option's check (raises ``ValueError`` naming the bad operator)."""
    parse_operators(spec)


def applies(op: Operator, state: LNSState) -> bool:
    """Whether ``op`` can build a sub-MIP for this model (binaries, integers, LP solution)."""
    return KINDS[op.kind].applies(state)


def build(op: Operator, state: LNSState, sub: Any, variables: list[Any], cur: np.ndarray) -> bool:
    """Turn ``sub`` (a fresh copy of the model) into ``op``'s sub-MIP around ``cur``; True when
    ``cur`` is feasible in it (a valid warm start)."""
    return KINDS[op.kind].build(state, sub, variables, cur, op.rate)
