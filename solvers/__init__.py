"""optbox solvers: ``solve(problem, method=None, ...)`` for every problem class.

Importing this package imports no solver implementation (and never torch): methods are
loaded on first use through :mod:`solvers.registry`.
"""

from .api import available_methods, solve, solve_many
from .options import Option
from .registry import show_options
from .result import Result, Status

__all__ = ["Option", "Result", "Status", "available_methods", "show_options", "solve", "solve_many"]
