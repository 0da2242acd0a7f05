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

    def __init__(self, a: Any, b: Any, C: Any, reg: float):
        self.a = as_float_array(a, "a", ndim=1)
        self.b = as_float_array(b, "b", ndim=1)
        self.C = np.ascontiguousarray(as_float_array(C, "C", ndim=2))
        if self.C.shape != (self.a.size, self.b.size):
            raise InvalidProblemError(
                f"C has shape {self.C.shape} but a and b give ({self.a.size}, {self.b.size})"
            )
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
    def shape(self) -> tuple[int, int]:
        return self.C.shape

    @property
    def size(self) -> int:
        return max(self.C.shape)

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
    def _plan(self, P: Any) -> np.ndarray:
        try:
            P = np.asarray(P, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidSolutionError("a transport plan must be a numeric (m, n) array")
        if P.shape != self.C.shape:
            raise InvalidSolutionError(f"plan has shape {P.shape}, expected {self.C.shape}")
        if not np.all(np.isfinite(P)) or np.any(P < 0):
            raise InvalidSolutionError("a transport plan must be finite and non-negative")
        return P

    def transport_cost(self, P: Any) -> float:
        return float(np.sum(self.C * self._plan(P)))

    def marginal_error(self, P: Any) -> float:
        """||P 1 - a||_1 + ||P^T 1 - b||_1."""
        P = self._plan(P)
        return float(np.abs(P.sum(1) - self.a).sum() + np.abs(P.sum(0) - self.b).sum())

    def objective(self, solution: Any) -> float:
        P = self._plan(solution)
        pos = P > 0
        entropy_term = float(np.sum(P[pos] * (np.log(P[pos]) - 1.0)))
        return float(np.sum(self.C * P)) + self.reg * entropy_term

    def dual_objective(self, f: Any, g: Any) -> float:
        """Lyapunov function of design.md §3: a^T f + b^T g - reg sum exp((f_i + g_j - C_ij)/reg).

        Equals the primal objective at the optimum (strong duality)."""
        f = np.asarray(f, dtype=np.float64)
        g = np.asarray(g, dtype=np.float64)
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
        if "X" in data and "Y" in data:
            metric = str(data.get("metric", "sqeuclidean"))
            return cls.from_point_clouds(data["X"], data["Y"], reg, a=data.get("a"),
                                         b=data.get("b"), metric=metric)
        raise InvalidProblemError("an OT .npz needs (a, b, C, reg) or point clouds (X, Y, reg)")

    def _write(self, path: Path) -> None:
        save_npz(path, "ot", a=self.a, b=self.b, C=self.C, reg=np.array(self.reg))
