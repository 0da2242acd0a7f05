"""Red-black Gauss–Seidel smoothing around DCDM's network: a symmetric multiplicative
(V-cycle-shaped) preconditioner ``B`` with the network as its coarse correction.

The network ``N`` of ``learned/dcdm`` is a learned *additive* multilevel operator; an additive
multilevel method is weak on the high-frequency error that a smoother removes cheaply, and its
coarse levels are blurred across thin walls. One application of ``B`` is a V-cycle with
``N`` in the place of the coarse-grid correction (Trottenberg, Oosterlee & Schüller,
*Multigrid*, §2.4; the symmetric form as in Tatebe 1993, "The multigrid preconditioned
conjugate gradient method"):

1. ``z = S r`` — ``ν`` red-black Gauss–Seidel sweeps on ``A z = r`` from ``z = 0``;
2. ``z ← z + α N(r − A z)`` — the network, at a fixed scale ``α`` per problem;
3. ``z ← z + Sᵀ(r − A z)`` — ``ν`` sweeps in the reverse colour order (black, red).

The error propagator is ``I − BA = (I − SᵀA)(I − αNA)(I − SA)``: ``B`` is symmetric, and
positive definite for every symmetric positive semidefinite ``N`` (the Gauss–Seidel sweeps
are A-norm contractions), so DCDM's steps stay descent steps and plain PCG applies. The
5/7-point grid matrices are two-coloured by the parity of the cell's coordinate sum, so a
half sweep updates one colour independently of itself (numba, one pass over its rows).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from numba import njit

from problems import InvalidProblemError


@njit(cache=True, nogil=True, fastmath=True)
def half_sweep(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, rows: np.ndarray,
               inv_diag: np.ndarray, rhs: np.ndarray, x: np.ndarray) -> None:
    """Gauss–Seidel on the cells ``rows`` of one colour, ``x_i = (rhs_i − Σ_{j≠i} a_ij x_j) / a_ii``
    (``inv_diag`` per entry of ``rows``). ``indptr``/``indices``/``data``: the
    off-diagonal part of those rows only (CSR, one row per entry of ``rows``), so the loop
    has no branch; the other colour's values are read, so the order within a colour is free."""
    for p in range(rows.size):
        i = rows[p]
        s = rhs[i]
        for q in range(indptr[p], indptr[p + 1]):
            s -= data[q] * x[indices[q]]
        x[i] = s * inv_diag[p]


@njit(cache=True, nogil=True, fastmath=True)
def rows_residual(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, rows: np.ndarray,
                  diag: np.ndarray, rhs: np.ndarray, z: np.ndarray, out: np.ndarray) -> None:
    """``out_i = rhs_i − a_ii z_i − Σ_{j≠i} a_ij z_j`` on ``rows`` (off-diagonal CSR as in
    :func:`half_sweep`)."""
    for p in range(rows.size):
        i = rows[p]
        s = rhs[i] - diag[p] * z[i]
        for q in range(indptr[p], indptr[p + 1]):
            s -= data[q] * z[indices[q]]
        out[i] = s


@njit(cache=True, nogil=True)
def scaled_rows(rows: np.ndarray, inv_diag: np.ndarray, rhs: np.ndarray, x: np.ndarray) -> None:
    """``x_i = rhs_i / a_ii`` on ``rows``: the first half sweep from ``x = 0``."""
    for p in range(rows.size):
        i = rows[p]
        x[i] = rhs[i] * inv_diag[p]


class RedBlackGS:
    """``ν`` red-black Gauss–Seidel sweeps on ``A z = r`` for a matrix whose off-diagonal
    entries join cells of different colours only: :meth:`pre` (red, black, from ``z = 0``,
    and the residual it leaves) and :meth:`post` (black, red, from the current ``z``; in
    correction form these are ``z + Sᵀ(r − A z)``, the adjoint order of :meth:`pre`)."""

    def __init__(self, A: sp.spmatrix, colour: np.ndarray, sweeps: int = 1):
        A = sp.csr_matrix(A)
        A.sort_indices()
        colour = np.asarray(colour, dtype=bool)
        if colour.shape != (A.shape[0],):
            raise ValueError(f"colour must have one entry per unknown ({A.shape[0]}), got {colour.shape}")
        if int(sweeps) < 1:
            raise ValueError(f"sweeps must be >= 1, got {sweeps}")
        rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
        off = rows != A.indices
        if np.any(colour[rows[off]] == colour[A.indices[off]]):
            raise InvalidProblemError("the matrix couples cells of one colour: red-black "
                                      "Gauss–Seidel needs a 5/7-point grid stencil")
        diag = A.diagonal()
        if not np.all(diag > 0):
            raise InvalidProblemError("red-black Gauss–Seidel needs a positive diagonal")
        self.sweeps = int(sweeps)
        offdiag = (A - sp.diags(diag)).tocsr()
        offdiag.eliminate_zeros()
        self._colours = []
        for rows in (np.flatnonzero(colour), np.flatnonzero(~colour)):
            part = offdiag[rows].tocsr()
            part.sort_indices()
            # unsigned indices: numba then skips the negative-index wrap-around test (2× here)
            self._colours.append((part.indptr.astype(np.uint64), part.indices.astype(np.uint32),
                                  part.data, rows.astype(np.uint32), 1.0 / diag[rows], diag[rows]))

    def _sweep(self, colour: int, rhs: np.ndarray, z: np.ndarray) -> None:
        indptr, indices, data, rows, inv_diag, _ = self._colours[colour]
        half_sweep(indptr, indices, data, rows, inv_diag, rhs, z)

    def pre(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``z = S r`` (ν sweeps red, black from zero) and ``s = r − A z``, which is zero on
        the black cells after a black half sweep, so only the red rows are computed."""
        z = np.zeros_like(r)
        red = self._colours[0]
        scaled_rows(red[3], red[4], r, z)  # the first red half sweep, from zero
        self._sweep(1, r, z)
        for _ in range(self.sweeps - 1):
            self._sweep(0, r, z)
            self._sweep(1, r, z)
        s = np.zeros_like(r)
        indptr, indices, data, rows, _, diag = red
        rows_residual(indptr, indices, data, rows, diag, r, z, s)
        return z, s

    def post(self, r: np.ndarray, z: np.ndarray) -> None:
        """``z ← z + Sᵀ(r − A z)`` in place: ν sweeps black, red on ``A z = r``."""
        for _ in range(self.sweeps):
            self._sweep(1, r, z)
            self._sweep(0, r, z)


def grid_colours(mask: np.ndarray) -> np.ndarray:
    """Red (True) / black colour of each unknown (the fluid cells of ``mask`` in C order):
    the parity of the cell's coordinate sum."""
    coords = np.nonzero(mask)
    return (sum(coords) % 2) == 0


def smoothed(A: sp.spmatrix, network: Callable[[np.ndarray], np.ndarray], smoother: RedBlackGS,
             probe: np.ndarray, timing: dict[str, float] | None = None
             ) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    """The symmetric V-cycle ``B`` of the module docstring around a *linear* ``network``.
    The scale ``α = nᵀv / nᵀA n`` with ``n = N v`` is the exact line search of the network
    alone on ``probe`` (the right-hand side); the network learns directions only up to a
    scale (Kaneda et al., eq. (6)), and the multiplicative form needs one. ``timing``
    accumulates ``network`` and ``smoother`` seconds. Returns ``(B, α)``."""
    t = timing if timing is not None else {}
    n = network(probe)
    nAn = float(n @ (A @ n))
    alpha = float(n @ probe) / nAn if nAn > 0 else 1.0
    if not (np.isfinite(alpha) and alpha > 0):
        alpha = 1.0

    def apply(r: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        z, s = smoother.pre(r)  # step 1 and its residual
        t1 = time.perf_counter()
        n = network(s)  # step 2
        t2 = time.perf_counter()
        z += alpha * n
        smoother.post(r, z)  # step 3
        t["network"] = t.get("network", 0.0) + (t2 - t1)
        t["smoother"] = t.get("smoother", 0.0) + (t1 - t0) + (time.perf_counter() - t2)
        return z

    return apply, alpha
