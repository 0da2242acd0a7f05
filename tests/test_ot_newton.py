"""Sinkhorn-Newton-Sparse (solvers/ot/newton_sparse.py and its stages) and log-domain robustness."""

from __future__ import annotations

import time

import numpy as np
import pytest

from problems import InvalidProblemError, OptimalTransport
from solvers import Status, solve


def _err(p: OptimalTransport, P: np.ndarray) -> float:
    return float(np.abs(P.sum(1) - p.a).sum() + np.abs(P.sum(0) - p.b).sum())


def _pot_plan(p: OptimalTransport) -> np.ndarray:
    ot = pytest.importorskip("ot")
    return ot.sinkhorn(p.a, p.b, p.C, p.reg, method="sinkhorn_log", stopThr=1e-13, numItermax=200_000)


@pytest.mark.parametrize("opts", [{"cg_maxit": 3}, {"lam": 1.0}, {"lam": 0.01, "n1": 5}])
def test_newton_system_paths_agree_with_pot(opts: dict) -> None:
    """Very inexact CG steps, dense Hessian, very sparse Hessian from a short warm start."""
    p = OptimalTransport.random(50, seed=4, reg=0.02, m=40)
    ref = _pot_plan(p)
    r = solve(p, method="sns", tol=1e-10, **opts)
    assert r.status == Status.CONVERGED
    assert _err(p, r.solution) <= 1e-10
    assert np.abs(r.solution - ref).max() < 1e-8
    assert r.objective == pytest.approx(p.objective(ref), abs=1e-9)


def test_newton_stage_is_used_and_fast_in_paper_regime() -> None:
    p = OptimalTransport.random(150, seed=2, reg=1 / 1200)
    r = solve(p, method="sns", tol=1e-9)
    assert r.status == Status.CONVERGED
    assert 0 < r.stats["newton_iterations"] < 100
    errs = [h[1] for h in r.history]
    assert errs[-1] <= 1e-9 and all(np.isfinite(errs))


@pytest.mark.parametrize("method", ["sns", "sinkhorn", "sinkhorn-log"])
def test_reg_1e4_scaled_costs_no_nan(method: str) -> None:
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(30, 2)) + 1.0
    C = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    C /= C.max()
    p = OptimalTransport(np.full(40, 1 / 40), np.full(30, 1 / 30), C, 1e-4)
    r = solve(p, method=method, tol=1e-9, time_limit=5)
    assert np.all(np.isfinite(r.solution)) and np.isfinite(r.objective)
    f, g = r.stats["potentials"]
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(g))
    if method == "sns":  # the links between nearly disconnected blocks are kept: Newton finishes
        assert r.status == Status.CONVERGED and r.runtime < 2.0
    if r.status == Status.CONVERGED:
        assert _err(p, r.solution) <= 1e-9


def test_zero_mass_bins_rectangular() -> None:
    rng = np.random.default_rng(1)
    a = rng.random(25)
    a[[0, 7]] = 0.0
    b = rng.random(35)
    b[[3, 4, 34]] = 0.0
    a, b = a / a.sum(), b / b.sum()
    p = OptimalTransport(a, b, rng.random((25, 35)), 5e-3)
    r = solve(p, method="sns", tol=1e-9)
    assert r.status == Status.CONVERGED
    P = r.solution
    assert P.shape == (25, 35)
    assert np.all(P[[0, 7], :] == 0) and np.all(P[:, [3, 4, 34]] == 0)
    assert _err(p, P) <= 1e-9


@pytest.mark.parametrize("method", ["sns", "sinkhorn-log"])
def test_time_limit_small_reg(method: str) -> None:
    p = OptimalTransport.random(800, seed=1, reg=1e-4)
    solve(OptimalTransport.random(10, seed=0, reg=0.1), method=method)  # compile kernels first
    t = time.perf_counter()
    r = solve(p, method=method, time_limit=0.5, tol=1e-12)
    assert time.perf_counter() - t <= 0.5 * 1.1 + 1.0
    assert r.status in (Status.TIME_LIMIT, Status.CONVERGED)
    assert np.all(np.isfinite(r.solution))


@pytest.mark.parametrize("opt", [{"lam": 0.0}, {"lam": 2.0}, {"n1": -1}, {"cg_maxit": 0},
                                 {"switch_after": 0.0}, {"tol": -1.0}])
def test_bad_sns_options(opt: dict) -> None:
    with pytest.raises(ValueError):
        solve(OptimalTransport.random(10, seed=0, reg=0.1), method="sns", **opt)


@pytest.mark.parametrize("bad", ["neg", "sum", "nan", "reg"])
def test_invalid_inputs(bad: str) -> None:
    a, b, C, reg = np.full(3, 1 / 3), np.full(3, 1 / 3), np.ones((3, 3)), 0.1
    if bad == "neg":
        a = np.array([0.5, 0.6, -0.1])
    elif bad == "sum":
        b = np.full(3, 0.5)
    elif bad == "nan":
        C = C.copy()
        C[1, 1] = np.nan
    else:
        reg = 0.0
    with pytest.raises(InvalidProblemError):
        OptimalTransport(a, b, C, reg)


@pytest.mark.parametrize("n,lam", [(120, None), (90, 0.05)])
def test_paper_sparsification_keeps_exactly_the_stated_density(n: int, lam: float | None) -> None:
    """sparsify="paper" (Alg. 1 line 7): every Newton step keeps exactly round(lam*m*n) plan
    entries (lam = 2/n by default), the largest ones, and the solve still converges."""
    from solvers.ot._common import Reduced
    from solvers.ot.sampling import top_entries
    from solvers.ot.scaled import Scaled

    p = OptimalTransport.random(n, seed=1, reg=1e-3)
    r = solve(p, method="sns", tol=1e-9, sparsify="paper", lam=lam)
    want = round((2.0 / n if lam is None else lam) * n * n)
    assert r.status == Status.CONVERGED and r.stats["newton_iterations"] > 0
    assert r.stats["nnz_last"] == want
    st = Scaled(Reduced(p))
    st.u = np.random.default_rng(0).uniform(0.5, 2.0, n)
    indptr, indices, data = top_entries(st, 2.0 / n)
    P = st.plan()
    assert data.size == indptr[-1] == 2 * n
    kept = np.zeros(P.shape, bool)
    kept[np.repeat(np.arange(n), np.diff(indptr)), indices] = True
    assert P[kept].min() >= P[~kept].max()  # the largest entries
    assert np.allclose(P[kept], data)


def _clouds(seed: int, n: int = 200, reg: float = 1e-3) -> OptimalTransport:
    rng = np.random.default_rng(seed)
    return OptimalTransport.from_point_clouds(rng.random((n, 2)), rng.random((n, 2)), reg)


def test_adaptive_stage1_beats_the_fixed_n1_20() -> None:
    """The default stage 1 (n1=None) tries Newton after 5 sweeps and keeps it: it converges to
    1e-9 with fewer passes (every sweep counted) than the paper's fixed N1 = 20."""
    p = _clouds(0)
    r, fixed = solve(p, method="sns", tol=1e-9), solve(p, method="sns", tol=1e-9, n1=20)
    assert r.status == fixed.status == Status.CONVERGED
    assert _err(p, r.solution) <= 1e-9 and r.iterations < fixed.iterations
    assert r.stats["stage1_sweeps"] == 5 and "stage1_retreat" not in r.stats
    assert r.objective == pytest.approx(fixed.objective, abs=1e-8)


def test_adaptive_stage1_retreats_when_the_probe_loses() -> None:
    """A probing Newton step that contracts the error less per pass than the sweeps sends the
    solve back to sweeps up to N1 = 20: then it costs at most the probe's two passes more."""
    p = _clouds(1)
    r, fixed = solve(p, method="sns", tol=1e-9), solve(p, method="sns", tol=1e-9, n1=20)
    assert r.status == Status.CONVERGED and r.stats.get("stage1_retreat") is True
    assert r.stats["stage1_sweeps"] >= 20 and r.iterations <= fixed.iterations + 2


@pytest.mark.parametrize("k", [1, 5, 20, 37])
def test_fixed_n1_runs_exactly_n1_sweeps_before_newton(k: int) -> None:
    """n1=k is the paper's N1: exactly k Sinkhorn sweeps, then the first Newton step."""
    r = solve(_clouds(0), method="sns", tol=1e-9, n1=k)
    assert r.status == Status.CONVERGED
    assert r.stats["stage1_sweeps"] == k and "stage1_retreat" not in r.stats
