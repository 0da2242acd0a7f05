"""The public API: solve, solve_many, available_methods, Result, Status, the registry."""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest

import problems
import solvers
from problems import LinearSystem, OptimalTransport, read_instance
from solvers import Result, Status, available_methods, solve, solve_many
from solvers.registry import FAMILIES, examples, normalize, registry

from .conftest import INSTANCES

PUBLIC_PROBLEMS = ["read_instance", "InvalidProblemError", "TSP", "CVRP", "MIP", "OptimalTransport",
                   "DAGLearning", "LinearSystem", "LeastSquares", "LogisticRegression",
                   "SoftmaxRegression", "LabelPropagation", "Lasso", "L1LogisticRegression"]


def test_public_names_exist():
    for name in PUBLIC_PROBLEMS:
        assert hasattr(problems, name), name
    for name in ["solve", "solve_many", "available_methods", "Result", "Status"]:
        assert hasattr(solvers, name), name


def test_importing_solvers_does_not_import_torch():
    import subprocess

    code = "import solvers, problems, sys; solvers.registry.registry(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(INSTANCES.parent))
    assert out.stdout.strip() == "False"


def test_every_family_registers_methods_with_valid_targets():
    import importlib

    table = registry()
    for family in FAMILIES:
        assert importlib.import_module(f"solvers.{family}").METHODS, family
    for (name, kind), spec in table.items():
        module, _, func = spec.target.partition(":")
        assert module.split(".")[0] in ("solvers", "learned") and func, spec.name
        assert spec.problems == (kind,) and normalize(spec.name) == name


def test_every_problem_type_has_an_example_for_warmup_and_contract_tests():
    kinds = {kind for _, kind in registry()}
    assert kinds <= set(examples()), kinds - set(examples())
    for kind in kinds:
        assert type(examples()[kind]()).__name__ == kind


@pytest.mark.parametrize("path", sorted(p.name for p in INSTANCES.iterdir()
                                        if p.name not in ("expected.json",)
                                        and not p.name.endswith(("_b.mtx", ".graph.csv", ".md"))))
def test_available_methods_lists_a_default_for_every_instance(path):
    problem = read_instance(INSTANCES / path)
    names = available_methods(problem)
    assert names, path
    assert len(names) == len(set(names))


def test_unknown_method_lists_valid_ones():
    problem = LinearSystem.poisson((5, 5))
    with pytest.raises(ValueError, match="valid methods: .*cg"):
        solve(problem, "no-such-method")
    with pytest.raises(ValueError, match="does not solve LinearSystem"):
        solve(problem, "ortools")


def test_method_names_are_case_and_dash_insensitive():
    problem = OptimalTransport.random(8, seed=0, reg=0.5)
    assert solve(problem, "SINKHORN_LOG").method == "sinkhorn-log"


def test_unknown_option_warns():
    problem = LinearSystem.poisson((5, 5))
    with pytest.warns(UserWarning, match="unknown option"):
        result = solve(problem, "cg", frobnicate=3)
    assert result.status == Status.CONVERGED


@pytest.mark.parametrize("limit", [0, -1, float("nan"), float("inf"), "soon"])
def test_bad_time_limits_are_rejected(limit):
    with pytest.raises(ValueError, match="time_limit"):
        solve(LinearSystem.poisson((5, 5)), time_limit=limit)


def test_solve_rejects_non_problems():
    with pytest.raises(TypeError, match="problems package"):
        solve(np.eye(3))


def test_result_json_and_plot(tmp_path):
    problem = LinearSystem.poisson((16, 16))
    result = solve(problem, "cg")
    data = json.loads(result.to_json())
    assert data["status"] == "converged" and data["method"] == "cg"
    assert len(data["solution"]) == problem.size
    assert len(data["stats"]["residuals"]) == result.iterations
    assert result.history and result.history[-1][1] == pytest.approx(result.objective, rel=1e-6)
    result.plot(path=str(tmp_path / "curve.png"))
    assert (tmp_path / "curve.png").stat().st_size > 1000
    assert "converged" in result.summary()


def test_result_status_semantics():
    assert Status.OPTIMAL.has_solution and Status.TIME_LIMIT.has_solution
    assert not Status.INFEASIBLE.has_solution and not Status.ERROR.has_solution
    r = Result(solution=[1], status="feasible")
    assert r.status is Status.FEASIBLE and r.ok


def test_callback_receives_progress_and_can_stop():
    problem = LinearSystem.poisson((64, 64))
    seen = []

    def stop_after_five(info):
        seen.append(info["objective"])
        if len(seen) >= 5:
            raise StopIteration

    result = solve(problem, "cg", callback=stop_after_five)
    assert result.status == Status.INTERRUPTED
    assert len(seen) == 5 and result.iterations == 5
    assert result.solution is not None and np.all(np.isfinite(result.solution))


def test_time_limit_is_honoured():
    problem = LinearSystem.poisson((400, 400))
    result = solve(problem, "cg", time_limit=0.3, tol=1e-14)
    assert result.status == Status.TIME_LIMIT
    assert result.runtime < 0.3 * 1.1 + 1.0
    assert result.solution is not None


def test_seeded_runs_repeat():
    problem = read_instance(INSTANCES / "knapsack30.lp")
    a = solve(problem, "scip", seed=3)
    b = solve(problem, "scip", seed=3)
    assert a.objective == b.objective == pytest.approx(466)
    assert a.solution == b.solution


def test_solve_many_in_order_with_failures_reported(tmp_path):
    bad = tmp_path / "bad.tsp"
    bad.write_text("garbage")
    items = [OptimalTransport.random(8, seed=s, reg=0.5) for s in range(3)]
    paths = [str(INSTANCES / "poisson12.mtx"), str(bad)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        serial = solve_many(items, "sinkhorn-log", workers=1)
        pooled = solve_many(items + paths, None, workers=2)
    assert [r.status for r in serial] == [Status.CONVERGED] * 3
    for s, p in zip(serial, pooled):
        np.testing.assert_allclose(s.solution, p.solution)
    assert pooled[3].status.has_solution
    assert pooled[4].status == Status.ERROR and "bad.tsp" in pooled[4].message


def test_ctrl_c_returns_best_solution_with_status_interrupted():
    import os
    import signal
    import threading

    problem = LinearSystem.poisson((400, 400))
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        result = solve(problem, "cg", tol=1e-14, time_limit=20)
    finally:
        timer.cancel()
    assert result.status == Status.INTERRUPTED
    assert result.solution is not None and result.iterations > 0
    assert result.runtime < 5
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
