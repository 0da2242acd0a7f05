"""Routing local search: valid tours/routes, TSPLIB conventions, near-optimal small instances."""

from __future__ import annotations

import time

import numpy as np
import pytest

from problems import CVRP, TSP, read_instance
from solvers import Status, solve
from solvers.routing import _ls_kernels as K
from solvers.routing.local_search import TourImprover, neighbour_lists

from .conftest import INSTANCES


@pytest.mark.parametrize("name, optimum", [("berlin52.tsp", 7542), ("eil101.tsp", 629)])
def test_ils_reaches_near_optimal_tsplib(name, optimum):
    problem = read_instance(INSTANCES / name)
    result = solve(problem, "local-search", seed=0, time_limit=3)
    assert sorted(result.solution.tolist()) == list(range(problem.n_nodes))
    assert optimum <= result.objective <= 1.02 * optimum
    assert result.objective == problem.objective(result.solution)


@pytest.mark.parametrize("kind", ["EUC", "EUC_2D", "CEIL_2D", "ATT", "GEO"])
def test_kernel_lengths_follow_the_file_convention(kind):
    rng = np.random.default_rng(1)
    coords = rng.random((40, 2)) * (80 if kind == "GEO" else 1000)
    problem = TSP(coords, edge_weight_type=kind)
    tour = rng.permutation(40)
    improver = TourImprover(problem, neighbour_lists(problem, 8))
    assert improver.length(tour) == pytest.approx(problem.objective(tour), rel=1e-12)


def test_explicit_matrix_instances():
    rng = np.random.default_rng(2)
    pts = rng.random((30, 2))
    M = np.round(100 * np.linalg.norm(pts[:, None] - pts[None], axis=2))
    problem = TSP(matrix=M)
    result = solve(problem, "local-search", seed=0, kicks=200)
    assert result.objective == problem.objective(result.solution)


def test_descent_never_lengthens_and_open_paths_keep_their_ends():
    problem = TSP.random(200, seed=3)
    neigh = neighbour_lists(problem, 10)
    improver = TourImprover(problem, neigh)
    rng = np.random.default_rng(0)
    for _ in range(5):
        tour = rng.permutation(200)
        before = improver.length(tour)
        after_tour = improver.descend(tour.copy())
        assert improver.length(after_tour) <= before + 1e-9
        assert sorted(after_tour.tolist()) == list(range(200))
        path = improver.descend(tour.copy(), fixed_ends=True)
        assert path[0] == tour[0] and path[-1] == tour[-1]
        open_len = lambda t: improver.length(t) - problem.pair_lengths([t[-1]], [t[0]])[0]  # noqa: E731
        assert open_len(path) <= open_len(tour) + 1e-9


def test_or_opt_and_two_opt_reach_a_2opt_local_optimum():
    problem = TSP.random(120, seed=4)
    improver = TourImprover(problem, neighbour_lists(problem, 119))
    tour = improver.descend(np.random.default_rng(5).permutation(120))
    n = tour.size
    D = problem.distance_matrix()
    for i in range(n):
        for j in range(i + 2, n):
            a, b, c, d = tour[i], tour[(i + 1) % n], tour[j], tour[(j + 1) % n]
            if len({a, b, c, d}) == 4:
                assert D[a, b] + D[c, d] <= D[a, c] + D[b, d] + 1e-9


def test_cvrp_routes_are_feasible_and_cover_every_customer():
    problem = read_instance(INSTANCES / "X-n101-k25.vrp")
    result = solve(problem, "local-search", seed=0, time_limit=3)
    assert problem.is_feasible(result.solution)
    assert result.objective <= 1.15 * 27591
    small = CVRP.random(30, seed=3)
    r = solve(small, "local-search", seed=1)
    assert small.is_feasible(r.solution) and r.status == Status.FEASIBLE


def test_split_is_optimal_for_a_fixed_order():
    problem = CVRP.random(9, seed=6, capacity=15)
    improver = TourImprover(problem, neighbour_lists(problem, 5))
    order = np.arange(1, 10)
    pred = K.split_giant_tour(order, problem.demands, problem.capacity, problem.coords,
                              np.zeros((1, 1)), problem.distance_code, 0)
    routes, j = [], 9
    while j > 0:
        routes.append(order[pred[j]:j].tolist())
        j = pred[j]
    best = problem.objective(routes)
    import itertools

    for cuts in itertools.product([0, 1], repeat=8):  # brute force over all splits
        parts, cur = [], [1]
        for k, cut in enumerate(cuts):
            if cut:
                parts.append(cur)
                cur = []
            cur.append(k + 2)
        parts.append(cur)
        if problem.is_feasible(parts):
            assert best <= problem.objective(parts) + 1e-9
    del improver


def test_same_seed_same_tour():
    problem = TSP.random(150, seed=8)
    a = solve(problem, "local-search", seed=4, kicks=300)
    b = solve(problem, "local-search", seed=4, kicks=300)
    np.testing.assert_array_equal(a.solution, b.solution)


def _stop_at_first(seen):
    def callback(info):
        seen.append((time.perf_counter(), info))
        raise StopIteration

    return callback


@pytest.mark.parametrize("method", ["local-search", "udc"])
def test_callbacks_see_the_incumbent_tour(method):
    """Every progress report carries the current best tour, whose length is the objective."""
    problem = TSP.random(250, seed=6)
    seen = []
    extra = {"start": "random-insertion"} if method == "udc" else {}
    result = solve(problem, method, seed=0, kicks=200, **extra,
                   callback=lambda info: seen.append((info.objective, info.incumbent.copy())))
    assert len(seen) >= 2 and result.status == Status.FEASIBLE
    for objective, tour in seen:
        assert sorted(tour.tolist()) == list(range(250))
        assert problem.objective(tour) == pytest.approx(objective, rel=1e-9)
    assert seen[-1][0] == pytest.approx(result.objective)


def test_ortools_stops_at_a_callback_stop_iteration_with_a_feasible_tour():
    """OR-Tools polls the solve's stopping criteria: a StopIteration at the first solution ends
    the search at once, not at the 10 s time limit."""
    pytest.importorskip("ortools")
    problem = TSP.random(300, seed=0)
    seen = []
    start = time.perf_counter()
    result = solve(problem, "ortools", time_limit=10, callback=_stop_at_first(seen))
    took = time.perf_counter() - start
    assert took < 3.0, f"{took:.2f} s"
    assert len(seen) == 1 and time.perf_counter() - seen[0][0] < 1.0
    assert result.status == Status.INTERRUPTED
    assert sorted(result.solution.tolist()) == list(range(300))
    assert result.objective == pytest.approx(problem.objective(result.solution))
    first = seen[0][1]
    assert sorted(first.incumbent.tolist()) == list(range(300))
    assert problem.objective(first.incumbent) == pytest.approx(first.objective, rel=1e-5)


def test_ortools_carries_a_callback_error_out_of_the_search():
    """OR-Tools' SWIG layer would drop an exception raised in a callback and search on: the
    adapter ends the search and raises it again."""
    pytest.importorskip("ortools")

    def broken(info):
        raise RuntimeError("callback failed")

    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="callback failed"):
        solve(TSP.random(200, seed=1), "ortools", time_limit=10, callback=broken)
    assert time.perf_counter() - start < 3.0


def test_ortools_time_limit_status_and_options():
    pytest.importorskip("ortools")
    problem = TSP.random(60, seed=2)
    result = solve(problem, "ortools", time_limit=0.5)
    assert result.status == Status.TIME_LIMIT and result.iterations >= 1
    assert sorted(result.solution.tolist()) == list(range(60))
    r = solve(problem, "ortools", strategy="GREEDY-DESCENT", time_limit=5)
    assert r.status == Status.FEASIBLE and r.runtime < 5  # a local optimum ends the search itself
    with pytest.raises(ValueError, match="strategy must be one of"):
        solve(problem, "ortools", strategy="nope")
    with pytest.raises(ValueError, match="scale"):
        solve(problem, "ortools", scale=0)


def test_ortools_second_ctrl_c_aborts_and_a_stray_interrupt_keeps_the_incumbent():
    """The first SIGINT stops the search (the signal handler runs in the adapter's callbacks);
    the second one's KeyboardInterrupt crosses OR-Tools' C++ frames and aborts. A
    KeyboardInterrupt that no handler turned into a stop (here: raised by the callback) still
    returns the last solution OR-Tools accepted."""
    pytest.importorskip("ortools")
    import os
    import signal

    problem = TSP.random(400, seed=3)

    def ctrl_c_twice(info):
        if info.iteration == 3:
            for _ in range(2):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)

    previous = signal.signal(signal.SIGINT, lambda *a: None)
    try:
        start = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            solve(problem, "ortools", time_limit=30, callback=ctrl_c_twice)
        assert time.perf_counter() - start < 5.0
    finally:
        signal.signal(signal.SIGINT, previous)

    def stray(info):
        if info.iteration == 3:
            raise KeyboardInterrupt

    result = solve(problem, "ortools", time_limit=30, callback=stray)
    assert result.status == Status.INTERRUPTED
    assert sorted(result.solution.tolist()) == list(range(400))
    assert result.objective == pytest.approx(problem.objective(result.solution), rel=1e-5)
