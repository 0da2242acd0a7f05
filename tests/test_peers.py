"""Peers behind ``solve()`` (issue 22): each peer method gives a valid solution whose objective
equals a direct call of the peer, honours a time limit, reports MIP statuses honestly, and a
missing package is a clear ``ValueError`` naming the extra to install."""

from __future__ import annotations

import importlib.util
import time
import warnings

import numpy as np
import pytest

from problems import CVRP, MIP, TSP, DAGLearning, L1LogisticRegression, Lasso, LinearSystem, OptimalTransport
from solvers import Status, available_methods, solve


def need(module: str):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install 'optbox[peers]')")
    return __import__(module)


def _mip(text: str, name: str = "m") -> MIP:
    return MIP(text.encode(), ".lp", name=name)


def _knapsack() -> MIP:
    from problems.mip_generators import multi_knapsack

    return multi_knapsack(30, 3, seed=0)


# ------------------------------------------------------------------ same answer as the peer itself
def test_lkh_matches_elkai_on_exact_and_rounded_lengths():
    elkai = need("elkai")
    exact = TSP.random(40, seed=3)
    r = solve(exact, "lkh", seed=1)
    assert r.status == Status.FEASIBLE and r.stats["peer"]["package"] == "elkai"
    exact.check_tour(r.solution)
    pts = exact.coords * 1e6
    direct = elkai.Coordinates2D({i: tuple(map(float, p)) for i, p in enumerate(pts)}).solve_tsp(runs=1)
    assert r.objective == pytest.approx(exact.objective(np.array(direct[:-1])), rel=1e-6)
    rounded = TSP(np.round(exact.coords * 1000), edge_weight_type="EUC_2D")  # a TSPLIB file's rule
    r = solve(rounded, "lkh", seed=1)
    D = np.round(rounded.distance_matrix()).astype(int).tolist()
    direct = elkai.DistanceMatrix(D).solve_tsp(runs=1)
    assert r.objective == pytest.approx(rounded.objective(np.array(direct[:-1])), abs=1e-9)
    assert float(r.objective).is_integer()


def test_pyvrp_matches_a_direct_pyvrp_model():
    pyvrp = need("pyvrp")
    from pyvrp.stop import MaxIterations

    p = CVRP.random(20, seed=1)
    r = solve(p, "pyvrp", seed=0, max_iter=500)
    assert r.status == Status.ITERATION_LIMIT and p.is_feasible(r.solution)
    assert r.iterations == 500 and all(isinstance(v, int) for route in r.solution for v in route)
    m = pyvrp.Model()
    m.add_vehicle_type(num_available=20, capacity=int(p.capacity))
    locs = [m.add_location(x=0, y=0) for _ in range(21)]
    m.add_depot(locs[0])
    for i in range(1, 21):
        m.add_client(locs[i], delivery=[int(p.demands[i])])
    D = np.round(p.distance_matrix() * 1e4).astype(int)
    for i, a in enumerate(locs):
        for j, b in enumerate(locs):
            if i != j:
                m.add_edge(a, b, distance=int(D[i, j]))
    direct = m.solve(stop=MaxIterations(500), seed=0, display=False)
    assert r.objective == pytest.approx(direct.best.distance() / 1e4, rel=0.01)


def test_highs_and_cpsat_match_a_direct_highs_run():
    highspy = need("highspy")
    p = _knapsack()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.passModel(_as_highs_lp(highspy, p))
    h.run()
    best = h.getInfo().objective_function_value + p.data.offset
    r = solve(p, "highs", seed=0)
    assert r.status == Status.OPTIMAL and p.is_feasible(r.solution)
    assert r.objective == pytest.approx(best, rel=1e-9) and r.bound == pytest.approx(best, rel=1e-6)
    assert r.history and r.stats["gap"] == pytest.approx(0.0, abs=1e-9)
    if importlib.util.find_spec("ortools") is not None:
        c = solve(p, "cpsat", seed=0)
        assert c.status == Status.OPTIMAL and p.is_feasible(c.solution)
        assert c.objective == pytest.approx(best, rel=1e-9)


def _as_highs_lp(highspy, p: MIP):
    d = p.data
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(d.names), d.A.shape[0]
    lp.col_cost_ = d.c
    lp.sense_ = highspy.ObjSense.kMaximize if d.maximize else highspy.ObjSense.kMinimize
    lp.col_lower_, lp.col_upper_ = d.lb, d.ub
    lp.row_lower_, lp.row_upper_ = d.lhs, d.rhs
    A = d.A.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
    lp.integrality_ = [highspy.HighsVarType.kInteger if t != "C" else highspy.HighsVarType.kContinuous
                       for t in d.vtypes]
    return lp


def test_pot_matches_ot_sinkhorn():
    ot = need("ot")
    p = OptimalTransport.random(60, seed=2, reg=5e-2)
    r = solve(p, "pot", variant="sinkhorn", tol=1e-10)
    assert r.status == Status.CONVERGED and r.history_label == "marginal error"
    assert p.marginal_error(r.solution) <= 1e-10 and r.history[-1][1] <= 1e-10
    P = ot.sinkhorn(p.a, p.b, p.C, p.reg, numItermax=20_000, stopThr=1e-13)
    assert r.objective == pytest.approx(p.objective(P), rel=1e-7)


def test_dagma_matches_dagma_linear():
    need("dagma")
    from dagma.linear import DagmaLinear

    p = DAGLearning.random(5, n=200, seed=0)
    opts = dict(T=2, warm_iter=2000, final_iter=3000)
    r = solve(p, "dagma", lambda1=0.02, **opts)
    assert r.ok and r.history_label == "score" and r.history
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W = DagmaLinear("l2").fit(p.X.copy(), lambda1=0.02, w_threshold=0.3, T=2, warm_iter=2000,
                                  max_iter=3000)
    assert r.objective == pytest.approx(p.objective(W), rel=1e-6)


@pytest.mark.parametrize("method", ["sklearn", "skglm"])
def test_lasso_peers_match_their_direct_fit(method):
    need("sklearn" if method == "sklearn" else "skglm")
    rng = np.random.default_rng(0)
    A = rng.standard_normal((60, 30))
    p = Lasso(A, A @ rng.standard_normal(30) + 0.1 * rng.standard_normal(60), alpha=0.05)
    r = solve(p, method, tol=1e-10)
    assert r.status == Status.CONVERGED
    if method == "sklearn":
        from sklearn.linear_model import Lasso as SkLasso

        w = SkLasso(alpha=0.05, fit_intercept=False, tol=1e-10, max_iter=100_000).fit(A, p.b).coef_
    else:
        import skglm

        w = skglm.Lasso(alpha=0.05, fit_intercept=False, tol=1e-10).fit(A, p.b).coef_
    assert r.objective == pytest.approx(p.objective(w), rel=1e-8)


def test_l1_logistic_sklearn_matches_liblinear():
    need("sklearn")
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    A = rng.standard_normal((80, 20))
    y = np.where(A @ rng.standard_normal(20) > 0, 1.0, -1.0)
    p = L1LogisticRegression(A, y, alpha=0.02)
    r = solve(p, "sklearn", tol=1e-10)
    assert r.ok and r.stats["solver"] == "liblinear"
    w = LogisticRegression(C=1 / (0.02 * 80), l1_ratio=1.0, solver="liblinear", fit_intercept=False,
                           tol=1e-10, max_iter=100).fit(A, y).coef_.ravel()
    assert r.objective == pytest.approx(p.objective(w), rel=1e-8)
    s = solve(p, "sklearn", solver="saga", tol=1e-8, max_iter=20_000)
    assert s.objective == pytest.approx(r.objective, rel=1e-4)


def test_pyamg_matches_its_own_solve():
    pyamg = need("pyamg")
    p = LinearSystem.poisson((40, 40))
    r = solve(p, "pyamg", tol=1e-8)
    assert r.status == Status.CONVERGED and r.objective <= 1e-8
    assert r.history_label == "relative residual" and len(r.history) == r.iterations
    ml = pyamg.smoothed_aggregation_solver(p.A.tocsr(), symmetry="symmetric")
    res: list[float] = []
    ml.solve(p.b, tol=1e-8, residuals=res)
    assert abs(r.iterations - (len(res) - 1)) <= 1


# ------------------------------------------------------------------ limits, statuses, registry
@pytest.mark.parametrize("method, make", [
    ("lkh", lambda: TSP.random(2000, seed=0)),
    ("pyvrp", lambda: CVRP.random(300, seed=0)),
    ("pot", lambda: OptimalTransport.random(400, seed=0, reg=1e-4)),
    ("cpsat", lambda: __import__("problems.mip_generators").mip_generators.multi_knapsack(200, 10, 1)),
])
def test_time_limit_within_ten_percent_and_a_second(method, make):
    need({"lkh": "elkai", "pot": "ot", "cpsat": "ortools"}.get(method, method))
    limit = 2.0
    t = time.perf_counter()
    r = solve(make(), method, time_limit=limit, seed=0)
    wall = time.perf_counter() - t
    assert wall <= 1.1 * limit + 1.0 and r.runtime <= 1.1 * limit + 1.0, r.summary()
    assert r.status in (Status.TIME_LIMIT, Status.FEASIBLE, Status.CONVERGED), r.summary()


INFEASIBLE = "Minimize\n obj: x + y\nSubject To\n c1: x + y >= 5\n c2: x + y <= 3\nBounds\n 0 <= x <= 10\n" \
             " 0 <= y <= 10\nGenerals\n x y\nEnd\n"
UNBOUNDED = "Maximize\n obj: x + y\nSubject To\n c1: x - y <= 3\nBounds\n x >= 0\n y >= 0\nGenerals\n x y\nEnd\n"


@pytest.mark.parametrize("method", ["highs", "cpsat"])
def test_infeasible_and_unbounded_mips(method):
    need("highspy" if method == "highs" else "ortools")
    r = solve(_mip(INFEASIBLE, "inf"), method)
    assert r.status == Status.INFEASIBLE and r.solution is None
    r = solve(_mip(UNBOUNDED, "unb"), method)
    assert r.status == Status.UNBOUNDED and r.solution is None


def test_cpsat_refuses_continuous_variables():
    need("ortools")
    lp = "Minimize\n obj: x + y\nSubject To\n c1: x + y >= 1.5\nBounds\n 0 <= x <= 4\n 0 <= y <= 4\n" \
         "Generals\n x\nEnd\n"
    with pytest.raises(ValueError, match="continuous"):
        solve(_mip(lp), "cpsat")


def test_missing_package_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "elkai" else real(name, *a))
    p = TSP.random(10, seed=0)
    assert "lkh" not in available_methods(p)
    with pytest.raises(ValueError, match=r"elkai.*optbox\[peers\]"):
        solve(p, "lkh")


def test_peers_are_never_the_default():
    from solvers.registry import registry

    for spec in registry().values():
        if spec.target.startswith("solvers.peers."):
            assert spec.default_rank is None, spec.name
