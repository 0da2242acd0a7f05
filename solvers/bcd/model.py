"""The smooth losses of block coordinate descent as functions of the linear predictor Z = A X.

Least squares, logistic and softmax regression share one interface (:class:`LinearModel`):
the loss and its derivative in Z in one pass, the per-sample curvature, Hessian-vector
products in predictor space, the mean curvature (the class factor of the Kronecker
preconditioner of ``newton-cg``) and the explicit block Hessian (``newton``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, softmax

from problems import LogisticRegression, SoftmaxRegression


class LinearModel:
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
