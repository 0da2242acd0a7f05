"""Block selection rules of BCD (Nutini, Laradji & Schmidt 2022, §2-3), as one table.

Each rule is one :class:`Rule` in :data:`RULES`: how it picks one of the fixed blocks
(``block``), which coordinates it takes as a variable block (``coords``), whether it reads the
full gradient every iteration (``greedy``), which per-block data the setup must prepare
(``needs``: ``"probs"`` sampling probabilities, ``"diagonal"`` the diagonal bounds D_b ⪰ M_b,
``"quadratic"`` the inverses M_b⁻¹ of fixed blocks / the design for variable ones) and
whether it works with forest blocks. Adding a rule is one entry; the option's choices, the
checks and the loop follow from the table. Rules only read a :class:`Selection`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp


@dataclass
class Selection:
    """What a rule may look at when it picks the next block.

    ``pos`` counts the blocks visited so far; ``G`` is the full gradient (p x k), current
    whenever the rule is greedy. Fixed blocks: ``nb`` blocks, ``pad`` their (nb x width)
    index table padded with the dummy row p, ``lips`` the bounds L_b, ``dpad`` the padded
    diagonal bounds and ``mpad`` the padded M_b⁻¹ (when the rule needs them). Variable blocks:
    ``tau`` coordinates out of ``p`` (``nb`` = ceil(p / tau) cyclic chunks), the coordinate
    bounds ``coord_l``, for GSD / GSQ the variable-block diagonal bound ``coord_d``
    (:func:`gsd_diagonal`) and, for GSQ, the design with the curvature bound c AᵀA + l2 I.
    ``probs``: the sampling probabilities (blocks or coordinates).
    """

    rng: np.random.Generator
    nb: int
    pos: int = 0
    G: np.ndarray | None = None
    pad: np.ndarray | None = None
    lips: np.ndarray | None = None
    dpad: np.ndarray | None = None
    mpad: np.ndarray | None = None
    probs: np.ndarray | None = None
    tau: int = 0
    p: int = 0
    coord_l: np.ndarray | None = None
    A: Any = None
    c: float = 1.0
    l2: float = 0.0
    coord_d: np.ndarray | None = None

    def padded(self) -> np.ndarray:
        """The gradient gathered per fixed block, (nb, width, k), zero in the padding."""
        G = self.G
        return np.vstack([G, np.zeros((1, G.shape[1]))])[self.pad]

    def g2(self) -> np.ndarray:
        """||∇_i f||² per coordinate (summed over classes)."""
        return np.sum(self.G * self.G, axis=1)


@dataclass(frozen=True)
class Rule:
    """One block selection rule (see the module docstring)."""

    name: str
    doc: str
    block: Callable[[Selection], int]
    coords: Callable[[Selection], np.ndarray]
    greedy: bool = False
    needs: tuple[str, ...] = ()
    forest: bool = True


def top(score: np.ndarray, tau: int) -> np.ndarray:
    """Indices of the ``tau`` largest scores, sorted."""
    if tau >= score.size:
        return np.arange(score.size, dtype=np.int64)
    return np.sort(np.argpartition(-score, tau - 1)[:tau]).astype(np.int64)


def offdiag_bound(A: Any, c: float, chunk: int = 512) -> np.ndarray:
    """μ_i = c max_{j≠i} |a_iᵀa_j|: the largest off-diagonal entry of each row of the curvature
    bound M = c AᵀA (the Gram formed ``chunk`` columns at a time, O(n p²) once per run)."""
    p = A.shape[1]
    mu = np.zeros(p)
    for s in range(0, p, chunk):
        cols = np.arange(s, min(s + chunk, p))
        g = A.T @ A[:, cols]
        g = np.abs(g.toarray() if sp.issparse(g) else np.asarray(g))
        g[cols, np.arange(cols.size)] = 0.0
        mu[cols] = g.max(axis=0) if p > 1 else 0.0
    return c * mu


def gsd_diagonal(coord_l: np.ndarray, mu: np.ndarray, tau: int) -> np.ndarray:
    """The GSD bound for variable blocks of τ coordinates (paper §3.2): D_i = L_i + (τ - 1) μ_i.
    Every block b of τ coordinates has M_b ⪯ diag(D_b) (row i of M_b sums to at most
    L_i + (τ - 1) μ_i in absolute value: diagonal dominance), and D depends on i only, so the
    GSD block max_b Σ_{i∈b} ||∇_i f||² / D_i is the τ largest ratios."""
    return coord_l + (max(tau, 1) - 1) * mu


def quadratic_progress(A: Any, G: np.ndarray, b: np.ndarray, c: float, l2: float) -> tuple[float, np.ndarray]:
    """(∇_bᵀ M_b⁻¹ ∇_b, -M_b⁻¹ ∇_b) for M_b = c A_bᵀA_b + l2 I (per class): twice the decrease of
    the quadratic bound by the matrix update on b (paper eq. (10)); the GSQ score of a block."""
    Ab = A[:, b]
    Ab = Ab.toarray() if sp.issparse(Ab) else np.asarray(Ab)
    M = c * (Ab.T @ Ab) + (l2 + 1e-12 * (1.0 + c * float(np.sum(Ab * Ab)))) * np.eye(b.size)
    try:
        D = -np.linalg.solve(M, G[b])
    except np.linalg.LinAlgError:
        D = -np.linalg.lstsq(M, G[b], rcond=None)[0]
    return float(-np.sum(G[b] * D)), D


def iht_block(G: np.ndarray, A: Any, coord_d: np.ndarray, c: float, l2: float, tau: int,
              steps: int = 5) -> np.ndarray:
    """GSQ for variable blocks (paper §3.3): approximately maximise ∇_bᵀ M_b⁻¹ ∇_b over the
    blocks of τ coordinates, i.e. min_{|supp d| <= τ} ∇fᵀd + ½ dᵀM d (M = c AᵀA + l2 I), by
    iterative hard thresholding started from the better (in exact score) of the GSD and the GS
    blocks, so GSQ's bound progress is at least theirs. Each step takes the exact minimiser
    d on the current support b (so the model gradient r = ∇f + M d vanishes on b), the scaled
    IHT point u = d - D⁻¹ r with the GSD diagonal D, and keeps the τ coordinates with the largest
    D_i ||u_i||² (the diagonal-model value of keeping i in b against the gain of adding j ∉ b);
    a candidate support replaces the best one only if its exact score is larger."""
    g2 = np.sum(G * G, axis=1)
    best, blk, D = -1.0, None, None
    seen: set[bytes] = set()
    for start in (top(g2 / coord_d, tau), top(g2, tau)):  # the GSD block and the GS block
        if start.tobytes() not in seen:
            seen.add(start.tobytes())
            val, Ds = quadratic_progress(A, G, start, c, l2)
            if val > best:
                best, blk, D = val, start, Ds
    best_blk = blk
    for _ in range(steps):
        d = np.zeros_like(G)
        d[blk] = D
        r = G + c * np.asarray(A.T @ (A @ d)) + l2 * d
        U = d - r / coord_d[:, None]
        U[blk] = d[blk]
        new = top(coord_d * np.sum(U * U, axis=1), tau)
        if new.tobytes() in seen:
            break
        seen.add(new.tobytes())
        val, D = quadratic_progress(A, G, new, c, l2)
        blk = new
        if val > best:
            best, best_blk = val, new
    return best_blk


# -- the rules ------------------------------------------------------------------------------

def _cyclic_coords(s: Selection) -> np.ndarray:
    start = (s.pos % s.nb) * s.tau
    return np.arange(start, min(start + s.tau, s.p), dtype=np.int64)


def _sampled_coords(s: Selection) -> np.ndarray:
    """tau distinct coordinates, uniformly or with ``probs``."""
    return np.sort(s.rng.choice(s.p, size=s.tau, replace=False, p=s.probs)).astype(np.int64)


def _gs_score(s: Selection) -> np.ndarray:
    Gp = s.padded()
    return np.sum(Gp * Gp, axis=(1, 2))


def _gsd_score(s: Selection) -> np.ndarray:
    Gp = s.padded()
    return np.sum(np.sum(Gp * Gp, axis=2) / s.dpad, axis=1)


def _gsq_score(s: Selection) -> np.ndarray:
    Gf = s.padded().reshape(s.nb, -1)
    return np.einsum("bi,bij,bj->b", Gf, s.mpad, Gf)


def _gsl_coords(s: Selection) -> np.ndarray:
    """Largest ||∇_i f||² / L_i: for single coordinates GSL and GSD coincide (L_i = D_i)."""
    return top(s.g2() / s.coord_l, s.tau)


def _gsd_coords(s: Selection) -> np.ndarray:
    """Largest ||∇_i f||² / D_i with the variable-block GSD bound (:func:`gsd_diagonal`)."""
    return top(s.g2() / s.coord_d, s.tau)


def _argmax(score: Callable[[Selection], np.ndarray]) -> Callable[[Selection], int]:
    return lambda s: int(np.argmax(score(s)))


RULES: dict[str, Rule] = {r.name: r for r in (
    Rule("cyclic", "blocks in turn", block=lambda s: s.pos % s.nb, coords=_cyclic_coords),
    Rule("random", "uniformly at random", block=lambda s: int(s.rng.integers(s.nb)),
         coords=_sampled_coords),
    Rule("lipschitz", "sampled with P(b) ∝ L_b (variable blocks: P(i) ∝ L_i)",
         block=lambda s: int(s.rng.choice(s.nb, p=s.probs)), coords=_sampled_coords, needs=("probs",)),
    Rule("gs", "Gauss-Southwell: the largest ||∇_b f||", block=_argmax(_gs_score),
         coords=lambda s: top(s.g2(), s.tau), greedy=True),
    Rule("gsl", "GS-Lipschitz: the largest ||∇_b f||² / L_b",
         block=_argmax(lambda s: _gs_score(s) / s.lips), coords=_gsl_coords, greedy=True),
    Rule("gsd", "GS-diagonal: the largest ∇_bᵀ D_b⁻¹ ∇_b, D_b ⪰ M_b diagonal", block=_argmax(_gsd_score),
         coords=_gsd_coords, greedy=True, needs=("diagonal",), forest=False),
    Rule("gsq", "GS-quadratic: the largest ∇_bᵀ M_b⁻¹ ∇_b (variable blocks: iterative hard thresholding)",
         block=_argmax(_gsq_score),
         coords=lambda s: iht_block(s.G, s.A, s.coord_d, s.c, s.l2, s.tau),
         greedy=True, needs=("quadratic",), forest=False),
)}
