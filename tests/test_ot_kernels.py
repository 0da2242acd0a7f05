"""SNS building blocks against brute force: scaling sweeps, marginals, sparsification threshold,
CG on the sparsified Newton system, and the solver's phase logic (switch, stall, eps ladder)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from problems import OptimalTransport
from solvers import Status, solve
from solvers.context import SolveContext
from solvers.ot import _kernels as K
from solvers.ot import newton, sampling, scaled
from solvers.ot._common import Reduced


def _err(p: OptimalTransport, P: np.ndarray) -> float:
    return float(np.abs(P.sum(1) - p.a).sum() + np.abs(P.sum(0) - p.b).sum())


def _state(n: int = 30, m: int = 25, reg: float = 0.05, seed: int = 0) -> scaled.Scaled:
    p = OptimalTransport.random(n, seed=seed, reg=reg, m=m)
    st = scaled.Scaled(Reduced(p))
    rng = np.random.default_rng(seed)
    st.u = rng.random(m) + 0.5
    st.v = rng.random(n) + 0.5
    return st


def test_ctransform_start_and_kernel() -> None:
    p = OptimalTransport.random(20, seed=3, reg=1e-3, m=15)
    f, g = K.ctransform_start(p.C)
    assert np.allclose(f, p.C.min(1)) and np.allclose(g, (p.C - f[:, None]).min(0))
    Km = np.empty(p.C.shape)
    K.build_kernel(p.C, f, g, p.reg, Km)
    assert np.allclose(Km, np.exp((f[:, None] + g[None, :] - p.C) / p.reg), rtol=1e-11, atol=1e-300)
    assert Km.max() <= 1.0 and np.all(Km.max(1) == 1.0) and np.all(Km.max(0) == 1.0)


def test_kernel_exp_is_accurate_and_clamped() -> None:
    """The vectorized exp of build_kernel: relative error ~1e-16 on exponents in [-700, 700]
    (against math.exp of the same argument), entries below e^-700 kept as e^-700 (never 0)."""
    rng = np.random.default_rng(7)
    x = np.concatenate([np.linspace(-750.0, 700.0, 4001), rng.uniform(-5, 5, 999)])
    C = -x[None, :].copy()  # f = g = 0, eps = 1: K = exp(-C) = exp(x)
    Km = np.empty(C.shape)
    K.build_kernel(C, np.zeros(1), np.zeros(x.size), 1.0, Km)
    ref = np.exp(np.clip(x, -700.0, 700.0))
    assert np.all(np.abs(Km[0] / ref - 1) < 1e-15)
    assert Km.min() > 0 and np.all(Km[0][x < -700] == np.exp(-700.0))
    assert Km[0][np.argmin(np.abs(x))] == np.exp(x[np.argmin(np.abs(x))])


def test_sweep_marginals_matches_numpy() -> None:
    st = _state()
    a, b = st.red.a, st.red.b
    u, v = st.u.copy(), st.v.copy()
    r, c = np.empty(u.size), np.empty(v.size)
    K.sweep_marginals(st.K, a, b, u, v, r, c)
    uu = a / (st.K @ st.v)
    vv = b / (st.K.T @ uu)
    P = uu[:, None] * st.K * vv[None, :]
    assert np.allclose(u, uu, rtol=1e-13) and np.allclose(v, vv, rtol=1e-13)
    assert np.allclose(r, P.sum(1), rtol=1e-13) and np.allclose(c, b, rtol=1e-13)


def test_scaling_sweeps_match_numpy() -> None:
    st = _state()
    a, b = st.red.a, st.red.b
    u, v = st.u.copy(), st.v.copy()
    errs = np.empty(5)
    assert K.scaling_sweeps(st.K, a, b, u, v, 5, 0.0, errs) == 5
    uu, vv = st.u.copy(), st.v.copy()
    for k in range(5):
        Kv = st.K @ vv
        assert errs[k] == pytest.approx(np.abs(uu * Kv - a).sum(), rel=1e-12)
        uu = a / Kv
        vv = b / (st.K.T @ uu)
    assert np.allclose(u, uu, rtol=1e-13) and np.allclose(v, vv, rtol=1e-13)
    # early stop leaves the scalings of the plan whose error was reported
    u2, v2 = st.u.copy(), st.v.copy()
    done = K.scaling_sweeps(st.K, a, b, u2, v2, 50, errs[2] * 1.000001, np.empty(50))
    assert done == 3


def test_marginals_plan_and_objective() -> None:
    st = _state()
    r, c = st.marginals()
    P = st.u[:, None] * st.K * st.v[None, :]
    assert np.allclose(r, P.sum(1), rtol=1e-13) and np.allclose(c, P.sum(0), rtol=1e-13)
    Pp = st.plan()
    assert np.allclose(Pp, P, rtol=1e-15)
    err, rr, cc = scaled.plan_error(st, st.red.a, st.red.b)
    assert err == pytest.approx(_err(st.red.problem, Pp), rel=1e-12)


@pytest.mark.parametrize("lam, drop", [(0.05, 0.5), (0.01, 1e-3), (0.5, 0.5)])
def test_threshold_keeps_top_fraction_and_mass(lam: float, drop: float) -> None:
    st = _state(40, 40, reg=0.02, seed=2)  # 1600 entries: the sample is the whole plan
    P = st.plan()
    tau = sampling.threshold(st, lam, drop)
    kept = P >= tau
    assert kept.sum() >= lam * P.size - 1
    assert P[~kept].sum() <= drop * P.sum() * (1 + 1e-12)
    indptr, indices, data = K.scaled_sparsify(st.K, st.u, st.v, tau)
    S = sp.csr_matrix((data, indices, indptr), shape=P.shape).toarray()
    differ = (S != 0) != kept  # only entries equal to tau up to rounding may fall either way
    assert np.allclose(P[differ], tau, rtol=1e-12)
    both = (S != 0) & kept
    assert np.allclose(S[both], P[both], rtol=1e-14)


@pytest.mark.parametrize("lam, drop", [(0.002, 1e-7), (0.01, 1e-3), (0.05, 0.5)])
def test_binned_threshold_is_conservative_and_close(lam: float, drop: float) -> None:
    """Large plans: the numba binned threshold keeps at least the exact sample quantiles' entries
    (tau <= exact tau) and is within one bin (2^(1/8)) of them."""
    st = _state(300, 200, reg=0.01, seed=3)  # 60000 entries > the sample
    st.u *= np.exp(np.random.default_rng(1).normal(size=st.u.size))  # a spread-out plan
    tau = sampling.threshold(st, lam, drop)
    w = sampling.sample(st)  # the same sampled entries, sorted descending
    s = w.size
    tau_k = w[min(max(int(round(lam * s)), 1), s) - 1]
    tail = np.cumsum(w[::-1])[::-1]
    keep = int(np.searchsorted(-tail, -drop * tail[0], side="right"))
    exact = min(tau_k, w[min(max(keep - 1, 0), s - 1)])
    assert exact * 2 ** (-1 / 8) * (1 - 1e-12) <= tau <= exact
    assert (w >= tau).sum() >= lam * s and w[w < tau].sum() <= drop * w.sum() * (1 + 1e-12)


def test_pcg_solves_shifted_newton_system() -> None:
    st = _state(30, 25, reg=0.05, seed=4)
    r, c = st.marginals()
    P = st.plan()
    tau = sampling.threshold(st, 0.2, 0.5)
    indptr, indices, data = K.scaled_sparsify(st.K, st.u, st.v, tau)
    S = sp.csr_matrix((data, indices, indptr), shape=P.shape).toarray()
    ga, gb = st.red.a - r, st.red.b - c
    sigma = 1e-3
    stats = {"cg_iterations": 0}
    x, y = newton.pcg(SolveContext(), indptr, indices, data, r * (1 + sigma), c * (1 + sigma), ga, gb,
                   1e-12, 500, stats)
    H = np.block([[np.diag(r * (1 + sigma)), S], [S.T, np.diag(c * (1 + sigma))]])
    z = np.linalg.solve(H, np.concatenate([ga, gb]))
    assert np.allclose(np.concatenate([x, y]), z, rtol=1e-7, atol=1e-9 * np.abs(z).max())
    assert 0 < stats["cg_iterations"] <= 500


def test_no_newton_where_sinkhorn_is_fast() -> None:
    """Large reg on uniform costs: the sweeps' rate reaches tol within the paper's N1 = 20
    sweeps (15 here), so the adaptive stage 1 tries no Newton step."""
    p = OptimalTransport.random(1000, seed=0, reg=1e-2)
    r = solve(p, method="sns", tol=1e-9)
    assert r.status == Status.CONVERGED and r.stats["newton_iterations"] == 0


def test_stall_goes_back_to_sweeps_and_converges() -> None:
    """stall=1 with a tiny kept fraction: Newton phases stall, sweeps take over, still converges."""
    p = OptimalTransport.random(80, seed=1, reg=2e-3)
    r = solve(p, method="sns", tol=1e-9, stall=1, lam=1e-3, eps_scaling=0.0)
    assert r.status == Status.CONVERGED and _err(p, r.solution) <= 1e-9
    ref = solve(p, method="sinkhorn-log", tol=1e-11, time_limit=30)
    if ref.status == Status.CONVERGED:
        assert np.abs(r.solution - ref.solution).max() < 1e-7


def test_eps_ladder_after_stall_on_image_cost() -> None:
    """L1 ground cost on a 12x12 grid at small reg: the first Newton phase stalls, the eps-scaling
    warm start runs once, and the plan matches log-domain Sinkhorn."""
    rng = np.random.default_rng(0)
    A, B = rng.random((12, 12)) + 0.05, rng.random((12, 12)) + 0.05
    p = OptimalTransport.from_images(A, B, 1e-3, ground="l1")
    r = solve(p, method="sns", tol=1e-9, stall=2)
    assert r.status == Status.CONVERGED and _err(p, r.solution) <= 1e-9
    if r.stats.get("newton_stalled"):
        assert r.stats.get("eps_ladder", 0) >= 1
    ref = solve(p, method="sns", tol=1e-11, eps_scaling=0.0)
    assert np.abs(r.solution - ref.solution).max() < 1e-7
    assert r.objective == pytest.approx(ref.objective, abs=1e-8)


def test_absorption_keeps_scalings_bounded() -> None:
    """Huge cost scale relative to reg: the scalings are absorbed into the potentials."""
    rng = np.random.default_rng(5)
    C = rng.random((30, 30)) * 50.0
    p = OptimalTransport(np.full(30, 1 / 30), np.full(30, 1 / 30), C, 1e-2)
    r = solve(p, method="sns", tol=1e-9)
    assert r.status == Status.CONVERGED and _err(p, r.solution) <= 1e-9
    f, g = r.stats["potentials"]
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(g))
    assert p.dual_objective(f, g) == pytest.approx(r.objective, abs=1e-7)
