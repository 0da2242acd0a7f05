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
    MethodSpec(
        name="bcd",
        problems=LEARNING,
        target="solvers.bcd.blocks:solve_bcd",
        options={"tol": None, "max_iter": None, "rule": None, "update": None, "block_size": None,
                 "max_epochs": 10_000, "ws_start": 50, "partition": None,
                 "newton_gram_max": 2000, "ws_grow": None},
        description="block coordinate descent: greedy working-set prox-CD (L1, numba); "
                    "cyclic/random/lipschitz/gs/gsl/gsd/gsq x gradient/matrix/newton/newton-cg "
                    "blocks (smooth); "
                    "forest blocks solved by message passing, or red-black block Gauss-Seidel "
                    "(label propagation, partition='forest' | 'red-black')",
        randomized=True,
        default_rank=lambda p: 2,
    ),
]
