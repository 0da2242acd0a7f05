"""SNS stage-1 length (issue 27; recorded in ``benchmarks/results/ot.md``): iterations (every
sweep counted) to tol 1e-9 with the paper's fixed N1 = 20, with n1 = 5 and with the default
adaptive stage 1 (n1=None: a probing Newton step after 5 sweeps, back to sweeps up to 20 when
it loses), across the benchmark families; ``--trajectories`` prints the marginal error of the
first 20 sweeps and its per-sweep rate (what the switch was designed from); ``--target``
the >= 100x check against log-domain Sinkhorn on n = 1000 clouds at reg 1e-3.

    python -m benchmarks.ot_n1 clouds,gmm,random,digits-l2,digits-l1
    python -m benchmarks.ot_n1 clouds,gmm,random,digits-l2,digits-l1 --trajectories
    python -m benchmarks.ot_n1 --target
    python -m benchmarks.ot_n1 --torch     # torch batch path: dense LU vs sparse Schur CG
"""

from __future__ import annotations

import sys
import time
import warnings

from benchmarks.ot import make
from solvers import solve

CONFIGS = (("n1=20", {"n1": 20}), ("n1=5", {"n1": 5}), ("adaptive", {}))


def trajectories(fams: list[str]) -> None:
    """Marginal error of the first 20 Sinkhorn sweeps (the row error each sweep computes)."""
    from solvers.context import SolveContext
    from solvers.ot._common import Reduced
    from solvers.ot.scaled import Scaled
    from solvers.ot.sweeps import sweeps

    for fam in fams:
        for n in (500, 1000):
            for reg in (1e-2, 1e-3, 1e-4):
                st, errs = Scaled(Reduced(make(fam, n, reg, seed=1))), []
                counts = {"sinkhorn_iterations": 0, "newton_iterations": 0}
                sweeps(st, SolveContext(), 1e-9, 20, counts, errs=errs)
                rates = [b / a for a, b in zip(errs[1:], errs[2:])]
                print(f"{fam} n={n} reg={reg:g}\n  err  " + " ".join(f"{e:.1e}" for e in errs[1:])
                      + "\n  rate " + " ".join(f"{q:.2f}" for q in rates), flush=True)


def target() -> None:
    """clouds n = 1000, reg 1e-3, seeds 0 and 1: sns (adaptive, n1=20) vs Sinkhorn (optbox
    ``sinkhorn``: the stabilized scaling form, the same iterates as log-domain Sinkhorn, so the
    same count, ~10x less time than ``sinkhorn-log``)."""
    print("| seed | Sinkhorn it | sns adaptive it (split) | ratio | sns n1=20 it | ratio |")
    print("|---|---|---|---|---|---|")
    for seed in (0, 1):
        p = make("clouds", 1000, 1e-3, seed=seed)
        sk = solve(p, method="sinkhorn", tol=1e-9, time_limit=120)  # log-domain Sinkhorn's iterates
        a = solve(p, method="sns", tol=1e-9, time_limit=30, seed=0)
        f = solve(p, method="sns", tol=1e-9, n1=20, time_limit=30, seed=0)
        s = a.stats
        split = f"{s['sinkhorn_iterations']}+{s['newton_iterations']}N+{s['newton_sweeps']}"
        print(f"| {seed} | {sk.iterations} ({sk.status.value}) | {a.iterations} ({split}) | "
              f"{sk.iterations / a.iterations:.0f}x | {f.iterations} | {sk.iterations / f.iterations:.0f}x |",
              flush=True)


def torch_linsolve() -> None:
    """Batched torch SNS on CPU (one thread): dense Schur LU vs the sparse Schur CG, clouds
    (seeds 0..B-1), tol 1e-9, alternating in one process; the faster default is kept."""
    import numpy as np
    import torch

    from solvers.ot.torch_newton import run_batch

    torch.set_num_threads(1)
    print("| n | batch | reg | direct s (it) | sparse s (it, kept/row) | sparse / direct |")
    print("|---|---|---|---|---|---|")
    for n, B in ((500, 1), (500, 8), (1000, 1), (1000, 8), (2000, 1)):
        for reg in (1e-2, 1e-3):
            ps = [make("clouds", n, reg, seed=s) for s in range(B)]
            args = (np.stack([p.a for p in ps]), np.stack([p.b for p in ps]),
                    np.stack([p.C for p in ps]), np.array([p.reg for p in ps]))
            out = {}
            for ls in ("direct", "sparse"):
                t = time.perf_counter()
                r = run_batch(*args, tol=1e-9, linsolve=ls, device="cpu")
                its = r["sinkhorn_iterations"] + r["newton_iterations"] + r["newton_sweeps"]
                ok = bool((r["error"] <= 1e-9).all())
                out[ls] = (time.perf_counter() - t, int(its.max()), ok, r["kept_per_row"])
            d, s = out["direct"], out["sparse"]
            print(f"| {n} | {B} | {reg:g} | {d[0]:.2f} ({d[1]}{'' if d[2] else ', NOT converged'}) | "
                  f"{s[0]:.2f} ({s[1]}, {s[3]}{'' if s[2] else ', NOT converged'}) | {s[0] / d[0]:.2f} |",
                  flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    warnings.simplefilter("ignore")
    if "--target" in argv:
        target()
        return 0
    if "--torch" in argv:
        torch_linsolve()
        return 0
    fams = (argv[0] if argv and not argv[0].startswith("--") else "clouds,gmm,random").split(",")
    if "--trajectories" in argv:
        trajectories(fams)
        return 0
    print("| family | n | reg | " + " | ".join(f"{c} it (status) / s" for c, _ in CONFIGS)
          + " | adaptive / n1=20 | adaptive retreated |")
    print("|---|---|---|" + "---|" * (len(CONFIGS) + 2))
    for fam in fams:
        for n in (500, 1000):
            for reg in (1e-2, 1e-3, 1e-4):
                p = make(fam, n, reg, seed=1)
                cells, its, retreat = [], [], False
                for _, kw in CONFIGS:
                    t = time.perf_counter()
                    r = solve(p, method="sns", time_limit=30, seed=0, **kw)
                    cells.append(f"{r.iterations} ({r.status.value}) / {time.perf_counter() - t:.2f}")
                    its.append(r.iterations)
                    retreat = bool(r.stats.get("stage1_retreat", False))
                print(f"| {fam} | {n} | {reg:g} | " + " | ".join(cells)
                      + f" | {its[-1] / its[0]:.2f} | {'yes' if retreat else 'no'} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
