"""Sparse symmetric positive-definite linear systems, including grid Poisson problems."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ._validation import (
    InvalidProblemError,
    InvalidSolutionError,
    as_float_array,
    as_sparse_square,
    check_symmetric,
)
from .base import Problem, atomic_path, file_extension
from .npz import load_npz, pack_matrix, require, save_npz, unpack_matrix


@dataclass
class Grid:
    """Geometry of a grid Poisson system: ``mask`` True for fluid cells (the unknowns),
    ``index`` maps a cell to its unknown (-1 for solid cells), ``coeff`` the cell
    coefficients (None for the constant-coefficient Laplacian)."""

    shape: tuple[int, ...]
    mask: np.ndarray
    index: np.ndarray
    coeff: np.ndarray | None = None

    def to_grid(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Scatter a vector of unknowns onto the grid (solid cells get ``fill``)."""
        out = np.full(self.shape, fill, dtype=np.asarray(x).dtype)
        out[self.mask] = x
        return out

    def from_grid(self, field: np.ndarray) -> np.ndarray:
        return np.asarray(field)[self.mask]

    def stencil(self, A: sp.spmatrix) -> tuple[np.ndarray, list[np.ndarray]]:
        """The matrix as grid arrays: ``diag`` (grid shape, 0 on solid cells) and, per axis,
        the face weights ``w[axis]`` between a cell and its successor along that axis (shape
        reduced by one along ``axis``; 0 where a face touches a solid cell), so that
        ``(A x)_i = diag_i x_i - sum_faces w x_neighbour`` (the 5/7-point stencil)."""
        diag = self.to_grid(sp.csr_matrix(A).diagonal())
        weights = []
        for axis in range(len(self.shape)):
            lo = [slice(None)] * len(self.shape)
            hi = [slice(None)] * len(self.shape)
            lo[axis] = slice(0, -1)
            hi[axis] = slice(1, None)
            both = self.mask[tuple(lo)] & self.mask[tuple(hi)]
            if self.coeff is None:
                w = both.astype(np.float64)
            else:
                ki, kj = self.coeff[tuple(lo)], self.coeff[tuple(hi)]
                w = np.where(both, 2.0 * ki * kj / (ki + kj), 0.0)
            weights.append(w)
        return diag, weights


class LinearSystem(Problem):
    """Solve A x = b with A sparse symmetric positive definite.

    Construction checks shape, finiteness, symmetry and a positive diagonal (necessary for
    SPD and cheap); full definiteness is detected by the solvers, which then report an
    error status. ``objective(x)`` is the relative residual ||b - A x|| / ||b||.
    """

    extensions: ClassVar[tuple[str, ...]] = (".mtx", ".npz")
    kind: ClassVar[str] = "linear"

    def __init__(self, A: Any, b: Any, *, grid: Grid | None = None, check_spd: bool = True):
        self.A = as_sparse_square(A, "A")
        n = self.A.shape[0]
        self.b = as_float_array(b, "b").ravel()
        if self.b.size != n:
            raise InvalidProblemError(f"b has {self.b.size} entries but A is {n} x {n}")
        if check_spd:
            check_symmetric(self.A, "A", rtol=1e-10)
            diag = self.A.diagonal()
            if np.any(diag <= 0):
                raise InvalidProblemError(
                    f"A is not positive definite: {int(np.sum(diag <= 0))} diagonal entries are <= 0"
                )
        self.grid = grid

    @property
    def size(self) -> int:
        return self.A.shape[0]

    def objective(self, solution: Any) -> float:
        try:
            x = np.asarray(solution, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise InvalidSolutionError("x must be a numeric vector")
        if x.size != self.size:
            raise InvalidSolutionError(f"x has {x.size} entries, expected {self.size}")
        bnorm = np.linalg.norm(self.b)
        r = self.b - self.A @ x
        return float(np.linalg.norm(r) / (bnorm if bnorm > 0 else 1.0))

    # ------------------------------------------------------------------ Poisson
    @classmethod
    def poisson(
        cls,
        shape: tuple[int, ...],
        mask: Any = None,
        rhs: Any = None,
        *,
        coeff: Any = None,
        remove_pockets: bool = True,
        seed: int = 0,
        neumann: Sequence[tuple[int, int]] = (),
    ) -> LinearSystem:
        """Finite-volume Poisson matrix -div(k grad p) on a 2-D or 3-D grid (5/7-point).

        ``mask`` (grid shape, True = fluid cell = unknown; default all fluid): solid cells are
        removed and act as Neumann walls (no flux). The outer border of the grid is a
        Dirichlet boundary (p = 0 outside) except the faces listed in ``neumann`` as
        ``(axis, side)`` pairs (side 0 = low end, 1 = high end), which are walls.
        ``coeff`` > 0 per cell gives variable coefficients (face value: harmonic mean).
        Fluid pockets not connected to a Dirichlet face make A singular; ``remove_pockets``
        turns them solid. ``rhs`` is a vector over fluid cells, a full grid field,
        ``"random"`` (the default: standard normal, seeded) or ``"divergence"`` (the
        divergence of a random smooth velocity field, as in a pressure projection).
        """
        try:
            sizes = np.asarray(shape, dtype=float).ravel()
        except (TypeError, ValueError):
            raise InvalidProblemError(f"shape must be a tuple of 2 or 3 integers, got {shape!r}") from None
        if sizes.size not in (2, 3) or not np.all(np.isfinite(sizes)) or np.any(sizes != np.round(sizes)) \
                or sizes.min() < 1:
            raise InvalidProblemError(f"shape must be 2-D or 3-D with positive integer sizes, got {shape!r}")
        shape = tuple(int(s) for s in sizes)
        if int(np.prod(shape)) > 50_000_000:
            raise InvalidProblemError(f"grid {shape} is too large")
        if mask is None:
            mask = np.ones(shape, dtype=bool)
        mask = np.asarray(mask)
        if mask.dtype != bool:
            if mask.dtype.kind not in "iuf" or not np.all(np.isin(mask, (0, 1))):
                raise InvalidProblemError("mask must be boolean (or 0/1): True = fluid cell, False = solid")
        mask = mask.astype(bool)
        if mask.shape != shape:
            raise InvalidProblemError(f"mask has shape {mask.shape}, grid is {shape}")
        k = None
        if coeff is not None:
            k = as_float_array(coeff, "coeff")
            if k.shape != shape:
                raise InvalidProblemError(f"coeff has shape {k.shape}, grid is {shape}")
            if np.any(k <= 0):
                raise InvalidProblemError("coeff must be > 0 everywhere")
        faces = _dirichlet_faces(shape, neumann)
        if remove_pockets:
            mask = _drop_pockets(mask, faces)
        if not mask.any():
            raise InvalidProblemError("the grid has no fluid cell connected to a Dirichlet boundary")
        A, index = _assemble(shape, mask, k, faces)
        grid = Grid(shape, mask, index, k)
        n = A.shape[0]
        if rhs is None or (isinstance(rhs, str) and rhs == "random"):
            rng = np.random.default_rng(seed)
            b = rng.standard_normal(n)
        elif isinstance(rhs, str):
            if rhs != "divergence":
                raise InvalidProblemError(f"rhs must be an array, 'random' or 'divergence', got {rhs!r}")
            b = divergence_rhs(mask, seed=seed)[mask]
        else:
            r = as_float_array(rhs, "rhs")
            if r.shape == shape:
                b = r[mask]
            elif r.size == n:
                b = r.ravel()
            else:
                raise InvalidProblemError(
                    f"rhs must have the grid shape {shape} or one entry per fluid cell ({n})"
                )
        return cls(A, b, grid=grid, check_spd=False)

    # ------------------------------------------------------------------ files
    @classmethod
    def _read(cls, path: Path) -> LinearSystem:
        if file_extension(path) == ".mtx":
            import scipy.io

            A = scipy.io.mmread(str(path))
            rhs_path = path.with_name(path.name[: -len(".mtx")] + "_b.mtx")
            if rhs_path.exists():
                rhs = scipy.io.mmread(str(rhs_path))
                b = np.asarray(rhs.todense() if sp.issparse(rhs) else rhs).ravel()
            else:
                A = sp.csr_matrix(A)
                b = A @ np.ones(A.shape[1])  # x = 1 solves it; a non-square A fails in __init__
            return cls(A, b)
        data = load_npz(path)
        if "mask" in data:
            require(data, "mask")
            return cls.poisson(tuple(data["mask"].shape), data["mask"], data.get("rhs"),
                               coeff=data.get("coeff"))
        require(data, "b")
        return cls(unpack_matrix(data, "A"), data["b"])

    def to_file(self, path: str | Path) -> None:
        """Write ``.npz``, or Matrix Market ``name.mtx`` plus the right-hand side ``name_b.mtx``."""
        path = Path(path)
        if file_extension(path) != ".mtx":
            return super().to_file(path)
        import scipy.io

        rhs_path = path.with_name(path.name[: -len(".mtx")] + "_b.mtx")
        with atomic_path(rhs_path) as tmp:
            scipy.io.mmwrite(str(tmp), self.b.reshape(-1, 1))
        with atomic_path(path) as tmp:
            scipy.io.mmwrite(str(tmp), self.A, symmetry="symmetric")

    def _write(self, path: Path) -> None:
        if self.grid is not None:
            extra = {} if self.grid.coeff is None else {"coeff": self.grid.coeff}
            save_npz(path, "linear", mask=self.grid.mask, rhs=self.b, **extra)
        else:
            save_npz(path, "linear", b=self.b, **pack_matrix("A", self.A))


def _neighbour_pairs(shape: tuple[int, ...], axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of cell pairs adjacent along ``axis``."""
    ids = np.arange(int(np.prod(shape))).reshape(shape)
    lo = [slice(None)] * len(shape)
    hi = [slice(None)] * len(shape)
    lo[axis] = slice(0, -1)
    hi[axis] = slice(1, None)
    return ids[tuple(lo)].ravel(), ids[tuple(hi)].ravel()


def _dirichlet_faces(shape: tuple[int, ...], neumann: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The (axis, side) faces of the grid border that are Dirichlet boundaries."""
    walls = set()
    for face in neumann:
        try:
            axis, side = (int(v) for v in face)
        except (TypeError, ValueError):
            raise InvalidProblemError(f"neumann faces are (axis, side) pairs, got {face!r}")
        if not (0 <= axis < len(shape) and side in (0, 1)):
            raise InvalidProblemError(
                f"neumann face {face!r}: axis must be in 0..{len(shape) - 1} and side 0 or 1")
        walls.add((axis, side))
    faces = [(a, s) for a in range(len(shape)) for s in (0, 1) if (a, s) not in walls]
    if not faces:
        raise InvalidProblemError("all border faces are Neumann: the matrix would be singular")
    return faces


def _drop_pockets(mask: np.ndarray, faces: list[tuple[int, int]] | None = None) -> np.ndarray:
    """Turn solid every fluid component that touches no Dirichlet face (it would be singular)."""
    shape = mask.shape
    flat = mask.ravel()
    rows, cols = [], []
    for axis in range(len(shape)):
        i, j = _neighbour_pairs(shape, axis)
        keep = flat[i] & flat[j]
        rows.append(i[keep])
        cols.append(j[keep])
    N = flat.size
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    G = sp.coo_matrix((np.ones(r.size), (r, c)), shape=(N, N))
    _, labels = connected_components(G, directed=False)
    border = np.zeros(shape, dtype=bool)
    if faces is None:
        faces = [(a, s) for a in range(len(shape)) for s in (0, 1)]
    for axis, side in faces:
        sl = [slice(None)] * len(shape)
        sl[axis] = -side
        border[tuple(sl)] = True
    good = np.unique(labels[(border & mask).ravel()])
    keep = np.isin(labels, good) & flat
    return keep.reshape(shape)


def _assemble(shape: tuple[int, ...], mask: np.ndarray, k: np.ndarray | None,
              faces: list[tuple[int, int]] | None = None):
    """Assemble the finite-volume matrix over fluid cells (design.md §7)."""
    flat = mask.ravel()
    N = flat.size
    index = np.full(N, -1, dtype=np.int64)
    index[flat] = np.arange(int(flat.sum()))
    kf = None if k is None else k.ravel()
    n = int(flat.sum())
    diag = np.zeros(n)
    rows, cols, vals = [], [], []
    for axis in range(len(shape)):
        i, j = _neighbour_pairs(shape, axis)
        both = flat[i] & flat[j]
        i, j = i[both], j[both]
        w = np.ones(i.size) if kf is None else 2.0 * kf[i] * kf[j] / (kf[i] + kf[j])
        a, b = index[i], index[j]
        rows += [a, b]
        cols += [b, a]
        vals += [-w, -w]
        np.add.at(diag, a, w)
        np.add.at(diag, b, w)
        # Dirichlet faces on the grid border (two-point flux to a ghost value 0)
        cells = np.arange(N).reshape(shape)
        for end in (0, -1):
            if faces is not None and (axis, -end) not in faces:
                continue
            sl = [slice(None)] * len(shape)
            sl[axis] = end
            border = cells[tuple(sl)].ravel()
            border = border[flat[border]]
            wb = np.ones(border.size) if kf is None else kf[border]
            np.add.at(diag, index[border], wb)
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(diag)
    A = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    return A, index.reshape(shape)


# ---------------------------------------------------------------------- generators
def random_obstacles(
    shape: tuple[int, ...],
    *,
    kind: str = "mixed",
    density: float = 0.2,
    seed: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """A random fluid mask (True = fluid) with solid obstacles covering about ``density``.

    ``kind``: ``"spheres"`` (discs / balls), ``"boxes"`` (axis-aligned blocks), ``"blobs"``
    (thresholded smooth noise: porous, irregular), ``"walls"`` (thin baffles with gaps), or
    ``"mixed"`` (one of them at random per call). The mask is returned before pocket removal
    (``LinearSystem.poisson`` removes them).
    """
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    kinds = ("spheres", "boxes", "blobs", "walls")
    if kind == "mixed":
        kind = kinds[int(rng.integers(len(kinds)))]
    if kind not in kinds:
        raise ValueError(f"kind must be one of {kinds + ('mixed',)}, got {kind!r}")
    if not 0 <= density < 0.9:
        raise ValueError(f"density must be in [0, 0.9), got {density}")
    solid = np.zeros(shape, dtype=bool)
    if density == 0:
        return ~solid
    coords = np.indices(shape, dtype=np.float64)
    m = min(shape)
    if kind == "blobs":
        from scipy.ndimage import gaussian_filter

        noise = gaussian_filter(rng.standard_normal(shape), sigma=max(1.0, m / 16), mode="wrap")
        solid = noise > np.quantile(noise, 1 - density)
    else:
        for _ in range(10_000):
            if solid.mean() >= density:
                break
            center = [rng.uniform(0, s) for s in shape]
            if kind == "spheres":
                rad = rng.uniform(0.03, 0.15) * m
                d2 = sum((c - x) ** 2 for c, x in zip(coords, center))
                solid |= d2 <= rad * rad
            elif kind == "boxes":
                half = [rng.uniform(0.02, 0.12) * m for _ in shape]
                inside = np.ones(shape, dtype=bool)
                for c, x, h in zip(coords, center, half):
                    inside &= np.abs(c - x) <= h
                solid |= inside
            else:  # walls: a thin slab across one axis with a gap
                axis = int(rng.integers(len(shape)))
                half = [rng.uniform(0.1, 0.4) * m for _ in shape]
                half[axis] = rng.uniform(0.5, 1.5)
                inside = np.ones(shape, dtype=bool)
                for c, x, h in zip(coords, center, half):
                    inside &= np.abs(c - x) <= h
                solid |= inside
    return ~solid


def random_coefficients(
    shape: tuple[int, ...], *, contrast: float = 10.0, seed: int | np.random.Generator | None = 0
) -> np.ndarray:
    """A smooth log-normal coefficient field with max/min ratio about ``contrast``."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    if not contrast >= 1:
        raise ValueError(f"contrast must be >= 1, got {contrast}")
    g = gaussian_filter(rng.standard_normal(shape), sigma=max(1.0, min(shape) / 12), mode="wrap")
    g = (g - g.min()) / (np.ptp(g) or 1.0)
    return np.exp(np.log(contrast) * (g - 0.5))


def divergence_rhs(mask: np.ndarray, *, seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """Right-hand side of a pressure projection: minus the divergence of a random smooth
    velocity field with zero normal velocity into solid cells (grid field, 0 on solids)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    mask = np.asarray(mask, dtype=bool)
    shape = mask.shape
    div = np.zeros(shape)
    for axis in range(len(shape)):
        u = gaussian_filter(rng.standard_normal(shape), sigma=max(1.0, min(shape) / 16), mode="wrap")
        # face velocities between a cell and its successor along axis; closed at solid faces
        lo = [slice(None)] * len(shape)
        hi = [slice(None)] * len(shape)
        lo[axis] = slice(0, -1)
        hi[axis] = slice(1, None)
        face = 0.5 * (u[tuple(lo)] + u[tuple(hi)]) * (mask[tuple(lo)] & mask[tuple(hi)])
        pad = [(0, 0)] * len(shape)
        pad[axis] = (1, 1)
        f = np.pad(face, pad)
        sl_hi = [slice(None)] * len(shape)
        sl_lo = [slice(None)] * len(shape)
        sl_hi[axis] = slice(1, None)
        sl_lo[axis] = slice(0, -1)
        div += f[tuple(sl_hi)] - f[tuple(sl_lo)]
    return np.where(mask, -div, 0.0)
