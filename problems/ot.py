"""Entropic optimal transport between two discrete measures."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy.spatial.distance import cdist

from ._validation import InvalidProblemError, InvalidSolutionError, as_float_array
from .base import Problem
from .npz import load_npz, require, save_npz

_MASS_RTOL = 1e-8
#: largest dense cost matrix a point-cloud problem materializes for the dense methods (bytes);
#: the dense solvers hold two or three more arrays of that size
DENSE_LIMIT = 512 * 2**20
METRICS = ("sqeuclidean", "euclidean")


class OptimalTransport(Problem):
    """min_P <C, P> + reg * sum_ij P_ij (log P_ij - 1)  s.t.  P 1 = a, P^T 1 = b, P >= 0.

    ``a`` (m,) and ``b`` (n,) are non-negative and sum to 1 (zero-mass bins allowed);
    ``C`` is (m, n) and finite; ``reg`` > 0 is the entropic regularization epsilon.
    The objective is the regularized primal value above (POT's convention: the -1 makes
    the dual the plain Lyapunov function of design.md section 3); ``transport_cost``
    gives <C, P> alone and ``marginal_error`` the L1 violation of the constraints.
    """

    extensions: ClassVar[tuple[str, ...]] = (".npz",)
    kind: ClassVar[str] = "ot"
    #: point-cloud problems (``from_points``): (X, Y, metric, scale), C computed on the fly
    points: tuple[np.ndarray, np.ndarray, str, float] | None = None
    dense_limit: int = DENSE_LIMIT
    _C: np.ndarray | None = None

    def __init__(self, a: Any, b: Any, C: Any, reg: float):
        self.a = as_float_array(a, "a", ndim=1)
        self.b = as_float_array(b, "b", ndim=1)
        self.C = np.ascontiguousarray(as_float_array(C, "C", ndim=2))
        if self.C.shape != (self.a.size, self.b.size):
            raise InvalidProblemError(
                f"C has shape {self.C.shape} but a and b give ({self.a.size}, {self.b.size})"
            )
        self._check_measures(reg)

    def _check_measures(self, reg: float) -> None:
        for name, w in (("a", self.a), ("b", self.b)):
            if np.any(w < 0):
                raise InvalidProblemError(f"{name} has negative mass")
            if abs(w.sum() - 1.0) > 1e-6:
                raise InvalidProblemError(f"{name} must sum to 1, sums to {w.sum():.12g}")
        if abs(self.a.sum() - self.b.sum()) > _MASS_RTOL:
            raise InvalidProblemError(
                f"a and b must carry equal mass: {self.a.sum():.15g} vs {self.b.sum():.15g}"
            )
        try:
            self.reg = float(reg)
        except (TypeError, ValueError):
            raise InvalidProblemError(f"reg must be a number, got {reg!r}")
        if not np.isfinite(self.reg) or self.reg <= 0:
            raise InvalidProblemError(f"reg must be a finite number > 0, got {reg!r}")

    @property
    def C(self) -> np.ndarray:
        """The (m, n) cost matrix; a point-cloud problem builds it on first use, and only when
        it fits in ``dense_limit`` bytes (else InvalidProblemError naming the size)."""
        if self._C is None:
            self._C = self._dense_cost()
        return self._C

    @C.setter
    def C(self, value: np.ndarray) -> None:
        self._C = value

    @property
    def shape(self) -> tuple[int, int]:
        return (self.a.size, self.b.size)

    @property
    def size(self) -> int:
        return max(self.shape)

    @property
    def is_points(self) -> bool:
        """A point-cloud problem (``from_points``): its cost is computed on the fly."""
        return self.points is not None

    @property
    def dense_fits(self) -> bool:
        """The dense cost matrix is already there or fits in ``dense_limit`` bytes."""
        m, n = self.shape
        return self._C is not None or 8 * m * n <= self.dense_limit

    def _dense_cost(self) -> np.ndarray:
        m, n = self.shape
        if not self.dense_fits:
            raise InvalidProblemError(
                f"the dense cost matrix of this point-cloud problem ({m} x {n}) would take "
                f"{8 * m * n / 2**30:.2f} GiB, over the {self.dense_limit / 2**30:.2f} GiB limit "
                f"(dense_limit); use method='sns' or 'sinkhorn-log', which compute the cost on the fly")
        X, Y, metric, scale = self.points
        return np.ascontiguousarray(cdist(X, Y, metric=metric) / scale)

    # ----------------------------------------------------------------- builders
    @classmethod
    def from_point_clouds(
        cls, X: Any, Y: Any, reg: float, a: Any = None, b: Any = None,
        metric: str = "sqeuclidean", normalize: bool = True,
    ) -> OptimalTransport:
        """Cost C_ij = metric(X_i, Y_j) (any scipy ``cdist`` metric), scaled to max 1 if
        ``normalize``; uniform weights unless given."""
        X = as_float_array(X, "X", ndim=2)
        Y = as_float_array(Y, "Y", ndim=2)
        if X.shape[1] != Y.shape[1]:
            raise InvalidProblemError(f"X and Y have different dimensions: {X.shape[1]} vs {Y.shape[1]}")
        try:
            C = cdist(X, Y, metric=metric)
        except ValueError as exc:
            raise InvalidProblemError(f"bad metric {metric!r}: {exc}") from None
        if normalize and C.max() > 0:
            C = C / C.max()
        a = np.full(X.shape[0], 1.0 / X.shape[0]) if a is None else a
        b = np.full(Y.shape[0], 1.0 / Y.shape[0]) if b is None else b
        return cls(a, b, C, reg)

    @classmethod
    def from_points(
        cls, X: Any, Y: Any, reg: float, a: Any = None, b: Any = None,
        metric: str = "sqeuclidean", scale: float | str = 1.0, dense_limit: int | None = None,
    ) -> OptimalTransport:
        """Point clouds X (m, d), Y (n, d) with C_ij = metric(X_i, Y_j) / scale, never stored
        densely: ``metric`` "sqeuclidean" (|x - y|^2) or "euclidean"; ``scale`` a positive number
        or "max" (the exact largest cost, one blocked pass: max C = 1 as POT users scale it);
        uniform weights unless given.  The dense methods get ``C`` built on first use when it
        fits in ``dense_limit`` bytes (default ``DENSE_LIMIT``); ``sns`` and ``sinkhorn-log``
        solve any size in O((m + n) d) memory plus the kept Newton entries."""
        X = np.ascontiguousarray(as_float_array(X, "X", ndim=2))
        Y = np.ascontiguousarray(as_float_array(Y, "Y", ndim=2))
        if X.shape[1] != Y.shape[1]:
            raise InvalidProblemError(f"X and Y have different dimensions: {X.shape[1]} vs {Y.shape[1]}")
        if X.shape[1] == 0:
            raise InvalidProblemError("X and Y have no coordinates (dimension 0)")
        metric = str(metric).lower()
        if metric not in METRICS:
            raise InvalidProblemError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
        m, n = X.shape[0], Y.shape[0]
        a = np.full(m, 1.0 / m) if a is None else a
        b = np.full(n, 1.0 / n) if b is None else b
        if isinstance(scale, str):
            if scale != "max":
                raise InvalidProblemError(f"scale must be a number > 0 or 'max', got {scale!r}")
            scale = _max_cost(X, Y, metric)
            scale = scale if scale > 0 else 1.0
        try:
            scale = float(scale)
        except (TypeError, ValueError):
            raise InvalidProblemError(f"scale must be a number > 0 or 'max', got {scale!r}")
        if not np.isfinite(scale) or scale <= 0:
            raise InvalidProblemError(f"scale must be a finite number > 0, got {scale!r}")
        self = cls.__new__(cls)
        self.a = as_float_array(a, "a", ndim=1)
        self.b = as_float_array(b, "b", ndim=1)
        if self.a.size != m or self.b.size != n:
            raise InvalidProblemError(
                f"a has {self.a.size} and b {self.b.size} entries but X has {m} and Y {n} points")
        self.points = (X, Y, metric, scale)
        if dense_limit is not None:
            self.dense_limit = int(dense_limit)
        self._check_measures(reg)
        return self

    @classmethod
    def from_images(
        cls, img_a: Any, img_b: Any, reg: float, ground: str = "l2sq", normalize: bool = True
    ) -> OptimalTransport:
        """Two non-negative images of the same grid as measures; ground cost between pixel
        positions: ``"l1"`` (|dx| + |dy|) or ``"l2sq"`` (dx^2 + dy^2), scaled to max 1."""
        A = as_float_array(img_a, "img_a", ndim=2)
        B = as_float_array(img_b, "img_b", ndim=2)
        if A.shape != B.shape:
            raise InvalidProblemError(f"images differ in shape: {A.shape} vs {B.shape}")
        if A.min() < 0 or B.min() < 0 or A.sum() <= 0 or B.sum() <= 0:
            raise InvalidProblemError("images must be non-negative with positive total mass")
        grid = np.stack(np.meshgrid(np.arange(A.shape[0]), np.arange(A.shape[1]), indexing="ij"), -1)
        pts = grid.reshape(-1, 2).astype(float)
        metric = {"l1": "cityblock", "l2sq": "sqeuclidean", "l2": "euclidean"}.get(ground)
        if metric is None:
            raise InvalidProblemError(f"ground must be 'l1', 'l2' or 'l2sq', got {ground!r}")
        a = A.ravel() / A.sum()
        b = B.ravel() / B.sum()
        return cls.from_point_clouds(pts, pts, reg, a=a, b=b, metric=metric, normalize=normalize)

    @classmethod
    def random(cls, n: int, seed: int = 0, reg: float = 1e-2, m: int | None = None) -> OptimalTransport:
        """Uniform random cost in [0, 1] and random positive marginals (the SNS paper's family)."""
        rng = np.random.default_rng(seed)
        m = int(n) if m is None else int(m)
        a = rng.random(m) + 1e-2
        b = rng.random(int(n)) + 1e-2
        return cls(a / a.sum(), b / b.sum(), rng.random((m, int(n))), reg)

    # ----------------------------------------------------------------- evaluation
    def _lazy(self, P: Any) -> Any:
        """A lazy plan (``solvers.ot.lazy_plan.LazyPlan``: ``marginals``, ``objective``,
        ``to_dense``) of this problem's shape, else None."""
        if isinstance(P, np.ndarray) or not (hasattr(P, "marginals") and hasattr(P, "to_dense")):
            return None
        if tuple(getattr(P, "shape", ())) != self.shape:
            raise InvalidSolutionError(f"plan has shape {getattr(P, 'shape', None)}, expected {self.shape}")
        return P

    def _plan(self, P: Any) -> np.ndarray:
        try:
            P = np.asarray(P, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidSolutionError("a transport plan must be a numeric (m, n) array")
        if P.shape != self.shape:
            raise InvalidSolutionError(f"plan has shape {P.shape}, expected {self.shape}")
        if not np.all(np.isfinite(P)) or np.any(P < 0):
            raise InvalidSolutionError("a transport plan must be finite and non-negative")
        return P

    def transport_cost(self, P: Any) -> float:
        if (lazy := self._lazy(P)) is not None:
            return float(lazy.transport_cost())
        return float(np.sum(self.C * self._plan(P)))

    def marginal_error(self, P: Any) -> float:
        """||P 1 - a||_1 + ||P^T 1 - b||_1."""
        if (lazy := self._lazy(P)) is not None:
            r, c = lazy.marginals()
            return float(np.abs(r - self.a).sum() + np.abs(c - self.b).sum())
        P = self._plan(P)
        return float(np.abs(P.sum(1) - self.a).sum() + np.abs(P.sum(0) - self.b).sum())

    def objective(self, solution: Any) -> float:
        if (lazy := self._lazy(solution)) is not None:
            return float(lazy.objective())
        P = self._plan(solution)
        pos = P > 0
        entropy_term = float(np.sum(P[pos] * (np.log(P[pos]) - 1.0)))
        return float(np.sum(self.C * P)) + self.reg * entropy_term

    def dual_objective(self, f: Any, g: Any) -> float:
        """Lyapunov function of design.md §3: a^T f + b^T g - reg sum exp((f_i + g_j - C_ij)/reg).

        Equals the primal objective at the optimum (strong duality)."""
        f = np.asarray(f, dtype=np.float64)
        g = np.asarray(g, dtype=np.float64)
        if not self.dense_fits:  # point clouds: the kernel sum by row blocks
            X, Y, metric, scale = self.points
            total = 0.0
            for lo, hi in _row_blocks(*self.shape):
                Cb = cdist(X[lo:hi], Y, metric=metric) / scale
                total += float(np.exp((f[lo:hi, None] + g[None, :] - Cb) / self.reg).sum())
            return float(self.a @ f + self.b @ g - self.reg * total)
        K = np.exp((f[:, None] + g[None, :] - self.C) / self.reg)
        return float(self.a @ f + self.b @ g - self.reg * K.sum())

    # ----------------------------------------------------------------- files
    @classmethod
    def _read(cls, path: Path) -> OptimalTransport:
        data = load_npz(path)
        require(data, "reg")
        reg = float(np.asarray(data["reg"]).ravel()[0]) if np.asarray(data["reg"]).size else None
        if "C" in data:
            require(data, "a", "b")
            return cls(data["a"], data["b"], data["C"], reg)
        if "X" in data and "Y" in data and "scale" in data:  # written by a from_points problem
            return cls.from_points(data["X"], data["Y"], reg, a=data.get("a"), b=data.get("b"),
                                   metric=str(data.get("metric", "sqeuclidean")),
                                   scale=float(np.asarray(data["scale"]).ravel()[0]))
        if "X" in data and "Y" in data:
            metric = str(data.get("metric", "sqeuclidean"))
            return cls.from_point_clouds(data["X"], data["Y"], reg, a=data.get("a"),
                                         b=data.get("b"), metric=metric)
        raise InvalidProblemError("an OT .npz needs (a, b, C, reg) or point clouds (X, Y, reg)")

    def _write(self, path: Path) -> None:
        if self.points is not None:
            X, Y, metric, scale = self.points
            save_npz(path, "ot", a=self.a, b=self.b, X=X, Y=Y, metric=np.array(metric),
                     scale=np.array(scale), reg=np.array(self.reg))
            return
        save_npz(path, "ot", a=self.a, b=self.b, C=self.C, reg=np.array(self.reg))


def _row_blocks(m: int, n: int, entries: int = 1 << 21):
    """Row ranges [lo, hi) of about ``entries`` cost entries each (blocked dense passes)."""
    step = max(1, entries // max(n, 1))
    for lo in range(0, m, step):
        yield lo, min(m, lo + step)


def _max_cost(X: np.ndarray, Y: np.ndarray, metric: str) -> float:
    """max_ij metric(X_i, Y_j) by row blocks (O(m n d) time, O(block) memory)."""
    best = 0.0
    for lo, hi in _row_blocks(X.shape[0], Y.shape[0]):
        best = max(best, float(cdist(X[lo:hi], Y, metric=metric).max()))
    return best
