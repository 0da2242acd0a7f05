"""Preconditioners ``r ↦ M r ≈ A⁻¹ r`` for the PCG loop: incomplete Cholesky IC(0) (numba),
PyAMG smoothed aggregation and symmetric red-black Gauss–Seidel on a grid.

IC(0) (Meijerink & van der Vorst 1977; Saad, *Iterative Methods for Sparse Linear Systems*,
2nd ed., Algorithm 10.4 restricted to the symmetric case): ``A ≈ L Lᵀ`` with ``L`` keeping the
sparsity pattern of the lower triangle of ``A``. Row ``i`` of ``L`` is computed from
``L_ik = (a_ik − Σ_{j<k} L_ij L_kj) / L_kk`` and ``L_ii = sqrt(a_ii − Σ_{j<i} L_ij²)``.
Each preconditioner is fixed and SPD, as plain PCG assumes: ``L Lᵀ``, a symmetric AMG cycle
(pre- and post-smoothing mirrored) and the symmetric Gauss–Seidel V-cycle of :mod:`.grid`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from numba import njit

Preconditioner = Callable[[np.ndarray], np.ndarray]


@njit(cache=True, nogil=True)
def ic0_factor(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, shift: float) -> np.ndarray:
    """Values of ``L`` on the pattern of ``tril(A)`` (CSR, sorted columns, diagonal last in
    each row), factoring ``A + shift·diag(A)``. Returns an empty array on breakdown
    (a non-positive pivot), so the caller can retry with a larger shift."""
    n = indptr.size - 1
    L = data.copy()
    for i in range(n):
        start, end = indptr[i], indptr[i + 1]
        for p in range(start, end):
            k = indices[p]
            # s = Σ_{j<k} L_ij L_kj : merge the sorted rows i and k over columns < k
            s = 0.0
            a, b = start, indptr[k]
            bend = indptr[k + 1]
            while a < p and b < bend:
                ca, cb = indices[a], indices[b]
                if cb >= k:
                    break
                if ca == cb:
                    s += L[a] * L[b]
                    a += 1
                    b += 1
                elif ca < cb:
                    a += 1
                else:
                    b += 1
            if k < i:
                L[p] = (L[p] - s) / L[indptr[k + 1] - 1]
            else:
                d = L[p] * (1.0 + shift) - s
                if not d > 0.0:
                    return np.empty(0)
                L[p] = np.sqrt(d)
    return L


@njit(cache=True, nogil=True)
def ic0_solve(indptr: np.ndarray, indices: np.ndarray, L: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``z = (L Lᵀ)⁻¹ r``: forward substitution with ``L``, then backward with ``Lᵀ``
    (column-oriented over the rows of ``L``). ``L`` holds the *inverse* diagonal
    (:func:`ic0_stored`): the substitution is one long dependency chain, and a multiply in it
    has a fraction of a division's latency. ``L`` may be float32 with int32 ``indices``
    (half the memory traffic); the sums run in the float64 of ``r``."""
    n = r.size
    y = r.copy()
    for i in range(n):
        s = y[i]
        end = indptr[i + 1] - 1
        for p in range(indptr[i], end):
            s -= L[p] * y[indices[p]]
        y[i] = s * L[end]
    for i in range(n - 1, -1, -1):
        end = indptr[i + 1] - 1
        y[i] *= L[end]
        zi = y[i]
        for p in range(indptr[i], end):
            y[indices[p]] -= L[p] * zi
    return y


def ic0_stored(indptr: np.ndarray, indices: np.ndarray, L: np.ndarray, precision: str
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The factor as :func:`ic0_solve` reads it: inverse diagonal, and for ``precision="single"``
    float32 values with int32 pattern (a preconditioner needs no more: the CG recurrence and
    its residuals stay float64, so only the preconditioner's quality changes, by rounding)."""
    Li = L.copy()
    diag = indptr[1:] - 1
    Li[diag] = 1.0 / L[diag]
    if precision == "double":
        return indptr, indices, Li
    small = indptr[-1] < 2**31
    itype = np.int32 if small else np.int64
    return indptr.astype(itype), indices.astype(itype), Li.astype(np.float32)


def identity(r: np.ndarray) -> np.ndarray:
    """M = I (unpreconditioned CG)."""
    return r


def ic0(A: sp.spmatrix, precision: str = "single") -> Preconditioner:
    """IC(0) preconditioner ``r ↦ (L Lᵀ)⁻¹ r`` (:func:`ic0_factor`, in float64); on a
    non-positive pivot the factorization is retried on ``A + σ diag(A)`` with σ = 1e-3, 1e-2,
    ... (Manteuffel's shift). ``precision``: the factor as stored for the solves,
    ``"single"`` (float32, :func:`ic0_stored`) or ``"double"``."""
    low = sp.tril(sp.csr_matrix(A), format="csr")
    low.sum_duplicates()
    low.sort_indices()
    indptr = low.indptr.astype(np.int64)
    indices = low.indices.astype(np.int64)
    data = low.data.astype(np.float64)
    if np.any(indices[indptr[1:] - 1] != np.arange(A.shape[0])):
        raise ValueError("IC(0) needs a stored, nonzero diagonal")
    for shift in (0.0, 1e-3, 1e-2, 1e-1, 1.0):
        L = ic0_factor(indptr, indices, data, shift)
        if L.size:
            break
    else:
        raise ValueError("IC(0) broke down: A is not positive definite")
    ip, ix, Ls = ic0_stored(indptr, indices, L, precision)
    return lambda r: ic0_solve(ip, ix, Ls, r)


def amg(A: sp.spmatrix, cycle: str, strength: str | None, smooth: str | None) -> tuple[Preconditioner, dict]:
    """One PyAMG smoothed-aggregation cycle (Vaněk, Mandel & Brezina 1996) as ``M``, and the
    hierarchy's figures (levels, operator complexity)."""
    import pyamg

    ml = pyamg.smoothed_aggregation_solver(sp.csr_matrix(A), symmetry="symmetric",
                                           strength=strength, smooth=smooth)
    M = ml.aspreconditioner(cycle=cycle)
    return (lambda r: M @ r), {"levels": len(ml.levels),
                               "operator_complexity": float(ml.operator_complexity())}


def symmetric_gauss_seidel(problem: Any, sweeps: int, threads: int | None) -> Preconditioner:
    """Symmetric red-black Gauss–Seidel on the problem's grid (``sweeps`` red, black sweeps,
    then the same in reverse order): :class:`.grid.GridVCycle` without a coarse correction."""
    from .grid import GridVCycle

    return GridVCycle(problem, None, sweeps, threads=threads)
