"""Block coordinate descent for the smooth learning problems, and the ``bcd`` dispatcher.

Nutini, Laradji & Schmidt, "Let's Make Block Coordinate Descent Converge Faster" (2022):
- partition (§3): fixed blocks of ``block_size`` consecutive features;
- selection (§2-3): cyclic, random, Lipschitz sampling P(b) ∝ L_b, Gauss-Southwell
  max ||∇_b f||, GS-Lipschitz max ||∇_b f||² / L_b, GS-Quadratic max ∇_b fᵀ M_b⁻¹ ∇_b f with the
  fixed upper bound M_b ⪰ ∇²_bb f (eq. (10));
- update (§4): gradient step x_b -= ∇_b f / L_b (eq. (5)) or Newton x_b -= t H_b⁻¹ ∇_b f with
  the current block Hessian and Armijo backtracking on t (eq. (17));
- the linear predictor Z = A X is kept current by residual updates (one block update costs
  O(n |b| k)); the full gradient is only formed by greedy rules and the stopping test;
- label propagation (§5): block Gauss-Seidel over the colour classes of a greedy colouring of
  the unlabelled graph (red-black on a lattice): each class is an independent set, so its block
  Hessian is diagonal and the exact block Newton step is a closed-form weighted average.
L1 problems go to the working-set prox-CD of :mod:`solvers.bcd.greedy_cd`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, logsumexp, softmax

from problems import (
    L1LogisticRegression,
    LabelPropagation,
    Lasso,
    LeastSquares,
    LogisticRegression,
    SoftmaxRegression,
)

from ..context import SolveContext
from ..result import Result, Status

RULES = ("cyclic", "random", "lipschitz", "gs", "gsl", "gsq")
UPDATES = ("gradient", "newton")


def solve_bcd(problem: Any, ctx: SolveContext, tol: float | None = None, max_iter: int | None = None,
              rule: str | None = None, update: str | None = None, block_size: int | None = None,
              max_epochs: int = 10_000, ws_start: int = 50) -> Result:
    """Dispatch on the problem type; ``None`` options take each family's default."""
    if isinstance(problem, (Lasso, L1LogisticRegression)):
        from .greedy_cd import solve_l1_cd

        if update not in (None, "gradient"):
            raise ValueError("L1 problems use the proximal gradient update; update must be 'gradient'")
        return solve_l1_cd(problem, ctx, tol=1e-8 if tol is None else tol,
                           max_iter=1000 if max_iter is None else max_iter, max_epochs=max_epochs,
                           ws_start=ws_start, rule=rule or "gs")
    if isinstance(problem, LabelPropagation):
        return solve_label_propagation(problem, ctx, tol=1e-8 if tol is None else tol,
                                       max_iter=100_000 if max_iter is None else max_iter,
                                       rule=rule or "cyclic")
    if isinstance(problem, (LeastSquares, LogisticRegression, SoftmaxRegression)):
        return solve_smooth_bcd(problem, ctx, tol=1e-6 if tol is None else tol,
                                max_iter=200_000 if max_iter is None else max_iter,
                                rule=rule or "gsq", update=update or "newton",
                                block_size=16 if block_size is None else block_size)
    raise ValueError(f"bcd does not handle {type(problem).__name__}")


class _Model:
    """Loss of the linear predictor Z = A X (n x k) with its derivative and curvature bound."""

    def __init__(self, problem: Any):
        self.problem = problem
        if isinstance(problem, SoftmaxRegression):
            self.kind, self.k, self.c = "softmax", problem.n_classes, 0.5
            self.onehot = np.eye(problem.n_classes)[problem.labels]
        elif isinstance(problem, LogisticRegression):
            self.kind, self.k, self.c = "logistic", 1, 0.25
            self.y = problem.y[:, None]
        else:
            self.kind, self.k, self.c = "ls", 1, 1.0
            self.b = problem.b[:, None]
        self.l2 = float(problem.l2)

    def loss(self, Z: np.ndarray) -> float:
        if self.kind == "ls":
            R = Z - self.b
            return 0.5 * float(np.sum(R * R))
        if self.kind == "logistic":
            return float(np.logaddexp(0.0, -self.y * Z).sum())
        return float((logsumexp(Z, axis=1) - np.sum(Z * self.onehot, axis=1)).sum())

    def dZ(self, Z: np.ndarray) -> np.ndarray:
        if self.kind == "ls":
            return Z - self.b
        if self.kind == "logistic":
            return -self.y * expit(-self.y * Z)
        return softmax(Z, axis=1) - self.onehot

    def hessian(self, Ab: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """∇²_bb f at Z for the block columns Ab (n x m), as an (m k) x (m k) matrix."""
        m = Ab.shape[1]
        if self.kind == "ls":
            H = Ab.T @ Ab
        elif self.kind == "logistic":
            s = expit(Z[:, 0])
            H = Ab.T @ (Ab * (s * (1 - s))[:, None])
        else:
            P = softmax(Z, axis=1)
            k = self.k
            # H[(j,c),(l,d)] = sum_i a_ij a_il (P_ic δ_cd - P_ic P_id)
            diag = np.einsum("ij,il,ic->jcl", Ab, Ab, P)
            H = -np.einsum("ij,il,ic,id->jcld", Ab, Ab, P, P)
            idx = np.arange(k)
            H[:, idx, :, idx] += diag.transpose(1, 0, 2)
            H = H.reshape(m * k, m * k)
        return H + self.l2 * np.eye(H.shape[0])


def _dense_cols(A: Any, cols: np.ndarray) -> np.ndarray:
    sub = A[:, cols]
    return sub.toarray() if sp.issparse(sub) else np.asarray(sub)


def solve_smooth_bcd(problem: Any, ctx: SolveContext, tol: float = 1e-6, max_iter: int = 200_000,
                     rule: str = "gsq", update: str = "newton", block_size: int = 16) -> Result:
    """Fixed-block BCD; stops when ||∇f||_inf <= tol (checked each iteration for greedy rules,
    each sweep otherwise)."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if update not in UPDATES:
        raise ValueError(f"update must be one of {UPDATES}, got {update!r}")
    if not (isinstance(block_size, (int, np.integer)) and block_size >= 1):
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}")
    model = _Model(problem)
    A = problem.A
    n, p = A.shape
    k = model.k
    blocks = [np.asarray(b, dtype=np.int64) for b in np.array_split(np.arange(p), -(-p // block_size))]
    nb = len(blocks)
    cols = [_dense_cols(A, b) for b in blocks]
    grams = [c.T @ c for c in cols]
    lips = np.array([model.c * (np.linalg.eigvalsh(g)[-1] if g.size else 0.0) + model.l2 for g in grams])
    lips = np.maximum(lips, 1e-300)
    if rule == "gsq":
        # fixed upper bound M_b = c A_bᵀA_b ⊗ I_k + l2 I (positive definite after a tiny shift)
        minv = []
        for g in grams:
            if ctx.should_stop():  # the setup alone can outlast a short time limit
                zero = np.zeros((p, k)) if isinstance(problem, SoftmaxRegression) else np.zeros(p)
                return ctx.result(solution=zero, objective=problem.objective(zero),
                                  status=ctx.stop_status(Status.ITERATION_LIMIT), iterations=0,
                                  message="stopped during the block setup")
            shift = model.l2 + 1e-12 * (1 + np.trace(g))
            M = np.kron(model.c * g, np.eye(k)) + shift * np.eye(g.shape[0] * k)
            minv.append(np.linalg.inv(M))
    X = np.zeros((p, k))
    Z = np.zeros((n, k))
    f = model.loss(Z)
    greedy = rule in ("gs", "gsl", "gsq")
    status = Status.ITERATION_LIMIT
    it = 0
    gnorm = np.inf
    order_pos = 0
    probs = lips / lips.sum() if rule == "lipschitz" else None

    def full_grad() -> np.ndarray:
        return np.asarray(A.T @ model.dZ(Z)) + model.l2 * X

    try:
        while it < int(max_iter):
            if greedy or order_pos % nb == 0:
                G = full_grad()
                gnorm = float(np.max(np.abs(G))) if G.size else 0.0
                if gnorm <= tol:
                    status = Status.CONVERGED
                    break
            if ctx.should_stop():
                break
            if rule == "cyclic":
                bi = order_pos % nb
            elif rule == "random":
                bi = int(ctx.rng.integers(nb))
            elif rule == "lipschitz":
                bi = int(ctx.rng.choice(nb, p=probs))
            else:
                sq = np.array([np.sum(G[b] ** 2) for b in blocks])
                if rule == "gs":
                    bi = int(np.argmax(sq))
                elif rule == "gsl":
                    bi = int(np.argmax(sq / lips))
                else:
                    bi = int(np.argmax([G[b].ravel() @ Mi @ G[b].ravel() for b, Mi in zip(blocks, minv)]))
            order_pos += 1
            b, Ab = blocks[bi], cols[bi]
            R = model.dZ(Z)
            gb = (Ab.T @ R + model.l2 * X[b]).ravel()
            if update == "gradient":
                d = -gb / lips[bi]
                D = d.reshape(-1, k)
                Znew = Z + Ab @ D
                fnew = model.loss(Znew) + 0.5 * model.l2 * float(np.sum((X[b] + D) ** 2) - np.sum(X[b] ** 2))
            else:
                if ctx.should_stop():
                    break
                H = model.hessian(Ab, Z)
                try:
                    d = -np.linalg.solve(H, gb)
                except np.linalg.LinAlgError:
                    d = -np.linalg.lstsq(H, gb, rcond=None)[0]
                if not np.all(np.isfinite(d)) or gb @ d >= 0:
                    d = -gb / lips[bi]
                t = 1.0
                while True:  # Armijo backtracking (paper eq. (17))
                    D = t * d.reshape(-1, k)
                    Znew = Z + Ab @ D
                    dreg = float(np.sum((X[b] + D) ** 2) - np.sum(X[b] ** 2))
                    fnew = model.loss(Znew) + 0.5 * model.l2 * dreg
                    if fnew <= f + 1e-4 * t * float(gb @ d) or t < 1e-10:
                        break
                    t *= 0.5
            if fnew <= f + 1e-12 * max(1.0, abs(f)):
                X[b] += D
                Z = Znew
                f = model.loss(Z)
            it += 1
            ctx.record(f + 0.5 * model.l2 * float(np.sum(X * X)), iteration=it)
    except KeyboardInterrupt:
        ctx.interrupted = True
    if status is not Status.CONVERGED:
        status = ctx.stop_status(status)
    sol = X if isinstance(problem, SoftmaxRegression) else X[:, 0]
    return ctx.result(solution=sol, objective=problem.objective(sol), status=status, iterations=it,
                      stats={"grad_norm": gnorm, "n_blocks": nb, "rule": rule, "update": update})


def greedy_coloring(W: sp.csr_matrix) -> np.ndarray:
    """Colour classes (independent sets): a 2-colouring (red-black) when the graph is bipartite
    (BFS parity with scipy.sparse.csgraph, linear time), else networkx's greedy largest-first
    colouring."""
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    n = W.shape[0]
    _, comp = connected_components(W, directed=False)
    parity = np.zeros(n, dtype=np.int64)
    seen = np.zeros(n, dtype=bool)
    for root in np.unique(comp, return_index=True)[1]:
        order, pred = breadth_first_order(W, int(root), directed=False, return_predecessors=True)
        seen[order] = True
        for v in order[1:]:
            parity[v] = 1 - parity[pred[v]]
    rows, cols = W.nonzero()
    if np.all(parity[rows] != parity[cols]):
        return parity
    import networkx as nx

    col = nx.greedy_color(nx.from_scipy_sparse_array(W), strategy="largest_first")
    return np.array([col[i] for i in range(n)], dtype=np.int64)


def solve_label_propagation(problem: LabelPropagation, ctx: SolveContext, tol: float = 1e-8,
                            max_iter: int = 100_000, rule: str = "cyclic") -> Result:
    """Block Gauss-Seidel over colour classes; ``tol`` on ||∇f||_inf, checked each sweep."""
    if rule not in ("cyclic", "random", "gs"):
        raise ValueError(f"rule must be 'cyclic', 'random' or 'gs' for label propagation, got {rule!r}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}")
    W = sp.csr_matrix(problem.W)
    unl = problem.unlabelled
    Xf = problem.clamped()
    deg = np.asarray(W.sum(axis=1)).ravel()[unl] + problem.reg
    W_U = W[unl]
    color = greedy_coloring(sp.csr_matrix(W_U[:, unl])) if unl.size else np.zeros(0, dtype=np.int64)
    classes = [np.flatnonzero(color == c) for c in range(int(color.max()) + 1)] if unl.size else []
    rows = [W_U[c] for c in classes]
    status = Status.ITERATION_LIMIT
    it = 0
    gnorm = np.inf
    nc = len(classes)
    safe_deg = np.where(deg > 0, deg, 1.0)
    try:
        while it < int(max_iter):
            if nc == 0:
                status = Status.CONVERGED
                break
            if rule == "gs" or it % nc == 0:
                Gr = deg[:, None] * Xf[unl] - W_U @ Xf
                gnorm = float(np.max(np.abs(Gr))) if Gr.size else 0.0
                if gnorm <= tol:
                    status = Status.CONVERGED
                    break
            if ctx.should_stop():
                break
            if rule == "cyclic":
                ci = it % nc
            elif rule == "random":
                ci = int(ctx.rng.integers(nc))
            else:
                ci = int(np.argmax([np.sum(Gr[c] ** 2) for c in classes]))
            c = classes[ci]
            # exact block minimization: block Hessian diag(deg_c) since the class is independent
            Xf[unl[c]] = (rows[ci] @ Xf) / safe_deg[c][:, None]
            it += 1
            if it % nc == 0:
                ctx.record(problem.objective(Xf), iteration=it)
    except KeyboardInterrupt:
        ctx.interrupted = True
    if status is not Status.CONVERGED:
        status = ctx.stop_status(status)
    return ctx.result(solution=Xf, objective=problem.objective(Xf), status=status, iterations=it,
                      stats={"grad_norm": gnorm, "n_colors": nc})
