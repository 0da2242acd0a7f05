"""Large routing benchmark (issue 6): udc (learned divider), udc with random-insertion start,
local-search, OR-Tools, and peers elkai (LKH-3, TSP) / PyVRP (CVRP) with matched time.

    python3 -m benchmarks.routing --quick          # <= 4 min: pr1002, X-n502-k39, CVRP1000 s0 at 5 s
    python3 -m benchmarks.routing                  # reduced protocol (split with --suites)
    python3 -m benchmarks.routing --full           # issue protocol (16 TSP1000, 4 TSP10000, ...)
    python3 -m benchmarks.routing --full --suites tsp1000 --first 4 --instances 4  # a slice
    python3 -m benchmarks.routing --merge OUT1 OUT2 ... --out OUT  # one table from several slices
    python3 -m benchmarks.routing --suites tsplib-lk --at-lkh-time --methods local-search  # issue 25:
        # TSPLIB 1000-2400 nodes, LKH-3 (RUNS=1) first, ours given LKH's own wall time
    python3 -m benchmarks.routing --suites cvrplib-big --seconds 60 --methods udc,local-search \
        --peer-on-known --no-ortools  # X-n979-k58 and XXL Leuven1 (3001 nodes) against PyVRP
    python3 -m benchmarks.routing --cold tsplib/d1291.tsp --seconds 10  # first calls: 3 processes
        # in a row on one fresh NUMBA_CACHE_DIR (the first on an empty cache), default method

Writes ``routing.{csv,json,md}`` (gap to the reference and seconds per solver) and
``routing_anytime.png`` (gap vs time, one panel per instance, one line per solver) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._report import plot_panels, progress, write_tables

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "benchdata"
TSPLIB = {"quick": ["pr1002"], "reduced": ["pr1002", "pcb1173", "d2103", "fnl4461"],
          "full": ["pr1002", "u1060", "pcb1173", "d1291", "rl1304", "fl1577", "d2103", "pcb3038",
                   "fnl4461"]}
#: issue 25: the TSPLIB files of 1000-2400 nodes, run at LKH-3's own RUNS = 1 time
TSPLIB_LK = ["pr1002", "u1060", "pcb1173", "d1291", "rl1304", "fl1577", "d2103"]
CVRPLIB_FULL = ["X-n502-k39", "X-n524-k153", "X-n548-k50", "X-n573-k30", "X-n599-k92", "X-n627-k43",
                "X-n655-k131", "X-n685-k75", "X-n716-k35", "X-n749-k98", "X-n783-k48", "X-n819-k171",
                "X-n856-k95", "X-n895-k37", "X-n936-k151", "X-n979-k58"]
#: CVRP from 1000 customers: the largest X file here and the smallest XXL one (Arnold et al. 2019)
CVRPLIB_BIG = ["X-n979-k58", "Leuven1"]
#: the largest TSPLIB files in shared/ (issue 23's 14k-18k class: usa13509), 10 minutes each
TSPLIB_BIG = ["rl5915", "pla7397", "usa13509"]
CVRPLIB = {"quick": ["X-n502-k39"], "reduced": ["X-n502-k39", "X-n655-k131", "X-n783-k48", "X-n979-k58"],
           "full": CVRPLIB_FULL}
METHODS = [("udc", "udc", {}), ("udc-ri", "udc", {"start": "random-insertion"}),
           ("local-search", "local-search", {}), ("ortools", "ortools", {})]
Curve = tuple[list[float], list[float]]


def _known(folder: str) -> dict[str, float]:
    out = {}
    for line in (DATA / folder / "solutions.txt").read_text().splitlines():
        if ":" in line:
            k, v = line.split(":")
            out[k.strip()] = float(v)
    return out


def _elkai(problem) -> tuple[float | None, float, Curve]:
    """LKH-3 via elkai, through ``solve(problem, "lkh")``: one run (``runs=1``, no time limit: LKH
    has no anytime curve and the table keeps "LKH-3 with its default effort"; its time is
    reported as measured)."""
    from solvers.registry import get_method

    try:
        get_method("lkh", problem)
    except ValueError:  # elkai not installed
        return None, 0.0, ([], [])
    from solvers import solve

    t = time.perf_counter()
    r = solve(problem, "lkh", seed=0, runs=1)
    sec = time.perf_counter() - t
    obj = r.objective if r.ok else None
    return obj, sec, (([sec], [obj]) if obj is not None else ([], []))


def _pyvrp(problem, seconds: float) -> tuple[float | None, float, Curve]:
    """PyVRP for ``seconds``, through ``solve(problem, "pyvrp")``; its anytime curve is the
    recorded best feasible cost (the file's integer lengths; exact ones scaled by 10^4)."""
    from solvers.registry import get_method

    try:
        get_method("pyvrp", problem)
    except ValueError:  # pyvrp not installed
        return None, 0.0, ([], [])
    return _run(problem, "pyvrp", seconds)


def _run(problem, method: str, seconds: float, **opts) -> tuple[float, float, Curve]:
    from solvers import solve

    t = time.perf_counter()
    r = solve(problem, method, seed=0, time_limit=seconds, **opts)
    sec = time.perf_counter() - t
    obj = r.objective if r.ok and r.objective is not None and np.isfinite(r.objective) else None
    hist = [(h[0], h[1]) for h in r.history if np.isfinite(h[1])]
    xs = [h[0] for h in hist] + ([sec] if obj is not None else [])
    ys = [h[1] for h in hist] + ([obj] if obj is not None else [])
    return obj, sec, (xs, ys)


def _suites(protocol: str, want: list[str]) -> list[tuple[str, list, float, str]]:
    from problems import CVRP, TSP, read_instance

    quick, full = protocol == "quick", protocol == "full"
    T = 5.0 if quick else 10.0
    out: list[tuple[str, list, float, str]] = []
    if "tsp1000" in want and not quick:
        out.append(("TSP1000", [(f"u1000-s{s}", TSP.random(1000, seed=s), None)
                                for s in range(16 if full else 2)], T, "elkai"))
    if "tsp10000" in want and not quick:
        out.append(("TSP10000", [(f"u10000-s{s}", TSP.random(10000, seed=s), None)
                                 for s in range(4 if full else 1)], 60.0 if full else 30.0, "elkai"))
    if "cvrp1000" in want:
        out.append(("CVRP1000", [(f"c1000-s{s}", CVRP.random(1000, seed=s, capacity=200), None)
                                 for s in range(8 if full else 1 if quick else 2)],
                    T if quick else 20.0, "pyvrp"))
    for suite, label, files, seconds in (("tsplib", "TSPLIB", TSPLIB[protocol], T),
                                         ("tsplib-lk", "TSPLIB-LK", TSPLIB_LK, T),
                                         ("tsplib-big", "TSPLIB-big", TSPLIB_BIG, 600.0)):
        if suite in want:
            known = _known("tsplib")
            out.append((label, [(n, read_instance(DATA / "tsplib" / f"{n}.tsp"), known[n])
                                for n in files], seconds, "elkai"))
    for suite, label, files in (("cvrplib", "CVRPLIB-X", CVRPLIB[protocol]),
                                ("cvrplib-big", "CVRPLIB-big", CVRPLIB_BIG)):
        if suite in want:
            known = _known("cvrplib")
            names = [n for n in files if (DATA / "cvrplib" / f"{n}.vrp").exists()]
            out.append((label, [(n, read_instance(DATA / "cvrplib" / f"{n}.vrp"), known[n])
                                for n in names], T if suite == "cvrplib" else 20.0, "pyvrp"))
    return out


_COLD_CALL = """
import json, sys, time
t0 = time.perf_counter()
from problems import read_instance
from solvers import solve
p = read_instance(sys.argv[1])
t = time.perf_counter()
r = solve(p, sys.argv[3] or None, time_limit=float(sys.argv[2]), seed=0)
print(json.dumps({"method": r.method, "solve_s": time.perf_counter() - t, "import_s": t - t0,
                  "objective": r.objective, "stats": {k: v for k, v in r.stats.items()
                  if isinstance(v, (int, float, str, bool))}}))
"""


def _emulate(files: list[str], seconds: float | None, method: str | None, after: float) -> int:
    """A first call on an idle machine, emulated under load: warm kernels, but the solve is told
    they are not compiled (the compiler process 'running') until ``after`` s into the solve:
    the idle compiler process's CPU time (``/usr/bin/time`` on ``background._WARM``)."""
    from problems import read_instance
    from solvers import solve
    from solvers.routing import background

    print("| file | method | limit s | kernels ready at s | solve s | gap % | stats |")
    print("|---|---|---|---|---|---|---|")
    for f in files:
        path = Path(f) if Path(f).exists() else DATA / f
        p = read_instance(path)
        limit = seconds if seconds is not None else (10.0 if path.suffix == ".tsp" else 20.0)
        kind = "tsp" if path.suffix == ".tsp" else "cvrp"
        solve(read_instance(DATA / ("tsplib/berlin52.tsp" if kind == "tsp" else "cvrplib/X-n101-k25.vrp")),
              method, time_limit=1.0, seed=0)  # kernels loaded in this process
        real, t0 = background.ready, [0.0]

        def ready(dispatcher, real=real, t0=t0) -> bool:
            return time.perf_counter() - t0[0] >= after and real(dispatcher)

        from solvers.routing import tsp as T
        patches = [(background, "ready", ready), (background, "start", lambda kind: True),
                   (background, "compiling", lambda kind: True), (T, "kernel_ready", ready),
                   (background, "busy", lambda: False)]  # idle: a core to spare
        old = [(m, n, getattr(m, n)) for m, n, _ in patches]
        _ = [setattr(m, n, v) for m, n, v in patches]
        try:
            t0[0] = time.perf_counter()
            r = solve(p, method, time_limit=limit, seed=0)
            wall = time.perf_counter() - t0[0]
        finally:
            _ = [setattr(m, n, v) for m, n, v in old]
        gap = 100 * (r.objective / _known(path.parent.name)[path.stem] - 1)
        st = {k: v for k, v in r.stats.items() if isinstance(v, (int, float, str, bool))}
        print(f"| {path.stem} | {r.method} | {limit:g} | {after:g} | {wall:.2f} | {gap:.2f} | {st} |",
              flush=True)
    return 0


def _cold(files: list[str], seconds: float | None, calls: int, method: str | None) -> int:
    """First calls on a fresh install: ``calls`` processes in a row per file on one new
    NUMBA_CACHE_DIR (the first on an empty cache; the compiler process a first call starts may
    still run during the next), each ``solve(read_instance(f), method, time_limit=...)``
    (``method`` None: the default)."""
    print("| file | call | method | limit s | solve s | imports s | process s | gap % | stats |")
    print("|---|---|---|---|---|---|---|---|---|")
    for f in files:
        path = Path(f) if Path(f).exists() else DATA / f
        folder = path.parent.name
        known = _known(folder)
        limit = seconds if seconds is not None else (10.0 if path.suffix == ".tsp" else 20.0)
        cache = tempfile.mkdtemp(prefix="numba-cold-")
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for call in range(1, calls + 1):
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", _COLD_CALL, str(path), str(limit), method or ""],
                                 env=env, capture_output=True, text=True, check=True,
                                 cwd=Path(__file__).resolve().parents[1])
            wall = time.perf_counter() - t
            r = json.loads(out.stdout.strip().splitlines()[-1])
            gap = 100 * (r["objective"] / known[path.stem] - 1)
            print(f"| {path.stem} | {call} | {r['method']} | {limit:g} | {r['solve_s']:.2f} | "
                  f"{r['import_s']:.2f} | {wall:.2f} | {gap:.2f} | {r['stats']} |", flush=True)
    return 0


def _table(rows: list[dict]) -> str:
    """Suite means (gap % and mean seconds per solver) and the per-instance objectives."""
    labels = [m[0] for m in METHODS] + ["elkai", "pyvrp"]
    lines = ["| suite | #inst | reference | " + " | ".join(f"{m} gap % (s)" for m in labels) + " |",
             "|---" * (3 + len(labels)) + "|"]
    for suite in dict.fromkeys(r["suite"] for r in rows):
        rs = [r for r in rows if r["suite"] == suite]
        cells = []
        for m in labels:
            vals = [(r[f"{m}_gap"], r[f"{m}_s"]) for r in rs if r.get(m) is not None]
            ran = sum(m in r for r in rs)  # key present: run (None = no solution in time)
            cells.append(f"{np.mean([v[0] for v in vals]):.2f} ({np.mean([v[1] for v in vals]):.1f})"
                         if len(vals) == len(rs) else "-" if not ran else
                         f"{len(vals)} of {ran} solved"
                         + (f", {len(rs) - ran} not run" if ran < len(rs) else ""))
        lines.append(f"| {suite} | {len(rs)} | {rs[0]['reference_kind']} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| instance | n | reference | " + " | ".join(labels) + " |")
    lines.append("|---" * (3 + len(labels)) + "|")
    for r in rows:
        cells = [f"{r[m]:.6g}" if r.get(m) is not None else "-" for m in labels]
        lines.append(f"| {r['instance']} | {r['n']} | {r['reference']:.6g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _merge(folders: list[Path], out: Path) -> int:
    """One table from the ``routing.json`` of several runs (slices of the protocol); a later
    folder's solver value replaces an earlier one for the same (suite, instance)."""
    merged: dict[tuple[str, str], dict] = {}
    for folder in folders:
        path = folder / "routing.json" if folder.is_dir() else folder
        if not path.exists():
            raise SystemExit(f"no routing.json in {folder}")
        for row in json.loads(path.read_text()):
            key = (row["suite"], row["instance"])
            if key in merged and merged[key]["reference"] != row["reference"]:
                raise SystemExit(f"{key}: different references in the merged runs")
            old = merged.setdefault(key, {})
            old.update({k: v for k, v in row.items() if v is not None or k not in old})
    order = ["TSP1000", "TSP10000", "CVRP1000", "TSPLIB", "TSPLIB-LK", "CVRPLIB-X", "CVRPLIB-big"]
    rows = sorted(merged.values(), key=lambda r: (order.index(r["suite"]) if r["suite"] in order else 99,
                                                  r["n"], r["instance"]))
    table = _table(rows)
    print(table)
    write_tables(out, "routing", rows, table)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="<= 4 min: one instance of TSPLIB, CVRPLIB, CVRP1000")
    p.add_argument("--full", action="store_true", help="issue protocol")
    p.add_argument("--suites", default="tsp1000,tsp10000,cvrp1000,tsplib,cvrplib",
                   help="comma-separated: tsp1000, tsp10000, cvrp1000, tsplib, cvrplib, tsplib-lk, "
                        "tsplib-big, "
                        "cvrplib-big")
    p.add_argument("--no-ortools", action="store_true")
    p.add_argument("--instances", type=int, default=None, help="cap on instances per suite")
    p.add_argument("--first", type=int, default=0,
                   help="skip the first FIRST instances of every suite (to split a suite into slices)")
    p.add_argument("--methods", default=",".join(m[0] for m in METHODS),
                   help="comma-separated subset of " + ", ".join(m[0] for m in METHODS))
    p.add_argument("--reference-from", type=Path, default=None,
                   help="take the reference (and the peer's result) of an instance from this earlier "
                        "output folder's routing.json instead of running the peer again")
    p.add_argument("--merge", type=Path, nargs="+", default=None,
                   help="no runs: merge the routing.json of these output folders into one table "
                        "(a later folder's value replaces an earlier one for the same instance and solver)")
    p.add_argument("--peer-on-known", action="store_true",
                   help="also run the peer where an optimal / best-known value is on file")
    p.add_argument("--at-lkh-time", action="store_true",
                   help="TSP suites: run LKH-3 (RUNS=1) on every instance and give every solver "
                        "LKH's measured wall time as its limit (with --reference-from: the earlier "
                        "run's LKH time)")
    p.add_argument("--lkh-max-n", type=int, default=2000,
                   help="above this size LKH-3 is not run; the reference is then the BHH estimate "
                        "0.7124 sqrt(n A)")
    p.add_argument("--seconds", type=float, default=None,
                   help="time limit of every suite (default: the protocol's; --cold: 10 TSP, 20 CVRP)")
    p.add_argument("--cold", nargs="+", default=None, metavar="FILE",
                   help="no runs but first calls: FILEs (paths, or relative to the benchdata "
                        "folder) solved by the default method in --cold-calls fresh processes")
    p.add_argument("--cold-calls", type=int, default=3)
    p.add_argument("--cold-method", default=None, help="--cold: this method (default: the default)")
    p.add_argument("--emulate-idle", type=float, default=None, metavar="S",
                   help="--cold files in this process with the kernels 'compiled' S s into the solve "
                        "(an idle machine's compiler-process time), warm otherwise")
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/routing"))
    a = p.parse_args(argv)
    if a.merge:
        return _merge(a.merge, a.out)
    if a.cold and a.emulate_idle is not None:
        return _emulate(a.cold, a.seconds, a.cold_method, a.emulate_idle)
    if a.cold:
        return _cold(a.cold, a.seconds, a.cold_calls, a.cold_method)
    want = a.methods.split(",")
    bad = sorted(set(want) - {m[0] for m in METHODS})
    if bad:
        p.error(f"unknown method(s) {bad}; choose from {[m[0] for m in METHODS]}")
    if a.first < 0:
        p.error("--first must be >= 0")
    import torch

    torch.set_num_threads(1)
    from learned.udc import model as M

    M.load("tsp"), M.load("cvrp")  # warm start: imports and weights are not charged to the first run
    from solvers.warmup import tiny_instance, warm_up

    for kind in ("TSP", "CVRP"):  # numba kernels compiled (or loaded from the on-disk cache) untimed
        for label, method, opts in METHODS:
            if label in want and method != "ortools":
                warm_up(tiny_instance(kind), method, 0.5, **opts)
    for kind, peer, opts in (("TSP", "lkh", {"runs": 1}), ("CVRP", "pyvrp", {"max_iter": 200})):
        warm_up(tiny_instance(kind), peer, 0.5, **opts)  # the peers' imports untimed (none: skipped)
    protocol = "full" if a.full else "quick" if a.quick else "reduced"
    suites = _suites(protocol, a.suites.split(","))
    stop = None if a.instances is None else a.first + a.instances
    jobs = [(s, inst, sec if a.seconds is None else a.seconds, peer)
            for s, insts, sec, peer in suites for inst in insts[a.first: stop]]
    earlier: dict[tuple[str, str], dict] = {}
    if a.reference_from is not None:
        earlier = {(r["suite"], r["instance"]): r
                   for r in json.loads((a.reference_from / "routing.json").read_text())}
    rows: list[dict] = []
    panels: dict[str, dict[str, Curve]] = {}
    for suite, (name, prob, ref), seconds, peer in progress(jobs, "routing", total=len(jobs)):
        row = {"suite": suite, "instance": name, "n": prob.n_nodes, "time_limit": seconds}
        curves: dict[str, Curve] = {}
        run_peer = (ref is None or a.peer_on_known or (peer == "pyvrp" and protocol == "quick")
                    or (peer == "elkai" and a.at_lkh_time)) and not (
            peer == "elkai" and prob.n_nodes > a.lkh_max_n and not a.at_lkh_time)
        pobj, pcurve = None, None
        if (suite, name) in earlier:  # reference and peer result of an earlier run
            old = earlier[(suite, name)]
            row.update({k: old[k] for k in ("reference", "reference_kind", peer, f"{peer}_s") if k in old})
            ref, run_peer = old["reference"], False
        if run_peer:
            pobj, ptime, pcurve = _elkai(prob) if peer == "elkai" else _pyvrp(prob, seconds)
            row[peer], row[f"{peer}_s"] = pobj, ptime
        if a.at_lkh_time and peer == "elkai" and row.get("elkai_s"):
            seconds = row["time_limit"] = float(row["elkai_s"])
        if ref is None and pobj is None:
            ref = 0.7124 * np.sqrt(prob.n_nodes * np.ptp(prob.coords[:, 0]) * np.ptp(prob.coords[:, 1]))
            row["reference_kind"] = "BHH estimate"
        row["reference"] = ref if ref is not None else pobj
        row.setdefault("reference_kind", "optimal/BKS" if ref is not None else
                       "LKH-3 (elkai)" if peer == "elkai" else f"PyVRP ({seconds:g} s)")
        for label, method, opts in METHODS:
            if label not in want:
                continue
            if method == "ortools" and (a.no_ortools or prob.n_nodes > 2000):
                continue
            obj, sec, curve = _run(prob, method, seconds, **opts)
            row[label], row[f"{label}_s"] = obj, sec  # None: no solution found in time
            curves[label] = curve
        if pcurve is not None:  # peers last: the same colour per solver in every panel
            curves["LKH-3 (elkai)" if peer == "elkai" else "PyVRP"] = pcurve
        for label in [m[0] for m in METHODS] + ["elkai", "pyvrp"]:
            if row.get(label) is not None:
                row[f"{label}_gap"] = 100 * (row[label] / row["reference"] - 1)
        panels[f"{suite} {name} (n={prob.n_nodes})"] = {
            lab: (xs, [100 * (y / row["reference"] - 1) for y in ys]) for lab, (xs, ys) in curves.items()}
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
        rows.append(row)
    table = _table(rows)
    print(table)
    write_tables(a.out, "routing", rows, table)
    if panels:
        png = plot_panels(a.out / "routing_anytime.png", panels, "seconds", "gap to reference (%)",
                          steps=True, logy=False)
        print(f"wrote {a.out}/routing.{{csv,json,md}} and {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
