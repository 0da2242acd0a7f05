"""Proximal greedy BCD for L1 problems with variable blocks (Nutini, Laradji & Schmidt 2022, §6).

F(x) = f(x) + α ||x||₁ with f the Lasso / L1-logistic datafit. Each iteration takes the τ
coordinates with the largest score of a greedy rule for the non-smooth case (§6.1):

- ``gs-s``: the distance of -∇_i f to α ∂|x_i| (the minimum-norm subgradient, eq. (7) with ∂g);
- ``gs-r``: the length of the proximal coordinate step |x_i - prox_{α/L_i}(x_i - ∇_i f / L_i)|;
- ``gs-q``: the decrease of the proximal quadratic model -min_d ∇_i f d + D_i/2 d² + α|x_i + d|
  - α|x_i| under the variable-block diagonal bound D_i (:func:`solvers.bcd.rules.gsd_diagonal`);
- ``cyclic``: consecutive chunks of τ coordinates;

and updates the block by a proximal-gradient step with L_b = λ_max(∇²_bb bound) (eq. (22)) or
a proximal-Newton step (the block L1-quadratic model solved by CD, Armijo backtracking on F,
§4 / §6.2). Active-set identification (§6.3): proximal BCD finds the support of x* in finitely
many iterations; once the sign pattern has not changed for :data:`PATIENCE` iterations and no
zero coordinate violates its optimality condition (|∇_j f| <= α), the run switches to Newton on
the identified support (plus any coordinate that later violates its condition), which
converges superlinearly (finitely for Lasso: one exact step on the support).
``stats`` record the iteration of the last support change and of the switch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from problems import L1LogisticRegression, Lasso

from ..context import SolveContext
from ..result import Result
from .greedy_cd import _grad_and_gap, _violation
from .rules import gsd_diagonal, offdiag_bound, top

PATIENCE = 3  # iterations with an unchanged sign pattern before the Newton phase on the support
NEWTON_MAX = 2000  # largest support the Newton phase solves with an explicit block Hessian
MODEL_SWEEPS = 200  # most CD sweeps on one block L1-quadratic model
STALLS = 5  # iterations without a representable decrease of F before the run ends


def soft(v: np.ndarray, t: Any) -> np.ndarray:
    """Soft thresholding prox_{t |.|}(v)."""
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def scores(rule: str, g: np.ndarray, x: np.ndarray, alpha: float, lips: np.ndarray,
           diag: np.ndarray) -> np.ndarray:
    """The per-coordinate score of a greedy rule for L1 (paper §6.1); the block is the top τ."""
    if rule == "gs-s":
        return _violation(g, x, alpha)
    if rule == "gs-r":
        return np.abs(soft(x - g / lips, alpha / lips) - x)
    d = soft(x - g / diag, alpha / diag) - x  # gs-q: the minimiser of the separable model
    return -(g * d + 0.5 * diag * d * d + alpha * (np.abs(x + d) - np.abs(x)))


def _cols(A: Any, b: np.ndarray) -> np.ndarray:
    sub = A[:, b]
    return sub.toarray() if sp.issparse(sub) else np.asarray(sub)


def l1_model_cd(H: np.ndarray, g: np.ndarray, xb: np.ndarray, alpha: float) -> np.ndarray:
    """min_d gᵀd + ½ dᵀH d + α ||xb + d||₁ by cyclic CD (the proximal-Newton subproblem, §4)."""
    m = g.size
    d = np.zeros(m)
    Hd = np.zeros(m)
    hd = np.maximum(np.diag(H), 1e-300)
    for _ in range(MODEL_SWEEPS):
        change = 0.0
        for i in range(m):
            w = xb[i] + d[i]
            grad_i = g[i] + Hd[i]
            new = float(soft(np.array([w - grad_i / hd[i]]), alpha / hd[i])[0])
            delta = new - w
            if delta != 0.0:
                d[i] += delta
                Hd += delta * H[:, i]
                change = max(change, abs(delta) * np.sqrt(hd[i]))
        if change <= 1e-13 * (1.0 + float(np.sqrt(np.sum(d * (Hd if m else d))))):
            break
    return d


def solve_prox_bcd(problem: Lasso | L1LogisticRegression, ctx: SolveContext, *, tol: float,
                   max_iter: int | None, rule: str, update: str, block_size: int | None) -> Result:
    """Proximal greedy BCD with variable blocks of ``block_size`` coordinates (None: 16); stops at
    the relative duality gap ``tol`` (see the module docstring for the rules and updates)."""
    kind = 0 if isinstance(problem, Lasso) else 1
    A = sp.csc_matrix(problem.A) if sp.issparse(problem.A) else np.asarray(problem.A, dtype=np.float64)
    y = np.asarray(problem.b if kind == 0 else problem.y, dtype=np.float64)
    n, p = A.shape
    alpha = float(problem.alpha)
    c = (1.0 if kind == 0 else 0.25) / n  # f = loss / n: curvature bound c AᵀA
    sq = np.asarray(A.multiply(A).sum(axis=0)).ravel() if sp.issparse(A) else np.einsum("ij,ij->j", A, A)
    lips = np.maximum(c * sq, 1e-300)
    tau = min(p, 16 if block_size is None else int(block_size))
    rule = "gs-s" if rule == "gs" else rule
    diag = gsd_diagonal(lips, offdiag_bound(A, c), tau) if rule == "gs-q" else lips
    x = np.zeros(p)
    z = np.zeros(n)
    it, gap, primal = 0, np.inf, 0.0
    signs_prev: np.ndarray | None = None
    active_it, stable, switch_it = 0, 0, None
    converged = False
    stalls, best = 0, np.inf
    for k in ctx.iterations(max_iter):
        grad, primal, gap = _grad_and_gap(kind, A, z, y, x, alpha)
        ctx.record(primal, extra={"gap": gap, "newton_phase": switch_it is not None}, iteration=it,
                   incumbent=x.copy)
        if gap <= tol * max(abs(primal), 1e-300):
            converged = True
            ctx.converged()
            break
        stalls = stalls + 1 if primal >= best - 1e-15 * max(abs(best), 1.0) else 0
        best = min(best, primal)
        if stalls >= STALLS:  # no decrease representable in floating point: as close as it gets
            if gap <= tol ** 0.5 * max(abs(primal), 1e-300):
                ctx.converged()
            else:
                ctx.finished()
            break
        signs = np.sign(x)
        if signs_prev is not None and np.array_equal(signs, signs_prev):
            stable += 1
        else:
            stable, active_it = 0, it
        signs_prev = signs
        support = np.flatnonzero(x)
        outside = np.abs(np.delete(grad, support)) if support.size < p else np.zeros(0)
        if (switch_it is None and stable >= PATIENCE and 0 < support.size <= NEWTON_MAX
                and not np.any(outside > alpha)):
            switch_it = it  # support identified (stable, zeros optimal): Newton on it (§6.3)
        if switch_it is not None:
            viol = np.flatnonzero(_violation(grad, x, alpha) > 0.0)
            viol = viol[~np.isin(viol, support)]
            extra = viol[top(_violation(grad, x, alpha)[viol], tau)] if viol.size else viol
            b = np.union1d(support, extra).astype(np.int64)
            newton = True
        else:
            if rule == "cyclic":
                start = (k * tau) % p
                b = np.arange(start, min(start + tau, p), dtype=np.int64)
            else:
                b = top(scores(rule, grad, x, alpha, lips, diag), tau)
            newton = update == "prox-newton"
        Ab = _cols(A, b)
        step = _block_step(kind, Ab, y, z, x[b], grad[b], alpha, c, newton)
        if step is not None:
            d, zd = step
            x[b] += d
            z += zd
        it += 1
    if not converged:  # the last block step moved x: its objective and gap
        grad, primal, gap = _grad_and_gap(kind, A, z, y, x, alpha)
    ran = (f"{rule} rule, variable blocks of {tau}, {update} update"
           + (f", Newton on the support from iteration {switch_it}" if switch_it is not None else ""))
    return ctx.result(solution=x, objective=float(primal), iterations=it,
                      bound=float(primal - gap) if np.isfinite(gap) else None,
                      stats={"duality_gap": float(gap), "active_set_iteration": int(active_it),
                             "newton_phase_iteration": switch_it, "support_size": int(np.count_nonzero(x)),
                             "rule": rule, "update": update, "block_size": tau, "ran": ran})


def _block_step(kind: int, Ab: np.ndarray, y: np.ndarray, z: np.ndarray, xb: np.ndarray, gb: np.ndarray,
                alpha: float, c: float, newton: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """(d, A_b d) of the block update: the proximal-gradient step with L_b = c λ_max(A_bᵀA_b)
    (paper eq. (22)), or the proximal-Newton direction with backtracking on F (§4, §6.2);
    None when no decrease is representable."""
    n = z.size
    if newton:
        w = np.ones(n) if kind == 0 else (lambda s: s * (1.0 - s))(expit(-y * z))
        H = (Ab * w[:, None]).T @ Ab / n
        H += 1e-12 * (1.0 + np.trace(H)) / max(H.shape[0], 1) * np.eye(H.shape[0])
        d = l1_model_cd(H, gb, xb, alpha)
    else:
        lb = max(c * float(np.linalg.eigvalsh(Ab.T @ Ab)[-1]) if Ab.size else 0.0, 1e-300)
        d = soft(xb - gb / lb, alpha / lb) - xb
    if not np.any(d):
        return None
    zd = Ab @ d
    if not newton:
        return d, zd
    f0 = _loss(kind, z, y) + alpha * float(np.abs(xb).sum())
    delta = float(gb @ d) + alpha * float(np.abs(xb + d).sum() - np.abs(xb).sum())
    t = 1.0
    while t > 1e-10:
        f1 = _loss(kind, z + t * zd, y) + alpha * float(np.abs(xb + t * d).sum())
        if f1 <= f0 + 1e-4 * t * delta or (t == 1.0 and kind == 0):
            return t * d, t * zd
        t *= 0.5
    return None


def _loss(kind: int, z: np.ndarray, y: np.ndarray) -> float:
    n = z.size
    if kind == 0:
        r = z - y
        return 0.5 / n * float(r @ r)
    return float(np.logaddexp(0.0, -y * z).sum()) / n
