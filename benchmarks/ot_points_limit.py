"""One point-cloud OT solve at size n under a time limit (issue 23: n = 50k without n^2 memory):
uniform clouds in the unit square, reg 1e-2, tol 1e-8, the online path; prints iterations,
status, the marginal error of the returned (lazy) plan and the peak resident memory.

    python -m benchmarks.ot_points_limit 50000 1500
"""

from __future__ import annotations

import json
import resource
import sys
import time

from benchmarks.ot_scale import instance
from problems import OptimalTransport
from solvers import solve


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    n, limit = int(args[0]), float(args[1])
    xw, yw = instance(300, 2, "uniform", seed=1)  # kernels load outside the timing
    solve(OptimalTransport.from_points(xw, yw, 1e-2, scale="max"), method="sns", tol=1e-8, online="always")
    x, y = instance(n, 2, "uniform")
    t0 = time.perf_counter()
    p = OptimalTransport.from_points(x, y, 1e-2, scale="max")
    r = solve(p, method="sns", tol=1e-8, online="always", time_limit=limit)
    seconds = time.perf_counter() - t0
    out = {"n": n, "status": str(r.status), "iterations": r.iterations, "seconds": seconds,
           "marginal_error": p.marginal_error(r.solution),
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "history_tail": [(round(t, 1), v) for t, v, _ in r.history[-3:]],
           "stats": {k: v for k, v in r.stats.items() if isinstance(v, (int, float, str))}}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
