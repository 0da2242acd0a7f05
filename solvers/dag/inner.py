"""TOPO's inner problem (Deng et al. 2023, eq. 4): for a fixed topological order each node is
regressed on its predecessors (those the prior knowledge allows), independently of the others.

Least squares works on the Gram matrix S = X^T X / n of the centred data, so a fit costs
O(|pa|^3) whatever the number of samples; the node's share of the NOTEARS score
1/(2n)||x_j - X_pa w||^2 equals (S_jj - 2 w^T S_pa,j + w^T S_pa,pa w) / 2. With
``lambda1 > 0`` the L1 term is handled exactly by cyclic coordinate descent with
soft-thresholding (the lasso on the Gram matrix). Binary data use logistic regression with an
unpenalized intercept, solved by proximal Newton (glmnet's scheme: a weighted-least-squares
model of the log-likelihood, minimized with its L1 term by coordinate descent, then a
backtracking line search on the true objective). Required parents carry no L1 penalty.
``loss="gauss-nv"``: each node's Gaussian BIC fit, backward elimination on the Gram matrix
(:mod:`solvers.dag._bic_kernels`).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from scipy.special import expit

from problems import DAGLearning

_CACHE_SIZE = 200_000


class NodeFitter:
    """Fits one node on a parent set, with a cache keyed by (node, parents)."""

    def __init__(self, problem: DAGLearning, l2: float = 1e-6):
        self.problem = problem
        self.X = problem.X
        self.n = problem.n_samples
        self.S = self.X.T @ self.X / self.n
        self.l2 = float(l2)
        self.lambda1 = problem.lambda1
        self.allowed = problem.allowed
        self.required = problem.required
        self.masked = bool((~problem.allowed).sum() > problem.n_nodes)
        self.cache: OrderedDict[tuple[int, bytes], tuple[float, np.ndarray]] = OrderedDict()

    def fit(self, j: int, parents: np.ndarray) -> tuple[float, np.ndarray]:
        """(loss share of node j, weights on ``parents``) for the best fit of j on those of
        ``parents`` the prior knowledge allows (weight 0 on the others)."""
        parents = np.asarray(parents, dtype=np.int64)
        use = self.allowed[parents, j] if self.masked else np.ones(parents.size, dtype=bool)
        sorted_parents = np.sort(parents[use])
        key = (int(j), sorted_parents.tobytes())
        hit = self.cache.get(key)
        if hit is None:
            if self.problem.loss == "l2":
                hit = self._least_squares(j, sorted_parents)
            elif self.problem.loss == "gauss-nv":
                from ._bic_kernels import bic_fit

                protect = self.required[sorted_parents, j]
                hit = bic_fit(self.S, int(j), sorted_parents, protect, self.l2, self.n)
            else:
                hit = self._logistic(j, sorted_parents)
            self.cache[key] = hit
            if len(self.cache) > _CACHE_SIZE:
                self.cache.popitem(last=False)
        loss, w_sorted = hit
        w = np.zeros(parents.size)
        w[use] = w_sorted[np.searchsorted(sorted_parents, parents[use])]
        return loss, w

    def score_gradient(self, W: np.ndarray) -> np.ndarray:
        """grad Q(W) of the data-fit term: -(S - S W) for l2, the same with column j divided
        by node j's residual variance for gauss-nv, X^T (sigmoid(XW + b) - X) / n for logistic."""
        if self.problem.loss == "l2":
            return self.S @ W - self.S
        if self.problem.loss == "gauss-nv":
            M = self.S - self.S @ W  # S (I - W)
            var = np.einsum("ij,ij->j", np.eye(W.shape[0]) - W, M)  # diag((I-W)^T S (I-W))
            return -M / np.maximum(var, 1e-300)[None, :]
        M = self.X @ W
        if self.problem.intercept:
            from problems.dag import best_intercepts

            M = M + best_intercepts(M, self.X)
        return self.X.T @ (expit(M) - self.X) / self.n

    def _penalty(self, j: int, pa: np.ndarray) -> np.ndarray:
        return np.where(self.required[pa, j], 0.0, self.lambda1)

    # ------------------------------------------------------------------ l2
    def _ls_loss(self, j: int, pa: np.ndarray, w: np.ndarray) -> float:
        S = self.S
        if pa.size == 0:
            return 0.5 * S[j, j]
        return float(0.5 * (S[j, j] - 2.0 * w @ S[pa, j] + w @ S[np.ix_(pa, pa)] @ w))

    def _least_squares(self, j: int, pa: np.ndarray) -> tuple[float, np.ndarray]:
        if pa.size == 0:
            return 0.5 * float(self.S[j, j]), np.zeros(0)
        G = self.S[np.ix_(pa, pa)] + self.l2 * np.eye(pa.size)
        c = self.S[pa, j]
        if self.lambda1 > 0:
            lam = self._penalty(j, pa)
            w = lasso_gram(G, c, lam)
        else:
            lam = np.zeros(pa.size)
            w = np.linalg.solve(G, c)
        # the minimized inner objective: fit + ridge l2/2 |w|^2 + L1
        loss = self._ls_loss(j, pa, w) + 0.5 * self.l2 * float(w @ w) + float(lam @ np.abs(w))
        return loss, w

    # ------------------------------------------------------------------ logistic
    def _logistic(self, j: int, pa: np.ndarray) -> tuple[float, np.ndarray]:
        lam = self._penalty(j, pa) if self.lambda1 > 0 else np.zeros(pa.size)
        f, w, _ = logistic_l1(self.X[:, pa], self.X[:, j], lam, ridge=self.l2,
                              intercept=self.problem.intercept)
        return f, w

    # ------------------------------------------------------------------ support refit
    def effect_scale(self, standardized: bool) -> np.ndarray:
        """Factors F with F[i, j] |W[i, j]| the size compared with the threshold: 1 (weights),
        or sd_i / sd_j (the standardized, unit-free effect of i on j)."""
        d = self.S.shape[0]
        if not standardized:
            return np.ones((d, d))
        sd = np.sqrt(np.maximum(np.diag(self.S), 1e-300))
        return sd[:, None] / sd[None, :]

    def refit_support(self, W: np.ndarray, threshold: float, standardized: bool = False) -> np.ndarray:
        """Refit every node on its kept parents; drop parents that fall below the threshold
        (required parents are always kept)."""
        W = W.copy()
        F = self.effect_scale(standardized)
        for j in range(W.shape[0]):
            parents = np.flatnonzero((W[:, j] != 0) | self.required[:, j])
            for _ in range(W.shape[0]):
                if parents.size == 0:
                    break
                _, w = self.fit(j, parents)
                keep = (F[parents, j] * np.abs(w) >= threshold) | self.required[parents, j]
                W[:, j] = 0.0
                W[parents[keep], j] = w[keep]
                if keep.all():
                    break
                parents = parents[keep]
        return W


def _soft(x: float, t: float) -> float:
    return x - t if x > t else (x + t if x < -t else 0.0)


def lasso_gram(G: np.ndarray, c: np.ndarray, lam: np.ndarray, w0: np.ndarray | None = None,
               tol: float = 1e-12, iters: int = 10_000) -> np.ndarray:
    """min_w 1/2 w^T G w - c^T w + sum_k lam_k |w_k| by cyclic coordinate descent with
    soft-thresholding (exact coordinate minimizers), sweeping the active set until it settles
    and then all coordinates to confirm (Friedman, Hastie, Tibshirani 2010, section 2.6)."""
    k = c.size
    lam = np.broadcast_to(np.asarray(lam, dtype=float), (k,))
    w = np.zeros(k) if w0 is None else w0.astype(float).copy()
    diag = np.maximum(np.diag(G), 1e-300)
    r = c - G @ w  # r = c - G w, kept up to date
    full = True
    for _ in range(iters):
        idx = range(k) if full else np.flatnonzero(w).tolist()
        delta = 0.0
        for m in idx:
            old = w[m]
            new = _soft(r[m] + diag[m] * old, lam[m]) / diag[m]
            if new != old:
                r -= G[:, m] * (new - old)
                w[m] = new
                delta = max(delta, abs(new - old) * diag[m] ** 0.5)
        if delta <= tol:
            if full:
                break
            full = True
        else:
            full = False if full else full
    return w


def logistic_l1(A: np.ndarray, y: np.ndarray, lam: np.ndarray, ridge: float = 0.0,
                intercept: bool = True, tol: float = 1e-10, iters: int = 100
                ) -> tuple[float, np.ndarray, float]:
    """min_{w, b} 1/n sum(log(1 + e^{A w + b}) - y (A w + b)) + ridge/2 |w|^2 + sum lam_k |w_k|
    by proximal Newton; returns (objective, w, b). ``b`` is 0 when ``intercept`` is False."""
    n, k = A.shape
    lam = np.broadcast_to(np.asarray(lam, dtype=float), (k,))
    ybar = float(np.clip(y.mean(), 1e-12, 1 - 1e-12))
    b = float(np.log(ybar / (1 - ybar))) if intercept else 0.0
    w = np.zeros(k)

    def value(w: np.ndarray, b: float) -> float:
        m = A @ w + b
        return float((np.logaddexp(0.0, m) - y * m).sum() / n + 0.5 * ridge * w @ w + lam @ np.abs(w))

    f = value(w, b)
    if k == 0 and not intercept:
        return f, w, b
    Z = np.column_stack([A, np.ones(n)]) if intercept else A
    pen = np.concatenate([lam, [0.0]]) if intercept else lam
    reg = np.concatenate([np.full(k, ridge), [0.0]]) if intercept else np.full(k, ridge)
    for _ in range(iters):
        theta = np.concatenate([w, [b]]) if intercept else w
        p = expit(Z @ theta)
        g = Z.T @ (p - y) / n + reg * theta
        H = (Z * (p * (1 - p))[:, None]).T @ Z / n + np.diag(reg) + 1e-12 * np.eye(theta.size)
        # quadratic model in the new point t: 1/2 t'Ht - (H theta - g)'t + pen |t|
        t = lasso_gram(H, H @ theta - g, pen, w0=theta, tol=1e-13)
        step = t - theta
        decrease = g @ step + pen @ np.abs(t) - pen @ np.abs(theta)
        s = 1.0
        while s > 1e-10:
            cand = theta + s * step
            fc = value(cand[:k], float(cand[k]) if intercept else 0.0)
            if fc <= f + 1e-4 * s * min(decrease, 0.0):
                break
            s *= 0.5
        if s <= 1e-10:
            break
        w, b = cand[:k].copy(), (float(cand[k]) if intercept else 0.0)
        done = f - fc < tol * max(1.0, abs(f))
        f = fc
        if done:
            break
    return f, w, b
