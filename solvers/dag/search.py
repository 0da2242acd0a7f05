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
  C = L[p:q, p:q] L[p:q, p:q]^T. The gains of all d(d-1)/2 swaps come from one O(d^3)
  kernel pass over the factor (rank-1 downdates, :mod:`solvers.dag._swap_kernels`) instead
  of one factorization of size q - p + 1 per swap, or q - p + 1 regressions.

Both respect ``problem.precedence`` (required edges, tiers): a swap that would put a node
before one it must follow is not a candidate.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

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

    def swap_gains(self, cand_i: np.ndarray, cand_j: np.ndarray,
                   should_stop: Callable[[], bool]) -> np.ndarray | None:
        """``swap_gain`` of each candidate pair; None when ``should_stop()`` (asked every 16
        evaluations) says stop."""
        out = np.empty(cand_i.size)
        for k, (i, j) in enumerate(zip(cand_i.tolist(), cand_j.tolist())):
            out[k] = self.swap_gain(i, j)
            if k % 16 == 0 and should_stop():
                return None
        return out

    def apply_swap(self, i: int, j: int) -> None:
        p, q = self.positions(i, j)
        self.order[p], self.order[q] = self.order[q], self.order[p]
        self.pos[self.order] = np.arange(self.d)
        self._refit(p, q)


class CholeskySearch(OrderSearch):
    """Least squares on all predecessors through the Cholesky factor of the permuted Gram.

    The gains of all swaps come from one O(d^3) kernel call per factor
    (:func:`~solvers.dag._swap_kernels.all_swap_gains`). Swaps on non-overlapping position
    intervals change disjoint blocks of residuals given the same predecessor sets, so their
    gains add exactly: ``apply_swap`` only updates the order and the score, and the factor
    and the weights are rebuilt once, when next asked for (``W``, ``L``, a new gain)."""

    def __init__(self, fitter: NodeFitter, order: np.ndarray):
        self.A = fitter.S + fitter.l2 * np.eye(fitter.S.shape[0])
        self._stale = False
        self._gains: np.ndarray | None = None
        self._applied: list[tuple[int, int]] = []
        super().__init__(fitter, order)

    def _refit(self, p: int, q: int) -> None:
        o = self.order
        try:
            L = np.linalg.cholesky(self.A[np.ix_(o, o)])
        except np.linalg.LinAlgError:  # singular Gram with l2 = 0: a tiny ridge
            self.A = self.A + 1e-10 * max(1.0, float(np.trace(self.A)) / self.d) * np.eye(self.d)
            L = np.linalg.cholesky(self.A[np.ix_(o, o)])
        diag = np.diag(L)
        self.losses[o] = 0.5 * (diag * diag - self.fitter.l2)
        self._score = float(self.losses.sum())
        # regression weights: row r of L^{-1} is (-w^T, 1) / L_rr (Gram-Schmidt)
        Linv = sla.solve_triangular(L, np.eye(self.d), lower=True)
        Wp = -(Linv * diag[:, None]).T
        np.fill_diagonal(Wp, 0.0)
        W = np.zeros((self.d, self.d))
        W[np.ix_(o, o)] = np.triu(Wp, k=1)
        self._L, self._W, self._gains, self._stale, self._applied = L, W, None, False, []

    def _fresh(self) -> None:
        if self._stale:
            self._refit(0, self.d - 1)

    @property
    def L(self) -> np.ndarray:
        self._fresh()
        return self._L

    @property
    def W(self) -> np.ndarray:
        self._fresh()
        return self._W

    @W.setter
    def W(self, value: np.ndarray) -> None:  # OrderSearch.__init__ sets a placeholder
        self._W = value

    @property
    def score(self) -> float:
        return self._score

    def swap_gain(self, i: int, j: int) -> float:
        if self._applied:  # gains are those of the order at the last refit
            self._refit(0, self.d - 1)
        if self._gains is None:
            from ._swap_kernels import all_swap_gains

            self._gains = all_swap_gains(self._L)
        p, q = self.positions(i, j)
        return float(self._gains[p, q])

    def swap_gains(self, cand_i: np.ndarray, cand_j: np.ndarray,
                   should_stop: Callable[[], bool]) -> np.ndarray | None:
        """All candidates' gains from one kernel call (one stop check)."""
        if should_stop():
            return None
        if cand_i.size == 0:
            return np.zeros(0)
        self.swap_gain(int(cand_i[0]), int(cand_j[0]))  # refit and kernel as needed
        p, q = self.pos[cand_i], self.pos[cand_j]
        return self._gains[np.minimum(p, q), np.maximum(p, q)]

    def apply_swap(self, i: int, j: int) -> None:
        """Exchange i and j; the score drops by the swap's gain. Exact without a refit for
        swaps on intervals disjoint from those applied since the last refit (how TOPO
        applies them); an overlapping one refits first."""
        p, q = self.positions(i, j)
        if self._gains is None or any(not (q < a or p > b) for a, b in self._applied):
            gain = self.swap_gain(i, j)
        else:
            gain = float(self._gains[p, q])
        self.order[p], self.order[q] = self.order[q], self.order[p]
        self.pos[self.order] = np.arange(self.d)
        self._score -= gain
        self._applied.append((p, q))
        self._stale = True
