"""Smooth and L1 learning problems: block coordinate descent (Nutini, Laradji, Schmidt).

``bcd`` is one method with one entry per problem family, each with its own target and only
the options that apply to it:

- smooth problems (least squares, logistic, softmax): :mod:`solvers.bcd.smooth`, the loop over
  a partition (:mod:`~solvers.bcd.partitions`), a selection rule (:mod:`~solvers.bcd.rules`)
  and a block update (:mod:`~solvers.bcd.updates`);
- L1 problems (Lasso, L1-logistic): :mod:`solvers.bcd.l1` — the greedy working-set prox-CD of
  :mod:`solvers.bcd.greedy_cd` by default, the paper's proximal greedy BCD (§6) with ``update=``
  (:mod:`solvers.bcd.prox_bcd`);
- label propagation: forest blocks by message passing or red-black Gauss-Seidel
  (:mod:`solvers.bcd.labelprop`).

``lbfgs`` (scipy's L-BFGS-B) is the full-gradient baseline for all of them. Nothing heavy is
imported here (the implementations load when a method runs).
"""

from __future__ import annotations

from typing import Any

from ..options import Option, max_iter, positive_int, tolerance
from ..registry import MethodSpec
from .rules import RULES
from .updates import UPDATES

SMOOTH = ("LeastSquares", "LogisticRegression", "SoftmaxRegression")
L1 = ("Lasso", "L1LogisticRegression")
LEARNING = SMOOTH + ("LabelPropagation",) + L1

#: smooth partitions (:mod:`solvers.bcd.partitions`) and those of label propagation
PARTITIONS = ("fixed", "sorted", "random", "variable", "forest")
LP_PARTITIONS = ("forest", "red-black")
LP_RULES = ("cyclic", "random", "gs")
L1_RULES = ("gs", "cyclic", "gs-s", "gs-r", "gs-q")
L1_UPDATES = ("prox-gradient", "prox-newton")

METHODS = [
    MethodSpec(
        name="lbfgs",
        problems=LEARNING,
        target="solvers.bcd.lbfgs:solve_lbfgs",
        options=(
            tolerance(1e-8, "scipy's gtol: the projected gradient's largest entry"),
            max_iter(10_000, "most L-BFGS-B iterations (None: no cap)"),
        ),
        description="scipy L-BFGS-B (L1 through the split x = x+ - x-, x+/- >= 0)",
        default_rank=lambda p: 1,
    ),
    MethodSpec(
        name="bcd",
        problems=SMOOTH,
        target="solvers.bcd.smooth:solve_smooth_bcd",
        options=(
            tolerance(1e-6, "stop when ||∇f||_inf <= tol", low_open=True),
            max_iter(200_000, "most block updates (None: no cap)"),
            Option("rule", str, None, "block selection. None with no partition / block_size: one block "
                   "of every coordinate (damped Newton, the fastest default; stats['rule'] is None); "
                   "naming a rule (e.g. gsq) runs greedy BCD on blocks of 16; None with blocks: gsq "
                   "(gs for forest blocks)", choices=tuple(RULES), none=True),
            Option("update", str, None, "block update (None: newton, or newton-cg for one block of "
                   "logistic / softmax and for large problems)", choices=tuple(UPDATES), none=True),
            positive_int("block_size", None, "coordinates per block (None: all of them, one Newton block, "
                         "unless a rule or partition is named or p k > 640 with an update: then 16)",
                         none=True),
            Option("partition", str, None, "fixed, sorted (by L_i) or random blocks, variable blocks (the "
                   "paper's best: rule='gsq', partition='variable', update='matrix' or 'newton'), or "
                   "forest blocks of AᵀA (None: fixed)", choices=PARTITIONS, none=True),
        ),
        description="block coordinate descent: " + "/".join(RULES) + " rules x " + "/".join(UPDATES)
                    + " updates on fixed, variable or forest blocks (Newton steps by message passing)",
        randomized=True,
        default_rank=lambda p: 2,
    ),
    MethodSpec(
        name="bcd",
        problems=L1,
        target="solvers.bcd.l1:solve_l1",
        options=(
            tolerance(1e-8, "stop at the relative duality gap (P - D) / |P| <= tol", low_open=True),
            max_iter(1000, "most outer iterations: working sets solved, or block updates with update= "
                     "(None: no cap)"),
            Option("rule", str, "gs", "working sets: gs (GS-s: the support and the largest KKT "
                   "violations) or cyclic (every coordinate); with update=: gs-s, gs-r, gs-q or cyclic "
                   "variable blocks (paper §6)", choices=L1_RULES),
            Option("update", str, None, "None: working-set prox-CD (fastest); prox-gradient or "
                   "prox-newton: the paper's proximal greedy BCD, Newton on the support once it is "
                   "identified", choices=L1_UPDATES, none=True),
            positive_int("block_size", None, "coordinates per variable block with update= (None: 16)",
                         none=True),
            positive_int("inner_epochs", 10_000, "most CD epochs of one Lasso working-set solve",
                         aliases=("max_epochs",)),
            positive_int("ws_start", 50, "size of the first working set"),
            Option("ws_grow", float, 1.5, "working set = max(ws_start, ws_grow x support)", low=1.0),
            Option("newton_gram_max", int, 2000, "largest L1-logistic working set whose block Hessian "
                   "is formed explicitly (larger ones: column-wise prox-Newton)", low=0),
            Option("anderson", bool, True, "Anderson extrapolation of the Lasso working-set CD"),
        ),
        description="greedy working-set prox-CD (GS-s rule, prox-Newton for L1-logistic, numba); "
                    "update=: proximal greedy BCD (GS-s/GS-r/GS-q, variable blocks, active-set Newton)",
        default_rank=lambda p: 2,
    ),
    MethodSpec(
        name="bcd",
        problems=("LabelPropagation",),
        target="solvers.bcd.labelprop:solve_label_propagation",
        options=(
            tolerance(1e-8, "stop when ||∇f||_inf <= tol (checked once per sweep)", low_open=True),
            max_iter(1_000_000, "most block visits (None: no cap)"),
            Option("rule", str, "cyclic", "block selection", choices=LP_RULES),
            Option("partition", str, "forest", "forest blocks solved by message passing, or red-black "
                   "colour classes (block Gauss-Seidel)", choices=LP_PARTITIONS),
        ),
        description="block coordinate descent over forest blocks (message passing) or colour classes",
        randomized=True,
        default_rank=lambda p: 2,
    ),
]


def _design() -> tuple[Any, Any, Any]:
    """The tiny design of ``tests/test_limits.py::tiny``: (A, labels in ±1, the generator)."""
    import numpy as np

    rng = np.random.default_rng(0)
    A = rng.standard_normal((40, 10))
    y = np.where(A @ rng.standard_normal(10) + rng.standard_normal(40) > 0, 1.0, -1.0)
    return A, y, rng


def _least_squares() -> Any:
    from problems import LeastSquares

    A, _, rng = _design()
    return LeastSquares(A, rng.standard_normal(40))


def _logistic() -> Any:
    from problems import LogisticRegression

    A, y, _ = _design()
    return LogisticRegression(A, y, l2=1.0)


def _softmax() -> Any:
    from problems import SoftmaxRegression

    A, _, rng = _design()
    return SoftmaxRegression(A, rng.integers(0, 3, 40), l2=1.0)


def _label_propagation() -> Any:
    from problems import LabelPropagation

    return LabelPropagation.lattice(8, n_labelled=4)


def _lasso() -> Any:
    from problems import Lasso

    A, _, rng = _design()
    return Lasso(A, rng.standard_normal(40), alpha=0.05)


def _l1_logistic() -> Any:
    from problems import L1LogisticRegression

    A, y, _ = _design()
    return L1LogisticRegression(A, y, alpha=0.01)


#: one small seeded instance per problem type (``optbox warmup``, the contract tests)
EXAMPLES = {
    "LeastSquares": _least_squares,
    "LogisticRegression": _logistic,
    "SoftmaxRegression": _softmax,
    "LabelPropagation": _label_propagation,
    "Lasso": _lasso,
    "L1LogisticRegression": _l1_logistic,
}
