"""A first TSP call on an empty numba cache (issue 25): the compile-free 2-opt + Or-opt fallback
and the compiler-process bookkeeping, with the kernels' readiness mocked."""

from __future__ import annotations

import os
import time

import numpy as np

from problems import CVRP, TSP
from solvers import solve
from solvers.routing import _ls_kernels as K
from solvers.routing import background, fallback
from solvers.routing import tsp as T
from solvers.routing.candidates import candidate_graph, graph_candidates, greedy_tour


def _is_perm(t, n) -> bool:
    return sorted(np.asarray(t).tolist()) == list(range(n))


def test_fallback_descent_keeps_a_permutation_and_matches_the_numba_2opt_oropt():
    """Peer agreement: the numpy descent ends within 2 % of the numba 2-opt + Or-opt kernel from
    the same greedy start, and far below the start."""
    for seed in (0, 1):
        p = TSP.random(400, seed=seed)
        graph = candidate_graph(p)
        start = greedy_tour(p, graph)
        cand = graph_candidates(graph, 10)
        tour = fallback.descend(p, cand, start)
        assert _is_perm(tour, 400)
        ref = start.copy()
        pos = np.empty(400, dtype=np.int64)
        pos[ref] = np.arange(400)
        K.local_search(ref, pos, p.coords, np.zeros((1, 1)), p.distance_code, cand, 0, 1_000_000,
                       np.zeros(400, dtype=np.bool_))
        assert p.objective(tour) <= 1.02 * p.objective(ref)
        assert p.objective(tour) <= 0.95 * p.objective(start)


def test_fallback_ils_keeps_a_permutation_and_never_lengthens_its_start():
    p = TSP.random(400, seed=6)
    graph = candidate_graph(p)
    cand = graph_candidates(graph, 10)
    tour = fallback.descend(p, cand, greedy_tour(p, graph))
    count = iter(range(150))
    better = fallback.iterate(p, cand, tour, stop=lambda: next(count, None) is None, seed=1)
    assert _is_perm(better, 400) and p.objective(better) < p.objective(tour)
    again = fallback.iterate(p, cand, tour, stop=(lambda c=iter(range(150)): next(c, None) is None), seed=1)
    assert np.array_equal(again, better)  # seeded


def test_fallback_on_tiny_and_explicit_instances():
    p = TSP.random(12, seed=3)
    D = p.distance_matrix()
    q = TSP(matrix=D)
    for inst in (p, q):
        graph = candidate_graph(inst)
        start = greedy_tour(inst, graph)
        tour = fallback.descend(inst, graph_candidates(graph, 6), start)
        assert _is_perm(tour, 12) and inst.objective(tour) <= inst.objective(start) + 1e-9


def test_graph_candidates_are_each_nodes_shortest_graph_edges():
    p = TSP.random(200, seed=4)
    indptr, nbr, base = graph = candidate_graph(p)
    cand = graph_candidates(graph, 8)
    for v in range(0, 200, 17):
        row = nbr[indptr[v]:indptr[v + 1]][np.argsort(base[indptr[v]:indptr[v + 1]], kind="stable")][:8]
        assert cand[v, :row.size].tolist() == row.tolist()


def test_cold_call_returns_the_fallback_tour_within_its_limit(monkeypatch):
    """Kernels 'not compiled' and a compiler that never finishes: the call keeps its limit and
    returns the 2-opt + Or-opt tour (not the greedy start), saying it was still compiling."""
    monkeypatch.setattr(T, "kernel_ready", lambda dispatcher: False)
    monkeypatch.setattr(T.background, "start", lambda kind: True)
    monkeypatch.setattr(T.background, "compiling", lambda kind: True)
    monkeypatch.setattr(T.background, "busy", lambda: False)  # a spare core: the ILS runs too
    p = TSP.random(600, seed=5)
    greedy = p.objective(greedy_tour(p))
    t = time.perf_counter()
    r = solve(p, "local-search", seed=0, time_limit=1.5)
    assert time.perf_counter() - t <= 1.5 * 1.1 + 1.0
    assert _is_perm(r.solution, 600) and r.stats["compiling"] and r.stats["candidates"] == "quadrant"
    assert r.objective <= 0.93 * greedy and r.objective == r.stats["fallback"]
    assert r.stats["fallback_ils"]


def test_cold_call_goes_on_with_lk_once_the_kernel_is_ready(monkeypatch):
    """The kernel becomes 'ready' during the fallback: the search continues with LK from the
    fallback's tour (quadrant candidates, α not yet), better than the fallback alone."""
    solve(TSP.random(30, seed=1), "local-search", seed=0, kicks=10)  # kernels loaded here
    calls = {"n": 0}

    def ready(dispatcher) -> bool:
        calls["n"] += 1
        return dispatcher is T.L.lk_ils and calls["n"] > 3

    monkeypatch.setattr(T, "kernel_ready", ready)
    monkeypatch.setattr(T.background, "start", lambda kind: True)
    monkeypatch.setattr(T.background, "compiling", lambda kind: True)
    p = TSP.random(600, seed=5)
    r = solve(p, "local-search", seed=0, time_limit=2.0)
    assert _is_perm(r.solution, 600) and r.stats.get("cold_start") and r.stats["kicks"] > 0
    assert r.objective < r.stats["fallback"]


def test_compiler_lock_is_stale_when_its_process_is_gone(tmp_path, monkeypatch):
    lock = tmp_path / "optbox-compile-tsp.lock"
    monkeypatch.setattr(background, "_lock_path", lambda kind: lock)
    monkeypatch.setattr(background, "_started", {})
    assert not background.compiling("tsp")
    lock.write_text(str(os.getpid()))
    assert background.compiling("tsp")
    lock.write_text("999999999")
    assert not background.compiling("tsp")


def test_cold_cvrp_call_returns_ortools_routes_within_its_limit(monkeypatch):
    """CVRP kernels 'not compiled', a compiler that never finishes: OR-Tools' routes, feasible,
    inside the limit, the call saying it was still compiling."""
    from solvers.routing import local_search as LS

    monkeypatch.setattr(LS.background, "ready", lambda dispatcher: False)
    monkeypatch.setattr(LS.background, "start", lambda kind: True)
    monkeypatch.setattr(LS.background, "compiling", lambda kind: True)
    p = CVRP.random(60, seed=2)
    t = time.perf_counter()
    r = solve(p, "local-search", seed=0, time_limit=1.5)
    assert time.perf_counter() - t <= 1.5 * 1.1 + 1.0
    assert p.is_feasible(r.solution) and r.stats["compiling"] and r.stats["rounds"] == 0
    assert r.objective == r.stats["fallback"]


def test_cold_cvrp_call_goes_on_from_ortools_once_the_kernels_are_ready(monkeypatch):
    from solvers.routing import local_search as LS

    solve(CVRP.random(20, seed=1), "local-search", seed=0, kicks=5)  # kernels loaded here
    t0 = time.perf_counter()

    def ready(dispatcher) -> bool:  # 'compiled' after 0.8 s (OR-Tools has routes by then)
        return time.perf_counter() - t0 > 0.8

    monkeypatch.setattr(LS.background, "ready", ready)
    monkeypatch.setattr(LS.background, "start", lambda kind: True)
    monkeypatch.setattr(LS.background, "compiling", lambda kind: True)
    p = CVRP.random(120, seed=3)
    r = solve(p, "local-search", seed=0, time_limit=2.0)
    assert p.is_feasible(r.solution) and r.stats["cold_start"] and not r.stats["compiling"]
    assert r.stats["rounds"] > 0 and r.objective <= r.stats["fallback"]
