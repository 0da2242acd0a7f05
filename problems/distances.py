"""Edge lengths under the TSPLIB distance conventions.

Codes (used by numba kernels in ``solvers/routing``):

=====  ===========  ==================================================
code   name         length of edge (i, j)
=====  ===========  ==================================================
0      EUC          exact Euclidean distance (float; random instances)
1      EUC_2D       nint(Euclidean)
2      CEIL_2D      ceil(Euclidean)
3      ATT          pseudo-Euclidean (TSPLIB ATT rule)
4      GEO          geographical distance on the idealized sphere
5      EXPLICIT     entry of an explicit matrix
=====  ===========  ==================================================
"""

from __future__ import annotations

import numpy as np

DISTANCE_CODES: dict[str, int] = {
    "EUC": 0,
    "EUC_2D": 1,
    "CEIL_2D": 2,
    "ATT": 3,
    "GEO": 4,
    "EXPLICIT": 5,
}

_GEO_PI = 3.141592
_GEO_RADIUS = 6378.388


def geo_radians(coords: np.ndarray) -> np.ndarray:
    """TSPLIB GEO: DDD.MM coordinates to radians (degrees plus minutes/60 via 5/3)."""
    deg = np.trunc(coords)
    minutes = coords - deg
    return _GEO_PI * (deg + 5.0 * minutes / 3.0) / 180.0


def pair_distances(
    coords: np.ndarray | None,
    i: np.ndarray,
    j: np.ndarray,
    kind: str,
    matrix: np.ndarray | None = None,
) -> np.ndarray:
    """Lengths of the edges (i[k], j[k]) under the TSPLIB convention ``kind``."""
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    if kind == "EXPLICIT":
        assert matrix is not None
        return matrix[i, j].astype(np.float64)
    assert coords is not None
    if kind == "GEO":
        rad = geo_radians(coords)
        lat_i, lon_i = rad[i, 0], rad[i, 1]
        lat_j, lon_j = rad[j, 0], rad[j, 1]
        q1 = np.cos(lon_i - lon_j)
        q2 = np.cos(lat_i - lat_j)
        q3 = np.cos(lat_i + lat_j)
        arg = np.clip(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3), -1.0, 1.0)
        d = np.floor(_GEO_RADIUS * np.arccos(arg) + 1.0)
        return np.where(i == j, 0.0, d)
    diff = coords[i] - coords[j]
    sq = np.einsum("ij,ij->i", diff, diff)
    if kind == "EUC":
        return np.sqrt(sq)
    if kind == "EUC_2D":
        return np.floor(np.sqrt(sq) + 0.5)
    if kind == "CEIL_2D":
        return np.ceil(np.sqrt(sq))
    if kind == "ATT":
        r = np.sqrt(sq / 10.0)
        t = np.floor(r + 0.5)
        return np.where(t < r, t + 1.0, t)
    raise ValueError(f"unknown distance kind {kind!r}")


def full_distance_matrix(
    coords: np.ndarray | None, kind: str, matrix: np.ndarray | None = None
) -> np.ndarray:
    """The dense n x n matrix of edge lengths (memory n^2 floats: use for n up to ~10^4)."""
    if kind == "EXPLICIT":
        assert matrix is not None
        return np.asarray(matrix, dtype=np.float64)
    assert coords is not None
    n = coords.shape[0]
    out = np.empty((n, n))
    rows = np.arange(n)
    for start in range(0, n, 512):
        stop = min(n, start + 512)
        ii = np.repeat(np.arange(start, stop), n)
        jj = np.tile(rows, stop - start)
        out[start:stop] = pair_distances(coords, ii, jj, kind).reshape(stop - start, n)
    return out
