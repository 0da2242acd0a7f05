"""Point-cloud entropic OT without n^2 memory (issue 23): log-domain Sinkhorn and
Sinkhorn-Newton-Sparse (Tang et al., ICLR 2024; design.md §3) on ``OptimalTransport.from_points``
problems, every pass over the plan computed online from the points (``_points_kernels``).

Stage 1 (Alg. 1 lines 1-4): fused log-domain Sinkhorn sweeps, one exponential per entry per
sweep (the row update's normalized plan row is summed into the columns on the fly).
Stage 2 (lines 5-10): the sparsified Newton step.  Sparsify(P) keeps the ``k`` largest entries of
every row (one pass, O(n) selection per row), stored as a CSR matrix of k entries a row: O(m k)
memory, the only storage beyond O(m + n).  The shifted system (H_S + sigma diag H) z = grad is
solved by the dense SNS's Schur-complement PCG (``newton.pcg``, O(nnz) per iteration), then Armijo
backtracking on the dual L(f, g) = a^T f + b^T g - eps sum P, one online marginal pass per trial.

The returned plan is a :class:`lazy_plan.LazyPlan`; ``stats["potentials"]`` = (f, g) with
P_ij = exp((f_i + g_j - C_ij)/reg), the dense solvers' convention.
"""

from __future__ import annotations

import numpy as np

from problems import InvalidProblemError, OptimalTransport

from ..context import SolveContext
from ..result import Result, Status
from . import _points_kernels as PK
from ._common import plan_status
from .lazy_plan import Cloud, LazyPlan
from .newton import MU0, SWEEP_ABOVE, forcing, pcg
from .phases import alternate
from .sweeps import MIN_SWEEPS

#: online passes when the dense kernel would take more than this many entries (dense sweeps
#: over a stored kernel are ~2x cheaper than online ones while K, C and P fit comfortably)
ONLINE_ABOVE = 2500 * 2500
NNZ_BUDGET = 50_000_000  # kept Newton entries by default (12 bytes each: 600 MB)
NNZ_MAX = 100_000_000  # refused beyond this (1.2 GB) before allocating
K_MIN = 32  # kept entries a row at least (default)
KEEP_MIN = 0.999  # Newton only when the kept entries hold this share of the plan's mass


def use_online(problem: OptimalTransport, online: str) -> bool:
    if online == "never" or not problem.is_points:
        if online == "always" and not problem.is_points:
            raise InvalidProblemError("online=always needs a point-cloud problem (from_points)")
        return False
    if online == "always":
        return True
    m, n = problem.shape
    return (not problem.dense_fits) or m * n > ONLINE_ABOVE


class State:
    """Potentials (f, g) on the support, the last error and its pieces."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        m, n = cloud.shape
        self.f, self.g = np.zeros(m), np.zeros(n)
        cloud.lse_f(self.g, self.f)  # exact half-steps from zero: no row or column underflows
        cloud.lse_g(self.f, self.g)
        self.s_old, self.colsum = np.empty(m), np.empty(n)
        self.final: tuple[np.ndarray, np.ndarray, float, float] | None = None  # (r, c, cost, err)

    def sweep(self) -> float:
        """One fused Sinkhorn sweep; returns the row error of the plan before it (its columns
        were exact after the previous sweep)."""
        cl = self.cloud
        PK.sweep(cl.X, cl.Yt, self.f, self.g, cl.a, cl.eps, cl.inv_s, cl.metric, cl.brow,
                 self.s_old, self.colsum)
        if not (np.all(np.isfinite(self.colsum)) and self.colsum.min() > 1e-300):
            cl.lse_g(self.f, self.g)  # a column got no mass in floating point: exact update
        else:
            self.g += cl.eps * (cl.log_b - np.log(self.colsum))
        return float(np.abs(self.s_old - cl.a).sum())

    def measure(self) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Marginals, <C, P> and the L1 marginal error of the current potentials (one pass)."""
        cl = self.cloud
        r, c, cost = cl.marginals(self.f, self.g)
        err = float(np.abs(r - cl.a).sum() + np.abs(c - cl.b).sum())
        return r, c, cost, err

    def accept(self, tol: float) -> tuple[bool, float]:
        """The current plan's exact error; keep it as final when it meets ``tol``."""
        out = self.measure()
        if out[3] <= tol:
            self.final = out
            return True, out[3]
        return False, out[3]

    def incumbent(self):
        cl, f, g = self.cloud, self.f.copy(), self.g.copy()
        return lambda: LazyPlan(cl, f, g)


def run_sweeps(st: State, ctx: SolveContext, tol: float, max_iter: int | None, stats: dict,
               switch_after: float | None = None, min_sweeps: int = MIN_SWEEPS,
               errs: list[float] | None = None) -> str:
    """Sinkhorn sweeps (stage 1) until the plan's error is <= tol ("converged", ``st.final``
    set), the observed rate predicts more than ``switch_after`` sweeps ("switch"), ``max_iter``
    sweeps ran ("limit") or a stopping criterion fired ("stop"); ``errs`` collects the
    per-sweep errors."""
    errs = [] if errs is None else errs
    inner = 0.5 * tol
    it = 0
    for _ in ctx.iterations():
        if max_iter is not None and it >= max_iter:
            return "limit"
        err = st.sweep()
        it += 1
        stats["sinkhorn_iterations"] += 1
        errs.append(err)
        total = _passes(stats)
        if err <= inner or not np.isfinite(err):
            done, e = st.accept(tol)
            ctx.record(e, iteration=total, incumbent=st.incumbent())
            if done:
                return "converged"
            inner = 0.1 * min(inner, e) if np.isfinite(e) else inner
            continue
        if it % 10 == 0:
            ctx.record(err, iteration=total, incumbent=st.incumbent())
        if switch_after is not None and it >= max(min_sweeps, MIN_SWEEPS) and it % 10 == 0:
            prev = errs[-11] if len(errs) > 10 else errs[0]
            span = min(10, len(errs) - 1)
            rate = (err / prev) ** (1.0 / span) if prev > 0 and err > 0 and span else 0.0
            left = np.inf if rate >= 1.0 else (np.log(tol / err) / np.log(rate) if rate > 0 else 0.0)
            if left > switch_after:
                stats["sinkhorn_rate"] = rate
                return "switch"
    return "stop"


def _work(stats: dict) -> int:
    """Online passes over the plan so far (sweeps, sparsifications, line-search trials, measures)."""
    return (stats["sinkhorn_iterations"] + stats.get("newton_sweeps", 0)
            + 2 * stats["newton_iterations"] + stats["line_search_evals"])


def kept_mass(st: State, k: int, rows: int = 64) -> float:
    """The share of the plan's mass in its k largest entries a row, on an even sample of rows
    (one pass over ``rows`` rows): Newton with the sparsified Hessian converges fast only when
    this is close to 1 (on blurred plans, large reg relative to the cost, it is far from it)."""
    cl = st.cloud
    m = cl.shape[0]
    idx = np.unique(np.linspace(0, m - 1, min(rows, m)).astype(np.int64))
    kept = np.empty(idx.size)
    PK.top_k(np.ascontiguousarray(cl.X[idx]), cl.Yt, st.f[idx].copy(), st.g, cl.eps, cl.inv_s,
             cl.metric, np.array([0, idx.size], np.int64), k,
             np.empty((idx.size, k), np.uint32), np.empty((idx.size, k)), kept)
    w = cl.a[idx]
    return float(kept @ w / w.sum())


def _passes(stats: dict) -> int:
    return stats["sinkhorn_iterations"] + stats["newton_iterations"] + stats.get("newton_sweeps", 0)


def kept_per_row(m: int, n: int, lam: float | None) -> int:
    """k: round(lam * n) when ``lam`` is given, else NNZ_BUDGET / m entries a row (at least
    K_MIN, at most n); refused before allocating beyond NNZ_MAX entries."""
    k = max(1, int(round(lam * n))) if lam is not None else max(K_MIN, NNZ_BUDGET // max(m, 1))
    k = min(k, n)
    if m * k > NNZ_MAX:
        raise InvalidProblemError(
            f"the sparsified Hessian would keep {m} x {k} = {m * k:,} entries "
            f"({12 * m * k / 2**30:.2f} GiB, over the {12 * NNZ_MAX / 2**30:.1f} GiB limit): lower lam")
    return k


def newton(st: State, ctx: SolveContext, tol: float, max_iter: int | None, k: int, cg_maxit: int,
           stall: int, stats: dict, probe: float | None = None) -> str:
    """Stage 2 (paper Alg. 1 lines 5-10) on the online plan, the dense ``newton.newton`` with
    per-row top-k sparsification (``probe`` as there); returns "converged" (``st.final``
    set), "stalled", "retreat", "slow" or "stop"."""
    cl = st.cloud
    a, b, eps = cl.a, cl.b, cl.eps
    m, n = cl.shape
    mu = MU0
    r, c, cost, err = st.measure()
    tot = float(r.sum())
    errs: list[float] = []
    inner = 0.5 * tol
    indices = np.empty((m, k), np.uint32)
    data = np.empty((m, k))
    kept = np.empty(m)
    indptr = np.arange(m + 1, dtype=np.int64) * k

    def assess(r, c, cost) -> str | None:
        nonlocal inner
        err = float(np.abs(r - a).sum() + np.abs(c - b).sum())
        errs.append(err)
        ctx.record(err, iteration=_passes(stats), incumbent=st.incumbent())
        if err <= tol:
            st.final = (r, c, cost, err)
            return "converged"
        if len(errs) > stall and err > 0.5 * min(errs[:-stall]):
            return "stalled"
        return None

    verdict = assess(r, c, cost)
    if verdict is not None:
        return verdict
    err0, passes0, sweeps0 = errs[0], _work(stats), _passes(stats)
    sk_rate = stats.get("sinkhorn_rate", 1.0)
    for _ in ctx.iterations(max_iter, start=stats["newton_iterations"]):
        if len(errs) > 3 and (errs[-1] / err0) ** (1.0 / max(_work(stats) - passes0, 1)) > sk_rate:
            return "slow"  # fewer digits per pass over the plan than the Sinkhorn sweeps gave
        stats["newton_iterations"] += 1
        err = errs[-1]
        ga, gb = a - r, b - c
        sigma = mu * err
        PK.top_k(cl.X, cl.Yt, st.f, st.g, eps, cl.inv_s, cl.metric, cl.brow, k, indices, data, kept)
        stats["nnz_last"] = m * k
        stats["kept_mass_last"] = float(kept @ a / a.sum())
        zx, zy = pcg(ctx, indptr, indices.ravel(), data.ravel(), r * (1 + sigma), c * (1 + sigma),
                     ga, gb, forcing(err, tol), int(cg_maxit), stats)
        slope = eps * float(ga @ zx + gb @ zy)
        lin = eps * float(a @ zx + b @ zy)
        alpha, accepted = 1.0, False
        for _ in range(40):
            if ctx.should_stop():
                break
            ft, gt = st.f + alpha * eps * zx, st.g + alpha * eps * zy
            rt, ct, cost_t = cl.marginals(ft, gt)
            stats["line_search_evals"] += 1
            tot_t = float(rt.sum())
            err_t = float(np.abs(rt - a).sum() + np.abs(ct - b).sum())
            if np.isfinite(tot_t) and np.isfinite(err_t):
                dL = alpha * lin - eps * (tot_t - tot)
                if dL >= 1e-4 * alpha * slope or (err_t < err and (dL >= -1e-14 or err < 1e-6)):
                    accepted = True
                    break
            alpha *= 0.5
        if accepted:
            st.f, st.g = ft, gt
            r, c, cost = rt, ct, cost_t
            mu = mu * 4.0 if alpha < 1.0 else max(mu / 4.0, 1e-8)
            if err_t > SWEEP_ABOVE:  # far from the optimum: one Sinkhorn sweep after the step
                st.sweep()
                stats["newton_sweeps"] += 1
                r, c, cost, _ = st.measure()
        else:
            if ctx.should_stop():
                return "stop"
            mu *= 16.0  # safeguard: a Sinkhorn sweep always ascends L
            st.sweep()
            stats["sinkhorn_iterations"] += 1
            r, c, cost, _ = st.measure()
        tot = float(r.sum())
        stats["mu_final"] = mu
        verdict = assess(r, c, cost)
        if verdict is not None:
            return verdict
        if probe is not None and len(errs) == 2 and errs[0] > 0:
            if (errs[1] / errs[0]) ** (1.0 / max(_passes(stats) - sweeps0, 1)) > probe:
                return "retreat"  # the sweeps were contracting the error faster
    return "stop"


def eps_ladder(st: State, ctx: SolveContext, factor: float, stats: dict) -> None:
    """eps-scaling warm start (as the dense ``newton_sparse.eps_ladder``): sweeps to a loose 1e-3
    at eps * factor^k ... eps * factor (coarsest about 1/50 of the largest cost), then back at
    eps.  The potentials carry over unchanged: the passes take eps as an argument."""
    cl = st.cloud
    eps0 = cl.eps
    span = float(PK.max_cost(cl.X, cl.Yt, cl.inv_s, cl.metric, cl.brow))
    ladder, e = [], eps0 * factor
    while e < span / 50.0:
        ladder.append(e)
        e *= factor
    try:
        for e in reversed(ladder):
            cl.eps = e
            if run_sweeps(st, ctx, 1e-3, 100, stats) == "stop":
                break
    finally:
        cl.eps = eps0
    st.final = None
    stats["eps_ladder"] = len(ladder)


def pack(st: State, ctx: SolveContext, stats: dict, status: Status | None = None) -> Result:
    """The lazy plan, its objective f^T P1 + g^T P^T1 - eps sum P (exact: log P is read off the
    potentials), the potentials and the plan's own error (one more pass unless already known)."""
    cl = st.cloud
    r, c, cost, err = st.final if st.final is not None else st.measure()
    plan = LazyPlan(cl, st.f, st.g)
    plan._sums = (r, c, cost)
    obj = float(st.f @ r + st.g @ c - cl.eps * r.sum())
    stats = dict(stats, potentials=plan.potentials, marginal_error=err, online=True)
    return ctx.result(solution=plan, objective=obj, status=plan_status(ctx, err, stats["tol"]) or status,
                      iterations=_passes(stats), stats=stats)


def _stats(tol: float) -> dict:
    return {"tol": tol, "sinkhorn_iterations": 0, "newton_iterations": 0, "cg_iterations": 0,
            "line_search_evals": 0, "newton_sweeps": 0}


def sinkhorn_points(problem: OptimalTransport, ctx: SolveContext, *, tol: float,
                    max_iter: int | None) -> Result:
    """Log-domain Sinkhorn on the online plan (``max_iter`` sweeps at most)."""
    st = State(Cloud(problem))
    stats = _stats(tol)
    reason = run_sweeps(st, ctx, tol, max_iter, stats)
    if reason == "converged":
        ctx.converged()
    return pack(st, ctx, stats, status=Status.ITERATION_LIMIT if reason == "limit" else None)


def sns_points(problem: OptimalTransport, ctx: SolveContext, *, tol: float, max_iter: int | None,
               n1: int | None, switch_after: float, lam: float | None, cg_maxit: int, stall: int,
               eps_scaling: float) -> Result:
    """SNS on the online plan: the phases of ``phases.alternate`` (as ``newton_sparse.solve_sns``)
    with the online sweeps and Newton steps; Newton only where the kept entries hold the mass."""
    k = kept_per_row(int((problem.a > 0).sum()), int((problem.b > 0).sum()), lam)
    st = State(Cloud(problem))
    stats = dict(_stats(tol), kept_per_row=k)

    def gate() -> bool:  # Newton on this sparsification pays only if it keeps the mass
        stats["kept_mass_sample"] = km = kept_mass(st, k)
        if km < KEEP_MIN:
            stats["newton_skipped"] = f"kept mass {km:.3g} < {KEEP_MIN} with {k} entries a row"
        return km >= KEEP_MIN

    alternate(st, ctx, tol=tol, n1=n1, switch_after=switch_after, eps_scaling=eps_scaling,
              stats=stats, sweeps=run_sweeps, eps_ladder=eps_ladder, gate=gate,
              newton=lambda probe: newton(st, ctx, tol, max_iter, k, cg_maxit, stall, stats, probe=probe))
    return pack(st, ctx, stats)


# ---------------------------------------------------------------- the registered entry points
def solve_sns(problem: OptimalTransport, ctx: SolveContext, *, tol: float, max_iter: int | None,
              n1: int | None, switch_after: float, lam: float | None, cg_maxit: int, stall: int,
              eps_scaling: float, sparsify: str, online: str) -> Result:
    """``sns``: the dense ``newton_sparse.solve_sns``, or for point clouds (``online``: "auto" =
    when the dense kernel does not fit or exceeds ONLINE_ABOVE entries) :func:`sns_points`,
    where ``lam`` is the kept share of each row (default NNZ_BUDGET entries in all) and
    ``sparsify`` does not apply (always the per-row top entries)."""
    if use_online(problem, online):
        return sns_points(problem, ctx, tol=tol, max_iter=max_iter, n1=n1, switch_after=switch_after,
                          lam=lam, cg_maxit=cg_maxit, stall=stall, eps_scaling=eps_scaling)
    from .newton_sparse import solve_sns as dense

    return dense(problem, ctx, tol=tol, max_iter=max_iter, n1=n1, switch_after=switch_after, lam=lam,
                 cg_maxit=cg_maxit, stall=stall, eps_scaling=eps_scaling, sparsify=sparsify)


def solve_sinkhorn_log(problem: OptimalTransport, ctx: SolveContext, *, tol: float,
                       max_iter: int | None, online: str) -> Result:
    """``sinkhorn-log``: dense ``sinkhorn.solve_sinkhorn_log`` or, for point clouds, the online
    :func:`sinkhorn_points` (``online`` as for ``sns``)."""
    if use_online(problem, online):
        return sinkhorn_points(problem, ctx, tol=tol, max_iter=max_iter)
    from .sinkhorn import solve_sinkhorn_log as dense

    return dense(problem, ctx, tol=tol, max_iter=max_iter)
