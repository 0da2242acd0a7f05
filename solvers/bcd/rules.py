"""Block selection rules of BCD (Nutini, Laradji & Schmidt 2022, §2-3), as one table.

Each rule is one :class:`Rule` in :data:`RULES`: how it picks one of the fixed blocks
(``block``), which coordinates it takes as a variable block (``coords``), whether it reads the
full gradient every iteration (``greedy``), which per-block data the setup must prepare
(``needs``: ``"probs"`` sampling probabilities, ``"diagonal"`` the diagonal bounds D_b ⪰ M_b,
``"quadratic"`` the inverses M_b⁻¹ of fixed blocks / a global bound for variable ones) and
whether it works with forest blocks. Adding a rule is one entry; the option's choices, the
checks and the loop follow from the table. Rules only read a :class:`Selection`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Selection:
    """What a rule may look at when it picks the next block.

    ``pos`` counts the blocks visited so far; ``G`` is the full gradient (p x k), current
    whenever the rule is greedy. Fixed blocks: ``nb`` blocks, ``pad`` their (nb x width)
    index table padded with the dummy row p, ``lips`` the bounds L_b, ``dpad`` the padded
    diagonal bounds and ``mpad`` the padded M_b⁻¹ (when the rule needs them). Variable blocks:
    ``tau`` coordinates out of ``p`` (``nb`` = ceil(p / tau) cyclic chunks), the coordinate
    bounds ``coord_l`` and, for GSQ, the design with the curvature bound c A^T A + l2 I and its
    largest eigenvalue ``lip_glob``. ``probs``: the sampling probabilities (blocks or coordinates).
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
    lip_glob: float = 0.0

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


def spectral_bound(A: Any, c: float, l2: float, seed: int = 0, iters: int = 30) -> float:
    """Upper estimate of λ_max(c AᵀA + l2 I) by power iteration (1 % safety margin)."""
    v = np.random.default_rng(seed).standard_normal(A.shape[1])
    lam = 0.0
    for _ in range(iters):
        w = np.asarray(A.T @ (A @ v)).ravel()
        lam = float(np.linalg.norm(w))
        if lam == 0.0:
            break
        v = w / lam
    return 1.01 * c * lam + l2


def iht_block(g2: np.ndarray, G: np.ndarray, A: Any, coord_l: np.ndarray, c: float, l2: float,
              tau: int, lip: float, steps: int = 5) -> np.ndarray:
    """GSQ for variable blocks (paper §3.3): approximately maximize the quadratic-bound decrease
    -min_{|supp d| <= tau} gᵀd + 1/2 dᵀM d (M = c AᵀA + l2 I) by a few steps of iterative hard
    thresholding started from the GSL block; returns the support of the final d."""
    blk = top(g2 / coord_l, tau)
    D = np.zeros_like(G)
    D[blk] = -G[blk] / coord_l[blk][:, None]
    for _ in range(steps):
        MD = c * np.asarray(A.T @ (A @ D)) + l2 * D
        U = D - (G + MD) / lip
        new = top(np.sum(U * U, axis=1), tau)
        D = np.zeros_like(G)
        D[new] = U[new]
        if np.array_equal(new, blk):
            break
        blk = new
    return blk


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
         coords=_gsl_coords, greedy=True, needs=("diagonal",), forest=False),
    Rule("gsq", "GS-quadratic: the largest ∇_bᵀ M_b⁻¹ ∇_b (variable blocks: iterative hard thresholding)",
         block=_argmax(_gsq_score),
         coords=lambda s: iht_block(s.g2(), s.G, s.A, s.coord_l, s.c, s.l2, s.tau, s.lip_glob),
         greedy=True, needs=("quadratic",), forest=False),
)}
