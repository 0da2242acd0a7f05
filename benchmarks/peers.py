"""Peers behind ``solve()``: the wrapper's cost against the direct peer call (issue 22).

Each row times the peer called directly and the same peer through ``solve(problem, "<peer>")``
(median of 5 after one warm-up) on the same instance and tolerance, and checks that both reach
the same objective. ``python -m benchmarks.peers``.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np


def _median(fn: Callable[[], Any], k: int = 5) -> tuple[float, Any]:
    out = fn()
    times = []
    for _ in range(k):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _row(name: str, direct: Callable[[], Any], wrapped: Callable[[], Any],
         note: Callable[[Any, Any], str]) -> str:
    td, od = _median(direct)
    tw, ow = _median(wrapped)
    return f"| {name} | {td * 1e3:.1f} ms | {tw * 1e3:.1f} ms | {tw / td:.1f}x | {note(od, ow)} |"


def main(argv: list[str] | None = None) -> int:
    import ot
    import skglm
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import Lasso as SkLasso
    from sklearn.linear_model import LogisticRegression

    from benchmarks.bcd import correlated_design
    from problems import L1LogisticRegression, Lasso, OptimalTransport
    from solvers import solve

    warnings.simplefilter("ignore")
    tol = 1e-6
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    y = np.where(y > 0, 1.0, -1.0)
    logistic = L1LogisticRegression(X, y, alpha=L1LogisticRegression(X, y).alpha_max() / 10)
    A, b = correlated_design(500, 1000)
    lasso = Lasso(A, b, alpha=Lasso(A, b).alpha_max() / 10)
    C = 1 / (logistic.alpha * X.shape[0])

    def rel(problem: Any, x: Any, result: Any) -> str:
        gap = abs(problem.objective(np.ravel(x)) - result.objective) / result.objective
        return f"objective rel. diff {gap:.1e}"

    print("| case | direct | solve() | ratio | notes |\n|---|---|---|---|---|")
    print(_row("liblinear, breast_cancer a_max/10",
               lambda: LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", fit_intercept=False,
                                          tol=tol, max_iter=1_000_000).fit(X, y).coef_,
               lambda: solve(logistic, "sklearn", tol=tol, max_iter=1_000_000),
               lambda d, w: rel(logistic, d, w)), flush=True)
    print(_row("skglm logistic, breast_cancer a_max/10",
               lambda: skglm.SparseLogisticRegression(alpha=logistic.alpha, tol=tol,
                                                      fit_intercept=False).fit(X, y),
               lambda: solve(logistic, "skglm", tol=tol, max_iter=1000),
               lambda d, w: rel(logistic, d.coef_, w)), flush=True)
    print(_row("sklearn Lasso, correlated 500x1000 a_max/10",
               lambda: SkLasso(alpha=lasso.alpha, fit_intercept=False, tol=tol, max_iter=1_000_000).fit(A, b),
               lambda: solve(lasso, "sklearn", tol=tol, max_iter=1_000_000),
               lambda d, w: rel(lasso, d.coef_, w) + f", epochs {d.n_iter_} vs {w.iterations}"), flush=True)
    print(_row("skglm Lasso, correlated 500x1000 a_max/10",
               lambda: skglm.Lasso(alpha=lasso.alpha, fit_intercept=False, tol=tol).fit(A, b),
               lambda: solve(lasso, "skglm", tol=tol, max_iter=1000),
               lambda d, w: rel(lasso, d.coef_, w)), flush=True)
    transport = OptimalTransport.random(500, seed=0, reg=1e-2)
    for variant, limit in (("sinkhorn", None), ("sinkhorn_log", None), ("sinkhorn", 60.0)):
        def direct(variant: str = variant) -> Any:
            return ot.sinkhorn(transport.a, transport.b, transport.C, transport.reg, method=variant,
                               stopThr=1e-8, numItermax=100_000, log=True, warn=False)

        def wrapped(variant: str = variant, limit: float | None = limit) -> Any:
            return solve(transport, "pot", variant=variant, tol=1e-8, max_iter=None, time_limit=limit)

        def note(d: Any, w: Any) -> str:
            return (f"sweeps {d[1]['niter'] + 1} vs {w.iterations}, L1 error "
                    f"{transport.marginal_error(d[0]):.1e} vs {w.stats['marginal_error']:.1e}, "
                    f"slices {w.stats['slices']}")

        name = f"POT {variant}, n=500 reg=1e-2 tol=1e-8" + (f", time_limit={limit:g}" if limit else "")
        print(_row(name, direct, wrapped, note), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
