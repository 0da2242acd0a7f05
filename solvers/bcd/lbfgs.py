"""L-BFGS-B baseline for the learning problems: full-gradient quasi-Newton via scipy."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, softmax

from problems import (
    L1LogisticRegression,
    LabelPropagation,
    Lasso,
    LogisticRegression,
    SoftmaxRegression,
)

from ..context import SolveContext
from ..result import Result, Status


def smooth_value_grad(problem: Any) -> tuple[Any, tuple[int, ...]]:
    """(x -> (f(x), grad f(x)) of the smooth part, solution shape) for a learning problem."""
    A = getattr(problem, "A", None)
    if isinstance(problem, LabelPropagation):
        L = problem.laplacian()
        known = problem.labels >= 0
        unl = problem.unlabelled
        L_u = L[unl]
        L_uu = L_u[:, unl]
        Y_l = problem.clamped()[known]
        B = L_u[:, np.flatnonzero(known)] @ Y_l  # coupling of the free rows to the clamped ones
        L_ll = L[np.flatnonzero(known)][:, np.flatnonzero(known)]
        const = 0.5 * float(np.sum(Y_l * (L_ll @ Y_l)))
        shape = (unl.size, problem.n_classes)

        def fg_lp(x: np.ndarray) -> tuple[float, np.ndarray]:
            # f = 1/2 <X, L_uu X> + <X, L_ul Y_l> + 1/2 <Y_l, L_ll Y_l> + reg/2 ||X||^2, the
            # problem's objective with the labelled rows clamped, without rebuilding L per call
            X = x.reshape(shape)
            LX = L_uu @ X
            G = LX + B + problem.reg * X
            f = 0.5 * float(np.sum(X * (LX + 2.0 * B + problem.reg * X))) + const
            return f, G.ravel()

        return fg_lp, shape
    if isinstance(problem, SoftmaxRegression):
        shape = problem.solution_shape
        onehot = np.eye(problem.n_classes)[problem.labels]

        def fg_sm(x: np.ndarray) -> tuple[float, np.ndarray]:
            X = x.reshape(shape)
            G = A.T @ (softmax(np.asarray(A @ X), axis=1) - onehot) + problem.l2 * X
            return problem.objective(X), np.asarray(G).ravel()

        return fg_sm, shape
    n = A.shape[0]
    if isinstance(problem, (LogisticRegression, L1LogisticRegression)):
        scale = 1.0 / n if isinstance(problem, L1LogisticRegression) else 1.0
        l2 = getattr(problem, "l2", 0.0)

        def fg_log(x: np.ndarray) -> tuple[float, np.ndarray]:
            z = problem.y * (A @ x)
            f = scale * np.logaddexp(0.0, -z).sum() + 0.5 * l2 * x @ x
            g = scale * (A.T @ (-problem.y * expit(-z))) + l2 * x
            return float(f), np.asarray(g)

        return fg_log, (A.shape[1],)
    scale = 1.0 / n if isinstance(problem, Lasso) else 1.0
    l2 = getattr(problem, "l2", 0.0)

    def fg_ls(x: np.ndarray) -> tuple[float, np.ndarray]:
        r = A @ x - problem.b
        return float(0.5 * scale * r @ r + 0.5 * l2 * x @ x), np.asarray(scale * (A.T @ r) + l2 * x)

    return fg_ls, (A.shape[1],)


class _Deadline(Exception):
    """Raised inside an objective evaluation once the time limit has passed."""


def _lp_full(problem: LabelPropagation, X_unl: np.ndarray) -> np.ndarray:
    X = problem.clamped()
    X[problem.unlabelled] = X_unl
    return X


def solve_lbfgs(problem: Any, ctx: SolveContext, *, tol: float, max_iter: int | None) -> Result:
    """scipy's L-BFGS-B on the smooth part (L1: on the split x = x+ - x-, x+/- >= 0); ``tol`` is
    scipy's ``gtol`` (projected gradient), ``max_iter`` its iteration cap (None: no cap)."""
    fg, shape = smooth_value_grad(problem)
    size = int(np.prod(shape))
    alpha = getattr(problem, "alpha", None) if isinstance(problem, (Lasso, L1LogisticRegression)) else None
    if alpha is not None:
        def fun(z: np.ndarray) -> tuple[float, np.ndarray]:
            x = z[:size] - z[size:]
            f, g = fg(x)
            return f + alpha * z.sum(), np.concatenate([g + alpha, -g + alpha])

        z0 = np.zeros(2 * size)
        bounds = [(0, None)] * (2 * size)
    else:
        fun, z0, bounds = fg, np.zeros(size), None
    it = [0]
    best: dict[str, Any] = {"f": np.inf, "z": z0}

    def solution(z: np.ndarray) -> np.ndarray:
        x = (z[:size] - z[size:]) if alpha is not None else z
        X = x.reshape(shape)
        if isinstance(problem, LabelPropagation):
            return _lp_full(problem, X)
        return X if len(shape) > 1 else x

    def guarded(z: np.ndarray) -> tuple[float, np.ndarray]:
        # the deadline is checked per evaluation, not only per iteration: on ~1e6 variables
        # one L-BFGS-B iteration with its line search takes longer than the limit's slack
        if np.isfinite(best["f"]) and ctx.should_stop():
            raise _Deadline
        f, g = fun(z)
        if f < best["f"]:
            best["f"], best["z"] = f, z.copy()
        return f, g

    def cb(zk: np.ndarray) -> None:
        it[0] += 1
        ctx.record(best["f"], iteration=it[0], incumbent=lambda: solution(best["z"]).copy())
        if ctx.should_stop():
            raise StopIteration

    maxiter = np.iinfo(np.int32).max if max_iter is None else int(max_iter)
    try:
        res = minimize(guarded, z0, jac=True, method="L-BFGS-B", bounds=bounds, callback=cb,
                       options={"maxiter": maxiter, "gtol": tol, "ftol": 1e-15})
        z, nit, success, message = res.x, int(res.nit), bool(res.success), str(res.message)
    except _Deadline:
        z, nit, success, message = best["z"], it[0], False, "time limit"
    if success:
        ctx.converged()
    X = solution(z)
    # scipy's own stops other than convergence (its iteration cap, a failed line search) are
    # iteration limits unless a stop of ours came first
    return ctx.result(solution=X, objective=problem.objective(X),
                      status=None if success else ctx.stop_status(Status.ITERATION_LIMIT),
                      iterations=nit, message="" if success else message)
