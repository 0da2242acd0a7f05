"""Stopping criteria (solvers.stop): each alone, composed, and passed to ``solve(stop=...)``."""

from __future__ import annotations

import time

import pytest

from problems import TSP, LinearSystem
from solvers import Status, solve
from solvers.stop import (
    FirstOf,
    LoopState,
    MaxIterations,
    MaxRuntime,
    NoImprovement,
    StopReason,
    status_for,
)


def test_criteria_fire_on_their_condition_only():
    state = LoopState(start=time.perf_counter())
    assert MaxIterations(3)(state) is None
    state.iteration = 3
    assert MaxIterations(3)(state) is StopReason.ITERATION_LIMIT
    assert MaxRuntime(100)(state) is None
    assert MaxRuntime(1e-9)(state) is StopReason.TIME_LIMIT
    with pytest.raises(ValueError):
        MaxRuntime(0)


def test_no_improvement_counts_from_the_last_better_objective_in_the_problems_sense():
    state = LoopState(start=0.0)
    rule = NoImprovement(2)
    for k, value in enumerate([5.0, 4.0, 4.0, 4.0]):
        state.iteration = k
        state.improved(value)
    assert state.best_iteration == 1 and rule(state) is StopReason.NO_IMPROVEMENT
    maximizing = LoopState(start=0.0, sense=-1)
    for k, value in enumerate([1.0, 2.0, 3.0]):
        maximizing.iteration = k
        maximizing.improved(value)
    assert maximizing.best_iteration == 2 and rule(maximizing) is None


def test_first_of_asks_in_order_and_the_one_status_map():
    state = LoopState(start=0.0, iteration=10, interrupted=True)
    from solvers.stop import Interrupted

    assert FirstOf(Interrupted(), MaxIterations(5))(state) is StopReason.INTERRUPT
    assert FirstOf(MaxIterations(5), Interrupted())(state) is StopReason.ITERATION_LIMIT
    assert status_for(StopReason.CALLBACK, Status.FEASIBLE) is Status.INTERRUPTED
    assert status_for(StopReason.NO_IMPROVEMENT, Status.FEASIBLE) is Status.FEASIBLE
    assert status_for(None, Status.OPTIMAL) is Status.OPTIMAL


def test_solve_takes_extra_criteria():
    result = solve(LinearSystem.poisson((64, 64)), "cg", tol=1e-14, stop=MaxIterations(7))
    assert result.status is Status.ITERATION_LIMIT and result.iterations == 7
    with pytest.raises(ValueError, match="stopping criteria"):
        solve(LinearSystem.poisson((8, 8)), "cg", stop=3)


def test_no_improvement_ends_an_anytime_search_without_a_time_limit():
    problem = TSP.random(120, seed=4)
    start = time.perf_counter()
    result = solve(problem, "local-search", seed=0, stop=NoImprovement(30))
    assert time.perf_counter() - start < 60
    assert result.status is Status.FEASIBLE and result.ok
    again = solve(problem, "local-search", seed=0, stop=NoImprovement(30))
    assert again.objective == result.objective  # clock-free, so repeatable
    full = solve(problem, "local-search", seed=0)  # the method's own kick budget
    assert result.iterations < full.iterations
