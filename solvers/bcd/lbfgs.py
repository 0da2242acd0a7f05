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
        Y = problem.clamped()
        unl = problem.unlabelled
        L_uu = L[unl][:, unl]
        L_ul = L[unl][:, np.flatnonzero(problem.labels >= 0)]
        Y_l = Y[problem.labels >= 0]
        shape = (unl.size, problem.n_classes)

        def fg_lp(x: np.ndarray) -> tuple[float, np.ndarray]:
            X = x.reshape(shape)
            G = L_uu @ X + L_ul @ Y_l + problem.reg * X
            return problem.objective(_lp_full(problem, X)), G.ravel()

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


def _lp_full(problem: LabelPropagation, X_unl: np.ndarray) -> np.ndarray:
    X = problem.clamped()
    X[problem.unlabelled] = X_unl
    return X


def solve_lbfgs(problem: Any, ctx: SolveContext, tol: float = 1e-8, max_iter: int = 10_000) -> Result:
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

    def cb(zk: np.ndarray) -> None:
        it[0] += 1
        ctx.record(fun(zk)[0], iteration=it[0])
        if ctx.should_stop():
            raise StopIteration

    res = minimize(fun, z0, jac=True, method="L-BFGS-B", bounds=bounds, callback=cb,
                   options={"maxiter": int(max_iter), "gtol": tol, "ftol": 1e-15})
    z = res.x
    x = (z[:size] - z[size:]) if alpha is not None else z
    X = x.reshape(shape)
    if isinstance(problem, LabelPropagation):
        X = _lp_full(problem, X)
    status = ctx.stop_status(Status.CONVERGED if res.success else Status.ITERATION_LIMIT)
    if res.status == 99:  # stopped by our callback
        status = ctx.stop_status(Status.ITERATION_LIMIT)
    return ctx.result(solution=X if len(shape) > 1 or isinstance(problem, LabelPropagation) else x,
                      objective=problem.objective(X), status=status, iterations=int(res.nit),
                      message="" if res.success else str(res.message))
