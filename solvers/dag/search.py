"""The state of one TOPO descent (Deng et al. 2023, Algorithm 1): a topological order, the
node fits it implies (the inner problem, eq. 4) and the score change of a swap.

Two equivalent implementations of the same inner problem:

- :class:`OrderSearch` refits each node between the swapped positions with
  :class:`~solvers.dag.inner.NodeFitter` (any loss, L1, forbidden edges).
- :class:`CholeskySearch` (least squares without L1 or forbidden edges, the common case)
  keeps the Cholesky factor L of the permuted Gram matrix P^T (S + l2 I) P: the ridge
  regression of the node at position r on all its predecessors leaves the residual
  L_rr^2 - l2, so the score is sum_r (L_rr^2 - l2) / 2. Swapping positions p < q changes only
  the factor's block p..q, whose conditional covariance given the prefix is
  C = L[p:q, p:q] L[p:q, p:q]^T: a swap costs one Cholesky factorization of size q - p + 1
  instead of q - p + 1 regressions on up to d parents.

Both respect ``problem.precedence`` (required edges, tiers): a swap that would put a node
before one it must follow is not a candidate.
"""

from __future__ import annotations

import heapq

import numpy as np
import scipy.linalg as sla

from .inner import NodeFitter


def linear_extension(order: np.ndarray, precedence: np.ndarray) -> np.ndarray:
    """The order closest to ``order`` that keeps every ``precedence[i, j]`` (i before j):
    Kahn's algorithm taking the available node that comes first in ``order``."""
    if not precedence.any():
        return np.asarray(order, dtype=np.int64)
    d = len(order)
    rank = np.empty(d, dtype=np.int64)
    rank[np.asarray(order)] = np.arange(d)
    indeg = precedence.sum(axis=0).astype(np.int64)
    heap = [(int(rank[v]), int(v)) for v in np.flatnonzero(indeg == 0)]
    heapq.heapify(heap)
    out = []
    while heap:
        _, v = heapq.heappop(heap)
        out.append(v)
        for u in np.flatnonzero(precedence[v]):
            indeg[u] -= 1
            if indeg[u] == 0:
                heapq.heappush(heap, (int(rank[u]), int(u)))
    return np.array(out, dtype=np.int64)


class OrderSearch:
    """Order, per-node losses/weights and swap evaluation through node refits."""

    def __init__(self, fitter: NodeFitter, order: np.ndarray):
        self.fitter = fitter
        self.precedence = fitter.problem.precedence
        self.constrained = bool(self.precedence.any())
        self.order = linear_extension(order, self.precedence)
        self.d = self.order.size
        self.pos = np.empty(self.d, dtype=np.int64)
        self.pos[self.order] = np.arange(self.d)
        self.W = np.zeros((self.d, self.d))
        self.losses = np.zeros(self.d)
        self._refit(0, self.d - 1)

    def _refit(self, p: int, q: int) -> None:
        for r in range(p, q + 1):
            j = int(self.order[r])
            parents = self.order[:r]
            loss, w = self.fitter.fit(j, parents)
            self.losses[j] = loss
            self.W[:, j] = 0.0
            self.W[parents, j] = w

    @property
    def score(self) -> float:
        return float(self.losses.sum())

    def positions(self, i: int, j: int) -> tuple[int, int]:
        p, q = int(self.pos[i]), int(self.pos[j])
        return (p, q) if p < q else (q, p)

    def allowed_swap(self, i: int, j: int) -> bool:
        """False when exchanging i and j breaks a precedence (required edge or tier)."""
        if not self.constrained:
            return True
        p, q = self.positions(i, j)
        a, b = self.order[p], self.order[q]
        P = self.precedence
        return not (P[a, self.order[p + 1:q + 1]].any() or P[self.order[p:q], b].any())

    def swap_gain(self, i: int, j: int) -> float:
        """Score decrease when nodes i and j exchange positions (only nodes between refit)."""
        p, q = self.positions(i, j)
        trial = self.order.copy()
        trial[p], trial[q] = trial[q], trial[p]
        before = float(self.losses[self.order[p:q + 1]].sum())
        after = 0.0
        for r in range(p, q + 1):
            after += self.fitter.fit(int(trial[r]), trial[:r])[0]
        return before - after

    def apply_swap(self, i: int, j: int) -> None:
        p, q = self.positions(i, j)
        self.order[p], self.order[q] = self.order[q], self.order[p]
        self.pos[self.order] = np.arange(self.d)
        self._refit(p, q)


class CholeskySearch(OrderSearch):
    """Least squares on all predecessors through the Cholesky factor of the permuted Gram."""

    def __init__(self, fitter: NodeFitter, order: np.ndarray):
        self.A = fitter.S + fitter.l2 * np.eye(fitter.S.shape[0])
        super().__init__(fitter, order)

    def _refit(self, p: int, q: int) -> None:
        o = self.order
        try:
            self.L = np.linalg.cholesky(self.A[np.ix_(o, o)])
        except np.linalg.LinAlgError:  # singular Gram with l2 = 0: a tiny ridge
            self.A = self.A + 1e-10 * max(1.0, float(np.trace(self.A)) / self.d) * np.eye(self.d)
            self.L = np.linalg.cholesky(self.A[np.ix_(o, o)])
        diag = np.diag(self.L)
        self.losses[o] = 0.5 * (diag * diag - self.fitter.l2)
        # regression weights: row r of L^{-1} is (-w^T, 1) / L_rr (Gram-Schmidt)
        Linv = sla.solve_triangular(self.L, np.eye(self.d), lower=True)
        Wp = -(Linv * diag[:, None]).T
        np.fill_diagonal(Wp, 0.0)
        self.W = np.zeros((self.d, self.d))
        self.W[np.ix_(o, o)] = np.triu(Wp, k=1)

    def swap_gain(self, i: int, j: int) -> float:
        p, q = self.positions(i, j)
        Lb = self.L[p:q + 1, p:q + 1]
        C = Lb @ Lb.T
        m = q - p + 1
        perm = np.arange(m)
        perm[0], perm[-1] = m - 1, 0
        try:
            new = np.linalg.cholesky(C[np.ix_(perm, perm)])
        except np.linalg.LinAlgError:
            return 0.0
        old = np.diag(Lb)
        return 0.5 * float(old @ old - np.einsum("ii,ii->", new, new))
