"""Shared pieces of the OT solvers: support reduction, stabilized scaling sweeps, result packing."""

from __future__ import annotations

import numpy as np

from problems import OptimalTransport

from ..context import SolveContext
from ..result import Result, Status
from . import _kernels as K

_ABSORB = 1e30  # absorb the scalings u, v into the potentials once they leave [1/_ABSORB, _ABSORB]


def check_options(tol: float, max_iter: int) -> None:
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter!r}")


class Reduced:
    """The problem restricted to the bins with positive mass (zero-mass bins carry no plan)."""

    def __init__(self, problem: OptimalTransport):
        self.problem = problem
        self.rows = np.flatnonzero(problem.a > 0)
        self.cols = np.flatnonzero(problem.b > 0)
        self.full = self.rows.size == problem.a.size and self.cols.size == problem.b.size
        self.C = problem.C if self.full else np.ascontiguousarray(problem.C[np.ix_(self.rows, self.cols)])
        self.a = problem.a[self.rows]
        self.b = problem.b[self.cols]
        self.eps = problem.reg

    def embed(self, P: np.ndarray, f: np.ndarray, g: np.ndarray):
        """Plan and potentials on the full grid; zero-mass bins get potential -inf (exp(-inf) = 0)."""
        if self.full:
            return P, f, g
        Pf = np.zeros(self.problem.C.shape)
        Pf[np.ix_(self.rows, self.cols)] = P
        ff = np.full(self.problem.a.size, -np.inf)
        gf = np.full(self.problem.b.size, -np.inf)
        ff[self.rows] = f
        gf[self.cols] = g
        return Pf, ff, gf


def marginal_error(P: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum())


def init_potentials(red: Reduced) -> tuple[np.ndarray, np.ndarray]:
    """One log-domain Sinkhorn sweep from zero potentials: no row/column of the kernel underflows."""
    f = np.zeros(red.a.size)
    g = np.zeros(red.b.size)
    K.update_f(red.C, g, np.log(red.a), red.eps, f)
    K.update_g(red.C, f, np.log(red.b), red.eps, g)
    return f, g


def scaling_sweeps(red: Reduced, f: np.ndarray, g: np.ndarray, ctx: SolveContext, tol: float,
                   max_iter: int, it0: int = 0, errs: list[float] | None = None,
                   switch_after: float | None = None, min_iter: int = 0):
    """Stabilized Sinkhorn scaling (Schmitzer 2019, Alg. 2): u = a / (K v), v = b / (K^T u) with
    K = exp((f + g - C)/eps), absorbing u, v into (f, g) whenever they grow past 1e30.

    The row error sum_i |u_i (K v)_i - a_i| comes for free from each u-update (columns are exact
    after each v-update).  With ``switch_after`` the sweeps stop early (for SNS stage 2) when
    the observed linear rate predicts more than ``switch_after`` further sweeps to reach ``tol``.
    Returns (f, g, iterations, last error, reason) with reason in {"converged", "switch",
    "limit", "stop"}."""
    eps, a, b, C = red.eps, red.a, red.b, red.C
    errs = [] if errs is None else errs
    Kmat = np.exp((f[:, None] + g[None, :] - C) / eps)
    u = np.ones(a.size)
    v = np.ones(b.size)
    it = it0
    err = np.inf
    reason = "limit"
    while it < max_iter:
        it += 1
        Kv = Kmat @ v
        err = float(np.abs(u * Kv - a).sum())
        errs.append(err)
        if it % 10 == 0 or err <= tol:
            ctx.record(err, iteration=it)
        if err <= tol:
            reason = "converged"
            break
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            u = a / Kv
            v = b / (Kmat.T @ u)
        if not (np.all(np.isfinite(u)) and np.all(np.isfinite(v)) and u.min() > 0 and v.min() > 0):
            # kernel under/overflow: fall back to one exact log-domain sweep, then re-absorb
            K.update_f(C, g, np.log(a), eps, f)
            K.update_g(C, f, np.log(b), eps, g)
            u[:] = 1.0
            v[:] = 1.0
            Kmat = np.exp((f[:, None] + g[None, :] - C) / eps)
        elif max(u.max(), v.max()) > _ABSORB or min(u.min(), v.min()) < 1.0 / _ABSORB:
            f += eps * np.log(u)
            g += eps * np.log(v)
            u[:] = 1.0
            v[:] = 1.0
            Kmat = np.exp((f[:, None] + g[None, :] - C) / eps)
        if ctx.should_stop():
            reason = "stop"
            break
        if switch_after is not None and it - it0 >= max(min_iter, 20) and it % 10 == 0:
            prev = errs[-11]
            rate = (err / prev) ** 0.1 if prev > 0 and err > 0 else 0.0
            if rate >= 1.0 or (rate > 0 and np.log(tol / err) / np.log(rate) > switch_after):
                reason = "switch"
                break
    f = f + eps * np.log(u)
    g = g + eps * np.log(v)
    return f, g, it, err, reason


def pack(red: Reduced, ctx: SolveContext, f: np.ndarray, g: np.ndarray, status: Status,
         iterations: int, stats: dict, P: np.ndarray | None = None) -> Result:
    """Plan P = exp((f + g - C)/eps) on the full grid, objective <C,P> + eps sum P(log P - 1)."""
    if P is None:
        P = np.empty(red.C.shape)
        K.plan_marginals(red.C, f, g, red.eps, P, np.empty(red.a.size), np.empty(red.b.size))
    err = marginal_error(P, red.a, red.b)
    Pf, ff, gf = red.embed(P, f, g)
    stats = dict(stats, potentials=(ff, gf), marginal_error=err)
    if status == Status.CONVERGED and not err <= stats.get("tol", np.inf):
        status = Status.ITERATION_LIMIT
    return ctx.result(solution=Pf, objective=red.problem.objective(Pf), status=status,
                      iterations=iterations, stats=stats)
