"""TSP default: LK local-search vs UDC at equal time on one large uniform instance (issue 25's
crossover question; recorded in benchmarks/results/routing_lk.md).

    python -m benchmarks.routing_default 10000 60
    python -m benchmarks.routing_default 100000 300 local-search,udc   # methods (default: both)
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from problems import TSP
from solvers import solve


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    warnings.simplefilter("ignore")
    n, limit = int(argv[0]), float(argv[1])
    p = TSP(np.random.default_rng(7).random((n, 2)), edge_weight_type="EUC")
    warm = TSP(np.random.default_rng(1).random((200, 2)), edge_weight_type="EUC")
    methods = argv[2].split(",") if len(argv) > 2 else ["local-search", "udc"]
    for method in methods:  # kernels compiled / loaded outside the timing
        solve(warm, method=method, time_limit=5)
    bhh = 0.7124 * np.sqrt(n)
    for method in methods:
        r = solve(p, method=method, time_limit=limit, seed=0)
        print(n, method, limit, f"{100 * (r.objective / bhh - 1):.2f} % above BHH", f"{r.runtime:.1f} s",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
