"""The sparse Newton stage of SNS (paper Alg. 1 lines 5-10): the sparsified, shifted Newton
system solved by CG on its Schur complement, then Armijo backtracking on the dual.

Dual (Lyapunov) function, concave in the potentials (f, g):
    L(f, g) = a^T f + b^T g - eps sum_ij exp((f_i + g_j - C_ij)/eps)              (paper eq. 2)
gradient (a - P1, b - P^T 1), Hessian -(1/eps) [[diag(P1), P], [P^T, diag(P^T 1)]].
"""

from __future__ import annotations

import numpy as np

from ..context import SolveContext
from . import _kernels as K
from .sampling import threshold, top_entries
from .scaled import Scaled, accept_plan, sweeps_so_far

ETA = 0.5  # CG forcing term: relative residual min(0.1, sqrt(err)) (see forcing)
DROP_MIN = 1e-6  # the sparsified Hessian may drop min(this, err / 10) of the plan's mass: the
# links that carry the last err of mass between nearly disconnected blocks are always kept
SWEEP_ABOVE = 1e-4  # one Sinkhorn sweep after each Newton step while the error is above this
MU0 = 0.1  # initial shift factor: sigma = mu * err (1.0 took 1-5 more Newton steps)


def pcg(ctx: SolveContext, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
        r: np.ndarray, c: np.ndarray, ga: np.ndarray, gb: np.ndarray, rtol: float, maxit: int,
        stats: dict) -> tuple[np.ndarray, np.ndarray]:
    """Solve [[diag r, S], [S^T, diag c]] (x, y) = (ga, gb) to relative residual ``rtol``: the row
    block is eliminated exactly, x = (ga - S y) / r, and the Schur complement
    (diag c - S^T diag(r)^-1 S) y = gb - S^T (ga / r) is solved by CG preconditioned with its
    diagonal (numba, ``K.schur_pcg_chunk``), in chunks of 25 iterations between stop checks.
    The residual of the whole system is that of the reduced one (the row block is exact).
    Subnormal entries of ``data`` (a nearly dense plan at a small reg) are read as 0 here: x86
    arithmetic on them is 20-100x slower (63 % of 9M entries took one CG iteration 0.1 -> 0.4 s),
    and their share of any row sum is below 1e-300."""
    tiny = np.finfo(np.float64).tiny
    if data.size and float(data.min()) < tiny:  # entries are >= 0: no |.| temporary here
        data = np.where(np.abs(data) < tiny, 0.0, data)
    r = np.maximum(r, 1e-300)
    c = np.maximum(c, 1e-300)
    d, res = np.empty(c.size), np.empty(c.size)
    K.schur_setup(indptr, indices, data, r, c, ga, gb, d, res)
    y = np.zeros(c.size)
    p = res / d
    state = np.array([float(res @ p), rtol * rtol * float(ga @ ga + gb @ gb)])
    done_its = 0
    if float(res @ res) > state[1]:
        while done_its < maxit:
            its, finished = K.schur_pcg_chunk(indptr, indices, data, r, c, d, y, res, p, state,
                                              min(25, maxit - done_its))
            done_its += its
            if finished or ctx.should_stop():
                break
    stats["cg_iterations"] += done_its
    x = np.empty(r.size)
    K.schur_back(indptr, indices, data, r, ga, y, x)
    return x, y


def forcing(err: float, tol: float) -> float:
    """CG relative residual for the Newton step at marginal error ``err`` (inexact Newton):
    sqrt(err) (superlinear local convergence), but never tighter than the step needs to end
    below the target (0.2 tol / err: the last step from just above tol needs little accuracy,
    not a 1e-4 solve), within [1e-10, 0.1]."""
    return max(1e-10, min(0.1, max(err ** ETA, 0.2 * tol / err if err > 0 else 0.1)))


def newton(st: Scaled, ctx: SolveContext, tol: float, max_iter: int | None, lam: float, cg_maxit: int,
           stall: int, stats: dict, mu: float | None = None, sparsify: str = "mass",
           probe: float | None = None) -> str:
    """Stage 2 (paper Alg. 1 lines 5-10), at most ``max_iter`` Newton steps over all phases
    (``stats["newton_iterations"]`` counts them; None: no cap).  Safeguards beyond the paper (as
    in safe sparse Newton, Tang & Qiu 2024): the system is shifted, (H_S + sigma diag H) z = grad
    with sigma = mu * err, so that far from the optimum (or when the plan's graph is nearly
    disconnected) the step stays bounded and CG well conditioned, while sigma -> 0 keeps the fast
    local convergence; ``sparsify="mass"``: the sparsified plan keeps at least lam*m*n entries
    and all but a sigma fraction of the mass; ``"paper"``: exactly the lam*m*n largest entries
    (Alg. 1 line 7, ``sampling.top_entries``); mu shrinks after full steps that cut the error
    and grows after damped ones.  ``probe`` (the adaptive stage 1 of ``solve_sns``): the
    Sinkhorn sweeps' per-sweep contraction of the error; when the first Newton step (with the
    sweep after it) contracts the error less per pass, the stage returns "retreat" at once.
    Returns "converged" (``st.P`` set), "stalled", "retreat" or "stop" (the step cap or a
    stopping criterion ended the run; ``ctx`` keeps the reason)."""
    red = st.red
    a, b, eps = red.a, red.b, st.eps
    mu = MU0 if mu is None else mu
    r, c = st.marginals()
    tot = float(r.sum())
    errs: list[float] = []
    inner = 0.5 * tol

    def assess() -> str | None:
        """Record the current error; "converged" or "stalled" when the stage ends here."""
        nonlocal inner
        err = float(np.abs(r - a).sum() + np.abs(c - b).sum())
        errs.append(err)
        ctx.record(err, iteration=sweeps_so_far(stats),
                   incumbent=st.incumbent())
        if err <= inner:
            done, e = accept_plan(st, a, b, tol)
            if done:
                return "converged"
            inner = 0.1 * min(inner, e)
        if len(errs) > stall and err > 0.5 * min(errs[: -stall]):
            return "stalled"  # the best error has not halved in ``stall`` steps
        return None

    verdict = assess()
    if verdict is not None:
        return verdict
    passes0 = sweeps_so_far(stats)
    for _ in ctx.iterations(max_iter, start=stats["newton_iterations"]):
        stats["newton_iterations"] += 1
        err = errs[-1]
        ga, gb = a - r, b - c
        sigma = mu * err
        if sparsify == "paper":
            indptr, indices, data = top_entries(st, lam)
        else:
            tau = threshold(st, lam, min(0.5, max(sigma, min(DROP_MIN, 0.1 * err))))
            indptr, indices, data = K.scaled_sparsify(st.K, st.u, st.v, tau)
        stats["nnz_last"] = int(data.size)
        stats["density_last"] = data.size / st.K.size
        zx, zy = pcg(ctx, indptr, indices, data, r * (1 + sigma), c * (1 + sigma), ga, gb,
                     forcing(err, tol), int(cg_maxit), stats)
        slope = eps * float(ga @ zx + gb @ zy)  # dL/dalpha at 0, > 0 for an ascent direction
        lin = eps * float(a @ zx + b @ zy)
        alpha = 1.0
        accepted = False
        for _ in range(40):
            if ctx.should_stop():
                break
            with np.errstate(over="ignore", invalid="ignore"):
                ut = st.u * np.exp(alpha * zx)
                vt = st.v * np.exp(alpha * zy)
                rt, ct = st.marginals(ut, vt)
                tot_t = float(rt.sum())
                err_t = float(np.abs(rt - a).sum() + np.abs(ct - b).sum())
            stats["line_search_evals"] += 1
            if np.isfinite(tot_t) and np.isfinite(err_t):
                dL = alpha * lin - eps * (tot_t - tot)  # L(new) - L(old)
                # near the optimum dL is below rounding (|lin| can be large along nearly null
                # directions of a nearly disconnected plan): then the marginal error decides
                if dL >= 1e-4 * alpha * slope or (err_t < err and (dL >= -1e-14 or err < 1e-6)):
                    accepted = True
                    break
            alpha *= 0.5
        if accepted:
            st.u, st.v = ut, vt
            r, c, tot = rt, ct, tot_t
            mu = mu * 4.0 if alpha < 1.0 else max(mu / 4.0, 1e-8)
            if err_t > SWEEP_ABOVE:  # far from the optimum: one Sinkhorn sweep after the step
                K.sweep_marginals(st.K, a, b, st.u, st.v, r, c)  # fused: 2 passes over K
                stats["newton_sweeps"] += 1  # a sweep: counted in the result's iterations
                if not st.scalings_ok():
                    st.log_sweep()
                    r, c = st.marginals()
                tot = float(r.sum())
            if st.needs_absorb():
                st.absorb()
                r, c = st.marginals()
                tot = float(r.sum())
        else:
            if ctx.should_stop():
                return "stop"
            mu *= 16.0  # safeguard: one Sinkhorn sweep (always ascends L)
            K.sweep_marginals(st.K, a, b, st.u, st.v, r, c)
            stats["sinkhorn_iterations"] += 1
            if not st.scalings_ok():
                st.log_sweep()
                r, c = st.marginals()
            elif st.needs_absorb():
                st.absorb()
                r, c = st.marginals()
            tot = float(r.sum())
        stats["mu_final"] = mu
        verdict = assess()
        if verdict is not None:
            return verdict
        if probe is not None and len(errs) == 2 and errs[0] > 0:
            passes = max(sweeps_so_far(stats) - passes0, 1)
            if (errs[1] / errs[0]) ** (1.0 / passes) > probe:
                return "retreat"  # the sweeps were contracting the error faster
    return "stop"
