"""Plan statistics from a fixed strided sample of the scaled plan: how dense it is (for the
Sinkhorn -> Newton switch) and the sparsification threshold of the Newton step (paper Alg. 1
line 7), without sorting or even forming P; and the paper's own exact sparsification
(:func:`top_entries`: the largest lam*m*n entries, exactly)."""

from __future__ import annotations

import numpy as np

from . import _kernels as K
from .scaled import Scaled

SAMPLE = 20_480  # plan entries sampled to estimate the sparsification threshold
RUN = 32  # ... in runs of this many consecutive entries


def positions(st: Scaled) -> None:
    """The sampled positions, fixed for the solve (computed once into ``st.sample_at``): runs of
    RUN consecutive entries from prime-strided starts, a few cache lines per run instead of one
    miss per entry."""
    if st.sample_at is None:
        m, n = st.K.shape
        runs = SAMPLE // RUN
        start = (np.arange(runs, dtype=np.int64) * 7_368_787 + 12_345) % (m * n - RUN)
        idx = (start[:, None] + np.arange(RUN)[None, :]).ravel()
        st.sample_at = np.divmod(idx, n)


def sample(st: Scaled) -> np.ndarray:
    """Plan entries on a fixed strided sample (all of them for small plans), sorted descending."""
    m, n = st.K.shape
    if m * n <= SAMPLE:
        w = st.plan().ravel()
    else:
        positions(st)
        w = np.empty(st.sample_at[0].size)
        K.scaled_gather(st.K, st.u, st.v, st.sample_at[0], st.sample_at[1], w)
    return np.sort(w)[::-1]


def density(st: Scaled, drop: float) -> float:
    """Fraction of the plan entries that hold all but a ``drop`` fraction of its mass."""
    w = sample(st)
    tail = np.cumsum(w[::-1])[::-1]
    return float(np.searchsorted(-tail, -min(0.5, drop) * tail[0], side="right")) / w.size


def threshold(st: Scaled, lam: float, drop: float) -> float:
    """Sparsification threshold tau (paper Alg. 1 line 7): the smaller of the lam*m*n-th largest
    plan entry and the value below which the plan entries carry at most a ``drop`` fraction of
    the mass.  Estimated on a fixed strided sample of the plan (no sort of P); binned in numba
    for large plans (``K.sample_threshold``), exact on the whole plan for small ones."""
    m, n = st.K.shape
    if m * n > SAMPLE:
        positions(st)
        rows, cols = st.sample_at
        return float(K.sample_threshold(st.K, st.u, st.v, rows, cols, lam, drop))
    w = sample(st)
    s = w.size
    tau_k = w[min(max(int(round(lam * s)), 1), s) - 1]
    tail = np.cumsum(w[::-1])[::-1]  # tail[i] = mass of entries i, i+1, ... (descending order)
    keep = int(np.searchsorted(-tail, -drop * tail[0], side="right"))  # first i with tail <= drop
    tau_m = w[min(max(keep - 1, 0), s - 1)]
    return float(min(tau_k, tau_m))


def top_entries(st: Scaled, lam: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper's Sparsify(P, rho) (Alg. 1 line 7, sparsify="paper"): a CSR matrix of exactly
    k = max(1, round(lam*m*n)) largest plan entries (ties broken by position), uint32 column
    indices like ``K.scaled_sparsify``.  One pass builds P, ``np.argpartition`` picks the top k
    in O(mn) (no full sort); only the k kept positions are sorted."""
    m, n = st.K.shape
    k = min(max(int(round(lam * m * n)), 1), m * n)
    w = st.plan().ravel()
    idx = np.sort(np.argpartition(w, m * n - k)[m * n - k:]) if k < m * n else np.arange(m * n)
    rows, cols = np.divmod(idx, n)
    indptr = np.zeros(m + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=m), out=indptr[1:])
    return indptr, cols.astype(np.uint32), np.ascontiguousarray(w[idx])
