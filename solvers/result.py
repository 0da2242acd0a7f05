"""The one ``Result`` every solver returns, and its ``Status``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np


class Status(str, Enum):
    """Why a solve ended. ``has_solution`` tells whether ``Result.solution`` is usable."""

    OPTIMAL = "optimal"  # proven optimal (exact method or certificate)
    CONVERGED = "converged"  # reached the requested tolerance
    FEASIBLE = "feasible"  # a feasible solution, no optimality claim (heuristics)
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    TIME_LIMIT = "time_limit"  # stopped by the time limit; best solution returned
    ITERATION_LIMIT = "iteration_limit"  # stopped by max_iter; last iterate returned
    INTERRUPTED = "interrupted"  # Ctrl-C or callback StopIteration; best solution returned
    ERROR = "error"  # failed; see ``message``

    @property
    def has_solution(self) -> bool:
        return self not in (Status.INFEASIBLE, Status.UNBOUNDED, Status.ERROR)

    def __str__(self) -> str:
        return self.value


@dataclass
class Result:
    """Outcome of ``solve``.

    ``history`` holds (seconds since start, value, extra) triples for anytime plots, where
    ``history_label`` says what the value is ("objective", "marginal error", "relative
    residual", ...); ``stats`` holds solver-specific figures (operator counts, potentials...).
    """

    solution: Any = None
    objective: float | None = None
    status: Status = Status.ERROR
    bound: float | None = None
    message: str = ""
    iterations: int = 0
    runtime: float = 0.0
    history: list[tuple[float, float, Any]] = field(default_factory=list)
    history_label: str = "objective"
    stats: dict[str, Any] = field(default_factory=dict)
    method: str = ""
    problem: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.status, Status):
            self.status = Status(self.status)

    @property
    def ok(self) -> bool:
        """True when the solve produced a usable solution."""
        return self.status.has_solution and self.solution is not None

    def summary(self) -> str:
        obj = "-" if self.objective is None else f"{self.objective:.10g}"
        return (f"{self.problem or 'problem'} [{self.method}] status={self.status.value} "
                f"objective={obj} iterations={self.iterations} runtime={self.runtime:.3f}s"
                + (f" ({self.message})" if self.message else ""))

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": self.problem, "method": self.method, "status": self.status.value,
            "objective": self.objective, "bound": self.bound, "message": self.message,
            "iterations": self.iterations, "runtime": self.runtime,
            "solution": _jsonable(self.solution),
            "history": [[t, o, _jsonable(e)] for t, o, e in self.history],
            "history_label": self.history_label,
            "stats": _jsonable(self.stats),
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def plot(self, ax: Any = None, path: str | None = None, log: bool | None = None) -> Any:
        """Plot the anytime curve (``history_label`` vs seconds) of ``history``.

        Returns the matplotlib axes; writes a PNG when ``path`` is given.
        """
        import matplotlib

        if ax is None and path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        if self.history:
            t = [h[0] for h in self.history]
            y = [h[1] for h in self.history]
            ax.step(t, y, where="post", label=self.method or "optbox")
            if log is None:
                positive = [v for v in y if v is not None and v > 0]
                log = bool(positive) and len(positive) == len(y) and max(y) / min(positive) > 1e3
            if log:
                ax.set_yscale("log")
        ax.set_xlabel("seconds")
        ax.set_ylabel(self.history_label)
        ax.set_title(f"{self.problem} — {self.status.value}")
        ax.legend()
        if path is not None:
            ax.figure.tight_layout()
            ax.figure.savefig(path, dpi=120)
        return ax


def _jsonable(value: Any) -> Any:
    """Convert numpy arrays, scalars, enums and sparse matrices to plain JSON values."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            return [_jsonable(v) for v in value.tolist()]
        return value.tolist()
    if hasattr(value, "toarray") and hasattr(value, "nnz"):
        return {"sparse": True, "shape": list(value.shape), "nnz": int(value.nnz)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)
