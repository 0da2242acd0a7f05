"""Cost versus size, per area (issue 23): time and peak memory of ours beside the peer, on
log-log axes with a fitted exponent (time ~ size^k), one subprocess per run so that each peak
resident memory is that run's alone.

Areas and what is timed (every run to the method's own stop, no time limit unless said):
- ``routing``: TSP, uniform points in the unit square. ``udc`` divide + conquer + reunion
  (random-insertion start, ``starts=1``, ``rounds=4``, ``polish=False``: the stages that are
  linear in n) and its gap to the BHH estimate 0.7124 sqrt(n A); peer LKH-3 (``lkh``, elkai,
  RUNS = 1) where it finishes in minutes.
- ``linear``: 2-D Poisson with random obstacles, divergence right-hand side, rtol 1e-6:
  ``amg`` (ours, the default), ``dcdm`` (learned), peer ``cg``; 3-D in ``--dims 3``.
- ``dag``: ER2 linear-Gaussian SEM with n = 1000 samples (seed = d): ``topo`` vs peer ``dagma``
  (where installed); the JSON rows also carry ``cpu_seconds`` (process time; ``seconds`` is wall).
- ``ot``: point clouds (``benchmarks.ot_scale``: ours online, POT dense where it fits).

    python -m benchmarks.scale --areas routing linear dag --out benchmarks/out/scale
    python -m benchmarks.scale --one routing udc 20000           # one run, JSON on stdout
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIZES = {
    "routing": {"udc": [1000, 2000, 5000, 10000, 20000, 50000, 100000], "lkh": [1000, 2000, 5000]},
    "linear": {"amg": [256, 512, 1024, 2048], "cg": [256, 512, 1024, 2048], "dcdm": [256, 512, 1024]},
    "dag": {"topo": [20, 50, 100, 200, 500], "dagma": [20, 50, 100]},
    "ot": {"ours": [1000, 2000, 5000, 10000, 20000], "pot": [1000, 2000, 5000]},
}
QUICK = {
    "routing": {"udc": [1000, 2000, 5000], "lkh": [1000]},
    "linear": {"amg": [128, 256], "cg": [128, 256], "dcdm": [128]},
    "dag": {"topo": [10, 20], "dagma": [10]},
    "ot": {"ours": [500, 1000], "pot": [500]},
}
#: ``--dims 3``: cube sides of the linear area (256³ = 16.8M unknowns)
SIZES_3D = {"amg": [32, 64, 128, 256], "cg": [32, 64, 128, 256], "dcdm": [32, 64, 128, 256]}
QUICK_3D = {"amg": [16, 32], "cg": [16, 32], "dcdm": [16]}
UNIT = {"routing": "nodes", "linear": "unknowns", "dag": "variables d", "ot": "points per side"}


def _routing(method: str, n: int) -> dict:
    from problems import TSP
    from solvers import solve

    if method == "udc":  # load / compile the kernels outside the timing
        solve(TSP(np.random.default_rng(1).random((300, 2)), edge_weight_type="EUC"), method="udc",
              starts=1, polish=False)
    p = TSP(np.random.default_rng(0).random((n, 2)), edge_weight_type="EUC")
    t = time.perf_counter()
    if method == "udc":
        r = solve(p, method="udc", starts=1, rounds=4, polish=False, seed=0)
    else:
        r = solve(p, method=method, seed=0)
    bhh = 0.7124 * np.sqrt(n)
    return {"seconds": time.perf_counter() - t, "quality": 100 * (r.objective / bhh - 1),
            "quality_name": "% above BHH", "status": r.status.value}


def _linear(method: str, side: int, dim: int = 2) -> dict:
    from problems import LinearSystem
    from problems.linear import random_obstacles
    from solvers import solve

    shape = (side,) * dim
    for seed in range(side, side + 5):  # a seed whose obstacles do not wall off most of the grid
        mask = random_obstacles(shape, seed=seed)
        p = LinearSystem.poisson(shape, mask, rhs="divergence", seed=seed)
        if p.A.shape[0] >= 0.5 * side ** dim:
            break
    small = (32 if dim == 2 else 12,) * dim  # imports, kernels and weights load outside the timing
    solve(LinearSystem.poisson(small, random_obstacles(small, seed=1), rhs="divergence"), method=method)
    t = time.perf_counter()
    r = solve(p, method=method, tol=1e-6, seed=0, max_iter=20_000)
    return {"seconds": time.perf_counter() - t, "quality": float(r.iterations), "quality_name": "iterations",
            "status": r.status.value, "unknowns": int(p.A.shape[0])}


def _dag(method: str, d: int) -> dict:
    from problems import DAGLearning
    from problems.dag_simulation import simulate, structural_hamming_distance
    from solvers import solve

    solve(DAGLearning(simulate(5, 100, seed=1)[0]), method=method, seed=0)  # warm, untimed
    X, W = simulate(d, 1000, seed=d, graph="ER", edges_per_node=2)
    t, cpu = time.perf_counter(), time.process_time()
    r = solve(DAGLearning(X), method=method, seed=0)
    shd = structural_hamming_distance(np.asarray(r.solution), W)["shd"]
    return {"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - cpu,
            "quality": float(shd), "quality_name": "SHD", "edges": int(np.count_nonzero(W)),
            "status": r.status.value}


def _ot(method: str, n: int) -> dict:
    from benchmarks.ot_scale import run_one

    out = run_one(method, n, 2, "uniform", 1e-2, 1e-8, None, "sns")
    return {"seconds": out["seconds"], "quality": out["marginal_error"],
            "quality_name": "marginal error", "status": out.get("status")}


def run_one(area: str, method: str, size: int, dim: int = 2) -> dict:
    """One run in this process; adds the peak resident memory (MB) of the process."""
    fn = {"routing": _routing, "linear": _linear, "dag": _dag, "ot": _ot}[area]
    out = fn(method, size, dim) if area == "linear" else fn(method, size)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _spawn(area: str, method: str, size: int, dim: int, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.scale", "--one", area, method, str(size), "--dims", str(dim)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
    except subprocess.TimeoutExpired:
        return {"status": f"not finished in {timeout:.0f} s"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
        return {"status": f"failed: {tail[0][:120]}"}
    return json.loads(lines[-1])


def fitted_exponent(sizes: list[float], seconds: list[float]) -> float | None:
    """Least-squares slope of log(seconds) against log(size) over the finished runs."""
    pts = [(np.log(s), np.log(t)) for s, t in zip(sizes, seconds) if t and t > 0]
    if len(pts) < 2:
        return None
    x, y = np.array(pts).T
    return float(np.polyfit(x, y, 1)[0])


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    areas = sorted({r["area"] for r in rows})
    fig, axes = plt.subplots(2, len(areas), figsize=(4 * len(areas), 6.4), squeeze=False)
    for j, area in enumerate(areas):
        for method in sorted({r["method"] for r in rows if r["area"] == area}):
            pts = [(r["x"], r["seconds"], r["peak_mb"]) for r in rows
                   if r["area"] == area and r["method"] == method and r.get("seconds")]
            if not pts:
                continue
            s, t, m = zip(*pts)
            axes[0, j].loglog(s, t, "o-", label=method)
            axes[1, j].loglog(s, m, "o-", label=method)
        axes[0, j].set(title=area, ylabel="seconds")
        axes[1, j].set(xlabel=UNIT[area], ylabel="peak MB")
        axes[0, j].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="optbox bench scale", description=__doc__.splitlines()[0])
    ap.add_argument("--areas", nargs="*", default=["routing", "linear", "dag"],
                    choices=sorted(SIZES))
    ap.add_argument("--methods", default=None, help="comma-separated subset of the areas' methods")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dims", type=int, default=2, help="linear: 2-D or 3-D grids")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    ap.add_argument("--one", nargs=3, metavar=("AREA", "METHOD", "SIZE"))
    ap.add_argument("--out", default="benchmarks/out/scale")
    args = ap.parse_args(argv)
    if args.one:
        area, method, size = args.one
        print(json.dumps(run_one(area, method, int(size), args.dims)), flush=True)
        return 0
    table = dict(QUICK if args.quick else SIZES)
    if args.dims == 3:
        table["linear"] = QUICK_3D if args.quick else SIZES_3D
    keep = set(args.methods.split(",")) if args.methods else None
    rows: list[dict] = []
    for area in args.areas:
        for method, sizes in table[area].items():
            if keep and method not in keep:
                continue
            for size in sizes:
                out = _spawn(area, method, size, args.dims, args.timeout)
                row = {"area": area, "method": method, "size": size, "seconds": None, "peak_mb": None, **out}
                row["x"] = row.get("unknowns", size)
                rows.append(row)
                print(json.dumps(row), flush=True)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "scale.json").write_text(json.dumps(rows, indent=1))
    lines = ["| area | method | size | seconds | peak MB | quality | status |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        q = "-" if r.get("quality") is None else f"{r['quality']:.4g} ({r.get('quality_name', '')})"
        sec = "-" if r.get("seconds") is None else f"{r['seconds']:.2f}"
        mb = "-" if r.get("peak_mb") is None else f"{r['peak_mb']:.0f}"
        cells = [r["area"], r["method"], r["size"], sec, mb, q, r.get("status")]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", "| area | method | fitted exponent (seconds ~ size^k; linear: unknowns) |", "|---|---|---|"]
    for area in args.areas:
        for method in table[area]:
            pts = [(r["x"], r["seconds"]) for r in rows if r["area"] == area and r["method"] == method]
            if pts:
                k = fitted_exponent([p[0] for p in pts], [p[1] for p in pts])
                lines.append(f"| {area} | {method} | {'-' if k is None else f'{k:.2f}'} |")
    (out_dir / "scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    _plot(rows, out_dir / "scale.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
