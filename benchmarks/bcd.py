"""Block coordinate descent on L1 problems: optbox ``bcd`` against scikit-learn and skglm.

Lasso on ``load_diabetes`` and on a correlated Gaussian design (rho = 0.5 Toeplitz-like) at
alpha_max/10 and alpha_max/100; L1-logistic on standardized ``load_breast_cancer``. Metric: time
to relative suboptimality (f - f*) / |f*| <= 1e-6, f* the best objective any solver reaches at
tight tolerance. Each solver is run on a decreasing tolerance ladder; the reported time is the
median over ``--reps`` runs at the first tolerance that reaches the target. One thread for all.

    python -m benchmarks.bcd --quick
"""

from __future__ import annotations

import argparse
import csv
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
    return out


Runner = Callable[[float], np.ndarray]


def solvers(kind: str, X: np.ndarray, y: np.ndarray, alpha: float) -> dict[str, Runner]:
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
             reps: int) -> list[dict[str, Any]]:
    runs = solvers(kind, X, y, alpha)
    for fn in runs.values():  # warm-up: numba / skglm compilation is not timed
        fn(1e-2)
    fstar = min(objective(kind, X, y, alpha, fn(TIGHT)) for fn in runs.values())
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller correlated design, 3 repetitions")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions (median), default 3 quick / 5")
    ap.add_argument("--out", default="benchmarks/out/bcd")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    reps = args.reps or (3 if args.quick else 5)
    rows: list[dict[str, Any]] = []
    for case in cases(args.quick):
        rows.extend(run_case(*case, reps=reps))
        print(f"done: {case[0]}", file=sys.stderr, flush=True)
    table = markdown(rows)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "bcd.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (out / "bcd.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
