"""Batched torch Sinkhorn + Newton (solvers/ot/torch_newton.py) against the numpy sns path."""

from __future__ import annotations

import numpy as np
import pytest

from problems import OptimalTransport
from solvers import Status, solve

torch = pytest.importorskip("torch")

from solvers.ot.torch_newton import run_batch, solve_batch_sns  # noqa: E402
from solvers.ot.torch_sinkhorn import solve_batch  # noqa: E402


def _err(p: OptimalTransport, P: np.ndarray) -> float:
    return float(np.abs(P.sum(1) - p.a).sum() + np.abs(P.sum(0) - p.b).sum())


def _batch() -> list[OptimalTransport]:
    ps = [OptimalTransport.random(40, seed=s, reg=r) for s, r in enumerate([1e-3, 5e-3, 2e-2])]
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 1.0
    ps.append(OptimalTransport.from_point_clouds(x, y, 2e-3))
    a, b = rng.random(40), rng.random(40)
    a[[0, 13]] = 0.0  # zero-mass bins inside a batch of full-support problems
    b[[5, 39]] = 0.0
    ps.append(OptimalTransport(a / a.sum(), b / b.sum(), ps[0].C, 1e-2))
    return ps


@pytest.mark.parametrize("linsolve", ["direct", "cg"])
def test_batch_newton_agrees_with_numpy_sns(linsolve: str) -> None:
    ps = _batch() if linsolve == "direct" else _batch()[1:]  # CG: skip the slowest (reg 1e-3)
    out = solve_batch_sns(ps, device="cpu", tol=1e-10, linsolve=linsolve, cg_maxit=400)
    for p, r in zip(ps, out):
        assert r.status == Status.CONVERGED, r.summary()
        assert _err(p, r.solution) <= 1e-10
        ref = solve(p, method="sns", tol=1e-10)
        assert np.abs(r.solution - ref.solution).max() < 1e-8
        assert r.objective == pytest.approx(ref.objective, abs=1e-9)
        assert r.stats["newton_iterations"] > 0 or r.stats["sinkhorn_iterations"] > 0
        assert r.stats["device"] == "cpu" and r.stats["batch_size"] == len(ps)
    assert np.all(out[-1].solution[[0, 13]] == 0) and np.all(out[-1].solution[:, [5, 39]] == 0)


def test_batch_newton_takes_newton_steps_and_few_iterations() -> None:
    """Paper regime: a short Sinkhorn warm start, then tens of Newton steps at most."""
    ps = [OptimalTransport.random(50, seed=s, reg=1 / 1200) for s in range(3)]
    res = run_batch(np.stack([p.a for p in ps]), np.stack([p.b for p in ps]),
                    np.stack([p.C for p in ps]), np.array([p.reg for p in ps]), tol=1e-9,
                    n1=20, device="cpu")
    assert np.all(res["error"] <= 1e-9)
    assert np.all(res["newton_iterations"] > 0) and np.all(res["newton_iterations"] < 100)
    assert np.all(res["sinkhorn_iterations"] == 20)


def test_batch_newton_mixed_shapes_and_sparsified_hessian() -> None:
    ps = [OptimalTransport.random(30, seed=1, reg=0.01, m=20), OptimalTransport.random(25, seed=2, reg=0.01),
          OptimalTransport.random(30, seed=3, reg=0.02, m=20)]
    out = solve_batch(ps, device="cpu", tol=1e-10, method="sns", lam=0.2)
    for p, r in zip(ps, out):
        assert r.solution.shape == p.shape
        assert r.status == Status.CONVERGED and _err(p, r.solution) <= 1e-10
        ref = solve(p, method="sinkhorn-log", tol=1e-11)
        assert np.abs(r.solution - ref.solution).max() < 1e-8
    assert out[0].stats["batch_size"] == 2 and out[1].stats["batch_size"] == 1


def test_batch_newton_options_and_limits() -> None:
    ps = [OptimalTransport.random(20, seed=0, reg=0.05)]
    with pytest.raises(ValueError):
        solve_batch_sns(ps, lam=0.0)
    with pytest.raises(ValueError):
        solve_batch_sns(ps, tol=-1.0)
    with pytest.raises(ValueError):
        solve_batch_sns(ps, linsolve="qr")
    with pytest.raises(ValueError):
        solve_batch(ps, method="newton")
    with pytest.raises(TypeError):
        solve_batch_sns([object()])  # type: ignore[list-item]
    r = solve_batch_sns([OptimalTransport.random(30, seed=1, reg=1e-4)], max_iter=1, n1=1, device="cpu")[0]
    assert r.status == Status.ITERATION_LIMIT and np.all(np.isfinite(r.solution))
    assert r.stats["newton_iterations"] <= 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_batch_newton_cuda_matches_cpu() -> None:
    ps = _batch()
    gpu = solve_batch_sns(ps, device="cuda", tol=1e-10)
    cpu = solve_batch_sns(ps, device="cpu", tol=1e-10)
    for rg, rc in zip(gpu, cpu):
        assert rg.stats["device"].startswith("cuda")
        assert np.abs(rg.solution - rc.solution).max() < 1e-9


def test_sparse_and_dense_newton_systems_agree() -> None:
    """linsolve="sparse" (row-wise top-k Hessian, Schur CG with gather/scatter products) and the
    dense Schur LU reach the same plans: marginal error <= tol and the same objective to 1e-8."""
    ps = _batch()
    sparse = solve_batch_sns(ps, device="cpu", tol=1e-9, linsolve="sparse")
    dense = solve_batch_sns(ps, device="cpu", tol=1e-9, linsolve="direct")
    for p, rs, rd in zip(ps, sparse, dense):
        assert rs.status == rd.status == Status.CONVERGED
        assert _err(p, rs.solution) <= 1e-9 and _err(p, rd.solution) <= 1e-9
        assert rs.objective == pytest.approx(rd.objective, abs=1e-8)
    assert 0 < sparse[0].stats["cg_iterations"]


def test_sparse_rows_keep_the_largest_entries_and_the_mass() -> None:
    from solvers.ot.torch_sparse import sparsify_rows

    P = torch.rand(2, 30, 200, dtype=torch.float64) ** 20
    vals, idx, k = sparsify_rows(P, torch.tensor([0.05, 0.05], dtype=torch.float64), 2)
    assert 2 <= k <= 32 and vals.shape == idx.shape == (2, 30, k)
    assert torch.equal(P.gather(2, idx), vals)
    assert bool((vals.sum((1, 2)) >= 0.95 * P.sum((1, 2))).all())
    assert bool((vals.min(2).values >= P.sort(2, descending=True).values[:, :, k - 1] - 1e-15).all())
