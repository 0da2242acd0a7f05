"""Label propagation by block coordinate descent (Nutini, Laradji & Schmidt 2022, §5).

- ``partition="forest"`` (default): BCD over forest blocks: the unlabelled graph is split
  greedily into a few blocks whose induced subgraphs are forests (about two on a lattice), so
  every block Hessian H_bb = diag(deg_b + reg) - W_bb is tree-structured and the exact block
  minimization is solved in O(|b|) by message passing on the block's pre-factored tree; the
  gradient G = H X_U - W_UL Y_L is kept current by residual updates through the cut edges (a
  block visit costs O(nnz of its rows)) and recomputed from scratch before the stopping test
  is accepted;
- ``partition="red-black"``: block Gauss-Seidel over the colour classes of a greedy colouring
  of the unlabelled graph (red-black on a lattice): each class is an independent set, so its
  block Hessian is diagonal and the exact block step is a closed-form weighted average.

``max_iter`` counts block visits; ``tol`` is on ||∇f||_inf, checked once per sweep (one sweep =
as many visits as blocks; every visit for ``rule="gs"`` on colour classes).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from problems import LabelPropagation

from ..context import SolveContext
from ..result import Result
from ._forest_kernels import factor_forests, sweep
from .partitions import forest_partition, greedy_coloring, tree_structure


def solve_label_propagation(problem: LabelPropagation, ctx: SolveContext, *, tol: float,
                            max_iter: int | None, rule: str, partition: str) -> Result:
    """Forest blocks by message passing, or red-black block Gauss-Seidel (module docstring)."""
    if partition == "forest":
        return _forest_bcd(problem, ctx, tol, max_iter, rule)
    return _colour_bcd(problem, ctx, tol, max_iter, rule)


def _forest_bcd(problem: LabelPropagation, ctx: SolveContext, tol: float, max_iter: int | None,
                rule: str) -> Result:
    """BCD over forest blocks with exact message-passing block updates ('cyclic': blocks in turn,
    'random': uniform, 'gs': the largest ||∇_b f||); history recorded once per sweep."""
    W = sp.csr_matrix(problem.W)
    unl = problem.unlabelled
    m = unl.size
    Xf = problem.clamped()
    f0 = problem.objective(Xf)  # f at X_U = 0; f(X_U) = f0 + 1/2 <X_U, G - B>
    W_UU = sp.csr_matrix(W[unl][:, unl])
    blocks = forest_partition(W_UU)
    nb = len(blocks)
    parts = [tree_structure(W_UU, b) for b in blocks]
    bptr = np.zeros(nb + 1, dtype=np.int64)
    bptr[1:] = np.cumsum([b.size for b in blocks])
    # renumber the unlabelled nodes block by block in BFS order: perm[new] = old
    perm = np.concatenate([p[0] for p in parts]) if nb else np.zeros(0, dtype=np.int64)
    new_of = np.empty(m, dtype=np.int64)
    new_of[perm] = np.arange(m)
    parent = np.concatenate([np.where(p[1] >= 0, new_of[np.maximum(p[1], 0)], -1) for p in parts]) \
        if nb else np.zeros(0, dtype=np.int64)
    offdiag = -np.concatenate([p[2] for p in parts]) if nb else np.zeros(0)
    uidx = unl[perm]
    deg = np.asarray(W.sum(axis=1)).ravel()[uidx] + problem.reg
    B = np.asarray(W[uidx] @ Xf)  # W_UL Y_L: the linear term (X_U = 0 in Xf)
    Wp = sp.csr_matrix(W_UU[perm][:, perm])
    Wp.sort_indices()
    # cut edges (endpoints in different blocks): the only residual updates a block step needs
    bid = np.repeat(np.arange(nb), np.diff(bptr))
    rows = np.repeat(np.arange(m), np.diff(Wp.indptr))
    cut = sp.csr_matrix((Wp.data * (bid[rows] != bid[Wp.indices]), Wp.indices.copy(), Wp.indptr.copy()),
                        shape=Wp.shape)
    cut.eliminate_zeros()
    cut.sort_indices()
    cindptr, cindices, cdata = cut.indptr.astype(np.int64), cut.indices.astype(np.int64), cut.data
    ipiv, mult = factor_forests(bptr, parent, deg, offdiag)
    if not np.all(ipiv > 0):
        raise ValueError("a block Hessian of label propagation is not positive definite "
                         "(a component without labels needs reg > 0)")
    X = np.zeros((m, Xf.shape[1]))
    G = -B
    r = np.empty_like(X)
    all_blocks = np.arange(nb, dtype=np.int64)
    X = np.zeros((m, Xf.shape[1]))
    G = -B
    r = np.empty_like(X)
    all_blocks = np.arange(nb, dtype=np.int64)
    it = 0
    gnorm = float(np.max(np.abs(G))) if G.size else 0.0

    def current() -> np.ndarray:
        out = Xf.copy()
        out[uidx] = X
        return out

    def converged() -> bool:
        """||∇f||_inf <= tol, accepted only on the exact gradient (the residual updates drift)."""
        nonlocal G, gnorm
        if gnorm > tol:
            return False
        G = deg[:, None] * X - Wp @ X - B
        gnorm = float(np.max(np.abs(G))) if G.size else 0.0
        return gnorm <= tol

    sweeps = None if max_iter is None else math.ceil(max_iter / max(nb, 1))
    if converged():
        ctx.converged()
    else:
        for _ in ctx.iterations(sweeps):
            n_visit = nb if max_iter is None else min(nb, max_iter - it)
            if rule == "cyclic":
                todo = all_blocks[:n_visit]
            elif rule == "random":
                todo = ctx.rng.integers(nb, size=n_visit).astype(np.int64)
            else:  # Gauss-Southwell: the block with the largest gradient norm, visit by visit
                for _ in range(n_visit - 1):
                    j = int(np.argmax([np.sum(G[bptr[i]:bptr[i + 1]] ** 2) for i in range(nb)]))
                    sweep(bptr, parent, mult, ipiv, cindptr, cindices, cdata, B, X, G, r, all_blocks[j:j + 1],
                          False)
                j = int(np.argmax([np.sum(G[bptr[i]:bptr[i + 1]] ** 2) for i in range(nb)]))
                todo = all_blocks[j:j + 1]
            gnorm, xg = sweep(bptr, parent, mult, ipiv, cindptr, cindices, cdata, B, X, G, r, todo, True)
            it += n_visit
            ctx.record(f0 + 0.5 * xg, iteration=it, incumbent=current)
            if converged():
                ctx.converged()
                break
    Xf[uidx] = X
    return ctx.result(solution=Xf, objective=problem.objective(Xf), iterations=it,
                      stats={"grad_norm": gnorm, "n_blocks": nb, "partition": "forest"})


def _colour_bcd(problem: LabelPropagation, ctx: SolveContext, tol: float, max_iter: int | None,
                rule: str) -> Result:
    """Block Gauss-Seidel over colour classes; ``tol`` on ||∇f||_inf, checked each sweep."""
    W = sp.csr_matrix(problem.W)
    unl = problem.unlabelled
    Xf = problem.clamped()
    deg = np.asarray(W.sum(axis=1)).ravel()[unl] + problem.reg
    W_U = W[unl]
    color = greedy_coloring(sp.csr_matrix(W_U[:, unl])) if unl.size else np.zeros(0, dtype=np.int64)
    classes = [np.flatnonzero(color == c) for c in range(int(color.max()) + 1)] if unl.size else []
    rows = [W_U[c] for c in classes]
    it = 0
    gnorm = np.inf
    nc = len(classes)
    safe_deg = np.where(deg > 0, deg, 1.0)
    for _ in ctx.iterations(max_iter):
        if nc == 0:
            ctx.converged()
            break
        if rule == "gs" or it % nc == 0:
            Gr = deg[:, None] * Xf[unl] - W_U @ Xf
            gnorm = float(np.max(np.abs(Gr))) if Gr.size else 0.0
            if gnorm <= tol:
                ctx.converged()
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
            ctx.record(problem.objective(Xf), iteration=it, incumbent=Xf.copy)
    return ctx.result(solution=Xf, objective=problem.objective(Xf), iterations=it,
                      stats={"grad_norm": gnorm, "n_colors": nc})
