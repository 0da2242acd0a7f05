"""Large routing benchmark (issue 6): udc (learned divider), udc with random-insertion start,
local-search, OR-Tools, and peers elkai (LKH-3, TSP) / PyVRP (CVRP) with matched time.

    python3 -m benchmarks.routing --quick          # reduced protocol (minutes on 2 cores)
    python3 -m benchmarks.routing --full           # issue protocol (16 TSP1000, 4 TSP10000, ...)
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "benchdata"
TSPLIB_QUICK = ["pr1002", "pcb1173"]
TSPLIB_FULL = ["pr1002", "u1060", "pcb1173", "d1291", "rl1304", "fl1577", "d2103", "pcb3038", "fnl4461"]
CVRPLIB_QUICK = ["X-n502-k39", "X-n979-k58"]
CVRPLIB_FULL = ["X-n502-k39", "X-n524-k153", "X-n548-k50", "X-n573-k30", "X-n599-k92", "X-n627-k43",
                "X-n655-k131", "X-n685-k75", "X-n716-k35", "X-n749-k98", "X-n783-k48", "X-n819-k171",
                "X-n856-k95", "X-n895-k37", "X-n936-k151", "X-n979-k58"]


def _known(folder: str) -> dict[str, float]:
    out = {}
    for line in (DATA / folder / "solutions.txt").read_text().splitlines():
        if ":" in line:
            k, v = line.split(":")
            out[k.strip()] = float(v)
    return out


def _elkai(problem, seconds: float) -> tuple[float | None, float]:
    try:
        import elkai
    except ImportError:
        return None, 0.0
    t = time.perf_counter()
    n = problem.n_nodes
    if problem.coords is not None and problem.edge_weight_type != "GEO":
        pts = problem.coords * (1.0 if problem.edge_weight_type != "EUC" else 10000.0)
        tour = elkai.Coordinates2D({i: tuple(map(float, pts[i])) for i in range(n)}).solve_tsp(runs=1)
    else:
        D = np.round(problem.distance_matrix()).astype(int)
        tour = elkai.DistanceMatrix(D.tolist()).solve_tsp(runs=1)
    tour = np.asarray(tour[:-1] if tour[0] == tour[-1] and len(tour) == n + 1 else tour)
    return problem.objective(tour), time.perf_counter() - t


def _pyvrp(problem, seconds: float) -> tuple[float | None, float]:
    try:
        import pyvrp
        from pyvrp.stop import MaxRuntime
    except ImportError:
        return None, 0.0
    m = pyvrp.Model()
    m.add_vehicle_type(num_available=problem.n_nodes, capacity=int(problem.capacity))
    scale = 1.0 if problem.edge_weight_type != "EUC" else 10000.0
    xy = np.round(problem.coords * scale).astype(int)
    locs = [m.add_location(x=int(xy[i, 0]), y=int(xy[i, 1])) for i in range(problem.n_nodes)]
    m.add_depot(locs[0])
    for i in range(1, problem.n_nodes):
        m.add_client(locs[i], delivery=int(problem.demands[i]))
    D = np.round(problem.distance_matrix() * scale).astype(int)
    for i, a in enumerate(locs):
        for j, b in enumerate(locs):
            if i != j:
                m.add_edge(a, b, distance=int(D[i, j]))
    t = time.perf_counter()  # model building (n^2 edges in Python) is not timed
    res = m.solve(stop=MaxRuntime(seconds), seed=0, display=False)
    sec = time.perf_counter() - t
    if not res.best.is_feasible():
        return None, sec
    return res.best.distance() / scale, sec  # integer (rounded) lengths, as in the file convention


def _run(problem, method: str, seconds: float, **opts) -> tuple[float, float]:
    from solvers import solve

    t = time.perf_counter()
    r = solve(problem, method, seed=0, time_limit=seconds, **opts)
    return r.objective, time.perf_counter() - t


METHODS = [("udc", "udc", {}), ("udc-ri", "udc", {"start": "random-insertion"}),
           ("local-search", "local-search", {}), ("ortools", "ortools", {})]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="reduced protocol (default)")
    p.add_argument("--full", action="store_true", help="issue protocol")
    p.add_argument("--suites", default="tsp1000,tsp10000,cvrp1000,tsplib,cvrplib")
    p.add_argument("--no-ortools", action="store_true")
    p.add_argument("--instances", type=int, default=None, help="cap on instances per suite")
    p.add_argument("--peer-on-known", action="store_true",
                   help="also run the peer where an optimal / best-known value is on file")
    p.add_argument("--lkh-max-n", type=int, default=2000,
                   help="above this size LKH-3 is not run (TSP10000: ~minutes per instance on 1 core); "
                        "the reference is then the BHH estimate 0.7124 sqrt(n A)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/routing"))
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from problems import CVRP, TSP, read_instance

    full = a.full
    suites: list[tuple[str, list, float, str]] = []
    want = a.suites.split(",")
    if "tsp1000" in want:
        suites.append(("TSP1000", [(f"u1000-s{s}", TSP.random(1000, seed=s), None)
                                   for s in range(16 if full else 2)], 10.0, "elkai"))
    if "tsp10000" in want:
        suites.append(("TSP10000", [(f"u10000-s{s}", TSP.random(10000, seed=s), None)
                                    for s in range(4 if full else 1)], 60.0 if full else 30.0, "elkai"))
    if "cvrp1000" in want:
        suites.append(("CVRP1000", [(f"c1000-s{s}", CVRP.random(1000, seed=s, capacity=200), None)
                                    for s in range(8 if full else 1)], 20.0, "pyvrp"))
    if "tsplib" in want:
        known = _known("tsplib")
        suites.append(("TSPLIB", [(n, read_instance(DATA / "tsplib" / f"{n}.tsp"), known[n])
                                  for n in (TSPLIB_FULL if full else TSPLIB_QUICK)], 10.0, "elkai"))
    if "cvrplib" in want:
        known = _known("cvrplib")
        suites.append(("CVRPLIB-X", [(n, read_instance(DATA / "cvrplib" / f"{n}.vrp"), known[n])
                                     for n in (CVRPLIB_FULL if full else CVRPLIB_QUICK)], 10.0, "pyvrp"))
    rows = []
    for suite, instances, seconds, peer in suites:
        for name, prob, ref in instances[: a.instances]:
            row = {"suite": suite, "instance": name, "n": prob.n_nodes, "time_limit": seconds}
            pobj = None
            if (ref is None or a.peer_on_known) and not (peer == "elkai" and prob.n_nodes > a.lkh_max_n):
                pobj, ptime = (_elkai if peer == "elkai" else _pyvrp)(prob, seconds)
                row[peer], row[f"{peer}_s"] = pobj, ptime
            if ref is None and pobj is None:
                ref = 0.7124 * np.sqrt(prob.n_nodes * np.ptp(prob.coords[:, 0]) * np.ptp(prob.coords[:, 1]))
                row["reference_kind"] = "BHH estimate"
            row["reference"] = ref if ref is not None else pobj
            for label, method, opts in METHODS:
                if method == "ortools" and (a.no_ortools or prob.n_nodes > 2000):
                    continue
                obj, sec = _run(prob, method, seconds, **opts)
                row[label], row[f"{label}_s"] = obj, sec
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
            rows.append(row)
    a.out.mkdir(parents=True, exist_ok=True)
    keys = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("suite", "instance", "n"), k))
    with open(a.out / "routing.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    labels = [m[0] for m in METHODS] + ["elkai", "pyvrp"]
    lines = ["| suite | #inst | reference | " + " | ".join(f"{m} gap % (s)" for m in labels) + " |",
             "|---" * (3 + len(labels)) + "|"]
    for suite in dict.fromkeys(r["suite"] for r in rows):
        rs = [r for r in rows if r["suite"] == suite]
        cells = []
        for m in labels:
            vals = [(100 * (r[m] / r["reference"] - 1), r[f"{m}_s"]) for r in rs if r.get(m) is not None]
            cells.append(f"{np.mean([v[0] for v in vals]):.2f} ({np.mean([v[1] for v in vals]):.1f})"
                         if len(vals) == len(rs) else "-")
        ref = rs[0].get("reference_kind") or (
            "optimal/BKS" if rs[0].get("reference") not in (rs[0].get("elkai"), rs[0].get("pyvrp")) else
            "LKH-3 (elkai)" if "elkai" in rs[0] else "PyVRP")
        lines.append(f"| {suite} | {len(rs)} | {ref} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    (a.out / "routing.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
