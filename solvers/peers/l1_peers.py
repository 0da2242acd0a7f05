"""L1-regularized regression through skglm and scikit-learn, scaled as our problem classes.

``Lasso``: 1/(2n) ||Ax - b||^2 + alpha ||x||_1 is exactly scikit-learn's and skglm's Lasso
(``alpha`` passed as it is). ``L1LogisticRegression``: 1/n sum log(1 + exp(-y a^T x)) +
alpha ||x||_1 is skglm's ``SparseLogisticRegression(alpha)`` and scikit-learn's
``LogisticRegression(C=1/(alpha n), l1_ratio=1)`` (its objective times ``C n``). No intercept.

Both peers are run in warm-started slices (``warm_start=True`` and an iteration budget per
``fit``), the objective of each slice's coefficients recorded and the stopping criteria asked
between slices, so time limits, Ctrl-C and a callback's stop take effect within one slice. The
first slice is sized from the design's size (about 0.05 s), the next ones from the measured pace
to fill ``SLICE`` (0.25 s) or the time left, so a run takes a few fits; each fit stops itself
at the peer's own test. scikit-learn's Lasso gets one Fortran-ordered copy of A for all fits.
scikit-learn's ``liblinear`` cannot warm-start nor be stopped: it runs whole, on a small design
(up to 200,000 stored entries) in a worker thread of this process, which a stop request leaves
behind (its result dropped), on a larger one in a forked child process that is killed on a stop
request (no solution then; the message says so). The returned objective is
the problem's own.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from problems import L1LogisticRegression, Lasso

from ..context import SolveContext
from ..result import Result, Status
from ..stop import StopReason
from ._common import SLICE, next_slice, peer_info, run_in_child, run_left_behind

#: seconds a scikit-learn coordinate-descent epoch takes per stored entry of A, assumed before one
#: is measured (a loaded machine's pace), and the seconds the first slice aims at
_EPOCH_COST = 2e-9
_FIRST = 0.05
#: designs up to this many stored entries run liblinear in this process (a thread left behind on
#: a stop); larger ones in a child process (about 20-50 ms to fork, killed on a stop)
_IN_PROCESS = 200_000


def _quiet_fit(est: Any, A: Any, y: np.ndarray, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of every short slice
        return est.fit(A, y, **kw)


def _entries(A: Any) -> int:
    return int(A.nnz) if sp.issparse(A) else int(A.size)


def _first(A: Any, cost: float, cap: int) -> int:
    """Steps of the first slice: about ``_FIRST`` seconds at ``cost`` seconds per entry and step."""
    return int(np.clip(_FIRST / (cost * max(_entries(A), 1)), 1, max(cap, 1)))


def _slices(problem: Lasso | L1LogisticRegression, ctx: SolveContext, est: Any, budget: str,
            cap: int, first: int, fit: Callable[[], Any], ran: Callable[[Any, int], int],
            converged: Callable[[Any, int], bool],
            pace: Callable[[float, int], int] | None = None) -> tuple[np.ndarray | None, int]:
    """Fit ``est`` (``fit()``) again and again from its last coefficients, ``budget`` (an attribute
    of ``est``) steps at a time, until ``converged(est, steps)``, ``cap`` steps in all or a stop;
    returns the last coefficients and the steps done (``ran(est, steps)`` per slice). The first
    slice has ``first`` steps; each next one as many as fill ``SLICE`` seconds (or the time
    left) at the measured pace, or ``pace(seconds, ran)`` (which may also retune ``est``)."""
    x, done, chunk = None, 0, first
    for _ in ctx.iterations(None):
        if done >= cap:
            ctx.reason = StopReason.ITERATION_LIMIT
            break
        steps = min(chunk, cap - done)
        setattr(est, budget, steps)
        t0 = time.perf_counter()
        fit()
        dt = time.perf_counter() - t0
        used = max(1, min(int(ran(est, steps)), steps))
        done += used
        x = np.asarray(est.coef_, dtype=np.float64).ravel().copy()
        ctx.record(problem.objective(x), iteration=done, incumbent=x)
        if converged(est, steps):
            ctx.converged()
            break
        chunk = next_slice(ctx, used, dt) if pace is None else pace(dt, used)
    return x, done


def _finish(problem: Any, ctx: SolveContext, x: np.ndarray | None, iterations: int, stats: dict,
            message: str = "") -> Result:
    if x is None:  # every x is feasible: the start x = 0 is the best point known
        x = np.zeros(problem.A.shape[1])
        message = message or "stopped before the peer returned coefficients: the start x = 0"
    return ctx.result(solution=x, objective=problem.objective(x), iterations=iterations, stats=stats,
                      message=message)


def solve_skglm(problem: Lasso | L1LogisticRegression, ctx: SolveContext, *, tol: float,
                max_iter: int | None, inner_iter: int) -> Result:
    """skglm's working-set solver (Anderson CD for the Lasso, prox-Newton for the logistic loss):
    slices of outer iterations with at most ``inner_iter`` inner epochs each (skglm's
    ``max_epochs``; fewer while the outer iterations are slow); converged when skglm's KKT
    criterion is at most ``tol``."""
    import skglm

    lasso = isinstance(problem, Lasso)
    cls = skglm.Lasso if lasso else skglm.SparseLogisticRegression
    A = problem.A
    n, p = A.shape
    # seconds per inner epoch and working-set feature (a prox-Newton step: ~25 CD epochs and more)
    per_feature = (1 if lasso else 25) * _EPOCH_COST * max(_entries(A), 1) / max(p, 1)
    first = int(np.clip(0.2 * _FIRST / (_EPOCH_COST * max(_entries(A), 1)), 4, 64))  # outer iterations

    def epochs(ws: int, seconds: float) -> int:  # inner epochs whose worst case fills ``seconds``
        return int(np.clip(seconds / (per_feature * max(min(ws, p), 1)), 1, inner_iter))

    est = cls(alpha=problem.alpha, tol=tol, fit_intercept=False, warm_start=True, max_iter=1,
              max_epochs=epochs(10 * 2 ** first, _FIRST))  # skglm's first working set: 10 features
    y = problem.b if lasso else problem.y

    def pace(seconds: float, outer: int) -> int:
        """Outer iterations (and inner epochs) of the next slice. skglm doubles its working set
        (2 x the support) at each outer iteration, so each may cost twice the last: k more cost
        about ``seconds * 2**k``; the inner epochs are capped so that one outer iteration's worst
        case fits a slice."""
        target = max(min(SLICE, ctx.remaining()), 1e-3)
        ws = max(10, 2 * int(np.count_nonzero(est.coef_)))
        est.max_epochs = epochs(ws, target)
        if est.max_epochs < inner_iter:
            return 1
        worst = int(target / (inner_iter * per_feature * min(2 * ws, p)))
        measured = int(np.log2(target / seconds)) if 0 < seconds < target else 1
        return max(1, min(worst, measured))

    x, done = _slices(problem, ctx, est, "max_iter", max_iter or 1000, first,
                      lambda: _quiet_fit(est, A, y), lambda e, s: e.n_iter_,
                      lambda e, s: float(np.max(e.stop_crit_)) <= tol, pace)
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
    1000 as scikit-learn's); converged when its duality-gap test passes within a slice. Its
    iterates are those of one long fit: the slices only mark where the stops are asked."""
    from sklearn.linear_model import Lasso as SkLasso

    stats: dict[str, Any] = {"peer": peer_info("sklearn", "scikit-learn"), "solver": "coordinate descent"}
    cap = max_iter or 1000
    est = SkLasso(alpha=problem.alpha, fit_intercept=False, tol=tol, warm_start=True, max_iter=1,
                  copy_X=False)  # A is our own copy (no intercept: scikit-learn leaves it as it is)
    if sp.issparse(problem.A):
        A, kw = problem.A.tocsc(), {}
    else:  # one Fortran-ordered copy for every slice (scikit-learn would copy a C-ordered A each fit)
        A, kw = np.asfortranarray(problem.A, dtype=np.float64), {"check_input": False}
    b = np.ascontiguousarray(problem.b, dtype=np.float64)
    x, done = _slices(problem, ctx, est, "max_iter", cap, _first(A, _EPOCH_COST, cap),
                      lambda: _quiet_fit(est, A, b, **kw), lambda e, s: e.n_iter_,
                      lambda e, s: e.n_iter_ < s)
    return _finish(problem, ctx, x, done, stats)


def solve_sklearn_logistic(problem: L1LogisticRegression, ctx: SolveContext, *, tol: float,
                           max_iter: int | None, solver: str) -> Result:
    """scikit-learn's ``LogisticRegression(C=1/(alpha n), l1_ratio=1)`` with ``solver`` liblinear
    (whole: in this process for a small design, else in a child process) or saga (warm-started
    slices of epochs)."""
    from sklearn.linear_model import LogisticRegression

    if np.unique(problem.y).size < 2:
        raise ValueError("sklearn: LogisticRegression needs both classes in y (this one has a single "
                         "class); use method='bcd'")
    n = problem.A.shape[0]
    C = 1.0 / (problem.alpha * n) if problem.alpha > 0 else 1e12
    stats: dict[str, Any] = {"peer": peer_info("sklearn", "scikit-learn"), "solver": solver, "C": C}
    cap = max_iter or (1000 if solver == "saga" else 100)
    if solver == "saga":
        est = LogisticRegression(C=C, l1_ratio=1.0, solver="saga", fit_intercept=False, tol=tol,
                                 warm_start=True, max_iter=1)
        x, done = _slices(problem, ctx, est, "max_iter", cap, _first(problem.A, 5 * _EPOCH_COST, cap),
                          lambda: _quiet_fit(est, problem.A, problem.y),
                          lambda e, s: int(np.max(e.n_iter_)), lambda e, s: int(np.max(e.n_iter_)) < s)
        return _finish(problem, ctx, x, done, stats)
    if ctx.should_stop():
        return _finish(problem, ctx, None, 0, stats)
    args = (problem.A, problem.y, C, tol, cap)
    in_process = _entries(problem.A) <= _IN_PROCESS
    stats["process"] = "this" if in_process else "child"
    if in_process:
        out, stopped = run_left_behind(ctx, lambda: _liblinear(*args))
        why = "its thread was left to finish, its result dropped"
    else:
        out, stopped = run_in_child(ctx, _liblinear, args)
        why = "its process was killed"
    if stopped:
        return _finish(problem, ctx, None, 0, stats, "liblinear was stopped before it returned (it "
                       f"cannot be interrupted: {why})")
    x, iters = out
    objective = problem.objective(x)
    ctx.record(objective, iteration=iters, incumbent=x)
    status = Status.ITERATION_LIMIT if iters >= cap else Status.CONVERGED
    if ctx.stopped_by_callback:
        status = Status.INTERRUPTED
    return ctx.result(solution=x, objective=objective, status=status, iterations=iters, stats=stats)
