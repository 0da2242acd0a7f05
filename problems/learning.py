"""Smooth and L1-regularized learning problems (the block coordinate descent family).

Objectives (x is the weight vector, A the n x p design):

- ``LeastSquares``:        f = 1/2 ||Ax - b||^2 + l2/2 ||x||^2
- ``LogisticRegression``:  f = sum_i log(1 + exp(-y_i a_i^T x)) + l2/2 ||x||^2, y in {-1, +1}
- ``SoftmaxRegression``:   f = sum_i [logsumexp(a_i^T X) - a_i^T X_{:, y_i}] + l2/2 ||X||_F^2,
                           X is p x k, labels in 0..k-1
- ``LabelPropagation``:    f = 1/2 sum_{i<j} w_ij ||X_i - X_j||^2 + reg/2 ||X_U||^2 over the
                           n x k score matrix X with labelled rows clamped to one-hot
- ``Lasso``:               f = 1/(2n) ||Ax - b||^2 + alpha ||x||_1   (scikit-learn's scaling)
- ``L1LogisticRegression``: f = 1/n sum_i log(1 + exp(-y_i a_i^T x)) + alpha ||x||_1
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.special import logsumexp

from ._validation import (
    InvalidProblemError,
    InvalidSolutionError,
    as_design_matrix,
    as_float_array,
    as_sparse_square,
    check_length,
    check_nonnegative_scalar,
    check_symmetric,
)
from .base import Problem, file_extension
from .npz import load_npz, pack_matrix, require, save_npz, unpack_matrix

SVMLIGHT_EXTENSIONS = (".svm", ".svmlight", ".libsvm")


def read_svmlight(path: Path) -> tuple[sp.csc_matrix, np.ndarray]:
    """A LIBSVM/svmlight file as (CSC design, labels), via scikit-learn's parser."""
    from sklearn.datasets import load_svmlight_file

    try:
        X, y = load_svmlight_file(str(path))
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise InvalidProblemError(f"malformed svmlight file ({exc})") from None
    if X.shape[0] == 0:
        raise InvalidProblemError("svmlight file has no rows")
    return sp.csc_matrix(X), np.asarray(y, dtype=np.float64)


def write_svmlight(path: Path, A: Any, y: np.ndarray) -> None:
    from sklearn.datasets import dump_svmlight_file

    dump_svmlight_file(A, y, str(path), zero_based=False)


class _DesignProblem(Problem):
    """A design matrix A (dense or sparse CSC) and a target vector."""

    extensions: ClassVar[tuple[str, ...]] = (".npz",) + SVMLIGHT_EXTENSIONS
    _npz_kind: ClassVar[str] = ""
    _penalty_name: ClassVar[str] = "l2"

    A: np.ndarray | sp.csc_matrix

    @property
    def n_samples(self) -> int:
        return self.A.shape[0]

    @property
    def n_features(self) -> int:
        return self.A.shape[1]

    @property
    def size(self) -> int:
        return self.n_features

    def _x(self, x: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
        shape = shape or (self.n_features,)
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidSolutionError("the solution must be a numeric array")
        if arr.shape != shape:
            if arr.size == int(np.prod(shape)):
                arr = arr.reshape(shape)
            else:
                raise InvalidSolutionError(f"the solution must have shape {shape}, got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise InvalidSolutionError("the solution contains NaN or inf")
        return arr

    def _penalty(self) -> float:
        return float(getattr(self, self._penalty_name))

    @classmethod
    def _read(cls, path: Path, **kwargs: Any) -> Problem:
        if file_extension(path) in SVMLIGHT_EXTENSIONS:
            A, y = read_svmlight(path)
            return cls._from_design(A, y, **kwargs)
        data = load_npz(path)
        require(data, "target")
        extra = {k: float(np.asarray(data[k])) for k in ("l2", "alpha", "reg") if k in data}
        extra.update(kwargs)
        return cls._from_design(unpack_matrix(data, "A"), data["target"], **extra)

    @classmethod
    def _from_design(cls, A: Any, y: np.ndarray, **kwargs: Any) -> Problem:
        return cls(A, y, **kwargs)

    def _target(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _write(self, path: Path) -> None:
        if file_extension(path) in SVMLIGHT_EXTENSIONS:
            write_svmlight(path, self.A, self._target())
            return
        save_npz(path, self._npz_kind, target=self._target(),
                 **{self._penalty_name: np.array(self._penalty())}, **pack_matrix("A", self.A))


def _check_pm1(y: Any, n: int) -> np.ndarray:
    y = as_float_array(y, "y", ndim=1)
    check_length(y, n, "y", "A (rows)")
    if not np.all(np.isin(y, (-1.0, 1.0))):
        bad = np.unique(y[~np.isin(y, (-1.0, 1.0))])[:5]
        raise InvalidProblemError(f"labels y must be -1 or +1; found {bad.tolist()}")
    return y


def _as_pm1(y: np.ndarray) -> np.ndarray:
    """Map a two-valued label vector to {-1, +1} (the larger value becomes +1)."""
    vals = np.unique(y)
    if vals.size != 2:
        raise InvalidProblemError(f"binary classification needs exactly 2 label values, got {vals.size}")
    return np.where(y == vals[1], 1.0, -1.0)


class LeastSquares(_DesignProblem):
    """f(x) = 1/2 ||A x - b||^2 + l2/2 ||x||^2."""

    kind: ClassVar[str] = "least_squares"
    _npz_kind: ClassVar[str] = "least_squares"

    def __init__(self, A: Any, b: Any, *, l2: float = 0.0):
        self.A = as_design_matrix(A)
        self.b = as_float_array(b, "b", ndim=1)
        check_length(self.b, self.A.shape[0], "b", "A (rows)")
        self.l2 = check_nonnegative_scalar(l2, "l2")

    def _target(self) -> np.ndarray:
        return self.b

    def objective(self, solution: Any) -> float:
        x = self._x(solution)
        r = self.A @ x - self.b
        return float(0.5 * r @ r + 0.5 * self.l2 * x @ x)


class LogisticRegression(_DesignProblem):
    """f(x) = sum_i log(1 + exp(-y_i a_i^T x)) + l2/2 ||x||^2 with y in {-1, +1}."""

    kind: ClassVar[str] = "logistic"
    _npz_kind: ClassVar[str] = "logistic"

    def __init__(self, A: Any, y: Any, *, l2: float = 0.0):
        self.A = as_design_matrix(A)
        self.y = _check_pm1(y, self.A.shape[0])
        self.l2 = check_nonnegative_scalar(l2, "l2")

    @classmethod
    def _from_design(cls, A: Any, y: np.ndarray, **kwargs: Any) -> Problem:
        return cls(A, _as_pm1(y), **kwargs)

    def _target(self) -> np.ndarray:
        return self.y

    def objective(self, solution: Any) -> float:
        x = self._x(solution)
        return float(np.logaddexp(0.0, -self.y * (self.A @ x)).sum() + 0.5 * self.l2 * x @ x)


class SoftmaxRegression(_DesignProblem):
    """Multinomial logistic regression; the solution X is (n_features, n_classes)."""

    kind: ClassVar[str] = "softmax"
    _npz_kind: ClassVar[str] = "softmax"

    def __init__(self, A: Any, labels: Any, *, n_classes: int | None = None, l2: float = 0.0):
        self.A = as_design_matrix(A)
        lab = as_float_array(labels, "labels", ndim=1)
        check_length(lab, self.A.shape[0], "labels", "A (rows)")
        if np.any(lab < 0) or np.any(lab != np.round(lab)):
            raise InvalidProblemError("labels must be integers 0..k-1")
        self.labels = lab.astype(np.int64)
        k = int(self.labels.max()) + 1 if n_classes is None else int(n_classes)
        if k < 2 or self.labels.max() >= k:
            raise InvalidProblemError(f"need at least 2 classes with labels < n_classes, got k={k}")
        self.n_classes = k
        self.l2 = check_nonnegative_scalar(l2, "l2")

    @classmethod
    def _from_design(cls, A: Any, y: np.ndarray, **kwargs: Any) -> Problem:
        _, labels = np.unique(y, return_inverse=True)
        return cls(A, labels, **kwargs)

    def _target(self) -> np.ndarray:
        return self.labels.astype(np.float64)

    @property
    def solution_shape(self) -> tuple[int, int]:
        return (self.n_features, self.n_classes)

    def objective(self, solution: Any) -> float:
        X = self._x(solution, self.solution_shape)
        Z = np.asarray(self.A @ X)
        picked = Z[np.arange(Z.shape[0]), self.labels]
        return float((logsumexp(Z, axis=1) - picked).sum() + 0.5 * self.l2 * np.sum(X * X))


class Lasso(_DesignProblem):
    """f(x) = 1/(2n) ||A x - b||^2 + alpha ||x||_1 (scikit-learn's Lasso scaling)."""

    kind: ClassVar[str] = "lasso"
    _npz_kind: ClassVar[str] = "lasso"
    _penalty_name: ClassVar[str] = "alpha"

    def __init__(self, A: Any, b: Any, alpha: float | None = None):
        self.A = as_design_matrix(A)
        self.b = as_float_array(b, "b", ndim=1)
        check_length(self.b, self.A.shape[0], "b", "A (rows)")
        self.alpha = 0.1 * self.alpha_max() if alpha is None else check_nonnegative_scalar(alpha, "alpha")

    def alpha_max(self) -> float:
        """Smallest alpha for which x = 0 is optimal: ||A^T b||_inf / n."""
        return float(np.max(np.abs(self.A.T @ self.b)) / self.n_samples)

    def _target(self) -> np.ndarray:
        return self.b

    def objective(self, solution: Any) -> float:
        x = self._x(solution)
        r = self.A @ x - self.b
        return float(0.5 / self.n_samples * r @ r + self.alpha * np.abs(x).sum())

    def duality_gap(self, solution: Any) -> float:
        """Primal minus the dual value at the rescaled residual (a certificate: >= f - f*)."""
        x = self._x(solution)
        n = self.n_samples
        r = self.b - self.A @ x
        corr = np.max(np.abs(self.A.T @ r)) / n
        theta = r / n / max(1.0, corr / self.alpha) if self.alpha > 0 else r / n
        dual = 0.5 / n * (self.b @ self.b) - 0.5 * n * np.sum((theta - self.b / n) ** 2)
        return float(self.objective(x) - dual)


class L1LogisticRegression(_DesignProblem):
    """f(x) = 1/n sum_i log(1 + exp(-y_i a_i^T x)) + alpha ||x||_1 with y in {-1, +1}."""

    kind: ClassVar[str] = "l1_logistic"
    _npz_kind: ClassVar[str] = "l1_logistic"
    _penalty_name: ClassVar[str] = "alpha"

    def __init__(self, A: Any, y: Any, alpha: float | None = None):
        self.A = as_design_matrix(A)
        self.y = _check_pm1(y, self.A.shape[0])
        self.alpha = 0.1 * self.alpha_max() if alpha is None else check_nonnegative_scalar(alpha, "alpha")

    @classmethod
    def _from_design(cls, A: Any, y: np.ndarray, **kwargs: Any) -> Problem:
        return cls(A, _as_pm1(y), **kwargs)

    def alpha_max(self) -> float:
        """Smallest alpha for which x = 0 is optimal: ||A^T y||_inf / (2n)."""
        return float(np.max(np.abs(self.A.T @ self.y)) / (2.0 * self.n_samples))

    def _target(self) -> np.ndarray:
        return self.y

    def objective(self, solution: Any) -> float:
        x = self._x(solution)
        loss = np.logaddexp(0.0, -self.y * (self.A @ x)).sum() / self.n_samples
        return float(loss + self.alpha * np.abs(x).sum())

    def duality_gap(self, solution: Any) -> float:
        """Primal minus the Fenchel dual at the rescaled dual point (a certificate: >= f - f*).

        The dual is D(rho) = 1/n sum_i H(n y_i rho_i), H the binary entropy, subject to
        ||A^T rho||_inf <= alpha; rho = y sigma(-y A x) / n scaled into the feasible set.
        """
        x = self._x(solution)
        n = self.n_samples
        rho = self.y / (1.0 + np.exp(np.clip(self.y * (self.A @ x), -700, 700))) / n
        corr = float(np.max(np.abs(self.A.T @ rho)))
        if self.alpha > 0 and corr > self.alpha:
            rho = rho * (self.alpha / corr)
        s = np.clip(n * rho * self.y, 0.0, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = -(np.where(s > 0, s * np.log(s), 0.0) + np.where(s < 1, (1 - s) * np.log1p(-s), 0.0))
        return float(self.objective(x) - ent.sum() / n)


class LabelPropagation(Problem):
    """Graph-based semi-supervised labelling (Bengio, Delalleau & Le Roux 2006).

    ``W`` sparse symmetric non-negative weights; ``labels`` in 0..k-1, -1 where unknown.
    The solution is the (n, k) score matrix X; labelled rows are clamped to one-hot and the
    objective is 1/2 sum_{i<j} w_ij ||X_i - X_j||^2 + reg/2 ||X_U||^2. With ``reg == 0``
    every connected component of unlabelled nodes must touch a labelled node (otherwise
    the minimizer is not unique); ``predict`` gives argmax labels.
    """

    extensions: ClassVar[tuple[str, ...]] = (".npz",)
    kind: ClassVar[str] = "label_propagation"

    def __init__(self, W: Any, labels: Any, *, reg: float = 0.0):
        self.W = as_sparse_square(W, "W")
        if self.W.nnz and self.W.data.min() < 0:
            raise InvalidProblemError("W must have non-negative weights")
        check_symmetric(self.W, "W")
        self.W.setdiag(0.0)
        self.W.eliminate_zeros()
        lab = as_float_array(labels, "labels", ndim=1)
        check_length(lab, self.W.shape[0], "labels", "W (rows)")
        if np.any(lab != np.round(lab)) or np.any(lab < -1):
            raise InvalidProblemError("labels must be integers: a class 0..k-1, or -1 for unknown")
        self.labels = lab.astype(np.int64)
        if not np.any(self.labels >= 0):
            raise InvalidProblemError("no labelled node: at least one label must be >= 0")
        self.n_classes = max(2, int(self.labels.max()) + 1)
        self.reg = check_nonnegative_scalar(reg, "reg")
        if self.reg == 0:
            self._check_components()

    def _check_components(self) -> None:
        n_comp, comp = connected_components(self.W, directed=False)
        labelled = np.zeros(n_comp, dtype=bool)
        labelled[comp[self.labels >= 0]] = True
        orphan = np.flatnonzero(~labelled[comp])
        if orphan.size:
            raise InvalidProblemError(
                f"{orphan.size} unlabelled node(s) (e.g. {orphan[:5].tolist()}) lie in graph "
                "components without any labelled node; connect them, label one node per "
                "component, or use reg > 0"
            )

    @property
    def size(self) -> int:
        return self.W.shape[0]

    @property
    def unlabelled(self) -> np.ndarray:
        return np.flatnonzero(self.labels < 0)

    def clamped(self) -> np.ndarray:
        """The (n, k) one-hot matrix of the labelled rows (zeros elsewhere)."""
        Y = np.zeros((self.size, self.n_classes))
        idx = np.flatnonzero(self.labels >= 0)
        Y[idx, self.labels[idx]] = 1.0
        return Y

    def laplacian(self) -> sp.csr_matrix:
        deg = np.asarray(self.W.sum(axis=1)).ravel()
        return sp.csr_matrix(sp.diags(deg) - self.W)

    def objective(self, solution: Any) -> float:
        try:
            X = np.asarray(solution, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidSolutionError("the solution must be a numeric (n, k) array")
        if X.shape != (self.size, self.n_classes):
            raise InvalidSolutionError(f"the solution must have shape {(self.size, self.n_classes)}")
        X = X.copy()
        known = self.labels >= 0
        X[known] = self.clamped()[known]
        LX = self.laplacian() @ X
        unl = ~known
        return float(0.5 * np.sum(X * LX) + 0.5 * self.reg * np.sum(X[unl] ** 2))

    def predict(self, solution: Any) -> np.ndarray:
        return np.argmax(np.asarray(solution), axis=1)

    @classmethod
    def from_points(cls, points: Any, labels: Any, k: int = 10, sigma: float | None = None,
                    reg: float = 0.0) -> LabelPropagation:
        """Symmetrized k-nearest-neighbour graph with Gaussian weights exp(-d^2 / sigma^2)."""
        from scipy.spatial import cKDTree

        P = as_float_array(points, "points", ndim=2)
        dist, nbr = cKDTree(P).query(P, k=min(k + 1, P.shape[0]))
        dist, nbr = dist[:, 1:], nbr[:, 1:]
        s = float(np.median(dist)) if sigma is None else float(sigma)
        w = np.exp(-(dist / max(s, 1e-12)) ** 2)
        n = P.shape[0]
        W = sp.csr_matrix((w.ravel(), (np.repeat(np.arange(n), nbr.shape[1]), nbr.ravel())), shape=(n, n))
        return cls(W.maximum(W.T), labels, reg=reg)

    @classmethod
    def lattice(cls, side: int, n_labelled: int = 10, n_classes: int = 2, seed: int = 0,
                reg: float = 0.0) -> LabelPropagation:
        """The paper's 2-D lattice (side x side, 4-neighbour unit weights), a few seeded labels."""
        from scipy.sparse import identity, kron

        rng = np.random.default_rng(seed)
        path = sp.diags([np.ones(side - 1), np.ones(side - 1)], [-1, 1])
        I = identity(side)
        W = sp.csr_matrix(kron(path, I) + kron(I, path))
        labels = -np.ones(side * side, dtype=np.int64)
        chosen = rng.choice(side * side, size=n_labelled, replace=False)
        labels[chosen] = np.arange(n_labelled) % n_classes
        return cls(W, labels, reg=reg)

    @classmethod
    def _read(cls, path: Path) -> LabelPropagation:
        data = load_npz(path)
        require(data, "labels")
        reg = float(np.asarray(data["reg"])) if "reg" in data else 0.0
        return cls(unpack_matrix(data, "W"), data["labels"], reg=reg)

    def _write(self, path: Path) -> None:
        save_npz(path, "label_propagation", labels=self.labels, reg=np.array(self.reg),
                 **pack_matrix("W", self.W))
