"""Stopping criteria, composed per solve, and the one map from why a run stopped to its status.

As in PyVRP's ``pyvrp/stop`` and ALNS's ``alns/stop``: each criterion is a small callable
asked with the run's :class:`LoopState`; it returns the :class:`StopReason` when it fires and
``None`` otherwise. :class:`FirstOf` asks several in order. No solver maps reasons to
statuses itself: :func:`status_for` is the only place that does.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from .result import Status


class StopReason(str, Enum):
    """Why a solve loop ended (the termination reason, kept apart from the solution status)."""

    CONVERGED = "converged"  # the method's own test passed (tolerance, optimality proof)
    FINISHED = "finished"  # the method ran to its natural end (a heuristic's last round)
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    NO_IMPROVEMENT = "no_improvement"
    CALLBACK = "callback"  # the user's callback raised StopIteration
    INTERRUPT = "interrupt"  # Ctrl-C (SIGINT)


@dataclass
class LoopState:
    """What a criterion may look at: the clock, the iteration count and the best objective."""

    start: float
    iteration: int = 0
    best_objective: float = math.inf
    best_iteration: int = 0
    interrupted: bool = False
    callback_stop: bool = False
    sense: int = 1  # +1: the problem minimizes its objective, -1: it maximizes

    def improved(self, objective: float, rel: float = 1e-12) -> bool:
        """Note ``objective``; True when it improves the best (in the problem's sense) by more
        than ``rel``. ``best_objective`` is kept as ``sense * objective``."""
        value = self.sense * objective
        better = value < self.best_objective - rel * max(1.0, abs(value))
        if better or not math.isfinite(self.best_objective):
            self.best_objective = value
            self.best_iteration = self.iteration
        return better


class StoppingCriterion(Protocol):
    def __call__(self, state: LoopState) -> StopReason | None: ...


class Interrupted:
    """Fires after a Ctrl-C (the signal handler of ``solve`` sets the flag)."""

    def __call__(self, state: LoopState) -> StopReason | None:
        return StopReason.INTERRUPT if state.interrupted else None


class CallbackRequested:
    """Fires after the user's callback raised ``StopIteration``."""

    def __call__(self, state: LoopState) -> StopReason | None:
        return StopReason.CALLBACK if state.callback_stop else None


class MaxRuntime:
    """Fires once ``seconds`` of wall-clock time have passed since the solve started."""

    def __init__(self, seconds: float):
        if not seconds > 0:
            raise ValueError(f"MaxRuntime needs a positive number of seconds, got {seconds!r}")
        self.seconds = float(seconds)

    def __call__(self, state: LoopState) -> StopReason | None:
        return StopReason.TIME_LIMIT if time.perf_counter() - state.start >= self.seconds else None


class MaxIterations:
    """Fires once ``iterations`` iterations have run."""

    def __init__(self, iterations: int):
        if iterations < 0:
            raise ValueError(f"MaxIterations needs a non-negative count, got {iterations!r}")
        self.iterations = int(iterations)

    def __call__(self, state: LoopState) -> StopReason | None:
        return StopReason.ITERATION_LIMIT if state.iteration >= self.iterations else None


class NoImprovement:
    """Fires when the best objective has not improved for ``iterations`` iterations."""

    def __init__(self, iterations: int):
        if iterations < 1:
            raise ValueError(f"NoImprovement needs a positive count, got {iterations!r}")
        self.iterations = int(iterations)

    def __call__(self, state: LoopState) -> StopReason | None:
        stale = state.iteration - state.best_iteration
        return StopReason.NO_IMPROVEMENT if stale >= self.iterations else None


class FirstOf:
    """The first of several criteria that fires (asked in the order given)."""

    def __init__(self, *criteria: StoppingCriterion):
        self.criteria = list(criteria)

    def add(self, criterion: StoppingCriterion) -> None:
        self.criteria.append(criterion)

    def __call__(self, state: LoopState) -> StopReason | None:
        for criterion in self.criteria:
            reason = criterion(state)
            if reason is not None:
                return reason
        return None


def status_for(reason: StopReason | None, default: Status) -> Status:
    """The status of a run that stopped for ``reason``; ``default`` when the method ended on
    its own terms (``FINISHED``, ``NO_IMPROVEMENT`` or no reason recorded)."""
    return {
        StopReason.CONVERGED: Status.CONVERGED,
        StopReason.TIME_LIMIT: Status.TIME_LIMIT,
        StopReason.ITERATION_LIMIT: Status.ITERATION_LIMIT,
        StopReason.CALLBACK: Status.INTERRUPTED,
        StopReason.INTERRUPT: Status.INTERRUPTED,
    }.get(reason, default) if reason is not None else default
