"""Balans destroy operators against their definitions (the paper's package, issue 27), and the
bandit: it tries every arm early and learns which arm pays."""

from __future__ import annotations

import numpy as np
import pytest
from pyscipopt import Model, quicksum

from problems import MIP
from solvers.mip.lns.operators import LNSState, build, parse_operators
from solvers.mip.lns.select import DEFAULT_SCORES, NativeBandit


def _model() -> MIP:
    """20 binaries, 10 general integers in [0, 9], 5 continuous; minimization."""
    rng = np.random.default_rng(0)
    m = Model("ops")
    y = [m.addVar(f"y{j}", vtype="B", obj=float(rng.integers(5, 30))) for j in range(20)]
    z = [m.addVar(f"z{j}", vtype="I", lb=0, ub=9, obj=float(rng.integers(1, 6))) for j in range(10)]
    u = [m.addVar(f"u{j}", vtype="C", lb=0, ub=5, obj=1.0) for j in range(5)]
    m.addCons(quicksum(y) + quicksum(z) + quicksum(u) >= 12)
    return MIP.from_model(m)


@pytest.fixture()
def setup():
    from solvers.context import SolveContext
    from solvers.mip.lns.scip_session import ScipSession

    problem = _model()
    ctx = SolveContext(None, None, 0)
    state = LNSState(problem.data, np.random.default_rng(1))
    session = ScipSession(problem, ctx, threads=1)
    d = problem.data
    cur = np.where(d.vtypes == "C", 1.0, 0.0)
    cur[state.binaries[:10]] = 1.0
    cur[state.integers] = 3.0
    x_lp = cur.copy()  # the LP agrees with cur on 20 discrete variables, differs on 10
    x_lp[state.binaries[:6]] = 0.5  # fractional, differs
    x_lp[state.integers[:4]] = 4.25  # fractional, differs
    state.x_lp = x_lp
    yield state, session, cur
    session.close()


def _bounds(sub, variables):
    return (np.array([v.getLbOriginal() for v in variables]),
            np.array([v.getUbOriginal() for v in variables]))


def _sub(op_name, state, session, cur):
    op = parse_operators([op_name])[0]
    sub, v = session.copy()
    build(op, state, sub, v, cur)
    lb, ub = _bounds(sub, v)
    return op, sub, lb, ub


def _fixed_to_cur(lb, ub, cur, idx):
    return bool(np.all(lb[idx] == cur[idx]) and np.all(ub[idx] == cur[idx]))


def test_mutation_frees_its_share_of_the_discrete_variables(setup) -> None:
    state, session, cur = setup
    d = state.data
    _, sub, lb, ub = _sub("mutation_25", state, session, cur)
    disc = state.discrete
    free = disc[(lb[disc] == d.lb[disc]) & (ub[disc] == d.ub[disc])]
    assert len(free) == int(0.25 * len(disc))
    assert _fixed_to_cur(lb, ub, cur, np.setdiff1d(disc, free))
    cont = np.flatnonzero(d.vtypes == "C")
    assert np.all(lb[cont] == d.lb[cont]) and np.all(ub[cont] == d.ub[cont])  # never fixed
    sub.freeProb()


def test_rins_frees_a_share_of_where_cur_and_the_lp_differ(setup) -> None:
    state, session, cur = setup
    d, disc = state.data, state.discrete
    differ = disc[np.abs(cur[disc] - state.x_lp[disc]) > 1e-6]
    assert len(differ) == 10
    _, sub, lb, ub = _sub("rins_50", state, session, cur)
    free = disc[(lb[disc] == d.lb[disc]) & (ub[disc] == d.ub[disc])]
    assert len(free) == 5 and set(free) <= set(differ)
    assert _fixed_to_cur(lb, ub, cur, np.setdiff1d(disc, free))  # the agreeing ones too
    sub.freeProb()


def test_rens_bounds_a_share_of_the_lp_fractional_to_floor_ceil(setup) -> None:
    state, session, cur = setup
    disc, xl = state.discrete, state.x_lp
    frac = disc[np.abs(xl[disc] - np.round(xl[disc])) > 1e-6]
    _, sub, lb, ub = _sub("rens_50", state, session, cur)
    fixed = disc[lb[disc] == ub[disc]]
    bounded = np.setdiff1d(disc, fixed)
    assert len(bounded) == int(0.5 * len(frac)) and set(bounded) <= set(frac)
    assert np.all(lb[bounded] == np.floor(xl[bounded])) and np.all(ub[bounded] == np.ceil(xl[bounded]))
    assert _fixed_to_cur(lb, ub, cur, fixed)  # to the incumbent, not to the LP
    sub.freeProb()


def test_crossover_frees_where_cur_and_a_random_feasible_solution_differ(setup) -> None:
    state, session, cur = setup
    d, disc = state.data, state.discrete
    partner = cur.copy()
    partner[disc[[1, 4, 22]]] = 0.0 if cur[disc[1]] else 1.0
    partner[disc[22]] = 7.0
    state.random_solution = lambda: partner
    _, sub, lb, ub = _sub("crossover", state, session, cur)
    free = disc[(lb[disc] == d.lb[disc]) & (ub[disc] == d.ub[disc])]
    assert set(free) == set(disc[np.abs(partner[disc] - cur[disc]) > 1e-6])
    assert _fixed_to_cur(lb, ub, cur, np.setdiff1d(disc, free))
    sub.freeProb()


def test_crossover_partner_is_a_random_feasible_solution(setup) -> None:
    state, session, cur = setup
    x = session.random_feasible(5.0, seed_offset=3)
    assert x is not None and state.data.c @ x >= 0
    assert session.problem.is_feasible({n: float(v) for n, v in zip(state.data.names, x)})


def test_proximity_rates_are_per_mille_as_in_the_package(setup) -> None:
    state, session, cur = setup
    assert [op.rate for op in parse_operators(["proximity_5", "proximity_15", "proximity_30"])] == \
        pytest.approx([0.005, 0.015, 0.03])
    op, sub, lb, ub = _sub("proximity_15", state, session, cur)
    f = state.value(cur)
    cons = [c for c in sub.getConss() if c.name == "optbox_proximity"]
    assert len(cons) == 1 and sub.getRhs(cons[0]) == pytest.approx(f - 0.015 * abs(f))
    sub.freeProb()


def test_bandit_tries_every_arm_first_and_learns_the_arm_that_pays() -> None:
    """16 arms, one improves 70 % of the time, the others 10 %: every arm is pulled once in the
    first 16 picks, and the good arm's share of the picks grows (second half > first half, and
    it is the most pulled arm)."""
    arms = [f"a{k}" for k in range(16)]
    # (epsilon-greedy is left out: a good arm unlucky on its first pull is re-tried only by the
    # epsilon / 16 exploration, so within 300 pulls it learns it only by chance)
    for policy, cost, optimistic in (("thompson", 0.5, True), ("thompson", None, True),
                                     ("softmax", None, True), ("thompson", 0.5, False)):
        bandit = NativeBandit(arms, policy, 0.15, 0.5, DEFAULT_SCORES, seed=5, cost_prior=cost,
                              optimistic=optimistic)
        rng = np.random.default_rng(0)
        picks = []
        for _ in range(300):
            arm = bandit.select()
            picks.append(arm)
            good = rng.random() < (0.7 if arm == "a9" else 0.1)
            bandit.update(arm, DEFAULT_SCORES[0] if good else DEFAULT_SCORES[3], 1.0)
        assert set(picks[:16]) == set(arms), policy
        first, second = picks[16:158].count("a9"), picks[158:].count("a9")
        assert second > first, (policy, first, second)
        counts = {a: picks.count(a) for a in arms}
        assert max(counts, key=counts.get) == "a9", (policy, counts)


def test_random_policy_is_uniform() -> None:
    arms = ["a", "b", "c", "d"]
    bandit = NativeBandit(arms, "random", 0.1, 2.0, DEFAULT_SCORES, seed=0)
    picks = []
    for _ in range(400):
        arm = bandit.select()
        picks.append(arm)
        bandit.update(arm, DEFAULT_SCORES[0] if arm == "a" else DEFAULT_SCORES[3], 1.0)
    assert all(60 <= picks.count(a) <= 140 for a in arms)


def _good_pulls(policy: str, optimistic: bool, pulls: int, seed: int) -> int:
    """Pulls of the good arm (improves 40 %, 15 others 8 %) in ``pulls`` picks."""
    arms = [f"a{k}" for k in range(16)]
    bandit = NativeBandit(arms, policy, 0.15, 2.0, DEFAULT_SCORES, seed=seed, cost_prior=0.5,
                          optimistic=optimistic)
    rng = np.random.default_rng(seed + 1000)
    count = 0
    for _ in range(pulls):
        arm = bandit.select()
        count += arm == "a3"
        good = rng.random() < (0.4 if arm == "a3" else 0.08)
        bandit.update(arm, DEFAULT_SCORES[0] if good else DEFAULT_SCORES[3], 1.0)
    return count


def test_flat_prior_learns_faster_than_the_optimistic_one_at_lns_iteration_counts() -> None:
    """At 60 pulls over 16 arms (a 60 s run's LNS iterations), averaged over 100 seeds: Thompson
    with the flat prior pulls the good arm more than with the optimistic pseudo-success, and
    both more than uniform picks (60 / 16 = 3.75)."""
    mean = {opt: np.mean([_good_pulls("thompson", opt, 60, s) for s in range(100)]) for opt in (True, False)}
    uniform = np.mean([_good_pulls("random", True, 60, s) for s in range(100)])
    assert 3.0 < uniform < 4.5
    assert mean[False] > mean[True] > uniform, (mean, uniform)


def test_mabwiser_backend_with_the_flat_prior_tries_every_arm_then_predicts() -> None:
    pytest.importorskip("mabwiser")
    from solvers.mip.lns.select import MabwiserBandit

    arms = ["a", "b", "c"]
    bandit = MabwiserBandit(arms, "thompson", 0.1, 2.0, DEFAULT_SCORES, seed=0, optimistic=False)
    picks = []
    for _ in range(30):
        arm = bandit.select()
        picks.append(arm)
        bandit.update(arm, DEFAULT_SCORES[0] if arm == "b" else DEFAULT_SCORES[3])
    assert set(picks[:3]) == set(arms)
    assert picks[3:].count("b") > 10
