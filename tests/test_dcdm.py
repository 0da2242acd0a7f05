"""DCDM (the nonlinear CNN, Algorithm 1) and learned-mg: networks, iterations, training."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import scipy.sparse.linalg as spla

from problems import InvalidProblemError, LinearSystem
from problems.linear import random_obstacles
from solvers import Status, solve

torch = pytest.importorskip("torch")


def obstacle_problem(n: int = 32, seed: int = 11, kind: str = "spheres"):
    mask = random_obstacles((n, n), kind=kind, density=0.2, seed=seed)
    return LinearSystem.poisson((n, n), mask, rhs="divergence", seed=seed)


def test_shipped_weights_load_without_network(monkeypatch):
    from learned.dcdm.cnn import DCDMCNN
    from learned.dcdm.lite import LiteSPDNet
    from learned.dcdm.model import load_model

    def no_network(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket, "socket", no_network)
    model = load_model(2)  # dcdm: the nonlinear CNN
    assert isinstance(model, DCDMCNN) and 2_000 <= model.n_parameters() <= 60_000
    for dim in (2, 3):
        for kind in ("learned-mg", "learned-mg-plain"):
            model = load_model(dim, kind=kind)
            assert isinstance(model, LiteSPDNet) and 2_000 <= model.n_parameters() <= 30_000


def test_dcdm_network_is_nonlinear_and_odd():
    """The shipped CNN is not a linear map (ReLU, biases) — the reason for Algorithm 1 — but
    f(−r) = −f(r) by construction, like A⁻¹."""
    from learned.dcdm.operators import network_operator

    p = obstacle_problem(32)
    f, _ = network_operator(p, linear=True)
    rng = np.random.default_rng(0)
    r, s = rng.standard_normal((2, p.size))
    np.testing.assert_allclose(f(-r), -f(r), rtol=1e-5, atol=1e-6 * np.abs(f(r)).max())
    lin = np.linalg.norm(f(r + s) - f(r) - f(s)) / np.linalg.norm(f(r + s))
    assert lin > 1e-2


def test_learned_mg_network_is_a_symmetric_positive_operator():
    """learned-mg's f(r) = Gᵀ G r: ⟨f(r), s⟩ = ⟨r, f(s)⟩ and ⟨f(r), r⟩ > 0 (PCG applies)."""
    from learned.dcdm.operators import network_operator

    p = obstacle_problem(24)
    f, _ = network_operator(p, kind="learned-mg-plain", linear=True)
    rng = np.random.default_rng(0)
    r, s = rng.standard_normal((2, p.size))
    fr, fs = f(r), f(s)
    assert np.isclose(fr @ s, fs @ r, rtol=1e-3)
    assert fr @ r > 0 and fs @ s > 0


@pytest.mark.parametrize("kind", ["spheres", "walls"])
@pytest.mark.parametrize("method", ["dcdm", "learned-mg"])
def test_learned_methods_agree_with_direct_solve(kind, method):
    p = obstacle_problem(40, kind=kind)
    x_ref = spla.spsolve(p.A.tocsc(), p.b)
    r = solve(p, method, tol=1e-8)
    assert r.status == Status.CONVERGED, r.message
    assert r.objective <= 1.5e-8
    assert np.linalg.norm(r.solution - x_ref) <= 1e-5 * np.linalg.norm(x_ref)
    res = r.stats["residuals"]
    assert len(res) == r.iterations and res[-1] <= 1e-8
    assert {"setup_time", "network_time", "solve_time"} <= set(r.stats)


def test_kept_directions_are_a_orthogonal():
    """Step 3: every direction is A-orthogonal to the k kept before it, p_iᵀ A p_j ≈ 0."""
    from learned.dcdm.operators import cached_model
    from learned.dcdm.solve import Direction, conjugate_directions, network_direction
    from solvers.context import SolveContext

    p = obstacle_problem(32)
    model = cached_model(2, None, "cpu")
    for kept in (1, 2, 4):
        for smooth in (0, 1):
            f, _, _ = network_direction(p, model, "cpu", smooth, None, linear=False)
            dirs: list = []
            conjugate_directions(p, SolveContext(), Direction(f), 1e-12, 15, None, kept, {}, record=dirs)
            assert len(dirs) == 15
            AP = [p.A @ d for d in dirs]
            for i in range(len(dirs)):
                for j in range(max(0, i - kept), i):
                    cos = dirs[i] @ AP[j] / np.sqrt((dirs[i] @ AP[i]) * (dirs[j] @ AP[j]))
                    assert abs(cos) < 1e-8, (kept, smooth, i, j, cos)
            r = solve(p, "dcdm", kept=kept, max_iter=15, tol=1e-12, smooth=smooth)
            assert r.iterations == 15 and r.stats["max_a_cosine"] < 1e-8


def unseen_problem(n: int = 64, seed: int = 31):
    """Hollow rings with a gap: an obstacle shape absent from training."""
    from benchmarks.linear import make_problem

    return make_problem(n, 2, "rings", "divergence", seed)


def test_shipped_weights_beat_untrained_weights_on_an_unseen_case():
    p = unseen_problem()
    shipped = solve(p, "dcdm", smooth=0, max_iter=600)
    untrained = solve(p, "dcdm", smooth=0, weights="untrained", max_iter=600)
    assert shipped.status == Status.CONVERGED
    assert untrained.status != Status.CONVERGED or untrained.iterations >= 2 * shipped.iterations


def test_dcdm_converges_on_an_unseen_geometry_larger_than_training():
    """160² (training grids are at most 96²), crosses: far fewer iterations than CG."""
    from benchmarks.linear import make_problem

    p = make_problem(160, 2, "crosses", "divergence", 123)
    dcdm = solve(p, "dcdm", max_iter=2000)
    cg = solve(p, "cg")
    assert dcdm.status == cg.status == Status.CONVERGED
    assert dcdm.iterations <= 0.25 * cg.iterations


def test_untrained_weights_are_deterministic_under_a_seed():
    from learned.dcdm.model import load_model

    p = obstacle_problem(24)
    a = solve(p, "dcdm", weights="untrained", seed=3, max_iter=20)
    b = solve(p, "dcdm", weights="untrained", seed=3, max_iter=20)
    c = solve(p, "dcdm", weights="untrained", seed=4, max_iter=20)
    np.testing.assert_array_equal(a.solution, b.solution)
    assert not np.array_equal(a.solution, c.solution)
    m1, m2 = load_model(2, "untrained", seed=7), load_model(2, "untrained", seed=7)
    for x, y in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(x, y)
    shipped = load_model(2)
    assert m1.config == shipped.config  # the same network as ships


def test_bad_weights_give_a_clear_error(tmp_path):
    p = obstacle_problem(16)
    for method in ("dcdm", "learned-mg"):
        with pytest.raises(ValueError, match="does not exist"):
            solve(p, method, weights=str(tmp_path / "missing.pt"))
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a DCDM weights file"):
        solve(p, "dcdm", weights=str(junk))
    with pytest.raises(ValueError, match="weights"):
        solve(p, "dcdm", weights=3)


@pytest.mark.parametrize("variant", ["fpcg", "pcg", "fcg"])
def test_network_inside_flexible_and_plain_pcg(variant):
    """The nonlinear net inside PCG: the flexible β converges; plain PCG (whose recurrences
    assume a fixed linear preconditioner) needs more iterations than Algorithm 1, or stalls."""
    p = obstacle_problem(32)
    r = solve(p, "dcdm", variant=variant, smooth=0, max_iter=400)
    assert r.stats["variant"] == variant
    if variant == "pcg":
        dcdm = solve(p, "dcdm", smooth=0)
        assert r.status != Status.CONVERGED or r.iterations > dcdm.iterations
    else:
        assert r.status == Status.CONVERGED and r.objective <= 1.5e-6


def test_dcdm_is_deterministic_and_honours_callbacks():
    p = obstacle_problem(32)
    a, b = solve(p, "dcdm"), solve(p, "dcdm")
    np.testing.assert_array_equal(a.solution, b.solution)
    seen = []

    def stop(info):
        seen.append(info["objective"])
        if len(seen) == 3:
            raise StopIteration

    r = solve(p, "dcdm", callback=stop)
    assert r.status == Status.INTERRUPTED and r.iterations == 3 and r.solution is not None


def test_dcdm_needs_a_grid_and_valid_options():
    p = obstacle_problem(16)
    for method in ("dcdm", "learned-mg"):
        with pytest.raises(InvalidProblemError, match="grid"):
            solve(LinearSystem(p.A, p.b), method)
    with pytest.raises(ValueError, match="variant"):
        solve(p, "dcdm", variant="bogus")
    with pytest.raises(ValueError, match="tol"):
        solve(p, "dcdm", tol=0)


def test_training_trains_the_shipped_network(tmp_path):
    """`optbox train dcdm`'s defaults build the network that ships (same architecture and
    configuration); a few seeded steps on a small Ritz pool lower the loss."""
    from learned.dcdm import train
    from learned.dcdm.model import load_model

    args = train.parse_args(["--dim", "2", "--sizes", "16", "--steps", "40", "--pool", "2",
                             "--vectors", "60", "--seed", "1", "--quiet", "--val-every", "0",
                             "--lr", "5e-3", "--out", str(tmp_path / "w.pt")])
    loss = train.train(args)["loss"]
    assert len(loss) == 40
    assert np.mean(loss[-5:]) < 0.95 * np.mean(loss[:5])
    trained = load_model(2, str(tmp_path / "w.pt"))
    assert trained.config == load_model(2).config


def test_training_the_learned_mg_network_lowers_the_loss(tmp_path):
    from learned.dcdm import train

    args = train.parse_args(["--arch", "lite", "--dim", "2", "--sizes", "16", "--steps", "30",
                             "--pool", "2", "--vectors", "60", "--seed", "1", "--quiet",
                             "--val-every", "0", "--lr", "5e-3", "--init", "random",
                             "--out", str(tmp_path / "w.pt")])
    loss = train.train(args)["loss"]
    assert np.mean(loss[-5:]) < 0.8 * np.mean(loss[:5])


def test_loss_is_zero_for_the_exact_inverse():
    from learned.dcdm.losses import dcdm_loss
    from learned.dcdm.stencil import apply_stencil

    p = obstacle_problem(12)
    x = spla.spsolve(p.A.tocsc(), p.b)
    d, w = p.grid.stencil(p.A)
    def t(a):
        return torch.from_numpy(np.asarray(a, dtype=np.float64))[None, None]

    q, r = t(p.grid.to_grid(3.0 * x)), t(p.grid.to_grid(p.b))
    Aq = apply_stencil(q, t(d), [t(v) for v in w])
    np.testing.assert_allclose(Aq.numpy()[0, 0][p.grid.mask], 3.0 * p.b, atol=1e-10)
    assert float(dcdm_loss(r, q, Aq)) < 1e-20


def test_energy_loss_matches_the_a_norm_error_of_one_line_search_step():
    """energy_loss = ‖e − αq‖²_A / ‖e‖²_A with e = A⁻¹r and α = qᵀr / qᵀAq (checked in numpy),
    and 0 for q = c·A⁻¹r."""
    from learned.dcdm.losses import energy_loss
    from learned.dcdm.stencil import apply_stencil

    p = obstacle_problem(12)
    d, w = p.grid.stencil(p.A)

    def t(a):
        return torch.from_numpy(np.asarray(a, dtype=np.float64))[None, None]

    rng = np.random.default_rng(0)
    r = p.b
    e = spla.spsolve(p.A.tocsc(), r)
    for q in (rng.standard_normal(p.size), 2.5 * e):
        alpha = (q @ r) / (q @ (p.A @ q))
        err = e - alpha * q
        want = (err @ (p.A @ err)) / (e @ r)
        qt = t(p.grid.to_grid(q))
        got = float(energy_loss(t(p.grid.to_grid(r)), qt, apply_stencil(qt, t(d), [t(v) for v in w]),
                                torch.tensor([e @ r], dtype=torch.float64)))
        assert got == pytest.approx(want, abs=1e-10)
    assert got < 1e-12


@pytest.mark.parametrize("arch", ["lite", "spd"])
def test_bpx_initialization_is_already_a_multilevel_preconditioner(tmp_path, arch):
    """The analytic starting point of training (init_bpx): far fewer iterations than CG
    at 64², and fewer than IC(0)-PCG."""
    from learned.dcdm.model import build_model, save_model

    path = tmp_path / "bpx.pt"
    save_model(build_model(arch, dim=2, c0=8, c1=16).init_bpx(), str(path))
    p = obstacle_problem(64, seed=5)
    dcdm = solve(p, "learned-mg", smooth=0, weights=str(path), device="cpu")
    cg, ic = solve(p, "cg"), solve(p, "pcg-ic")
    assert dcdm.status == Status.CONVERGED
    assert dcdm.iterations <= 0.35 * cg.iterations and dcdm.iterations < ic.iterations


def test_training_keeps_the_best_validated_weights(tmp_path):
    from learned.dcdm import train

    args = train.parse_args(["--dim", "2", "--sizes", "16", "--steps", "8", "--pool", "1",
                             "--vectors", "40", "--geoms", "1", "--per-geom", "2", "--seed", "2",
                             "--quiet", "--val-every", "4", "--val-size", "24", "--lr", "0.05",
                             "--out", str(tmp_path / "w.pt")])
    hist = train.train(args)
    ckpt = torch.load(str(tmp_path / "w.pt"), weights_only=True)
    from learned.dcdm.model import build_model, initial_model

    start = initial_model(ckpt["config"], 2)
    init_its = train.validation_iterations(start, train.validation_problems(2, 24, 2), "cpu", smooth=0)
    assert ckpt["meta"]["val_iterations"] == hist["best"][0] <= init_its
    model = build_model(**ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    its = train.validation_iterations(model, train.validation_problems(2, 24, 2), "cpu", smooth=0)
    assert its == hist["best"][0]


def _random_masked(shape, rng, dtype=None):
    mask = torch.from_numpy((rng.random(shape) > 0.2).astype(np.float32))[None, None]
    x, y = (torch.from_numpy(rng.standard_normal(shape).astype(np.float32))[None, None] * mask
            for _ in range(2))
    return mask, x, y


@pytest.mark.parametrize("shape", [(200, 200), (50, 37), (12, 12, 9), (34, 33, 30)])
def test_lite_network_is_spd_and_its_fast_path_matches_autograd(shape):
    """LiteSPDNet, f = Σ w_ℓ G_ℓᵀ G_ℓ with Gᵀ written out: ⟨x, f(y)⟩ = ⟨f(x), y⟩ and
    ⟨x, f(x)⟩ > 0 on random masked inputs (random weights, not the BPX start), on grids that
    take the nine-axpy stencil (≥ 32,768 cells), odd sizes (padded pooling) and 3-D; the
    inference path (cached kernels, stencils) equals the differentiable training path."""
    from learned.dcdm.model import build_model

    rng = np.random.default_rng(len(shape) + shape[0])
    model = build_model("lite", dim=len(shape), c0=8, c1=16, thin=2)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn_like(p))
        model.log_scale.zero_()
        model.log_slope.fill_(0.3)
    mask, x, y = _random_masked(shape, rng)
    with torch.inference_mode():
        gates = model.gates(mask)
        fx, fy = model.apply(x, gates), model.apply(y, gates)
        model.fused = False  # the torch inference path beside the fused numba one
        fx_torch = model.apply(x, gates)
        model.fused = True
    with torch.enable_grad():
        fx_train = model.apply(x, model.gates(mask)).detach()
    np.testing.assert_allclose(fx.numpy(), fx_torch.numpy(), rtol=1e-4, atol=1e-5 * float(fx.abs().max()))
    scale = float((fx * x).sum())
    assert scale > 0 and float((fy * y).sum()) > 0
    assert float((fx * y).sum()) == pytest.approx(float((fy * x).sum()), rel=1e-4, abs=1e-5 * scale)
    np.testing.assert_allclose(fx.numpy(), fx_train.numpy(), rtol=1e-4, atol=1e-5 * float(fx.abs().max()))
    assert float(fx[mask == 0].abs().max()) == 0.0  # nothing leaks into solid cells


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (5, 1), (2, 3), (7, 9), (16, 16), (33, 40)])
def test_fused_kernels_equal_the_torch_operations_and_their_adjoints(shape):
    """The numba kernels of the thin levels: stencil ⊙ gate equals conv2d (zero padding) times
    the gate, the flipped kernel is its exact adjoint, pooling and the prolongation-plus-sum
    equal ``pool_even`` / ``pool_adjoint``, and the fused level kernels compose them."""
    import torch.nn.functional as F

    from learned.dcdm import _fused as fk
    from learned.dcdm.layers import pool_adjoint, pool_even

    rng = np.random.default_rng(shape[0] * 100 + shape[1])

    def arr(*s):
        return rng.standard_normal(s).astype(np.float32)

    def t(a):
        return torch.from_numpy(a)[None, None]

    x, y, g, k = arr(*shape), arr(*shape), arr(*shape), arr(3, 3)
    kt = np.ascontiguousarray(k[::-1, ::-1])
    out = np.empty_like(x)
    fk.stencil_gate(x, k, g, out)
    want = (F.conv2d(t(x), t(k), padding=1) * t(g))[0, 0].numpy()
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    fk.stencil_gate(x, k, g, out, False)
    np.testing.assert_allclose(out, F.conv2d(t(x), t(k), padding=1)[0, 0].numpy(), rtol=1e-5, atol=1e-5)
    kty = np.empty_like(y)
    fk.stencil_gate(y, kt, g, kty, False)
    assert float((out.astype(np.float64) * y).sum()) == pytest.approx(
        float((x.astype(np.float64) * kty).sum()), rel=1e-5, abs=1e-5)
    coarse = ((shape[0] + 1) // 2, (shape[1] + 1) // 2)
    px = np.empty(coarse, np.float32)
    fk.pool_even(x, px)
    np.testing.assert_allclose(px, pool_even(t(x))[0, 0].numpy(), rtol=1e-6, atol=1e-6)
    z, gc = arr(*coarse), arr(*coarse)
    up = np.empty_like(x)
    fk.up_add(z, y, 0.7, up)
    np.testing.assert_allclose(up, (pool_adjoint(t(z), shape) + 0.7 * t(y))[0, 0].numpy(), rtol=1e-5, atol=1e-6)
    h = np.empty(coarse, np.float32)
    fk.pool_stencil_gate(x, k, gc, np.empty_like(h), h)
    np.testing.assert_allclose(h, (F.conv2d(pool_even(t(x)), t(k), padding=1) * t(gc))[0, 0].numpy(),
                               rtol=1e-5, atol=1e-5)
    fk.gate_stencil_up_add(z, gc, kt, y, 0.7, np.empty_like(z), np.empty_like(z), up)
    ref = pool_adjoint(F.conv2d(t(z) * t(gc), t(kt), padding=1), shape) + 0.7 * t(y)
    np.testing.assert_allclose(up, ref[0, 0].numpy(), rtol=1e-5, atol=1e-5)
    fk.gate_stencil_gate(x, g, kt, y, np.empty_like(x), out)
    ref = F.conv2d(t(x) * t(g), t(kt), padding=1) * t(y)
    np.testing.assert_allclose(out, ref[0, 0].numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 1, 3), (5, 6, 7), (8, 8, 8), (9, 4, 11)])
def test_fused_3d_kernels_equal_the_torch_operations_and_their_adjoints(shape):
    """3-D kernels: 27-point stencil ⊙ gate = conv3d (zero padding) times the gate, the flipped
    kernel is its exact adjoint, pooling / prolongation + level sum = ``_pool_even`` /
    ``_pool_adjoint``, and the fused level kernels compose them."""
    import torch.nn.functional as F

    from learned.dcdm import _fused as fk
    from learned.dcdm.layers import pool_adjoint, pool_even

    rng = np.random.default_rng(sum(shape))

    def arr(*s):
        return rng.standard_normal(s).astype(np.float32)

    def t(a):
        return torch.from_numpy(a)[None, None]

    x, y, g, k = arr(*shape), arr(*shape), arr(*shape), arr(3, 3, 3)
    kt = np.ascontiguousarray(k[::-1, ::-1, ::-1])
    out = np.empty_like(x)
    fk.stencil_gate3(x, k, g, out)
    np.testing.assert_allclose(out, (F.conv3d(t(x), t(k), padding=1) * t(g))[0, 0].numpy(), rtol=1e-5, atol=1e-5)
    fk.stencil_gate3(x, k, g, out, False)
    kty = np.empty_like(y)
    fk.stencil_gate3(y, kt, g, kty, False)
    assert float((out.astype(np.float64) * y).sum()) == pytest.approx(
        float((x.astype(np.float64) * kty).sum()), rel=1e-5, abs=1e-5)
    coarse = tuple((n + 1) // 2 for n in shape)
    px = np.empty(coarse, np.float32)
    fk.pool_even3(x, px)
    np.testing.assert_allclose(px, pool_even(t(x))[0, 0].numpy(), rtol=1e-6, atol=1e-6)
    z, gc = arr(*coarse), arr(*coarse)
    up = np.empty_like(x)
    fk.up_add3(z, y, 0.7, up)
    np.testing.assert_allclose(up, (pool_adjoint(t(z), shape) + 0.7 * t(y))[0, 0].numpy(), rtol=1e-5, atol=1e-6)
    h = np.empty(coarse, np.float32)
    fk.pool_stencil_gate3(x, k, gc, np.empty_like(h), h)
    np.testing.assert_allclose(h, (F.conv3d(pool_even(t(x)), t(k), padding=1) * t(gc))[0, 0].numpy(),
                               rtol=1e-5, atol=1e-5)
    fk.gate_stencil_up_add3(z, gc, kt, y, 0.7, np.empty_like(z), np.empty_like(z), up)
    ref = pool_adjoint(F.conv3d(t(z) * t(gc), t(kt), padding=1), shape) + 0.7 * t(y)
    np.testing.assert_allclose(up, ref[0, 0].numpy(), rtol=1e-5, atol=1e-5)
    fk.gate_stencil_gate3(x, g, kt, y, np.empty_like(x), out)
    ref = F.conv3d(t(x) * t(g), t(kt), padding=1) * t(y)
    np.testing.assert_allclose(out, ref[0, 0].numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(8, 8), (9, 7), (5, 6, 7)])
def test_pooling_adjoint_is_exact(shape):
    from learned.dcdm.layers import pool_adjoint, pool_even

    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.standard_normal(shape))[None, None]
    px = pool_even(x)
    y = torch.from_numpy(rng.standard_normal(px.shape[2:]))[None, None]
    assert float((px * y).sum()) == pytest.approx(float((x * pool_adjoint(y, shape)).sum()), rel=1e-12)


def test_lite_inference_cache_follows_weight_changes():
    """The cached kernels are keyed on the parameters' versions: loading other weights after an
    application changes the next result (no stale cache)."""
    from learned.dcdm.model import build_model

    rng = np.random.default_rng(5)
    mask, x, _ = _random_masked((24, 24), rng)
    a = build_model("lite", dim=2).init_bpx().eval()
    b = build_model("lite", dim=2).init_bpx(noise=0.3, seed=9).eval()
    with torch.inference_mode():
        before = a.apply(x, a.gates(mask))
        want = b.apply(x, b.gates(mask))
    a.load_state_dict(b.state_dict())
    with torch.inference_mode():
        after = a.apply(x, a.gates(mask))
    assert not torch.allclose(before, want)
    torch.testing.assert_close(after, want)


@pytest.mark.parametrize("dim", [2, 3])
def test_shipped_learned_mg_networks_are_the_thin_multilevel_ones(dim):
    """The shipped learned-mg models keep one channel on their finest levels (the cost driver
    on CPU) and learned more than their BPX start: the gates depend on the geometry."""
    from learned.dcdm.lite import LiteSPDNet
    from learned.dcdm.model import load_model

    model = load_model(dim, kind="learned-mg")
    assert isinstance(model, LiteSPDNet) and model.config["thin"] >= 2
    assert all(c.weight.shape[:2] == (1, 1) for c in model.convs[:model.config["thin"]])
    assert float(model.gate_out[0].weight.detach().abs().sum()) > 0


def test_dcdm_on_an_odd_non_square_grid_agrees_with_direct_solve():
    """Odd, unequal side lengths exercise the padded pooling and the mask pyramid end to end."""
    mask = random_obstacles((45, 62), kind="boxes", density=0.2, seed=4)
    p = LinearSystem.poisson((45, 62), mask, rhs="random", seed=4)
    r = solve(p, "dcdm", tol=1e-8)
    x_ref = spla.spsolve(p.A.tocsc(), p.b)
    assert r.status == Status.CONVERGED, r.message
    assert np.linalg.norm(r.solution - x_ref) <= 1e-5 * np.linalg.norm(x_ref)
    assert r.iterations <= 0.5 * solve(p, "cg", tol=1e-8).iterations
