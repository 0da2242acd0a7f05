"""Grid Poisson problems, IC(0)-PCG, AMG-PCG, CG and the direct solve."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from problems import InvalidProblemError, LinearSystem
from problems.linear import divergence_rhs, random_coefficients, random_obstacles
from solvers import Status, available_methods, solve

ITERATIVE = ["cg", "pcg-ic", "amg"]


def obstacle_problem(n: int = 40, seed: int = 3, kind: str = "mixed", coeff: bool = False, **kw):
    mask = random_obstacles((n, n), kind=kind, density=0.25, seed=seed)
    k = random_coefficients((n, n), contrast=50, seed=seed) if coeff else None
    return LinearSystem.poisson((n, n), mask, rhs="divergence", coeff=k, seed=seed, **kw)


@pytest.mark.parametrize("kind", ["spheres", "boxes", "blobs", "walls"])
def test_poisson_with_obstacles_is_spd_and_pockets_are_removed(kind):
    p = obstacle_problem(kind=kind, coeff=True, neumann=[(0, 0), (1, 1)])
    A = p.A.toarray()
    np.testing.assert_allclose(A, A.T)
    assert np.linalg.eigvalsh(A)[0] > 1e-8
    # every fluid cell is connected to a Dirichlet face (x = 0 high end or y = 0 low end)
    g = p.grid
    assert g.mask.sum() == p.size and np.all(g.index[g.mask] >= 0) and np.all(g.index[~g.mask] == -1)


def test_stencil_reproduces_the_matrix():
    p = obstacle_problem(coeff=True)
    diag, w = p.grid.stencil(p.A)
    x = np.random.default_rng(0).standard_normal(p.size)
    f = p.grid.to_grid(x)
    Af = diag * f
    Af[:-1] -= w[0] * f[1:]
    Af[1:] -= w[0] * f[:-1]
    Af[:, :-1] -= w[1] * f[:, 1:]
    Af[:, 1:] -= w[1] * f[:, :-1]
    np.testing.assert_allclose(p.grid.from_grid(Af), p.A @ x, atol=1e-12)


def test_3d_poisson_is_seven_point():
    p = LinearSystem.poisson((6, 5, 4))
    assert p.size == 120
    assert p.A.nnz == 120 + 2 * (5 * 5 * 4 + 6 * 4 * 4 + 6 * 5 * 3)
    assert spla.eigsh(p.A, k=1, sigma=0, which="LM")[0][0] > 0


def test_generators_are_seeded_and_divergence_rhs_lives_on_fluid():
    a = random_obstacles((32, 32), seed=7)
    b = random_obstacles((32, 32), seed=7)
    np.testing.assert_array_equal(a, b)
    assert 0.05 < 1 - random_obstacles((64, 64), kind="spheres", density=0.2, seed=1).mean() < 0.4
    div = divergence_rhs(a, seed=2)
    assert np.all(div[~a] == 0) and np.all(np.isfinite(div)) and np.abs(div).max() > 0


@pytest.mark.parametrize("method", ITERATIVE)
def test_iterative_methods_agree_with_direct_solve(method):
    p = obstacle_problem(n=48, coeff=True)
    x_ref = spla.spsolve(p.A.tocsc(), p.b)
    r = solve(p, method, tol=1e-8)
    assert r.status == Status.CONVERGED
    assert r.objective <= 1e-8 * 1.5
    assert np.linalg.norm(r.solution - x_ref) <= 1e-5 * np.linalg.norm(x_ref)
    res = r.stats["residuals"]
    assert len(res) == r.iterations and res[-1] <= 1e-8


def test_cg_takes_scipys_iterates():
    """``cg`` runs the shared PCG loop with M = I; it must match scipy's CG step for step."""
    p = obstacle_problem(n=40, coeff=True)
    scipy_iterates: list[np.ndarray] = []
    spla.cg(p.A, p.b, rtol=1e-7, atol=0.0, maxiter=10_000,
            callback=lambda xk: scipy_iterates.append(xk.copy()))
    r = solve(p, "cg", tol=1e-7)
    assert r.status == Status.CONVERGED
    assert abs(r.iterations - len(scipy_iterates)) <= 1
    x_ref = scipy_iterates[min(r.iterations, len(scipy_iterates)) - 1]
    assert np.linalg.norm(r.solution - x_ref) <= 1e-6 * np.linalg.norm(x_ref)
    # the recorded (recursive) residuals are the true ones up to rounding along the way
    k = len(scipy_iterates) // 2
    true_k = np.linalg.norm(p.b - p.A @ scipy_iterates[k - 1]) / np.linalg.norm(p.b)
    assert r.stats["residuals"][k - 1] == pytest.approx(true_k, rel=1e-6)


def test_preconditioners_cut_iterations():
    p = obstacle_problem(n=64)
    its = {m: solve(p, m).iterations for m in ITERATIVE}
    assert its["pcg-ic"] < its["cg"] / 2
    assert its["amg"] < its["pcg-ic"] / 3


def test_ic0_is_exact_cholesky_on_a_tridiagonal_matrix():
    n = 50
    A = sp.diags([-np.ones(n - 1), 2.5 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1], format="csr")
    from solvers.linear.precond import ic0

    M = ic0(A, "double")
    b = np.random.default_rng(1).standard_normal(n)
    np.testing.assert_allclose(M(b), np.linalg.solve(A.toarray(), b), rtol=1e-10)
    r = solve(LinearSystem(A, b), "pcg-ic", tol=1e-10, precision="double")
    assert r.iterations == 1
    # the float32 factor is exact to float32 rounding, and CG (float64) still reaches 1e-10
    np.testing.assert_allclose(ic0(A, "single")(b), np.linalg.solve(A.toarray(), b), rtol=1e-5)
    r = solve(LinearSystem(A, b), "pcg-ic", tol=1e-10)
    assert r.status == Status.CONVERGED and r.iterations <= 3


def test_single_precision_ic0_takes_the_iterations_of_double_on_an_obstacle_grid():
    """Mixed precision changes the preconditioner by rounding only: same iteration count to
    within one, the same solution to the tolerance (the true residual is checked in float64)."""
    p = obstacle_problem(n=48, coeff=True)
    single = solve(p, "pcg-ic", tol=1e-9)
    double = solve(p, "pcg-ic", tol=1e-9, precision="double")
    assert single.status == double.status == Status.CONVERGED
    assert abs(single.iterations - double.iterations) <= 1
    res = np.linalg.norm(p.b - p.A @ single.solution) / np.linalg.norm(p.b)
    assert res <= 1e-9


def test_indefinite_matrix_gives_error_status_not_a_crash():
    A = sp.csr_matrix(np.array([[1.0, 2.0], [2.0, 1.0]]))
    p = LinearSystem(A, [1.0, 0.0])
    r = solve(p, "pcg-ic")
    assert r.status == Status.ERROR and "positive definite" in r.message
    r = solve(p, "amg")
    assert r.status != Status.CONVERGED or r.objective <= 1e-6


@pytest.mark.parametrize("A, b, match", [
    (np.ones((3, 4)), np.ones(3), "square"),
    (np.array([[2.0, 1.0], [0.0, 2.0]]), np.ones(2), "symmetric"),
    (np.array([[2.0, np.nan], [np.nan, 2.0]]), np.ones(2), "NaN|finite"),
    (np.eye(3), np.ones(4), "entries"),
    (np.eye(2), np.array([1.0, np.inf]), "NaN|finite|inf"),
    (np.array([[-1.0, 0.0], [0.0, 1.0]]), np.ones(2), "positive definite"),
])
def test_bad_systems_give_clear_errors(A, b, match):
    with pytest.raises(InvalidProblemError, match=match):
        LinearSystem(A, b)


def test_bad_poisson_inputs_give_clear_errors():
    with pytest.raises(InvalidProblemError, match="rhs"):
        LinearSystem.poisson((8, 8), rhs=np.ones(5))
    with pytest.raises(InvalidProblemError, match="coeff"):
        LinearSystem.poisson((8, 8), coeff=-np.ones((8, 8)))
    with pytest.raises(InvalidProblemError, match="Neumann"):
        LinearSystem.poisson((8, 8), neumann=[(0, 0), (0, 1), (1, 0), (1, 1)])
    with pytest.raises(InvalidProblemError, match="rhs"):
        LinearSystem.poisson((8, 8), rhs="sideways")
    for shape in [(8.5, 8), (8,), (8, 0), 8, ("a", 8)]:
        with pytest.raises(InvalidProblemError, match="shape"):
            LinearSystem.poisson(shape)
    with pytest.raises(InvalidProblemError, match="mask"):
        LinearSystem.poisson((8, 8), np.full((8, 8), 0.5))
    assert LinearSystem.poisson((8, 8), np.ones((8, 8), dtype=np.uint8)).size == 64


@pytest.mark.parametrize("method", ["pcg-ic", "amg"])
def test_bad_options_raise_value_error(method):
    p = LinearSystem.poisson((8, 8))
    with pytest.raises(ValueError, match="tol"):
        solve(p, method, tol=-1)
    with pytest.raises(ValueError, match="max_iter"):
        solve(p, method, max_iter=0)


def test_matrix_market_round_trip(tmp_path):
    p = obstacle_problem(n=20)
    p.to_file(tmp_path / "sys.mtx")
    q = LinearSystem.from_file(tmp_path / "sys.mtx")
    assert (q.A - p.A).count_nonzero() == 0
    np.testing.assert_allclose(q.b, p.b)


def test_matrix_market_without_rhs_file(tmp_path):
    """Without ``_b.mtx`` the rhs is A·1; a non-square matrix is named as such."""
    import scipy.io

    p = obstacle_problem(n=12)
    scipy.io.mmwrite(str(tmp_path / "a.mtx"), p.A)
    q = LinearSystem.from_file(tmp_path / "a.mtx")
    np.testing.assert_allclose(q.b, p.A @ np.ones(p.size))
    scipy.io.mmwrite(str(tmp_path / "wide.mtx"), sp.random(3, 5, density=0.5, random_state=0))
    with pytest.raises(InvalidProblemError, match="square"):
        LinearSystem.from_file(tmp_path / "wide.mtx")


@pytest.mark.parametrize("method", ["pcg-ic", "amg"])
def test_time_limit_is_honoured(method):
    p = LinearSystem.poisson((300, 300), random_obstacles((300, 300), seed=1))
    r = solve(p, method, time_limit=0.2, tol=1e-300, max_iter=10**6)
    assert r.status == Status.TIME_LIMIT and r.solution is not None
    assert r.runtime < 0.2 * 1.1 + 1.0


def test_defaults_direct_small_amg_large_grid():
    from solvers.registry import registry

    small = LinearSystem.poisson((20, 20))
    big = LinearSystem.poisson((100, 100))
    names = {m.name for m in available_methods(big)} if not isinstance(
        available_methods(big)[0], str) else set(available_methods(big))
    assert {"cg", "pcg-ic", "amg", "direct", "dcdm"} <= names

    def default(p):
        ranked = [(s.default_rank(p), s.name) for s in registry().values()
                  if s.accepts(p) and s.default_rank and s.default_rank(p) is not None]
        return max(ranked)[1]

    assert default(small) == "direct"
    assert default(big) == "amg"
    assert default(LinearSystem(big.A, big.b)) == "pcg-ic"


@pytest.mark.parametrize("method", ["cg", "pcg-ic", "direct"])
def test_history_is_the_relative_residual(method):
    p = obstacle_problem(n=24)
    r = solve(p, method, **({} if method == "direct" else {"tol": 1e-8}))
    assert r.history_label == "relative residual"
    assert [h[1] for h in r.history] == pytest.approx(r.stats["residuals"])
    assert r.history[-1][1] == pytest.approx(r.objective, rel=1e-3, abs=1e-12)


def test_x0_is_checked_and_used():
    p = obstacle_problem(n=16)
    with pytest.raises(ValueError, match="x0"):
        solve(p, "cg", x0=np.full(p.size, np.nan))
    with pytest.raises(ValueError, match="x0"):
        solve(p, "pcg-ic", x0=np.zeros(p.size + 1))
    exact = spla.spsolve(p.A.tocsc(), p.b)
    r = solve(p, "cg", x0=exact, tol=1e-6)
    assert r.status == Status.CONVERGED and r.iterations == 0


def test_flexible_pcg_with_a_fixed_preconditioner_takes_the_same_steps():
    """Polak–Ribière β equals Fletcher–Reeves β when M is fixed (zᵀr_old = 0 in exact arithmetic)."""
    from solvers.context import SolveContext
    from solvers.linear.pcg import pcg
    from solvers.linear.precond import ic0

    p = obstacle_problem(n=32, coeff=True)
    M = ic0(p.A)
    plain = pcg(p, SolveContext(), M, 1e-8, 1000, None, {})
    flex = pcg(p, SolveContext(), M, 1e-8, 1000, None, {}, flexible=True)
    assert plain.status == flex.status == Status.CONVERGED
    assert abs(plain.iterations - flex.iterations) <= 1
    np.testing.assert_allclose(flex.solution, plain.solution, rtol=1e-6, atol=1e-8 * np.abs(plain.solution).max())


def test_direct_solve_refuses_a_grid_whose_lu_factor_cannot_fit(monkeypatch):
    """The fill prediction is within 2x of SuperLU's actual factor on an unseen grid, and a
    factor larger than the available memory is refused before the factorization."""
    from solvers.linear import direct

    p = obstacle_problem(n=96, seed=5)
    lu = spla.splu(p.A.tocsc())
    actual = direct.BYTES_PER_ENTRY * (lu.L.nnz + lu.U.nnz)
    assert 0.5 <= direct.predicted_factor_bytes(p) / actual <= 2.0
    monkeypatch.setattr(direct, "available_memory", lambda: actual / 10)
    with pytest.raises(InvalidProblemError, match="GiB for its LU factor"):
        solve(p, "direct")
    monkeypatch.setattr(direct, "available_memory", lambda: actual * 10)
    assert solve(p, "direct").status == Status.OPTIMAL
