"""The solve loop's state: stopping criteria, history, callback, incumbent and seeded RNG.

``solve`` builds one ``SolveContext`` per run and hands it to the method. The method drives
its main loop with ``for k in ctx.iterations(max_iter):`` (or asks ``ctx.should_stop()``
between phases); the context asks its stopping criteria (Ctrl-C, the callback's
``StopIteration``, the time limit, the iteration cap, any the method adds) and remembers
why the loop ended, so ``ctx.result(...)`` derives the status in one place
(:func:`solvers.stop.status_for`). ``ctx.record(objective, incumbent=...)`` appends to the
history and calls the user's callback with a :class:`Progress`; the last incumbent is what
``solve`` returns if the run is cut short by an exception it can recover from.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .result import Result, Status
from .stop import (
    CallbackRequested,
    FirstOf,
    Interrupted,
    LoopState,
    MaxRuntime,
    StoppingCriterion,
    StopReason,
    status_for,
)


class Progress(dict):
    """What a callback receives: ``time``, ``objective``, ``incumbent`` (the current best
    solution, None where the method records none), ``iteration`` and ``extra``; readable as
    a dict (``info["objective"]``) or by attribute (``info.objective``). ``solution`` is
    the same object as ``incumbent`` (the older key)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class SolveContext:
    """Stopping, history, callback and incumbent of one solve."""

    def __init__(
        self,
        time_limit: float | None = None,
        callback: Callable[[Progress], Any] | None = None,
        seed: int | None = None,
        history_label: str = "objective",
    ):
        self.start = time.perf_counter()
        self.time_limit = None if time_limit is None else float(time_limit)
        self.deadline = math.inf if time_limit is None else self.start + float(time_limit)
        self.callback = callback
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.history: list[tuple[float, float, Any]] = []
        self.history_label = history_label
        self.state = LoopState(start=self.start)
        self.stop = FirstOf(Interrupted(), CallbackRequested())
        if self.time_limit is not None:
            self.stop.add(MaxRuntime(self.time_limit))
        self.reason: StopReason | None = None
        self.incumbent: Any = None
        self.incumbent_objective: float | None = None

    # -- flags set from outside the loop (signal handler, callback) -------------------
    @property
    def interrupted(self) -> bool:
        return self.state.interrupted

    @interrupted.setter
    def interrupted(self, value: bool) -> None:
        self.state.interrupted = bool(value)

    @property
    def stopped_by_callback(self) -> bool:
        return self.state.callback_stop

    # -- the clock -------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def remaining(self) -> float:
        """Seconds left before the deadline (``inf`` without a time limit)."""
        return self.deadline - time.perf_counter()

    def time_up(self) -> bool:
        return time.perf_counter() >= self.deadline

    # -- stopping --------------------------------------------------------------------
    def add_stop(self, criterion: StoppingCriterion) -> None:
        """One more criterion for this run (e.g. :class:`solvers.stop.NoImprovement`)."""
        self.stop.add(criterion)

    def stop_reason(self) -> StopReason | None:
        """The reason a criterion gives now (None: go on); does not record it."""
        return self.stop(self.state)

    def should_stop(self) -> bool:
        """True when a stopping criterion fires; the reason is kept for the status."""
        reason = self.stop(self.state)
        if reason is not None:
            self.reason = reason
            return True
        return False

    def iterations(self, max_iter: int | None = None, start: int = 0) -> Iterator[int]:
        """The solve loop: yields 0, 1, 2, ... until ``max_iter`` iterations ran or a
        criterion fires (checked before each iteration); the reason is kept. A method that
        meets its own test calls :meth:`converged` (or :meth:`finished`) and breaks."""
        k = start
        while True:
            self.state.iteration = k
            if max_iter is not None and k >= max_iter:
                self.reason = StopReason.ITERATION_LIMIT
                return
            if self.should_stop():
                return
            yield k
            k += 1

    def at(self, iteration: int) -> None:
        """The loop is at ``iteration`` (for methods that run their iterations in chunks
        between checks, so that ``NoImprovement`` and ``MaxIterations`` count them)."""
        self.state.iteration = int(iteration)

    def converged(self) -> None:
        """The method's own convergence test passed."""
        self.reason = StopReason.CONVERGED

    def finished(self) -> None:
        """The method ran to its natural end (no limit stopped it)."""
        self.reason = StopReason.FINISHED

    def stop_status(self, default: Status) -> Status:
        """The status of a run that ends now: the kept reason, else a criterion firing now,
        else ``default``."""
        reason = self.reason
        if reason in (None, StopReason.FINISHED):
            reason = self.stop(self.state) or reason
        return status_for(reason, default)

    # -- progress --------------------------------------------------------------------
    def record(self, objective: float, extra: Any = None, iteration: int | None = None,
               incumbent: Any = None, solution: Any = None) -> None:
        """Append (elapsed, objective, extra) to the history, keep ``incumbent`` and notify
        the callback (whose ``StopIteration`` stops the run at the next check).

        ``incumbent`` may be a zero-argument callable that builds the solution: it is then
        called only when a callback wants it or the run must be salvaged."""
        now = self.elapsed()
        objective = float(objective)
        self.history.append((now, objective, extra))
        if iteration is not None:
            self.state.iteration = int(iteration)
        self.state.improved(objective)
        if solution is not None and incumbent is None:
            incumbent = solution
        if incumbent is not None:
            self.incumbent = incumbent
            self.incumbent_objective = objective
        if self.callback is not None:
            value = incumbent() if callable(incumbent) else incumbent
            info = Progress(time=now, objective=objective, incumbent=value, solution=value,
                            iteration=iteration, extra=extra)
            try:
                self.callback(info)
            except StopIteration:
                self.state.callback_stop = True

    def salvage(self, message: str) -> Result:
        """A ``Result`` from the last recorded incumbent (status from the stop reason, or
        ``interrupted``) for a run that ended by an exception the caller recovers from."""
        value = self.incumbent() if callable(self.incumbent) else self.incumbent
        status = status_for(self.reason, Status.INTERRUPTED)
        if status in (Status.CONVERGED, Status.FEASIBLE, Status.OPTIMAL):
            status = Status.INTERRUPTED
        return self.result(solution=value, objective=self.incumbent_objective if value is not None else None,
                           status=status, message=message)

    def result(self, status: Status | None = None, **kwargs: Any) -> Result:
        """A ``Result`` with this context's runtime, history and label filled in; without
        ``status``, the status follows the kept stop reason (``feasible`` when none)."""
        kwargs.setdefault("runtime", self.elapsed())
        kwargs.setdefault("history", self.history)
        kwargs.setdefault("history_label", self.history_label)
        if status is None:
            status = self.stop_status(Status.FEASIBLE)
        return Result(status=status, **kwargs)
