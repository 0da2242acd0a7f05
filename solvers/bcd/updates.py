"""Block updates of BCD (Nutini, Laradji & Schmidt 2022, §4), as one table, and what each block
needs precomputed.

- ``gradient``: x_b -= ∇_b f / L_b (eq. (5));
- ``matrix``: x_b -= M_b⁻¹ ∇_b f with the fixed upper bound M_b ⪰ ∇²_bb f (eq. (10));
- ``newton``: x_b -= t H_b⁻¹ ∇_b f with the current block Hessian and Armijo backtracking on t
  (eq. (17)); on a forest block (sparse designs, §5) H_b is tree-structured and the system is
  solved by message passing (:func:`forest_newton`);
- ``newton-cg``: the same Newton step with H_b⁻¹ ∇_b f solved inexactly by preconditioned CG
  on Hessian-vector products (O(n |b| k) each, the block Hessian is never formed),
  preconditioned by the Kronecker factorization S̄ ⊗ A_bᵀA_b + l2 I (S̄ the mean per-sample
  curvature of the loss in Z; exact at X = 0 for softmax and for least squares), or by its
  diagonal (Jacobi) for sparse or large blocks.

An :class:`Update` gives the direction; :func:`take_step` applies it (the fixed step of the
bound, or Armijo backtracking for Newton-type updates). :class:`BlockSetup` prepares the
per-block data (:class:`Block`) the update and the selection rule need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .model import LinearModel

JACOBI_MIN = 640  # newton-cg blocks with more variables (|b| k) than this use the Jacobi preconditioner
HV_DTYPE = np.float32  # newton-cg Hessian-vector products: they only shape the direction


@dataclass
class Block:
    """Per-block data: the columns A_b, L_b = λ_max(M_b) (or an upper bound), M_b⁻¹ (matrix
    update, GSQ), the diagonal bound D_b ⪰ M_b (GSD), for ``newton-cg`` (A_b in float32, its
    transpose, eigenvalues and eigenvectors of A_bᵀA_b or None, (A_b ⊙ A_b)ᵀ for Jacobi) and for
    a forest block its tree (:func:`forest_tree`)."""

    cols: Any
    lip: float
    minv: np.ndarray | None
    diag: np.ndarray
    cg: tuple | None = None
    tree: tuple | None = None


def dense_cols(A: Any, cols: np.ndarray) -> np.ndarray:
    sub = A[:, cols]
    return sub.toarray() if sp.issparse(sub) else np.asarray(sub)


def forest_tree(Ab: Any, parent: np.ndarray) -> tuple[np.ndarray, Any, Any]:
    """Per forest block, once: (parent positions, Qdᵀ, Qoᵀ) with Qd = A_b ⊙ A_b and Qo = A_b ⊙
    A_b[:, parent] (zero columns at roots), so that the nonzeros of A_bᵀ D A_b for the sample
    weights w = diag(D) are diag = Qdᵀ w and the tree entries H[v, parent(v)] = Qoᵀ w."""
    par = np.maximum(parent, 0)
    root = (parent < 0).astype(np.float64)
    if sp.issparse(Ab):
        Qd = sp.csr_matrix(Ab.multiply(Ab).T)
        Qo = sp.csr_matrix(Ab.multiply(Ab[:, par]).T)
        Qo = sp.csr_matrix(sp.diags(1.0 - root) @ Qo)
    else:
        Qd = np.ascontiguousarray((Ab * Ab).T)
        Qo = np.ascontiguousarray((Ab * Ab[:, par]).T * (1.0 - root)[:, None])
    return parent, Qd, Qo


class BlockSetup:
    """Builds the :class:`Block` of a coordinate set for one run: ``minv`` whether M_b⁻¹ is
    needed (matrix update, GSQ on several fixed blocks), ``diagonal`` whether the diagonal bound
    must be exact on Jacobi blocks (GSD), ``forest`` for forest blocks (Gershgorin bounds, columns
    kept sparse, the tree of message passing)."""

    def __init__(self, A: Any, model: LinearModel, update: str, *, minv: bool, diagonal: bool, forest: bool):
        self.A, self.model, self.update = A, model, update
        self.minv, self.diagonal, self.forest = minv, diagonal, forest

    def __call__(self, b: np.ndarray, parent: np.ndarray | None = None) -> Block:
        A, c, l2, k = self.A, self.model.c, self.model.l2, self.model.k
        if self.forest:  # tree-structured Gram: Gershgorin bounds, columns kept sparse
            Ab = A[:, b]
            g = Ab.T @ Ab
            rows = np.asarray(abs(g).sum(axis=1)).ravel()
            lb = max(c * (float(rows.max()) if rows.size else 0.0) + l2, 1e-300)
            return Block(Ab, lb, None, np.maximum(c * rows + l2, 1e-300), tree=forest_tree(Ab, parent))
        if self.update == "newton-cg" and (sp.issparse(A) or b.size * k > JACOBI_MIN):
            return self._jacobi(b)
        Ab = dense_cols(A, b)
        g = Ab.T @ Ab
        cg_data = None
        if self.update == "newton-cg":
            lam, V = np.linalg.eigh(g)
            lam = np.maximum(lam, 0.0)
            a32 = np.ascontiguousarray(Ab, dtype=HV_DTYPE)
            cg_data = (a32, a32.T, lam, V, None)
            lb = max(c * (lam[-1] if lam.size else 0.0) + l2, 1e-300)
        else:
            lb = max(c * (np.linalg.eigvalsh(g)[-1] if g.size else 0.0) + l2, 1e-300)
        minv = self._minv(g) if self.minv else None
        # GSD: M_b ⪯ diag(row sums of |M_b|) (diagonal dominance bound)
        dg = c * np.abs(g).sum(axis=1) + l2
        return Block(Ab, lb, minv, np.maximum(dg, 1e-300), cg=cg_data)

    def _minv(self, g: np.ndarray) -> np.ndarray:
        """M_b⁻¹ for M_b = c A_bᵀA_b ⊗ I_k + l2 I (regularized by 1e-12 (1 + tr A_bᵀA_b))."""
        c, l2, k = self.model.c, self.model.l2, self.model.k
        M = np.kron(c * g, np.eye(k)) + (l2 + 1e-12 * (1 + np.trace(g))) * np.eye(g.shape[0] * k)
        return np.linalg.inv(M)

    def _jacobi(self, b: np.ndarray) -> Block:
        """A sparse or large ``newton-cg`` block: Jacobi preconditioner (no eigendecomposition)."""
        A, c, l2 = self.A, self.model.c, self.model.l2
        if sp.issparse(A):
            Ab = sp.csc_matrix(A[:, b])
            a32 = sp.csr_matrix(Ab, dtype=HV_DTYPE)
            a32t = sp.csr_matrix(a32.T)
            sq = Ab.multiply(Ab)
            sqt = sp.csr_matrix(sq.T)
        else:
            Ab = dense_cols(A, b)
            a32 = np.ascontiguousarray(Ab, dtype=HV_DTYPE)
            a32t = a32.T
            sq = Ab * Ab
            sqt = np.ascontiguousarray(sq.T)
        colsq = np.asarray(sq.sum(axis=0)).ravel()
        lb = max(c * float(colsq.sum()) + l2, 1e-300)  # c ||A_b||_F² + l2 >= λ_max(M_b)
        gram = None
        if self.diagonal or self.minv:
            gram = Ab.T @ Ab
        dg = c * np.asarray(abs(gram).sum(axis=1)).ravel() + l2 if self.diagonal else c * colsq + l2
        minv = None
        if self.minv:  # GSQ scores of several blocks (a dense Gram of the block's columns)
            minv = self._minv(gram.toarray() if sp.issparse(gram) else np.asarray(gram))
        return Block(Ab, lb, minv, np.maximum(dg, 1e-300), cg=(a32, a32t, None, None, sqt))


def forest_newton(model: LinearModel, tree: tuple[np.ndarray, Any, Any], R: np.ndarray, gb: np.ndarray,
                  l2: float, lb: float) -> np.ndarray:
    """Block Newton direction -H_bb⁻¹ ∇_b f for a forest block (paper §5): H_bb = A_bᵀ D A_b + l2 I
    has nonzeros only on the tree edges, so only its diagonal and (column, parent) entries are
    formed (O(nnz(A_b)), :func:`forest_tree`) and the system is solved by message passing in
    O(|b|); falls back to the gradient step -∇_b f / L_b if a pivot is not positive."""
    from .trees import tree_solve  # numba: imported when a forest block is solved

    parent, Qd, Qo = tree
    curv = model.curvature(R)
    w = np.ones(R.shape[0]) if curv is None else curv[:, 0]
    diag = np.asarray(Qd @ w).ravel() + l2
    off = np.asarray(Qo @ w).ravel()
    r = np.ascontiguousarray(-gb.reshape(gb.size, 1))
    return r.ravel() if tree_solve(parent, diag, off, r) else -gb / lb


def newton_cg_direction(model: LinearModel, cg_data: tuple, curv: np.ndarray | None, gb: np.ndarray,
                        l2: float, max_cg: int) -> tuple[np.ndarray, int]:
    """Inexact block Newton direction d ≈ -H_bb⁻¹ ∇_b f (paper eq. (17)) by preconditioned CG on
    Hessian-vector products H_bb D = A_bᵀ ∇²_Z loss (A_b D) + l2 D (cost O(n |b| k), in single
    precision: they only shape the direction; the gradient and the Armijo test stay float64).

    Preconditioner: the Kronecker factorization H_bb ≈ A_bᵀA_b ⊗ S̄ + l2 I with S̄ the mean
    per-sample curvature (:meth:`LinearModel.mean_curvature`); with A_bᵀA_b = V diag(lam) Vᵀ and
    S̄ = U diag(sig) Uᵀ its inverse costs O(|b|² k + |b| k²) per application. Stops at the relative
    residual min(0.5, sqrt(||∇_b f||)) (superlinear truncated Newton) or after ``max_cg`` products.
    Sparse blocks (``lam`` None) use the Jacobi preconditioner diag(H_bb) = (A_b ⊙ A_b)ᵀ diag(∇²_z
    loss) + l2 instead (O(nnz(A_b) k)).
    ``cg_data``: (A_b in float32, its transpose, lam, V, (A_b ⊙ A_b)ᵀ for the Jacobi case);
    ``gb`` is (|b|, k); returns (d of shape (|b|, k), number of Hessian-vector products)."""
    Ab32, Ab32T, lam, V, sqT = cg_data
    n = Ab32.shape[0]
    curv32 = None if curv is None else curv.astype(Ab32.dtype)
    if lam is None:
        if curv is None:
            dcurv = np.ones((n, 1))
        elif model.kind == "logistic":
            dcurv = curv
        else:
            dcurv = curv * (1.0 - curv)
        jac = 1.0 / np.maximum(np.asarray(sqT @ dcurv) + l2, 1e-300)

        def precond(R: np.ndarray) -> np.ndarray:
            return R * jac
    else:
        sig, Uc = np.linalg.eigh(model.mean_curvature(curv, n))
        den = np.outer(lam, np.maximum(sig, 0.0)) + l2
        den = 1.0 / np.maximum(den, 1e-12 * max(float(den.max()), 1e-300))

        def precond(R: np.ndarray) -> np.ndarray:
            return V @ (((V.T @ R) @ Uc) * den) @ Uc.T

    def hvp(D: np.ndarray) -> np.ndarray:
        U = np.asarray(Ab32 @ D.astype(Ab32.dtype))
        return np.asarray(Ab32T @ model.hvp_Z(curv32, U)).astype(np.float64) + l2 * D

    r0 = float(np.linalg.norm(gb))
    stop = min(0.5, np.sqrt(r0)) * r0
    D = np.zeros_like(gb)
    R = -gb
    S = precond(R)
    Pd = S.copy()
    rs = float(np.sum(R * S))
    n_hv = 0
    while n_hv < max_cg and rs > 0:
        Q = hvp(Pd)
        n_hv += 1
        curv_pd = float(np.sum(Pd * Q))
        if not curv_pd > 0:  # round-off in single precision: keep the last descent direction
            break
        a = rs / curv_pd
        D += a * Pd
        R -= a * Q
        if float(np.linalg.norm(R)) <= stop:
            break
        S = precond(R)
        rs_new = float(np.sum(R * S))
        Pd = S + (rs_new / rs) * Pd
        rs = rs_new
    if n_hv == 0 or not np.any(D):
        D = precond(-gb)  # the preconditioned gradient step (a descent direction: den > 0)
    return D, n_hv


# -- the updates ----------------------------------------------------------------------------

Direction = Callable[[LinearModel, Block, np.ndarray, np.ndarray, np.ndarray, int], tuple[np.ndarray, int]]


@dataclass(frozen=True)
class Update:
    """One block update: ``direction(model, block, Z, R, gb, max_cg)`` gives the step d for the
    block gradient ``gb`` (R = d loss / dZ at the predictor Z) and the number of Hessian-vector
    products it used; ``line_search``: Newton-type (Armijo backtracking, safeguarded by the
    gradient step) rather than the fixed step of the bound; ``minv``: needs M_b⁻¹; ``forest``:
    applies to forest blocks."""

    name: str
    doc: str
    direction: Direction
    line_search: bool = False
    minv: bool = False
    forest: bool = False


def _gradient(model: LinearModel, blk: Block, Z: np.ndarray, R: np.ndarray, gb: np.ndarray,
              max_cg: int) -> tuple[np.ndarray, int]:
    return -gb / blk.lip, 0


def _matrix(model: LinearModel, blk: Block, Z: np.ndarray, R: np.ndarray, gb: np.ndarray,
            max_cg: int) -> tuple[np.ndarray, int]:
    return -(blk.minv @ gb), 0


def _newton(model: LinearModel, blk: Block, Z: np.ndarray, R: np.ndarray, gb: np.ndarray,
            max_cg: int) -> tuple[np.ndarray, int]:
    if blk.tree is not None:
        return forest_newton(model, blk.tree, R, gb, model.l2, blk.lip), 0
    H = model.hessian(blk.cols, Z)
    try:
        return -np.linalg.solve(H, gb), 0
    except np.linalg.LinAlgError:
        return -np.linalg.lstsq(H, gb, rcond=None)[0], 0


def _newton_cg(model: LinearModel, blk: Block, Z: np.ndarray, R: np.ndarray, gb: np.ndarray,
               max_cg: int) -> tuple[np.ndarray, int]:
    D, used = newton_cg_direction(model, blk.cg, model.curvature(R), gb.reshape(-1, model.k), model.l2,
                                  max_cg)
    return D.ravel(), used


UPDATES: dict[str, Update] = {u.name: u for u in (
    Update("gradient", "x_b -= ∇_b f / L_b", _gradient),
    Update("matrix", "x_b -= M_b⁻¹ ∇_b f, M_b ⪰ ∇²_bb f fixed", _matrix, minv=True),
    Update("newton", "block Newton with Armijo backtracking (forest blocks: message passing)", _newton,
           line_search=True, forest=True),
    Update("newton-cg", "block Newton, the system solved by preconditioned CG on Hessian-vector products",
           _newton_cg, line_search=True),
)}


def take_step(model: LinearModel, blk: Block, Xb: np.ndarray, Z: np.ndarray, f: float, gb: np.ndarray,
              d: np.ndarray, line_search: bool) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, float]:
    """The step D on the block (|b| x k) along ``d`` from X_b: the full step for the bound-based
    updates, Armijo backtracking (paper eq. (17)) for Newton-type ones (an ascent or non-finite
    direction falls back to the gradient step). Returns (D, Z + A_b D, loss there, d loss / dZ
    there, objective change measured as loss + the l2 term's change)."""
    k, l2 = model.k, model.l2
    Ab = blk.cols
    if not line_search:
        D = d.reshape(-1, k)
        Znew = Z + Ab @ D
        lnew, Rnew = model.loss_and_dZ(Znew)
        return D, Znew, lnew, Rnew, lnew + 0.5 * l2 * float(np.sum((Xb + D) ** 2) - np.sum(Xb ** 2))
    if not np.all(np.isfinite(d)) or gb @ d >= 0:
        d = -gb / blk.lip
    Ad = Ab @ d.reshape(-1, k)
    gd = float(gb @ d)
    t = 1.0
    while True:  # Armijo backtracking (paper eq. (17))
        D = t * d.reshape(-1, k)
        Znew = Z + t * Ad
        dreg = float(np.sum((Xb + D) ** 2) - np.sum(Xb ** 2))
        lnew, Rnew = model.loss_and_dZ(Znew)
        fnew = lnew + 0.5 * l2 * dreg
        if fnew <= f + 1e-4 * t * gd or t < 1e-10:
            break
        if t == 1.0 and -gd <= 1e-11 * max(1.0, abs(f)):
            # the predicted decrease is below the round-off of f: the objective cannot judge the
            # step, so accept the full step iff it shrinks the block gradient
            gnew = (Ab.T @ Rnew + l2 * (Xb + D)).ravel()
            if float(gnew @ gnew) < float(gb @ gb):
                fnew = min(fnew, f)
                break
        t *= 0.5
    return D, Znew, lnew, Rnew, fnew
