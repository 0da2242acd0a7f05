"""Is a shorter SNS stage 1 (``n1``) a safe default? Iterations (every sweep counted) with the
paper's N1 = 20 and with n1 = 5 across the benchmark families (issue 27; recorded in
``benchmarks/results/ot.md``).

    python -m benchmarks.ot_n1 clouds,gmm,random,digits-l2,digits-l1
"""

from __future__ import annotations

import sys
import time
import warnings

from benchmarks.ot import make
from solvers import solve


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    warnings.simplefilter("ignore")
    fams = (argv[0] if argv else "clouds,gmm,random").split(",")
    for fam in fams:
        for n in (500, 1000):
            for reg in (1e-2, 1e-3, 1e-4):
                p = make(fam, n, reg, seed=1)
                row: list = [fam, n, reg]
                for n1 in (20, 5):
                    t = time.time()
                    r = solve(p, method="sns", n1=n1, time_limit=30, seed=0)
                    err = r.stats.get("marginal_error", float("nan"))
                    row += [n1, r.iterations, r.status.value, f"{err:.1e}", round(time.time() - t, 2)]
                print(*row, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
