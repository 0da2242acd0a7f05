"""DCDM: the deep conjugate direction method (Kaneda et al., ICML 2023) for grid Poisson systems.

Algorithm 1 of the paper (and the reference ``DCDM`` loop, k = 2 kept directions):

1. ``r_k = r_{k−1} − α A d`` (the product ``A d`` is already there from step 4; the true
   residual ``b − A x_k`` is recomputed every 50 steps and whenever the recursive one meets
   ``tol``, so that the stopping test is on the true residual — one mat-vec per step instead of
   two);
2. ``d = f(r_k / ‖r_k‖)`` — the CNN of ``learned/dcdm`` approximating ``A⁻¹ r`` up to a scale;
3. ``d ← d − Σ_{j ∈ last k} (dᵀA p_j / p_jᵀA p_j) p_j`` (A-orthogonal to the kept directions);
4. ``α = dᵀ r_k / dᵀ A d`` (exact line search), ``x_{k+1} = x_k + α d``.

Because f is nonlinear, the PCG recurrences do not hold; the explicit orthogonalization is
what keeps convergence robust. ``variant="fcg"`` runs the same network inside flexible PCG
(Polak–Ribière β, Notay 2000) and ``variant="pcg"`` inside plain PCG (Fletcher–Reeves β),
for comparison.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from problems import InvalidProblemError, LinearSystem

from ..context import SolveContext
from ..result import Result, Status
from .pcg import check_common, check_count, finish, initial_guess

_MODELS: dict[tuple, Any] = {}
VARIANTS = ("dcdm", "fcg", "pcg")


def _model(dim: int, weights: str | None, device: str, plain: bool = False):
    key = (dim, weights, device, plain and weights is None)
    if key not in _MODELS:
        from learned.dcdm.model import load_model

        _MODELS[key] = load_model(dim, weights, device, plain=plain)
    return _MODELS[key]


def torch_network(model: Any, grid: Any, device: str):
    """``F ↦ f(F)`` on (1, 1, *grid) float32 tensors on ``device``; the geometry part (gates,
    mask pyramid) is computed here, once per problem. Runs without autograd: inference mode
    for the shipped ``lite`` net, ``no_grad`` for SPDNet (it takes Gᵀ by autograd)."""
    import torch

    from learned.dcdm.model import grid_features

    mask_np, logk_np = grid_features(grid)
    no_grad = torch.inference_mode if model.config.get("arch") == "lite" else torch.no_grad
    with no_grad():
        mask = torch.from_numpy(mask_np)[None, None].to(device)
        logk = torch.from_numpy(logk_np)[None, None].to(device)
        gates = model.gates(mask, logk) if hasattr(model, "gates") else None

    def apply(field: Any) -> Any:
        with no_grad():
            return model(field, mask, logk) if gates is None else model.apply(field, gates)

    return apply


def grid_network(model: Any, grid: Any, device: str):
    """:func:`torch_network` for numpy: a float32 field of the grid's shape (C order) in, a
    float32 field (zero on solid cells) out; the tensors go to ``device`` and back."""
    import torch

    net = torch_network(model, grid, device)
    cpu = torch.device(device).type == "cpu"

    def apply(field: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(field).view(1, 1, *grid.shape)
        out = net(t if cpu else t.to(device)).reshape(grid.shape)
        return np.ascontiguousarray(out.numpy() if cpu else out.cpu().numpy())

    return apply


def network_operator(problem: LinearSystem, weights: str | None = None, device: str | None = None,
                     linear: bool = False, model: Any = None):
    """``r ↦ f(r / rms(r))`` on the unknowns of ``problem`` (float64 in and out; step 2's
    normalization), or with ``linear`` the network's linear map ``r ↦ f(r)`` (the normalized
    output scaled back by ``rms(r)``; the shipped nets are linear in r), and its device.
    ``model``: a loaded network instead of ``weights`` (training's validation)."""
    from learned.dcdm import _fused as fk

    grid, dev = _grid_and_device(problem, device)
    if model is None:
        model = _model(len(grid.shape), weights, dev, plain=True)
    net = grid_network(model, grid, dev)
    idx = unknown_cells(grid)
    field = np.zeros(int(np.prod(grid.shape)), dtype=np.float32)

    def apply(r: np.ndarray) -> np.ndarray:
        scale = scatter_unit_rms(r, idx, field)  # step 2: unit RMS per cell, on the grid
        out = fk.gather(net(field.reshape(grid.shape)).reshape(-1), idx)
        if linear:
            out *= scale
        return out

    return apply, dev


def unknown_cells(grid: Any) -> np.ndarray:
    """Flat grid index of each unknown (unsigned: numba then skips the wrap-around test)."""
    return np.flatnonzero(grid.mask.ravel()).astype(np.uint32 if grid.mask.size < 2**32 else np.uint64)


def scatter_unit_rms(r: np.ndarray, idx: np.ndarray, field: np.ndarray) -> float:
    """``field[idx] = r / rms(r)`` (float32, flat grid; the networks and the V-cycle run at unit
    scale); returns ``rms(r)`` (1 for a zero vector)."""
    from learned.dcdm import _fused as fk

    rms = float(np.sqrt(np.dot(r, r) / r.size)) or 1.0
    fk.scatter_scaled(r, idx, 1.0 / rms, field)
    return rms


def _grid_and_device(problem: LinearSystem, device: str | None) -> tuple[Any, str]:
    """The problem's grid (a clear error without one) and the device (cuda when available)."""
    import torch

    grid = problem.grid
    if grid is None:
        raise InvalidProblemError(
            "dcdm needs a grid Poisson problem (LinearSystem.poisson): the network reads the "
            "residual on the grid; use 'pcg-ic', 'amg' or 'cg' for a general matrix")
    return grid, device or ("cuda" if torch.cuda.is_available() else "cpu")


DEFAULT_SWEEPS = {2: 2, 3: 6}
"""Red-black sweeps ν per grid dimension when ``smooth`` is not given, by measurement
(``benchmarks/RESULTS.md``, DCDM round 7). 2-D: ν = 2 cuts iterations by a fifth against ν = 1
at no cost in seconds (256²–1024² rings). 3-D: the network alone is weaker on thin walls (its
coarse levels couple both sides of a one-cell wall), so more of the work goes to the sweeps:
32³ rings 34 → 18 iterations from ν = 1 to 6 and 64³ rings 66 → 37 (SGS-preconditioned CG
with the same ν: 26 and 71), the only way here to meet 1/10 of CG's iterations on those
shells; it costs 16–37 % more seconds than ν = 1–2 at 64³–128³ (``smooth=2`` is the
faster choice in 3-D when seconds matter more)."""


def solve_dcdm(problem: LinearSystem, ctx: SolveContext, tol: float = 1e-6,
               max_iter: int | None = None, x0: np.ndarray | None = None, kept: int = 2,
               variant: str = "dcdm", weights: str | None = None, device: str | None = None,
               smooth: int | None = None, threads: int | None = None) -> Result:
    """DCDM (Algorithm 1) to ``‖b − Ax‖ ≤ tol ‖b‖`` or ``max_iter`` (default 1000) steps;
    ``weights`` a file written by ``learned/dcdm/train.py`` (default: the shipped model for the
    grid's dimension); ``device`` cpu / cuda (default: cuda when available). ``kept``
    directions are kept for the A-orthogonalization (step 3). ``smooth`` ν ≥ 1 wraps the
    network in ν red-black Gauss–Seidel sweeps before and after it (``solvers/linear/
    smoother.py``: a symmetric V-cycle with the network as coarse correction, the network at
    a fixed scale per problem); ``smooth=0`` is the paper's plain direction ``d = f(r)``;
    the default (None) is :data:`DEFAULT_SWEEPS` for the grid's dimension. ``threads``: CPU
    threads for the sweeps (default ``NUMBA_NUM_THREADS``, the cores; grids of 2²¹ cells and
    more, e.g. 128³, are split in slabs, ``smoother.SlabPasses``); the network's torch levels use torch's.
    Stats: residuals, setup/network/smoother/solve seconds, fallbacks
    (steps where the network direction was useless and the residual was used instead) and
    ``max_a_cosine``, the largest |dᵀA p_j| / sqrt(dᵀAd p_jᵀAp_j) over the kept directions."""
    cap = check_common(problem, tol, 1000 if max_iter is None else max_iter)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if int(kept) < 0:
        raise ValueError(f"kept must be >= 0, got {kept}")
    kept = int(kept)
    if smooth is None and getattr(problem, "grid", None) is not None:
        smooth = DEFAULT_SWEEPS.get(len(problem.grid.shape), 1)
    elif smooth is None:
        smooth = 1  # not a grid problem: refused below with the grid check's message
    smooth = check_count(smooth, 0, "smooth (red-black Gauss–Seidel sweeps)")
    if threads is not None:  # checked here too: with smooth=0 or on CUDA no sweeps use it
        threads = check_count(threads, 1, "threads")
    t0 = time.perf_counter()
    A, b = problem.A, problem.b
    timing: dict[str, float] = {}
    if smooth > 0:
        from .smoother import GridVCycle, TorchGridVCycle

        grid, dev = _grid_and_device(problem, device)
        model = _model(len(grid.shape), weights, dev)
        if str(dev).split(":")[0] == "cpu":
            f = GridVCycle(problem, grid_network(model, grid, dev), smooth, b, timing, threads)
        else:  # CUDA: sweeps and network on the device (their seconds reported as network)
            f = TorchGridVCycle(problem, torch_network(model, grid, dev), dev, smooth, b, timing)
        stats: dict[str, Any] = {"network_scale": f.alpha}
    else:
        f, dev = network_operator(problem, weights, device)
        stats = {}
    stats.update(device=dev, variant=variant, smooth=smooth)
    stats["setup_time"] = time.perf_counter() - t0
    bnorm = float(np.linalg.norm(b)) or 1.0
    x = initial_guess(problem, x0)
    P: list[np.ndarray] = []  # kept directions p_j and their products A p_j, p_jᵀ A p_j
    AP: list[np.ndarray] = []
    pAp: list[float] = []
    residuals: list[float] = []
    net_time, fallbacks, k, worst = 0.0, 0, 0, 0.0
    status = Status.ITERATION_LIMIT
    t1 = time.perf_counter()
    r = b - A @ x
    r_old = z_old = None
    rel = float(np.linalg.norm(r)) / bnorm
    try:
        while True:
            if rel <= tol:
                r = b - A @ x  # confirm on the true residual (step 1)
                rel = float(np.linalg.norm(r)) / bnorm
                if rel <= tol:
                    status = Status.CONVERGED
                    break
            if k >= cap:
                break
            if not np.isfinite(rel):
                status = Status.ERROR
                break
            tn = time.perf_counter()
            d = f(r)
            net_time += time.perf_counter() - tn
            if not np.all(np.isfinite(d)) or float(d @ r) == 0.0:
                d, fallbacks = r.copy(), fallbacks + 1
            z = d
            if variant == "dcdm":
                Ad = A @ d
                for p, Ap, pp in zip(P, AP, pAp):  # step 3: A-orthogonalize (d is f's own array)
                    c = float(d @ Ap) / pp
                    d -= c * p
                    Ad -= c * Ap
            elif P:  # flexible (Polak–Ribière) or plain (Fletcher–Reeves) PCG
                num = float(z @ (r - r_old)) if variant == "fcg" else float(z @ r)
                d = z + (num / float(z_old @ r_old)) * P[-1]
                Ad = A @ d
            else:
                Ad = A @ d
            dAd = float(d @ Ad)
            for _p, Ap, pp in zip(P, AP, pAp) if variant == "dcdm" and dAd > 0 else ():
                worst = max(worst, abs(float(d @ Ap)) / np.sqrt(dAd * pp))
            if not dAd > 0:
                if dAd < 0 and float(r @ (A @ r)) <= 0:
                    status = Status.ERROR
                    stats["message"] = "dᵀAd < 0: A is not positive definite"
                    break
                d, fallbacks = r.copy(), fallbacks + 1
                Ad = A @ d
                dAd = float(d @ Ad)
            alpha = float(d @ r) / dAd  # step 4: exact line search
            x += alpha * d
            r_old, z_old = r, z
            r = b - A @ x if (k + 1) % 50 == 0 else r - alpha * Ad
            k += 1
            P.append(d)
            AP.append(Ad)
            pAp.append(dAd)
            keep = max(kept, 1) if variant != "dcdm" else kept
            del P[:-keep or len(P)], AP[:-keep or len(AP)], pAp[:-keep or len(pAp)]
            rel = float(np.linalg.norm(r)) / bnorm
            residuals.append(rel)
            ctx.record(rel, iteration=k)
            if ctx.should_stop() and rel > tol:
                status = ctx.stop_status(Status.ITERATION_LIMIT)
                break
    except KeyboardInterrupt:
        status = Status.INTERRUPTED
    if smooth > 0:  # network and smoother seconds inside the preconditioner's time
        net_time, stats["smoother_time"] = timing.get("network", 0.0), timing.get("smoother", 0.0)
    stats.update(residuals=residuals, network_time=net_time, solve_time=time.perf_counter() - t1,
                 fallbacks=fallbacks, max_a_cosine=worst)
    return finish(problem, ctx, x, status, k, tol, stats)
