"""BCD over forest blocks with message-passing block solves (Nutini, Laradji & Schmidt §5):
the tree solver against dense solves, the partition against networkx, bcd against spsolve."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from problems import LabelPropagation, LeastSquares, LogisticRegression, SoftmaxRegression
from solvers import Status, solve
from solvers.bcd.partitions import column_forests, forest_partition
from solvers.bcd.trees import solve_tree_system


def _random_forest(n: int, n_trees: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(order, parent) of a random forest on nodes 0..n-1, labels shuffled."""
    lab = rng.permutation(n)
    roots = set(rng.choice(n, size=n_trees, replace=False).tolist()) | {0}
    parent = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        if i not in roots:
            parent[lab[i]] = lab[rng.integers(i)]  # an earlier node: order = lab is a valid BFS-like order
    return lab.astype(np.int64), parent


@pytest.mark.parametrize("n, n_trees", [(1, 1), (2, 1), (10, 1), (57, 1), (200, 1), (60, 7), (300, 30)])
@pytest.mark.parametrize("k", [1, 3])
def test_tree_solve_matches_dense(n: int, n_trees: int, k: int) -> None:
    rng = np.random.default_rng(n * 31 + n_trees + k)
    order, parent = _random_forest(n, n_trees, rng)
    off = np.where(parent >= 0, rng.standard_normal(n), 0.0)
    H = np.zeros((n, n))
    ch = np.flatnonzero(parent >= 0)
    H[ch, parent[ch]] = off[ch]
    H[parent[ch], ch] = off[ch]
    # SPD but not diagonally dominant everywhere: diag = row |off| sum * U(0.6, 2) + small shift
    diag = np.abs(H).sum(axis=1) * rng.uniform(0.6, 2.0, n) + 0.05
    H[np.arange(n), np.arange(n)] = diag
    if np.linalg.eigvalsh(H).min() <= 1e-8:
        H[np.arange(n), np.arange(n)] = diag = diag + 1.0
    rhs = rng.standard_normal((n, k)) if k > 1 else rng.standard_normal(n)
    x = solve_tree_system(order, parent, diag, off, rhs)
    assert x.shape == rhs.shape
    assert np.allclose(x, np.linalg.solve(H, rhs), rtol=1e-10, atol=1e-10)


def test_tree_solve_bad_inputs() -> None:
    with pytest.raises(ValueError, match="precede"):
        solve_tree_system([0, 1], [1, -1], [2.0, 2.0], [-1.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="permutation"):
        solve_tree_system([0, 0], [-1, 0], [2.0, 2.0], [0.0, -1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="singular"):
        solve_tree_system([0, 1], [-1, 0], [1.0, 1.0], [0.0, -1.0], [1.0, 1.0])


def _check_partition(W: sp.spmatrix, blocks: list[np.ndarray]) -> None:
    n = W.shape[0]
    allnodes = np.concatenate(blocks)
    assert allnodes.size == n and np.array_equal(np.sort(allnodes), np.arange(n))
    G = nx.from_scipy_sparse_array(sp.csr_matrix(W))
    for b in blocks:
        assert nx.is_forest(G.subgraph(b.tolist()))


def _knn_problem(n: int = 300, seed: int = 0) -> LabelPropagation:
    rng = np.random.default_rng(seed)
    pts = rng.standard_normal((n, 2))
    labels = -np.ones(n, dtype=np.int64)
    labels[rng.choice(n, size=6, replace=False)] = np.arange(6) % 3
    return LabelPropagation.from_points(pts, labels, k=8)


def test_forest_partition_lattice_and_knn() -> None:
    lat = LabelPropagation.lattice(30, n_labelled=5)
    unl = lat.unlabelled
    W = sp.csr_matrix(lat.W)[unl][:, unl]
    blocks = forest_partition(W)
    _check_partition(W, blocks)
    assert len(blocks) <= 3  # the paper's ~2 forests on a lattice
    knn = _knn_problem()
    Wk = sp.csr_matrix(knn.W)[knn.unlabelled][:, knn.unlabelled]
    _check_partition(Wk, forest_partition(Wk))
    rng = np.random.default_rng(1)
    for _ in range(3):  # dense random graphs, random visiting orders
        A = sp.random(80, 80, density=0.15, random_state=rng)
        A = (A + A.T).tocsr()
        A.setdiag(0)
        A.eliminate_zeros()
        _check_partition(A, forest_partition(A, order=rng.permutation(80)))
    with pytest.raises(ValueError, match="permutation"):
        forest_partition(A, order=np.zeros(80, dtype=np.int64))


def _direct(pb: LabelPropagation) -> np.ndarray:
    L = pb.laplacian()
    unl, lab = pb.unlabelled, np.flatnonzero(pb.labels >= 0)
    Y = pb.clamped()
    L_uu = sp.csc_matrix(L[unl][:, unl]) + pb.reg * sp.identity(unl.size, format="csc")
    X = Y.copy()
    X[unl] = np.asarray(spsolve(L_uu, -(L[unl][:, lab] @ Y[lab]))).reshape(unl.size, -1)
    return X


@pytest.mark.parametrize("rule", ["cyclic", "random", "gs"])
@pytest.mark.parametrize("case", ["lattice", "knn", "knn-reg"])
def test_forest_bcd_matches_spsolve(case: str, rule: str) -> None:
    if case == "lattice":
        pb = LabelPropagation.lattice(20, n_labelled=6, n_classes=2, seed=0)
    else:
        pb = _knn_problem()
        if case == "knn-reg":
            pb = LabelPropagation(pb.W, pb.labels, reg=0.1)
    res = solve(pb, "bcd", rule=rule, seed=0, tol=1e-10, partition="forest", max_iter=2_000_000)
    assert res.status is Status.CONVERGED
    assert res.stats["partition"] == "forest"
    X = _direct(pb)
    assert np.max(np.abs(res.solution - X)) < 1e-6
    assert abs(res.objective - pb.objective(X)) <= 1e-9 * max(1.0, abs(pb.objective(X)))
    # the history's objective (kept from the residual-updated gradient) is the true objective
    assert abs(res.history[-1][1] - res.objective) <= 1e-8 * max(1.0, abs(res.objective))
    again = solve(pb, "bcd", rule=rule, seed=0, tol=1e-10, partition="forest", max_iter=2_000_000)
    assert np.array_equal(again.solution, res.solution)


def test_forest_is_default_and_faster_than_red_black_in_sweeps() -> None:
    pb = LabelPropagation.lattice(30, n_labelled=6, n_classes=2, seed=0)
    fo = solve(pb, "bcd", tol=1e-8)
    rb = solve(pb, "bcd", tol=1e-8, partition="red-black")
    assert fo.stats["partition"] == "forest"
    assert fo.status is Status.CONVERGED and rb.status is Status.CONVERGED
    assert fo.stats["n_blocks"] == 2
    # exact tree blocks do more per visit than diagonal (colour class) blocks
    assert fo.iterations < rb.iterations
    with pytest.raises(ValueError, match="partition"):
        solve(pb, "bcd", partition="fixed")


def test_forest_bcd_limits() -> None:
    pb = LabelPropagation.lattice(20, n_labelled=4, seed=0)
    res = solve(pb, "bcd", tol=1e-12, max_iter=5)
    assert res.status is Status.ITERATION_LIMIT and res.iterations == 5
    assert len(res.history) == 3  # one record per sweep (2 blocks): 2 + 2 + 1 visits
    objs = [h[1] for h in res.history]
    assert all(b <= a + 1e-12 for a, b in zip(objs, objs[1:]))  # exact block minimization descends


def _sparse_design(n: int = 300, p: int = 400, seed: int = 0) -> tuple[sp.csc_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    A = sp.random(n, p, density=0.006, random_state=seed, format="csc")
    A.data = rng.standard_normal(A.data.size)
    return A, rng.standard_normal(n)


def test_sparse_forest_blocks_are_forests_and_exact() -> None:
    """Column forest blocks of a sparse design (paper §5 'sparse designs'): every block's Gram graph
    is a forest, the blocks cover the columns once, and one message-passing Newton visit minimizes
    least squares exactly over its block (the block gradient becomes 0)."""
    A, b = _sparse_design()
    blocks, parents = column_forests(A)
    pat = sp.csc_matrix(A, copy=True)
    pat.data[:] = 1.0
    C = sp.csr_matrix(pat.T @ pat)
    C.setdiag(0)
    C.eliminate_zeros()
    _check_partition(C, blocks)
    assert len(blocks) < A.shape[1] // 10
    for blk, par in zip(blocks, parents):
        assert np.all(par < np.arange(blk.size))  # parents precede children (BFS order)
    pb = LeastSquares(A, b, l2=0.1)
    res = solve(pb, "bcd", partition="forest", rule="cyclic", max_iter=1)
    g = A.T @ (A @ res.solution - b) + 0.1 * res.solution
    assert np.max(np.abs(g[blocks[0]])) < 1e-10 * max(1.0, np.max(np.abs(A.T @ b)))
    assert np.max(np.abs(g)) > 1e-3  # ... while the other blocks are not optimal yet


@pytest.mark.parametrize("rule", ["gs", "cyclic", "random"])
def test_sparse_forest_bcd_matches_references(rule: str) -> None:
    sk = pytest.importorskip("sklearn.linear_model")
    A, b = _sparse_design(seed=1)
    ls = LeastSquares(A, b, l2=1.0)
    res = solve(ls, "bcd", partition="forest", rule=rule, seed=4, tol=1e-10)
    assert res.status is Status.CONVERGED and res.stats["partition"] == "forest"
    x = spsolve(sp.csc_matrix(A.T @ A + sp.identity(A.shape[1])), A.T @ b)
    assert np.max(np.abs(res.solution - x)) < 1e-6
    objs = [h[1] for h in res.history]
    assert all(y <= v + 1e-12 * max(1.0, abs(v)) for v, y in zip(objs, objs[1:]))
    again = solve(ls, "bcd", partition="forest", rule=rule, seed=4, tol=1e-10)
    assert np.array_equal(again.solution, res.solution)
    lg = LogisticRegression(A, np.where(b > 0, 1.0, -1.0), l2=1.0)
    res = solve(lg, "bcd", partition="forest", rule=rule, seed=4, tol=1e-10)
    ref = sk.LogisticRegression(C=1.0, fit_intercept=False, tol=1e-12, max_iter=10_000).fit(
        A, np.where(b > 0, 1.0, -1.0)).coef_.ravel()
    assert res.status is Status.CONVERGED
    assert np.max(np.abs(res.solution - ref)) < 1e-6


def test_sparse_forest_bad_options() -> None:
    A, b = _sparse_design(n=40, p=30)
    with pytest.raises(ValueError, match="forest"):
        solve(LeastSquares(A, b), "bcd", partition="forest", update="gradient")
    with pytest.raises(ValueError, match="forest"):
        solve(LeastSquares(A, b), "bcd", partition="forest", rule="gsq")
    with pytest.raises(ValueError, match="forest"):
        solve(SoftmaxRegression(A, np.arange(40) % 3), "bcd", partition="forest")


def test_large_default_is_one_hessian_free_block() -> None:
    """Problems too large for the explicit one-block Newton step (p > 640): one block, Hessian-free
    Newton with a Jacobi preconditioner (measured fastest); forest blocks stay selectable and agree."""
    A, b = _sparse_design(n=300, p=700, seed=2)
    pb = LeastSquares(A, b, l2=1.0)
    res = solve(pb, "bcd", tol=1e-10)
    assert res.status is Status.CONVERGED
    assert res.stats["n_blocks"] == 1 and res.stats["update"] == "newton-cg"
    x = spsolve(sp.csc_matrix(A.T @ A + sp.identity(A.shape[1])), A.T @ b)
    assert np.max(np.abs(res.solution - x)) < 1e-6
    fo = solve(pb, "bcd", tol=1e-10, partition="forest")
    assert fo.stats["partition"] == "forest" and np.max(np.abs(fo.solution - x)) < 1e-6
    y = np.where(b > 0, 1.0, -1.0)
    lg = solve(LogisticRegression(A, y, l2=1.0), "bcd", tol=1e-10)
    ref = solve(LogisticRegression(A.toarray(), y, l2=1.0), "lbfgs", tol=1e-13)
    assert lg.status is Status.CONVERGED and lg.stats["n_blocks"] == 1
    assert np.max(np.abs(lg.solution - ref.solution)) < 1e-6
    dense = solve(LeastSquares(A.toarray(), b, l2=1.0), "bcd", tol=1e-10)  # dense, p > 640: the same path
    assert dense.stats["n_blocks"] == 1 and dense.stats["update"] == "newton-cg"
    assert np.max(np.abs(dense.solution - x)) < 1e-6
    assert solve(pb, "bcd", tol=1e-3, partition="fixed").stats["n_blocks"] > 1  # blocks of 16 on request
