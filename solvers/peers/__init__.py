"""Peers: other packages' solvers behind the same ``solve()`` as ours.

Each method wraps one established package (LKH-3 via elkai, PyVRP, HiGHS, OR-Tools CP-SAT,
POT, DAGMA, skglm, scikit-learn, PyAMG): the problem is handed over in the peer's own
convention, the answer comes back as our solution (tour, routes, plan, W, x, dict) scored by
the problem's own ``objective``, with an honest status, the wall-clock runtime (setup
included), the peer's progress in the history where it reports any, and
``stats["peer"] = {"package", "version"}``. Time limits, Ctrl-C and a callback's stop act
through the peer's own stop hook, by running it in slices, or, for a peer that holds the GIL
with no way to stop it (elkai, liblinear), in a child process that is killed (the result then
says so). A method is listed only when its package is installed (``pip install
'optbox[peers]'``); none is ever a problem's default. Import-light: no peer is imported here.

This family adds no problem type, so its ``EXAMPLES`` is empty (the owning families' examples
serve the contract tests).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..options import Option, max_iter, positive_float, positive_int, tolerance
from ..registry import MethodSpec


def _finite(value: float) -> None:
    import math

    if not math.isfinite(value):
        raise ValueError(f"must be finite, got {value!r}")


_GAP = Option("gap", float, 0.0, "relative gap at which the search stops (0: prove optimality)",
              low=0.0, check=_finite)
_STRENGTH = Option("strength", str, "symmetric", "PyAMG strength of connection (None: every entry)",
                   choices=("symmetric", "classical", "evolution", "algebraic_distance", "affinity"),
                   none=True)
_SMOOTH = Option("smooth", str, "jacobi", "PyAMG prolongation smoother (None: plain aggregation)",
                 choices=("jacobi", "richardson", "energy"), none=True)
_L1_TOL = tolerance(1e-6, "the peer's own stopping tolerance (skglm: KKT violation; scikit-learn: "
                    "its duality-gap / coefficient-change test)", low_open=True)

METHODS = [
    MethodSpec(
        name="lkh",
        problems=("TSP",),
        target="solvers.peers.lkh:solve_lkh",
        options=(
            positive_int("runs", None, "LKH runs (None: 1, or as many as the time limit allows)",
                         none=True),
            positive_int("max_trials", None, "LKH trials per run (None: n, LKH's default)", none=True),
        ),
        description="peer: LKH-3 via elkai (the file's TSPLIB rounding kept; not interruptible, "
        "run in a child process)",
        randomized=True,
        requires=("elkai",),
    ),
    MethodSpec(
        name="pyvrp",
        problems=("CVRP",),
        target="solvers.peers.pyvrp_peer:solve_pyvrp",
        options=(max_iter(None, "PyVRP iterations (None: until the time limit; 10,000 without one)"),),
        description="peer: PyVRP's iterated local search (integer lengths as in the file)",
        randomized=True,
        requires=("pyvrp",),
    ),
    MethodSpec(
        name="highs",
        problems=("MIP",),
        target="solvers.peers.highs:solve_highs",
        options=(
            _GAP,
            positive_int("threads", 1, "HiGHS threads"),
            Option("presolve", bool, True, "HiGHS presolve"),
        ),
        description="peer: HiGHS branch-and-cut via highspy, reading the same MPS / LP",
        randomized=True,
        requires=("highspy",),
    ),
    MethodSpec(
        name="cpsat",
        problems=("MIP",),
        target="solvers.peers.cpsat:solve_cpsat",
        options=(_GAP, positive_int("workers", 1, "CP-SAT search workers")),
        description="peer: OR-Tools CP-SAT for pure-integer MIPs",
        randomized=True,
        requires=("ortools",),
    ),
    MethodSpec(
        name="pot",
        problems=("OptimalTransport",),
        target="solvers.peers.pot_peer:solve_pot",
        options=(
            Option("variant", str, "sinkhorn_log", "POT's ot.sinkhorn method= (sinkhorn: fast, underflows "
                   "for small reg)",
                   choices=("sinkhorn_log", "sinkhorn", "sinkhorn_stabilized")),
            tolerance(1e-9, "L1 marginal error target ||P1-a||_1 + ||P^T1-b||_1 of the returned plan",
                      low_open=True, check=_finite),
            max_iter(100_000, "most Sinkhorn sweeps in all (None: no cap)"),
        ),
        description="peer: POT's Sinkhorn (ot.sinkhorn), warm-started slices",
        requires=("ot",),
        history_label="marginal error",
    ),
    MethodSpec(
        name="dagma",
        problems=("DAGLearning",),
        target="solvers.peers.dagma_peer:solve_dagma",
        options=(
            Option("lambda1", float, None, "L1 weight (None: the problem's lambda1)", low=0.0, none=True),
            Option("w_threshold", float, 0.3, "edges with |weight| below this are dropped", low=0.0),
            positive_int("T", 5, "DAGMA's central-path steps (mu decreases after each)"),
            positive_float("mu_init", 1.0, "DAGMA's initial mu"),
            Option("mu_factor", float, 0.1, "DAGMA's mu decay", low=0.0, low_open=True, high=1.0),
            positive_int("warm_iter", 30_000, "Adam steps of each but the last path step"),
            positive_int("final_iter", 60_000, "Adam steps of the last path step (DAGMA's max_iter)"),
            positive_float("lr", 3e-4, "Adam learning rate"),
            positive_int("checkpoint", 1000, "Adam steps between objective checks (and history points)"),
        ),
        description="peer: DAGMA (dagma.linear.DagmaLinear, l2 / logistic loss)",
        requires=("dagma",),
        history_label="score",
    ),
    MethodSpec(
        name="skglm",
        problems=("Lasso",),
        target="solvers.peers.l1_peers:solve_skglm",
        options=(_L1_TOL, max_iter(None, "skglm outer (working-set) iterations (None: 1000)"),
                 positive_int("inner_iter", 50_000, "skglm's max_epochs: inner epochs per outer iteration")),
        description="peer: skglm.Lasso (Anderson-accelerated working-set CD)",
        requires=("skglm",),
    ),
    MethodSpec(
        name="skglm",
        problems=("L1LogisticRegression",),
        target="solvers.peers.l1_peers:solve_skglm",
        options=(_L1_TOL, max_iter(None, "skglm outer (working-set) iterations (None: 1000)"),
                 positive_int("inner_iter", 1000,
                              "skglm's max_epochs: prox-Newton steps per outer iteration")),
        description="peer: skglm.SparseLogisticRegression (working-set prox-Newton)",
        requires=("skglm",),
    ),
    MethodSpec(
        name="sklearn",
        problems=("Lasso",),
        target="solvers.peers.l1_peers:solve_sklearn_lasso",
        options=(_L1_TOL, max_iter(None, "coordinate-descent epochs in all (None: 1000)")),
        description="peer: scikit-learn Lasso (coordinate descent), warm-started slices",
        requires=("sklearn",),
    ),
    MethodSpec(
        name="sklearn",
        problems=("L1LogisticRegression",),
        target="solvers.peers.l1_peers:solve_sklearn_logistic",
        options=(_L1_TOL, max_iter(None, "solver iterations (None: 100 liblinear, 1000 saga epochs)"),
                 Option("solver", str, "liblinear", "scikit-learn solver (liblinear: not "
                        "interruptible, run in a child process)", choices=("liblinear", "saga"))),
        description="peer: scikit-learn LogisticRegression with an L1 penalty",
        requires=("sklearn",),
    ),
    MethodSpec(
        name="pyamg",
        problems=("LinearSystem",),
        target="solvers.peers.pyamg_peer:solve_pyamg",
        options=(
            tolerance(1e-6, "stop at ||b - Ax|| <= tol ||b|| (true residual)", low_open=True),
            max_iter(None, "cycles (None: 10 n)"),
            Option("cycle", str, "V", "multigrid cycle", choices=("V", "W", "F")),
            Option("accel", str, None, "PyAMG Krylov acceleration (None: stationary cycles)",
                   choices=("cg", "gmres", "fgmres", "bicgstab", "minimal_residual"), none=True),
            _STRENGTH,
            _SMOOTH,
        ),
        description="peer: PyAMG smoothed aggregation as a standalone solver (ml.solve)",
        requires=("pyamg",),
        history_label="relative residual",
    ),
]

#: no new problem type (see the module doc)
EXAMPLES: dict[str, Callable[[], Any]] = {}
