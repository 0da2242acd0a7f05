"""Batched Sinkhorn-Newton in torch: many same-shape OT problems at once, CUDA when present.

Stage 1 (paper Alg. 1 lines 1-4): masked log-domain Sinkhorn sweeps
    g = eps (log b - LSE_i (f_i - C_ij)/eps),  f = eps (log a - LSE_j (g_j - C_ij)/eps)
on the whole (B, m, n) batch.  Stage 2 (lines 5-10): Newton on the dual potentials of every
problem still above ``tol``: the Hessian [[diag r, P], [P^T, diag c]] / eps (optionally sparsified
to each problem's top lam*m*n plan entries by a mask), shifted by sigma * diag (sigma = mu * err,
as in the numpy ``sns``), solved by a batched Schur-complement LU (n <= 2048) or batched
Jacobi-preconditioned conjugate gradient with batched matrix-vector products, then a batched
Armijo backtracking line search on L(f, g) = a^T f + b^T g - eps sum_ij exp((f_i + g_j - C_ij)/eps).
Each problem has its own step size, shift and stopping test; finished problems are frozen by
masks.  On a GPU the dense products cost what a sparse one would, so the default keeps the whole
Hessian (``lam=None``).
Zero-mass bins get potential -inf and an exactly zero plan row/column.
torch is imported lazily: importing ``solvers`` never imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from problems import OptimalTransport

from ..context import SolveContext
from ..options import Option
from ..options import max_iter as max_iter_option
from ..result import Result, Status
from . import CG_MAXIT, DEVICE, LAM, TOL
from .newton import DROP_MIN, MU0
from .torch_sparse import K_MIN, schur_cg, sparsify_rows

#: what the batched path accepts beyond the shared records of ``solvers/ot/__init__.py``
NEWTON_STEPS = max_iter_option(200, "most Newton steps (None: no cap)")
WARM_SWEEPS = Option("n1", int, 20, "Sinkhorn sweeps before the Newton stage (at least 1 runs)", low=0)
LINSOLVE = Option("linsolve", str, "auto", "Newton systems: batched Schur-complement LU, CG on the "
                  "dense Hessian, Schur-complement CG on the row-wise sparsified one (torch_sparse), "
                  "or auto (see run_batch)", choices=("auto", "direct", "cg", "sparse"))


def _device(device: Any) -> Any:
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _wsum(w: Any, x: Any) -> Any:
    """sum_k w_k x_k per problem, with 0 * (-inf) = 0 for zero-mass bins."""
    import torch

    return torch.where(w > 0, w * x, torch.zeros_like(x)).sum(-1)


class _Batch:
    """Tensors of one group of same-shape problems: a (B, m), b (B, n), C (B, m, n), eps (B,)."""

    def __init__(self, As: np.ndarray, Bs: np.ndarray, Cs: np.ndarray, eps: np.ndarray, dev: Any):
        import torch

        kw = {"dtype": torch.float64, "device": dev}
        self.a = torch.as_tensor(As, **kw)
        self.b = torch.as_tensor(Bs, **kw)
        self.C = torch.as_tensor(Cs, **kw)
        self.e = torch.as_tensor(eps, **kw)
        self.e3 = self.e[:, None, None]
        self.log_a = torch.log(self.a)
        self.log_b = torch.log(self.b)
        self.Ce = self.C / self.e3

    def logits(self, f: Any, g: Any) -> Any:
        return (f[:, :, None] + g[:, None, :]) / self.e3 - self.Ce

    def plan(self, f: Any, g: Any) -> Any:
        import torch

        return torch.exp(self.logits(f, g))

    def sweep(self, f: Any, g: Any, mask: Any) -> tuple[Any, Any]:
        """One log-domain Sinkhorn sweep (g then f) on the problems in ``mask``."""
        import torch

        e = self.e[:, None]
        g_new = e * (self.log_b - torch.logsumexp(f[:, :, None] / self.e3 - self.Ce, dim=1))
        g = torch.where(mask[:, None], g_new, g)
        f_new = e * (self.log_a - torch.logsumexp(g[:, None, :] / self.e3 - self.Ce, dim=2))
        f = torch.where(mask[:, None], f_new, f)
        return f, g

    def error(self, P: Any) -> Any:
        return (P.sum(2) - self.a).abs().sum(1) + (P.sum(1) - self.b).abs().sum(1)


def _pcg(P: Any, r: Any, c: Any, ga: Any, gb: Any, rtol: Any, maxit: int) -> tuple[Any, Any, int]:
    """Batched Jacobi-preconditioned CG on [[diag r, P], [P^T, diag c]] (x, y) = (ga, gb), one
    system per problem, each frozen once its relative residual is below its ``rtol``.  The only
    possible null direction (1, -1) is orthogonal to the right-hand side (sum ga = sum gb)."""
    import torch

    def mv(x: Any, y: Any) -> tuple[Any, Any]:
        return (r * x + torch.bmm(P, y[:, :, None])[:, :, 0],
                c * y + torch.bmm(P.transpose(1, 2), x[:, :, None])[:, :, 0])

    dr, dc = 1.0 / r.clamp_min(1e-300), 1.0 / c.clamp_min(1e-300)
    dr = torch.where(r > 0, dr, torch.zeros_like(dr))
    dc = torch.where(c > 0, dc, torch.zeros_like(dc))
    x, y = torch.zeros_like(ga), torch.zeros_like(gb)
    rx, ry = ga.clone(), gb.clone()
    zx, zy = rx * dr, ry * dc
    px, py = zx.clone(), zy.clone()
    rz = (rx * zx).sum(1) + (ry * zy).sum(1)
    stop = rtol ** 2 * ((ga * ga).sum(1) + (gb * gb).sum(1))
    live = (rx * rx).sum(1) + (ry * ry).sum(1) > stop
    it = 0
    while it < maxit and bool(live.any()):
        it += 1
        qx, qy = mv(px, py)
        pq = (px * qx).sum(1) + (py * qy).sum(1)
        live = live & (pq > 0)
        alpha = torch.where(live, rz / torch.where(pq > 0, pq, torch.ones_like(pq)),
                            torch.zeros_like(pq))[:, None]
        x, y = x + alpha * px, y + alpha * py
        rx, ry = rx - alpha * qx, ry - alpha * qy
        live = live & ((rx * rx).sum(1) + (ry * ry).sum(1) > stop)
        zx, zy = rx * dr, ry * dc
        rz_new = (rx * zx).sum(1) + (ry * zy).sum(1)
        beta = torch.where(live, rz_new / torch.where(rz > 0, rz, torch.ones_like(rz)),
                           torch.zeros_like(rz))[:, None]
        rz = rz_new
        px, py = zx + beta * px, zy + beta * py
    return x, y, it


def _direct(P: Any, r: Any, c: Any, ga: Any, gb: Any) -> tuple[Any, Any]:
    """Batched direct solve of [[diag r, P], [P^T, diag c]] (x, y) = (ga, gb) through the Schur
    complement (diag c - P^T diag(1/r) P) y = gb - P^T (ga / r), x = (ga - P y) / r (one batched
    LU of n x n).  Zero-mass bins (r_i = 0 or c_j = 0) get a zero step; a ridge 1e-13 * max c
    pins the (1, -1) direction, which does not change the plan."""
    import torch

    inv_r = torch.where(r > 0, 1.0 / r.clamp_min(1e-300), torch.zeros_like(r))
    M = -torch.bmm(P.transpose(1, 2), P * inv_r[:, :, None])
    ridge = 1e-13 * c.max(1, keepdim=True).values
    M = M + torch.diag_embed(c + ridge + (c <= 0).to(c.dtype))
    rhs = gb - torch.bmm(P.transpose(1, 2), (ga * inv_r)[:, :, None])[:, :, 0]
    y = torch.linalg.solve(M, rhs)
    y = torch.where(c > 0, y, torch.zeros_like(y))
    x = (ga - torch.bmm(P, y[:, :, None])[:, :, 0]) * inv_r
    return x, y


def _sparsify(P: Any, lam: float | None) -> Any:
    """Keep each problem's largest ceil(lam*m*n) plan entries (paper Alg. 1 line 7), as a mask."""
    import torch

    if lam is None or lam >= 1.0:
        return P
    B, m, n = P.shape
    k = min(max(int(np.ceil(lam * m * n)), 1), m * n)
    tau = torch.topk(P.reshape(B, -1), k, dim=1).values[:, -1]
    return torch.where(P >= tau[:, None, None], P, torch.zeros_like(P))


def run_batch(As: np.ndarray, Bs: np.ndarray, Cs: np.ndarray, eps: np.ndarray, tol: float = 1e-9,
              max_iter: int | None = 200, n1: int = 20, lam: float | None = None, cg_maxit: int = 500,
              linsolve: str = "auto", device: Any = None, ctx: SolveContext | None = None) -> dict:
    """Sinkhorn + Newton on a batch of problems stacked as (B, m), (B, n), (B, m, n), (B,).

    Returns numpy arrays: plan (B, m, n), f (B, m), g (B, n), error (B,), sinkhorn and newton
    iteration counts (B,), plus the device used and whether the loop was stopped early.
    ``linsolve``: "direct" (batched Schur-complement LU, exact Newton systems), "cg" (batched
    conjugate gradient, ``cg_maxit`` iterations at most), "sparse" (row-wise top-k Hessian,
    Schur-complement CG with sparse products, ``torch_sparse``; ``lam`` does not apply) or
    "auto" (direct up to n = 2048, then cg; the sparse solve was 0.5-1.5x the LU's time on CPU
    at n <= 1000, benchmarks/results/ot.md, so it is not the default)."""
    import torch

    linsolve = LINSOLVE.validate(linsolve, "run_batch")
    dev = _device(device)
    T = _Batch(As, Bs, Cs, eps, dev)
    B = T.a.shape[0]
    sparse = linsolve == "sparse"  # not the auto default: on CPU it measured 0.5-1.5x the LU's
    direct = not sparse and (linsolve == "direct" or (linsolve == "auto" and T.b.shape[1] <= 2048))
    k_rows, nnz = K_MIN, 0  # kept entries a row (sparse): the last step's, and the most
    f = torch.zeros_like(T.a)
    g = torch.zeros_like(T.b)
    active = torch.ones(B, dtype=torch.bool, device=dev)
    n_sk = torch.zeros(B, dtype=torch.int64, device=dev)
    n_nt = torch.zeros(B, dtype=torch.int64, device=dev)
    n_sw = torch.zeros(B, dtype=torch.int64, device=dev)  # sweeps between Newton steps
    n_cg = 0
    stopped = False
    # ---------------------------------------------------------------- stage 1: Sinkhorn sweeps
    for it in range(max(int(n1), 1)):
        f, g = T.sweep(f, g, active)
        n_sk += active.long()
        if (it + 1) % 5 == 0 or it + 1 == n1:
            err = T.error(T.plan(f, g))
            active = active & (err > tol)
            if not bool(active.any()):
                break
        if ctx is not None and ctx.should_stop():
            stopped = True
            break
    # ---------------------------------------------------------------- stage 2: batched Newton
    mu = torch.full((B,), MU0, dtype=torch.float64, device=dev)  # as the numpy sns
    P = T.plan(f, g)
    err = T.error(P)
    active = err > tol
    k = 0
    while not stopped and bool(active.any()) and (max_iter is None or k < max_iter):
        if ctx is not None and ctx.should_stop():
            stopped = True
            break
        k += 1
        n_nt += active.long()
        r, c = P.sum(2), P.sum(1)
        ga, gb = T.a - r, T.b - c
        sigma = (mu * err)[:, None]
        if sparse:
            drop = torch.minimum(torch.full_like(err, 0.5),
                                 torch.maximum(sigma[:, 0], (0.1 * err).clamp_max(DROP_MIN)))
            vals, idx, k_rows = sparsify_rows(P, drop, k_rows)  # the kept share only grows
            rtol = torch.clamp(torch.maximum(err.sqrt(), 0.2 * tol / err.clamp_min(1e-300)), 1e-10, 0.1)
            zx, zy, ncg = schur_cg(vals, idx, r * (1 + sigma), c * (1 + sigma), ga, gb, rtol, int(cg_maxit))
            n_cg += ncg
            nnz = max(nnz, k_rows)
        elif direct:
            S = _sparsify(P, lam)
            zx, zy = _direct(S, r * (1 + sigma), c * (1 + sigma), ga, gb)
        else:
            S = _sparsify(P, lam)
            zx, zy, ncg = _pcg(S, r * (1 + sigma), c * (1 + sigma), ga, gb, err.clamp(1e-8, 0.1),
                               int(cg_maxit))
            n_cg += ncg
        zx = torch.where(active[:, None] & (T.a > 0), zx, torch.zeros_like(zx))
        zy = torch.where(active[:, None] & (T.b > 0), zy, torch.zeros_like(zy))
        e = T.e[:, None]
        dx, dy = e * zx, e * zy  # Newton step on the potentials
        slope = (ga * dx).sum(1) + (gb * dy).sum(1)
        L = _wsum(T.a, f) + _wsum(T.b, g) - T.e * P.sum((1, 2))
        alpha = torch.ones(B, dtype=torch.float64, device=dev)
        todo = active.clone()
        f_new, g_new, P_new = f.clone(), g.clone(), P.clone()
        for _ in range(30):
            ft = f + alpha[:, None] * dx
            gt = g + alpha[:, None] * dy
            Pt = T.plan(ft, gt)
            err_t = T.error(Pt)
            Lt = _wsum(T.a, ft) + _wsum(T.b, gt) - T.e * Pt.sum((1, 2))
            ok = todo & torch.isfinite(Lt) & ((Lt >= L + 1e-4 * alpha * slope)
                                              | ((Lt >= L - 1e-14 * L.abs()) & (err_t < err)))
            f_new = torch.where(ok[:, None], ft, f_new)
            g_new = torch.where(ok[:, None], gt, g_new)
            P_new = torch.where(ok[:, None, None], Pt, P_new)
            full = ok & (alpha == 1.0)
            mu = torch.where(full, (mu / 4).clamp_min(1e-8), torch.where(ok, mu * 4, mu))
            todo = todo & ~ok
            if not bool(todo.any()):
                break
            alpha = torch.where(todo, alpha / 2, alpha)
        f, g = f_new, g_new
        # no acceptable step (or far from the optimum): one Sinkhorn sweep, which always ascends
        sweep = active & (todo | (T.error(P_new) > 1e-4))
        mu = torch.where(todo, mu * 16, mu)
        if bool(sweep.any()):
            f, g = T.sweep(f, g, sweep)
            n_sw += sweep.long()
            P = T.plan(f, g)
        else:
            P = P_new
        err = T.error(P)
        active = active & (err > tol)
    P = T.plan(f, g)
    err = T.error(P)
    return {"plan": P.cpu().numpy(), "f": f.cpu().numpy(), "g": g.cpu().numpy(),
            "error": err.cpu().numpy(), "sinkhorn_iterations": n_sk.cpu().numpy(),
            "newton_iterations": n_nt.cpu().numpy(), "newton_sweeps": n_sw.cpu().numpy(),
            "cg_iterations": n_cg, "device": str(dev), "kept_per_row": nnz,
            "stopped": stopped}


def solve_batch_sns(problems: Sequence[OptimalTransport], device: Any = None, tol: float = 1e-9,
                    max_iter: int | None = 200, n1: int = 20, lam: float | None = None,
                    cg_maxit: int = 500, linsolve: str = "auto",
                    time_limit: float | None = None) -> list[Result]:
    """Solve many OT problems with batched Sinkhorn + Newton on ``device`` (default: cuda if
    available, else cpu).  Problems are grouped by shape, each group one batched computation.
    Returns one ``Result`` per problem in input order (plan, objective, potentials, counts).
    Arguments are checked against the option records of ``solvers/ot/__init__.py`` and this
    module's (``NEWTON_STEPS``, ``WARM_SWEEPS``, ``LINSOLVE``)."""
    where = "solve_batch_sns"
    tol, lam, device = TOL.validate(tol, where), LAM.validate(lam, where), DEVICE.validate(device, where)
    max_iter, n1 = NEWTON_STEPS.validate(max_iter, where), WARM_SWEEPS.validate(n1, where)
    cg_maxit, linsolve = CG_MAXIT.validate(cg_maxit, where), LINSOLVE.validate(linsolve, where)
    problems = list(problems)
    for p in problems:
        if not isinstance(p, OptimalTransport):
            raise TypeError(f"solve_batch_sns takes OptimalTransport problems, got {type(p).__name__}")
    out: list[Result | None] = [None] * len(problems)
    groups: dict[tuple[int, int], list[int]] = {}
    for k, p in enumerate(problems):
        groups.setdefault(p.shape, []).append(k)
    ctx = SolveContext(time_limit=time_limit)
    for idx in groups.values():
        ps = [problems[k] for k in idx]
        res = run_batch(np.stack([p.a for p in ps]), np.stack([p.b for p in ps]),
                        np.stack([p.C for p in ps]), np.array([p.reg for p in ps]), tol=tol,
                        max_iter=max_iter, n1=n1, lam=lam, cg_maxit=cg_maxit,
                        linsolve=linsolve, device=device, ctx=ctx)
        for j, k in enumerate(idx):
            p = ps[j]
            P = res["plan"][j]
            err = p.marginal_error(P)
            if err <= tol:
                st = Status.CONVERGED
            else:
                st = ctx.stop_status(Status.ITERATION_LIMIT) if res["stopped"] else Status.ITERATION_LIMIT
            n_sk, n_nt = int(res["sinkhorn_iterations"][j]), int(res["newton_iterations"][j])
            n_sw = int(res["newton_sweeps"][j])  # every sweep counts (the paper's metric)
            out[k] = ctx.result(solution=P, objective=p.objective(P), status=st,
                                iterations=n_sk + n_nt + n_sw, method="sns-torch", problem="ot",
                                stats={"potentials": (res["f"][j], res["g"][j]), "marginal_error": err,
                                       "sinkhorn_iterations": n_sk, "newton_iterations": n_nt,
                                       "newton_sweeps": n_sw,
                                       "cg_iterations": res["cg_iterations"], "device": res["device"],
                                       "batch_size": len(idx), "tol": tol})
    return out  # type: ignore[return-value]
