"""Block coordinate descent on L1 problems: optbox ``bcd`` against scikit-learn and skglm.

Lasso on ``load_diabetes`` and on a correlated Gaussian design (rho = 0.5, 1000x5000; 500x1000
quick) at alpha_max/10 and alpha_max/100; L1-logistic on standardized ``load_breast_cancer`` and a
correlated 1000x2000 design (500x1000 quick) with 10 % flipped labels. Peers: scikit-learn
(Lasso, liblinear, saga on the small design in the full run), skglm, celer. Metric: time
to relative suboptimality (f - f*) / |f*| <= 1e-6, f* the best objective any solver reaches at
tight tolerance. Each solver is run on a decreasing tolerance ladder; the reported time is the
median over ``--reps`` runs at the first tolerance that reaches the target. One thread for all.

Second part: ridge / L2-logistic / softmax on ``load_digits``, ridge / L2-logistic on a sparse
1000x2000 design (0.2 % nonzeros; 500x1000 quick) and label propagation
(``make_moons(2000)`` 10-NN graph, 100x100 lattice; 50x50 quick) beside scikit-learn, optbox
``lbfgs`` and scipy ``cg`` (``smooth_cases``).

Third part (the paper's figure, Nutini et al. Fig. 1-2, reduced size): suboptimality f - f*
after 500 iterations of every selection rule x partition (fixed / variable) x update
(gradient / matrix / Newton) on the paper's synthetic least squares and logistic data, plotted
per iteration to ``OUT/bcd_paper_*.png`` (the suite's suboptimality-vs-iteration plot; the
copies in ``benchmarks/figures/`` come from ``--figures benchmarks/figures``).

Every run of ours and of the registry peers (``sklearn``: Lasso / liblinear / saga, ``skglm``)
goes through ``solvers.solve`` with the ladder's tolerance as the solver's own ``tol`` (the
peers' adapters run them in warm-started slices, liblinear in a child process: their times
include that). celer, scikit-learn's ridge / L2-logistic / softmax solvers and scipy ``cg`` are
not registry methods (not for these problems) and are still called by hand.
``--methods bcd,skglm,...`` picks the rows: a row runs when its method (the label without
``optbox-`` up to the first ``-``: bcd, lbfgs, sklearn, skglm, celer, scipy) or its whole label
is listed; the paper figure runs when ``bcd`` is.

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
    n, p = (500, 1000) if quick else (1000, 5000)
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


Runner = Callable[[float], Any]  # tol -> solution, or None when the run hit its time limit


def row_method(label: str) -> str:
    """The method a row label stands for: ``optbox-bcd-forest`` -> bcd, ``sklearn-saga`` -> sklearn."""
    return label.removeprefix("optbox-").split("-")[0]


def pick(runs: dict[str, Runner], methods: set[str] | None) -> dict[str, Runner]:
    """The rows ``--methods`` selects (all with None)."""
    if methods is None:
        return runs
    return {k: fn for k, fn in runs.items() if k in methods or row_method(k) in methods}


def solvers(kind: str, X: np.ndarray, y: np.ndarray, alpha: float, quick: bool = False) -> dict[str, Runner]:
    from problems import L1LogisticRegression, Lasso
    from solvers import available_methods, solve

    pb = Lasso(X, y, alpha=alpha) if kind == "lasso" else L1LogisticRegression(X, y, alpha=alpha)

    def bcd(tol: float) -> np.ndarray:
        pb.__dict__.pop("_bcd_design", None)  # time the design preparation in every run
        return solve(pb, "bcd", tol=tol).solution

    def peer(method: str, **opts: Any) -> Runner:
        return lambda tol: solve(pb, method, tol=tol, **opts).solution

    out: dict[str, Runner] = {"optbox-bcd": bcd}
    have = set(available_methods(pb))
    if "sklearn" in have:
        if kind == "lasso":
            out["sklearn"] = peer("sklearn", max_iter=1_000_000)
        else:
            out["sklearn-liblinear"] = peer("sklearn", solver="liblinear", max_iter=1_000_000)
            if X.shape[1] <= 100 and not quick:  # saga is seconds behind; full run, small design only
                out["sklearn-saga"] = peer("sklearn", solver="saga", max_iter=100_000)
    else:
        print("note: scikit-learn missing, skipped")
    if "skglm" in have:
        out["skglm"] = peer("skglm", max_iter=1000)
    else:
        print("note: skglm missing, skipped")
    try:  # by hand: celer is not a registry method
        import celer

        n = X.shape[0]
        if kind == "lasso":
            out["celer"] = lambda tol: celer.Lasso(alpha=alpha, fit_intercept=False, tol=tol,
                                                   max_iter=1000).fit(X, y).coef_
        else:
            out["celer"] = lambda tol: celer.LogisticRegression(
                C=1.0 / (alpha * n), penalty="l1", fit_intercept=False, tol=tol,
                max_iter=1000).fit(X, y).coef_.ravel()
    except ImportError:
        print("note: celer missing, skipped")
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
             reps: int, quick: bool = False, methods: set[str] | None = None) -> list[dict[str, Any]]:
    runs = pick(solvers(kind, X, y, alpha, quick), methods)
    if not runs:
        return []
    for fn in runs.values():  # warm-up: numba / skglm compilation is not timed
        fn(1e-2)
    # f* at tight tolerance; liblinear / saga stall for minutes below ~1e-9 on the wide designs
    slow = ("sklearn-liblinear", "sklearn-saga")
    tight = {s: fn for s, fn in runs.items() if X.shape[1] <= 100 or s not in slow} or runs
    fstar = min(objective(kind, X, y, alpha, fn(TIGHT)) for fn in tight.values())
    rows = []
    for sname, fn in runs.items():
        print(f"  {name}: {sname}", file=sys.stderr, flush=True)
        t_hit, sub_hit, tol_hit = time_to_target(fn, TOLS, lambda w: objective(kind, X, y, alpha, w),
                                                 fstar, reps)
        rows.append({"case": name, "solver": sname, "time_s": t_hit, "rel_subopt": sub_hit, "tol": tol_hit,
                     "f_star": fstar})
    base = {r["solver"]: r["time_s"] for r in rows}
    for r in rows:
        r["ratio_vs_bcd"] = r["time_s"] / base.get("optbox-bcd", np.nan)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """Table of time to 1e-6; ``time / bcd`` > 1 means the peer is slower than optbox-bcd."""
    lines = ["| case | solver | time to 1e-6 (s) | rel. subopt | tol used | time / bcd |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if not np.isfinite(r["time_s"]):
            lines.append(f"| {r['case']} | {r['solver']} | not reached | - | - | - |")
            continue
        lines.append(f"| {r['case']} | {r['solver']} | {r['time_s']:.4f} | {r['rel_subopt']:.1e} | "
                     f"{r['tol']:.0e} | {r['ratio_vs_bcd']:.2f} |")
    return "\n".join(lines)


def target_reading(rows: list[dict[str, Any]]) -> str:
    """The issue's L1 targets read off the timing rows: bcd vs scikit-learn (every case faster)
    and vs skglm (within 1.5x on each, faster on at least half)."""
    cases_ = list(dict.fromkeys(r["case"] for r in rows))
    sk_ok, skglm_within, skglm_faster, lines = 0, 0, 0, []
    cases_ = [c for c in cases_ if any(r["case"] == c and r["solver"] == "optbox-bcd" for r in rows)]
    if not cases_:
        return ""
    for c in cases_:
        t = {r["solver"]: r["time_s"] for r in rows if r["case"] == c}
        b = t["optbox-bcd"]
        sk = [v for s, v in t.items() if s.startswith("sklearn")]
        best_sk = min(sk) if sk else np.nan
        g = t.get("skglm", np.nan)
        sk_ok += bool(b < best_sk) if np.isfinite(best_sk) else True
        skglm_within += bool(b <= 1.5 * g) if np.isfinite(g) else True
        skglm_faster += bool(b < g) if np.isfinite(g) else True
        ce = t.get("celer", np.nan)
        lines.append(f"- {c}: best scikit-learn / bcd = {best_sk / b:.2f}, skglm / bcd = {g / b:.2f}, "
                     f"celer / bcd = {ce / b:.2f}")
    n = len(cases_)
    lines.append(f"faster than scikit-learn: {sk_ok}/{n} cases; within 1.5x of skglm: {skglm_within}/{n}; "
                 f"faster than skglm: {skglm_faster}/{n}")
    return "\n".join(lines)


SMOOTH_TOLS = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10]


def smooth_cases(quick: bool) -> list[tuple[str, Any, dict[str, Runner], Callable[[np.ndarray], float]]]:
    """Ridge, L2-logistic (digit 0-4 vs 5-9) and softmax (10 classes) on ``load_digits`` (pixels
    / 16, l2 = 1), and label propagation on the ``make_moons(2000)`` 10-NN graph and the 100 x 100
    lattice (10 labels each). Each entry: name, problem, peer runners ``tol -> solution`` and the
    objective. Peers: scikit-learn (Ridge cholesky / sag, LogisticRegression lbfgs / liblinear /
    newton-cg), optbox ``lbfgs`` (scipy L-BFGS-B); scipy ``cg`` on the reduced Laplacian system
    for label propagation. f* from a direct solve (ridge, label propagation) or the best peer."""
    from sklearn.datasets import load_digits, make_moons

    from problems import LabelPropagation, LeastSquares, LogisticRegression, SoftmaxRegression
    from solvers import solve

    X, lab = load_digits(return_X_y=True)
    X = X / 16.0
    out: list[tuple[str, Any, dict[str, Runner], Callable[[np.ndarray], float]]] = []

    limit = 5.0 if quick else 60.0

    def run_optbox(pb: Any, method: str, **opts: Any) -> Runner:
        def run(tol: float) -> np.ndarray | None:
            res = solve(pb, method, tol=tol, time_limit=limit, **opts)
            return None if res.status.value == "time_limit" else np.asarray(res.solution)
        return run

    def ours(pb: Any) -> Runner:
        return run_optbox(pb, "bcd")

    def lbfgs(pb: Any) -> Runner:
        return run_optbox(pb, "lbfgs")

    try:  # by hand: the sklearn registry method serves only the L1 problems, not these
        from sklearn.linear_model import LogisticRegression as SkLog
        from sklearn.linear_model import Ridge
    except ImportError:  # pragma: no cover - scikit-learn is a declared peer
        Ridge = SkLog = None
    y_reg = lab.astype(float)
    ls = LeastSquares(X, y_reg, l2=1.0)
    peers: dict[str, Runner] = {"optbox-bcd": ours(ls), "optbox-lbfgs": lbfgs(ls)}
    if Ridge is not None:
        peers["sklearn-ridge-cholesky"] = lambda tol: Ridge(alpha=1.0, fit_intercept=False,
                                                            solver="cholesky").fit(X, y_reg).coef_
        peers["sklearn-ridge-sag"] = lambda tol: Ridge(alpha=1.0, fit_intercept=False, solver="sag", tol=tol,
                                                       max_iter=100_000).fit(X, y_reg).coef_
    out.append(("ridge digits 1797x64", ls, peers, ls.objective))
    y_pm = np.where(lab >= 5, 1.0, -1.0)
    lg = LogisticRegression(X, y_pm, l2=1.0)
    peers = {"optbox-bcd": ours(lg), "optbox-lbfgs": lbfgs(lg)}
    if SkLog is not None:
        for solver in ("lbfgs", "liblinear", "newton-cg"):
            peers[f"sklearn-{solver}"] = (lambda tol, s=solver: SkLog(
                C=1.0, solver=s, fit_intercept=False, tol=tol, max_iter=100_000).fit(X, y_pm).coef_.ravel())
    out.append(("l2-logistic digits 1797x64", lg, peers, lg.objective))
    sm = SoftmaxRegression(X, lab, l2=1.0)
    peers = {"optbox-bcd": ours(sm), "optbox-lbfgs": lbfgs(sm)}
    if SkLog is not None:
        for solver in ("lbfgs", "newton-cg"):
            peers[f"sklearn-{solver}"] = (lambda tol, s=solver: SkLog(
                C=1.0, solver=s, fit_intercept=False, tol=tol, max_iter=100_000).fit(X, lab).coef_.T)
    out.append(("softmax digits 1797x64x10", sm, peers, sm.objective))
    # sparse designs (0.2 % nonzeros, ~4 per row): the default bcd (one Hessian-free Newton block),
    # forest blocks of AᵀA (message passing) and the fixed blocks of 16 of dense designs
    import scipy.sparse as sp

    n_s, p_s = (500, 1000) if quick else (1000, 2000)
    As = sp.random(n_s, p_s, density=0.002, random_state=1, format="csr")
    ys = np.random.default_rng(0).standard_normal(n_s)
    ls_s = LeastSquares(As, ys, l2=0.1)
    peers = {"optbox-bcd": ours(ls_s), "optbox-bcd-forest": run_optbox(ls_s, "bcd", partition="forest"),
             "optbox-bcd-fixed16": run_optbox(ls_s, "bcd", partition="fixed"), "optbox-lbfgs": lbfgs(ls_s)}
    if Ridge is not None:
        for solver in ("sparse_cg", "lsqr", "sag"):
            peers[f"sklearn-ridge-{solver}"] = (lambda tol, s=solver: Ridge(
                alpha=0.1, fit_intercept=False, solver=s, tol=tol, max_iter=100_000).fit(As, ys).coef_)
    out.append((f"ridge sparse {n_s}x{p_s} 0.2%", ls_s, peers, ls_s.objective))
    ys_pm = np.where(ys > 0, 1.0, -1.0)
    lg_s = LogisticRegression(As, ys_pm, l2=0.1)
    peers = {"optbox-bcd": ours(lg_s), "optbox-bcd-forest": run_optbox(lg_s, "bcd", partition="forest"),
             "optbox-bcd-fixed16": run_optbox(lg_s, "bcd", partition="fixed"), "optbox-lbfgs": lbfgs(lg_s)}
    if SkLog is not None:
        for solver in ("lbfgs", "liblinear", "newton-cg"):
            peers[f"sklearn-{solver}"] = (lambda tol, s=solver: SkLog(  # C = 1 / l2
                C=10.0, solver=s, fit_intercept=False, tol=tol, max_iter=100_000
            ).fit(As, ys_pm).coef_.ravel())
    out.append((f"l2-logistic sparse {n_s}x{p_s} 0.2%", lg_s, peers, lg_s.objective))
    pts, cls = make_moons(2000, noise=0.1, random_state=0)
    rng = np.random.default_rng(0)
    labels = -np.ones(2000, dtype=np.int64)
    for c in (0, 1):
        pick = rng.choice(np.flatnonzero(cls == c), size=5, replace=False)
        labels[pick] = c
    moons = LabelPropagation.from_points(pts, labels, k=10)
    side = 50 if quick else 100
    lattice = LabelPropagation.lattice(side, n_labelled=10)
    for name, lp in (("label-prop moons 2000 10-NN", moons), (f"label-prop lattice {side}x{side}", lattice)):
        peers = {"optbox-bcd": ours(lp), "scipy-cg": _lp_cg(lp), "optbox-lbfgs": lbfgs(lp)}
        out.append((name, lp, peers, lp.objective))
    return out


def _lp_cg(lp: Any) -> Runner:
    """scipy ``cg`` on L_UU X_U = -L_UL Y_L (one solve per class), relative residual ``tol``
    (by hand: no registry method solves label propagation through scipy)."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import cg

    def run(tol: float) -> np.ndarray:
        L = lp.laplacian()
        unl = lp.unlabelled
        known = np.flatnonzero(lp.labels >= 0)
        Y = lp.clamped()
        L_uu = sp.csr_matrix(L[unl][:, unl]) + lp.reg * sp.identity(unl.size, format="csr")
        rhs = -(L[unl][:, known] @ Y[known])
        Xs = Y.copy()
        for c in range(Y.shape[1]):
            Xs[unl, c] = cg(L_uu, rhs[:, c], rtol=tol, atol=0.0, maxiter=100_000)[0]
        return Xs

    return run


def smooth_fstar(pb: Any) -> float:
    """f* by a direct solve where the problem is quadratic, else the best peer (see caller)."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve

    from problems import LabelPropagation, LeastSquares

    if isinstance(pb, LeastSquares):
        A = pb.A
        AtA = (A.T @ A).toarray() if sp.issparse(A) else A.T @ A
        return pb.objective(np.linalg.solve(AtA + pb.l2 * np.eye(A.shape[1]), np.asarray(A.T @ pb.b).ravel()))
    if isinstance(pb, LabelPropagation):
        L = pb.laplacian()
        unl = pb.unlabelled
        known = np.flatnonzero(pb.labels >= 0)
        Y = pb.clamped()
        L_uu = sp.csc_matrix(L[unl][:, unl]) + pb.reg * sp.identity(unl.size, format="csc")
        X = Y.copy()
        X[unl] = np.asarray(spsolve(L_uu, -(L[unl][:, known] @ Y[known]))).reshape(unl.size, -1)
        return pb.objective(X)
    return np.inf


def time_to_target(fn: Runner, tols: list[float], obj: Callable[[np.ndarray], float], fstar: float,
                   reps: int) -> tuple[float, float, float]:
    """(median time, relative suboptimality, tolerance) at the first ``tols`` entry whose solution
    is within TARGET of f*; NaNs when none is (or when a run hit its time limit: ``fn`` -> None)."""
    for tol in tols:
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            w = fn(tol)
            times.append(time.perf_counter() - t0)
            if w is None:
                return np.nan, np.nan, np.nan
            if times[-1] > 2.0:  # a slow run is not repeated (bounds the ladder's wall time)
                break
        sub = (obj(w) - fstar) / abs(fstar)
        if sub <= TARGET:
            return float(np.median(times)), float(sub), tol
    return np.nan, np.nan, np.nan


def run_smooth(quick: bool, reps: int, methods: set[str] | None = None) -> list[dict[str, Any]]:
    """Time to relative suboptimality 1e-6 on the smooth and label-propagation cases."""
    rows: list[dict[str, Any]] = []
    for name, pb, runs, obj in smooth_cases(quick):
        runs = pick(runs, methods)
        if not runs:
            continue
        for fn in runs.values():  # warm-up (numba compilation untimed)
            fn(1e-1)
        fstar = smooth_fstar(pb)
        if not np.isfinite(fstar):
            fstar = min(obj(w) for w in (fn(1e-10) for fn in runs.values()) if w is not None)
        case_rows = []
        for sname, fn in runs.items():
            print(f"  {name}: {sname}", file=sys.stderr, flush=True)
            t, sub, tol = time_to_target(fn, SMOOTH_TOLS, obj, fstar, reps)
            case_rows.append({"case": name, "solver": sname, "time_s": t, "rel_subopt": sub, "tol": tol,
                              "f_star": fstar})
        base = next((r["time_s"] for r in case_rows if r["solver"] == "optbox-bcd"), np.nan)
        for r in case_rows:
            r["ratio_vs_bcd"] = r["time_s"] / base
        rows.extend(case_rows)
        print(f"done: {name}", file=sys.stderr, flush=True)
    return rows


def paper_data(kind: str, n: int, p: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The paper's synthetic design (§7 / appendix F.1, reduced size): sparse Gaussian entries
    (10 % nonzero) shifted by +1 (N(1, 1) nonzeros: correlated columns), columns scaled by
    10 |N(0, 1)| so the coordinate Lipschitz constants differ widely; targets b = A x0 + noise
    with a sparse x0 (least squares) or sign(A x0) with 10 % labels flipped."""
    rng = np.random.default_rng(seed)
    A = (rng.standard_normal((n, p)) + 1.0) * (rng.random((n, p)) < 0.1)
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


def l1_menu(seed: int = 0, frac: float = 0.05, tau: int = 8) -> str:
    """The L1 menu of §6 on an 80x200 correlated design (column j += 0.5 column j-1, 6-sparse
    truth): iterations / last support change / start of the Newton phase, per rule and update."""
    from problems import L1LogisticRegression, Lasso
    from solvers import solve

    rng = np.random.default_rng(seed)
    A = rng.standard_normal((80, 200))
    A[:, 1:] += 0.5 * A[:, :-1]
    x0 = np.zeros(200)
    x0[:6] = 3 * rng.standard_normal(6)
    b = A @ x0 + 0.1 * rng.standard_normal(80)
    y = np.sign(b)
    logistic_max = L1LogisticRegression(A, y).alpha_max()
    problems = {"Lasso": Lasso(A, b, alpha=frac * Lasso(A, b).alpha_max()),
                "L1-logistic": L1LogisticRegression(A, y, alpha=frac * logistic_max)}
    rules = ("gs-s", "gs-r", "gs-q", "cyclic")
    lines = [f"L1 menu ({A.shape[0]}x{A.shape[1]}, alpha = {frac} alpha_max, tau = {tau}, tol 1e-12): "
             "iterations / last support change / Newton switch", "",
             "| problem | update | " + " | ".join(rules) + " |", "|---|---|" + "---|" * len(rules)]
    for name, pb in problems.items():
        for update in ("prox-gradient", "prox-newton"):
            cells = []
            for rule in rules:
                r = solve(pb, "bcd", rule=rule, update=update, block_size=tau, tol=1e-12, max_iter=5000)
                switch = r.stats.get("newton_phase_iteration")
                cells.append(f"{r.iterations} / {r.stats.get('active_set_iteration')} / "
                             f"{'—' if switch is None else switch}")
            lines.append(f"| {name} | {update} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paper_orderings(seed: int, n: int = 300, p: int = 1500, iters: int = 200) -> str:
    """Issue 26's target on the paper's design with a fresh ``seed``: f - f* after ``iters``
    iterations (blocks of 5, l2 = 1) for FB-gradient cyclic/random/GS/GSL and VB-matrix
    GS/GSL/GSD/GSQ, and what the defaults' stats say ran."""
    from problems import LeastSquares, LogisticRegression
    from solvers import solve

    combos = [("fixed", "gradient", r) for r in ("cyclic", "random", "gs", "gsl")]
    combos += [("variable", "matrix", r) for r in ("gs", "gsl", "gsd", "gsq")]
    lines = [f"Paper orderings ({n}x{p}, seed {seed}, blocks of 5, l2 = 1, {iters} iterations): f - f*", "",
             "| problem | " + " | ".join(f"{pa[:1].upper()}B-{u} {r}" for pa, u, r in combos)
             + " | default ran |",
             "|---|" + "---|" * (len(combos) + 1)]
    for kind in ("ls", "logistic"):
        A, t = paper_data(kind, n, p, seed=seed)
        pb: Any = LeastSquares(A, t, l2=1.0) if kind == "ls" else LogisticRegression(A, t, l2=1.0)
        fstar = (pb.objective(np.linalg.solve(A.T @ A + np.eye(p), A.T @ t)) if kind == "ls"
                 else solve(pb, "lbfgs", tol=1e-12).objective)
        cells = []
        for part, upd, rule in combos:
            r = solve(pb, "bcd", rule=rule, partition=part, update=upd, block_size=5, max_iter=iters,
                      tol=1e-300, seed=0)
            cells.append(f"{r.objective - fstar:.3g}")
        ran = solve(pb, "bcd").stats
        lines.append(f"| {kind} | " + " | ".join(cells) + f" | {ran['ran']} (rule={ran['rule']}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from benchmarks._report import write_tables

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller designs, 3 repetitions")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions (median), default 3 quick / 5")
    ap.add_argument("--out", default="benchmarks/out/bcd")
    ap.add_argument("--figures", default=None, help="folder of the PNG plots (default: --out)")
    ap.add_argument("--skip-paper", action="store_true", help="only the timing table")
    ap.add_argument("--skip-timing", action="store_true", help="no L1 timing table")
    ap.add_argument("--skip-smooth", action="store_true", help="no smooth / label-propagation table")
    ap.add_argument("--only", default="", help="run only the L1 timing cases whose name contains this")
    ap.add_argument("--methods", default=None,
                    help="comma list of methods (bcd, lbfgs, sklearn, skglm, celer, scipy) or row labels "
                    "(sklearn-liblinear, optbox-bcd-forest, ...); default all")
    ap.add_argument("--orderings", type=int, default=None, metavar="SEED",
                    help="only the issue-26 ordering table on the paper's design with this seed")
    ap.add_argument("--l1-menu", action="store_true",
                    help="only the issue-26 L1 menu table (iterations / last support change / Newton switch)")
    args = ap.parse_args(argv)
    methods = {m.strip() for m in args.methods.split(",") if m.strip()} if args.methods else None
    if args.orderings is not None:
        print(paper_orderings(args.orderings))
        return 0
    if args.l1_menu:
        print(l1_menu())
        return 0
    warnings.filterwarnings("ignore")
    reps = args.reps or (3 if args.quick else 5)
    out = Path(args.out)
    md = []
    if not args.skip_timing:
        rows: list[dict[str, Any]] = []
        for case in cases(args.quick):
            if args.only not in case[0]:
                continue
            rows.extend(run_case(*case, reps=reps, quick=args.quick, methods=methods))
            print(f"done: {case[0]}", file=sys.stderr, flush=True)
        table = markdown(rows) + "\n\n" + target_reading(rows)
        write_tables(out, "bcd", rows, table)
        md.append(table)
    if not args.skip_smooth:
        srows = run_smooth(args.quick, reps, methods)
        stable = markdown(srows)
        write_tables(out, "bcd_smooth", srows, stable)
        md.append(stable)
    if not args.skip_paper and (methods is None or "bcd" in methods):
        prow, ptable = paper_figure(args.quick, Path(args.figures or args.out))
        write_tables(out, "bcd_paper", prow, ptable)
        md.append(ptable)
    print("\n\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
