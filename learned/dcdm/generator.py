"""Training data for DCDM: random geometries and right-hand sides built from Ritz vectors.

Kaneda et al. (ICML 2023) §3.3 / reference ``create_training_dataset``: right-hand sides are
``b = Σ_j c_j v_j`` over approximate eigenvectors ``v_j`` of A (Lanczos / Ritz vectors), with
coefficients weighted toward the low end of the spectrum (``c_j ~ 9·N(0,1)`` on the lowest
half, ``N(0,1)`` on the rest). Here every batch gets fresh random geometries (obstacles,
Neumann walls, optional variable coefficients) so one model serves many geometries
(:class:`RitzPool`: hundreds of Ritz vectors per geometry, computed once).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from problems import LinearSystem
from problems.linear import random_coefficients, random_obstacles

from .model import grid_features


@dataclass
class Batch:
    """Numpy arrays of shape (batch, 1, *grid): rhs ``r``, ``mask``, ``logk``, ``diag`` and the
    per-axis face ``weights`` of the stencil."""

    r: np.ndarray
    mask: np.ndarray
    logk: np.ndarray
    diag: np.ndarray
    weights: list[np.ndarray]
    rAr: np.ndarray | None = None  # rᵀA⁻¹r per sample (exact, sparse LU), for the energy loss


def random_problem(shape: tuple[int, ...], rng: np.random.Generator) -> LinearSystem:
    """A random grid Poisson system: obstacles of a random kind and density, sometimes
    Neumann walls and variable coefficients."""
    density = float(rng.uniform(0.0, 0.35))
    mask = random_obstacles(shape, kind="mixed", density=density, seed=rng)
    coeff = random_coefficients(shape, contrast=float(rng.uniform(2, 100)), seed=rng) \
        if rng.random() < 0.3 else None
    neumann = []
    if rng.random() < 0.3:
        faces = [(a, s) for a in range(len(shape)) for s in (0, 1)]
        pick = rng.choice(len(faces), size=int(rng.integers(1, len(faces))), replace=False)
        neumann = [faces[i] for i in pick]
    return LinearSystem.poisson(shape, mask, coeff=coeff, neumann=neumann, seed=int(rng.integers(2**31)))


def ritz_vectors(A: sp.spmatrix, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``m`` Lanczos steps with full reorthogonalization from a random start; returns the Ritz
    values (ascending) and Ritz vectors (n × m)."""
    n = A.shape[0]
    m = min(m, n)
    V = np.zeros((n, m))
    alpha = np.zeros(m)
    beta = np.zeros(m)
    v = rng.standard_normal(n)
    v /= np.linalg.norm(v)
    k = m
    for j in range(m):
        V[:, j] = v
        w = A @ v
        alpha[j] = v @ w
        w -= V[:, : j + 1] @ (V[:, : j + 1].T @ w)
        w -= V[:, : j + 1] @ (V[:, : j + 1].T @ w)
        b = np.linalg.norm(w)
        if j + 1 < m:
            if b < 1e-10:
                k = j + 1
                break
            beta[j] = b
            v = w / b
    T = np.diag(alpha[:k]) + np.diag(beta[: k - 1], 1) + np.diag(beta[: k - 1], -1)
    theta, S = np.linalg.eigh(T)
    return theta, V[:, :k] @ S


def ritz_rhs(U: np.ndarray, count: int, rng: np.random.Generator, high: float = 0.0) -> np.ndarray:
    """Right-hand sides Σ c_j u_j with c_j ~ 9·N(0,1) on the lowest half of the spectrum and
    N(0,1) on the rest; with ``high`` > 0 that fraction of them (on average) has c_j = 0 on the
    lowest half — the high-frequency residuals DCDM is left with once the smooth part is gone
    (without them a 3-D net stalled at relative residual 5e-2 on a residual whose Rayleigh
    quotient was 0.8 λ_max; ``benchmarks/results/learned_dcdm.md``)."""
    k = U.shape[1]
    c = rng.standard_normal((k, count))
    c[: k // 2] *= 9.0
    if high > 0:
        c[: k // 2, rng.random(count) < high] = 0.0
    return U @ c


class RitzPool:
    """The training set: ``per_size`` random geometries for each grid size, each with its
    ``vectors`` Ritz vectors (Lanczos with full reorthogonalization; ``min(vectors, n)``),
    stored once. A batch (:meth:`batch`) draws fresh coefficients ``c`` for
    :func:`ritz_rhs` on every call, so every step sees new right-hand sides weighted toward
    the low end of the spectrum (a ``noise`` fraction of them replaced by white noise on the
    unknowns, which the few hundred Ritz vectors of a 3-D grid leave out: the middle of the
    spectrum) (Kaneda et al. §3.3; the reference code uses 10,000 Lanczos
    vectors of one geometry, here hundreds per geometry over many geometries)."""

    def __init__(self, shapes: list[tuple[int, ...]], per_size: int, vectors: int,
                 rng: np.random.Generator, exact: bool = False, high: float = 0.0, noise: float = 0.0):
        self.high, self.noise = high, noise
        self.entries: dict[tuple[int, ...], list[dict]] = {}
        for shape in shapes:
            for _ in range(per_size):
                prob = random_problem(shape, rng)
                _, U = ritz_vectors(prob.A, vectors, rng)
                g = prob.grid
                d, w = g.stencil(prob.A)
                m, lk = grid_features(g)
                entry = {"grid": g, "U": U.astype(np.float32), "mask": m, "logk": lk, "diag": d,
                         "weights": w, "lu": spla.splu(sp.csc_matrix(prob.A)) if exact else None}
                self.entries.setdefault(tuple(shape), []).append(entry)

    def vectors(self) -> int:
        """Ritz vectors held, over all geometries."""
        return sum(e["U"].shape[1] for es in self.entries.values() for e in es)

    def batch(self, shape: tuple[int, ...], n_geom: int, per_geom: int, rng: np.random.Generator) -> Batch:
        """``n_geom * per_geom`` right-hand sides ``Σ c_j u_j`` (unit RMS) on grids of ``shape``."""
        es = self.entries[tuple(shape)]
        rs, masks, logks, diags, rars = [], [], [], [], []
        weights: list[list[np.ndarray]] = [[] for _ in shape]
        for i in rng.choice(len(es), size=n_geom, replace=n_geom > len(es)):
            e = es[int(i)]
            R = ritz_rhs(e["U"].astype(np.float64), per_geom, rng, self.high)
            if self.noise > 0:  # white noise on the unknowns: every part of the spectrum
                white = rng.random(per_geom) < self.noise
                R[:, white] = rng.standard_normal((R.shape[0], int(white.sum())))
            R /= np.sqrt(np.mean(R ** 2, axis=0)) + 1e-30
            if e["lu"] is not None:  # rᵀA⁻¹r, one solve with all the geometry's columns
                rars.extend(np.sum(R * e["lu"].solve(R), axis=0).tolist())
            for j in range(per_geom):
                rs.append(e["grid"].to_grid(R[:, j]))
                masks.append(e["mask"])
                logks.append(e["logk"])
                diags.append(e["diag"])
                for a in range(len(shape)):
                    weights[a].append(e["weights"][a])

        def add(xs: list[np.ndarray]) -> np.ndarray:
            return np.stack(xs)[:, None].astype(np.float32)

        return Batch(add(rs), add(masks), add(logks), add(diags), [add(w) for w in weights],
                     np.asarray(rars, dtype=np.float64) if rars else None)
