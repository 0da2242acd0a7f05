"""L1-regularized regression through skglm and scikit-learn, scaled as our problem classes.

``Lasso``: 1/(2n) ||Ax - b||^2 + alpha ||x||_1 is exactly scikit-learn's and skglm's Lasso
(``alpha`` passed as it is). ``L1LogisticRegression``: 1/n sum log(1 + exp(-y a^T x)) +
alpha ||x||_1 is skglm's ``SparseLogisticRegression(alpha)`` and scikit-learn's
``LogisticRegression(C=1/(alpha n), l1_ratio=1)`` (its objective times ``C n``). No intercept.

Both peers are run in warm-started slices (``warm_start=True`` and a small iteration budget per
``fit``), the objective of each slice's coefficients recorded and the stopping criteria asked
between slices, so time limits, Ctrl-C and a callback's stop take effect within one slice.
scikit-learn's ``liblinear`` cannot warm-start: it runs whole in a forked child process that
is killed on a stop request (no solution then; the message says so). The returned objective is
the problem's own.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from problems import L1LogisticRegression, Lasso

from ..context import SolveContext
from ..result import Result, Status
from ..stop import StopReason
from ._common import peer_info, run_in_child


def _quiet_fit(est: Any, A: Any, y: np.ndarray) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of every short slice
        return est.fit(A, y)


def _slices(problem: Lasso | L1LogisticRegression, ctx: SolveContext, est: Any, budget: str,
            cap: int, start: int, converged: Any, y: np.ndarray,
            per_slice: bool = False, most: int | None = None) -> tuple[np.ndarray | None, int]:
    """Fit ``est`` again and again from its last coefficients, ``budget`` (an attribute of
    ``est``) growing or shrinking with the clock, until ``converged(est, steps)``, ``cap`` steps
    in all or a stop; returns the last coefficients and the steps done. A step is one unit of
    ``budget``, or one slice with ``per_slice`` (``budget`` then only bounds a slice's work)."""
    x, done, chunk = None, 0, start
    for _ in ctx.iterations(None):
        if done >= cap:
            ctx.reason = StopReason.ITERATION_LIMIT
            break
        steps = chunk if per_slice else min(chunk, cap - done)
        setattr(est, budget, steps)
        t0 = time.perf_counter()
        _quiet_fit(est, problem.A, y)
        dt = time.perf_counter() - t0
        done += 1 if per_slice else steps
        x = np.asarray(est.coef_, dtype=np.float64).ravel().copy()
        ctx.record(problem.objective(x), iteration=done, incumbent=x)
        if converged(est, steps):
            ctx.converged()
            break
        chunk = int(max(1, chunk * 2 if dt < 0.05 else chunk // 2 if dt > 0.3 else chunk))
        chunk = chunk if most is None else min(chunk, most)
    return x, done


def _finish(problem: Any, ctx: SolveContext, x: np.ndarray | None, iterations: int, stats: dict,
            message: str = "") -> Result:
    if x is None:
        return ctx.result(iterations=iterations, stats=stats,
                          message=message or "stopped before the peer returned coefficients")
    return ctx.result(solution=x, objective=problem.objective(x), iterations=iterations, stats=stats,
                      message=message)


def solve_skglm(problem: Lasso | L1LogisticRegression, ctx: SolveContext, *, tol: float,
                max_iter: int | None, inner_iter: int) -> Result:
    """skglm's working-set solver (Anderson CD for the Lasso, prox-Newton for the logistic loss):
    one outer iteration per slice with at most ``inner_iter`` inner epochs (skglm's
    ``max_epochs``; fewer while a slice is slow); converged when skglm's KKT criterion is at most ``tol``."""
    import skglm

    lasso = isinstance(problem, Lasso)
    cls = skglm.Lasso if lasso else skglm.SparseLogisticRegression
    est = cls(alpha=problem.alpha, tol=tol, fit_intercept=False, warm_start=True, max_iter=1,
              max_epochs=min(inner_iter, 100))
    y = problem.b if lasso else problem.y

    def converged(e: Any, steps: int) -> bool:  # skglm's KKT test at the slice's start point
        return float(np.max(e.stop_crit_)) <= tol

    x, done = _slices(problem, ctx, est, "max_epochs", max_iter or 1000, min(inner_iter, 100),
                      converged, y, per_slice=True, most=inner_iter)
    stats = {"peer": peer_info("skglm"), "stop_crit": float(np.max(est.stop_crit_)) if x is not None
             else None}
    return _finish(problem, ctx, x, done, stats)


def _liblinear(A: Any, y: np.ndarray, C: float, tol: float, max_iter: int) -> tuple[np.ndarray, int]:
    from sklearn.linear_model import LogisticRegression

    est = LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", fit_intercept=False, tol=tol,
                             max_iter=max_iter)
    _quiet_fit(est, A, y)
    return np.asarray(est.coef_, dtype=np.float64).ravel(), int(np.max(est.n_iter_))


def solve_sklearn_lasso(problem: Lasso, ctx: SolveContext, *, tol: float, max_iter: int | None) -> Result:
    """scikit-learn's ``Lasso`` (cyclic coordinate descent, ``max_iter`` epochs in all, default
    1000 as scikit-learn's); converged when its duality-gap test passes within a slice."""
    from sklearn.linear_model import Lasso as SkLasso

    stats: dict[str, Any] = {"peer": peer_info("sklearn", "scikit-learn"), "solver": "coordinate descent"}
    est = SkLasso(alpha=problem.alpha, fit_intercept=False, tol=tol, warm_start=True, max_iter=10)
    x, done = _slices(problem, ctx, est, "max_iter", max_iter or 1000, 10, lambda e, s: e.n_iter_ < s,
                      problem.b)
    return _finish(problem, ctx, x, done, stats)


def solve_sklearn_logistic(problem: L1LogisticRegression, ctx: SolveContext, *, tol: float,
                           max_iter: int | None, solver: str) -> Result:
    """scikit-learn's ``LogisticRegression(C=1/(alpha n), l1_ratio=1)`` with ``solver`` liblinear
    (whole, in a child process) or saga (warm-started slices of epochs)."""
    from sklearn.linear_model import LogisticRegression

    n = problem.A.shape[0]
    C = 1.0 / (problem.alpha * n) if problem.alpha > 0 else 1e12
    stats: dict[str, Any] = {"peer": peer_info("sklearn", "scikit-learn"), "solver": solver, "C": C}
    cap = max_iter or (1000 if solver == "saga" else 100)
    if solver == "saga":
        est = LogisticRegression(C=C, l1_ratio=1.0, solver="saga", fit_intercept=False, tol=tol,
                                 warm_start=True, max_iter=10)
        x, done = _slices(problem, ctx, est, "max_iter", cap, 10,
                          lambda e, s: int(np.max(e.n_iter_)) < s, problem.y)
        return _finish(problem, ctx, x, done, stats)
    if ctx.should_stop():
        return _finish(problem, ctx, None, 0, stats)
    out, killed = run_in_child(ctx, _liblinear, (problem.A, problem.y, C, tol, cap))
    if killed:
        return _finish(problem, ctx, None, 0, stats, "liblinear was stopped before it returned (it "
                       "cannot be interrupted: its process was killed)")
    x, iters = out
    objective = problem.objective(x)
    ctx.record(objective, iteration=iters, incumbent=x)
    status = Status.ITERATION_LIMIT if iters >= cap else Status.CONVERGED
    if ctx.stopped_by_callback:
        status = Status.INTERRUPTED
    return ctx.result(solution=x, objective=objective, status=status, iterations=iters, stats=stats)
