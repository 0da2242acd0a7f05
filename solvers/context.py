"""Shared run-time plumbing for solvers: deadline, history, callback, seeded RNG.

Every solver creates one ``SolveContext`` from the arguments ``solve`` passes and checks
``ctx.should_stop()`` in its main loop; ``ctx.record(objective)`` appends to the anytime
history and calls the user's callback (which may raise ``StopIteration`` to stop cleanly).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .result import Result, Status


class SolveContext:
    """Deadline, history and callback of one solve."""

    def __init__(
        self,
        time_limit: float | None = None,
        callback: Callable[[dict[str, Any]], Any] | None = None,
        seed: int | None = None,
    ):
        self.start = time.perf_counter()
        self.time_limit = None if time_limit is None else float(time_limit)
        self.deadline = math.inf if time_limit is None else self.start + float(time_limit)
        self.callback = callback
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.history: list[tuple[float, float, Any]] = []
        self.stopped_by_callback = False
        self.interrupted = False

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def remaining(self) -> float:
        """Seconds left before the deadline (``inf`` without a time limit)."""
        return self.deadline - time.perf_counter()

    def time_up(self) -> bool:
        return time.perf_counter() >= self.deadline

    def should_stop(self) -> bool:
        return self.stopped_by_callback or self.interrupted or self.time_up()

    def record(self, objective: float, extra: Any = None, iteration: int | None = None,
               solution: Any = None) -> None:
        """Append (elapsed, objective, extra) to the history and notify the callback."""
        now = self.elapsed()
        self.history.append((now, float(objective), extra))
        if self.callback is not None:
            info = {"time": now, "objective": float(objective), "iteration": iteration,
                    "extra": extra, "solution": solution}
            try:
                self.callback(info)
            except StopIteration:
                self.stopped_by_callback = True

    def stop_status(self, default: Status) -> Status:
        """The status to report given why the loop ended."""
        if self.interrupted or self.stopped_by_callback:
            return Status.INTERRUPTED
        if self.time_up():
            return Status.TIME_LIMIT
        return default

    def result(self, **kwargs: Any) -> Result:
        """A ``Result`` with this context's runtime and history filled in."""
        kwargs.setdefault("runtime", self.elapsed())
        kwargs.setdefault("history", self.history)
        return Result(**kwargs)
