"""Sinkhorn-Newton-Sparse (Tang, Shavlovsky, Rahmanian, Tardini, Thekumparampil, Xiao, Ying,
"Accelerating Sinkhorn Algorithm with Sparse Newton Iterations", ICLR 2024; design.md §3).

Dual (Lyapunov) function, concave in (f, g):
    L(f, g) = a^T f + b^T g - eps sum_ij exp((f_i + g_j - C_ij)/eps)              (paper eq. 2)
gradient (a - P1, b - P^T 1), Hessian -(1/eps) [[diag(P1), P], [P^T, diag(P^T 1)]].
Stage 1 (Alg. 1, lines 1-4): stabilized Sinkhorn sweeps until N1 sweeps or until the observed
linear rate says Newton pays.  Stage 2 (Alg. 1, lines 5-10): keep in the off-diagonal blocks the
largest ~lam*m*n entries of P (plus each row's maximum), solve the sparse Newton system by
Jacobi-preconditioned conjugate gradient, backtracking (Armijo) line search on L.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from problems import OptimalTransport

from ..context import SolveContext
from ..result import Result, Status
from . import _kernels as K
from . import _ot_kernels as OK
from ._common import Reduced, check_options, init_potentials, marginal_error, scaling_sweeps

_SAMPLE = 1_000_000  # entries sampled to locate the top-k threshold on large plans


def _threshold(P: np.ndarray, k: int, rng: np.random.Generator) -> float:
    """Value of the k-th largest entry of P (on a random sample when P is large)."""
    flat = P.ravel()
    if flat.size <= 2 * _SAMPLE:
        k = min(max(k, 1), flat.size)
        return float(np.partition(flat, flat.size - k)[flat.size - k])
    sample = flat[rng.integers(0, flat.size, _SAMPLE)]
    ks = min(max(int(round(k * _SAMPLE / flat.size)), 1), _SAMPLE)
    return float(np.partition(sample, _SAMPLE - ks)[_SAMPLE - ks])


def _pcg(r: np.ndarray, c: np.ndarray, S: sp.csr_matrix, ST: sp.csr_matrix, rhs_a: np.ndarray,
         rhs_b: np.ndarray, rtol: float, maxit: int,
         ctx: SolveContext | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Conjugate gradient on [[diag r, S], [S^T, diag c]] (x, y) = (rhs_a, rhs_b), Jacobi
    preconditioner.  The matrix is PSD (diagonally dominant since r >= S1, c >= S^T1); when S
    keeps everything its null space is (1, -1), orthogonal to the right-hand side (sum a = sum b,
    sum P1 = sum P^T1), so CG stays in the range."""
    m = r.size
    d = np.concatenate([r, c])
    d = np.maximum(d, 1e-300)
    rhs = np.concatenate([rhs_a, rhs_b])

    def mv(z: np.ndarray) -> np.ndarray:
        x, y = z[:m], z[m:]
        return np.concatenate([r * x + S @ y, ST @ x + c * y])

    z = np.zeros_like(rhs)
    res = rhs.copy()
    pre = res / d
    p = pre.copy()
    rz = res @ pre
    stop = (rtol * np.linalg.norm(rhs)) ** 2
    k = 0
    for k in range(1, maxit + 1):  # noqa: B007  (k is returned)
        q = mv(p)
        pq = p @ q
        if pq <= 0:
            break
        alpha = rz / pq
        z += alpha * p
        res -= alpha * q
        if res @ res <= stop:
            break
        if ctx is not None and k % 10 == 0 and ctx.should_stop():
            break
        pre = res / d
        rz_new = res @ pre
        p = pre + (rz_new / rz) * p
        rz = rz_new
    return z[:m], z[m:], k


def _direct(r: np.ndarray, c: np.ndarray, S: sp.csr_matrix, rhs_a: np.ndarray,
            rhs_b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Sparse LU (SuperLU, COLAMD) on [[diag r, S], [S^T, diag c]] with the last y-coordinate
    pinned to 0, which removes the (1, -1) null direction (paper §3: the Newton step is
    defined up to it).  Returns None when the factorization fails (then CG is used)."""
    m, n = S.shape
    Sr = S[:, : n - 1]
    H = sp.bmat([[sp.diags(r), Sr], [Sr.T, sp.diags(c[: n - 1])]], format="csc")
    H = H + sp.identity(m + n - 1, format="csc") * (1e-14 * float(max(r.max(), c.max())))
    try:
        z = spla.spsolve(H, np.concatenate([rhs_a, rhs_b[: n - 1]]), permc_spec="COLAMD")
    except (RuntimeError, ValueError):
        return None
    if not np.all(np.isfinite(z)):
        return None
    return z[:m], np.append(z[m:], 0.0)


def _init(red: Reduced) -> tuple[np.ndarray, np.ndarray]:
    """Starting potentials.  When the cost range is below 300 eps, f = min C, g = 0 keeps every
    kernel entry in [exp(-300), 1] (no underflow), so the O(mn) log-domain sweep is skipped."""
    cmin, cmax = float(red.C.min()), float(red.C.max())
    if (cmax - cmin) / red.eps < 300.0:
        return np.full(red.a.size, cmin), np.zeros(red.b.size)
    return init_potentials(red)


def pack(red: Reduced, ctx: SolveContext, f: np.ndarray, g: np.ndarray, status: Status,
         iterations: int, stats: dict, P: np.ndarray | None = None) -> Result:
    """Plan, objective <C,P> + eps sum P(log P - 1) (one fused pass), potentials, final error."""
    Pr = np.empty(red.C.shape)
    obj = OK.plan_objective(red.C, f, g, red.eps, Pr)
    err = marginal_error(Pr, red.a, red.b)
    Pf, ff, gf = red.embed(Pr, f, g)
    stats = dict(stats, potentials=(ff, gf), marginal_error=err)
    if status == Status.CONVERGED and not err <= stats.get("tol", np.inf):
        status = Status.ITERATION_LIMIT
    return ctx.result(solution=Pf, objective=float(obj), status=status, iterations=iterations,
                      stats=stats)


def solve_sns(problem: OptimalTransport, ctx: SolveContext, tol: float = 1e-9, max_iter: int = 1000,
              n1: int = 2000, switch_after: float = 300.0, lam: float | None = None,
              cg_maxit: int = 500, direct_nnz: int = 2_000_000, stall: int = 50) -> Result:
    """Sinkhorn-Newton-Sparse.  ``tol``: L1 marginal error target ||P1-a||_1 + ||P^T1-b||_1;
    ``max_iter``: Newton iterations; ``n1``: most stage-1 Sinkhorn sweeps; ``switch_after``:
    switch to Newton once the Sinkhorn rate predicts more sweeps than this (``inf`` = never
    unless ``n1`` runs out); ``lam``: kept fraction of the plan entries (default 2/n as in the
    paper, doubled adaptively when a step damps or cuts the error by less than half);
    the sparse Newton system is
    solved by sparse LU when it has at most ``direct_nnz`` non-zeros, else by CG (``cg_maxit``).
    If Newton stalls (marginal error not down 10x in ``stall`` steps) the solve finishes with
    Sinkhorn sweeps, so the method is never much slower than Sinkhorn."""
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
    eps, a, b, C = red.eps, red.a, red.b, red.C
    m, n = C.shape
    lam = 2.0 / max(min(m, n), 1) if lam is None else float(lam)
    rng = np.random.default_rng(0)
    stats: dict = {"tol": tol, "sinkhorn_iterations": 0, "newton_iterations": 0, "cg_iterations": 0,
                   "line_search_evals": 0}
    status = Status.ITERATION_LIMIT
    f, g = _init(red)
    P = None
    try:
        f, g, it1, err, reason = scaling_sweeps(red, f, g, ctx, tol, max(int(n1), 1),
                                                switch_after=switch_after)
        stats["sinkhorn_iterations"] = it1
        if reason == "converged":
            return pack(red, ctx, f, g, Status.CONVERGED, it1, stats)
        if reason == "stop":
            return pack(red, ctx, f, g, ctx.stop_status(status), it1, stats)
        # ---------------------------------------------------------------- stage 2: Newton
        P = np.empty((m, n))
        Pt = np.empty((m, n))
        r, c = np.empty(m), np.empty(n)
        rt, ct = np.empty(m), np.empty(n)
        tot = K.plan_marginals(C, f, g, eps, P, r, c)
        L = a @ f + b @ g - eps * tot
        k = 0
        errs: list[float] = []
        stalled = False
        while k < int(max_iter):
            err = float(np.abs(r - a).sum() + np.abs(c - b).sum())
            ctx.record(err, iteration=it1 + k)
            errs.append(err)
            if len(errs) > stall and err > 0.1 * errs[-1 - stall] and err > tol:
                stalled = True
                break
            if err <= tol:
                status = Status.CONVERGED
                break
            if ctx.should_stop():
                status = ctx.stop_status(status)
                break
            k += 1
            ga, gb = a - r, b - c
            kk = int(np.ceil(lam * m * n))
            tau = _threshold(P, kk, rng)
            indptr, indices, data = K.sparsify(P, tau, P.max(axis=1))
            S = sp.csr_matrix((data, indices, indptr), shape=(m, n))
            sol = _direct(r, c, S, ga, gb) if S.nnz <= direct_nnz else None
            if sol is None:
                dx, dy, ncg = _pcg(r, c, S, S.T.tocsr(), ga, gb, max(1e-10, min(0.1, 0.1 * err)),
                                   int(cg_maxit), ctx)
                stats["cg_iterations"] += ncg
            else:
                dx, dy = sol
                stats["direct_solves"] = stats.get("direct_solves", 0) + 1
            dx *= eps
            dy *= eps
            slope = ga @ dx + gb @ dy  # directional derivative of L, > 0 for an ascent step
            alpha = 1.0
            accepted = False
            for _ in range(40):
                if ctx.should_stop():
                    break
                ft, gt = f + alpha * dx, g + alpha * dy
                with np.errstate(over="ignore", invalid="ignore"):
                    tot_t = K.plan_marginals(C, ft, gt, eps, Pt, rt, ct)
                    err_t = float(np.abs(rt - a).sum() + np.abs(ct - b).sum())
                stats["line_search_evals"] += 1
                if np.isfinite(tot_t):  # an overflowing trial step is rejected
                    Lt = a @ ft + b @ gt - eps * tot_t
                    if Lt >= L + 1e-4 * alpha * slope or (Lt >= L - 1e-14 * abs(L) and err_t < err):
                        accepted = True
                        break
                alpha *= 0.5
            if accepted:
                f, g, L = ft, gt, Lt
                P, Pt, r, rt, c, ct = Pt, P, rt, r, ct, c
                err_new = float(np.abs(r - a).sum() + np.abs(c - b).sum())
                if alpha < 0.25 or err_new > 0.5 * err:  # slow (linear) progress: denser Hessian
                    lam = min(1.0, 2 * lam)
            else:  # safeguard: a log-domain Sinkhorn sweep (always ascends L), denser Hessian
                K.update_f(C, g, np.log(a), eps, f)
                K.update_g(C, f, np.log(b), eps, g)
                stats["sinkhorn_iterations"] += 1
                lam = min(1.0, 4 * lam)
                tot = K.plan_marginals(C, f, g, eps, P, r, c)
                L = a @ f + b @ g - eps * tot
        stats["newton_iterations"] = k
        stats["lam_final"] = lam
        if stalled:
            f, g, it2, err, reason = scaling_sweeps(red, f, g, ctx, tol, 10 * int(n1) + 100_000, it0=0)
            stats["sinkhorn_iterations"] += it2
            stats["newton_stalled"] = True
            P = None
            status = {"converged": Status.CONVERGED, "stop": ctx.stop_status(status)}.get(
                reason, Status.ITERATION_LIMIT)
    except KeyboardInterrupt:
        status = Status.INTERRUPTED
    its = stats["sinkhorn_iterations"] + stats["newton_iterations"]
    return pack(red, ctx, f, g, status, its, stats, P=P if status != Status.INTERRUPTED else None)
