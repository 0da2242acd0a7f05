"""Exact score minimization over topological orders by enumeration (tiny graphs only).

For a fixed order the least-squares score separates over nodes: each node regresses on
all its predecessors (the inner problem of TOPO, Deng et al. 2023, eq. 4). Enumerating
every order gives the global minimum of the unpenalized l2 score over DAGs. Prior knowledge:
orders that break a precedence (required edge, tiers) are skipped, forbidden parents are left
out of the regressions, and required edges survive the threshold.
"""

from __future__ import annotations

import itertools

import numpy as np

from problems import DAGLearning

from ..context import SolveContext
from ..result import Result, Status

MAX_NODES = 8


def fit_order(S: np.ndarray, order: list[int] | np.ndarray,
              allowed: np.ndarray | None = None) -> np.ndarray:
    """Weights of the complete DAG along ``order`` from the Gram matrix S = X^T X / n (only
    the ``allowed`` parents when given)."""
    d = S.shape[0]
    W = np.zeros((d, d))
    for pos in range(1, len(order)):
        j = order[pos]
        pa = [i for i in order[:pos] if allowed is None or allowed[i, j]]
        if pa:
            W[pa, j] = np.linalg.solve(S[np.ix_(pa, pa)], S[pa, j])
    return W


def _keeps_precedence(order: tuple[int, ...], precedence: np.ndarray) -> bool:
    pos = np.empty(len(order), dtype=np.int64)
    pos[list(order)] = np.arange(len(order))
    i, j = np.nonzero(precedence)
    return bool(np.all(pos[i] < pos[j]))


def _thresholded(W: np.ndarray, threshold: float, keep: np.ndarray) -> np.ndarray:
    return np.where((np.abs(W) >= threshold) | keep, W, 0.0)


def solve_exhaustive(problem: DAGLearning, ctx: SolveContext, *, threshold: float) -> Result:
    """The best complete DAG over all d! orders (OPTIMAL once all were tried), thresholded."""
    d = problem.n_nodes
    if d > MAX_NODES or problem.loss != "l2" or problem.lambda1 > 0:
        raise ValueError(f"exhaustive search handles l2 loss without L1 and d <= {MAX_NODES}")
    S = problem.X.T @ problem.X / problem.n_samples
    best, best_W, count = np.inf, None, 0
    status = Status.OPTIMAL  # proved by enumeration, unless a stop cuts it short
    req, constrained = problem.required, bool(problem.precedence.any())
    for order in itertools.permutations(range(d)):
        if constrained and not _keeps_precedence(order, problem.precedence):
            continue
        W = fit_order(S, order, problem.allowed)
        score = problem.loss_value(W)
        count += 1
        if score < best - 1e-12:
            best, best_W = score, W
            ctx.record(best, iteration=count, incumbent=lambda W=W: _thresholded(W, threshold, req))
        if count % 64 == 0 and ctx.should_stop():
            status = None  # from the stop reason
            break
    W = _thresholded(best_W, threshold, req)
    return ctx.result(solution=W, objective=problem.objective(W), status=status,
                      iterations=count, stats={"unthresholded_score": best})
