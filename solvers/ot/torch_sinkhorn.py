"""Batched log-domain Sinkhorn in torch (CUDA when present, else CPU); design.md §3.

``solve_batch(problems)`` stacks problems of equal shape into (B, m, n) tensors and runs
f = eps (log a - LSE_j (g_j - C_ij)/eps), g = eps (log b - LSE_i (f_i - C_ij)/eps) on all of
them at once, each stopping (masked) when its own L1 marginal error is <= tol.
torch is imported lazily: importing ``solvers`` never imports it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from problems import OptimalTransport

from ..context import SolveContext
from ..result import Result, Status
from . import DEVICE, SWEEPS, TOL
from ._common import plan_status


def _device(device: Any) -> Any:
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _run(As: np.ndarray, Bs: np.ndarray, Cs: np.ndarray, eps: np.ndarray, tol: float,
         max_iter: int | None, device: Any, ctx: SolveContext | None):
    """Masked batched log-domain Sinkhorn on (B, m, n) float64 tensors, at most ``max_iter``
    sweeps (None: no cap), driven by ``ctx.iterations`` when a context is given.  Zero-mass bins
    get log-mass -inf, hence potential -inf and an exactly zero plan row/column."""
    import torch

    dev = _device(device)
    C = torch.as_tensor(Cs, dtype=torch.float64, device=dev)
    a = torch.as_tensor(As, dtype=torch.float64, device=dev)
    b = torch.as_tensor(Bs, dtype=torch.float64, device=dev)
    e = torch.as_tensor(eps, dtype=torch.float64, device=dev)[:, None]
    log_a, log_b = torch.log(a), torch.log(b)
    f = torch.zeros_like(a)
    g = torch.zeros_like(b)
    Ce = C / e[:, :, None]
    active = torch.ones(a.shape[0], dtype=torch.bool, device=dev)
    iters = np.zeros(a.shape[0], dtype=np.int64)
    err = torch.full((a.shape[0],), float("inf"), dtype=torch.float64, device=dev)
    it = 0
    steps = ctx.iterations(max_iter) if ctx is not None else \
        (range(max_iter) if max_iter is not None else itertools.count())
    for k in steps:
        it = k + 1
        g_new = e * (log_b - torch.logsumexp(f[:, :, None] / e[:, :, None] - Ce, dim=1))
        g = torch.where(active[:, None], g_new, g)
        f_new = e * (log_a - torch.logsumexp(g[:, None, :] / e[:, :, None] - Ce, dim=2))
        if it % 10 == 0 or it == max_iter:
            # row sums before the f-update: r = a exp((f_old - f_new)/eps); columns exact
            d = torch.where(torch.isfinite(f_new), (f - f_new) / e, torch.zeros_like(f))
            err = torch.where(active, (a * torch.expm1(d)).abs().sum(1), err)
            done = active & (err <= tol)
            iters[(active).cpu().numpy()] = it
            active = active & ~done
            if ctx is not None:  # err is that of the plan of (f, g), the first of the batch
                ctx.record(float(err.max()), iteration=it,
                           incumbent=lambda f=f, g=g: torch.exp((f[0, :, None] + g[0, None, :]) / e[0]
                                                                - Ce[0]).cpu().numpy())
        f = torch.where(active[:, None], f_new, f)
        if not bool(active.any()):
            if ctx is not None:
                ctx.converged()
            break
    iters[iters == 0] = it
    P = torch.exp((f[:, :, None] + g[:, None, :]) / e[:, :, None] - Ce)
    return P.cpu().numpy(), f.cpu().numpy(), g.cpu().numpy(), iters, str(dev)


def solve_batch(problems: Sequence[OptimalTransport], device: Any = None, tol: float = 1e-9,
                max_iter: int | None = 100_000, method: str = "sinkhorn", **options: Any) -> list[Result]:
    """Solve many OT problems at once on ``device`` (default: cuda if available, else cpu).

    Problems are grouped by shape; each group is one batched tensor computation.  Returns one
    ``Result`` per problem in input order (plan, objective, potentials, iteration counts).
    ``method="sns"`` runs batched Sinkhorn + Newton (``torch_newton.solve_batch_sns``, which
    takes ``options``; ``max_iter`` then caps the Newton steps).  Arguments are checked against
    the ``sinkhorn-torch`` declaration (``solvers/ot/__init__.py``)."""
    if method == "sns":
        from .torch_newton import solve_batch_sns

        cap = SWEEPS.validate(max_iter, "solve_batch")
        return solve_batch_sns(problems, device=device, tol=tol,
                               max_iter=1000 if cap is None else min(cap, 1000), **options)
    if method != "sinkhorn":
        raise ValueError(f"method must be 'sinkhorn' or 'sns', got {method!r}")
    if options:
        raise TypeError(f"unexpected options for batched sinkhorn: {sorted(options)}")
    tol = TOL.validate(tol, "solve_batch")
    max_iter = SWEEPS.validate(max_iter, "solve_batch")
    device = DEVICE.validate(device, "solve_batch")
    problems = list(problems)
    for p in problems:
        if not isinstance(p, OptimalTransport):
            raise TypeError(f"solve_batch takes OptimalTransport problems, got {type(p).__name__}")
    out: list[Result | None] = [None] * len(problems)
    groups: dict[tuple[int, int], list[int]] = {}
    for k, p in enumerate(problems):
        groups.setdefault(p.shape, []).append(k)
    for idx in groups.values():
        ctx = SolveContext()  # runtime of the group; no loop of its own (statuses from the plans)
        ps = [problems[k] for k in idx]
        P, f, g, iters, dev = _run(np.stack([p.a for p in ps]), np.stack([p.b for p in ps]),
                                   np.stack([p.C for p in ps]), np.array([p.reg for p in ps]),
                                   tol, max_iter, device, None)
        for j, k in enumerate(idx):
            p = ps[j]
            err = p.marginal_error(P[j])
            out[k] = ctx.result(solution=P[j], objective=p.objective(P[j]),
                                status=Status.CONVERGED if err <= tol else Status.ITERATION_LIMIT,
                                iterations=int(iters[j]), method="sinkhorn-torch", problem="ot",
                                stats={"potentials": (f[j], g[j]), "marginal_error": err,
                                       "sinkhorn_iterations": int(iters[j]), "newton_iterations": 0,
                                       "device": dev, "batch_size": len(idx)})
    return out  # type: ignore[return-value]


def solve_torch(problem: OptimalTransport, ctx: SolveContext, *, tol: float, max_iter: int | None,
                device: Any) -> Result:
    """Registered ``sinkhorn-torch`` method: the batched path with a batch of one."""
    P, f, g, iters, dev = _run(problem.a[None], problem.b[None], problem.C[None],
                               np.array([problem.reg]), tol, max_iter, device, ctx)
    err = problem.marginal_error(P[0])
    return ctx.result(solution=P[0], objective=problem.objective(P[0]), status=plan_status(ctx, err, tol),
                      iterations=int(iters[0]),
                      stats={"potentials": (f[0], g[0]), "marginal_error": err,
                             "sinkhorn_iterations": int(iters[0]), "newton_iterations": 0, "device": dev})
