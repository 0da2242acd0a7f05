"""Entropic OT benchmark (issue 9, design.md §3): optbox sns / sinkhorn vs POT and regot.

One process, fixed seeds.  Every solver's returned plan is checked by us:
err = ||P1 - a||_1 + ||P^T 1 - b||_1 <= 1e-8 counts as converged.  POT has no time limit, so its
solvers run in warm-started chunks and are cut off at 10x the time of optbox's default (sns);
regot runs once with a Newton-iteration cap.  Usage: python3 -m benchmarks.ot --quick
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

TARGET = 1e-8


def _err(p: Any, P: np.ndarray) -> float:
    if P is None or not np.all(np.isfinite(P)):
        return float("inf")
    return float(np.abs(P.sum(1) - p.a).sum() + np.abs(P.sum(0) - p.b).sum())


def make(family: str, n: int, reg: float, seed: int = 0) -> Any:
    from problems import OptimalTransport

    rng = np.random.default_rng(seed)
    if family == "random":
        C = rng.random((n, n))
        return OptimalTransport(np.full(n, 1 / n), np.full(n, 1 / n), C, reg)
    if family == "gmm":
        def cloud(shift: float) -> np.ndarray:
            centers = rng.normal(scale=3.0, size=(3, 2)) + shift
            lab = rng.integers(0, 3, n)
            return centers[lab] + rng.normal(size=(n, 2))
        return OptimalTransport.from_point_clouds(cloud(0.0), cloud(1.0), reg)
    if family.startswith("digits"):
        from scipy.ndimage import zoom
        from sklearn.datasets import load_digits

        imgs = load_digits().images
        side = int(round(np.sqrt(n)))
        i, j = rng.choice(len(imgs), 2, replace=False)
        A = np.clip(zoom(imgs[i] + 1e-2, side / 8, order=1), 1e-2, None)
        B = np.clip(zoom(imgs[j] + 1e-2, side / 8, order=1), 1e-2, None)
        return OptimalTransport.from_images(A, B, reg, ground=family.split("-")[1])
    raise ValueError(family)


def run_optbox(p: Any, method: str, limit: float) -> dict:
    from solvers import solve

    t = time.perf_counter()
    r = solve(p, method=method, tol=TARGET, time_limit=limit)
    dt = time.perf_counter() - t
    it = f"{r.stats.get('sinkhorn_iterations', 0)}+{r.stats.get('newton_iterations', 0)}N"
    return {"time": dt, "iters": it, "err": _err(p, r.solution)}


def run_pot(p: Any, method: str, budget: float) -> dict:
    import ot

    fn = {"sinkhorn": ot.bregman.sinkhorn_knopp, "sinkhorn_log": ot.bregman.sinkhorn_log,
          "sinkhorn_stabilized": ot.bregman.sinkhorn_stabilized}[method]
    warm = None
    total, its, chunk, err = 0.0, 0, 20, float("inf")
    while True:
        t = time.perf_counter()
        with np.errstate(all="ignore"):
            P, log = fn(p.a, p.b, p.C, p.reg, numItermax=chunk, stopThr=1e-13, log=True, warn=False,
                        warmstart=warm)
        total += time.perf_counter() - t
        its += int(log.get("niter", chunk))
        err = _err(p, P)
        if err <= TARGET or total > budget:
            break
        if method == "sinkhorn":
            with np.errstate(divide="ignore"):
                warm = (np.log(log["u"]), np.log(log["v"]))
        elif method == "sinkhorn_log":
            warm = (log["log_u"], log["log_v"])
        else:
            warm = (p.reg * log["logu"], p.reg * log["logv"])
        if not (np.all(np.isfinite(warm[0])) and np.all(np.isfinite(warm[1]))):
            break
        chunk = min(chunk * 2, 2000)
    return {"time": total, "iters": str(its), "err": err}


def run_regot(p: Any, method: str, max_iter: int) -> dict:
    import regot

    fn = getattr(regot, method)
    t = time.perf_counter()
    r = fn(np.asfortranarray(p.C), p.a, p.b, p.reg, tol=1e-10, max_iter=max_iter)
    dt = time.perf_counter() - t
    return {"time": dt, "iters": f"{r.niter}N", "err": _err(p, r.plan)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="n in {500, 1000}, two regs, three families")
    ap.add_argument("--out", default="benchmarks/out/ot")
    ap.add_argument("--sizes", type=int, nargs="*")
    ap.add_argument("--regs", type=float, nargs="*")
    ap.add_argument("--families", nargs="*")
    ap.add_argument("--regot-max-iter", type=int, default=300)
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    sizes = args.sizes or ([500, 1000] if args.quick else [500, 1000, 2000, 5000])
    regs = args.regs or ([1e-2, 1e-3] if args.quick else [1e-1, 1e-2, 1e-3, 1 / 1200])
    fams = args.families or (["random", "gmm", "digits-l2"] if args.quick
                             else ["random", "gmm", "digits-l2", "digits-l1"])
    peers: list[tuple[str, Any]] = []
    notes = []
    try:
        import ot  # noqa: F401

        peers += [(f"POT {m}", m) for m in ("sinkhorn", "sinkhorn_log", "sinkhorn_stabilized")]
    except ImportError:
        notes.append("POT not installed: skipped")
    try:
        import regot  # noqa: F401

        peers += [(f"regot {m}", m) for m in ("sinkhorn_ssns", "sinkhorn_sparse_newton")]
    except ImportError:
        notes.append("regot not installed (pip install regot): skipped")
    from problems import OptimalTransport
    from solvers import solve

    solve(OptimalTransport.random(40, seed=0, reg=1e-3), method="sns")  # numba compile outside timing
    rows = []
    for fam in fams:
        for n in sizes:
            for reg in regs:
                p = make(fam, n, reg)
                ours = run_optbox(p, "sns", 600.0)
                budget = max(10 * ours["time"], 1.0)
                res = {"optbox sns": ours, "optbox sinkhorn": run_optbox(p, "sinkhorn", budget)}
                for name, m in peers:
                    try:
                        res[name] = (run_pot(p, m, budget) if name.startswith("POT")
                                     else run_regot(p, m, args.regot_max_iter))
                    except Exception as exc:  # a failing peer is a data point, not a crash
                        res[name] = {"time": float("nan"), "iters": f"error: {exc}"[:40], "err": float("inf")}
                for name, r in res.items():
                    rows.append({"family": fam, "n": p.C.shape[0], "reg": reg, "solver": name,
                                 "time_s": r["time"], "iters": r["iters"], "err": r["err"],
                                 "converged": r["err"] <= TARGET})
                print(fam, p.C.shape[0], reg, {k: (round(v["time"], 3), f"{v['err']:.1e}")
                                               for k, v in res.items()}, flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "ot.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    md = _table(rows) + ("\n" + "\n".join(f"- {n}" for n in notes) if notes else "")
    (out / "ot.md").write_text(md + "\n")
    print(md)
    return 0


def _table(rows: list[dict]) -> str:
    """One line per instance: sns time, best POT (converged) and regot ssns, with ratios."""
    keys = sorted({(r["family"], r["n"], r["reg"]) for r in rows}, key=lambda k: (k[0], k[1], -k[2]))
    lines = ["| family | n | reg | sns s (iters) | sns err | best POT | POT s | POT/sns | regot ssns s"
             " (err) | ssns/sns | optbox sinkhorn s |", "|" + "---|" * 11]
    for k in keys:
        rs = {r["solver"]: r for r in rows if (r["family"], r["n"], r["reg"]) == k}
        s = rs["optbox sns"]
        pots = [r for name, r in rs.items() if name.startswith("POT") and r["converged"]]
        best = min(pots, key=lambda r: r["time_s"]) if pots else None
        sk = rs["optbox sinkhorn"]
        rg = rs.get("regot sinkhorn_ssns")
        ts = s["time_s"] if s["converged"] else float("nan")
        lines.append(
            f"| {k[0]} | {k[1]} | {k[2]:.2g} | {s['time_s']:.3f} ({s['iters']}) | {s['err']:.1e} | "
            + (f"{best['solver'][4:]} | {best['time_s']:.3f} | {best['time_s'] / ts:.1f}x | " if best
               else "none conv. (>10x) | - | >10x | ")
            + (f"{rg['time_s']:.3f} ({rg['err']:.0e}) | {rg['time_s'] / ts:.2f} | " if rg else "- | - | ")
            + (f"{sk['time_s']:.3f} |" if sk["converged"] else "n.c. |"))
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
