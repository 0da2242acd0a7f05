"""DAG structure learning: TOPO topological swaps, NOTEARS, exhaustive search for tiny d.

TOPO also takes ``loss="gauss-nv"`` (the Gaussian BIC score with a noise variance per node,
node fits by backward elimination; no Cholesky fast path there); NOTEARS and exhaustive search
do not. All three respect the problem's prior knowledge (forbidden / required edges, tiers) and work
on its centred data (``DAGLearning(X, standardize=...)``).

Every method records a score of its current unthresholded graph (history label "score"):
exhaustive search and NOTEARS the data-fit loss Q(W), TOPO the sum of its node fits' losses
(L1 term included); the returned objective is ``problem.objective`` of the thresholded DAG.
"""

from __future__ import annotations

from typing import Any

from ..options import Option, max_iter, positive_float, positive_int, tolerance
from ..registry import MethodSpec


def _threshold(name: str = "threshold") -> Option:
    return Option(name, float, 0.3, "edges with |weight| below this are dropped from the result", low=0.0)


METHODS = [
    MethodSpec(
        name="exhaustive",
        problems=("DAGLearning",),
        target="solvers.dag.exhaustive:solve_exhaustive",
        options=(_threshold(),),
        description="exact: best topological order by enumeration (d <= 8, l2 loss)",
        default_rank=lambda p: 3 if p.n_nodes <= 6 and p.loss == "l2" and p.lambda1 == 0 else None,
        history_label="score",
    ),
    MethodSpec(
        name="topo",
        problems=("DAGLearning",),
        target="solvers.dag.topo:solve_topo",
        options=(
            _threshold(),
            Option("threshold_on", str, "weights", "compare the threshold with |w_ij| ('weights') or "
                   "with the unit-free |w_ij| sd_i / sd_j ('standardized', for raw data in mixed units)",
                   choices=("weights", "standardized")),
            positive_int("n_restarts", None, "starting orders (None: 3 up to d = 20, then 1)", none=True),
            Option("init", object, None, "a starting order (permutation), a DAG, or 'notears' / 'dagma' "
                   "(run that method first) tried before the default starts", none=True,
                   accepts="a permutation, a (d, d) DAG, 'notears' or 'dagma'"),
            Option("add_default_starts", bool, True,
                   "also try the variance-sorted and random starts (False: init alone)"),
            Option("candidates", str, "all", "large candidate set: every order-violating pair "
                   "(a local minimum over all swaps) or the paper's size max(1.5d, small)",
                   choices=("all", "paper")),
            Option("l2", float, 1e-6, "ridge of the node regressions", low=0.0),
            tolerance(1e-10, "least relative score gain of a swap"),
            max_iter(10_000, "most swap sweeps over all restarts (None: no cap)"),
        ),
        description="TOPO: topological swaps guided by grad h, refit between swapped positions",
        randomized=True,
        default_rank=lambda p: 2,
        history_label="score",
    ),
    MethodSpec(
        name="notears",
        problems=("DAGLearning",),
        target="solvers.dag.notears:solve_notears",
        options=(
            Option("lambda1", float, None, "L1 weight (None: the problem's lambda1)", low=0.0, none=True),
            _threshold("w_threshold"),
            positive_float("h_tol", 1e-8, "stop once the acyclicity h(W) is below this"),
            positive_float("rho_max", 1e16, "stop once the penalty weight rho reaches this"),
            max_iter(100, "most augmented-Lagrangian (dual) steps (None: no cap)"),
        ),
        description="NOTEARS: augmented Lagrangian with h = tr(exp(W o W)) - d, L-BFGS-B",
        history_label="score",
    ),
]


def _example() -> Any:
    from problems import DAGLearning

    return DAGLearning.random(5, n=200, seed=0)


EXAMPLES = {"DAGLearning": _example}
