"""TOPO's inner problem (Deng et al. 2023, eq. 4): for a fixed topological order each node is
regressed on all of its predecessors, independently of the others.

Least squares works on the Gram matrix S = X^T X / n, so a fit costs O(|pa|^3) whatever the
number of samples; the node's share of the NOTEARS score 1/(2n)||x_j - X_pa w||^2 equals
(S_jj - 2 w^T S_pa,j + w^T S_pa,pa w) / 2. Binary data uses logistic regression (Newton /
IRLS with a small ridge); ``lambda1 > 0`` adds the L1 term through coordinate descent.
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
        self.cache: OrderedDict[tuple[int, bytes], tuple[float, np.ndarray]] = OrderedDict()

    def fit(self, j: int, parents: np.ndarray) -> tuple[float, np.ndarray]:
        """(loss share of node j, weights on ``parents``) for the best fit of j on them."""
        parents = np.asarray(parents, dtype=np.int64)
        key = (int(j), np.sort(parents).tobytes())
        hit = self.cache.get(key)
        if hit is not None:
            loss, w_sorted = hit
            order = np.argsort(np.argsort(parents))
            return loss, w_sorted[order]
        sorted_parents = np.sort(parents)
        if self.problem.loss == "l2":
            loss, w = self._least_squares(j, sorted_parents)
        else:
            loss, w = self._logistic(j, sorted_parents)
        self.cache[key] = (loss, w)
        if len(self.cache) > _CACHE_SIZE:
            self.cache.popitem(last=False)
        order = np.argsort(np.argsort(parents))
        return loss, w[order]

    def score_gradient(self, W: np.ndarray) -> np.ndarray:
        """grad Q(W) of the data-fit term: -(S - S W) for l2, X^T (sigmoid(XW) - X) / n else."""
        if self.problem.loss == "l2":
            return self.S @ W - self.S
        return self.X.T @ (expit(self.X @ W) - self.X) / self.n

    # ------------------------------------------------------------------ l2
    def _ls_loss(self, j: int, pa: np.ndarray, w: np.ndarray) -> float:
        S = self.S
        if pa.size == 0:
            return 0.5 * S[j, j]
        return float(0.5 * (S[j, j] - 2.0 * w @ S[pa, j] + w @ S[np.ix_(pa, pa)] @ w))

    def _least_squares(self, j: int, pa: np.ndarray) -> tuple[float, np.ndarray]:
        if pa.size == 0:
            return 0.5 * float(self.S[j, j]), np.zeros(0)
        G = self.S[np.ix_(pa, pa)]
        c = self.S[pa, j]
        if self.lambda1 > 0:
            w = _lasso_gram(G, c, self.lambda1)
        else:
            w = np.linalg.solve(G + self.l2 * np.eye(pa.size), c)
        loss = self._ls_loss(j, pa, w) + self.lambda1 * float(np.abs(w).sum())
        return loss, w

    # ------------------------------------------------------------------ logistic
    def _logistic(self, j: int, pa: np.ndarray) -> tuple[float, np.ndarray]:
        y = self.X[:, j]
        n = self.n
        ridge = max(self.l2, 1e-6)
        if pa.size == 0:
            return float(np.log(2.0)), np.zeros(0)
        Xp = self.X[:, pa]
        w = np.zeros(pa.size)

        def value(v: np.ndarray) -> float:
            m = Xp @ v
            return float((np.logaddexp(0.0, m) - y * m).sum() / n + 0.5 * ridge * v @ v
                         + self.lambda1 * np.abs(v).sum())

        f = value(w)
        for _ in range(50):
            m = Xp @ w
            p = expit(m)
            grad = Xp.T @ (p - y) / n + ridge * w
            if self.lambda1 > 0:
                grad = grad + self.lambda1 * np.sign(w)
            H = (Xp * (p * (1 - p))[:, None]).T @ Xp / n + ridge * np.eye(pa.size)
            step = np.linalg.solve(H, grad)
            t = 1.0
            while t > 1e-8:
                cand = w - t * step
                fc = value(cand)
                if fc <= f - 1e-4 * t * grad @ step:
                    break
                t *= 0.5
            if t <= 1e-8 or abs(f - fc) < 1e-12 * max(1.0, abs(f)):
                if t > 1e-8:
                    w, f = cand, fc
                break
            w, f = cand, fc
        return f, w

    # ------------------------------------------------------------------ support refit
    def refit_support(self, W: np.ndarray, threshold: float) -> np.ndarray:
        """Refit every node on its kept parents; drop parents that fall below the threshold."""
        W = W.copy()
        for j in range(W.shape[0]):
            parents = np.flatnonzero(W[:, j])
            for _ in range(W.shape[0]):
                if parents.size == 0:
                    break
                _, w = self.fit(j, parents)
                keep = np.abs(w) >= threshold
                W[:, j] = 0.0
                W[parents[keep], j] = w[keep]
                if keep.all():
                    break
                parents = parents[keep]
        return W


def _lasso_gram(G: np.ndarray, c: np.ndarray, lam: float, iters: int = 500) -> np.ndarray:
    """min_w 1/2 w^T G w - c^T w + lam ||w||_1 by cyclic coordinate descent."""
    w = np.zeros(c.size)
    diag = np.maximum(np.diag(G), 1e-12)
    for _ in range(iters):
        delta = 0.0
        for k in range(c.size):
            rho = c[k] - G[k] @ w + diag[k] * w[k]
            new = np.sign(rho) * max(abs(rho) - lam, 0.0) / diag[k]
            delta = max(delta, abs(new - w[k]))
            w[k] = new
        if delta < 1e-10:
            break
    return w
