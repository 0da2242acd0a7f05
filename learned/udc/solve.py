"""``udc``: divide (learned heatmap or random insertion) - conquer (segment
2-opt/Or-opt with fixed ends) - reunion (cut points shifted by n/2, then at random), Zheng et
al. NeurIPS 2024, Alg. 1 / §4.1-4.3; then (``polish``) iterated local search with the time left.

Registered in ``solvers/routing/__init__.py`` by its path (``learned.udc.solve:solve_udc``).
The stages live in :mod:`learned.udc.divide` and :mod:`learned.udc.conquer`.  ``starts``
solutions are divided and each one conquered + reunited (the paper's x_K sampling); the best
goes on.  CVRP: the conquer improves groups of about ``segment`` customers (routes adjacent by
polar angle) with the capacity-aware granular search; the polish is the ruin-and-recreate ILS
of ``local-search``.  ``stats["stages"]`` = the objective after divide, conquer and polish.
"""

from __future__ import annotations

import numpy as np

from problems import CVRP, TSP
from solvers.context import SolveContext
from solvers.result import Result
from solvers.routing.local_search import (
    TourImprover,
    cvrp_cost,
    cvrp_ils,
    cvrp_neighbours,
    neighbour_lists,
)

from .conquer import dcr_cvrp, dcr_tsp, reunion_offsets
from .divide import divide


def network(problem: TSP | CVRP, weights):
    """The divider: shipped weights (None), the seeded initial network (``"untrained"``) or a
    weights file (a clear ``ValueError`` if it is not one for this problem type)."""
    from . import model as M

    kind = "cvrp" if isinstance(problem, CVRP) else "tsp"
    if isinstance(weights, str) and weights == "untrained":
        return M.untrained(kind).to(M.device())
    return M.load(kind, path=weights).to(M.device())


#: what UDC's compiler process runs on a first call (``solvers.routing.background``)
_WARM = ("from problems import CVRP, TSP; from solvers import solve; import numpy as np; "
         "solve(TSP(np.random.default_rng(1).random((300, 2)), edge_weight_type='EUC'), 'udc', "
         "starts=1, polish=False, seed=0); solve(CVRP.random(60, seed=1), 'udc', starts=1, kicks=5, seed=0)")


def _cold_call(problem: TSP | CVRP, ctx: SolveContext, kicks: int | None) -> Result | None:
    """A first call with a time limit while UDC's kernels are not in numba's cache (compiling
    them here would overrun the limit: 30-45 s on a loaded machine): a compiler process warms
    them for the next call, and this one is ``local-search``'s first call (its own compile-free
    fallback and compiler process). None when warm."""
    from solvers.routing import background

    from . import _conquer_kernels as CQ
    from . import _insertion_kernels as IK

    if ctx.time_limit is None:
        return None
    kernels = [IK.random_insertion_kernel, CQ.conquer_pass]
    if isinstance(problem, CVRP):
        from solvers.routing.local_search import _SEARCH_KERNELS

        kernels += _SEARCH_KERNELS
    if all(background.ready(k) for k in kernels):
        return None
    background.register("udc", _WARM)
    if not background.start("udc"):
        return None  # no writable cache: compile here
    from solvers.routing import LOCAL_SEARCH_OPTIONS
    from solvers.routing.local_search import solve_local_search

    defaults = {o.name: o.default for o in LOCAL_SEARCH_OPTIONS}  # local-search's own defaults
    result = solve_local_search(problem, ctx, **dict(defaults, kicks=kicks))
    result.stats["cold_start"] = "local-search"
    return result


def solve_udc(problem: TSP | CVRP, ctx: SolveContext, *, start: str, weights, starts: int,
              segment: int, rounds: int, polish: bool, refresh: int | None,
              kicks: int | None) -> Result:
    """Divide ``starts`` solutions, conquer + reunite each (``rounds`` passes at
    :func:`reunion_offsets`), keep the best, then ILS polish with the remaining time (or
    ``kicks`` kicks / ruin-and-recreate rounds; 20 n without a time limit, as ``local-search``).
    ``refresh``: heatmap recomputed every ``refresh`` construction steps on the unvisited nodes
    (None or 0: one heatmap, as trained).  A first call with a time limit whose kernels are not
    compiled yet runs as ``local-search``'s first call (:func:`_cold_call`)."""
    cold = _cold_call(problem, ctx, kicks)
    if cold is not None:
        return cold
    if kicks is None and ctx.time_limit is None:
        kicks = 20 * problem.n_nodes
    rng = ctx.rng
    cvrp = isinstance(problem, CVRP)
    net = None
    if start == "learned" and problem.coords is not None and problem.distance_code != 5:
        from . import model  # noqa: F401  - imports torch: seconds on a cold start, not interruptible

        if ctx.should_stop():  # asked to stop meanwhile: the cheap start, no network
            start = "random-insertion"
        else:
            net = network(problem, weights)
    sols, how = divide(problem, start, starts, rng, net, refresh or 0, ctx.should_stop)
    improver = TourImprover(problem, neighbour_lists(problem, 10))
    offsets = reunion_offsets(segment, rounds, rng)
    divided = [problem.objective([r.tolist() for r in s]) if cvrp else improver.length(s) for s in sols]
    L0 = float(min(divided))
    ctx.record(L0, iteration=0, incumbent=(lambda s=sols[int(np.argmin(divided))]: s))
    neigh = cvrp_neighbours(problem) if cvrp else None
    best, best_len, done = None, np.inf, 0
    for i in ctx.iterations():
        if i >= len(sols):
            break
        if cvrp:
            state = dcr_cvrp(problem, improver, sols[i], neigh, segment, offsets, ctx, rng)
            length = cvrp_cost(state, improver, best=True)
        else:
            state = dcr_tsp(sols[i], improver, segment, offsets, ctx.should_stop,
                            seed=int(rng.integers(2**31)))
            length = improver.length(state)
        done += 1
        if length < best_len:
            best, best_len = state, length
            ctx.record(length, iteration=done,
                       incumbent=best.solution if cvrp else (lambda t=best: t))
    if best is None:  # stopped before the first conquer: the best divided solution
        j = int(np.argmin(divided))
        best = dcr_cvrp(problem, improver, sols[j], neigh, segment, offsets[:0], ctx, rng) if cvrp \
            else sols[j]
    L1 = float(problem.objective(best.solution()) if cvrp else improver.length(best))
    done_kicks = 0
    if polish and not ctx.should_stop():
        if cvrp:
            done_kicks = cvrp_ils(problem, improver, best, neigh, ctx, kicks, rng)
        else:
            best = improver.descend(best.copy())
            best, done_kicks = improver.iterate(best, ctx, kicks, rng)
    if ctx.reason is None:  # every start, round and kick ran
        ctx.finished()
    solution = best.solution() if cvrp else best
    obj = problem.objective(solution)
    stats = {"start": how, "stages": {"divide": L0, "conquer": L1, "polish": float(obj)},
             "divided": L0, "conquered": L1, "kicks": done_kicks, "offsets": offsets.tolist(),
             "starts": len(sols)}
    if cvrp:
        stats["routes"] = len(solution)
    return ctx.result(solution=solution, objective=obj, iterations=done, stats=stats)
