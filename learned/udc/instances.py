"""Training distributions of the UDC divider (the instances it serves, issue 20).

TSP: 500-2000 nodes, uniform or clustered (Gaussian clusters around uniform centres, as the
DIMACS clustered generator).  CVRP: 500-1000 customers in the style of CVRPLIB X (Uchoa et al.
2017, §3): a [0, 1000]^2 grid, depot central / eccentric / random, customers random, clustered
or random-clustered, the seven demand distributions, capacity from a route size r ~ U[3, 25].
"""

from __future__ import annotations

import numpy as np

from problems import CVRP, TSP


def _clustered(rng: np.random.Generator, n: int, centres: int, spread: float) -> np.ndarray:
    c = rng.random((centres, 2))
    pts = c[rng.integers(centres, size=n)] + rng.normal(0.0, spread, (n, 2))
    return np.clip(pts, 0.0, 1.0)


def tsp_instance(rng: np.random.Generator, n: int) -> TSP:
    """Uniform (half the draws) or clustered (n / 100 clusters, spread 0.025-0.06) points."""
    if rng.random() < 0.5:
        xy = rng.random((n, 2))
    else:
        xy = _clustered(rng, n, max(3, n // 100), float(rng.uniform(0.025, 0.06)))
    return TSP(xy, edge_weight_type="EUC")


def _demands(rng: np.random.Generator, xy: np.ndarray, depot: np.ndarray) -> np.ndarray:
    """Uchoa et al. demand distributions: unitary; U[1,10]; U[5,10]; U[1,100]; U[50,100];
    by quadrant (U[1,50] / U[51,100]); many small (U[1,10]) and a few large (U[50,100])."""
    n = xy.shape[0]
    kind = int(rng.integers(7))
    if kind == 0:
        return np.ones(n)
    if kind in (1, 2, 3, 4):
        lo, hi = ((1, 10), (5, 10), (1, 100), (50, 100))[kind - 1]
        return rng.integers(lo, hi + 1, size=n).astype(float)
    if kind == 5:
        odd = ((xy[:, 0] >= depot[0]) ^ (xy[:, 1] >= depot[1])).astype(bool)
        return np.where(odd, rng.integers(1, 51, size=n), rng.integers(51, 101, size=n)).astype(float)
    large = rng.random(n) < rng.uniform(0.05, 0.3)
    return np.where(large, rng.integers(50, 101, size=n), rng.integers(1, 11, size=n)).astype(float)


def cvrp_instance(rng: np.random.Generator, n: int) -> CVRP:
    """An X-style instance with ``n`` customers (coordinates on the 0-1000 grid, rounded
    Euclidean distances as in CVRPLIB)."""
    where = int(rng.integers(3))
    depot = np.array([500.0, 500.0]) if where == 0 else np.zeros(2) if where == 1 else rng.random(2) * 1000
    mode = int(rng.integers(3))
    if mode == 0:
        xy = rng.random((n, 2))
    else:
        m = n if mode == 1 else n // 2
        pts = _clustered(rng, m, int(rng.integers(3, 9)), 0.04)
        xy = pts if mode == 1 else np.r_[pts, rng.random((n - m, 2))]
    xy = np.round(xy * 1000.0)
    dem = _demands(rng, xy, depot)
    r = rng.uniform(3.0, 25.0)
    cap = max(float(dem.max()), float(np.ceil(r * dem.sum() / n)))
    return CVRP(np.r_[depot[None], xy], np.r_[0.0, dem], cap, edge_weight_type="EUC_2D")
