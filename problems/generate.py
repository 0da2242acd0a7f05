"""Seeded random instances of every family, by name (``optbox generate KIND``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._validation import InvalidProblemError
from .base import Problem


def _design(n: int, seed: int) -> tuple[np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    rows = max(2 * n, 10)
    return rng.standard_normal((rows, n)), rng


def _tsp(n: int, seed: int) -> Problem:
    from .routing import TSP

    return TSP.random(n, seed=seed)


def _cvrp(n: int, seed: int) -> Problem:
    from .routing import CVRP

    return CVRP.random(n, seed=seed)


def _ot(n: int, seed: int) -> Problem:
    from .ot import OptimalTransport

    return OptimalTransport.random(n, seed=seed)


def _poisson(n: int, seed: int) -> Problem:
    from .linear import LinearSystem

    return LinearSystem.poisson((n, n), seed=seed)


def _dag(n: int, seed: int) -> Problem:
    from .dag import DAGLearning

    return DAGLearning.random(n, n=1000, seed=seed)


def _least_squares(n: int, seed: int) -> Problem:
    from .learning import LeastSquares

    A, rng = _design(n, seed)
    return LeastSquares(A, A @ rng.standard_normal(n) + 0.1 * rng.standard_normal(A.shape[0]))


def _lasso(n: int, seed: int) -> Problem:
    from .learning import Lasso

    A, rng = _design(n, seed)
    x = np.where(rng.random(n) < 0.1, rng.standard_normal(n), 0.0)
    return Lasso(A, A @ x + 0.1 * rng.standard_normal(A.shape[0]))


def _labels(A: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.where(A @ rng.standard_normal(A.shape[1]) + rng.standard_normal(A.shape[0]) > 0, 1.0, -1.0)


def _logistic(n: int, seed: int) -> Problem:
    from .learning import LogisticRegression

    A, rng = _design(n, seed)
    return LogisticRegression(A, _labels(A, rng), l2=1.0)


def _l1_logistic(n: int, seed: int) -> Problem:
    from .learning import L1LogisticRegression

    A, rng = _design(n, seed)
    return L1LogisticRegression(A, _labels(A, rng))


def _softmax(n: int, seed: int) -> Problem:
    from .learning import SoftmaxRegression

    A, rng = _design(n, seed)
    scores = A @ rng.standard_normal((n, 3)) + rng.gumbel(size=(A.shape[0], 3))
    return SoftmaxRegression(A, np.argmax(scores, axis=1), l2=1.0)


def _label_propagation(n: int, seed: int) -> Problem:
    from .learning import LabelPropagation

    return LabelPropagation.lattice(n, n_labelled=max(2, n // 2), seed=seed)


GENERATORS: dict[str, Callable[[int, int], Problem]] = {
    "tsp": _tsp,
    "cvrp": _cvrp,
    "ot": _ot,
    "poisson": _poisson,
    "dag": _dag,
    "least-squares": _least_squares,
    "lasso": _lasso,
    "logistic": _logistic,
    "l1-logistic": _l1_logistic,
    "softmax": _softmax,
    "label-propagation": _label_propagation,
}


def generate(kind: str, size: int, seed: int = 0) -> Problem:
    """A random instance of family ``kind`` (case/dash-insensitive) and size ``size``."""
    key = str(kind).strip().lower().replace("_", "-")
    generators = dict(GENERATORS)
    try:
        from .mip_generators import GENERATORS as MIP_GENERATORS
    except ImportError:
        MIP_GENERATORS = {}
    generators.update(MIP_GENERATORS)
    if key not in generators:
        raise InvalidProblemError(f"unknown kind {kind!r}; choose from {', '.join(sorted(generators))}")
    return generators[key](int(size), int(seed))
