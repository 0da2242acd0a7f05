"""SPD linear systems: learned-mg and DCDM against CG, IC(0)-PCG, AMG-PCG and PyAMG on grid Poisson problems.

2-D Poisson with random obstacles (128² … 1024²) and 3-D (32³ … 128³); right-hand sides from a
fluid-style divergence field and random; obstacle shapes the network never saw in training
("rings", "crosses") beside the training kinds. Every method runs to the same relative
residual 1e-6 in one process; setup, network and solve seconds are reported. Threads: torch
(the network's coarse levels), BLAS, scipy and PyAMG run on one; the red-black sweeps of
``learned-mg`` and ``pcg-sgs`` on ``NUMBA_NUM_THREADS`` (the cores; printed first), and
``learned-mg-t1`` is ``learned-mg`` with its sweeps on one thread. The learned-versus-untrained
and DCDM-versus-PCG comparisons of issue 20 are in ``benchmarks/learned_dcdm.py``.

    python -m benchmarks.linear --quick
    python -m benchmarks.linear --sizes2d 128,256,512,1024 --sizes3d 32,64
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from learned.dcdm.shapes import unseen_obstacles

METHODS = ["cg", "pcg-ic", "pcg-sgs", "amg", "pyamg", "learned-mg", "learned-mg-plain", "dcdm"]
# learned-mg: the linear learned multigrid cycle as CG preconditioner inside DEFAULT_SWEEPS
# red-black Gauss–Seidel sweeps (2 in 2-D, 6 in 3-D; the figures recorded as "dcdm" before
# issue 20); pcg-sgs: the same sweeps without the network; learned-mg-plain: the network alone
# (smooth=0); learned-mg-sN / -tN: N sweeps / sweeps on N threads; dcdm: the paper's nonlinear
# CNN with A-orthogonalized directions (2-D weights only); dcdm-fpcg / dcdm-pcg: that network
# inside flexible / plain PCG; pyamg: the peer PyAMG's own solver beside amg (ours: one cycle as
# PCG preconditioner)
LEARNED = ("learned-mg", "dcdm")
#: obstacle shapes absent from training (hollow rings with a gap, plus-shaped crosses); the
#: benchmark's seeds (4242 + n) differ from training's validation seeds
rings_and_crosses = unseen_obstacles


def make_problem(n: int, dim: int, kind: str, rhs: str, seed: int):
    from problems import LinearSystem
    from problems.linear import random_obstacles

    shape = (n,) * dim
    if kind in ("rings", "crosses"):
        mask = rings_and_crosses(shape, kind, seed)
    else:
        mask = random_obstacles(shape, kind=kind, density=0.2, seed=seed)
    return LinearSystem.poisson(shape, mask, rhs=rhs, seed=seed)


def run_one(problem, method: str, time_limit: float) -> dict:
    from solvers import solve

    opts = {"tol": 1e-6}
    name = method
    if method in ("dcdm-fpcg", "dcdm-fcg", "dcdm-pcg"):
        name, opts["variant"] = "dcdm", "pcg" if method == "dcdm-pcg" else "fpcg"
    elif method == "learned-mg-plain":
        name, opts["smooth"] = "learned-mg", 0
    elif method.startswith("learned-mg-s"):
        name, opts["smooth"] = "learned-mg", int(method[len("learned-mg-s"):])
    elif method.startswith("learned-mg-t"):
        name, opts["threads"] = "learned-mg", int(method[len("learned-mg-t"):])
    elif method == "pcg-sgs":  # the ablation: dcdm's default sweeps without the network
        from learned.dcdm.solve import DEFAULT_SWEEPS

        opts["sweeps"] = DEFAULT_SWEEPS[len(problem.grid.shape)]
    if method != "direct":
        opts["max_iter"] = 20_000 if method in ("cg", "pcg-ic", "pcg-sgs") else 2_000
    t0 = time.perf_counter()
    r = solve(problem, name, time_limit=time_limit, **opts)
    wall = time.perf_counter() - t0
    st = r.stats
    setup = float(st.get("setup_time", 0.0))
    net = float(st.get("network_time", 0.0))
    return {"method": method, "status": r.status.value, "iterations": r.iterations,
            "residual": r.objective, "setup_s": setup, "network_s": net,
            "smoother_s": float(st.get("smoother_time", 0.0)),
            "solve_s": wall - setup, "total_s": wall,
            "_residuals": [float(v) for v in st.get("residuals", [])]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="128², 256² (two obstacle kinds) and 32³, divergence rhs, 15 s per solve")
    p.add_argument("--sizes2d", default="128,256,512,1024")
    p.add_argument("--sizes3d", default="32,64")
    p.add_argument("--kinds", default="spheres,rings,crosses",
                   help="obstacle kinds (rings, crosses: unseen in training)")
    p.add_argument("--rhs", default="divergence,random")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--time-limit", type=float, default=120.0, help="seconds per solve")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--out", default="benchmarks/out/linear")
    args = p.parse_args(argv)
    if args.quick:
        args.kinds, args.rhs, args.time_limit = "spheres,rings", "divergence", min(args.time_limit, 15.0)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        torch = None
    methods = [m for m in args.methods.split(",") if m]
    import numba

    print(f"sweep threads (NUMBA_NUM_THREADS): {numba.config.NUMBA_NUM_THREADS}; "
          f"torch threads: {torch.get_num_threads() if torch else '-'}")
    if torch is None and any(m.startswith(LEARNED) for m in methods):
        print("note: torch missing, learned methods skipped")
        methods = [m for m in methods if not m.startswith(LEARNED)]
    try:
        import pyamg  # noqa: F401
    except ImportError:
        print("note: pyamg missing, amg and pyamg skipped")
        methods = [m for m in methods if m not in ("amg", "pyamg")]
    cases = []
    sizes2 = [128, 256] if args.quick else [int(s) for s in args.sizes2d.split(",") if s]
    sizes3 = [32] if args.quick else [int(s) for s in args.sizes3d.split(",") if s]
    kinds = args.kinds.split(",")
    rhss = args.rhs.split(",")
    for n in sizes2:
        for kind in kinds:
            for rhs in rhss:
                cases.append((2, n, kind, rhs))
    for n in sizes3:
        for kind in kinds[:1] if args.quick else kinds[:2]:
            cases.append((3, n, kind, rhss[0]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    from learned.dcdm.model import load_model

    # JIT-compile IC(0) and the network's numba kernels, load the networks: per dimension used
    for dim in sorted({c[0] for c in cases}):
        warm = make_problem(16 if dim == 2 else 8, dim, "spheres", "random", 0)
        for m in methods:
            try:
                run_one(warm, m, args.time_limit)
            except ValueError:  # no weights for this dimension: skipped again below
                pass

    from benchmarks._report import plot_panels, progress, write_tables

    curves: dict[str, dict[str, tuple[list[int], list[float]]]] = {}
    for dim, n, kind, rhs in progress(cases, "linear"):
        prob = make_problem(n, dim, kind, rhs, args.seed + n)
        panel = f"{n}^{dim} {kind}{' (unseen)' if kind in ('rings', 'crosses') else ''}, {rhs}"
        for m in methods:
            if m.startswith(LEARNED):
                try:
                    load_model(dim, kind="dcdm" if m.startswith("dcdm") else "learned-mg")
                except ValueError:
                    print(f"note: no {dim}-D weights for {m}, skipped")
                    continue
            row = {"dim": dim, "grid": f"{n}^{dim}", "unknowns": prob.size, "kind": kind, "rhs": rhs}
            row.update(run_one(prob, m, args.time_limit))
            res = row.pop("_residuals")
            curves.setdefault(panel, {})[m] = (list(range(1, len(res) + 1)), res)
            rows.append(row)
            print(f"{row['grid']:>7} {kind:8} {rhs:10} {m:9} {row['status']:15} it {row['iterations']:6d} "
                  f"setup {row['setup_s']:.3f} net {row['network_s']:.3f} total {row['total_s']:.3f}",
                  flush=True)
    table = markdown(rows, methods)
    write_tables(out, "linear", rows, table)
    print(table)
    try:
        path = plot_panels(out / "linear_residuals.png", curves, "iteration",
                           "relative residual ‖b − Ax‖/‖b‖", logx=True)
        print(f"wrote {path}")
        plot(rows, methods, out)
    except ImportError:
        print("note: matplotlib missing, no plot")
    return 0


def markdown(rows: list[dict], methods: list[str]) -> str:
    """One line per case: iterations and total seconds per method, and the learned-mg ratios."""
    keys = sorted({(r["dim"], r["unknowns"], r["grid"], r["kind"], r["rhs"]) for r in rows})
    head = ["grid", "obstacles", "rhs"] + [f"{m} it / s" for m in methods]
    head += ["mg/cg it", "mg/ic it", "mg/cg s", "mg/amg s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in keys:
        sel = {r["method"]: r for r in rows
               if (r["dim"], r["unknowns"], r["grid"], r["kind"], r["rhs"]) == key}
        cells = [key[2], key[3] + (" (unseen)" if key[3] in ("rings", "crosses") else ""), key[4]]
        for m in methods:
            r = sel.get(m)
            if r is None:
                cells.append("–")
            else:
                flag = "" if r["status"] == "converged" else f" ({r['status']})"
                per = 1e3 * r["network_s"] / max(r["iterations"], 1)
                smoother = f" + smoother {r['smoother_s']:.2f}" if r.get("smoother_s") else ""
                detail = (f" [setup {r['setup_s']:.2f} + net {r['network_s']:.2f} = {per:.1f} ms/it"
                          f"{smoother}]"
                          if m.startswith(LEARNED) else "")
                cells.append(f"{r['iterations']} / {r['total_s']:.2f}{detail}{flag}")

        def ratio(a: str, b: str, field: str, sel: dict = sel) -> str:
            if a in sel and b in sel and sel[b][field]:
                return f"{sel[a][field] / sel[b][field]:.2f}"
            return "–"

        cells += [ratio("learned-mg", "cg", "iterations"), ratio("learned-mg", "pcg-ic", "iterations"),
                  ratio("learned-mg", "cg", "total_s"), ratio("learned-mg", "amg", "total_s")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], methods: list[str], out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib missing, no plot")
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for dim, ax in zip((2, 3), axes):
        for m in methods:
            pts = {}
            for r in rows:
                if r["dim"] == dim and r["method"] == m and r["rhs"] == "divergence":
                    pts.setdefault(r["unknowns"], []).append(r["iterations"])
            if pts:
                xs = sorted(pts)
                ax.loglog(xs, [np.mean(pts[x]) for x in xs], "o-", label=m)
        ax.set_xlabel("unknowns")
        ax.set_ylabel("iterations to 1e-6")
        ax.set_title(f"{dim}-D Poisson with obstacles")
        if ax.get_lines():
            ax.legend()
    fig.tight_layout()
    fig.savefig(out / "linear_iterations.png", dpi=100)


if __name__ == "__main__":
    sys.exit(main())
