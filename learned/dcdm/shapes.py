"""Obstacle shapes that training never draws — hollow rings with a gap and plus-shaped
crosses — for validation during training (``train.py --val-kinds rings,crosses``).

The same construction as ``benchmarks.linear.rings_and_crosses`` (the library may not import
the benchmarks); the validation seeds (``10_000 + …``) differ from the benchmark's
(``4242 + n``), so the benchmark's geometries stay unseen by training and by the selection.
"""

from __future__ import annotations

import numpy as np

UNSEEN_KINDS = ("rings", "crosses")


def unseen_obstacles(shape: tuple[int, ...], kind: str, seed: int, density: float = 0.2) -> np.ndarray:
    """Fluid mask (True = fluid) with solid ``rings`` (a spherical shell cut open on one side)
    or ``crosses`` (one bar per axis) until ``density`` of the cells are solid."""
    if kind not in UNSEEN_KINDS:
        raise ValueError(f"kind must be one of {UNSEEN_KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)
    coords = np.indices(shape, dtype=np.float64)
    solid = np.zeros(shape, dtype=bool)
    m = min(shape)
    while solid.mean() < density:
        c = [rng.uniform(0, s) for s in shape]
        rad = rng.uniform(0.05, 0.15) * m
        if kind == "rings":
            d = np.sqrt(sum((x - y) ** 2 for x, y in zip(coords, c)))
            ring = np.abs(d - rad) <= max(1.0, 0.15 * rad)
            ring &= (coords[0] - c[0]) < 0.7 * rad  # the gap
            solid |= ring
        else:
            w = max(1.0, 0.2 * rad)
            for axis in range(len(shape)):
                inside = np.ones(shape, dtype=bool)
                for a, (x, y) in enumerate(zip(coords, c)):
                    inside &= np.abs(x - y) <= (rad if a == axis else w)
                solid |= inside
    return ~solid
