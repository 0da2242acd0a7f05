"""Grid kernels for Poisson problems: red-black Gauss–Seidel sweeps on the stencil, the
scatter / gather between unknowns and the grid, and the symmetric V-cycle ``B`` they make
with an optional coarse correction ``N`` (``pcg-sgs`` without one; DCDM with its network,
``learned/dcdm``).

A network ``N`` such as DCDM's is a learned *additive* multilevel operator; an additive
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
are A-norm contractions), so DCDM's steps stay descent steps and plain PCG applies.

Everything runs on the grid in float32, like the network (a preconditioner needs no more; the
iteration itself stays in float64): the 5/7-point stencil as grid arrays
(``Grid.stencil``), red cells those with an even coordinate sum, so a half sweep updates one
colour independently of itself. 2-D grids run as ``1 × n0 × n1`` 3-D grids.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np
from numba import njit

from problems import InvalidProblemError


def _colour_pass_kernel(boxed: bool):
    """:func:`colour_pass` (``boxed=False``: the whole grid, the box arguments ignored) or
    :func:`colour_pass_box`, compiled from this one source. Two compilations because the
    bounds cost speed: with run-time box bounds the whole-grid pass ran 5 % slower (128³,
    1024²; 12 % before clamping them to the grid), and zeroing ``out`` inside the kernel cost
    another 10 %, so the residual buffer is zeroed once, by its owner."""

    @njit(cache=True, nogil=True, fastmath=True)
    def kernel(R: np.ndarray, Z: np.ndarray, coef: np.ndarray, w0: np.ndarray, w1: np.ndarray,
               w2: np.ndarray, colour: int, out: np.ndarray, residual: bool,
               i0: int = 0, i1: int = 0, j0: int = 0, j1: int = 0) -> None:
        n0, n1, n2 = Z.shape
        if boxed:
            i0, i1, j0, j1 = max(i0, 0), min(i1, n0), max(j0, 0), min(j1, n1)
        else:
            i0, i1, j0, j1 = 0, n0, 0, n1
        for i in range(i0, i1):
            for j in range(j0, j1):
                for k in range((colour + i + j) % 2, n2, 2):
                    s = R[i, j, k]
                    if residual:
                        s -= coef[i, j, k] * Z[i, j, k]
                    if i > 0:
                        s += w0[i - 1, j, k] * Z[i - 1, j, k]
                    if i < n0 - 1:
                        s += w0[i, j, k] * Z[i + 1, j, k]
                    if j > 0:
                        s += w1[i, j - 1, k] * Z[i, j - 1, k]
                    if j < n1 - 1:
                        s += w1[i, j, k] * Z[i, j + 1, k]
                    if k > 0:
                        s += w2[i, j, k - 1] * Z[i, j, k - 1]
                    if k < n2 - 1:
                        s += w2[i, j, k] * Z[i, j, k + 1]
                    out[i, j, k] = s if residual else s * coef[i, j, k]

    return kernel


colour_pass = _colour_pass_kernel(boxed=False)
colour_pass.__doc__ = """``colour_pass(R, Z, coef, w0, w1, w2, colour, out, residual)``: one pass over
the cells with ``(i + j + k) % 2 == colour`` (``w0``/``w1``/``w2`` the face weights along each axis,
``Grid.stencil``); two uses:

- ``residual=False``, ``out`` is ``Z``, ``coef`` the inverse diagonal: a Gauss–Seidel half
  sweep ``Z = (R + Σ_faces w Z_neighbour) / a_ii`` (``coef`` 0 on solid cells, which stay 0);
- ``residual=True``, ``coef`` the diagonal, colour 0 after a black half sweep:
  ``out = R − A Z`` on the red cells; ``out`` must hold zeros on the black ones (their
  residual is exactly zero once they are relaxed), which this pass never writes.

One kernel with a flag rather than a shared neighbour-sum helper: a numba helper, even with
``inline="always"``, made the kernels 12× slower (2.8 ms against 0.22 ms per half sweep at
256²); the flag costs nothing measurable."""

colour_pass_box = _colour_pass_kernel(boxed=True)
colour_pass_box.__doc__ = """:func:`colour_pass` on the box ``i0 ≤ i < i1, j0 ≤ j < j1`` (all
``k``), the four bounds after ``residual``. The cells of one colour depend only on the other
colour, so disjoint boxes may run at once (:class:`SlabPasses`), with the same result to the
bit as one pass over the whole grid."""


MIN_SLAB_CELLS = 1 << 20
"""Fewest cells per thread in :class:`SlabPasses` (two slabs from 128³ and 2048²). A pass
must take several milliseconds for the hand-off to pay on this 2-vCPU virtual machine: the
waiting thread woke up to 1.8 ms late, so V-cycles on two threads ran 0.75× the one-thread
time at 128³ (5.7 ms per slab and pass) but 1.09× at 1024² (2 ms) and 1.07× at 64³ and 512²
(DCDM round 8); on cores that wake faster the threshold could be lower."""

_POOL: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``workers`` threads. They wait on a queue and do not spin,
    unlike numba's OpenMP workers (``prange``), which slowed the torch network that runs
    between the sweeps to a third (DCDM round 7)."""
    if workers not in _POOL:
        _POOL[workers] = ThreadPoolExecutor(workers, thread_name_prefix="optbox-sweep")
    return _POOL[workers]


class SlabPasses:
    """:func:`colour_pass` over a ``shape3`` grid split into ``threads`` slabs along its first
    axis longer than 1 (``i`` in 3-D, ``j`` for a 2-D grid stored as ``1 × n0 × n1``), the
    slabs run at once on threads (the kernel releases the GIL) — the same result to the bit
    as one pass, since the cells of one colour depend only on the other colour. ``threads``
    defaults to ``NUMBA_NUM_THREADS`` (numba.config: the cores), capped so that every slab
    has at least ``min_cells`` cells; one slab runs on the calling thread alone."""

    def __init__(self, shape3: tuple[int, int, int], threads: int | None = None,
                 min_cells: int = MIN_SLAB_CELLS):
        n0, n1, n2 = shape3
        threads = numba.config.NUMBA_NUM_THREADS if threads is None else threads
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        axis = 0 if n0 > 1 else 1
        extent = shape3[axis]
        parts = max(1, min(threads, extent, (n0 * n1 * n2) // max(1, min_cells)))
        cuts = [extent * p // parts for p in range(parts + 1)]
        self.boxes = [(a, b, 0, n1) if axis == 0 else (0, n0, a, b) for a, b in zip(cuts, cuts[1:])]

    def __call__(self, R: np.ndarray, Z: np.ndarray, coef: np.ndarray, weights: tuple,
                 colour: int, out: np.ndarray, residual: bool) -> None:
        args = (R, Z, coef, *weights, colour, out, residual)
        if len(self.boxes) == 1:
            colour_pass(*args)
            return
        pool = _pool(len(self.boxes) - 1)
        pending = [pool.submit(colour_pass_box, *args, *box) for box in self.boxes[1:]]
        colour_pass_box(*args, *self.boxes[0])
        for job in pending:
            job.result()


@njit(cache=True, nogil=True, fastmath=True)
def scaled_add(Z: np.ndarray, alpha: float, N: np.ndarray) -> None:
    """``Z += α N`` in place."""
    z, n = Z.reshape(-1), N.reshape(-1)
    for p in range(z.size):
        z[p] += alpha * n[p]


@njit(cache=True, nogil=True)
def scatter_scaled(r: np.ndarray, idx: np.ndarray, scale: float, field: np.ndarray) -> None:
    """``field[idx] = scale · r`` (float64 unknowns → the float32 grid, in one pass)."""
    for p in range(idx.size):
        field[idx[p]] = np.float32(scale * r[p])


@njit(cache=True, nogil=True)
def gather(field: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``field[idx]`` as float64 (the grid → the unknowns, in one pass)."""
    out = np.empty(idx.size)
    for p in range(idx.size):
        out[p] = field[idx[p]]
    return out


def unknown_cells(grid: Any) -> np.ndarray:
    """Flat grid index of each unknown (unsigned: numba then skips the wrap-around test)."""
    return np.flatnonzero(grid.mask.ravel()).astype(np.uint32 if grid.mask.size < 2**32 else np.uint64)


def scatter_unit_rms(r: np.ndarray, idx: np.ndarray, field: np.ndarray) -> float:
    """``field[idx] = r / rms(r)`` (float32, flat grid; the sweeps and networks run at unit
    scale); returns ``rms(r)`` (1 for a zero vector)."""
    rms = float(np.sqrt(np.dot(r, r) / r.size)) or 1.0
    scatter_scaled(r, idx, 1.0 / rms, field)
    return rms


def _as3d(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a if a.ndim == 3 else a[None], dtype=np.float32)


def grid_stencil(problem: Any, sweeps: int) -> tuple[Any, np.ndarray, list[np.ndarray]]:
    """Checks shared by both V-cycles; returns the grid and its stencil (``Grid.stencil``)."""
    if isinstance(sweeps, bool) or int(sweeps) != sweeps or sweeps < 1:
        raise ValueError(f"sweeps must be an integer >= 1, got {sweeps!r}")
    grid = problem.grid
    if grid is None:
        raise InvalidProblemError("red-black smoothing needs a grid Poisson problem")
    diag, weights = grid.stencil(problem.A)
    if np.any(diag[grid.mask] <= 0):
        raise InvalidProblemError("red-black Gauss–Seidel needs a positive diagonal")
    return grid, diag, weights


def line_search_scale(n_dot_v: float, nAn: float) -> float:
    """``α = nᵀv / nᵀA n``, or 1 where that is not a positive number."""
    alpha = n_dot_v / nAn if nAn > 0 else 1.0
    return alpha if np.isfinite(alpha) and alpha > 0 else 1.0


class GridVCycle:
    """``B`` of the module docstring on a grid problem, for vectors of unknowns (float64 in
    and out). ``network`` maps a float32 field of the grid's shape to one (linear, SPSD), or
    None for the symmetric Gauss–Seidel sweeps alone (``pcg-sgs``);
    ``probe`` (the right-hand side) fixes ``α = nᵀv / nᵀA n`` with ``n = N v``: the exact
    line search of the network alone (it learns directions only up to a scale, Kaneda et al.
    eq. (6); the multiplicative form needs one). ``timing`` accumulates ``network`` and
    ``smoother`` seconds; ``threads`` for the sweeps (:class:`SlabPasses`)."""

    def __init__(self, problem: Any, network: Callable[[np.ndarray], np.ndarray] | None, sweeps: int = 1,
                 probe: np.ndarray | None = None, timing: dict[str, float] | None = None,
                 threads: int | None = None):
        grid, diag, weights = grid_stencil(problem, sweeps)
        self.shape3 = (1, *grid.shape) if len(grid.shape) == 2 else tuple(grid.shape)
        self.diag = _as3d(diag)
        self.inv_diag = _as3d(np.where(grid.mask, 1.0 / np.where(grid.mask, diag, 1.0), 0.0))
        ws = [_as3d(w) for w in weights]
        self.weights = (np.zeros((0, *self.shape3[1:]), np.float32), *ws) if len(ws) == 2 else tuple(ws)
        self.sweeps, self.network, self.grid = int(sweeps), network, grid
        self.colour_pass = SlabPasses(self.shape3, threads)
        self.idx = unknown_cells(grid)
        self.timing = timing if timing is not None else {}
        self._R = np.zeros(self.shape3, np.float32)
        self._S = np.zeros(self.shape3, np.float32)  # black cells stay 0 (colour_pass)
        self._Z = np.zeros(self.shape3, np.float32)
        self.alpha = 1.0
        if probe is not None and network is not None:
            self.alpha = self._scale(problem.A, probe)

    def _scale(self, A: Any, v: np.ndarray) -> float:
        rms = scatter_unit_rms(v, self.idx, self._R.reshape(-1))
        n = gather(self.network(self._R.reshape(self.grid.shape)).reshape(-1), self.idx)
        return line_search_scale(float(n @ v) / rms, float(n @ (A @ n)))

    def pre(self, R: np.ndarray) -> np.ndarray:
        """Step 1 on the grid: ``Z = S R`` (red, black × ν from zero); leaves ``R − A Z`` in
        ``self._S`` (only where a network will read it) and returns ``Z``, a buffer that the
        next call overwrites."""
        Z = self._Z
        Z.fill(0.0)
        sweep = self.colour_pass
        for _ in range(self.sweeps):
            sweep(R, Z, self.inv_diag, self.weights, 0, Z, False)
            sweep(R, Z, self.inv_diag, self.weights, 1, Z, False)
        if self.network is not None:
            sweep(R, Z, self.diag, self.weights, 0, self._S, True)
        return Z

    def post(self, R: np.ndarray, Z: np.ndarray) -> None:
        """Step 3 on the grid, in place: ``Z ← Z + Sᵀ(R − A Z)`` (black, red × ν)."""
        sweep = self.colour_pass
        for _ in range(self.sweeps):
            sweep(R, Z, self.inv_diag, self.weights, 1, Z, False)
            sweep(R, Z, self.inv_diag, self.weights, 0, Z, False)

    def __call__(self, r: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        R = self._R
        rms = scatter_unit_rms(r, self.idx, R.reshape(-1))  # B is linear: run it at unit scale
        Z = self.pre(R)
        t1 = time.perf_counter()
        if self.network is not None:
            scaled_add(Z, self.alpha, self.network(self._S.reshape(self.grid.shape)))
        t2 = time.perf_counter()
        self.post(R, Z)
        z = gather(Z.reshape(-1), self.idx)
        z *= rms
        t = self.timing
        t["network"] = t.get("network", 0.0) + (t2 - t1)
        t["smoother"] = t.get("smoother", 0.0) + (t1 - t0) + (time.perf_counter() - t2)
        return z
