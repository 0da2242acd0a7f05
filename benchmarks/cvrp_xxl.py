"""CVRPLIB XXL (Arnold, Gendreau & Sorensen 2017) at 600 s with optbox's default CVRP method
(issue 23): one JSON line per file with the final gap to the best known value, the gap at
30/60/120/300 s and UDC's stage objectives.

    python -m benchmarks.cvrp_xxl Leuven1 Antwerp1 Ghent1 --time-limit 600
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from problems import read_instance
from solvers import solve

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "benchdata" / "cvrplib"
MARKS = (30, 60, 120, 300, 600)


def best_known(name: str) -> float:
    for line in (DATA / "solutions.txt").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return float(value)
    raise KeyError(f"{name} has no best-known value in {DATA / 'solutions.txt'}")


def run(name: str, limit: float, seed: int = 0) -> dict:
    p = read_instance(DATA / f"{name}.vrp")
    bks = best_known(name)
    t0 = time.perf_counter()
    r = solve(p, time_limit=limit, seed=seed)
    wall = time.perf_counter() - t0
    at = {}
    for t, value, _ in r.history:  # the incumbent at each mark: the last report before it
        for m in MARKS:
            if t <= m:
                at[m] = round(100 * (value / bks - 1), 3)
    return {"name": name, "customers": p.n_nodes - 1, "method": r.method, "status": str(r.status),
            "wall_s": round(wall, 1), "objective": r.objective, "best_known": bks,
            "gap_pct": round(100 * (r.objective / bks - 1), 3), "gap_pct_at": at,
            "stages": r.stats.get("stages"), "routes": r.stats.get("routes"),
            "feasible": bool(p.is_feasible(r.solution))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.cvrp_xxl")
    ap.add_argument("names", nargs="*", default=["Leuven1", "Antwerp1", "Ghent1"])
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    for name in args.names:
        print(json.dumps(run(name, args.time_limit, args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
