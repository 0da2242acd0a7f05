"""DAGMA (Bello, Aragam & Ravikumar 2022): ``dagma.linear.DagmaLinear`` with the problem's loss.

DAGMA's own loop has no time limit or callback; a thin subclass hooks its two regular calls:
the progress bar's ``update`` after every Adam step asks the solve context whether to stop
(time limit, Ctrl-C, a callback's ``StopIteration``), and the objective evaluation every
``checkpoint`` steps records the score of the current (unthresholded) graph, data-fit loss
plus the L1 term (history label "score", as our DAG methods). A stopped run returns its last
checkpoint's graph. The result is thresholded at ``w_threshold`` and, should it still have a
cycle (a run cut short), the threshold is raised until it is acyclic; the objective is the
problem's own score of that DAG. ``lambda1`` None uses the problem's ``lambda1``.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np

from problems import DAGLearning
from problems.dag import is_dag

from ..context import SolveContext
from ..result import Result
from ._common import peer_info


class _Stopped(Exception):
    """Raised inside DAGMA's loop when the solve context says stop."""


def acyclic(W: np.ndarray, threshold: float) -> tuple[np.ndarray, float]:
    """``|W| < threshold`` dropped, the threshold raised until the graph is a DAG."""
    W = np.where(np.abs(W) < threshold, 0.0, W)
    np.fill_diagonal(W, 0.0)
    while not is_dag(W):
        threshold = float(np.abs(W[W != 0]).min()) + 1e-12
        W[np.abs(W) < threshold] = 0.0
    return W, threshold


def _model(ctx: SolveContext, problem: DAGLearning, loss: str, w_threshold: float) -> Any:
    from dagma.linear import DagmaLinear

    class Watched(DagmaLinear):
        last: np.ndarray | None = None
        outer = 0

        def minimize(self, W, mu, max_iter, s, lr, tol=1e-6, beta_1=0.99, beta_2=0.999, pbar=None):
            out = super().minimize(W, mu, max_iter, s, lr, tol, beta_1, beta_2, _Bar(ctx, pbar))
            self.outer += 1
            return out

        def _func(self, W, mu, s=1.0):
            obj, score, h = super()._func(W, mu, s)
            self.last = W.copy()
            value = float(score + self.lambda1 * np.abs(W).sum())
            ctx.record(value, iteration=self.outer,
                       incumbent=lambda w=self.last: acyclic(w, w_threshold)[0])
            return obj, score, h

    return Watched(loss_type=loss, verbose=False)


class _Bar:
    """DAGMA's progress bar stand-in: each step asks the context whether to stop."""

    def __init__(self, ctx: SolveContext, bar: Any):
        self.ctx, self.bar = ctx, bar

    def update(self, n: int = 1) -> None:
        if self.ctx.should_stop():
            raise _Stopped


def solve_dagma(problem: DAGLearning, ctx: SolveContext, *, lambda1: float | None, w_threshold: float,
                T: int, mu_init: float, mu_factor: float, warm_iter: int, final_iter: int,
                lr: float, checkpoint: int) -> Result:
    """DAGMA's central path (``T`` steps of ``mu``, Adam inner solves) until it ends or a stop."""
    if problem.loss == "gauss-nv":
        raise ValueError("DAGMA's linear model has losses 'l2' and 'logistic' only, not 'gauss-nv'")
    lam = problem.lambda1 if lambda1 is None else lambda1
    model = _model(ctx, problem, problem.loss, w_threshold)
    X = np.array(problem.X, dtype=np.float64, copy=True)  # DAGMA centres X in place
    W = None
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # DAGMA draws a tqdm bar
            model.fit(X, lambda1=lam, w_threshold=0.0, T=T, mu_init=mu_init, mu_factor=mu_factor,
                      s=[1.0, 0.9, 0.8, 0.7, 0.6],  # DAGMA's default, a fresh list (it edits it)
                      warm_iter=warm_iter, max_iter=final_iter, lr=lr, checkpoint=checkpoint)
        W = model.W_est
        ctx.finished()
    except _Stopped:
        W = model.last if model.last is not None else getattr(model, "W_est", None)
    stats: dict[str, Any] = {"peer": peer_info("dagma"), "lambda1": lam, "outer_steps": model.outer}
    if W is None:
        return ctx.result(message="stopped before DAGMA's first step", stats=stats)
    G, used = acyclic(np.asarray(W, dtype=np.float64), w_threshold)
    stats["threshold_used"] = used
    return ctx.result(solution=G, objective=problem.objective(G), iterations=model.outer, stats=stats)
