"""Block coordinate descent on L1 problems: optbox ``bcd`` against scikit-learn and skglm.

Lasso on ``load_diabetes`` and on a correlated Gaussian design (rho = 0.5 Toeplitz-like) at
alpha_max/10 and alpha_max/100; L1-logistic on standardized ``load_breast_cancer``. Metric: time
to relative suboptimality (f - f*) / |f*| <= 1e-6, f* the best objective any solver reaches at
tight tolerance. Each solver is run on a decreasing tolerance ladder; the reported time is the
median over ``--reps`` runs at the first tolerance that reaches the target. One thread for all.

Second part (the paper's figure, Nutini et al. Fig. 1-2, reduced size): suboptimality f - f*
after 500 iterations of every selection rule x partition (fixed / variable) x update
(gradient / matrix / Newton) on the paper's synthetic least squares and logistic data, plotted
per iteration to ``benchmarks/figures/bcd_paper_*.png`` (the suite's suboptimality-vs-iteration
plot).

    python -m benchmarks.bcd --quick
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

TARGET = 1e-6
TOLS = [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10]
TIGHT = 1e-11  # tolerance of the f* runs (liblinear stalls for a long time below this)


def correlated_design(n: int, p: int, rho: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Columns x_j = rho x_{j-1} + sqrt(1 - rho^2) e_j (correlation rho^|i-j|), sparse truth."""
    rng = np.random.default_rng(seed)
    E = rng.standard_normal((n, p))
    A = np.empty((n, p))
    A[:, 0] = E[:, 0]
    for j in range(1, p):
        A[:, j] = rho * A[:, j - 1] + np.sqrt(1 - rho ** 2) * E[:, j]
    w = np.zeros(p)
    idx = rng.choice(p, size=max(1, p // 20), replace=False)
    w[idx] = rng.standard_normal(idx.size)
    b = A @ w + 0.5 * rng.standard_normal(n)
    return np.asfortranarray(A), b


def cases(quick: bool) -> list[tuple[str, str, np.ndarray, np.ndarray, float]]:
    from sklearn.datasets import load_breast_cancer, load_diabetes

    from problems import L1LogisticRegression, Lasso

    out = []
    X, y = load_diabetes(return_X_y=True)
    amax = Lasso(X, y).alpha_max()
    for div in (10, 100):
        out.append((f"lasso diabetes a_max/{div}", "lasso", X, y, amax / div))
    n, p = (500, 1000) if quick else (1000, 2000)
    X, y = correlated_design(n, p)
    amax = Lasso(X, y).alpha_max()
    for div in (10, 100):
        out.append((f"lasso corr {n}x{p} a_max/{div}", "lasso", X, y, amax / div))
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    y = np.where(y > 0, 1.0, -1.0)
    amax = L1LogisticRegression(X, y).alpha_max()
    for div in (10, 100):
        out.append((f"l1-logistic breast_cancer a_max/{div}", "logistic", X, y, amax / div))
    n, p = (500, 1000) if quick else (1000, 2000)
    X, z = correlated_design(n, p, seed=1)
    rng = np.random.default_rng(1)
    y = np.where(z > 0, 1.0, -1.0) * np.where(rng.random(n) < 0.1, -1.0, 1.0)  # 10 % flipped labels
    amax = L1LogisticRegression(X, y).alpha_max()
    for div in (10, 100):
        out.append((f"l1-logistic synth {n}x{p} a_max/{div}", "logistic", X, y, amax / div))
    return out


Runner = Callable[[float], np.ndarray]


def solvers(kind: str, X: np.ndarray, y: np.ndarray, alpha: float, quick: bool = False) -> dict[str, Runner]:
    from problems import L1LogisticRegression, Lasso
    from solvers import solve

    n = X.shape[0]
    pb = Lasso(X, y, alpha=alpha) if kind == "lasso" else L1LogisticRegression(X, y, alpha=alpha)
    out: dict[str, Runner] = {
        "optbox-bcd": lambda tol: solve(pb, "bcd", tol=tol).solution,
    }
    try:
        from sklearn.linear_model import Lasso as SkLasso
        from sklearn.linear_model import LogisticRegression as SkLog

        if kind == "lasso":
            out["sklearn"] = lambda tol: SkLasso(alpha=alpha, fit_intercept=False, tol=tol,
                                                 max_iter=1_000_000).fit(X, y).coef_
        else:
            out["sklearn-liblinear"] = lambda tol: SkLog(
                C=1.0 / (alpha * n), l1_ratio=1.0, solver="liblinear", fit_intercept=False, tol=tol,
                max_iter=1_000_000).fit(X, y).coef_.ravel()
            if X.shape[1] <= 100 and not quick:  # saga is seconds behind; full run, small design only
                out["sklearn-saga"] = lambda tol: SkLog(
                    C=1.0 / (alpha * n), l1_ratio=1.0, solver="saga", fit_intercept=False, tol=tol,
                    max_iter=100_000).fit(X, y).coef_.ravel()
    except ImportError:
        print("note: scikit-learn missing, skipped")
    try:
        import skglm

        if kind == "lasso":
            out["skglm"] = lambda tol: skglm.Lasso(alpha=alpha, fit_intercept=False, tol=tol,
                                                   max_iter=1000).fit(X, y).coef_
        else:
            out["skglm"] = lambda tol: skglm.SparseLogisticRegression(
                alpha=alpha, fit_intercept=False, tol=tol, max_iter=1000).fit(X, y).coef_.ravel()
    except ImportError:
        print("note: skglm missing, skipped")
    return out


def objective(kind: str, X: np.ndarray, y: np.ndarray, alpha: float, w: np.ndarray) -> float:
    z = X @ w
    n = X.shape[0]
    if kind == "lasso":
        loss = 0.5 / n * float(np.sum((z - y) ** 2))
    else:
        loss = float(np.logaddexp(0, -y * z).sum()) / n
    return loss + alpha * float(np.abs(w).sum())


def run_case(name: str, kind: str, X: np.ndarray, y: np.ndarray, alpha: float,
             reps: int, quick: bool = False) -> list[dict[str, Any]]:
    runs = solvers(kind, X, y, alpha, quick)
    for fn in runs.values():  # warm-up: numba / skglm compilation is not timed
        fn(1e-2)
    # f* at tight tolerance; liblinear / saga stall for minutes below ~1e-9 on the wide designs
    slow = ("sklearn-liblinear", "sklearn-saga")
    tight = {s: fn for s, fn in runs.items() if X.shape[1] <= 100 or s not in slow}
    fstar = min(objective(kind, X, y, alpha, fn(TIGHT)) for fn in tight.values())
    rows = []
    for sname, fn in runs.items():
        print(f"  {name}: {sname}", file=sys.stderr, flush=True)
        t_hit, sub_hit, tol_hit = np.nan, np.nan, np.nan
        for tol in TOLS:
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                w = fn(tol)
                times.append(time.perf_counter() - t0)
            sub = (objective(kind, X, y, alpha, w) - fstar) / abs(fstar)
            if sub <= TARGET:
                t_hit, sub_hit, tol_hit = float(np.median(times)), sub, tol
                break
        rows.append({"case": name, "solver": sname, "time_s": t_hit, "rel_subopt": sub_hit, "tol": tol_hit,
                     "f_star": fstar})
    base = {r["solver"]: r["time_s"] for r in rows}
    for r in rows:
        r["ratio_vs_bcd"] = r["time_s"] / base["optbox-bcd"]
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| case | solver | time to 1e-6 (s) | rel. subopt | tol used | time / bcd |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['solver']} | {r['time_s']:.4f} | {r['rel_subopt']:.1e} | "
                     f"{r['tol']:.0e} | {r['ratio_vs_bcd']:.2f} |")
    return "\n".join(lines)


def paper_data(kind: str, n: int, p: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The paper's synthetic design (§7, reduced size): sparse Gaussian entries (10 % nonzero),
    columns scaled by 10 |N(0, 1)| so the coordinate Lipschitz constants differ widely; targets
    b = A x0 + noise with a sparse x0 (least squares) or sign(A x0) with 10 % labels flipped."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, p)) * (rng.random((n, p)) < 0.1)
    A *= 10.0 * np.abs(rng.standard_normal(p))
    x0 = rng.standard_normal(p) * (rng.random(p) < 0.1)
    z = A @ x0
    if kind == "ls":
        return A, z + rng.standard_normal(n)
    y = np.where(z >= 0, 1.0, -1.0)
    return A, y * np.where(rng.random(n) < 0.1, -1.0, 1.0)


PAPER_RULES = ("random", "cyclic", "lipschitz", "gs", "gsl", "gsd", "gsq")
PAPER_UPDATES = ("gradient", "matrix", "newton")
PAPER_PARTITIONS = ("fixed", "variable")


def paper_figure(quick: bool, fig_dir: Path, iters: int = 500,
                 block_size: int = 5) -> tuple[list[dict[str, Any]], str]:
    """Suboptimality after ``iters`` BCD iterations for every rule x partition x update; one PNG
    per problem (panels = update x partition, curves = rules, log suboptimality vs iteration)."""
    from benchmarks._report import plot_panels, progress
    from problems import LeastSquares, LogisticRegression
    from solvers import solve

    n, p = (300, 1500) if quick else (1000, 5000)
    rows: list[dict[str, Any]] = []
    lines = [f"Paper figure (reduced: {n}x{p}, blocks of {block_size}, l2 = 1, {iters} iterations): "
             "f - f* after the last iteration", "",
             "| problem | partition | update | " + " | ".join(PAPER_RULES) + " |",
             "|---|---|---|" + "---|" * len(PAPER_RULES)]
    for kind in ("ls", "logistic"):
        A, t = paper_data(kind, n, p)
        if kind == "ls":
            pb: Any = LeastSquares(A, t, l2=1.0)
            fstar = pb.objective(np.linalg.solve(A.T @ A + np.eye(p), A.T @ t))
        else:
            pb = LogisticRegression(A, t, l2=1.0)
            fstar = solve(pb, "lbfgs", tol=1e-12).objective
        runs: dict[tuple[str, str, str], list[float]] = {}
        combos = [(part, upd, rule) for part in PAPER_PARTITIONS for upd in PAPER_UPDATES
                  for rule in PAPER_RULES]
        for part, upd, rule in progress(combos, desc=f"paper {kind}"):
            res = solve(pb, "bcd", rule=rule, update=upd, partition=part, block_size=block_size,
                        max_iter=iters, tol=1e-300, seed=0)
            runs[(part, upd, rule)] = [h[1] for h in res.history]
        fstar = min([fstar] + [min(v) for v in runs.values() if v])  # the best point seen is f*
        panels: dict[str, dict[str, tuple[list[int], list[float]]]] = {}
        for part in PAPER_PARTITIONS:
            for upd in PAPER_UPDATES:
                panel = panels.setdefault(f"{kind}: {part} blocks, {upd} update", {})
                cells = []
                for rule in PAPER_RULES:
                    obj = runs[(part, upd, rule)]
                    sub = [max(v - fstar, 1e-16 * max(1.0, abs(fstar))) for v in obj]
                    panel[rule] = (list(range(1, len(sub) + 1)), sub)
                    last = sub[-1] if sub else float("nan")
                    rows.append({"problem": kind, "partition": part, "update": upd, "rule": rule,
                                 "iterations": len(sub), "subopt": last, "f_star": fstar})
                    cells.append(f"{last:.2e}")
                lines.append(f"| {kind} | {part} | {upd} | " + " | ".join(cells) + " |")
        plot_panels(fig_dir / f"bcd_paper_{kind}.png", panels, "iteration", "f - f*")
    for kind in ("ls", "logistic"):
        sub = {(r["partition"], r["update"], r["rule"]): r["subopt"] for r in rows if r["problem"] == kind}
        base = sub[("fixed", "gradient", "random")]
        best_key = min((k for k in sub if k[0] == "variable" and k[1] == "newton" and k[2].startswith("gs")),
                       key=lambda k: sub[k])
        gsq = sub[("variable", "newton", "gsq")]
        lines.append("")
        lines.append(f"{kind}: random/fixed/gradient {base:.2e}; greedy/variable/Newton best "
                     f"({best_key[2]}) {sub[best_key]:.2e} = {base / sub[best_key]:.0f}x lower; "
                     f"GSQ/variable/Newton {gsq:.2e} = {base / gsq:.0f}x lower")
    return rows, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from benchmarks._report import write_tables

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller designs, 3 repetitions")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions (median), default 3 quick / 5")
    ap.add_argument("--out", default="benchmarks/out/bcd")
    ap.add_argument("--figures", default="benchmarks/figures", help="folder of the PNG plots")
    ap.add_argument("--skip-paper", action="store_true", help="only the timing table")
    ap.add_argument("--skip-timing", action="store_true", help="only the paper figure")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    reps = args.reps or (3 if args.quick else 5)
    out = Path(args.out)
    md = []
    if not args.skip_timing:
        rows: list[dict[str, Any]] = []
        for case in cases(args.quick):
            rows.extend(run_case(*case, reps=reps, quick=args.quick))
            print(f"done: {case[0]}", file=sys.stderr, flush=True)
        table = markdown(rows)
        write_tables(out, "bcd", rows, table)
        md.append(table)
    if not args.skip_paper:
        prow, ptable = paper_figure(args.quick, Path(args.figures))
        write_tables(out, "bcd_paper", prow, ptable)
        md.append(ptable)
    print("\n\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
