"""Greedy working-set proximal coordinate descent for Lasso and L1-logistic regression.

Nutini, Laradji & Schmidt, "Let's Make Block Coordinate Descent Converge Faster" (2022):
- selection: Gauss-Southwell-s rule (§2, eq. (7) with the L1 subdifferential): the working set
  is the current support plus the coordinates with the largest distance of -grad_j f to
  alpha * d|x_j|;
- update: proximal coordinate gradient step with the coordinate Lipschitz constant (§4, eq. (22)),
  kept cheap by residual updates of z = A x (numba kernels in ``_cd_kernels``,
  ``_prox_newton_kernels``, ``_datafit_kernels``);
- active set: proximal CD identifies the support in finitely many steps (§6); the outer
  iteration at which the support last changed is reported as ``stats['active_set_iteration']``;
- stopping on the relative duality gap (Fenchel dual, rescaled dual point).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from problems import L1LogisticRegression, Lasso

from ..context import SolveContext
from ..result import Result
from ._cd_kernels import cd_epochs_dense, cd_epochs_sparse, lasso_inner
from ._datafit_kernels import l1_gap_and_ws
from ._prox_newton_kernels import prox_newton_logistic, prox_newton_logistic_gram, prox_newton_model_step

# measured defaults (benchmarks/bcd.py, L1-logistic 500x1000 and 1000x2000): a loose model solve
# (0.3 x the working set's KKT tolerance, <= 20 CD epochs) and a working set of 1.5 x the support
# beat a tight solve (0.03, 200) on 2x the support by 1.1-2x; 1.5 x the support also wins on Lasso
PN_TOL = 0.3  # inner (model) tolerance of a prox-Newton step, relative to the outer KKT tolerance
PN_EPOCHS = 20  # most CD epochs on one prox-Newton model
STALLS = 5  # stalled prox-Newton steps (no representable descent) before the run ends
ANDERSON = 5  # Lasso working-set CD: Anderson extrapolation of the last 5 epochs' iterates
STRETCH = 2e7  # multiply-adds of Lasso CD between two stop checks (~10-30 ms)
INNER_FLOOR = 1e-3  # inner KKT tolerance floor, relative to tol x |primal| (0.1 stalled Lasso a_max/100)


def _raw_grad(kind: int, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d loss / d z (per sample), the 'residual' of the datafit."""
    n = z.shape[0]
    if kind == 0:
        return (z - y) / n
    return -y * expit(-y * z) / n


def _primal(kind: int, z: np.ndarray, y: np.ndarray, x: np.ndarray, alpha: float) -> float:
    n = z.shape[0]
    if kind == 0:
        r = z - y
        loss = 0.5 / n * float(r @ r)
    else:
        loss = float(np.logaddexp(0.0, -y * z).sum()) / n
    return loss + alpha * float(np.abs(x).sum())


def _dual(kind: int, rho: np.ndarray, y: np.ndarray) -> float:
    """Fenchel dual value at the feasible point rho (||A^T rho||_inf <= alpha)."""
    n = y.shape[0]
    if kind == 0:
        # D(theta) = 1/(2n)||y||^2 - n/2 ||theta - y/n||^2 with theta = rho
        return 0.5 / n * float(y @ y) - 0.5 * n * float(np.sum((rho - y / n) ** 2))
    s = np.clip(n * rho * y, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -(np.where(s > 0, s * np.log(s), 0.0) + np.where(s < 1, (1 - s) * np.log1p(-s), 0.0))
    return float(ent.sum()) / n


def _grad_and_gap(kind: int, A: Any, z: np.ndarray, y: np.ndarray, x: np.ndarray,
                  alpha: float) -> tuple[np.ndarray, float, float]:
    """(full gradient, primal value, duality gap)."""
    raw = _raw_grad(kind, z, y)
    grad = np.asarray(A.T @ raw).ravel()
    rho = -raw
    corr = float(np.max(np.abs(grad))) if grad.size else 0.0
    if alpha > 0 and corr > alpha:
        rho = rho * (alpha / corr)
    primal = _primal(kind, z, y, x, alpha)
    return grad, primal, primal - _dual(kind, rho, y)


def _violation(grad: np.ndarray, x: np.ndarray, alpha: float) -> np.ndarray:
    """Distance of -grad_j to alpha * d|x_j| (the GS-s score for L1, paper §6)."""
    return np.where(x != 0, np.abs(grad + alpha * np.sign(x)), np.maximum(np.abs(grad) - alpha, 0.0))


def _block_model(A: Any, sparse: bool, ws: np.ndarray, y: np.ndarray,
                 z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Block Hessian H = A_wsᵀ D A_ws (formed in float32), block gradient g = A_wsᵀ u of the
    L1-logistic datafit (u = dloss/dz, D = loss''; paper §4 Newton update) and the block's dense
    columns."""
    n = z.shape[0]
    s = expit(-y * z)
    u = -y * s / n
    sd = np.sqrt(np.maximum(s * (1.0 - s), 1e-12) / n)
    Aw = A[:, ws].toarray() if sparse else A[:, ws]  # (np.take walks a Fortran array row-wise: slow)
    Aw = np.ascontiguousarray(Aw)
    # the Hessian only shapes the Newton direction (the gradient stays float64 and the Armijo test
    # uses the true objective), so single precision halves the dominant O(n m^2) cost
    B = (Aw * sd[:, None]).astype(np.float32)
    H = (B.T @ B).astype(np.float64)
    return H, Aw.T @ u, Aw


def _lasso_working_set(ctx: SolveContext, dense: bool, A: np.ndarray, indptr: np.ndarray, indices: np.ndarray,
                       data: np.ndarray, y: np.ndarray, x: np.ndarray, z: np.ndarray, ws: np.ndarray,
                       lips: np.ndarray, alpha: float, epochs: int, inner_tol: float, anderson: int) -> int:
    """The Lasso working-set solve (:func:`lasso_inner`, at most ``epochs`` epochs) in stretches of
    about ``STRETCH`` multiply-adds, asking ``ctx.should_stop()`` between them: a working set of
    thousands of columns can need minutes to reach its tolerance. The kernel carries its state
    from one stretch to the next, so the iterates are those of a single call. Returns the epochs run."""
    per_epoch = int(np.sum(indptr[ws + 1] - indptr[ws])) if not dense else y.size * ws.size
    stretch = max(1, int(STRETCH // max(per_epoch, 1)))
    snaps = np.empty((max(anderson, 1) + 1, ws.size))
    ns = np.zeros(1, dtype=np.int64)
    done = 0
    while done < epochs:
        ep, converged = lasso_inner(dense, A, indptr, indices, data, y, x, z, ws, lips, alpha,
                                    min(stretch, epochs - done), inner_tol, anderson, done, snaps, ns)
        done += ep
        if converged or ctx.should_stop():
            break
    return done


def _design(problem: Lasso | L1LogisticRegression, kind: int, rule: str) -> tuple:
    """(A, indptr, indices, data, squared column norms) as the kernels read them: CSC arrays of a
    sparse design; a dense design column-major, with a full-column CSC view for the prox-Newton
    kernel of L1-logistic under GS-s. Cached on the problem: repeated solves on one design (e.g.
    tolerance ladders or regularization paths) pay the conversion once."""
    A = problem.A
    n, p = A.shape
    sparse = sp.issparse(A)
    cache = problem.__dict__.get("_bcd_design")
    if cache is None or cache[0] is not problem.A:
        if sparse:
            Ac = sp.csc_matrix(A)
            Ac.sort_indices()
            prep = (Ac, Ac.indptr.astype(np.int64), Ac.indices.astype(np.int64), Ac.data.astype(np.float64),
                    np.asarray(Ac.multiply(Ac).sum(axis=0)).ravel())
        else:
            Af = np.asfortranarray(A, dtype=np.float64)
            prep = (Af, None, None, None, np.einsum("ij,ij->j", Af, Af))
        problem.__dict__["_bcd_design"] = cache = (problem.A, prep)
    A, indptr, indices, data, sq = cache[1]
    if not sparse and kind == 1 and rule == "gs":  # full-column CSC view for the prox-Newton kernel
        if len(cache) == 2:
            view = (np.arange(0, n * p + 1, n, dtype=np.int64), np.tile(np.arange(n, dtype=np.int64), p),
                    A.ravel(order="F"))
            problem.__dict__["_bcd_design"] = cache = cache + (view,)
        indptr, indices, data = cache[2]
    elif not sparse:
        indptr = np.zeros(1, dtype=np.int64)
        indices = np.zeros(1, dtype=np.int64)
        data = np.zeros(1)
    return A, indptr, indices, data, sq


def solve_l1_cd(problem: Lasso | L1LogisticRegression, ctx: SolveContext, *, tol: float, max_iter: int | None,
                rule: str, inner_epochs: int, ws_start: int, ws_grow: float, newton_gram_max: int,
                anderson: bool) -> Result:
    """Working-set prox-CD; ``tol`` is on the relative duality gap (P - D) / max(|P|, eps).

    ``max_iter`` counts outer iterations (one working set solved each); ``inner_epochs`` caps the
    CD epochs of one Lasso working-set solve (``rule="gs"``). ``rule``: 'gs' (GS-s working sets)
    or 'cyclic' (every coordinate)."""
    kind = 0 if isinstance(problem, Lasso) else 1
    y = np.ascontiguousarray(problem.b if kind == 0 else problem.y, dtype=np.float64)
    n, p = problem.A.shape
    alpha = float(problem.alpha)
    sparse = sp.issparse(problem.A)
    A, indptr, indices, data, sq = _design(problem, kind, rule)
    lips = sq / n * (1.0 if kind == 0 else 0.25)
    Ad = np.zeros((1, 1), order="F") if sparse else A
    x = np.zeros(p)
    z = np.zeros(n)
    ws_size = min(p, int(ws_start))
    support_prev: np.ndarray | None = None
    active_it = 0
    it = 0
    gap = np.inf
    epochs_total = 0
    stalls = 0
    converged = False
    prev_ws: np.ndarray | None = None
    primal = _primal(kind, z, y, x, alpha)
    for k in ctx.iterations(max_iter):
        it = k + 1
        if rule == "gs":
            # gradient, gap and GS-s working set in one numba pass (paper §2, §6)
            primal, gap, vmax, ws = l1_gap_and_ws(not sparse, Ad, indptr, indices, data, y, x, z,
                                                  alpha, kind, int(ws_start), float(ws_grow))
        else:
            grad, primal, gap = _grad_and_gap(kind, A, z, y, x, alpha)
        ctx.record(primal, extra={"gap": gap}, iteration=it, incumbent=x.copy)
        support = np.flatnonzero(x)
        if support_prev is None or not np.array_equal(support, support_prev):
            active_it = it
        support_prev = support
        if gap <= tol * max(abs(primal), 1e-300):
            converged = True
            ctx.converged()
            break
        if ctx.should_stop():  # before the working-set solve (the callback may have asked)
            break
        if rule == "cyclic":
            ws = np.arange(p, dtype=np.int64)
            vmax = float(_violation(grad, x, alpha).max())
        # a working set that did not change is solved more accurately (fewer outer rounds)
        same = prev_ws is not None and np.array_equal(ws, prev_ws)
        prev_ws = ws
        inner_tol = (0.1 if same else 0.3) * vmax if rule == "gs" else 0.0
        inner_tol = max(inner_tol, INNER_FLOOR * tol * max(abs(primal), 1e-300))
        ws_size = ws.size
        if kind == 1 and rule == "gs":
            pn_tol = max(PN_TOL * inner_tol, 1e-3 * tol * max(abs(primal), 1e-300))
            if ws.size <= newton_gram_max and n * ws.size * ws.size > 4_000_000:
                # large block: the Gram AᵀDA by numpy's symmetric rank-k BLAS call (syrk, half the
                # flops of the general product numba would call), then the model solve in numba
                ep = prox_newton_model_step(*_block_model(A, sparse, ws, y, z), y, x, z, ws, alpha,
                                            PN_EPOCHS, pn_tol, 8)
            elif ws.size <= newton_gram_max:  # explicit block Hessian (O(n m^2)) while it is cheaper
                ep = prox_newton_logistic_gram(not sparse, Ad, indptr, indices, data, y, x, z, ws, alpha,
                                               PN_EPOCHS, pn_tol)
            else:
                ep = prox_newton_logistic(indptr, indices, data, n, y, x, z, ws, alpha, PN_EPOCHS, pn_tol)
            if ep < 0:  # Newton stalled at round-off: safeguarded coordinate steps instead
                ep = -ep + (cd_epochs_sparse(indptr, indices, data, n, y, x, z, ws, lips, alpha, kind, 20,
                                             0.0) if sparse else
                            cd_epochs_dense(A, y, x, z, ws, lips, alpha, kind, 20, 0.0))
                stalls += 1
                if stalls >= STALLS:
                    ctx.finished()  # no further descent is representable in floating point
                    break
        elif rule == "gs":
            ep = _lasso_working_set(ctx, not sparse, Ad, indptr, indices, data, y, x, z, ws, lips, alpha,
                                    inner_epochs, inner_tol, ANDERSON if anderson else 0)
        elif sparse:
            ep = cd_epochs_sparse(indptr, indices, data, n, y, x, z, ws, lips, alpha, kind, 10, inner_tol)
        else:
            ep = cd_epochs_dense(A, y, x, z, ws, lips, alpha, kind, 10, inner_tol)
        epochs_total += ep
    if not converged:  # the last working-set solve moved x: its objective and gap
        grad, primal, gap = _grad_and_gap(kind, A, z, y, x, alpha)
        if stalls >= STALLS and gap <= tol ** 0.5 * max(abs(primal), 1e-300):
            ctx.converged()  # as close as floating point gets
    return ctx.result(solution=x, objective=float(primal), iterations=it,
                      bound=float(primal - gap) if np.isfinite(gap) else None,
                      stats={"duality_gap": float(gap), "active_set_iteration": int(active_it),
                             "support_size": int(np.count_nonzero(x)), "epochs": int(epochs_total),
                             "working_set_size": int(ws_size)})
