"""Clustered TSP at scale (issue 23): the TSP default (``local-search``) beside ``udc`` at equal
time on clustered points (n / 100 Gaussian clusters of spread 0.04 around uniform centres, the
DIMACS clustered family's shape), where the BHH estimate does not apply: lengths are compared
with each other.

    python -m benchmarks.tsp_clustered --sizes 20000 50000 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from problems import TSP
from solvers import solve


def clustered(n: int, seed: int = 0, spread: float = 0.04) -> TSP:
    rng = np.random.default_rng(seed)
    centres = rng.random((max(3, n // 100), 2))
    xy = np.clip(centres[rng.integers(len(centres), size=n)] + rng.normal(0.0, spread, (n, 2)), 0, 1)
    return TSP(xy, edge_weight_type="EUC", name=f"clustered{n}-s{seed}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.tsp_clustered")
    ap.add_argument("--sizes", type=int, nargs="*", default=[20000, 50000])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--methods", default="local-search,udc")
    args = ap.parse_args(argv)
    warm = clustered(400, seed=1)
    for m in args.methods.split(","):  # kernels load outside the timing
        solve(warm, method=m, time_limit=2, seed=0)
    print("| n | method | seconds | length | / best | status |")
    print("|---|---|---|---|---|---|")
    for n in args.sizes:
        p = clustered(n)
        rows = []
        for m in args.methods.split(","):
            t = time.perf_counter()
            r = solve(p, method=m, time_limit=args.seconds, seed=0)
            rows.append((m, time.perf_counter() - t, r.objective, r.status.value, r.stats.get("stages")))
        best = min(row[2] for row in rows)
        for m, sec, obj, status, stages in rows:
            extra = f" stages {json.dumps(stages)}" if stages else ""
            print(f"| {n} | {m} | {sec:.1f} | {obj:.2f} | {obj / best:.4f} | {status}{extra} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
