"""optbox problem classes: validated data, objectives and file formats.

>>> from problems import TSP
>>> TSP.random(10, seed=0).n_nodes
10
"""

from ._validation import InvalidProblemError, InvalidSolutionError
from .base import Problem
from .dag import DAGLearning
from .io import problem_class_for, read_instance
from .learning import (
    L1LogisticRegression,
    LabelPropagation,
    Lasso,
    LeastSquares,
    LogisticRegression,
    SoftmaxRegression,
)
from .linear import LinearSystem
from .mip import MIP
from .ot import OptimalTransport
from .routing import CVRP, TSP

__all__ = [
    "CVRP",
    "DAGLearning",
    "InvalidProblemError",
    "InvalidSolutionError",
    "L1LogisticRegression",
    "LabelPropagation",
    "Lasso",
    "LeastSquares",
    "LinearSystem",
    "LogisticRegression",
    "MIP",
    "OptimalTransport",
    "Problem",
    "SoftmaxRegression",
    "TSP",
    "problem_class_for",
    "read_instance",
]
