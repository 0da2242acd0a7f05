"""DAG learning benchmark: TOPO (optbox) beside DAGMA (DagmaLinear) and NOTEARS, one process.

Simulated (design.md §5, the NOTEARS/DAGMA protocol): n = 1000 samples of a linear SEM with
Gaussian noise, equal variances (``--variance equal``) or not (``nonequal``: noise scales
uniform in [0.5, 2]), ER graphs G(d, 2d) ("ER2") and directed Barabasi-Albert graphs with 4d
edges whose hubs are sinks ("SF4"), weights ±[0.5, 2], seeds 0..; d in {20, 50, 100, 200}
(``--quick``: 20 and 50, 2 seeds). Real data (``--real``): the Sachs et al. (2005) flow
cytometry data (11 proteins, 7466 cells, the raw concentrations as shipped by the ``cdt``
package, ``cdt/data/resources/cyto_full_*.csv``; read from the installed package's files,
nothing is downloaded) against its reference graph. Metrics: SHD, TPR, FDR, the score of the
thresholded graph relative to the true graph's (simulated only), CPU time (process time, 1
thread). ``--methods`` may add ``topo-nv``: TOPO on the same data with ``loss="gauss-nv"`` (the
non-equal-variance BIC score). Writes dag.csv / dag.json / dag.md and two plots under ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import io
import os
import time
from pathlib import Path

import numpy as np

from benchmarks._report import plot_panels, progress, write_tables

os.environ.setdefault("OMP_NUM_THREADS", "1")


def load_sachs():
    """(data, node names, reference adjacency) of the Sachs data shipped by ``cdt``, or None
    when cdt is not installed (``pip install --no-deps cdt`` is enough: only its files are read)."""
    spec = importlib.util.find_spec("cdt")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0]) / "data" / "resources"
    if not (root / "cyto_full_data.csv").exists():
        return None
    with open(root / "cyto_full_data.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    names = [h.strip() for h in rows[0]]
    X = np.array(rows[1:], dtype=float)
    B = np.zeros((len(names), len(names)))
    with open(root / "cyto_full_target.csv", newline="") as fh:
        for cause, effect in list(csv.reader(fh))[1:]:
            B[names.index(cause), names.index(effect)] = 1.0
    return X, names, B


def _run_dagma(problem, lambda1: float = 0.02):
    from dagma.linear import DagmaLinear

    model = DagmaLinear(loss_type="l2", verbose=False)
    with contextlib.redirect_stderr(io.StringIO()):  # DAGMA draws a progress bar
        return model.fit(problem.X, lambda1=lambda1, w_threshold=0.3)  # the centred (standardized) data


def _have_dagma() -> bool:
    return importlib.util.find_spec("dagma") is not None


def _measure(name, fn, problem, true_score, meta, rows):
    from problems.dag_simulation import structural_hamming_distance

    t0 = time.process_time()
    W = np.asarray(fn())
    cpu = time.process_time() - t0
    W = np.where(np.abs(W) >= 0.3, W, 0.0) if not name.startswith("topo") else W
    acc = structural_hamming_distance(W, problem.true_graph)
    try:
        ratio = problem.objective(W) / true_score if true_score else float("nan")
    except ValueError:
        ratio = float("nan")  # cyclic output
    row = {**meta, "method": name, "shd": acc["shd"], "tpr": acc["tpr"], "fdr": acc["fdr"],
           "edges": acc["nnz"], "score_ratio": ratio, "cpu_s": cpu}
    rows.append(row)
    text = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
    print(text, flush=True)


def simulated(args, rows) -> None:
    from problems import DAGLearning
    from solvers import solve

    dims = [int(d) for d in args.dims.split(",")] if args.dims else ([20, 50] if args.quick else
                                                                      [20, 50, 100, 200])
    seeds = args.seeds or (2 if args.quick else 5)
    graphs = [g for g in (("ER", 2), ("SF", 4)) if args.graphs in ("all", g[0])]
    methods = args.methods.split(",")
    cases = [(v, g, k, d, s) for v in args.variance.split(",") for g, k in graphs for d in dims
             for s in range(seeds)]
    for variance, graph, k, d, seed in progress(cases, desc="dag"):
        problem = DAGLearning.random(d, n=args.n, seed=seed, graph=graph, edges_per_node=k,
                                     equal_variance=variance == "equal")
        runs = {"topo": lambda p=problem: solve(p, "topo", seed=0).solution}
        if "topo-nv" in methods:  # the same data under the non-equal-variance BIC score
            nv = DAGLearning(problem.data, "gauss-nv", true_graph=problem.true_graph)
            runs["topo-nv"] = lambda p=nv: solve(p, "topo", seed=0).solution
        if "dagma" in methods and _have_dagma() and d <= args.dagma_max_d:
            runs["dagma"] = lambda p=problem: _run_dagma(p)
        if "notears" in methods and d <= args.notears_max_d:
            runs["notears"] = lambda p=problem: solve(p, "notears", lambda1=0.1).solution
        meta = {"data": f"{graph}{k}", "variance": variance, "d": d, "seed": seed}
        for name, fn in runs.items():
            if name in methods:
                _measure(name, fn, problem, problem.objective(problem.true_graph), meta, rows)


def real(args, rows) -> None:
    from problems import DAGLearning
    from solvers import solve

    loaded = load_sachs()
    if loaded is None:
        print("note: cdt not installed (pip install --no-deps cdt): Sachs data skipped")
        return
    X, names, B = loaded
    for standardize in (False, True):
        problem = DAGLearning(X, node_names=names, true_graph=B, standardize=standardize)
        penalized = DAGLearning(X, node_names=names, true_graph=B, standardize=standardize, lambda1=0.02)
        nv = DAGLearning(X, "gauss-nv", node_names=names, true_graph=B, standardize=standardize)
        meta = {"data": "sachs" + ("-std" if standardize else "-raw"), "variance": "-", "d": 11, "seed": 0}
        runs = {
            "topo": lambda p=problem: solve(p, "topo", seed=0).solution,
            "topo-l1": lambda p=penalized: solve(p, "topo", seed=0).solution,
            "topo-stdthr": lambda p=problem: solve(p, "topo", seed=0, threshold_on="standardized").solution,
            "notears": lambda p=problem: solve(p, "notears", lambda1=0.02).solution,
            "topo-nv": lambda p=nv: solve(p, "topo", seed=0).solution,
            "topo-nv-stdthr": lambda p=nv: solve(p, "topo", seed=0, threshold_on="standardized").solution,
        }
        if _have_dagma():
            runs["dagma"] = lambda p=problem: _run_dagma(p)
        for name, fn in runs.items():
            _measure(name, fn, problem, None, meta, rows)


def table(rows: list[dict]) -> str:
    lines = ["| data | variance | d | method | runs | SHD | TPR | FDR | edges | score / true | CPU s "
             "| CPU / DAGMA |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["data"], r["variance"], r["d"], r["method"]) for r in rows})
    for data, var, d, method in keys:
        sel = [r for r in rows if (r["data"], r["variance"], r["d"], r["method"]) == (data, var, d, method)]
        dag = [r["cpu_s"] for r in rows if (r["data"], r["variance"], r["d"], r["method"]) ==
               (data, var, d, "dagma")]
        mean = lambda key, s=sel: float(np.mean([r[key] for r in s]))  # noqa: E731
        ratio = f"{mean('cpu_s') / np.mean(dag):.3f}x" if dag else "-"
        lines.append(f"| {data} | {var} | {d} | {method} | {len(sel)} | {mean('shd'):.1f} "
                     f"| {mean('tpr'):.3f} | {mean('fdr'):.3f} | {mean('edges'):.0f} "
                     f"| {mean('score_ratio'):.4f} | {mean('cpu_s'):.2f} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="benchmarks/out/dag")
    parser.add_argument("--dims", default=None, help="comma-separated d values")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--graphs", default="all", choices=("all", "ER", "SF"))
    parser.add_argument("--variance", default="equal,nonequal", help="equal, nonequal or both")
    parser.add_argument("--methods", default="topo,dagma,notears")
    parser.add_argument("--dagma-max-d", type=int, default=200)
    parser.add_argument("--notears-max-d", type=int, default=20)
    parser.add_argument("--real", action="store_true", help="the Sachs data only")
    args = parser.parse_args(argv)
    if not _have_dagma():
        print("note: dagma not installed (pip install dagma): DAGMA column skipped")
    rows: list[dict] = []
    if args.real:
        real(args, rows)
    else:
        simulated(args, rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = table(rows)
    write_tables(out, "dag", rows, text)
    if not args.real:
        _plot(rows, out)
    print(text)
    return 0


def _plot(rows: list[dict], out: Path) -> None:
    """SHD and CPU seconds against d, one panel per graph family, one line per method (means over seeds)."""
    shd: dict[str, dict] = {}
    cpu: dict[str, dict] = {}
    for graph in sorted({(r["data"], r["variance"]) for r in rows}):
        for method in sorted({r["method"] for r in rows}):
            sel = [r for r in rows if (r["data"], r["variance"]) == graph and r["method"] == method]
            ds = sorted({r["d"] for r in sel})
            if not ds:
                continue
            mean = lambda key, d, s=sel: float(np.mean([r[key] for r in s if r["d"] == d]))  # noqa: E731
            label = f"{graph[0]} {graph[1]}"
            shd.setdefault(f"{label}: SHD", {})[method] = (ds, [mean("shd", d) for d in ds])
            cpu.setdefault(f"{label}: CPU time", {})[method] = (ds, [mean("cpu_s", d) for d in ds])
    plot_panels(out / "dag_shd.png", shd, "d (nodes)", "SHD (mean over seeds)", logy=False)
    plot_panels(out / "dag_cpu.png", cpu, "d (nodes)", "CPU seconds", logy=True)


if __name__ == "__main__":
    raise SystemExit(main())
