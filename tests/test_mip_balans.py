"""Balans (bandit ALNS over SCIP) and the plain SCIP baseline on small MIPs with known optima."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from pyscipopt import Model, quicksum

from problems import MIP, InvalidProblemError, read_instance
from problems.mip_generators import (
    combinatorial_auction,
    facility_location,
    independent_set,
    set_cover,
)
from solvers import Status, solve
from solvers.mip.lns.operators import ALL_OPERATORS
from solvers.mip.lns.select import DEFAULT_SCORES, NativeBandit

pytest.importorskip("mabwiser")


def _scip_optimum(problem: MIP) -> float:
    model = problem.create_model()
    model.setParam("limits/time", 60)
    model.optimize()
    assert model.getStatus() == "optimal"
    return model.getObjVal()


def _scip_feasible(problem: MIP, solution: dict[str, float]) -> bool:
    """Feasibility checked by SCIP itself on a fresh copy of the original model."""
    model = problem.create_model()
    sol = model.createSol()
    for var in model.getVars():
        model.setSolVal(sol, var, solution[var.name])
    return bool(model.checkSol(sol, printreason=False))


def _knapsack(seed: int = 0, n: int = 14) -> tuple[MIP, float]:
    """A maximization knapsack with two constraints and its brute-force optimum."""
    rng = np.random.default_rng(seed)
    w = rng.integers(5, 40, size=(2, n))
    p = rng.integers(5, 60, size=n)
    cap = w.sum(axis=1) // 3
    model = Model("knap")
    x = [model.addVar(f"x{i}", vtype="B", obj=float(p[i])) for i in range(n)]
    for r in range(2):
        model.addCons(quicksum(float(w[r, i]) * x[i] for i in range(n)) <= float(cap[r]))
    model.setMaximize()
    best = max(float(p @ np.array(z)) for z in itertools.product((0, 1), repeat=n)
               if np.all(w @ np.array(z) <= cap))
    return MIP.from_model(model), best


def _mixed(seed: int = 0) -> MIP:
    """Binaries, general integers and continuous variables together (every operator applies)."""
    rng = np.random.default_rng(seed)
    model = Model("mixed")
    y = [model.addVar(f"y{j}", vtype="B", obj=float(rng.integers(20, 60))) for j in range(12)]
    z = [model.addVar(f"z{j}", vtype="I", lb=0, ub=7, obj=float(rng.integers(3, 9))) for j in range(12)]
    u = [model.addVar(f"u{j}", vtype="C", lb=0, ub=10, obj=float(rng.uniform(0.5, 2))) for j in range(12)]
    for _ in range(10):
        cols = rng.choice(12, size=4, replace=False)
        model.addCons(quicksum(3 * y[j] + z[j] + 0.5 * u[j] for j in cols) >= float(rng.integers(8, 16)))
    for j in range(12):
        model.addCons(z[j] <= 7 * y[j])
        model.addCons(z[j] + u[j] >= 1.5)
    return MIP.from_model(model)


def test_default_method_is_balans_and_reaches_brute_force_optimum_when_maximizing() -> None:
    problem, best = _knapsack()
    assert problem.maximize
    res = solve(problem, time_limit=10, seed=0)
    assert res.method == "balans"
    assert res.ok and _scip_feasible(problem, res.solution)
    assert res.objective == pytest.approx(best, abs=1e-6)
    if res.bound is not None:
        assert res.bound >= best - 1e-6  # a valid upper bound for a maximization


@pytest.mark.parametrize("seed", [0, 1])
def test_balans_matches_scip_optimum_on_small_set_cover(seed: int) -> None:
    problem = set_cover(n_rows=60, n_cols=80, density=0.08, seed=seed)
    optimum = _scip_optimum(problem)
    res = solve(problem, method="balans", time_limit=8, seed=seed)
    assert res.ok and problem.is_feasible(res.solution)
    assert res.objective == pytest.approx(optimum, abs=1e-6)
    assert res.bound is None or res.bound <= optimum + 1e-6
    times = [t for t, _, _ in res.history]
    values = [v for _, v, _ in res.history]
    assert times == sorted(times) and all(b <= a + 1e-9 for a, b in zip(values, values[1:]))


@pytest.mark.parametrize("operator", ALL_OPERATORS)
def test_every_operator_gives_solutions_feasible_for_the_original_model(operator: str) -> None:
    problem = _mixed()
    optimum = _scip_optimum(problem)
    res = solve(problem, method="balans", operators=[operator], max_iter=4, seed=3,
                first_solution="feasibility")
    count = res.stats["operator_counts"][operator]
    assert count == 4 or (1 <= count < 4 and res.status == Status.OPTIMAL)  # stops once proven optimal
    assert res.ok and _scip_feasible(problem, res.solution)
    assert res.objective >= optimum - 1e-6
    assert res.objective <= res.stats["first_objective"] + 1e-9  # hill climbing never worsens


def test_sub_mips_are_restrictions_and_keep_the_incumbent_when_warm_started() -> None:
    """Build each operator's sub-MIP by hand: SCIP accepts the incumbent in it (warm start) and
    any optimum of the sub-MIP is feasible for the original model."""
    from solvers.context import SolveContext
    from solvers.mip.lns.operators import LNSState, applies, build, parse_operators
    from solvers.mip.lns.scip_session import ScipSession

    problem = _mixed(1)
    ctx = SolveContext(None, None, 0)
    state, session = LNSState(problem.data, ctx.rng), ScipSession(problem, ctx, threads=1)
    state.x_lp, _ = session.lp_relaxation(0.2)
    _, cur, _ = session.first_solution("feasibility", 0.25)
    state.pool = [cur]
    assert cur is not None and state.x_lp is not None
    for op in parse_operators("all"):
        assert applies(op, state)
        sub, variables = session.copy()
        warm = build(op, state, sub, variables, cur)
        if warm:
            sol = sub.createSol()
            for k, var in enumerate(variables):
                sub.setSolVal(sol, var, float(cur[k]))
            assert sub.checkSol(sol, printreason=False), op.name
        sub.setParam("limits/time", 10)
        sub.optimize()
        if sub.getNSols():
            x = session.vector(sub, variables, sub.getBestSol())
            assert _scip_feasible(problem, state.solution(x)), op.name
        sub.freeProb()
    session.close()


def test_operator_table_is_the_one_place_an_operator_is_declared() -> None:
    """Portfolios, parsing and the applicability filter all come from the table: the paper's 16
    arms first, in the paper's order, then the extras."""
    from solvers.mip.lns.operators import KINDS, PAPER_PORTFOLIO, parse_operators

    assert PAPER_PORTFOLIO == (
        "crossover", "mutation_25", "mutation_50", "mutation_75", "local_branching_10",
        "local_branching_25", "local_branching_50", "proximity_5", "proximity_15", "proximity_30",
        "rens_25", "rens_50", "rens_75", "rins_25", "rins_50", "rins_75")
    assert ALL_OPERATORS[16:] == ("dins_25", "dins_50", "dins_75", "random_objective_25",
                                  "random_objective_50", "random_objective_75")
    assert {op.kind for op in parse_operators("all")} == set(KINDS)
    assert parse_operators(["rins_40"])[0].rate == pytest.approx(0.4)


def test_operators_that_do_not_apply_are_left_out() -> None:
    model = Model("ints")
    z = [model.addVar(f"z{j}", vtype="I", lb=0, ub=9, obj=float(j + 1)) for j in range(6)]
    model.addCons(quicksum(z) >= 13)
    model.addCons(z[0] + 2 * z[1] >= 3)
    problem = MIP.from_model(model)
    res = solve(problem, method="balans", operators="all", max_iter=3, seed=0)
    assert res.ok and problem.is_feasible(res.solution)
    skipped = set(res.stats["operators_skipped"])
    assert {"local_branching_10", "proximity_5"} <= skipped
    assert not any(name.startswith(("mutation", "rins", "dins")) for name in skipped)


def test_same_seed_same_run() -> None:
    problem = set_cover(n_rows=80, n_cols=120, density=0.06, seed=5)
    runs = [solve(problem, method="balans", max_iter=6, seed=11, bandit=b,
                  first_solution="feasibility")
            for b in ("thompson", "thompson", "softmax", "epsilon_greedy")]
    assert runs[0].objective == runs[1].objective
    assert runs[0].stats["operator_counts"] == runs[1].stats["operator_counts"]
    for r in runs[2:]:
        assert r.ok and problem.is_feasible(r.solution)


def test_simulated_annealing_acceptance_stays_feasible() -> None:
    problem = _mixed(2)
    res = solve(problem, method="balans", operators="all", acceptance="simulated_annealing",
                temperature=0.5, max_iter=10, seed=0, first_solution="feasibility",
                sub_settings="default")
    assert res.ok and _scip_feasible(problem, res.solution)
    assert res.objective <= res.stats["first_objective"] + 1e-9  # the best is kept, not the current


@pytest.mark.parametrize("method", ["balans", "scip"])
def test_infeasible_and_unbounded_statuses(method: str) -> None:
    model = Model("infeasible")
    x = model.addVar("x", vtype="I", lb=0, ub=10)
    y = model.addVar("y", vtype="B")
    model.addCons(x + y >= 12)
    res = solve(MIP.from_model(model), method=method, time_limit=10, seed=0)
    assert res.status == Status.INFEASIBLE and res.solution is None

    model = Model("unbounded")
    x = model.addVar("x", vtype="I", lb=0, ub=None, obj=-1.0)
    y = model.addVar("y", vtype="B", obj=1.0)
    model.addCons(x - y >= 1)
    res = solve(MIP.from_model(model), method=method, time_limit=10, seed=0)
    assert res.status == Status.UNBOUNDED and res.solution is None


def test_time_limit_is_wall_clock_for_everything() -> None:
    problem = set_cover(n_rows=400, n_cols=800, density=0.05, seed=0)
    for method in ("balans", "scip"):
        start = time.perf_counter()
        res = solve(problem, method=method, time_limit=3, seed=0)
        elapsed = time.perf_counter() - start
        assert elapsed <= 3 * 1.1 + 1, (method, elapsed)
        assert res.ok and problem.is_feasible(res.solution)
        assert res.status in (Status.TIME_LIMIT, Status.OPTIMAL)


def test_balans_on_miplib_pk1_beats_its_first_solution() -> None:
    path = "/work/shared/benchdata/miplib/pk1.mps.gz"
    try:
        problem = read_instance(path)
    except FileNotFoundError:
        pytest.skip("benchdata not available")
    res = solve(problem, method="balans", time_limit=6, seed=0)
    assert res.ok and problem.is_feasible(res.solution)
    assert res.objective >= 11 - 1e-6  # MIPLIB optimum
    assert res.objective < res.stats["first_objective"]
    assert sum(res.stats["operator_counts"].values()) == res.iterations > 0


def test_generators_give_feasible_seeded_instances() -> None:
    for make, kwargs in ((set_cover, dict(n_rows=30, n_cols=40)),
                         (combinatorial_auction, dict(n_items=15, n_bids=40)),
                         (facility_location, dict(n_customers=8, n_facilities=5)),
                         (independent_set, dict(n_nodes=40, affinity=3))):
        a, b = make(seed=1, **kwargs), make(seed=1, **kwargs)
        assert a.data.names == b.data.names and np.array_equal(a.data.c, b.data.c)
        assert (a.data.A != b.data.A).nnz == 0
        res = solve(a, method="scip", time_limit=20, seed=0)
        assert res.status == Status.OPTIMAL and a.is_feasible(res.solution)
    with pytest.raises(InvalidProblemError, match="n_rows"):
        set_cover(n_rows=0)


def test_malformed_files_give_clear_errors(tmp_path) -> None:
    for k, text in enumerate(["NAME bad\nROWS\n N obj\n Q c1\nCOLUMNS\n x c1 1\nENDATA\n",
                              "NAME bad\nROWS\n N obj\n L c1\nCOLUMNS\n x c9 1\nENDATA\n",
                              "this is not a model\n", ""]):
        bad = tmp_path / f"bad{k}.mps"
        bad.write_text(text)
        with pytest.raises(InvalidProblemError, match="read|empty"):
            read_instance(bad)
    lp = tmp_path / "bad.lp"
    lp.write_text("Minimize\n obj: x + \nSubject To\n c1: x >= >= 1\nEnd\n")
    with pytest.raises(InvalidProblemError):
        read_instance(lp)


@pytest.mark.parametrize("options, match", [
    ({"bandit": "ucb"}, "bandit"), ({"acceptance": "greedy"}, "acceptance"),
    ({"operators": ["rins_0"]}, "operator"), ({"operators": ["foo_10"]}, "operator"),
    ({"operators": []}, "operator"), ({"epsilon": 2.0}, "epsilon"), ({"scores": (1, 2)}, "scores"),
    ({"sub_time_limit": -1}, "sub_time_limit"), ({"sub_settings": "turbo"}, "sub_settings"),
    ({"first_solution": "lp"}, "first_solution"), ({"max_iter": -2}, "max_iter"),
    ({"max_iterations": 0}, "max_iter"), ({"threads": 0}, "threads"), ({"tau": 0}, "tau"),
    ({"scip_stall": 0}, "scip_stall"), ({"lns_stall": -1.0}, "lns_stall"),
    ({"bandit_cost": "yes"}, "bandit_cost"), ({"root_stall": -2.0}, "root_stall"),
])
def test_bad_options_raise_value_error(options: dict, match: str) -> None:
    problem, _ = _knapsack(n=6)
    with pytest.raises(ValueError, match=match):
        solve(problem, method="balans", **options)


def test_scip_baseline_options_and_history() -> None:
    problem = set_cover(n_rows=60, n_cols=80, density=0.08, seed=3)
    res = solve(problem, method="scip", emphasis="feasibility", seed=0, time_limit=20)
    assert res.ok and res.history and res.history[-1][1] == pytest.approx(res.objective)
    with pytest.raises(ValueError, match="emphasis"):
        solve(problem, method="scip", emphasis="fast")
    with pytest.raises(ValueError, match="parameter"):
        solve(problem, method="scip", params={"no/such/param": 1})


def _pk1() -> MIP:
    try:
        return read_instance("/work/shared/benchdata/miplib/pk1.mps.gz")
    except FileNotFoundError:
        pytest.skip("benchdata not available")


def test_scip_start_finishes_easy_models_alone_with_a_proof() -> None:
    """Default start: SCIP closes a small model before any stall, so no LNS iteration runs and
    the result carries SCIP's optimality proof (bound = objective = brute-force optimum)."""
    problem, best = _knapsack(seed=4)
    res = solve(problem, method="balans", time_limit=20, seed=0)
    assert res.status == Status.OPTIMAL and res.iterations == 0
    assert res.objective == pytest.approx(best, abs=1e-6)
    assert res.bound == pytest.approx(best, abs=1e-6)
    assert res.stats["scip_slices"] == 1 and _scip_feasible(problem, res.solution)


def test_scip_and_lns_interleave_sharing_incumbents_and_the_dual_bound() -> None:
    """Short stalls force several hand-overs: the incumbent history is monotone, the final value
    is at least as good as SCIP's at the hand-over, and the bound is SCIP's valid dual bound
    (pk1 optimum 11, LP bound 0)."""
    problem = _pk1()
    res = solve(problem, method="balans", time_limit=6, seed=0, scip_stall=0.3, lns_stall=0.5)
    assert res.ok and _scip_feasible(problem, res.solution)
    assert res.stats["scip_slices"] >= 2 and res.iterations > 0
    values = [v for _, v, _ in res.history]
    assert all(b < a for a, b in zip(values, values[1:]))  # strictly improving, no duplicates
    assert res.objective == pytest.approx(values[-1])
    assert res.objective <= res.stats["first_objective"] + 1e-9
    assert res.bound is not None and 0.0 <= res.bound <= 11 + 1e-6


def test_lns_incumbent_is_handed_to_the_resumed_scip_search() -> None:
    """``share`` puts an LNS solution into the interrupted main SCIP run: its primal bound becomes
    that value (checked on the knapsack with a worse SCIP start)."""
    from solvers.context import SolveContext
    from solvers.mip.lns.operators import LNSState
    from solvers.mip.lns.scip_session import ScipSession

    problem, best = _knapsack(seed=2, n=12)
    ctx = SolveContext(None, None, 0)
    state, session = LNSState(problem.data, ctx.rng), ScipSession(problem, ctx, threads=1)
    status, x0, _ = session.start_main(root_stall=0.0, stall=1e9)  # runs to optimality
    assert status == "optimal" and state.value(x0) == pytest.approx(best)
    # a fresh main run stopped at its first solution, then given the optimum
    session2 = ScipSession(problem, SolveContext(None, None, 0), threads=1)
    status2, x1, _ = session2.start_main(root_stall=0.0, stall=0.0)
    assert status2 in ("userinterrupt", "optimal") and x1 is not None
    if status2 == "userinterrupt":
        session2.share(x0)
        assert session2.main.getPrimalbound() == pytest.approx(best)
        x2, status3 = session2.resume(stall=0.0)
        assert x2 is not None and state.value(x2) == pytest.approx(best)
    session.close()
    session2.close()


@pytest.mark.slow  # about 3 minutes: pk1 without a time limit (SCIP slices end on stalled nodes)
def test_without_time_limit_the_scip_lns_hand_over_does_not_depend_on_the_clock() -> None:
    """No time limit: SCIP hands over after stalled nodes, the LNS after stalled iterations, so two
    runs with the same seed give the same incumbent sequence."""
    problem = _pk1()
    runs = [solve(problem, method="balans", seed=7, max_iter=12) for _ in range(2)]
    for r in runs:
        assert r.ok and _scip_feasible(problem, r.solution) and r.iterations == 12
    assert [v for _, v, _ in runs[0].history] == [v for _, v, _ in runs[1].history]
    assert runs[0].stats["operator_counts"] == runs[1].stats["operator_counts"]
    assert runs[0].stats["scip_slices"] == runs[1].stats["scip_slices"] >= 1


@pytest.mark.parametrize("policy", ["thompson", "epsilon_greedy", "softmax"])
def test_cost_aware_bandit_prefers_the_arm_that_improves_as_often_in_less_time(policy: str) -> None:
    # Two arms that improve on every second pull; "slow" costs 1 s a pull, "fast" 0.05 s. Per
    # iteration they are equal, per second "fast" is 20x better: the cost-aware bandit must pull it
    # most of the time; the plain Thompson / softmax about as often as "slow" (plain ε-greedy locks
    # onto whichever arm leads early, either one).
    def pulls(cost_prior: float | None) -> int:
        bandit = NativeBandit(["slow", "fast"], policy, 0.1, 2.0, DEFAULT_SCORES, seed=3,
                               cost_prior=cost_prior)
        count = {"slow": 0, "fast": 0}
        for _ in range(400):
            arm = bandit.select()
            count[arm] += 1
            reward = DEFAULT_SCORES[0] if count[arm] % 2 else DEFAULT_SCORES[3]
            bandit.update(arm, reward, 1.0 if arm == "slow" else 0.05)
        return count["fast"]

    assert pulls(0.5) >= 0.8 * 400
    if policy != "epsilon_greedy":
        assert 0.25 * 400 <= pulls(None) <= 0.75 * 400


def test_cost_aware_balans_stays_feasible_and_finds_the_optimum() -> None:
    problem, best = _knapsack(seed=4)
    res = solve(problem, method="balans", time_limit=3.0, seed=2, bandit_cost=True,
                first_solution="root")
    assert res.solution is not None and _scip_feasible(problem, res.solution)
    assert res.objective == pytest.approx(best)


def _big_knapsack() -> MIP:
    """The long-running instance of tests/test_limits.py (400 binaries, 15 constraints)."""
    from problems.mip_generators import multi_knapsack

    return multi_knapsack(400, 15, seed=1)


@pytest.mark.parametrize("method, options", [
    ("scip", {}), ("balans", {}), ("balans", {"first_solution": "feasibility"}),
], ids=["scip", "balans-scip-start", "balans-lns"])
def test_first_ctrl_c_stops_with_the_incumbent_although_scip_catches_it(method: str, options: dict) -> None:
    """SCIP catches SIGINT itself while it optimizes (the main run, a sub-MIP): the first Ctrl-C
    still ends the solve promptly, status interrupted, with the best solution found."""
    import os
    import signal
    import subprocess

    problem = _big_knapsack()
    delay = 1.5
    # from another process: a thread of this one would wait for SCIP to release the GIL
    killer = subprocess.Popen(["bash", "-c", f"sleep {delay}; kill -INT {os.getpid()}"])
    try:
        res = solve(problem, method, time_limit=30, seed=0, **options)
    finally:
        killer.wait()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert res.status == Status.INTERRUPTED, res.summary()
    assert res.solution is not None and _scip_feasible(problem, res.solution)
    assert res.objective == pytest.approx(problem.objective(res.solution))
    assert res.runtime < delay + 6, res.summary()


@pytest.mark.parametrize("method", ["scip", "balans"])
def test_callback_sees_each_incumbent_and_its_stop_iteration_stops_scip(method: str) -> None:
    problem = _big_knapsack()
    seen = []

    def callback(info) -> None:
        seen.append(info)
        if len(seen) == 3:
            raise StopIteration

    res = solve(problem, method, time_limit=30, seed=0, callback=callback)
    assert res.status == Status.INTERRUPTED and res.runtime < 10, res.summary()
    assert len(seen) >= 3
    for info in seen:
        assert isinstance(info.incumbent, dict) and problem.is_feasible(info.incumbent)
        assert info.objective == pytest.approx(problem.objective(info.incumbent))
    assert res.objective >= seen[2].objective - 1e-9


def test_options_are_declared_once_and_old_names_still_work() -> None:
    import inspect

    from solvers.mip import EXAMPLES
    from solvers.registry import get_method

    for name in ("scip", "balans"):
        spec = get_method(name, "MIP")
        params = inspect.signature(spec.load()).parameters.values()
        keyword = [p for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
        assert {p.name for p in keyword} == set(spec.option_names)
        assert all(p.default is inspect.Parameter.empty for p in keyword)
    problem = EXAMPLES["MIP"]()
    assert isinstance(problem, MIP) and problem.size == 30 and problem.maximize
    with pytest.warns(DeprecationWarning, match="max_iter"):
        res = solve(problem, "balans", seed=0, max_iterations=2, first_solution="feasibility")
    assert res.ok and res.iterations <= 2
