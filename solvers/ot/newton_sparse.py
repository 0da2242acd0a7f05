"""Sinkhorn-Newton-Sparse (Tang, Shavlovsky, Rahmanian, Tardini, Thekumparampil, Xiao, Ying,
"Accelerating Sinkhorn Algorithm with Sparse Newton Iterations", ICLR 2024; design.md §3).

Dual (Lyapunov) function, concave in the potentials (f, g):
    L(f, g) = a^T f + b^T g - eps sum_ij exp((f_i + g_j - C_ij)/eps)              (paper eq. 2)
gradient (a - P1, b - P^T 1), Hessian -(1/eps) [[diag(P1), P], [P^T, diag(P^T 1)]].

Everything runs in the stabilized scaling form P = diag(u) K diag(v), K = exp((f0 + g0 - C)/eps)
(Schmitzer 2019): K is one exponential pass, rebuilt only when u or v leave [e^-100, e^100]
(absorption f0 += eps log u), so a Sinkhorn sweep, a Newton line-search trial and the
sparsification are multiply-add passes over K, never exponentials.
Stage 1 (Alg. 1 lines 1-4): Sinkhorn sweeps until the observed linear rate of the marginal error
predicts more sweeps than Newton would cost (``switch_after``, scaled up for dense plans).
Stage 2 (lines 5-10): keep the plan entries above a threshold (at least the largest lam*m*n and
all but a sigma fraction of the mass, estimated on a sample, no sort), solve the shifted sparse
Newton system (H_S + sigma diag H) z = grad by eliminating the row block exactly and running
conjugate gradient on the Schur complement diag(c) - S^T diag(r)^-1 S, preconditioned by its
diagonal (numba; about half the iterations of Jacobi-PCG on the whole system),
sigma = mu * err (safe sparse Newton, Tang & Qiu 2024), Armijo backtracking on L.  When Newton
stalls the solve goes back to warm-started sweeps (and once through an eps-scaling ladder).
Stopping: ||P1 - a||_1 + ||P^T 1 - b||_1 <= tol, checked on the returned plan itself.
Options: see ``solve_sns``.
"""

from __future__ import annotations

import numpy as np

from problems import OptimalTransport

from ..context import SolveContext
from ..result import Result, Status
from . import _kernels as K
from ._common import Reduced, check_options

_ABSORB = 100.0  # absorb u, v into the potentials when |log u| or |log v| exceeds this
_ETA = 0.5  # CG forcing term: relative residual min(0.1, sqrt(err)) (see _forcing)
_DROP_MIN = 1e-6  # the sparsified Hessian may drop min(this, err / 10) of the plan's mass: the
# links that carry the last err of mass between nearly disconnected blocks are always kept
_SWEEP_ABOVE = 1e-4  # one Sinkhorn sweep after each Newton step while the error is above this
_MU0 = 0.1  # initial shift factor: sigma = mu * err (1.0 took 1-5 more Newton steps)
_MIN_SWEEPS = 20  # Sinkhorn sweeps before the first switch test (paper: N1 = 20)
_SAMPLE = 20_480  # plan entries sampled to estimate the sparsification threshold
_RUN = 32  # ... in runs of this many consecutive entries


class Scaled:
    """P = diag(u) K diag(v), K = exp((f0 + g0 - C)/eps); potentials f = f0 + eps log u."""

    def __init__(self, red: Reduced, eps: float | None = None):
        self.red = red
        self.eps = red.eps if eps is None else float(eps)
        C = red.C
        # c-transform start: f0 = row minima, g0 = column minima of C - f0.  Then every entry of
        # K is <= 1 and every row and column holds an entry equal to 1: no row or column of the
        # kernel underflows, whatever eps and the cost scale are.
        self.f0, self.g0 = K.ctransform_start(C)
        self.K = np.empty(C.shape)
        self._build()
        self.u = np.ones(C.shape[0])
        self.v = np.ones(C.shape[1])
        self.absorptions = 0
        self.P: np.ndarray | None = None  # the final plan, once a stopping test has passed
        self.r_plan = self.c_plan = np.empty(0)  # marginals of the last plan() call
        self.sample_at: tuple[np.ndarray, np.ndarray] | None = None  # see _sample

    def _build(self) -> None:
        K.build_kernel(self.red.C, self.f0, self.g0, self.eps, self.K)

    def potentials(self) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore"):
            return self.f0 + self.eps * np.log(self.u), self.g0 + self.eps * np.log(self.v)

    def absorb(self, eps: float | None = None) -> None:
        """f0 += eps log u, g0 += eps log v, u = v = 1, rebuild K (one exponential pass),
        optionally for a new regularization ``eps`` (eps-scaling warm start)."""
        self.f0, self.g0 = self.potentials()
        if eps is not None:
            self.eps = float(eps)
        self.u = np.ones_like(self.u)
        self.v = np.ones_like(self.v)
        self._build()
        self.absorptions += 1

    def needs_absorb(self) -> bool:
        lo, hi = np.exp(-_ABSORB), np.exp(_ABSORB)
        return bool(min(self.u.min(), self.v.min()) < lo or max(self.u.max(), self.v.max()) > hi)

    def log_sweep(self) -> None:
        """One exact log-domain Sinkhorn sweep (numba log-sum-exp) from the current potentials,
        then rebuild K: the fallback when the scaled kernel has an all-zero row or column."""
        red = self.red
        f, g = self.potentials()
        f = np.where(np.isfinite(f), f, self.f0)
        g = np.where(np.isfinite(g), g, self.g0)
        K.update_f(red.C, g, np.log(red.a), self.eps, f)
        K.update_g(red.C, f, np.log(red.b), self.eps, g)
        self.f0, self.g0 = f, g
        self.u = np.ones_like(self.u)
        self.v = np.ones_like(self.v)
        self._build()
        self.absorptions += 1

    def marginals(self, u: np.ndarray | None = None,
                  v: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Row and column sums of diag(u) K diag(v) (the current scalings by default)."""
        u = self.u if u is None else u
        v = self.v if v is None else v
        r = np.empty(u.size)
        c = np.empty(v.size)
        K.scaled_marginals(self.K, u, v, r, c)
        return r, c

    def plan(self) -> np.ndarray:
        P = np.empty(self.K.shape)
        self.r_plan, self.c_plan = np.empty(P.shape[0]), np.empty(P.shape[1])
        K.scaled_plan(self.K, self.u, self.v, P, self.r_plan, self.c_plan)
        return P


def plan_error(st: Scaled, a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """||P1 - a||_1 + ||P^T 1 - b||_1 of the plan just built by ``st.plan()`` (its row and column
    sums come with the same pass; they match numpy's P.sum to rounding)."""
    r, c = st.r_plan, st.c_plan
    return float(np.abs(r - a).sum() + np.abs(c - b).sum()), r, c


def sweeps(st: Scaled, ctx: SolveContext, tol: float, max_iter: int, stats: dict,
           switch_after: float | None = None, errs: list[float] | None = None,
           min_sweeps: int = 20) -> str:
    """Sinkhorn scaling sweeps u = a / (K v), v = b / (K^T u) (paper Alg. 1 lines 1-4).

    The row error sum_i |u_i (K v)_i - a_i| comes free with each u-update (the columns are
    exact after each v-update).  Returns "converged" (the error of the actual plan is <= tol:
    ``st`` then holds ``st.P``), "switch" (the observed linear rate predicts more than
    ``switch_after`` further sweeps: Newton pays), "limit" or "stop"."""
    red = st.red
    a, b = red.a, red.b
    errs = [] if errs is None else errs
    inner = 0.5 * tol
    density: tuple[float, int] | None = None
    buf = np.empty(10)
    it = 0
    if max_iter > 0:  # the first sweep starts from arbitrary scalings: count the column error too
        r, c = st.marginals()
        col = float(np.abs(c - b).sum())
    while it < max_iter:
        chunk = min(10 - it % 10, max_iter - it)  # keep the every-10-sweeps cadence
        u, v = st.u.copy(), st.v.copy()
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            done = K.scaling_sweeps(st.K, a, b, u, v, chunk, inner, buf)
        if it == 0:
            buf[0] += col
        errs.extend(buf[:done].tolist())
        err = errs[-1]
        it += done
        stats["sinkhorn_iterations"] += done
        if not np.isfinite(err) or not (np.all(np.isfinite(v)) and v.min() > 0 and u.min() > 0):
            st.log_sweep()  # a kernel row/column underflowed for these scalings
            if ctx.should_stop():
                return "stop"
            continue
        if err <= inner:  # (u, v) is the state whose plan has this error
            ctx.record(err, iteration=stats["sinkhorn_iterations"] + stats["newton_iterations"])
            st.u, st.v = u, v
            P = st.plan()
            e, _, _ = plan_error(st, a, b)
            if e <= tol:
                st.P = P
                return "converged"
            inner = 0.1 * min(inner, e)
            continue
        st.u, st.v = u, v
        if it % 10 == 0:
            ctx.record(err, iteration=stats["sinkhorn_iterations"] + stats["newton_iterations"])
        if st.needs_absorb():
            st.absorb()
        if ctx.should_stop():
            return "stop"
        if switch_after is not None and it >= max(min_sweeps, _MIN_SWEEPS) and it % 10 == 0:
            span = min(10, len(errs) - 1)  # the rate over the last (up to) 10 sweeps
            prev = errs[-1 - span]
            rate = (err / prev) ** (1.0 / span) if prev > 0 and err > 0 else 0.0
            left = np.inf if rate >= 1.0 else (np.log(tol / err) / np.log(rate) if rate > 0 else 0.0)
            # a Newton step costs a few passes plus CG on the kept part of the plan: the denser
            # the plan (mass spread over many entries), the more sweeps Newton must save to pay
            if left > switch_after:
                if density is None or it - density[1] >= 50:  # a sorted sample: ~1 ms, so cached
                    density = (_density(st, err), it)
                if left > switch_after * (1.0 + 10.0 * density[0]):
                    return "switch"
    return "limit"


def _sample_positions(st: Scaled) -> None:
    """The sampled positions, fixed for the solve (computed once): runs of _RUN consecutive
    entries from prime-strided starts, a few cache lines per run instead of one miss per entry."""
    if st.sample_at is None:
        m, n = st.K.shape
        runs = _SAMPLE // _RUN
        start = (np.arange(runs, dtype=np.int64) * 7_368_787 + 12_345) % (m * n - _RUN)
        idx = (start[:, None] + np.arange(_RUN)[None, :]).ravel()
        st.sample_at = np.divmod(idx, n)


def _sample(st: Scaled) -> np.ndarray:
    """Plan entries on a fixed strided sample (all of them for small plans), sorted descending."""
    m, n = st.K.shape
    N = m * n
    if N <= _SAMPLE:
        w = st.plan().ravel()
    else:
        _sample_positions(st)
        w = np.empty(st.sample_at[0].size)
        K.scaled_gather(st.K, st.u, st.v, st.sample_at[0], st.sample_at[1], w)
    return np.sort(w)[::-1]


def _density(st: Scaled, drop: float) -> float:
    """Fraction of the plan entries that hold all but a ``drop`` fraction of its mass."""
    w = _sample(st)
    tail = np.cumsum(w[::-1])[::-1]
    return float(np.searchsorted(-tail, -min(0.5, drop) * tail[0], side="right")) / w.size


def _threshold(st: Scaled, lam: float, drop: float) -> float:
    """Sparsification threshold tau (paper Alg. 1 line 7): the smaller of the lam*m*n-th largest
    plan entry and the value below which the plan entries carry at most a ``drop`` fraction of
    the mass.  Estimated on a fixed strided sample of the plan (no sort of P); binned in numba
    for large plans (``K.sample_threshold``), exact on the whole plan for small ones."""
    m, n = st.K.shape
    if m * n > _SAMPLE:
        _sample_positions(st)
        rows, cols = st.sample_at
        return float(K.sample_threshold(st.K, st.u, st.v, rows, cols, lam, drop))
    w = _sample(st)
    s = w.size
    tau_k = w[min(max(int(round(lam * s)), 1), s) - 1]
    tail = np.cumsum(w[::-1])[::-1]  # tail[i] = mass of entries i, i+1, ... (descending order)
    keep = int(np.searchsorted(-tail, -drop * tail[0], side="right"))  # first i with tail <= drop
    tau_m = w[min(max(keep - 1, 0), s - 1)]
    return float(min(tau_k, tau_m))


def _pcg(ctx: SolveContext, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
         r: np.ndarray, c: np.ndarray, ga: np.ndarray, gb: np.ndarray, rtol: float, maxit: int,
         stats: dict) -> tuple[np.ndarray, np.ndarray]:
    """Solve [[diag r, S], [S^T, diag c]] (x, y) = (ga, gb) to relative residual ``rtol``: the row
    block is eliminated exactly, x = (ga - S y) / r, and the Schur complement
    (diag c - S^T diag(r)^-1 S) y = gb - S^T (ga / r) is solved by CG preconditioned with its
    diagonal (numba, ``K.schur_pcg_chunk``), in chunks of 25 iterations between deadline checks.
    The residual of the whole system is that of the reduced one (the row block is exact)."""
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


def _forcing(err: float, tol: float) -> float:
    """CG relative residual for the Newton step at marginal error ``err`` (inexact Newton):
    sqrt(err) (superlinear local convergence), but never tighter than the step needs to end
    below the target (0.2 tol / err: the last step from just above tol needs little accuracy,
    not a 1e-4 solve), within [1e-10, 0.1]."""
    return max(1e-10, min(0.1, max(err ** _ETA, 0.2 * tol / err if err > 0 else 0.1)))


def pack(red: Reduced, ctx: SolveContext, st: Scaled, status: Status, stats: dict,
         P: np.ndarray | None = None) -> Result:
    """Plan, objective <C,P> + eps sum P(log P - 1), potentials, final error.

    With log P_ij = (f_i + g_j - C_ij)/eps the objective is sum_ij P_ij (f_i + g_j - eps)
    = f^T P1 + g^T P^T1 - eps sum P: O(m + n) once the plan's marginals are known."""
    P = st.plan() if P is None else P
    err, r, c = plan_error(st, red.a, red.b)
    f, g = st.potentials()
    with np.errstate(invalid="ignore"):
        obj = float(np.where(r > 0, f * r, 0.0).sum() + np.where(c > 0, g * c, 0.0).sum()
                    - red.eps * r.sum())
    Pf, ff, gf = red.embed(P, f, g)
    stats = dict(stats, potentials=(ff, gf), marginal_error=err, absorptions=st.absorptions)
    if status == Status.CONVERGED and not err <= stats.get("tol", np.inf):
        status = Status.ITERATION_LIMIT
    its = stats["sinkhorn_iterations"] + stats["newton_iterations"]
    return ctx.result(solution=Pf, objective=obj, status=status, iterations=its, stats=stats)


def newton(st: Scaled, ctx: SolveContext, tol: float, max_iter: int, lam: float, cg_maxit: int,
           stall: int, stats: dict, mu: float | None = None) -> str:
    """Stage 2 (paper Alg. 1 lines 5-10).  Safeguards beyond the paper (as in safe sparse Newton,
    Tang & Qiu 2024): the system is shifted, (H_S + sigma diag H) z = grad with sigma = mu * err,
    so that far from the optimum (or when the plan's graph is nearly disconnected) the step stays
    bounded and CG well conditioned, while sigma -> 0 keeps the fast local convergence; the
    sparsified plan keeps at least lam*m*n entries and all but a sigma fraction of the mass;
    mu shrinks after full steps that cut the error and grows after damped ones.
    Returns "converged" (``st.P`` set), "stalled", "limit" or "stop"."""
    red = st.red
    a, b, eps = red.a, red.b, st.eps
    mu = _MU0 if mu is None else mu
    r, c = st.marginals()
    tot = float(r.sum())
    errs: list[float] = []
    inner = 0.5 * tol
    while True:
        err = float(np.abs(r - a).sum() + np.abs(c - b).sum())
        errs.append(err)
        ctx.record(err, iteration=stats["sinkhorn_iterations"] + stats["newton_iterations"])
        if err <= inner:
            P = st.plan()
            e, _, _ = plan_error(st, a, b)
            if e <= tol:
                st.P = P
                return "converged"
            inner = 0.1 * min(inner, e)
        if len(errs) > stall and err > 0.5 * min(errs[: -stall]):
            return "stalled"  # the best error has not halved in ``stall`` steps
        if stats["newton_iterations"] >= max_iter:
            return "limit"
        if ctx.should_stop():
            return "stop"
        stats["newton_iterations"] += 1
        ga, gb = a - r, b - c
        sigma = mu * err
        tau = _threshold(st, lam, min(0.5, max(sigma, min(_DROP_MIN, 0.1 * err))))
        indptr, indices, data = K.scaled_sparsify(st.K, st.u, st.v, tau)
        stats["nnz_last"] = int(data.size)
        zx, zy = _pcg(ctx, indptr, indices, data, r * (1 + sigma), c * (1 + sigma), ga, gb,
                      _forcing(err, tol), int(cg_maxit), stats)
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
            if err_t > _SWEEP_ABOVE:  # far from the optimum: one Sinkhorn sweep after the step
                K.sweep_marginals(st.K, a, b, st.u, st.v, r, c)  # fused: 2 passes over K
                stats["newton_sweeps"] = stats.get("newton_sweeps", 0) + 1  # part of the step
                if not (np.all(np.isfinite(st.u)) and np.all(np.isfinite(st.v))
                        and st.u.min() > 0 and st.v.min() > 0):
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
            if not (np.all(np.isfinite(st.u)) and np.all(np.isfinite(st.v))
                    and st.u.min() > 0 and st.v.min() > 0):
                st.log_sweep()
                r, c = st.marginals()
            elif st.needs_absorb():
                st.absorb()
                r, c = st.marginals()
            tot = float(r.sum())
        stats["mu_final"] = mu


def _eps_ladder(st: Scaled, ctx: SolveContext, factor: float, stats: dict) -> None:
    """eps-scaling warm start (used once, after a first stalled Newton phase): from the current
    potentials, Sinkhorn sweeps to a loose 1e-3 error at eps * factor^k, ..., eps * factor
    (k such that the coarsest eps is about 1/50 of the cost range), then back at eps.  Coarse
    regularizations fix the global (slow-mode) part of the potentials that Newton's local
    model handles poorly far from the optimum (structured costs: images, clouds)."""
    red = st.red
    span = float(red.C.max() - red.C.min())
    ladder = []
    e = red.eps * factor
    while e < span / 50.0:
        ladder.append(e)
        e *= factor
    for e in reversed(ladder):
        st.absorb(e)
        if sweeps(st, ctx, 1e-3, 100, stats) == "stop":
            break
    st.absorb(red.eps)
    st.P = None
    stats["eps_ladder"] = len(ladder)


def solve_sns(problem: OptimalTransport, ctx: SolveContext, tol: float = 1e-9, max_iter: int = 1000,
              n1: int = 2000, switch_after: float = 30.0, lam: float | None = None,
              cg_maxit: int = 1000, stall: int = 8, eps_scaling: float = 4.0) -> Result:
    """Sinkhorn-Newton-Sparse.  ``tol``: L1 marginal error target ||P1-a||_1 + ||P^T1-b||_1
    (checked on the returned plan); ``max_iter``: Newton iterations; ``n1``: most stage-1
    Sinkhorn sweeps; ``switch_after``: switch to Newton once the Sinkhorn rate predicts more
    sweeps than this (times 1 + 10 * plan density; ``inf`` = only when ``n1`` runs out);
    ``lam``: least kept fraction of the plan entries in the sparsified Hessian (default 2/n as
    in the paper; more are kept while the error is large relative to the dropped mass);
    ``cg_maxit``: conjugate-gradient iterations per Newton step; ``stall``:
    if the best error has not halved in this many Newton steps, the solve goes back to
    (warm-started) Sinkhorn sweeps for twice as many sweeps as the previous phase before trying
    Newton again, so the method is never much slower than Sinkhorn; ``eps_scaling``: after the
    first stalled Newton phase, warm-start once through regularizations eps * eps_scaling^k
    (0 = never)."""
    check_options(tol, max_iter)
    if int(n1) < 0:
        raise ValueError(f"n1 must be >= 0, got {n1!r}")
    if not switch_after > 0:
        raise ValueError(f"switch_after must be > 0, got {switch_after!r}")
    if lam is not None and not (0 < lam <= 1):
        raise ValueError(f"lam must be in (0, 1], got {lam!r}")
    if int(cg_maxit) < 1:
        raise ValueError(f"cg_maxit must be >= 1, got {cg_maxit!r}")
    red = Reduced(problem)
    m, n = red.C.shape
    lam = 2.0 / max(min(m, n), 1) if lam is None else float(lam)
    stats: dict = {"tol": tol, "sinkhorn_iterations": 0, "newton_iterations": 0, "cg_iterations": 0,
                   "line_search_evals": 0}
    st = Scaled(red)
    status = Status.ITERATION_LIMIT
    try:
        phase = _MIN_SWEEPS  # sweeps before the next switch; doubles after every stalled phase
        while True:
            cap = max(int(n1), 1) if phase == _MIN_SWEEPS else max(int(n1), phase)
            reason = sweeps(st, ctx, tol, cap, stats, switch_after=switch_after,
                            min_sweeps=min(phase, cap))
            if reason not in ("switch", "limit"):
                break
            stats["newton_phases"] = stats.get("newton_phases", 0) + 1
            reason = newton(st, ctx, tol, int(max_iter), lam, int(cg_maxit), int(stall), stats)
            if reason != "stalled":
                break
            stats["newton_stalled"] = stats.get("newton_stalled", 0) + 1
            phase *= 2
            if eps_scaling > 1 and "eps_ladder" not in stats:
                _eps_ladder(st, ctx, float(eps_scaling), stats)
                phase = _MIN_SWEEPS
        status = {"converged": Status.CONVERGED, "stop": ctx.stop_status(status)}.get(reason, status)
    except KeyboardInterrupt:
        status = Status.INTERRUPTED
    return pack(red, ctx, st, status, stats, P=st.P if status == Status.CONVERGED else None)
