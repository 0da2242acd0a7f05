"""Optimal transport: SNS, Sinkhorn variants, batched torch path (issue 9)."""

from __future__ import annotations

import numpy as np
import pytest

from problems import InvalidProblemError, OptimalTransport
from solvers import Status, solve

METHODS = ["sns", "sinkhorn", "sinkhorn-log"]


def _err(p: OptimalTransport, P: np.ndarray) -> float:
    return float(np.abs(P.sum(1) - p.a).sum() + np.abs(P.sum(0) - p.b).sum())


@pytest.mark.parametrize("method", METHODS)
def test_agrees_with_pot(method: str) -> None:
    ot = pytest.importorskip("ot")
    p = OptimalTransport.random(60, seed=1, reg=0.05, m=50)
    ref = ot.sinkhorn(p.a, p.b, p.C, p.reg, method="sinkhorn_log", stopThr=1e-13, numItermax=100_000)
    r = solve(p, method=method, tol=1e-10)
    assert r.status == Status.CONVERGED
    assert _err(p, r.solution) <= 1e-10
    assert np.abs(r.solution - ref).max() < 1e-8
    assert r.objective == pytest.approx(p.objective(ref), abs=1e-9)
    f, g = r.stats["potentials"]
    assert p.dual_objective(f, g) == pytest.approx(r.objective, abs=1e-8)  # strong duality


def test_default_is_sns() -> None:
    p = OptimalTransport.random(30, seed=0, reg=0.1)
    assert solve(p).method == "sns"


@pytest.mark.parametrize("reg", [1e-3, 1e-4])
def test_small_reg_newton_no_nan(reg: float) -> None:
    p = OptimalTransport.random(120, seed=3, reg=reg)
    r = solve(p, method="sns", tol=1e-9)
    assert np.all(np.isfinite(r.solution)) and np.isfinite(r.objective)
    assert r.status == Status.CONVERGED
    assert _err(p, r.solution) <= 1e-9
    assert r.stats["newton_iterations"] > 0
    assert all(np.isfinite(h[1]) for h in r.history)
    # agrees with log-domain Sinkhorn at a looser tolerance (cheap enough for the default run)
    r2 = solve(p, method="sinkhorn", tol=1e-7, time_limit=20)
    if r2.status == Status.CONVERGED:
        assert r2.objective == pytest.approx(r.objective, abs=1e-5)


def test_sns_sparse_newton_beats_sinkhorn_iterations() -> None:
    """Paper's regime (random cost, reg = 1/1200): Newton converges in tens of iterations."""
    p = OptimalTransport.random(200, seed=0, reg=1 / 1200)
    r = solve(p, method="sns", tol=1e-9)
    assert r.status == Status.CONVERGED
    assert r.stats["newton_iterations"] < 100
    rs = solve(p, method="sinkhorn", tol=1e-9, max_iter=r.iterations * 5)
    assert rs.status != Status.CONVERGED or rs.iterations > r.iterations


@pytest.mark.parametrize("method", METHODS)
def test_rectangular_zero_mass(method: str) -> None:
    rng = np.random.default_rng(4)
    a = rng.random(40)
    b = rng.random(70)
    a[[0, 7]] = 0.0
    b[[3, 50, 69]] = 0.0
    p = OptimalTransport(a / a.sum(), b / b.sum(), rng.random((40, 70)), 0.01)
    r = solve(p, method=method, tol=1e-9)
    assert r.solution.shape == (40, 70)
    assert r.status == Status.CONVERGED and _err(p, r.solution) <= 1e-9
    assert np.all(r.solution[[0, 7]] == 0) and np.all(r.solution[:, [3, 50, 69]] == 0)
    f, g = r.stats["potentials"]
    assert not np.any(np.isnan(f)) and not np.any(np.isnan(g))


def test_helpers_point_clouds_and_images() -> None:
    rng = np.random.default_rng(0)
    p = OptimalTransport.from_point_clouds(rng.normal(size=(30, 2)), rng.normal(size=(40, 2)) + 1, 0.01)
    assert p.C.shape == (30, 40) and p.C.max() == pytest.approx(1.0)
    img = rng.random((6, 6)) + 0.01
    q = OptimalTransport.from_images(img, img[::-1], 0.01, ground="l1")
    assert q.C.shape == (36, 36) and q.C[0, 1] == pytest.approx(1 / 10)
    for prob in (p, q):
        r = solve(prob, tol=1e-9)
        assert r.status == Status.CONVERGED and _err(prob, r.solution) <= 1e-9


def test_torch_batch_agrees_with_numpy() -> None:
    pytest.importorskip("torch")
    from solvers.ot.torch_sinkhorn import solve_batch

    ps = [OptimalTransport.random(50, seed=s, reg=0.02) for s in range(3)]
    ps.append(OptimalTransport.random(30, seed=7, reg=0.05, m=20))
    out = solve_batch(ps, device="cpu", tol=1e-10)
    for p, r in zip(ps, out):
        assert r.status == Status.CONVERGED and _err(p, r.solution) <= 1e-10
        ref = solve(p, method="sns", tol=1e-10)
        assert np.abs(r.solution - ref.solution).max() < 1e-8
    r1 = solve(ps[0], method="sinkhorn-torch", tol=1e-10, device="cpu")
    assert np.abs(r1.solution - out[0].solution).max() < 1e-12


def test_history_and_stats() -> None:
    p = OptimalTransport.random(80, seed=2, reg=1e-3)
    r = solve(p, method="sns")
    assert r.history and r.history[-1][1] <= 1e-9
    for key in ("sinkhorn_iterations", "newton_iterations", "potentials", "marginal_error"):
        assert key in r.stats
    # every sweep counts (the paper's metric): stage-1 sweeps, Newton steps, sweeps between them
    assert r.iterations == (r.stats["sinkhorn_iterations"] + r.stats["newton_iterations"]
                            + r.stats["newton_sweeps"])


def test_time_limit_honoured() -> None:
    import time

    p = OptimalTransport.random(400, seed=0, reg=1e-4)
    t = time.perf_counter()
    r = solve(p, method="sinkhorn-log", time_limit=0.5, tol=1e-14)
    assert time.perf_counter() - t < 0.5 * 1.1 + 1.0
    assert r.status == Status.TIME_LIMIT and np.all(np.isfinite(r.solution))


def test_deterministic() -> None:
    p = OptimalTransport.random(150, seed=5, reg=1e-3)
    r1, r2 = solve(p, method="sns"), solve(p, method="sns")
    assert np.array_equal(r1.solution, r2.solution)


@pytest.mark.parametrize(
    "a, b, C, reg, msg",
    [
        ([0.5, 0.5], [-0.5, 1.5], np.ones((2, 2)), 0.1, "negative"),
        ([0.5, 0.5], [0.2, 0.2], np.ones((2, 2)), 0.1, "sum"),
        ([0.5, 0.5], [0.5, 0.5], [[0.0, np.nan], [1.0, 0.0]], 0.1, "NaN"),
        ([0.5, 0.5], [0.5, 0.5], np.ones((2, 2)), 0.0, "reg"),
        ([0.5, 0.5], [0.5, 0.5], np.ones((2, 2)), -1.0, "reg"),
        ([0.5, 0.5], [0.5, 0.5], np.ones((3, 2)), 0.1, "shape"),
    ],
)
def test_invalid_inputs(a, b, C, reg, msg) -> None:
    with pytest.raises(InvalidProblemError, match=msg):
        OptimalTransport(a, b, C, reg)


@pytest.mark.parametrize("opt", [{"tol": 0}, {"tol": -1.0}, {"max_iter": 0}, {"lam": 2.0}])
def test_bad_options(opt) -> None:
    p = OptimalTransport.random(10, seed=0, reg=0.1)
    with pytest.raises(ValueError):
        solve(p, method="sns", **opt)


@pytest.mark.parametrize("method", METHODS)
def test_callback_incumbent_is_the_full_plan(method: str) -> None:
    """History holds the L1 marginal error; a callback's incumbent is the current plan on the
    full grid (zero-mass bins included) whose error is the recorded value."""
    rng = np.random.default_rng(4)
    a, b = rng.random(20), rng.random(30)
    a[3], b[[0, 29]] = 0.0, 0.0
    p = OptimalTransport(a / a.sum(), b / b.sum(), rng.random((20, 30)), 0.02)
    seen = []
    r = solve(p, method=method, callback=seen.append, max_iter=None)
    assert r.status == Status.CONVERGED and r.history_label == "marginal error"
    last = seen[-1]
    assert last.incumbent.shape == (20, 30) and np.all(last.incumbent[3] == 0)
    assert _err(p, last.incumbent) == pytest.approx(last.objective, abs=1e-12)
    assert np.abs(last.incumbent - r.solution).max() < 1e-12
