"""The TSP path of ``local-search``: α-nearness candidates and the greedy start (``candidates``),
Lin–Kernighan + Or-opt descent and an iterated local search whose double-bridge kicks are
segment-local or (GLOBAL_SHARE of them) span the whole tour, with large-step Markov chain
acceptance and a random walk to a new trial after a stall (``_lk_kernels.lk_ils``). On a first
call (empty numba cache) the kernels compile in a compiler process (``background``) while this one
improves the start with numpy 2-opt + Or-opt (``fallback``), all inside the time limit.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from problems import TSP

from ..context import SolveContext
from . import _alpha_kernels as A
from . import _lk_kernels as L
from . import background, fallback
from .background import ready as kernel_ready
from .candidates import alpha_candidates, candidate_graph, graph_candidates, greedy_tour  # noqa: F401
from .neighbours import neighbour_lists

#: LK depth (sequential 2-, 3-, ..., (DEPTH+1)-opt moves)
DEPTH = 10
#: ILS temperature, in average edge lengths of the first local optimum (0: accept no worse tour)
TEMP = 0.03
#: share of double bridges over the whole tour (the rest stay inside WINDOW positions)
GLOBAL_SHARE = 0.2
#: kicks without a new best tour that end a trial, per node (at least 2000), and accepted kicks of
#: the walk to the next one: 10 / 0.02 before; 2 / 0.1 took the mean gap at LKH-3's idle RUNS=1 time
#: from 0.298 to 0.128 % (0.112 % with MERGE) on pr1002, pcb1173, rl1304, d1291, seeds 4-9
#: (benchmarks/results/routing_lk.md)
STALL_PER_NODE = 2
WALK_PER_NODE = 0.1
#: merge each trial's tour with the best one before walking to the next trial (merge_trial)
MERGE = True
#: positions spanned by a double-bridge kick
WINDOW = 50
#: α candidates per node (LKH's default)
ALPHA_K = 5
#: share of the time limit the Held–Karp ascent may take
ASCENT_SHARE = 0.2
#: share of the time left that the ascent + α may take in all, with a time limit; past it the
#: search goes on with the quadrant candidates (the α pass of a clustered 100k instance took 52 s
#: in one kernel call, benchmarks/results/scale.md)
ALPHA_SHARE = 0.4
#: a first call (ascent kernel not compiled yet) compiles it only from this time limit (s)
ALPHA_COLD_LIMIT = 30.0
#: candidates per node from the nearest + quadrant graph where α is not available (a first call)
COLD_K = 12
#: seconds a first call keeps for loading the LK kernel from the cache (else: the fallback's tour)
LOAD_MARGIN = 0.3


class LKTour:
    """An array tour with its inverse under the LK kernel; ``descend`` / ``kicks`` mutate it and
    keep ``best`` (= ``tour`` between calls) and its ``length``."""

    def __init__(self, problem: TSP, cand: np.ndarray, tour: np.ndarray, depth: int = DEPTH,
                 coords: np.ndarray | None = None, matrix: np.ndarray | None = None):
        n = problem.n_nodes
        self.problem = problem
        self.coords = problem.coords if coords is None else coords
        # one argument type for every call: the kernel cached by the compiler process loads
        self.coords = np.zeros((n, 2)) if self.coords is None else \
            np.ascontiguousarray(self.coords, dtype=np.float64)
        self.matrix = (problem.matrix if problem.matrix is not None else np.zeros((1, 1))) \
            if matrix is None else matrix
        self.code = problem.distance_code
        self.cand = np.ascontiguousarray(cand, dtype=np.int64)
        self.depth = depth
        self.tour = np.ascontiguousarray(tour, dtype=np.int64).copy()
        self.pos = np.empty(n, dtype=np.int64)
        self.pos[self.tour] = np.arange(n)
        self.best = self.tour.copy()  # the current (accepted) tour
        self.elite = self.tour.copy()  # the best one seen
        self.length = self.exact_length()
        self.current = self.length
        self.temp = 0.0
        self.global_share = GLOBAL_SHARE
        self.state = np.array([0x9E3779B97F4A7C15], dtype=np.uint64)
        self.queue = np.empty(n + 8, dtype=np.int64)
        self.inq = np.zeros(n, dtype=np.bool_)

    def exact_length(self) -> float:
        t = self.elite
        return float(np.sum(self.problem.pair_lengths(t, np.roll(t, -1))))

    def seed(self, seed: int) -> None:
        self.state[0] = np.uint64((int(seed) * 2654435761 + 0x9E3779B97F4A7C15) % 2**64 or 1)

    def descend(self, active: np.ndarray | None = None) -> float:
        """LK + Or-opt descent from ``active`` nodes (all by default); the new tour is the best."""
        act = self.tour.copy() if active is None else np.asarray(active, dtype=np.int64)
        self.queue[: act.size] = act
        self.inq[act] = True
        _, _, gain = L.lk_ils(self.tour, self.pos, self.best, self.coords, self.matrix, self.code,
                              self.cand, self.depth, 0, self.state, WINDOW, self.current, self.queue,
                              self.inq, act.size, self.elite, self.length, 0.0, 0)
        self.best[:] = self.tour
        self.elite[:] = self.tour
        self.length = self.current = self.exact_length()
        return float(gain)

    def kicks(self, count: int, window: int = WINDOW) -> int:
        """``count`` ILS rounds from the best tour; returns the strict improvements."""
        cur, elite, better = L.lk_ils(self.tour, self.pos, self.best, self.coords, self.matrix,
                                      self.code, self.cand, self.depth, int(count), self.state,
                                      int(window), self.current, self.queue, self.inq, 0, self.elite,
                                      self.length, float(self.temp), int(1000 * self.global_share))
        self.current = float(cur)
        self.length = self.exact_length() if better else float(elite)
        return int(better)


CHUNK = 64  # kicks between checks when no time limit is set


def run_ils(lk: LKTour, ctx: SolveContext, kicks: int | None, record: bool = True,
            start_done: int = 0, stall: int | None = None) -> int:
    """Kick chunks until ``kicks`` rounds or a stop of ``ctx``; chunk sizes follow the clock
    (about 0.05 s each) but the kick sequence does not depend on them (one random stream).
    Multi-trial: after ``stall`` kicks (default STALL_PER_NODE n) without a new best tour, a
    random walk of WALK_PER_NODE n accepted kicks leaves the basin (a new trial from there)."""
    done, chunk = 0, 16
    n = lk.tour.size
    if n < 8:
        return 0
    stall = max(2000, STALL_PER_NODE * n) if stall is None else stall
    since = 0
    clocked = ctx.time_limit is not None  # without a limit, chunks of fixed size: clock-free stops
    while (kicks is None or done < kicks) and not ctx.should_stop():
        size = chunk if clocked else CHUNK
        todo = size if kicks is None else min(size, kicks - done)
        todo = min(todo, max(1, stall - since))
        t = time.perf_counter()
        old = lk.length
        lk.kicks(todo)
        done += todo
        since += todo
        improved = lk.length < old - 1e-9
        if not improved and since >= stall and MERGE:  # the trial's tour merged with the best
            improved = merge_trial(lk)
        if improved:
            since = 0
            if record:
                ctx.record(lk.length, iteration=start_done + done, incumbent=lk.elite.copy())
        if since >= stall:  # a new trial: walk away from the current basin
            temp = lk.temp
            lk.temp = 1e300
            walk = max(1, int(WALK_PER_NODE * n))
            lk.kicks(walk)
            lk.temp = temp
            done += walk
            since = 0
        ctx.at(start_done + done)  # NoImprovement / MaxIterations count kicks
        dt = time.perf_counter() - t
        left = None if ctx.time_limit is None else ctx.time_limit - ctx.elapsed()
        if dt < 0.03:
            chunk = min(chunk * 2, 1 << 16)
        elif dt > 0.1 and chunk > 1:
            chunk //= 2
        if left is not None and dt > 0 and chunk * dt / max(todo, 1) > left:
            chunk = max(1, int(left / (dt / max(todo, 1))))
    return done


def union_candidates(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidates of the union graph of tours ``a`` and ``b`` (each node's two tour neighbours
    in each; a shared edge appears twice), and the nodes whose neighbours differ between them."""
    ends = []
    for t in (a, b):
        e = np.empty((t.size, 2), dtype=np.int64)
        e[t, 0] = np.roll(t, -1)
        e[t, 1] = np.roll(t, 1)
        e.sort(axis=1)
        ends.append(e)
    differ = np.flatnonzero(np.any(ends[0] != ends[1], axis=1))
    return np.ascontiguousarray(np.hstack(ends)), differ


def merge_trial(lk: LKTour) -> bool:
    """Tour merging at the end of a trial (LKH's MERGE_TOUR by LK on the union graph): the LK +
    Or-opt descent from the best tour with candidates restricted to the edges of the best and
    the trial's tour, from the nodes where they differ. A shorter tour becomes the best and the
    chain's current tour (True)."""
    nb, differ = union_candidates(lk.elite, lk.best)
    if differ.size == 0:
        return False
    m = LKTour(lk.problem, nb, lk.elite, lk.depth, coords=lk.coords, matrix=lk.matrix)
    m.state[0] = lk.state[0]
    m.descend(differ)
    if not m.length < lk.length - 1e-9:
        return False
    lk.elite[:] = m.elite
    lk.tour[:] = m.elite
    lk.best[:] = m.elite
    lk.pos[lk.tour] = np.arange(lk.tour.size)
    lk.length = lk.current = m.length
    return True


def _warm_lk() -> None:
    """Compile (or load) ``lk_ils`` for the argument types of every call: a 9-node ILS."""
    p = TSP.random(9, seed=0)
    lk = LKTour(p, neighbour_lists(p, 5), np.arange(9))
    lk.descend()
    lk.kicks(1)


def _warm_alpha() -> None:
    """Compile (or load) the ascent + α kernel on a 9-node instance."""
    alpha_candidates(TSP.random(9, seed=0), ALPHA_K, max_iter=2)


def _background(fn, daemon: bool = False) -> threading.Thread:
    """Run ``fn`` in a thread (numba compiles there while the caller waits or searches with
    kernels that release the GIL); errors surface when the kernel is next called. Not a daemon
    by default: a process that ends first waits for the compilation, so that the on-disk cache
    is written and the next process starts warm (``daemon=True``: work a process may drop)."""
    def run() -> None:
        try:
            fn()
        except Exception:  # noqa: BLE001 - the solve calls the kernel itself and raises there
            pass

    t = threading.Thread(target=run, daemon=daemon, name=f"optbox-{fn.__name__}")
    t.start()
    return t


def _brute_force(problem: TSP) -> np.ndarray:
    """Optimal tour of up to 8 nodes by enumeration (node 0 first)."""
    from itertools import permutations

    n = problem.n_nodes
    D = problem.distance_matrix()
    best, best_len = np.arange(n), np.inf
    for perm in permutations(range(1, n)):
        t = (0, *perm)
        length = sum(D[t[k], t[(k + 1) % n]] for k in range(n))
        if length < best_len - 1e-12:
            best, best_len = np.array(t, dtype=np.int64), length
    return best


def alpha_ready() -> bool:
    """Both α kernels (ascent, complete-graph α) run without compiling."""
    return kernel_ready(A.ascent_alpha) and kernel_ready(A.alpha_dense)


def _wait_for_lk(problem: TSP, ctx: SolveContext, cand: np.ndarray, start: np.ndarray,
                 stats: dict) -> tuple[np.ndarray, bool]:
    """A first call with a time limit: the LK kernel compiles in a compiler process
    (``background``) while the compile-free 2-opt + Or-opt descent and ILS (``fallback``)
    improve the start on this core (the ILS only where a core is free, ``background.busy``),
    until the kernel is on disk or the limit. Without a compiler
    process, the kernel compiles in a thread here (the old path). Returns the fallback's tour and
    whether the kernel is ready with at least LOAD_MARGIN s left to load it."""
    tour = start
    if background.start("tsp"):
        def stop() -> bool:
            return ctx.should_stop() or kernel_ready(L.lk_ils) or not background.compiling("tsp")

        busy = background.busy()
        tour = fallback.descend(problem, cand, start, stop=stop)
        background.prepare()
        if not busy:  # the ILS on a spare core (on a loaded machine it would slow the compiler)
            tour = fallback.iterate(problem, cand, tour, stop, seed=int(ctx.rng.integers(2**31)))
        stats["fallback_ils"] = not busy
        if problem.objective(tour) < problem.objective(start) - 1e-9:
            ctx.record(problem.objective(tour), iteration=0, incumbent=tour)
        stats["fallback"] = float(problem.objective(tour))
        while not stop():
            time.sleep(0.02)
    if not kernel_ready(L.lk_ils) and not ctx.should_stop():  # no compiler process
        compiling = _background(_warm_lk)
        while compiling.is_alive() and not ctx.should_stop():
            compiling.join(0.02)
    if not kernel_ready(L.lk_ils) or ctx.remaining() < LOAD_MARGIN:
        stats["compiling"] = not kernel_ready(L.lk_ils)
        return tour, False
    stats["cold_start"] = True
    stats["lk_ready_s"] = round(ctx.elapsed(), 2)
    return tour, True


def _alpha_within(problem: TSP, iters: int | None, graph: tuple, ctx: SolveContext
                  ) -> tuple[np.ndarray | None, float, dict]:
    """:func:`alpha_candidates` with a deadline: without a time limit, a direct call; with one,
    in a daemon thread (the kernels release the GIL) that this call leaves running when it is
    not done within ALPHA_SHARE of the time left (or at a stop): then (None, -inf, stats)."""
    if ctx.time_limit is None:
        return alpha_candidates(problem, ALPHA_K, max_iter=iters, graph=graph, stop=ctx.should_stop)
    box: dict = {}
    deadline = ctx.elapsed() + ALPHA_SHARE * max(ctx.remaining(), 0.0)

    def run() -> None:
        try:
            box["out"] = alpha_candidates(problem, ALPHA_K, max_iter=iters, graph=graph,
                                          stop=ctx.should_stop)
        except Exception as exc:  # noqa: BLE001 - raised again in the caller below
            box["error"] = exc

    worker = _background(run, daemon=True)
    while worker.is_alive() and ctx.elapsed() < deadline and not ctx.should_stop():
        worker.join(0.01)
    if "error" in box:
        raise box["error"]
    if "out" in box:
        return box["out"]
    return None, -np.inf, {"alpha_timeout": round(ctx.elapsed(), 2)}


def solve_tsp(problem: TSP, ctx: SolveContext, neighbours: int, kicks: int | None,
              candidates: str) -> tuple[np.ndarray, int, dict]:
    """α-nearness (or nearest-neighbour) candidates, a greedy-edge start, LK + Or-opt descent,
    then the ILS until the time limit or ``kicks`` kicks. Compilation counts against the limit:
    on a first call (kernels not in numba's cache) with a time limit, a compiler process warms
    them (``background``) while this one runs the numpy 2-opt + Or-opt descent on nearest +
    quadrant candidates (``_wait_for_lk``); α is used only once its kernels are cached (or for
    a limit of ALPHA_COLD_LIMIT s and more: compiled here). Returns (best tour, kicks done,
    stats)."""
    n = problem.n_nodes
    if n <= 8:
        tour = _brute_force(problem)
        ctx.record(problem.objective(tour), iteration=0, incumbent=tour)
        return tour, 0, {"candidates": "exhaustive"}
    stats: dict = {}
    cand = None
    limit = ctx.time_limit
    cold = limit is not None and not kernel_ready(L.lk_ils)
    if cold or (limit is not None and candidates == "alpha" and not alpha_ready()):
        background.start("tsp")  # LK first, then α, for this call and the next process
    use_alpha = candidates == "alpha" and (limit is None or alpha_ready() or limit >= ALPHA_COLD_LIMIT)
    graph = candidate_graph(problem)
    if use_alpha:
        iters = None
        if limit is not None:  # ascent within ASCENT_SHARE of the limit, by a 20-tree probe
            for _ in range(2):  # (the first one compiles or loads the kernel)
                t = time.perf_counter()
                A.ascent_alpha(*graph, 20, 0.01 * float(np.mean(graph[2])), ALPHA_K, True, 1.0,
                               np.zeros(n), 1.0)
                per_tree = max((time.perf_counter() - t) / 20, 1e-6)
            iters = max(20, int(ASCENT_SHARE * max(limit - ctx.elapsed(), 0.0) / per_tree))
        cand, bound, st = _alpha_within(problem, iters, graph, ctx)
        stats.update(st)
        if cand is not None:
            stats["lower_bound"] = bound
    if cand is not None:
        stats["candidates"] = "alpha"
    elif candidates == "alpha":  # α not available (a first call): nearest + quadrant neighbours
        cand, stats["candidates"] = graph_candidates(graph, COLD_K), "quadrant"
    else:
        cand, stats["candidates"] = neighbour_lists(problem, neighbours), "nearest"
    start = greedy_tour(problem, graph)
    ctx.record(problem.objective(start), iteration=0, incumbent=start)
    if cold:
        start, go_on = _wait_for_lk(problem, ctx, cand, start, stats)
        if not go_on:
            return start, 0, stats
    if ctx.should_stop():  # interrupted (or out of time) before the search
        return start, 0, stats
    lk = LKTour(problem, cand, start)
    lk.seed(int(ctx.rng.integers(2**62)))
    lk.descend()
    lk.temp = TEMP * lk.length / n
    ctx.record(lk.length, iteration=0, incumbent=lk.elite.copy())
    done = run_ils(lk, ctx, kicks)
    return lk.elite.copy(), done, stats
