"""NOTEARS (Zheng, Aragam, Ravikumar, Xing 2018): continuous optimization of the score under
the smooth acyclicity constraint h(W) = tr(exp(W o W)) - d = 0.

Augmented Lagrangian (Algorithm 1): minimize Q(W) + lambda1 ||W||_1 + rho/2 h^2 + alpha h by
L-BFGS-B on the split W = W+ - W- (W+/- >= 0, so the L1 term is linear); raise rho tenfold
until h drops below a quarter of its previous value, then alpha += rho h; stop when
h <= h_tol or rho >= rho_max; threshold |W| < w_threshold to zero.

Data: the problem's working matrix (centred columns; logistic loss adds the best intercepts).
Prior knowledge by masking: entries the priors forbid (forbidden edges, edges into an earlier
tier) get the bounds (0, 0); required edges carry no L1 term and survive the threshold.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.optimize as sopt
from scipy.special import expit

from problems import DAGLearning
from problems.dag import best_intercepts, is_dag

from ..context import SolveContext
from ..result import Result


def _loss_and_grad(problem: DAGLearning, W: np.ndarray) -> tuple[float, np.ndarray]:
    X, n = problem.X, problem.n_samples
    M = X @ W
    if problem.loss == "l2":
        R = X - M
        return 0.5 / n * float((R * R).sum()), -X.T @ R / n
    if problem.intercept:
        M = M + best_intercepts(M, X)  # optimal b: the gradient in W is unchanged in form
    return float((np.logaddexp(0.0, M) - X * M).sum() / n), X.T @ (expit(M) - X) / n


def _h_and_grad(W: np.ndarray) -> tuple[float, np.ndarray]:
    E = sla.expm(W * W)
    return float(np.trace(E) - W.shape[0]), E.T * W * 2.0


def _stop_when(ctx: SolveContext):
    """An L-BFGS-B callback that ends the inner solve at the deadline (scipy >= 1.11)."""

    def callback(intermediate_result: object) -> None:
        if ctx.should_stop():
            raise StopIteration

    return callback


def acyclic_threshold(W: np.ndarray, w_threshold: float,
                      keep: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """|W| < w_threshold set to zero, the threshold then raised until the graph is acyclic (a
    not-yet-converged run); entries in ``keep`` (required edges, acyclic) are never dropped.
    Returns the graph and the threshold used."""
    W = W.copy()
    keep = np.zeros(W.shape, dtype=bool) if keep is None else keep
    W[(np.abs(W) < w_threshold) & ~keep] = 0.0
    thr = w_threshold
    while not is_dag(W):
        nz = np.abs(W[(W != 0) & ~keep])
        thr = float(nz.min()) + 1e-12
        W[(np.abs(W) < thr) & ~keep] = 0.0
    return W, thr


def solve_notears(problem: DAGLearning, ctx: SolveContext, *, lambda1: float | None,
                  w_threshold: float, h_tol: float, rho_max: float, max_iter: int | None) -> Result:
    """Augmented Lagrangian steps until h <= h_tol or rho >= rho_max (converged) or
    ``max_iter`` steps; the result is thresholded to an acyclic graph."""
    if problem.loss == "gauss-nv":
        raise ValueError("notears handles loss 'l2' and 'logistic'; use topo for 'gauss-nv' "
                         "(its BIC term is not differentiable)")
    d = problem.n_nodes
    lam = problem.lambda1 if lambda1 is None else lambda1
    allowed, required = problem.allowed, problem.required
    bounds = [(0, None) if allowed[i, j] else (0, 0) for _ in range(2) for i in range(d) for j in range(d)]
    lam_vec = np.where(required, 0.0, lam).ravel()
    lam_vec = np.concatenate([lam_vec, lam_vec])
    w_est = np.zeros(2 * d * d)
    rho, alpha, h = 1.0, 0.0, np.inf

    def unpack(w: np.ndarray) -> np.ndarray:
        return (w[: d * d] - w[d * d:]).reshape(d, d)

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        W = unpack(w)
        loss, g_loss = _loss_and_grad(problem, W)
        hv, g_h = _h_and_grad(W)
        obj = loss + 0.5 * rho * hv * hv + alpha * hv + float(lam_vec @ w)
        g = (g_loss + (rho * hv + alpha) * g_h).ravel()
        return obj, np.concatenate([g, -g]) + lam_vec

    it = 0
    for k in ctx.iterations(max_iter):
        it = k + 1
        w_new, h_new = w_est, h
        while rho < rho_max:
            if ctx.should_stop():
                break
            sol = sopt.minimize(objective, w_est, method="L-BFGS-B", jac=True, bounds=bounds,
                                callback=_stop_when(ctx))
            w_new = sol.x
            h_new, _ = _h_and_grad(unpack(w_new))
            if h_new > 0.25 * h:
                rho *= 10.0
            else:
                break
        w_est, h = w_new, h_new
        alpha += rho * h
        ctx.record(_loss_and_grad(problem, unpack(w_est))[0], extra={"h": h, "rho": rho}, iteration=it,
                   incumbent=lambda w=w_est: acyclic_threshold(unpack(w), w_threshold, required)[0])
        if h <= h_tol or rho >= rho_max:
            ctx.converged()
            break
    W, thr = acyclic_threshold(unpack(w_est), w_threshold, required)
    return ctx.result(solution=W, objective=problem.objective(W), iterations=it,
                      stats={"h": h, "rho": rho, "threshold_used": thr})
