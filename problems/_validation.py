"""Input validation shared by every problem class.

Every check raises :class:`InvalidProblemError` with a message a person can act on,
never a traceback from deep inside numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp


class InvalidProblemError(ValueError):
    """The data given for a problem (arrays or a file) cannot define a valid instance."""


class InvalidSolutionError(ValueError):
    """A candidate solution does not have the structure the problem requires."""


def as_float_array(
    value: Any, name: str, ndim: int | None = None, *, allow_empty: bool = False
) -> np.ndarray:
    """Convert ``value`` to a finite float64 array, checking its number of dimensions."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidProblemError(f"{name} must be numeric, got {type(value).__name__}: {exc}")
    if ndim is not None and arr.ndim != ndim:
        raise InvalidProblemError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise InvalidProblemError(f"{name} is empty")
    check_finite(arr, name)
    return arr


def check_finite(arr: np.ndarray | sp.spmatrix, name: str) -> None:
    """Raise if ``arr`` (dense or sparse) holds NaN or infinite values."""
    data = arr.data if sp.issparse(arr) else arr
    if not np.all(np.isfinite(data)):
        bad = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
        raise InvalidProblemError(f"{name} contains {bad} NaN or infinite value(s)")


def as_design_matrix(value: Any, name: str = "A") -> np.ndarray | sp.csc_matrix:
    """A finite 2-D design matrix: dense float64 C-array or sparse CSC float64."""
    if sp.issparse(value):
        mat = sp.csc_matrix(value, dtype=np.float64)
        if mat.ndim != 2:
            raise InvalidProblemError(f"{name} must be 2-dimensional")
        if mat.shape[0] == 0 or mat.shape[1] == 0:
            raise InvalidProblemError(f"{name} is empty (shape {mat.shape})")
        mat.sum_duplicates()
        check_finite(mat, name)
        return mat
    return np.ascontiguousarray(as_float_array(value, name, ndim=2))


def as_sparse_square(value: Any, name: str) -> sp.csr_matrix:
    """A finite square sparse matrix in CSR format."""
    try:
        mat = sp.csr_matrix(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidProblemError(f"{name} must be a matrix: {exc}")
    if mat.shape[0] != mat.shape[1]:
        raise InvalidProblemError(f"{name} must be square, got shape {mat.shape}")
    if mat.shape[0] == 0:
        raise InvalidProblemError(f"{name} is empty")
    mat.sum_duplicates()
    check_finite(mat, name)
    return mat


def check_symmetric(mat: sp.spmatrix, name: str, rtol: float = 1e-10) -> None:
    """Raise if a sparse matrix is not symmetric up to ``rtol`` of its largest entry."""
    diff = abs(mat - mat.T)
    scale = max(float(abs(mat).max()) if mat.nnz else 0.0, 1e-300)
    if diff.nnz and float(diff.max()) > rtol * scale:
        raise InvalidProblemError(f"{name} must be symmetric (max |{name} - {name}^T| = {diff.max():.3g})")


def check_length(arr: np.ndarray, expected: int, name: str, other: str) -> None:
    if arr.shape[0] != expected:
        raise InvalidProblemError(
            f"{name} has {arr.shape[0]} entries but {other} has {expected}; they must match"
        )


def check_nonnegative_scalar(value: Any, name: str, strict: bool = False) -> float:
    try:
        val = float(value)
    except (TypeError, ValueError):
        raise InvalidProblemError(f"{name} must be a number, got {value!r}")
    if not np.isfinite(val):
        raise InvalidProblemError(f"{name} must be finite, got {val}")
    if strict and val <= 0:
        raise InvalidProblemError(f"{name} must be > 0, got {val}")
    if val < 0:
        raise InvalidProblemError(f"{name} must be >= 0, got {val}")
    return val
