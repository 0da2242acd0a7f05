"""Smooth and L1 learning problems: block coordinate descent (Nutini, Laradji, Schmidt)."""

from ..registry import MethodSpec

LEARNING = ("LeastSquares", "LogisticRegression", "SoftmaxRegression", "LabelPropagation",
            "Lasso", "L1LogisticRegression")

METHODS = [
    MethodSpec(
        name="lbfgs",
        problems=LEARNING,
        target="solvers.bcd.lbfgs:solve_lbfgs",
        options={"tol": 1e-8, "max_iter": 10_000},
        description="scipy L-BFGS-B (L1 through the split x = x+ - x-, x+/- >= 0)",
        default_rank=lambda p: 1,
    ),
]
