"""Block coordinate descent for the smooth learning problems, and the ``bcd`` dispatcher.

Nutini, Laradji & Schmidt, "Let's Make Block Coordinate Descent Converge Faster" (2022):
- partition (§3): fixed blocks of ``block_size`` consecutive features;
- selection (§2-3): cyclic, random, Lipschitz sampling P(b) ∝ L_b, Gauss-Southwell
  max ||∇_b f||, GS-Lipschitz max ||∇_b f||² / L_b, GS-Quadratic max ∇_b fᵀ M_b⁻¹ ∇_b f with the
  fixed upper bound M_b ⪰ ∇²_bb f (eq. (10));
- update (§4): gradient step x_b -= ∇_b f / L_b (eq. (5)), matrix step with the fixed bound M_b
  (eq. (10)), or Newton x_b -= t H_b⁻¹ ∇_b f with the current block Hessian and Armijo
  backtracking on t (eq. (17)); ``newton-cg`` is the same Newton step with H_b⁻¹ ∇_b f solved
  inexactly by preconditioned CG on Hessian-vector products (O(n |b| k) each, the block Hessian is
  never formed), preconditioned by the Kronecker factorization S̄ ⊗ A_bᵀA_b + l2 I (S̄ the mean
  per-sample curvature of the loss in Z; exact at X = 0 for softmax and for least squares);
- the linear predictor Z = A X is kept current by residual updates (one block update costs
  O(n |b| k)); the full gradient is only formed by greedy rules and the stopping test;
- label propagation (§5): by default (``partition="forest"``) BCD over forest blocks solved
  exactly by message passing (:mod:`solvers.bcd.forest`); ``partition="red-black"``: block
  Gauss-Seidel over the colour classes of a greedy colouring of the unlabelled graph (red-black
  on a lattice): each class is an independent set, so its block Hessian is diagonal and the
  exact block Newton step is a closed-form weighted average;
- sparse designs (§5): ``partition="forest"`` (least squares, logistic) splits the columns into
  greedy forest blocks of the column graph of AᵀA (columns j ~ l when they share a row), so each
  block Hessian A_bᵀ D A_b is tree-structured and its Newton system is solved in O(|b|) by
  message passing (:func:`solvers.bcd.forest.tree_solve`).
L1 problems go to the working-set prox-CD of :mod:`solvers.bcd.greedy_cd`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, softmax

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

RULES = ("cyclic", "random", "lipschitz", "gs", "gsl", "gsd", "gsq")
UPDATES = ("gradient", "matrix", "newton", "newton-cg")
PARTITIONS = ("fixed", "sorted", "random", "variable", "forest")
LP_PARTITION = "forest"  # label propagation default: forest blocks (solvers/bcd/forest.py)
JACOBI_MIN = 640  # newton-cg blocks with more variables (|b| k) than this use the Jacobi preconditioner


def solve_bcd(problem: Any, ctx: SolveContext, tol: float | None = None, max_iter: int | None = None,
              rule: str | None = None, update: str | None = None, block_size: int | None = None,
              max_epochs: int = 10_000, ws_start: int = 50, partition: str | None = None,
              newton_gram_max: int = 2000, ws_grow: float | None = None) -> Result:
    """Dispatch on the problem type; ``None`` options take each family's default."""
    if isinstance(problem, (Lasso, L1LogisticRegression)):
        from .greedy_cd import solve_l1_cd

        if update not in (None, "gradient"):
            raise ValueError("L1 problems use the proximal gradient update; update must be 'gradient'")
        return solve_l1_cd(problem, ctx, tol=1e-8 if tol is None else tol,
                           max_iter=1000 if max_iter is None else max_iter, max_epochs=max_epochs,
                           ws_start=ws_start, rule=rule or "gs", newton_gram_max=newton_gram_max,
                           ws_grow=ws_grow)
    if isinstance(problem, LabelPropagation):
        if partition not in (None, "forest", "red-black"):
            raise ValueError("partition must be 'forest' or 'red-black' for label propagation, "
                             f"got {partition!r}")
        if (partition or LP_PARTITION) == "forest":
            from .forest import solve_forest_bcd

            return solve_forest_bcd(problem, ctx, tol=1e-8 if tol is None else tol,
                                    max_iter=1_000_000 if max_iter is None else max_iter,
                                    rule=rule or "cyclic")
        return solve_label_propagation(problem, ctx, tol=1e-8 if tol is None else tol,
                                       max_iter=100_000 if max_iter is None else max_iter,
                                       rule=rule or "cyclic")
    if isinstance(problem, (LeastSquares, LogisticRegression, SoftmaxRegression)):
        if partition is None and block_size is None and update is None and _large_one_block(problem):
            block_size, update = problem.A.shape[1], "newton-cg"
        return solve_smooth_bcd(problem, ctx, tol=1e-6 if tol is None else tol,
                                max_iter=200_000 if max_iter is None else max_iter,
                                rule=rule or ("gs" if partition == "forest" else "gsq"),
                                update=update or ("newton" if partition == "forest"
                                                  else _default_update(problem, block_size)),
                                block_size=_default_block(problem) if block_size is None else block_size,
                                partition=partition or "fixed")
    raise ValueError(f"bcd does not handle {type(problem).__name__}")


def _default_block(problem: Any) -> int:
    """Default block size (measured, benchmarks/bcd.py on load_digits): while the Newton system
    of all p k variables is small (<= 640), one variable block of every coordinate (the τ = p end
    of the paper's variable blocks: a damped Newton method, 5-6 iterations on digits, 50-300x
    faster than 16-coordinate blocks); otherwise blocks of 16 coordinates — used when a partition
    or an update is given; with neither, larger problems also take one block with the Hessian-free
    Newton step (:func:`_large_one_block`)."""
    p = problem.A.shape[1]
    k = problem.n_classes if isinstance(problem, SoftmaxRegression) else 1
    return p if p * k <= 640 else 16


def _large_one_block(problem: Any) -> bool:
    """Default for problems too large for the explicit one-block Newton step (p k > 640; measured,
    benchmarks/bcd.py 'sparse' cases and the paper's dense designs at 1000x2000): still one block of
    every coordinate, with the Hessian-free Newton step and a Jacobi preconditioner. Sparse ridge /
    logistic 1000x2000: 0.012 s / 0.008 s, against 0.20 s / 0.07 s for forest blocks with message
    passing and 6.0 s / 1.0 s for fixed blocks of 16 (GSQ / Newton, the former default); dense
    logistic 1000x2000: 0.26-0.46 s against 15-38 s for fixed blocks of 16."""
    return _default_block(problem) != problem.A.shape[1]


def _default_update(problem: Any, block_size: int | None) -> str:
    """Default update (measured side by side, benchmarks/bcd.py on load_digits, time to relative
    suboptimality 1e-6): with the default one-block partition, logistic and softmax take the
    Hessian-free Newton step ``newton-cg`` (softmax: 0.085-0.11 s against 1.15 s for the explicit
    640 x 640 block Hessian, whose k(k+1)/2 weighted Grams dominate, and 0.22 s for scikit-learn's
    newton-cg; logistic: 1.2-1.6x faster than the explicit 64 x 64 Newton step at tol 1e-1 / 1e-2,
    equal at tight tol); least squares keeps the explicit Newton step (one exact solve); smaller
    blocks keep ``newton``."""
    one_block = block_size is None and _default_block(problem) == problem.A.shape[1]
    return "newton-cg" if one_block and not isinstance(problem, LeastSquares) else "newton"


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

    def loss_and_dZ(self, Z: np.ndarray) -> tuple[float, np.ndarray]:
        """(loss, d loss / dZ) in one pass (softmax: one exponential of Z, numerically shifted)."""
        if self.kind == "ls":
            R = Z - self.b
            return 0.5 * float(np.sum(R * R)), R
        if self.kind == "logistic":
            yz = self.y * Z
            return float(np.logaddexp(0.0, -yz).sum()), -self.y * expit(-yz)
        mx = Z.max(axis=1, keepdims=True)
        E = np.exp(Z - mx)
        s = E.sum(axis=1, keepdims=True)
        val = float(np.sum(np.log(s) + mx) - np.sum(Z * self.onehot))
        E /= s
        E -= self.onehot
        return val, E

    def curvature(self, R: np.ndarray) -> np.ndarray | None:
        """Per-sample curvature of the loss in Z from R = d loss / dZ: None (least squares: the
        identity), the weights s(1 - s) (logistic, n x 1) or the probabilities P (softmax; the
        per-sample Hessian is diag(P_i) - P_i P_iᵀ)."""
        if self.kind == "ls":
            return None
        if self.kind == "logistic":
            s = -self.y * R  # = expit(-y z)
            return s * (1.0 - s)
        return R + self.onehot

    def hvp_Z(self, curv: np.ndarray | None, U: np.ndarray) -> np.ndarray:
        """∇²_Z loss · U for a direction U = A_b D in predictor space (n x k)."""
        if self.kind == "ls":
            return U
        if self.kind == "logistic":
            return curv * U
        PU = curv * U
        return PU - curv * PU.sum(axis=1, keepdims=True)

    def mean_curvature(self, curv: np.ndarray | None, n: int) -> np.ndarray:
        """S̄ = (1/n) Σ_i ∇²_{z_i} loss (k x k): the class factor of the Kronecker preconditioner."""
        if self.kind == "ls":
            return np.ones((1, 1))
        if self.kind == "logistic":
            return np.full((1, 1), float(curv.mean()))
        return (np.diag(curv.sum(axis=0)) - curv.T @ curv) / max(n, 1)

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
            # H[(j,c),(l,d)] = sum_i a_ij a_il (P_ic δ_cd - P_ic P_id): one weighted Gram (BLAS)
            # per class pair c <= d, k(k+1)/2 in all
            H4 = np.empty((m, k, m, k))
            for c in range(k):
                for d in range(c, k):
                    w = P[:, c] * ((1.0 if c == d else 0.0) - P[:, d])
                    blk = Ab.T @ (Ab * w[:, None])
                    H4[:, c, :, d] = blk
                    H4[:, d, :, c] = blk
            H = H4.reshape(m * k, m * k)
        return H + self.l2 * np.eye(H.shape[0])


def _dense_cols(A: Any, cols: np.ndarray) -> np.ndarray:
    sub = A[:, cols]
    return sub.toarray() if sp.issparse(sub) else np.asarray(sub)


def _fixed_blocks(order: np.ndarray, block_size: int) -> list[np.ndarray]:
    """Consecutive chunks of ``order`` of at most ``block_size`` coordinates."""
    return [np.asarray(b, dtype=np.int64) for b in np.array_split(order, -(-order.size // block_size))]


def _top(score: np.ndarray, tau: int) -> np.ndarray:
    """Indices of the ``tau`` largest scores, sorted."""
    if tau >= score.size:
        return np.arange(score.size, dtype=np.int64)
    return np.sort(np.argpartition(-score, tau - 1)[:tau]).astype(np.int64)


def _spectral_bound(A: Any, c: float, l2: float, seed: int = 0, iters: int = 30) -> float:
    """Upper estimate of λ_max(c AᵀA + l2 I) by power iteration (1 % safety margin)."""
    v = np.random.default_rng(seed).standard_normal(A.shape[1])
    lam = 0.0
    for _ in range(iters):
        w = np.asarray(A.T @ (A @ v)).ravel()
        lam = float(np.linalg.norm(w))
        if lam == 0.0:
            break
        v = w / lam
    return 1.01 * c * lam + l2


def _iht_block(g2: np.ndarray, G: np.ndarray, A: Any, coord_l: np.ndarray, c: float, l2: float,
               tau: int, lip: float, steps: int = 5) -> np.ndarray:
    """GSQ for variable blocks (paper §3.3): approximately maximize the quadratic-bound decrease
    -min_{|supp d| <= tau} gᵀd + 1/2 dᵀM d (M = c AᵀA + l2 I) by a few steps of iterative hard
    thresholding started from the GSL block; returns the support of the final d."""
    blk = _top(g2 / coord_l, tau)
    D = np.zeros_like(G)
    D[blk] = -G[blk] / coord_l[blk][:, None]
    for _ in range(steps):
        MD = c * np.asarray(A.T @ (A @ D)) + l2 * D
        U = D - (G + MD) / lip
        new = _top(np.sum(U * U, axis=1), tau)
        D = np.zeros_like(G)
        D[new] = U[new]
        if np.array_equal(new, blk):
            break
        blk = new
    return blk


def _column_forests(A: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Greedy forest blocks of the column graph of AᵀA (paper §5, greedy tree blocks): columns j, l
    are adjacent when they share a nonzero row. Returns the blocks (column ids in BFS order) and,
    per block, each column's parent as a position in its block (-1 for roots)."""
    from .forest import _tree_structure, forest_partition

    pat = sp.csc_matrix(A, copy=True) if sp.issparse(A) else sp.csc_matrix(np.asarray(A))
    pat.data = np.ones_like(pat.data)
    C = sp.csr_matrix(pat.T @ pat)
    C.setdiag(0)
    C.eliminate_zeros()
    blocks, parents = [], []
    for b in forest_partition(C):
        nodes, parent, _ = _tree_structure(C, b)
        pos = np.empty(A.shape[1], dtype=np.int64)
        pos[nodes] = np.arange(nodes.size)
        blocks.append(nodes.astype(np.int64))
        parents.append(np.where(parent >= 0, pos[np.maximum(parent, 0)], -1).astype(np.int64))
    return blocks, parents


def _forest_tree(Ab: Any, parent: np.ndarray) -> tuple[np.ndarray, Any, Any]:
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


def _forest_newton(model: _Model, tree: tuple[np.ndarray, Any, Any], R: np.ndarray, gb: np.ndarray,
                   l2: float, lb: float) -> np.ndarray:
    """Block Newton direction -H_bb⁻¹ ∇_b f for a forest block (paper §5): H_bb = A_bᵀ D A_b + l2 I
    has nonzeros only on the tree edges, so only its diagonal and (column, parent) entries are
    formed (O(nnz(A_b)), :func:`_forest_tree`) and the system is solved by message passing in
    O(|b|); falls back to the gradient step -∇_b f / L_b if a pivot is not positive."""
    from .forest import tree_solve

    parent, Qd, Qo = tree
    curv = model.curvature(R)
    w = np.ones(R.shape[0]) if curv is None else curv[:, 0]
    diag = np.asarray(Qd @ w).ravel() + l2
    off = np.asarray(Qo @ w).ravel()
    r = np.ascontiguousarray(-gb.reshape(gb.size, 1))
    return r.ravel() if tree_solve(parent, diag, off, r) else -gb / lb


def _newton_cg_direction(model: _Model, cg_data: tuple, curv: np.ndarray | None, gb: np.ndarray, l2: float,
                         max_cg: int) -> tuple[np.ndarray, int]:
    """Inexact block Newton direction d ≈ -H_bb⁻¹ ∇_b f (paper eq. (17)) by preconditioned CG on
    Hessian-vector products H_bb D = A_bᵀ ∇²_Z loss (A_b D) + l2 D (cost O(n |b| k), in single
    precision: they only shape the direction; the gradient and the Armijo test stay float64).

    Preconditioner: the Kronecker factorization H_bb ≈ A_bᵀA_b ⊗ S̄ + l2 I with S̄ the mean
    per-sample curvature (:meth:`_Model.mean_curvature`); with A_bᵀA_b = V diag(lam) Vᵀ and
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


def solve_smooth_bcd(problem: Any, ctx: SolveContext, tol: float = 1e-6, max_iter: int = 200_000,
                     rule: str = "gsq", update: str = "newton", block_size: int = 16,
                     partition: str = "fixed") -> Result:
    """BCD on fixed or variable blocks (paper §3); stops when ||∇f||_inf <= tol (checked each
    iteration for greedy rules, each sweep otherwise).

    ``partition``: "fixed" (index order), "sorted" (coordinates sorted by L_i, then chunked),
    "random" (a seeded random partition), "variable" (a new block of ``block_size`` coordinates
    each iteration: the top scores for greedy rules, a sample for random / Lipschitz) or "forest"
    (greedy forest blocks of the column graph of AᵀA, Newton steps by message passing, paper §5;
    least squares / logistic with the newton update and a non-GSQ rule; ``block_size`` unused).
    ``update``: "gradient" (x_b -= ∇_b f / L_b, eq. (5)), "matrix" (x_b -= M_b⁻¹ ∇_b f with the
    fixed bound M_b ⪰ ∇²_bb f, eq. (10)), "newton" (current block Hessian + Armijo, eq. (17)),
    "newton-cg" (the same Newton step with the block system solved by preconditioned CG on
    Hessian-vector products, :func:`_newton_cg_direction`; the block Hessian is never formed).
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if update not in UPDATES:
        raise ValueError(f"update must be one of {UPDATES}, got {update!r}")
    if partition not in PARTITIONS:
        raise ValueError(f"partition must be one of {PARTITIONS}, got {partition!r}")
    if not (isinstance(block_size, (int, np.integer)) and block_size >= 1):
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol!r}")
    forest = partition == "forest"
    if forest and (isinstance(problem, SoftmaxRegression) or update != "newton" or rule in ("gsq", "gsd")):
        raise ValueError("partition='forest' needs least squares or logistic regression, update='newton' "
                         "(solved by message passing) and rule cyclic/random/lipschitz/gs/gsl")
    model = _Model(problem)
    A = problem.A
    if forest and sp.issparse(A):
        A = sp.csc_matrix(A)  # column slices of the blocks
    n, p = A.shape
    k = model.k
    c, l2 = model.c, model.l2
    sq_cols = np.asarray(A.multiply(A).sum(axis=0)).ravel() if sp.issparse(A) else np.einsum("ij,ij->j", A, A)
    coord_l = np.maximum(c * sq_cols + l2, 1e-300)  # coordinate Lipschitz constants L_i
    variable = partition == "variable"
    tau = min(int(block_size), p)
    hv_dtype = np.float32  # newton-cg Hessian-vector products: they only shape the direction

    def block_setup(b: np.ndarray) -> tuple[np.ndarray, float, np.ndarray | None, np.ndarray, tuple | None]:
        """Columns, L_b = λ_max(M_b), M_b⁻¹ (when needed), the diagonal bound of block b and, for
        ``newton-cg``, (float32 columns, eigenvalues, eigenvectors of A_bᵀA_b)."""
        if forest:  # tree-structured Gram: Gershgorin bounds, columns kept sparse
            Ab = A[:, b]
            g = Ab.T @ Ab
            rows = np.asarray(abs(g).sum(axis=1)).ravel()
            lb = max(c * (float(rows.max()) if rows.size else 0.0) + l2, 1e-300)
            return Ab, lb, None, np.maximum(c * rows + l2, 1e-300), None
        if update == "newton-cg" and (sp.issparse(A) or b.size * k > JACOBI_MIN):
            # sparse or large block: Jacobi preconditioner (no Gram, no eigendecomposition)
            if sp.issparse(A):
                Ab = sp.csc_matrix(A[:, b])
                a32 = sp.csr_matrix(Ab, dtype=hv_dtype)
                a32t = sp.csr_matrix(a32.T)
                sq = Ab.multiply(Ab)
                sqt = sp.csr_matrix(sq.T)
            else:
                Ab = _dense_cols(A, b)
                a32 = np.ascontiguousarray(Ab, dtype=hv_dtype)
                a32t = a32.T
                sq = Ab * Ab
                sqt = np.ascontiguousarray(sq.T)
            colsq = np.asarray(sq.sum(axis=0)).ravel()
            lb = max(c * float(colsq.sum()) + l2, 1e-300)  # c ||A_b||_F² + l2 >= λ_max(M_b)
            dg = c * np.asarray(abs(Ab.T @ Ab).sum(axis=1)).ravel() + l2 if rule == "gsd" else c * colsq + l2
            return Ab, lb, None, np.maximum(dg, 1e-300), (a32, a32t, None, None, sqt)
        Ab = _dense_cols(A, b)
        g = Ab.T @ Ab
        cg_data = None
        if update == "newton-cg":
            lam, V = np.linalg.eigh(g)
            lam = np.maximum(lam, 0.0)
            a32 = np.ascontiguousarray(Ab, dtype=hv_dtype)
            cg_data = (a32, a32.T, lam, V, None)
            lb = max(c * (lam[-1] if lam.size else 0.0) + l2, 1e-300)
        else:
            lb = max(c * (np.linalg.eigvalsh(g)[-1] if g.size else 0.0) + l2, 1e-300)
        minv = None
        if update == "matrix" or (rule == "gsq" and not variable and -(-p // int(block_size)) > 1):
            M = np.kron(c * g, np.eye(k)) + (l2 + 1e-12 * (1 + np.trace(g))) * np.eye(g.shape[0] * k)
            minv = np.linalg.inv(M)
        # GSD: M_b ⪯ diag(row sums of |M_b|) (diagonal dominance bound)
        dg = c * np.abs(g).sum(axis=1) + l2
        return Ab, lb, minv, np.maximum(dg, 1e-300), cg_data

    trees: list[tuple] = []
    if not variable:
        if partition == "fixed":
            order = np.arange(p)
        elif partition == "sorted":
            order = np.argsort(-coord_l, kind="stable")
        else:
            order = ctx.rng.permutation(p)
        if forest:
            blocks, tree_parents = _column_forests(A)
        else:
            blocks = _fixed_blocks(order, int(block_size))
        nb = len(blocks)
        setup = []
        for b in blocks:
            if ctx.should_stop():  # the setup alone can outlast a short time limit
                zero = np.zeros((p, k)) if isinstance(problem, SoftmaxRegression) else np.zeros(p)
                return ctx.result(solution=zero, objective=problem.objective(zero),
                                  status=ctx.stop_status(Status.ITERATION_LIMIT), iterations=0,
                                  message="stopped during the block setup")
            setup.append(block_setup(b))
            if forest:
                trees.append(_forest_tree(setup[-1][0], tree_parents[len(trees)]))
        lips = np.array([s[1] for s in setup])
        # padded (nb, bs) index table for vectorized greedy scores (pad = dummy zero row p)
        width = max(b.size for b in blocks)
        pad = np.full((nb, width), p, dtype=np.int64)
        for i, b in enumerate(blocks):
            pad[i, :b.size] = b
        dpad = np.ones((nb, width))
        for i, s in enumerate(setup):
            dpad[i, :s[3].size] = s[3]
        if rule == "gsq" and nb > 1:
            mk = width * k
            mpad = np.zeros((nb, mk, mk))
            for i, s in enumerate(setup):
                m = s[2].shape[0]
                mpad[i, :m, :m] = s[2]
        probs = lips / lips.sum() if rule == "lipschitz" else None
    else:
        nb = -(-p // tau)
        probs = coord_l / coord_l.sum() if rule == "lipschitz" else None
        lip_glob = _spectral_bound(A, c, l2, seed=0) if rule == "gsq" else 0.0
    X = np.zeros((p, k))
    Z = np.zeros((n, k))
    f, R = model.loss_and_dZ(Z)  # loss (without the l2 term) and d loss / dZ, kept current
    greedy = rule in ("gs", "gsl", "gsd", "gsq")
    status = Status.ITERATION_LIMIT
    it = 0
    gnorm = np.inf
    order_pos = 0
    n_hv = 0
    max_cg = 10 * tau * k  # most Hessian-vector products per newton-cg step
    G = np.zeros((p, k))

    try:
        while it < int(max_iter):
            fresh = greedy or order_pos % nb == 0  # G = ∇f at the current X this iteration
            if fresh:
                G = np.asarray(A.T @ R) + l2 * X
                gnorm = float(np.max(np.abs(G))) if G.size else 0.0
                if gnorm <= tol:
                    status = Status.CONVERGED
                    break
            if ctx.should_stop():
                break
            if variable:
                if rule == "cyclic":
                    start = (order_pos % nb) * tau
                    b = np.arange(start, min(start + tau, p), dtype=np.int64)
                elif rule in ("random", "lipschitz"):
                    b = np.sort(ctx.rng.choice(p, size=tau, replace=False, p=probs)).astype(np.int64)
                else:
                    g2 = np.sum(G * G, axis=1)
                    if rule == "gs":
                        b = _top(g2, tau)
                    elif rule in ("gsl", "gsd"):  # coordinatewise L_i = D_i for single coordinates
                        b = _top(g2 / coord_l, tau)
                    else:
                        b = _iht_block(g2, G, A, coord_l, c, l2, tau, lip_glob)
                Ab, lb, minv, _, cg_data = block_setup(b)
            else:
                if nb == 1:
                    bi = 0
                elif rule == "cyclic":
                    bi = order_pos % nb
                elif rule == "random":
                    bi = int(ctx.rng.integers(nb))
                elif rule == "lipschitz":
                    bi = int(ctx.rng.choice(nb, p=probs))
                else:
                    Gp = np.vstack([G, np.zeros((1, k))])[pad]  # (nb, width, k)
                    if rule == "gs":
                        score = np.sum(Gp * Gp, axis=(1, 2))
                    elif rule == "gsl":
                        score = np.sum(Gp * Gp, axis=(1, 2)) / lips
                    elif rule == "gsd":
                        score = np.sum(np.sum(Gp * Gp, axis=2) / dpad, axis=1)
                    else:
                        Gf = Gp.reshape(nb, -1)
                        score = np.einsum("bi,bij,bj->b", Gf, mpad, Gf)
                    bi = int(np.argmax(score))
                b = blocks[bi]
                Ab, lb, minv, _, cg_data = setup[bi]
            order_pos += 1
            # block gradient: a slice of G when G is current, else by the residual R = dloss/dZ
            gb = (G[b] if fresh else Ab.T @ R + l2 * X[b]).ravel()
            if update in ("gradient", "matrix"):
                d = -gb / lb if update == "gradient" else -(minv @ gb)
                D = d.reshape(-1, k)
                Znew = Z + Ab @ D
                lnew, Rnew = model.loss_and_dZ(Znew)
                fnew = lnew + 0.5 * l2 * float(np.sum((X[b] + D) ** 2) - np.sum(X[b] ** 2))
            else:
                if ctx.should_stop():
                    break
                if forest:
                    d = _forest_newton(model, trees[bi], R, gb, l2, lb)
                elif update == "newton-cg":
                    Dd, used = _newton_cg_direction(model, cg_data, model.curvature(R),
                                                    gb.reshape(-1, k), l2, max_cg)
                    n_hv += used
                    d = Dd.ravel()
                else:
                    H = model.hessian(Ab, Z)
                    try:
                        d = -np.linalg.solve(H, gb)
                    except np.linalg.LinAlgError:
                        d = -np.linalg.lstsq(H, gb, rcond=None)[0]
                if not np.all(np.isfinite(d)) or gb @ d >= 0:
                    d = -gb / lb
                Ad = Ab @ d.reshape(-1, k)
                gd = float(gb @ d)
                t = 1.0
                while True:  # Armijo backtracking (paper eq. (17))
                    D = t * d.reshape(-1, k)
                    Znew = Z + t * Ad
                    dreg = float(np.sum((X[b] + D) ** 2) - np.sum(X[b] ** 2))
                    lnew, Rnew = model.loss_and_dZ(Znew)
                    fnew = lnew + 0.5 * l2 * dreg
                    if fnew <= f + 1e-4 * t * gd or t < 1e-10:
                        break
                    if t == 1.0 and -gd <= 1e-11 * max(1.0, abs(f)):
                        # the predicted decrease is below the round-off of f: the objective cannot
                        # judge the step, so accept the full step iff it shrinks the block gradient
                        gnew = (Ab.T @ Rnew + l2 * (X[b] + D)).ravel()
                        if float(gnew @ gnew) < float(gb @ gb):
                            fnew = min(fnew, f)
                            break
                    t *= 0.5
            if fnew <= f + 1e-12 * max(1.0, abs(f)):
                X[b] += D
                Z = Znew
                f, R = lnew, Rnew
            it += 1
            ctx.record(f + 0.5 * l2 * float(np.sum(X * X)), iteration=it)
    except KeyboardInterrupt:
        ctx.interrupted = True
    if status is not Status.CONVERGED:
        status = ctx.stop_status(status)
    sol = X if isinstance(problem, SoftmaxRegression) else X[:, 0]
    return ctx.result(solution=sol, objective=problem.objective(sol), status=status, iterations=it,
                      stats={"grad_norm": gnorm, "n_blocks": nb, "rule": rule, "update": update,
                             "partition": partition, "hessian_vector_products": n_hv})


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
    from .forest import check_label_propagation_options

    check_label_propagation_options(rule, tol)
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
