"""DAG learning benchmark: TOPO (optbox) beside DAGMA (DagmaLinear) and NOTEARS, one process.

Protocol (design.md §5): n = 1000 linear-Gaussian samples with equal noise variance, ER graphs
with 2d edges and SF graphs with 4d edges, weights ±[0.5, 2], seeds 0..; metrics: SHD, TPR,
FDR, the score of the thresholded graph relative to the true graph's score, CPU time.
``--quick``: d in {10, 20, 30}, 2 seeds, ER2 and SF4, NOTEARS only at d = 10 (about 3 minutes).
Writes dag.csv / dag.json / dag.md and two plots: SHD and CPU time against d per method.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from benchmarks._report import plot_panels, progress, write_tables

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _run_dagma(problem):
    import contextlib
    import io

    from dagma.linear import DagmaLinear

    model = DagmaLinear(loss_type="l2", verbose=False)
    with contextlib.redirect_stderr(io.StringIO()):  # DAGMA draws a progress bar
        return model.fit(problem.X, lambda1=0.02, w_threshold=0.3)


def main(argv: list[str] | None = None) -> int:
    from problems import DAGLearning
    from problems.dag_simulation import structural_hamming_distance
    from solvers import solve

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="benchmarks/out/dag")
    parser.add_argument("--dims", default=None, help="comma-separated d values")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args(argv)
    dims = [int(d) for d in args.dims.split(",")] if args.dims else (
        [10, 20, 30] if args.quick else [10, 20, 50, 100, 200])
    seeds = args.seeds or (2 if args.quick else 5)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        import dagma  # noqa: F401
        have_dagma = True
    except ImportError:
        have_dagma = False
        print("note: dagma not installed (pip install dagma): DAGMA column skipped")
    rows = []
    cases = [(graph, k, d, seed) for graph, k in (("ER", 2), ("SF", 4))
             for d in dims for seed in range(seeds)]
    for graph, k, d, seed in progress(cases, desc="dag"):
        problem = DAGLearning.random(d, n=args.n, seed=seed, graph=graph, edges_per_node=k)
        true_score = problem.objective(problem.true_graph)
        runs = {"topo": lambda p=problem: solve(p, "topo", seed=0).solution}
        if have_dagma:
            runs["dagma"] = lambda p=problem: _run_dagma(p)
        if d <= 10:
            runs["notears"] = lambda p=problem: solve(p, "notears", lambda1=0.1).solution
        for name, fn in runs.items():
            t0 = time.process_time()
            W = fn()
            cpu = time.process_time() - t0
            W = np.where(np.abs(W) >= 0.3, W, 0.0)
            acc = structural_hamming_distance(W, problem.true_graph)
            try:
                score = problem.objective(W)
            except ValueError:
                score = float("nan")  # cyclic output
            rows.append({"graph": f"{graph}{k}", "d": d, "seed": seed, "method": name,
                         "shd": acc["shd"], "tpr": acc["tpr"], "fdr": acc["fdr"],
                         "score_ratio": score / true_score, "cpu_s": cpu})
            print(f"{graph}{k} d={d} seed={seed} {name:8s} shd={acc['shd']:.0f} "
                  f"score/true={score / true_score:.4f} cpu={cpu:.2f}s", flush=True)
    table = ["| graph | d | method | SHD | TPR | FDR | score / true | CPU s | CPU vs topo |",
             "|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["graph"], r["d"], r["method"]) for r in rows})
    for graph, d, method in keys:
        sel = [r for r in rows if (r["graph"], r["d"], r["method"]) == (graph, d, method)]
        topo = [r for r in rows if (r["graph"], r["d"], r["method"]) == (graph, d, "topo")]
        mean = lambda key, s=sel: float(np.mean([r[key] for r in s]))  # noqa: E731
        ratio = mean("cpu_s") / max(float(np.mean([r["cpu_s"] for r in topo])), 1e-9)
        table.append(f"| {graph} | {d} | {method} | {mean('shd'):.1f} | {mean('tpr'):.3f} "
                     f"| {mean('fdr'):.3f} | {mean('score_ratio'):.4f} | {mean('cpu_s'):.2f} "
                     f"| {ratio:.2f}x |")
    text = "\n".join(table)
    write_tables(out, "dag", rows, text)
    _plot(rows, out)
    print(text)
    return 0


def _plot(rows: list[dict], out: Path) -> None:
    """SHD and CPU seconds against d, one panel per graph family, one line per method (means over seeds)."""
    shd: dict[str, dict] = {}
    cpu: dict[str, dict] = {}
    for graph in sorted({r["graph"] for r in rows}):
        for method in sorted({r["method"] for r in rows}):
            sel = [r for r in rows if r["graph"] == graph and r["method"] == method]
            ds = sorted({r["d"] for r in sel})
            if not ds:
                continue
            mean = lambda key, d, s=sel: float(np.mean([r[key] for r in s if r["d"] == d]))  # noqa: E731
            shd.setdefault(f"{graph}: SHD", {})[method] = (ds, [mean("shd", d) for d in ds])
            cpu.setdefault(f"{graph}: CPU time", {})[method] = (ds, [mean("cpu_s", d) for d in ds])
    plot_panels(out / "dag_shd.png", shd, "d (nodes)", "SHD (mean over seeds)", logy=False)
    plot_panels(out / "dag_cpu.png", cpu, "d (nodes)", "CPU seconds", logy=True)


if __name__ == "__main__":
    raise SystemExit(main())
