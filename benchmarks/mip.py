"""MIP benchmark: optbox Balans vs plain SCIP vs the ``balans`` PyPI package (issue 4), and the
peers HiGHS and CP-SAT on request.

Protocol (full run): MIPLIB instances of ``../shared/benchdata/miplib`` (optima in solutions.txt)
plus generated set cover, combinatorial auction, capacitated facility location and independent
set instances (Gasse et al. 2019 families, larger than their defaults); 60 s wall per run
(everything included), 1 thread, seeds 0-2. Metrics: primal gap to the best known value
(Berthold 2013: |f - f*| / max(|f|, |f*|), 1 without a solution or with opposite signs) and the
primal integral of that gap over [0, T] in seconds; wins/ties/losses of optbox Balans against each
peer on the mean integral per instance.

For generated instances the best known value is the best objective found by any run here (or
by a longer SCIP reference run with ``--reference-time``).

Every method, ours (``balans``, ``scip``, the ablation variants) or a peer (``highs``,
``cpsat``: registry methods, 1 thread), runs through ``solvers.solve`` with the same time limit
and seed; ``--methods balans,scip,highs`` picks them (default: the protocol's). The ``balans``
PyPI package (``balans_pkg``) is not a registry method and is still called by hand. CP-SAT
refuses models with continuous variables: such a run is recorded as having no solution (gap 1).

    python3 -m benchmarks.mip --quick                # smoke run (< 4 min): 10 s, seed 0, 6 instances
    python3 -m benchmarks.mip --protocol quick30     # the record run: 30 s, seed 0, all instances
    python3 -m benchmarks.mip                        # the full protocol (hours on a 2-core machine)

Outputs in --out: mip.csv / mip.json / mip.md (per run rows, the table), runs.json (incumbent
traces and solver statistics per run), anytime_gap.png (primal
gap of the incumbent against time, one panel per instance, first seed) and primal_integral.png.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

MIPLIB_DIR = Path(__file__).resolve().parents[2] / "shared" / "benchdata" / "miplib"
#: the protocols' solvers; SOLVERS: every name ``--methods`` takes (besides the ablation variants)
PROTOCOL_SOLVERS = ("balans", "scip", "balans_pkg")
PEERS = ("highs", "cpsat")  # registry peer methods, 1 thread as ours
SOLVERS = PROTOCOL_SOLVERS + PEERS
# The ablation (issue 27): which mechanism earns Balans' result. "balans_lns" is the paper's
# Balans (first solution, then the bandit LNS alone: no hand-over to SCIP); "op:NAME" is that
# LNS with the single operator NAME; "lns_random" picks arms uniformly; "lns_nocost" is the
# bandit without the cost-aware score; "lns_flat" / "balans_flat": balans_lns / balans with the
# package's flat bandit prior (bandit_optimistic=False).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "balans_lns": ("balans", {"first_solution": "lns"}),
    "lns_random": ("balans", {"first_solution": "lns", "bandit": "random"}),
    "lns_nocost": ("balans", {"first_solution": "lns", "bandit_cost": False}),
    "lns_flat": ("balans", {"first_solution": "lns", "bandit_optimistic": False}),
    "balans_flat": ("balans", {"bandit_optimistic": False}),
}
ABLATION_OPS = ("crossover", "mutation_50", "local_branching_25", "proximity_15", "rens_50", "rins_50")


def variant(name: str) -> tuple[str, dict[str, Any]]:
    """(method, options) of a solver name of the table."""
    if name.startswith("op:"):
        return "balans", {"first_solution": "lns", "operators": [name[3:]]}
    return VARIANTS.get(name, (name, {}))
# Generated families: sizes above Gasse et al.'s "medium"/"hard" so SCIP does not close them in 60 s.
GENERATED = {
    "setcover": dict(n_rows=1000, n_cols=1000, density=0.05),
    "cauction": dict(n_items=200, n_bids=1000),
    "cfl": dict(n_customers=100, n_facilities=100),
    "indset": dict(n_nodes=1500, affinity=4),
}


# name -> (seconds per run, seeds, generated instances per family, instance filter or None = all,
# solvers). The balans package needs >= 10 s for its first solution: not in the 10 s smoke run.
PROTOCOLS: dict[str, tuple[float, int, int, list[str] | None, tuple[str, ...]]] = {
    "quick": (10.0, 1, 1, ["50v-10", "gen-ip054", "pk1", "setcover-0", "cauction-0", "indset-0"],
              ("balans", "scip")),
    "quick30": (30.0, 1, 1, None, PROTOCOL_SOLVERS),
    "full": (60.0, 3, 3, None, PROTOCOL_SOLVERS),
}


def primal_gap(value: float | None, best: float) -> float:
    """Berthold's primal gap in [0, 1]."""
    if value is None or not math.isfinite(value):
        return 1.0
    if abs(value - best) <= 1e-9 * max(1.0, abs(best)):
        return 0.0
    if value * best < 0:
        return 1.0
    return min(1.0, abs(value - best) / max(abs(value), abs(best)))


def primal_integral(history: list[tuple[float, float]], best: float, horizon: float) -> float:
    """Integral over [0, horizon] of the gap of the incumbent (gap 1 before the first solution)."""
    total, t_prev, gap = 0.0, 0.0, 1.0
    for t, value in sorted(history):
        t = min(max(t, 0.0), horizon)
        total += gap * (t - t_prev)
        t_prev, gap = t, primal_gap(value, best)  # history holds monotone incumbents
    return total + gap * (horizon - t_prev)


def _incumbents(history: list[tuple[float, float]], maximize: bool,
                horizon: float) -> list[tuple[float, float]]:
    """Monotone incumbent trace (time, best value so far) cut at the horizon."""
    out: list[tuple[float, float]] = []
    for t, v in sorted(history):
        if t > horizon or v is None or not math.isfinite(v):
            continue
        if not out or (v > out[-1][1] if maximize else v < out[-1][1]):
            out.append((t, v))
    return out


def load_instances(quick: bool, gen_seeds: int,
                   only: list[str] | None) -> list[tuple[str, Any, float | None, Path]]:
    """(name, MIP, best known value or None, path of a file for the balans package)."""
    from problems import read_instance
    from problems.mip_generators import GENERATORS

    optima: dict[str, float] = {}
    sol_file = MIPLIB_DIR / "solutions.txt"
    if sol_file.exists():
        for line in sol_file.read_text().splitlines():
            if ":" in line and not line.lstrip().startswith("#"):
                key, value = line.split(":", 1)
                optima[key.strip()] = float(value)
    out = []
    for path in sorted(MIPLIB_DIR.glob("*.mps.gz")):
        name = path.name.split(".")[0]
        if only and name not in only:
            continue
        out.append((name, read_instance(path), optima.get(name), path))
    gen_dir = Path("/tmp") / "optbox_mip_instances"
    gen_dir.mkdir(parents=True, exist_ok=True)
    for family, kwargs in GENERATED.items():
        for s in range(1 if quick else gen_seeds):
            name = f"{family}-{s}"
            if only and name not in only and family not in only:
                continue
            problem = GENERATORS[family](seed=s, **kwargs)
            path = gen_dir / f"{name}.mps"
            problem.to_file(path)
            out.append((name, problem, None, path))
    return out


def run_optbox(method: str, problem: Any, limit: float, seed: int) -> dict[str, Any]:
    from solvers import solve

    method, opts = variant(method)
    start = time.perf_counter()
    res = solve(problem, method=method, time_limit=limit, seed=seed, **opts)
    wall = time.perf_counter() - start
    feasible = res.solution is not None and problem.is_feasible(res.solution)
    stats = {k: v for k, v in (res.stats or {}).items() if k != "iteration_log"}
    log = (res.stats or {}).get("iteration_log", [])
    return {"objective": res.objective if feasible else None, "wall": wall, "status": str(res.status),
            "history": [(t, v) for t, v, _ in res.history], "iterations": res.iterations,
            "feasible": feasible, "stats": stats, "iteration_log": log}


def run_balans_pkg(problem: Any, path: Path, limit: float, seed: int) -> dict[str, Any] | None:
    """The PyPI ``balans`` package (2.2.0) with its default configuration and a MaxRuntime stop
    (called by hand: it is not a registry method).

    Its start (first solution, up to 10 s by default) is outside its MaxRuntime, so its wall time
    may exceed ``limit``; incumbents after ``limit`` do not count in the integral or final value.
    Incumbent times: start = wall - sum(iteration runtimes), then the cumulative runtimes.
    Its seed must be positive: seed s maps to 1000 + s.
    """
    try:
        from alns.stop import MaxRuntime
        from balans.solver import Balans
    except ImportError:
        return None
    start = time.perf_counter()
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        solver = Balans(stop=MaxRuntime(limit), seed=1000 + seed)
        result = solver.solve(str(path))
    wall = time.perf_counter() - start
    flip = 1.0  # its statistics hold objectives in the model's own sense (checked on max models)
    stats = result.statistics
    runtimes = list(stats.runtimes)
    objectives = [flip * float(v) for v in stats.objectives]
    t = wall - sum(runtimes)
    history = []
    if len(objectives) == len(runtimes) + 1:
        history.append((t, objectives[0]))
        objectives = objectives[1:]
    for rt, v in zip(runtimes, objectives):
        t += rt
        history.append((t, v))
    trace = _incumbents(history, problem.maximize, limit)
    return {"objective": trace[-1][1] if trace else None, "wall": wall, "status": "-",
            "history": trace, "iterations": len(runtimes), "feasible": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="= --protocol quick (10 s, 6 instances, no package)")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default=None,
                        help="quick: 10 s, seed 0, 6 instances, balans+scip; quick30: 30 s, seed 0, "
                             "all instances (one per generated family); "
                             "full (default): 60 s, seeds 0-2, 3 per family")
    parser.add_argument("--out", default="benchmarks/out/mip", help="output folder")
    parser.add_argument("--time", type=float, default=None, help="seconds per run (protocol's)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..n-1 (protocol's)")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds start here (default 0)")
    parser.add_argument("--gen-seeds", type=int, default=None, help="generated instances per family")
    parser.add_argument("--methods", "--solvers", dest="solvers", default="",
                        help=f"comma list from {', '.join(SOLVERS)} (default: the protocol's)")
    parser.add_argument("--instances", default="", help="comma list of names or families (default all)")
    parser.add_argument("--reference-time", type=float, default=0.0,
                        help="extra SCIP run (seconds) for the best known value of generated instances")
    parser.add_argument("--best-known", default="",
                        help="name=value,... best values known from other runs (generated instances)")
    parser.add_argument("--merge", default="",
                        help="comma list of output folders (DIR or DIR:solver+solver): one table "
                             "from their runs.json, no new runs")
    parser.add_argument("--ablation", nargs="?", const="some", choices=("some", "all"), default=None,
                        help="the issue-27 ablation: scip, balans, balans_lns, lns_random, lns_nocost "
                             "and single operators (some: one rate per kind; all: the 16 arms)")
    args = parser.parse_args(argv)
    overrides = {k: float(v) for k, v in (item.split("=", 1) for item in args.best_known.split(",") if item)}
    if args.merge:
        return merge([Path(d) for d in args.merge.split(",") if d], Path(args.out), overrides)
    protocol = args.protocol or ("quick" if args.quick else "full")
    p_time, p_seeds, p_gen, p_only, p_solvers = PROTOCOLS[protocol]
    limit = args.time or p_time
    seeds = [args.first_seed + k for k in range(args.seeds or p_seeds)]
    gen_seeds = args.gen_seeds or p_gen
    solvers = [s for s in args.solvers.split(",") if s] or list(p_solvers)
    ref = "balans"
    if args.ablation:
        from solvers.mip.lns.operators import PAPER_PORTFOLIO

        ops = ABLATION_OPS if args.ablation == "some" else PAPER_PORTFOLIO
        solvers = ["scip", "balans", "balans_lns", "lns_random", "lns_nocost"] + [f"op:{o}" for o in ops]
        ref = "balans_lns"
    bad = [s for s in solvers if s not in SOLVERS and s not in VARIANTS and not s.startswith("op:")]
    if bad:
        parser.error(f"unknown methods {bad}; choose from {', '.join(SOLVERS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    only = [s for s in args.instances.split(",") if s] or p_only
    instances = load_instances(gen_seeds <= 1, gen_seeds, only)
    notes: list[str] = []
    details: list[dict[str, Any]] = []  # per run: incumbent trace and solver stats (runs.json)
    from benchmarks._report import progress

    for name, problem, best, path in progress(instances, "mip instances"):
        runs: dict[tuple[str, int], dict[str, Any]] = {}
        for seed in seeds:
            for solver in solvers:
                if solver == "balans_pkg":
                    try:
                        r = run_balans_pkg(problem, path, limit, seed)
                    except Exception as exc:  # the peer failing is recorded, never fatal
                        notes.append(f"balans package failed on {name} seed {seed}: "
                                     f"{type(exc).__name__}: {exc}")
                        r = {"objective": None, "wall": float("nan"), "status": "error", "history": [],
                             "iterations": 0, "feasible": False}
                    if r is None:
                        notes.append("balans package not installed: skipped")
                        solvers = [s for s in solvers if s != "balans_pkg"]
                        continue
                else:
                    try:
                        r = run_optbox(solver, problem, limit, seed)
                    except ValueError as exc:  # a peer refusing the model (cpsat: continuous variables)
                        if solver not in PEERS:
                            raise
                        notes.append(f"{solver} on {name}: {exc}")
                        r = {"objective": None, "wall": float("nan"), "status": "error", "history": [],
                             "iterations": 0, "feasible": False}
                r["history"] = _incumbents(r["history"], problem.maximize, limit)
                r["final"] = r["history"][-1][1] if r["history"] else None
                runs[solver, seed] = r
                print(f"{name} {solver} seed={seed} obj={r['final']} wall={r['wall']:.1f}s "
                      f"it={r['iterations']} status={r['status']}", flush=True)
        if args.reference_time > 0 and best is None:
            ref = run_optbox("scip", problem, args.reference_time, 0)
            if ref["objective"] is not None:
                runs["reference", 0] = {**ref, "final": ref["objective"], "history": []}
        for (solver, seed), r in runs.items():
            details.append({"instance": name, "solver": solver, "seed": seed, "maximize": problem.maximize,
                            "time_limit": limit, "optimum": best, "history": r["history"],
                            "final": r["final"], "wall": r["wall"], "iterations": r["iterations"],
                            "status": r["status"], "stats": r.get("stats", {}),
                            "iteration_log": r.get("iteration_log", [])})
    header = f"Protocol {protocol}: {limit:g} s per run, seeds {seeds}.\n\n"
    (out / "runs.json").write_text(json.dumps(details, default=str) + "\n")
    _report(details, out, header, solvers, overrides, notes, ref)
    return 0


def merge(dirs: list[Path], out: Path, overrides: dict[str, float]) -> int:
    """One table from the ``runs.json`` of several runs (split by instances, seeds or solvers):
    the best known value of a generated instance is then the best final value over all of them."""
    details: list[dict[str, Any]] = []
    for d in dirs:  # "DIR" or "DIR:solver+solver" (only those solvers' runs of that folder)
        folder, _, keep = str(d).partition(":")
        runs = json.loads((Path(folder) / "runs.json").read_text())
        details += [r for r in runs if not keep or r["solver"] in keep.split("+")]
    out.mkdir(parents=True, exist_ok=True)
    # every method of the runs (protocol solvers, peers, ablation variants), in order of appearance;
    # the reference of the ratios is the paper's Balans when the runs hold it (the ablation)
    solvers = list(dict.fromkeys(r["solver"] for r in details if r["solver"] != "reference"))
    ref = "balans_lns" if "balans_lns" in solvers else "balans"
    limits = sorted({float(r["time_limit"]) for r in details})
    seeds = sorted({int(r["seed"]) for r in details if r["solver"] != "reference"})
    header = (f"Merged from {', '.join(str(d) for d in dirs)}: "
              f"{'/'.join(f'{t:g}' for t in limits)} s per run, seeds {seeds}.\n\n")
    _report(details, out, header, solvers, overrides, [], ref)
    return 0


def _report(details: list[dict[str, Any]], out: Path, header: str, solvers: list[str],
            overrides: dict[str, float], notes: list[str], ref: str = "balans") -> None:
    """Per-run rows, the table, the anytime-gap panels (first seed) and the integral bars."""
    from benchmarks._report import plot_panels, write_tables

    rows: list[dict[str, Any]] = []
    curves: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    seeds = sorted({int(r["seed"]) for r in details if r["solver"] != "reference"})
    limit = max(float(r["time_limit"]) for r in details)
    for name in dict.fromkeys(r["instance"] for r in details):
        runs = [r for r in details if r["instance"] == name]
        maximize, best = bool(runs[0]["maximize"]), runs[0]["optimum"]
        known = best
        if known is None:  # generated: the best final value of all runs and any value given
            finals = [r["final"] for r in runs if r.get("final") is not None]
            finals += [overrides[name]] if name in overrides else []
            known = (max(finals) if maximize else min(finals)) if finals else float("nan")
        for r in runs:
            if r["solver"] == "reference":
                continue
            horizon = float(r["time_limit"])
            history = [(float(t), float(v)) for t, v in r["history"]]
            if int(r["seed"]) == seeds[0]:
                xs, ys = [0.0], [1.0]
                for t, v in history:
                    xs.append(t)
                    ys.append(primal_gap(v, known))
                xs.append(horizon)
                ys.append(ys[-1])
                curves.setdefault(name, {})[r["solver"]] = (xs, ys)
            rows.append({"instance": name, "solver": r["solver"], "seed": r["seed"], "best_known": known,
                         "best_known_source": "solutions.txt" if best is not None else "best run",
                         "objective": r["final"], "primal_gap": primal_gap(r["final"], known),
                         "primal_integral": primal_integral(history, known, horizon),
                         "wall": r["wall"], "iterations": r["iterations"], "status": r["status"],
                         "first_solution_time": history[0][0] if history else None})
    table = header + _table(rows, solvers, limit, seeds, ref)
    if notes:
        table += "\n" + "\n".join(f"- {n}" for n in dict.fromkeys(notes)) + "\n"
    write_tables(out, "mip", rows, table)
    print(table)
    if curves:
        plot_panels(out / "anytime_gap.png", curves, "seconds", f"primal gap (seed {seeds[0]})",
                    logy=False, steps=True)
    _plot(rows, solvers, out)


def _table(rows: list[dict[str, Any]], solvers: list[str], limit: float, seeds: list[int],
           ref: str = "balans") -> str:
    instances = list(dict.fromkeys(r["instance"] for r in rows))

    def mean(inst: str, solver: str, key: str) -> float:
        vals = [r[key] for r in rows if r["instance"] == inst and r["solver"] == solver]
        return sum(vals) / len(vals) if vals else float("nan")

    head = ["instance", "best known"] + [f"gap {s}" for s in solvers] + [f"PI {s}" for s in solvers]
    peers = [s for s in solvers if s != ref] if ref in solvers else []
    head += [f"PI ratio {ref}/{p}" for p in peers]
    lines = [f"Primal gap at {limit:g} s and primal integral (PI, gap-seconds over [0, {limit:g}]), "
             f"mean over seeds {seeds}.", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    wins = {p: [0, 0, 0] for p in peers}
    totals = {s: 0.0 for s in solvers}
    for inst in instances:
        best = next(r["best_known"] for r in rows if r["instance"] == inst)
        cells = [inst, f"{best:.6g}"]
        cells += [f"{mean(inst, s, 'primal_gap'):.4f}" for s in solvers]
        cells += [f"{mean(inst, s, 'primal_integral'):.2f}" for s in solvers]
        for s in solvers:
            totals[s] += mean(inst, s, "primal_integral")
        for p in peers:
            a, b = mean(inst, ref, "primal_integral"), mean(inst, p, "primal_integral")
            cells.append(f"{a / b:.2f}" if b > 0 else ("1.00" if a == b else "inf"))
            if abs(a - b) <= 0.01 * max(a, b, 1e-9) or abs(a - b) < 1e-3:
                wins[p][1] += 1
            elif a < b:
                wins[p][0] += 1
            else:
                wins[p][2] += 1
        lines.append("| " + " | ".join(cells) + " |")
    n = max(1, len(instances))
    lines.append("| **mean** | | " + " | ".join("" for _ in solvers) + " | "
                 + " | ".join(f"**{totals[s] / n:.2f}**" for s in solvers) + " | "
                 + " | ".join(f"**{totals[ref] / totals[p]:.2f}**" if totals[p] > 0 else "-"
                              for p in peers) + (" |" if peers else ""))
    lines.append("")
    for p in peers:
        w, t, lo = wins[p]
        lines.append(f"- {ref} vs {p}: wins/ties/losses on the primal integral = {w}/{t}/{lo} "
                     f"(lower on {100 * w / n:.0f} % of {n} instances; ties within 1 %)")
        pairs = [0, 0, 0]  # the same count per (instance, seed) run pair
        for r in rows:
            if r["solver"] != ref:
                continue
            other = [q for q in rows if q["solver"] == p and q["instance"] == r["instance"]
                     and q["seed"] == r["seed"]]
            if not other:
                continue
            a, b = r["primal_integral"], other[0]["primal_integral"]
            k = 1 if abs(a - b) <= 0.01 * max(a, b, 1e-9) or abs(a - b) < 1e-3 else (0 if a < b else 2)
            pairs[k] += 1
        if sum(pairs) > n:
            lines.append(f"  - per (instance, seed) pair: {pairs[0]}/{pairs[1]}/{pairs[2]} "
                         f"(lower in {100 * pairs[0] / sum(pairs):.0f} % of {sum(pairs)} pairs)")
    return "\n".join(lines) + "\n"


def _plot(rows: list[dict[str, Any]], solvers: list[str], out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    instances = list(dict.fromkeys(r["instance"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(6, len(instances) * 0.9), 4))
    width = 0.8 / max(1, len(solvers))
    for k, s in enumerate(solvers):
        vals = []
        for inst in instances:
            v = [r["primal_integral"] for r in rows if r["instance"] == inst and r["solver"] == s]
            vals.append(sum(v) / len(v) if v else 0.0)
        ax.bar([i + k * width for i in range(len(instances))], vals, width, label=s)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(instances))])
    ax.set_xticklabels(instances, rotation=45, ha="right")
    ax.set_ylabel("primal integral (gap x s)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "primal_integral.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
