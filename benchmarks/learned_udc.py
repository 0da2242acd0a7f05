"""UDC's learned divider at equal work (issue 20): learned heatmap vs the same network untrained
vs random insertion (the paper's ablation start), same ``starts``, ``rounds``, seed and time.

    python3 -m benchmarks.learned_udc --quick          # ~2 min: TSP1000, CVRP1000, pr1002, X-n502-k39
    python3 -m benchmarks.learned_udc                  # reduced protocol (3 + 3 random, 4 + 4 files)
    python3 -m benchmarks.learned_udc --full           # 8 + 8 random, all TSPLIB 1000-5000, all X 500-1000
    python3 -m benchmarks.learned_udc --suites tsplib --out DIR   # a slice

Per instance and start: the length after divide and after conquer + reunion (``polish=False``),
then the final length with ILS polish at an equal time limit.  Writes ``learned_udc.{csv,json,md}``
and ``learned_udc.png`` (conquered length relative to random insertion) into ``--out``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks._report import progress, write_tables
from benchmarks.routing import CVRPLIB, CVRPLIB_FULL, DATA, TSPLIB, _known

VARIANTS = [("learned", {"start": "learned"}), ("untrained", {"start": "learned", "weights": "untrained"}),
            ("random-insertion", {"start": "random-insertion"})]
PROTOCOLS = {"quick": (1, 1, "quick", 3.0), "reduced": (3, 3, "reduced", 5.0), "full": (8, 8, "full", 10.0)}


def _suites(protocol: str, want: list[str]) -> list[tuple[str, list]]:
    from problems import CVRP, TSP, read_instance

    n_tsp, n_cvrp, files, _ = PROTOCOLS[protocol]
    out = []
    if "tsp1000" in want:  # unseen seeds (training draws its own instances)
        out.append(("TSP1000", [(f"tsp1000-s{s}", TSP.random(1000, seed=s), None)
                                for s in range(1000, 1000 + n_tsp)]))
    if "cvrp1000" in want:
        out.append(("CVRP1000", [(f"cvrp1000-s{s}", CVRP.random(1000, seed=s), None)
                                 for s in range(1000, 1000 + n_cvrp)]))
    if "tsplib" in want:
        known = _known("tsplib")
        out.append(("TSPLIB", [(n, read_instance(DATA / "tsplib" / f"{n}.tsp"), known[n])
                               for n in TSPLIB[files]]))
    if "cvrplib" in want:
        known = _known("cvrplib")
        names = CVRPLIB_FULL if files == "full" else CVRPLIB[files]
        out.append(("CVRPLIB-X", [(n, read_instance(DATA / "cvrplib" / f"{n}.vrp"), known[n])
                                  for n in names]))
    return out


def _run(problem, opts: dict, a: argparse.Namespace) -> dict:
    from solvers import solve

    common = dict(starts=a.starts, rounds=a.rounds, seed=a.seed, **opts)
    t = time.perf_counter()
    r = solve(problem, "udc", polish=False, **common)
    sec = time.perf_counter() - t
    st = r.stats["stages"]
    final = solve(problem, "udc", polish=True, time_limit=a.seconds, **common)
    return {"divide": st["divide"], "conquer": st["conquer"], "conquer_s": sec, "final": final.objective}


def _table(rows: list[dict], names: list[str]) -> str:
    """Per suite: mean ratio (%) to random insertion after conquer and at equal time, gaps to
    the reference; then the targets of issue 20, then every instance."""
    out = ["| suite | #inst | start | divide / RI | conquer / RI | final / RI | conquer gap % | "
           "final gap % | conquer s |", "|---" * 9 + "|"]
    for suite in dict.fromkeys(r["suite"] for r in rows):
        rs = [r for r in rows if r["suite"] == suite]
        for v in names:
            if f"{v}_conquer" not in rs[0]:
                continue

            def ratio(key, v=v, rs=rs):
                return 100 * np.mean([r[f"{v}_{key}"] / r[f"random-insertion_{key}"] for r in rs])

            def gap(key, v=v, rs=rs):
                refs = [r["reference"] for r in rs]
                return "-" if None in refs else \
                    f"{100 * np.mean([r[f'{v}_{key}'] / r['reference'] - 1 for r in rs]):.2f}"
            out.append(f"| {suite} | {len(rs)} | {v} | {ratio('divide'):.2f} | {ratio('conquer'):.2f} | "
                       f"{ratio('final'):.2f} | {gap('conquer')} | {gap('final')} | "
                       f"{np.mean([r[f'{v}_conquer_s'] for r in rs]):.2f} |")
    out += ["", "Targets (means over the suite's instances):", "",
            "| suite | conquer: learned <= 0.99 x untrained | conquer: learned <= random insertion | "
            "final: learned <= random insertion + 0.2 % |", "|---|---|---|---|"]
    for suite in dict.fromkeys(r["suite"] for r in rows):
        rs = [r for r in rows if r["suite"] == suite]

        def m(key, rs=rs):
            return float(np.mean([r[key] for r in rs]))

        def ok(flag):
            return "met" if flag else "**not met**"
        out.append(f"| {suite} | {ok(m('learned_conquer') <= 0.99 * m('untrained_conquer'))} "
                   f"({m('learned_conquer') / m('untrained_conquer'):.4f}) | "
                   f"{ok(m('learned_conquer') <= m('random-insertion_conquer'))} "
                   f"({m('learned_conquer') / m('random-insertion_conquer'):.4f}) | "
                   f"{ok(m('learned_final') <= 1.002 * m('random-insertion_final'))} "
                   f"({m('learned_final') / m('random-insertion_final'):.4f}) |")
    out += ["", "| instance | n | reference | " + " | ".join(f"{v} conquer / final" for v in names) + " |",
            "|---" * (3 + len(names)) + "|"]
    for r in rows:
        ref = "-" if r["reference"] is None else f"{r['reference']:.6g}"
        cells = [f"{r[f'{v}_conquer']:.6g} / {r[f'{v}_final']:.6g}" if f"{v}_conquer" in r else "-"
                 for v in names]
        out.append(f"| {r['instance']} | {r['n']} | {ref} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def _plot(rows: list[dict], names: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suites = list(dict.fromkeys(r["suite"] for r in rows))
    fig, ax = plt.subplots(figsize=(8, 3.4))
    w = 0.8 / len(names)
    for j, v in enumerate(names):
        ys = []
        for s in suites:
            rs = [r for r in rows if r["suite"] == s and f"{v}_conquer" in r]
            ys.append(100 * np.mean([r[f"{v}_conquer"] / r["random-insertion_conquer"] - 1 for r in rs])
                      if rs else np.nan)
        ax.bar(np.arange(len(suites)) + j * w, ys, w, label=v)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(np.arange(len(suites)) + w * (len(names) - 1) / 2, suites)
    ax.set_ylabel("after conquer vs random insertion, %")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.learned_udc", description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true")
    g.add_argument("--full", action="store_true")
    p.add_argument("--suites", default="tsp1000,cvrp1000,tsplib,cvrplib")
    p.add_argument("--starts", type=int, default=4)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--seconds", type=float, default=None, help="time limit of the final run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/learned_udc"))
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    protocol = "quick" if a.quick else "full" if a.full else "reduced"
    a.seconds = a.seconds or PROTOCOLS[protocol][3]
    from problems import CVRP, TSP
    from solvers import solve

    for warm in (TSP.random(60, seed=0), CVRP.random(60, seed=0)):  # imports, numba, weights untimed
        for _, opts in VARIANTS:
            solve(warm, "udc", polish=False, **opts)
    rows = []
    names = [v for v, _ in VARIANTS]
    for suite, insts in _suites(protocol, a.suites.split(",")):
        for name, prob, ref in progress(insts, suite):
            row = {"suite": suite, "instance": name, "n": prob.n_nodes, "reference": ref}
            for v, opts in VARIANTS:
                row.update({f"{v}_{k}": x for k, x in _run(prob, opts, a).items()})
            rows.append(row)
    md = (f"# UDC divider at equal work ({protocol}: starts={a.starts}, rounds={a.rounds}, "
          f"final time limit {a.seconds:g} s, seed {a.seed})\n\n" + _table(rows, names))
    write_tables(a.out, "learned_udc", rows, md)
    _plot(rows, names, a.out / "learned_udc.png")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
