"""Point-cloud OT (issue 23): OptimalTransport.from_points, the online sns / sinkhorn-log path
and its lazy plan, against the dense solvers on small instances."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from problems import InvalidProblemError, OptimalTransport, read_instance
from solvers import Status, solve
from solvers.ot.lazy_plan import LazyPlan


def clouds(n=120, m=None, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((m or n, d)), rng.random((n, d)) + 0.2


def pair(reg=5e-2, metric="sqeuclidean", **kw):
    X, Y = clouds(**kw)
    p = OptimalTransport.from_points(X, Y, reg, metric=metric, scale="max")
    dense = OptimalTransport(p.a, p.b, cdist(X, Y, metric) / p.points[3], reg)
    return p, dense


def _shift_free(f, g, fd, gd):
    s = float(np.mean(f - fd))
    return max(np.abs(f - fd - s).max(), np.abs(g - gd + s).max())


@pytest.mark.parametrize("method", ["sns", "sinkhorn-log"])
@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
def test_online_agrees_with_dense(method, metric):
    p, dense = pair(reg=2e-2, metric=metric, n=150, m=130)
    r = solve(p, method=method, tol=1e-10, online="always")
    rd = solve(dense, method=method, tol=1e-10)
    assert r.status == Status.CONVERGED and r.stats["online"]
    assert isinstance(r.solution, LazyPlan)
    P = r.solution.to_dense()
    assert np.abs(P - rd.solution).max() <= 1e-9 * rd.solution.max() + 1e-12
    assert abs(r.objective - rd.objective) <= 1e-9 * abs(rd.objective) + 1e-12
    assert abs(dense.objective(P) - r.objective) <= 1e-10
    assert abs(p.objective(r.solution) - r.objective) <= 1e-12
    f, g = r.stats["potentials"]
    fd, gd = rd.stats["potentials"]
    assert _shift_free(f, g, fd, gd) <= 1e-8
    # the convention P_ij = exp((f_i + g_j - C_ij)/reg)
    assert np.allclose(P, np.exp((f[:, None] + g[None, :] - dense.C) / p.reg), rtol=1e-12, atol=0)
    assert r.stats["marginal_error"] <= 1e-10
    assert p.marginal_error(r.solution) == pytest.approx(r.stats["marginal_error"], rel=1e-6, abs=1e-15)


def test_sns_newton_stage_online():
    """Small reg: the sparse Newton stage runs (kept entries only) and converges."""
    p, dense = pair(reg=5e-3, n=200)
    r = solve(p, method="sns", tol=1e-10, online="always")
    assert r.status == Status.CONVERGED
    assert r.stats["newton_iterations"] >= 1, r.stats
    rd = solve(dense, method="sns", tol=1e-10)
    assert abs(r.objective - rd.objective) <= 1e-9


def test_lazy_plan_marginals_and_blocks():
    p, dense = pair(n=90, m=70)
    r = solve(p, method="sinkhorn-log", tol=1e-11, online="always")
    plan = r.solution
    P = plan.to_dense()
    rr, cc = plan.marginals()
    assert np.allclose(rr, P.sum(1), rtol=1e-12) and np.allclose(cc, P.sum(0), rtol=1e-12)
    assert np.abs(rr - p.a).sum() + np.abs(cc - p.b).sum() <= 1e-11
    assert np.array_equal(plan.rows(10, 20), P[10:20])
    assert plan.transport_cost() == pytest.approx(float((dense.C * P).sum()), rel=1e-12)
    assert p.transport_cost(plan) == pytest.approx(plan.transport_cost())
    assert np.array_equal(np.asarray(plan), P)
    assert plan.shape == (70, 90)


def test_to_dense_and_C_refuse_sizes_that_do_not_fit():
    X, Y = clouds(n=400)
    p = OptimalTransport.from_points(X, Y, 1e-1, dense_limit=400 * 400 * 8 - 1)
    assert not p.dense_fits
    with pytest.raises(InvalidProblemError, match="400 x 400"):
        p.C  # noqa: B018
    with pytest.raises(InvalidProblemError, match="dense_limit"):
        solve(p, method="sinkhorn")  # a dense method: clear error before allocating
    r = solve(p, method="sns", tol=1e-8)  # auto: online since C does not fit
    assert r.stats["online"] and r.status == Status.CONVERGED
    with pytest.raises(InvalidProblemError, match="400 x 400"):
        r.solution.to_dense()
    assert r.solution.to_dense(max_bytes=10**7).shape == (400, 400)


def test_large_problem_refused_before_allocation():
    """n = 10^6 points: the dense C would be 8 TB; the Newton storage is checked up front."""
    X = np.zeros((1_000_000, 2))
    p = OptimalTransport.from_points(X, X, 1e-2)
    with pytest.raises(InvalidProblemError, match="GiB"):
        p.C  # noqa: B018
    with pytest.raises(InvalidProblemError, match="sparsified Hessian"):
        solve(p, method="sns", lam=0.5)


def test_default_method_on_points_is_online_sns():
    X, Y = clouds(n=300)
    p = OptimalTransport.from_points(X, Y, 5e-2, dense_limit=10_000)
    r = solve(p, tol=1e-8)
    assert r.stats.get("online") is True


def test_small_point_problem_keeps_dense_methods_working():
    p, dense = pair(n=60)
    for method in ("sinkhorn", "sinkhorn-log", "sns"):
        r = solve(p, method=method, tol=1e-9)  # auto: small -> dense path, plain arrays
        assert isinstance(r.solution, np.ndarray)
        assert dense.marginal_error(r.solution) <= 1e-9
    assert np.allclose(p.C, dense.C)


@pytest.mark.parametrize("kwargs, match", [
    ({"X": np.array([[0.0, np.nan]])}, "NaN"),
    ({"Y": np.array([[np.inf, 0.0]])}, "NaN or infinite"),
    ({"Y": np.zeros((3, 3))}, "different dimensions"),
    ({"X": np.zeros(4)}, "2-dimensional"),
    ({"X": np.zeros((0, 2))}, "empty"),
    ({"metric": "cosine"}, "metric"),
    ({"a": np.full(3, 1 / 3)}, "a has 3"),
    ({"a": np.array([0.5, 0.6, 0.0, -0.1])}, "negative"),
    ({"b": np.full(5, 0.3)}, "sum to 1"),
    ({"reg": 0.0}, "reg"),
    ({"reg": "x"}, "reg"),
    ({"scale": -1.0}, "scale"),
    ({"scale": "mean"}, "scale"),
])
def test_bad_input_errors(kwargs, match):
    base = {"X": np.zeros((4, 2)), "Y": np.ones((5, 2)), "reg": 0.1}
    base.update(kwargs)
    with pytest.raises(InvalidProblemError, match=match):
        OptimalTransport.from_points(**base)


def test_zero_mass_points_and_file_round_trip(tmp_path):
    X, Y = clouds(n=50, m=40)
    a = np.r_[np.zeros(5), np.full(35, 1 / 35)]
    p = OptimalTransport.from_points(X, Y, 5e-2, a=a, scale=2.0)
    r = solve(p, method="sns", tol=1e-10, online="always")
    dense = OptimalTransport(a, p.b, cdist(X, Y, "sqeuclidean") / 2.0, 5e-2)
    rd = solve(dense, method="sns", tol=1e-10)
    P = r.solution.to_dense()
    assert np.all(P[:5] == 0) and np.abs(P - rd.solution).max() <= 1e-10
    assert np.all(np.isneginf(r.stats["potentials"][0][:5]))
    path = tmp_path / "clouds.npz"
    p.to_file(path)
    q = read_instance(path)
    assert q.is_points and q.points[3] == 2.0 and np.array_equal(q.points[0], X)
    assert np.array_equal(q.a, a) and q.reg == p.reg


def test_same_seed_same_answer():
    X, Y = clouds(n=200, d=3)
    p = OptimalTransport.from_points(X, Y, 1e-2, scale="max")
    r1 = solve(p, method="sns", seed=3, tol=1e-9, online="always")
    r2 = solve(p, method="sns", seed=3, tol=1e-9, online="always")
    assert np.array_equal(r1.stats["potentials"][0], r2.stats["potentials"][0])
    assert r1.objective == r2.objective


def _long():
    X, Y = clouds(n=3000, seed=5)
    return OptimalTransport.from_points(X, Y, 1e-4, scale="max")  # many sweeps


def test_time_limit_returns_a_lazy_incumbent():
    solve(OptimalTransport.from_points(*clouds(n=80), 1e-2), method="sns", online="always")
    p = _long()
    t = time.perf_counter()
    r = solve(p, method="sns", time_limit=1.0, tol=1e-12, online="always")
    assert time.perf_counter() - t <= 1.0 * 1.1 + 1.0
    assert r.status == Status.TIME_LIMIT
    assert isinstance(r.solution, LazyPlan) and np.isfinite(r.objective)
    assert np.isfinite(p.marginal_error(r.solution))


def test_ctrl_c_returns_the_incumbent():
    solve(OptimalTransport.from_points(*clouds(n=80), 1e-2), method="sinkhorn-log", online="always")
    p = _long()
    previous = signal.signal(signal.SIGINT, lambda *a: None)
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        timer = threading.Timer(0.6, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        t = time.perf_counter()
        try:
            r = solve(p, method="sinkhorn-log", time_limit=60, tol=1e-14, online="always")
        finally:
            timer.cancel()
        assert time.perf_counter() - t <= 0.6 + 3.0
    finally:
        signal.signal(signal.SIGINT, previous)
    assert r.status == Status.INTERRUPTED
    assert isinstance(r.solution, LazyPlan) and np.isfinite(r.objective)
