"""DCDM: the deep conjugate direction method (Kaneda et al., ICML 2023) for grid Poisson
systems, and ``learned-mg``, the linear learned multigrid cycle as a PCG preconditioner.

Algorithm 1 of the paper (and the reference ``DCDM`` loop, k = 2 kept directions):

1. ``r_k = r_{k−1} − α A d`` (the product ``A d`` is already there from step 4; the true
   residual ``b − A x_k`` is recomputed every 50 steps and whenever the recursive one meets
   ``tol``, so that the stopping test is on the true residual — one mat-vec per step instead of
   two);
2. ``d = f(r_k / ‖r_k‖)`` — the nonlinear CNN of :mod:`learned.dcdm.cnn` approximating
   ``A⁻¹ r`` up to a scale;
3. ``d ← d − Σ_{j ∈ last k} (dᵀA p_j / p_jᵀA p_j) p_j`` (A-orthogonal to the kept directions);
4. ``α = dᵀ r_k / dᵀ A d`` (exact line search), ``x_{k+1} = x_k + α d``.

Because f is nonlinear, the PCG recurrences do not hold; the explicit orthogonalization is
what keeps convergence robust. ``variant="fpcg"`` runs the same network through the PCG loop
of ``solvers/linear/pcg.py`` with the flexible (Polak–Ribière) β (Notay 2000), and
``variant="pcg"`` with the plain (Fletcher–Reeves) β, for comparison (``"fcg"`` is the old
name of ``"fpcg"``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from problems import LinearSystem
from solvers.context import SolveContext
from solvers.linear._common import ResidualHistory, finish, initial_guess
from solvers.linear.grid import GridVCycle
from solvers.linear.pcg import pcg_loop
from solvers.result import Result

DEFAULT_SWEEPS = {2: 2, 3: 6}
"""``learned-mg``'s red-black sweeps ν per grid dimension when ``smooth`` is not given, by
measurement (``benchmarks/results/linear.md``, DCDM round 7, when this network was dcdm's):
2-D ν = 2 cuts iterations by a fifth against ν = 1 at no cost in seconds; 3-D ν = 6 (the
network alone is weaker on thin walls). Also ``pcg-sgs``'s benchmark setting."""

DCDM_SMOOTH = 0
"""``dcdm``'s red-black sweeps when ``smooth`` is not given: 0, the paper's direction
``d = f(r)`` alone (``benchmarks/results/learned_dcdm.md``)."""


class Direction:
    """Step 2 with its safeguard: ``f(r)``, or ``r`` itself (a fallback, counted) where the
    network's direction is useless (not finite, or orthogonal to ``r``); times ``f``."""

    def __init__(self, f: Callable[[np.ndarray], np.ndarray]):
        self.f = f
        self.fallbacks = 0
        self.seconds = 0.0

    def __call__(self, r: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        d = self.f(r)
        self.seconds += time.perf_counter() - t0
        if not np.all(np.isfinite(d)) or float(d @ r) == 0.0:
            self.fallbacks += 1
            return r.copy()
        return d


def network_direction(problem: LinearSystem, model: Any, dev: str, smooth: int, threads: int | None,
                      linear: bool) -> tuple[Callable[[np.ndarray], np.ndarray], dict, dict]:
    """Step 2's map ``r ↦ d``: the network alone (``smooth=0``: ``f(r / rms(r))``, scaled back
    by ``rms(r)`` when ``linear``), or wrapped in ``smooth`` red-black Gauss–Seidel sweeps
    before and after it (``solvers/linear/grid.py``: a symmetric V-cycle with the network as
    coarse correction at a scale fixed once per problem; on CUDA in torch). Returns the map,
    the first stats and the timing dict the V-cycle fills."""
    from . import operators as ops

    timing: dict[str, float] = {}
    if smooth == 0:
        f, _ = ops.network_operator(problem, device=dev, linear=linear, model=model)
        return f, {}, timing
    b = problem.b
    homogeneous = not linear  # the V-cycle fixes α once: feed a nonlinear net unit-RMS fields
    if str(dev).split(":")[0] == "cpu":
        net = ops.grid_network(model, problem.grid, dev, homogeneous=homogeneous)
        f: Any = GridVCycle(problem, net, smooth, b, timing, threads)
    else:  # CUDA: sweeps and network on the device (their seconds reported as network)
        tnet = ops.torch_network(model, problem.grid, dev, homogeneous=homogeneous)
        f = ops.TorchGridVCycle(problem, tnet, dev, smooth, b, timing)
    return f, {"network_scale": f.alpha}, timing


def solve_dcdm(problem: LinearSystem, ctx: SolveContext, *, tol: float, max_iter: int | None,
               x0: np.ndarray | None, kept: int, variant: str, weights: str | None, device: str | None,
               smooth: int | None, threads: int | None) -> Result:
    """DCDM (Algorithm 1) to ``‖b − Ax‖ ≤ tol ‖b‖`` or ``max_iter`` (default 1000) steps.
    ``weights``: None (the shipped CNN for the grid's dimension, ``weights/dcdm{d}d.pt``),
    ``"untrained"`` (the same network with its seeded initial weights: the solve's ``seed``,
    default the shipped run's training seed) or a file written by ``learned/dcdm/train.py``;
    ``device`` cpu / cuda (default: cuda when available). ``kept`` directions are kept for the
    A-orthogonalization (step 3). ``smooth`` ν ≥ 1 wraps the network in ν red-black
    Gauss–Seidel sweeps before and after it; ``smooth=0`` is the paper's plain direction
    ``d = f(r)``; the default (None) is :data:`DCDM_SMOOTH`. ``threads``: CPU threads for the
    sweeps (default ``NUMBA_NUM_THREADS``). Stats: residuals, setup/network/smoother/solve
    seconds, fallbacks (steps where the network direction was useless and the residual was
    used instead) and ``max_a_cosine``, the largest |dᵀA p_j| / sqrt(dᵀAd p_jᵀAp_j) over the
    kept directions after step 3."""
    from . import operators as ops

    grid, dev = ops.grid_and_device(problem, device)
    cap = 1000 if max_iter is None else max_iter
    smooth = DCDM_SMOOTH if smooth is None else smooth
    t0 = time.perf_counter()
    model = ops.cached_model(len(grid.shape), weights, dev, "dcdm", ctx.seed)
    f, stats, timing = network_direction(problem, model, dev, smooth, threads, linear=False)
    stats.update(device=dev, variant=variant, smooth=smooth, weights=weights or "shipped")
    stats["setup_time"] = time.perf_counter() - t0
    direction = Direction(f)
    t1 = time.perf_counter()
    if variant == "dcdm":
        x, worst, error = conjugate_directions(problem, ctx, direction, tol, cap, x0, kept, stats)
    else:  # the network as the preconditioner of the PCG loop
        x, error = pcg_loop(problem, ctx, direction, tol, cap, x0, stats, flexible=variant in ("fpcg", "fcg"))
        worst = 0.0
    _timing(stats, direction, timing, smooth, t1)
    stats["max_a_cosine"] = worst
    return finish(problem, ctx, x, len(stats["residuals"]), tol, stats, error)


def solve_learned_mg(problem: LinearSystem, ctx: SolveContext, *, tol: float, max_iter: int | None,
                     x0: np.ndarray | None, weights: str | None, device: str | None,
                     smooth: int | None, threads: int | None) -> Result:
    """CG preconditioned with the linear learned multigrid cycle (:class:`learned.dcdm.lite.
    LiteSPDNet`, SPD by construction, inside ``smooth`` red-black sweeps; default
    :data:`DEFAULT_SWEEPS`): plain PCG recurrences, since the preconditioner is linear and
    symmetric. ``weights``: None (``weights/learned_mg{d}d.pt``; with ``smooth=0``
    ``learned_mg{d}d_plain.pt``, trained for the network alone), ``"untrained"`` (its BPX
    start) or a file. Stats as :func:`solve_dcdm`'s."""
    from . import operators as ops

    grid, dev = ops.grid_and_device(problem, device)
    cap = 1000 if max_iter is None else max_iter
    smooth = DEFAULT_SWEEPS.get(len(grid.shape), 1) if smooth is None else smooth
    t0 = time.perf_counter()
    kind = "learned-mg-plain" if smooth == 0 else "learned-mg"
    model = ops.cached_model(len(grid.shape), weights, dev, kind, ctx.seed)
    f, stats, timing = network_direction(problem, model, dev, smooth, threads, linear=True)
    stats.update(device=dev, smooth=smooth, weights=weights or "shipped")
    stats["setup_time"] = time.perf_counter() - t0
    direction = Direction(f)
    t1 = time.perf_counter()
    x, error = pcg_loop(problem, ctx, direction, tol, cap, x0, stats)
    _timing(stats, direction, timing, smooth, t1)
    return finish(problem, ctx, x, len(stats["residuals"]), tol, stats, error)


def _timing(stats: dict, direction: Direction, timing: dict, smooth: int, t1: float) -> None:
    net_time = direction.seconds
    if smooth > 0:  # network and smoother seconds inside the preconditioner's time
        net_time, stats["smoother_time"] = timing.get("network", 0.0), timing.get("smoother", 0.0)
    stats.update(network_time=net_time, solve_time=time.perf_counter() - t1, fallbacks=direction.fallbacks)


def conjugate_directions(problem: LinearSystem, ctx: SolveContext, f: Direction, tol: float, cap: int,
                         x0: np.ndarray | None, kept: int, stats: dict,
                         record: list | None = None) -> tuple[np.ndarray, float, str | None]:
    """Algorithm 1 from ``x0`` with ``kept`` directions; returns the last iterate, the
    largest A-cosine met and an error message (or None); the residuals go to ``stats``, and
    every direction ``p_k`` after step 3 to ``record`` when given."""
    A, b = problem.A, problem.b
    x = initial_guess(problem, x0)
    history = ResidualHistory(ctx, b, x)
    stats["residuals"] = history.values
    P: list[np.ndarray] = []  # kept directions p_j and their products A p_j, p_jᵀ A p_j
    AP: list[np.ndarray] = []
    pAp: list[float] = []
    worst, error = 0.0, None
    r = b - A @ x
    rel = history.relative(r)
    if rel <= tol:  # step 1's test on the true residual (here it is the true one)
        ctx.converged()
        return x, worst, error
    for k in ctx.iterations(cap):
        if not np.isfinite(rel):
            error = "the iteration diverged (NaN)"
            break
        d = f(r)
        Ad = A @ d
        for p, Ap, pp in zip(P, AP, pAp):  # step 3: A-orthogonalize (d is f's own array)
            c = float(d @ Ap) / pp
            d -= c * p
            Ad -= c * Ap
        dAd = float(d @ Ad)
        if dAd > 0:
            for Ap, pp in zip(AP, pAp):
                worst = max(worst, abs(float(d @ Ap)) / np.sqrt(dAd * pp))
        else:
            if dAd < 0 and float(r @ (A @ r)) <= 0:
                error = "dᵀAd < 0: A is not positive definite"
                break
            d, f.fallbacks = r.copy(), f.fallbacks + 1
            Ad = A @ d
            dAd = float(d @ Ad)
        alpha = float(d @ r) / dAd  # step 4: exact line search
        x += alpha * d
        r = b - A @ x if (k + 1) % 50 == 0 else r - alpha * Ad
        P.append(d)
        if record is not None:
            record.append(d)
        AP.append(Ad)
        pAp.append(dAd)
        del P[:-kept or len(P)], AP[:-kept or len(AP)], pAp[:-kept or len(pAp)]
        rel = history.relative(r)
        history.record(rel, k + 1)
        if rel <= tol:  # step 1: confirm on the true residual
            r = b - A @ x
            rel = history.relative(r)
            if rel <= tol:
                ctx.converged()
                break
    return x, worst, error
