"""DCDM's nonlinear CNN (``learned/dcdm/cnn.py``): the inference path computes the training
path's function, and the 3-D model ships and pays (issue 20)."""

from __future__ import annotations

import numpy as np
import pytest

from solvers import Status, solve

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("thin", [0, 1, 2])
@pytest.mark.parametrize("shape", [(64, 64), (50, 37), (130, 96), (16, 16, 16), (13, 10, 17)])
def test_inference_path_equals_the_training_path(shape, thin):
    """``apply_inference`` (cached geometry term, one-batch first and last layers, fused thin
    levels, channels-last convolutions) is the same map as the autograd path, to float32
    rounding, on even, odd and non-square grids; and its caches follow weight changes."""
    from learned.dcdm.model import initial_model

    dim = len(shape)
    net = initial_model({"arch": "cnn", "dim": dim, "c0": 4, "c1": 8, "c2": 8, "thin": thin}, 3).eval()
    gen = torch.Generator().manual_seed(0)
    mask = (torch.rand((1, 1, *shape), generator=gen) > 0.2).float()
    logk = torch.randn((1, 1, *shape), generator=gen) * mask
    r = torch.randn((1, 1, *shape), generator=gen) * mask
    with torch.no_grad():
        gates = net.gates(mask, logk)
    for _ in range(2):
        ref = net.apply(r, gates)  # grad enabled: the training path
        with torch.inference_mode():
            fast = net.apply(r, gates)
        scale = float(ref.detach().abs().max())
        assert scale > 0
        np.testing.assert_allclose(fast.numpy(), ref.detach().numpy(), atol=2e-5 * scale, rtol=0)
        with torch.no_grad():  # change every weight: the cached terms must follow
            for p in net.parameters():
                p.mul_(1.1).add_(0.01)


def unseen_3d(n: int, seed: int = 31):
    """Hollow rings with a gap in 3-D (tori-like shells), absent from training."""
    from benchmarks.linear import make_problem

    return make_problem(n, 3, "rings", "divergence", seed)


def test_3d_model_ships_and_beats_untrained_weights_on_an_unseen_case():
    from learned.dcdm.cnn import DCDMCNN
    from learned.dcdm.model import load_model

    model = load_model(3)
    assert isinstance(model, DCDMCNN) and model.dim == 3
    p = unseen_3d(20)
    shipped = solve(p, "dcdm", smooth=0, max_iter=400)
    untrained = solve(p, "dcdm", smooth=0, weights="untrained", max_iter=400)
    cg = solve(p, "cg")
    assert shipped.status == Status.CONVERGED, shipped.message
    assert untrained.status != Status.CONVERGED or untrained.iterations >= 2 * shipped.iterations
    assert shipped.iterations < cg.iterations


def test_3d_kept_directions_are_a_orthogonal():
    from learned.dcdm.operators import cached_model
    from learned.dcdm.solve import Direction, conjugate_directions, network_direction
    from solvers.context import SolveContext

    p = unseen_3d(12)
    model = cached_model(3, None, "cpu")
    f, _, _ = network_direction(p, model, "cpu", 0, None, linear=False)
    dirs: list = []
    conjugate_directions(p, SolveContext(), Direction(f), 1e-14, 12, None, 2, {}, record=dirs)
    AP = [p.A @ d for d in dirs]
    for i in range(len(dirs)):
        for j in range(max(0, i - 2), i):
            cos = dirs[i] @ AP[j] / np.sqrt((dirs[i] @ AP[i]) * (dirs[j] @ AP[j]))
            assert abs(cos) < 1e-8, (i, j, cos)


def test_validation_shapes_are_the_benchmarks_unseen_shapes():
    """``learned.dcdm.shapes`` builds the benchmark's rings and crosses (one function), seeded,
    with the asked solid fraction."""
    from benchmarks.linear import rings_and_crosses
    from learned.dcdm.shapes import unseen_obstacles

    assert rings_and_crosses is unseen_obstacles
    for kind in ("rings", "crosses"):
        for shape in ((24, 24, 24), (40, 31)):
            mask = unseen_obstacles(shape, kind, 7)
            assert mask.shape == shape and 0.2 <= 1 - mask.mean() < 0.4
            np.testing.assert_array_equal(mask, unseen_obstacles(shape, kind, 7))
            assert not np.array_equal(mask, unseen_obstacles(shape, kind, 8))
    with pytest.raises(ValueError, match="kind"):
        unseen_obstacles((8, 8), "spheres", 0)
