"""Acceptance criteria: whether the LNS moves its current solution to a repaired candidate.

Objectives are minimized (the loop works on ``sense * f``). ``progress`` in [0, 1] is how far
the search has come (time used over the limit, or a count without a clock); simulated
annealing cools with it.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

TOL = 1e-6


def _no_worse(current: float, candidate: float) -> bool:
    return candidate <= current + TOL * max(1.0, abs(current))


class Acceptance(Protocol):
    def __call__(self, rng: np.random.Generator, current: float, candidate: float,
                 progress: float) -> bool: ...


class HillClimbing:
    """Accept a candidate that is no worse than the current solution."""

    def __init__(self, t0: float = 0.0):
        pass

    def __call__(self, rng: np.random.Generator, current: float, candidate: float,
                 progress: float) -> bool:
        return _no_worse(current, candidate)


class SimulatedAnnealing:
    """No worse: accept; worse by Δ: accept with probability exp(-Δ/T), the temperature
    falling linearly from ``t0`` with the progress (to 0.1 % of it)."""

    def __init__(self, t0: float):
        self.t0 = float(t0)

    def __call__(self, rng: np.random.Generator, current: float, candidate: float,
                 progress: float) -> bool:
        if _no_worse(current, candidate):
            return True
        if self.t0 <= 0:
            return False
        temp = self.t0 * max(1e-3, 1.0 - progress)
        return bool(rng.random() < math.exp(-(candidate - current) / temp))


#: the acceptance option -> criterion class (built with the start temperature)
ACCEPTANCE = {"hill_climbing": HillClimbing, "simulated_annealing": SimulatedAnnealing}
