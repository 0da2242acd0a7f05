"""The plan of a point-cloud OT solve, kept as its potentials: P_ij = exp((f_i + g_j - C_ij)/reg)
with C_ij computed on the fly (``_points_kernels``), never stored unless asked and small enough."""

from __future__ import annotations

from typing import Any

import numpy as np

from problems import InvalidProblemError, OptimalTransport

from . import _points_kernels as PK

METRIC_CODES = {"sqeuclidean": 0, "euclidean": 1}


class Cloud:
    """A point-cloud problem restricted to its positive-mass points: X (m, d) and Y^T (d, n)
    (and the transposed pair for column passes), weights, eps; the online passes over it."""

    def __init__(self, problem: OptimalTransport, eps: float | None = None):
        X, Y, metric, scale = problem.points
        self.problem = problem
        self.rows = np.flatnonzero(problem.a > 0)
        self.cols = np.flatnonzero(problem.b > 0)
        self.full = self.rows.size == problem.a.size and self.cols.size == problem.b.size
        self.X = np.ascontiguousarray(X[self.rows])
        self.Y = np.ascontiguousarray(Y[self.cols])
        self.Xt = np.ascontiguousarray(self.X.T)
        self.Yt = np.ascontiguousarray(self.Y.T)
        self.a = problem.a[self.rows]
        self.b = problem.b[self.cols]
        self.log_a, self.log_b = np.log(self.a), np.log(self.b)
        self.eps = problem.reg if eps is None else float(eps)
        self.inv_s = 1.0 / scale
        self.metric = METRIC_CODES[metric]
        self.brow = PK.chunks(self.a.size)
        self.bcol = PK.chunks(self.b.size)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.a.size, self.b.size)

    def marginals(self, f: np.ndarray, g: np.ndarray, eps: float | None = None):
        """(P1, P^T1, <C, P>) of the potentials (f, g): one pass."""
        r, c = np.empty(self.a.size), np.empty(self.b.size)
        cost = PK.marginals(self.X, self.Yt, f, g, self.eps if eps is None else eps, self.inv_s,
                            self.metric, self.brow, r, c)
        return r, c, float(cost)

    def lse_f(self, g: np.ndarray, f: np.ndarray) -> None:
        PK.lse_update(self.X, self.Yt, g, self.log_a, self.eps, self.inv_s, self.metric, self.brow, f)

    def lse_g(self, f: np.ndarray, g: np.ndarray) -> None:
        PK.lse_update(self.Y, self.Xt, f, self.log_b, self.eps, self.inv_s, self.metric, self.bcol, g)

    def embed(self, f: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Potentials on all points; zero-mass points get -inf (exp(-inf) = 0)."""
        if self.full:
            return f, g
        ff = np.full(self.problem.a.size, -np.inf)
        gf = np.full(self.problem.b.size, -np.inf)
        ff[self.rows] = f
        gf[self.cols] = g
        return ff, gf


class LazyPlan:
    """P_ij = exp((f_i + g_j - C_ij)/reg) of ``problem`` (a ``from_points`` problem), stored as
    its potentials (f, g) only.  ``marginals()`` (one O(m n d) pass, cached), ``objective()``
    (<C,P> + reg sum P (log P - 1) from the marginals: log P is read off the potentials),
    ``transport_cost()``, ``rows(lo, hi)`` (a dense block), ``to_dense()`` (refused with
    InvalidProblemError beyond ``max_bytes``, default the problem's ``dense_limit``)."""

    def __init__(self, cloud: Cloud, f: np.ndarray, g: np.ndarray):
        """``f``, ``g``: the potentials on the cloud's support (positive-mass points)."""
        self._cloud = cloud
        self.f, self.g = np.array(f, dtype=np.float64), np.array(g, dtype=np.float64)
        self.reg = cloud.eps
        self._sums: tuple[np.ndarray, np.ndarray, float] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self._cloud.problem.shape

    @property
    def potentials(self) -> tuple[np.ndarray, np.ndarray]:
        """(f, g) on all points (-inf on zero-mass ones)."""
        return self._cloud.embed(self.f, self.g)

    def _support_sums(self) -> tuple[np.ndarray, np.ndarray, float]:
        if self._sums is None:
            self._sums = self._cloud.marginals(self.f, self.g, self.reg)
        return self._sums

    def marginals(self) -> tuple[np.ndarray, np.ndarray]:
        """(P 1, P^T 1) on all points."""
        r, c, _ = self._support_sums()
        cl = self._cloud
        if cl.full:
            return r.copy(), c.copy()
        rf, cf = np.zeros(cl.problem.a.size), np.zeros(cl.problem.b.size)
        rf[cl.rows], cf[cl.cols] = r, c
        return rf, cf

    def transport_cost(self) -> float:
        return self._support_sums()[2]

    def objective(self) -> float:
        """sum_ij P_ij (C_ij + reg (log P_ij - 1)) = f^T P1 + g^T P^T1 - reg sum P."""
        r, c, _ = self._support_sums()
        return float(self.f @ r + self.g @ c - self.reg * r.sum())

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows lo..hi-1 of the plan, dense ((hi - lo) x n)."""
        from scipy.spatial.distance import cdist

        X, Y, metric, scale = self._cloud.problem.points
        f, g = self.potentials
        with np.errstate(invalid="ignore"):
            C = cdist(X[lo:hi], Y, metric=metric) / scale
            P = np.exp((f[lo:hi, None] + g[None, :] - C) / self.reg)
        return np.where(np.isnan(P), 0.0, P)

    def to_dense(self, max_bytes: int | None = None) -> np.ndarray:
        m, n = self.shape
        limit = self._cloud.problem.dense_limit if max_bytes is None else int(max_bytes)
        if 8 * m * n > limit:
            raise InvalidProblemError(
                f"the dense plan ({m} x {n}) would take {8 * m * n / 2**30:.2f} GiB, over the "
                f"{limit / 2**30:.2f} GiB limit (max_bytes); use marginals(), rows(lo, hi) or the "
                f"potentials instead")
        out = np.empty((m, n))
        step = max(1, (1 << 21) // max(n, 1))
        for lo in range(0, m, step):
            out[lo:lo + step] = self.rows(lo, min(m, lo + step))
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        P = self.to_dense()
        return P if dtype is None else P.astype(dtype)

    def __repr__(self) -> str:
        m, n = self.shape
        return f"LazyPlan({m} x {n}, reg={self.reg:g})"
