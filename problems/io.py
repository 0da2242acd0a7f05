"""``read_instance``: pick the problem class from a file's extension (and content for .npz)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._validation import InvalidProblemError
from .base import Problem, file_extension
from .dag import DAGLearning
from .learning import (
    SVMLIGHT_EXTENSIONS,
    L1LogisticRegression,
    LabelPropagation,
    Lasso,
    LeastSquares,
    LogisticRegression,
    SoftmaxRegression,
    read_svmlight,
)
from .linear import LinearSystem
from .mip import MIP
from .npz import npz_kind
from .ot import OptimalTransport
from .routing import CVRP, TSP

#: ``kind`` entry of an optbox ``.npz`` -> problem class
NPZ_KINDS: dict[str, type[Problem]] = {
    "ot": OptimalTransport,
    "linear": LinearSystem,
    "least_squares": LeastSquares,
    "logistic": LogisticRegression,
    "softmax": SoftmaxRegression,
    "lasso": Lasso,
    "l1_logistic": L1LogisticRegression,
    "label_propagation": LabelPropagation,
}

EXTENSIONS: dict[str, type[Problem]] = {
    ".tsp": TSP, ".tsp.gz": TSP,
    ".vrp": CVRP, ".vrp.gz": CVRP,
    ".mps": MIP, ".mps.gz": MIP, ".lp": MIP, ".lp.gz": MIP,
    ".csv": DAGLearning,
    ".mtx": LinearSystem,
}


def problem_class_for(path: str | os.PathLike) -> type[Problem]:
    """The problem class a file holds, from its extension (and ``kind`` entry for .npz)."""
    path = Path(path)
    ext = file_extension(path)
    if ext == ".npz":
        if not path.is_file():
            raise InvalidProblemError(f"{path}: no such file")
        try:
            kind = npz_kind(path)
        except InvalidProblemError as exc:
            raise InvalidProblemError(f"{path}: {exc}") from None
        if kind not in NPZ_KINDS:
            raise InvalidProblemError(
                f"{path}: unknown kind {kind!r}; expected one of {', '.join(NPZ_KINDS)}"
            )
        return NPZ_KINDS[kind]
    if ext in SVMLIGHT_EXTENSIONS:
        return _svmlight_class(path)
    if ext not in EXTENSIONS:
        known = sorted(set(EXTENSIONS) | {".npz"} | set(SVMLIGHT_EXTENSIONS))
        raise InvalidProblemError(
            f"{path}: unknown file type {ext or '(no extension)'!r}; known: {', '.join(known)}"
        )
    return EXTENSIONS[ext]


def _svmlight_class(path: Path) -> type[Problem]:
    """Two label values: logistic; a few integer labels: softmax; otherwise least squares."""
    import numpy as np

    if not path.is_file():
        raise InvalidProblemError(f"{path}: no such file")
    try:
        _, y = read_svmlight(path)
    except InvalidProblemError as exc:
        raise InvalidProblemError(f"{path}: {exc}") from None
    values = np.unique(y)
    if values.size == 2:
        return LogisticRegression
    if values.size <= 100 and np.all(values == np.round(values)):
        return SoftmaxRegression
    return LeastSquares


def read_instance(path: str | os.PathLike, **kwargs: Any) -> Problem:
    """Read any supported instance file; the class is chosen by extension (and content)."""
    return problem_class_for(path).from_file(path, **kwargs)
