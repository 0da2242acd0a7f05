"""Point-cloud entropic OT, cost versus size (issue 23): optbox's online solvers
(``OptimalTransport.from_points``, no n^2 memory) beside POT's ``ot.sinkhorn(method="sinkhorn_log")``
on the dense problem where its cost matrix fits.

Every (solver, n) runs in its own subprocess, so that the peak resident memory
(``resource.getrusage``) is that run's alone; tracemalloc gives the peak of numpy's allocations.
Instance: X, Y uniform in [0, 1]^d (or standard Gaussians, Y shifted by 0.5), squared Euclidean
cost scaled so that max C = 1 (``scale="max"``), reg = 1e-2, uniform weights.  The marginal error
||P1 - a||_1 + ||P^T 1 - b||_1 is computed by us on every returned plan.

    python -m benchmarks.ot_scale --sizes 1000 2000 5000 10000 20000 --pot-sizes 1000 2000 5000
    python -m benchmarks.ot_scale --one ours 20000     # one run, JSON on stdout
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np


def instance(n: int, d: int, family: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    if family == "gauss":
        return rng.standard_normal((n, d)), rng.standard_normal((n, d)) + 0.5
    return rng.random((n, d)), rng.random((n, d))


def run_one(solver: str, n: int, d: int, family: str, reg: float, tol: float, pot_iters: int | None,
            method: str) -> dict:
    from problems import OptimalTransport

    X, Y = instance(n, d, family)
    if solver == "ours":  # numba kernels load from the cache (or compile) outside the timing
        from solvers import solve

        Xw, Yw = instance(300, d, family, seed=1)
        solve(OptimalTransport.from_points(Xw, Yw, reg, scale="max"), method=method, tol=tol,
              online="always")
    tracemalloc.start()
    t0 = time.perf_counter()
    if solver == "ours":
        p = OptimalTransport.from_points(X, Y, reg, scale="max")
        t_build = time.perf_counter() - t0
        res = solve(p, method=method, tol=tol, online="always")
        elapsed = time.perf_counter() - t0
        err = p.marginal_error(res.solution)
        out = {"iterations": res.iterations, "status": str(res.status), "objective": res.objective,
               "solve_s": res.runtime,
               "build_s": t_build, "stats": {k: v for k, v in res.stats.items()
                                             if isinstance(v, (int, float, str)) and k != "tol"}}
    else:
        import ot
        from scipy.spatial.distance import cdist

        C = cdist(X, Y, "sqeuclidean")
        C /= C.max()
        a = np.full(n, 1.0 / n)
        b = np.full(n, 1.0 / n)
        kw = {"numItermax": pot_iters or 10_000, "stopThr": 1e-11 if pot_iters is None else 0.0}
        P, log = ot.sinkhorn(a, b, C, reg, method="sinkhorn_log", log=True, **kw)
        elapsed = time.perf_counter() - t0
        err = float(np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum())
        pos = P > 0
        obj = float((C * P).sum() + reg * (P[pos] * (np.log(P[pos]) - 1)).sum())
        out = {"iterations": int(log.get("niter", kw["numItermax"])), "objective": obj,
               "status": "fixed iterations" if pot_iters else "stopThr"}
    _, peak_py = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return dict(out, solver=solver, n=n, d=d, family=family, seconds=elapsed, marginal_error=err,
                peak_rss_mb=rss / 2**20, peak_traced_mb=peak_py / 2**20,
                threads=int(os.environ.get("NUMBA_NUM_THREADS", "0") or 0))


def subprocess_run(solver: str, n: int, args) -> dict | None:
    cmd = [sys.executable, "-m", "benchmarks.ot_scale", "--one", solver, str(n), "--d", str(args.d),
           "--family", args.family, "--reg", str(args.reg), "--tol", str(args.tol),
           "--method", args.method]
    if solver == "pot" and n in args.pot_fixed:
        cmd += ["--pot-iters", str(args.pot_fixed_iters)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if proc.returncode != 0:
        print(f"  {solver} n={n} failed: {proc.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fit(ns: list[int], ys: list[float]) -> float:
    """Least-squares slope of log y against log n."""
    if len(ns) < 2:
        return float("nan")
    return float(np.polyfit(np.log(ns), np.log(ys), 1)[0])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[1000, 2000, 5000, 10000, 20000])
    ap.add_argument("--pot-sizes", type=int, nargs="*", default=[1000, 2000, 5000])
    ap.add_argument("--pot-fixed", type=int, nargs="*", default=[],
                    help="sizes where POT runs only --pot-fixed-iters iterations (time per iteration)")
    ap.add_argument("--pot-fixed-iters", type=int, default=5)
    ap.add_argument("--d", type=int, default=2)
    ap.add_argument("--family", default="uniform", choices=("uniform", "gauss"))
    ap.add_argument("--reg", type=float, default=1e-2)
    ap.add_argument("--tol", type=float, default=1e-8)
    ap.add_argument("--method", default="sns")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--json", default=None, help="append every row to this JSON-lines file")
    ap.add_argument("--one", nargs=2, metavar=("SOLVER", "N"))
    ap.add_argument("--pot-iters", type=int, default=None)
    args = ap.parse_args(argv)
    if args.one:
        row = run_one(args.one[0], int(args.one[1]), args.d, args.family, args.reg, args.tol,
                      args.pot_iters, args.method)
        print(json.dumps(row))
        return
    rows = []
    for n in sorted(set(args.sizes) | set(args.pot_sizes) | set(args.pot_fixed)):
        for solver in ("ours", "pot"):
            if (solver == "ours" and n not in args.sizes) or (
                    solver == "pot" and n not in args.pot_sizes and n not in args.pot_fixed):
                continue
            row = subprocess_run(solver, n, args)
            if row is None:
                continue
            rows.append(row)
            if args.json:
                with open(args.json, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
            print(f"{solver:5s} n={n:6d}  {row['seconds']:9.2f} s  it={row['iterations']:6d}  "
                  f"err={row['marginal_error']:.2e}  rss={row['peak_rss_mb']:8.1f} MB  "
                  f"traced={row['peak_traced_mb']:8.1f} MB  {row.get('status', '')}", flush=True)
    for solver in ("ours", "pot"):
        full = [r for r in rows if r["solver"] == solver and r.get("status") != "fixed iterations"]
        if full:
            ns = [r["n"] for r in full]
            print(f"{solver}: time exponent {fit(ns, [r['seconds'] for r in full]):.2f}, "
                  f"memory exponent {fit(ns, [r['peak_traced_mb'] for r in full]):.2f}")
    for n in sorted({r["n"] for r in rows}):
        o = [r for r in rows if r["n"] == n and r["solver"] == "ours"]
        p = [r for r in rows if r["n"] == n and r["solver"] == "pot" and r.get("status") == "stopThr"]
        if o and p:
            print(f"n={n}: POT / ours time ratio {p[0]['seconds'] / o[0]['seconds']:.1f}")


if __name__ == "__main__":
    main()
