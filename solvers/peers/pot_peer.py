"""POT (Flamary et al.) entropic optimal transport: ``ot.sinkhorn`` with ``method=`` passed through
(our option ``variant``: ``method`` is ``solve``'s own argument).

POT's Sinkhorn has no time limit and no callback, so it is run in slices: at most
``numItermax`` sweeps at a time, each slice warm-started from the last one's scalings. The
first slice is sized from the plan's size (about 0.05 s), the next ones from the measured time
per sweep to fill ``SLICE`` (0.25 s) or the time left, so a run takes a few slices. Inside a
slice POT stops itself with its own test (``stopThr``: the L2 norm of the column-marginal error,
checked every 10th sweep), set to ``tol`` over the ratio of our L1 error to that L2 norm
(measured at each slice's end), so a slice ends as soon as the plan is converged. Between
slices the L1 marginal error ``||P1 - a||_1 + ||P^T1 - b||_1`` of POT's plan is recorded
(history label "marginal error", as our OT methods) and the stopping criteria are asked, so
time limits, Ctrl-C and a callback's stop take effect within one slice. The run converges when
the plan's marginal error is at most ``tol``; ``iterations`` counts the sweeps POT ran.
The objective is the problem's regularized primal value of the plan.
``sinkhorn`` (POT's ``sinkhorn_knopp``) underflows for small ``reg``: the result then says so
(status ``error``); ``sinkhorn_log`` (the default) and ``sinkhorn_stabilized`` do not.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from problems import OptimalTransport

from ..context import SolveContext
from ..result import Result, Status
from ..stop import StopReason
from ._common import next_slice, peer_info

METHODS = ("sinkhorn_log", "sinkhorn", "sinkhorn_stabilized")


def _warm(method: str, log: dict, reg: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The next slice's ``warmstart`` from POT's log (None when the scalings broke down)."""
    with np.errstate(divide="ignore"):
        if method == "sinkhorn":
            warm = (np.log(log["u"]), np.log(log["v"]))
        elif method == "sinkhorn_log":
            warm = (log["log_u"], log["log_v"])
        else:
            warm = log.get("warmstart") or (reg * log["logu"], reg * log["logv"])
    if not (np.all(np.isfinite(warm[0])) and np.all(np.isfinite(warm[1]))):
        return None
    return warm


#: seconds per sweep and plan entry assumed before one is measured (a loaded machine's pace):
#: POT's ``sinkhorn_log`` takes two logsumexps a sweep, the others two products with the kernel
_SWEEP_COST = {"sinkhorn_log": 1e-7, "sinkhorn": 5e-9, "sinkhorn_stabilized": 1e-8}
#: seconds the first slice aims at (later ones: ``SLICE``, from the measured pace)
_FIRST = 0.05


def _sweeps(log: dict, steps: int) -> int:
    """The sweeps POT ran in a slice of at most ``steps`` (its log keeps the last index)."""
    last = log.get("niter", log.get("n_iter"))
    return steps if last is None else min(int(last) + 1, steps)


def solve_pot(problem: OptimalTransport, ctx: SolveContext, *, variant: str, tol: float,
              max_iter: int | None) -> Result:
    """POT's Sinkhorn ``variant`` (its ``method=``) in warm-started slices until the marginal
    error is <= ``tol``, ``max_iter`` sweeps in all, the time limit or a stop request."""
    import ot

    method = variant
    a, b, C, reg = problem.a, problem.b, problem.C, problem.reg
    warm, plan, err = None, None, np.inf
    ratio = 0.5 * np.sqrt(len(b))  # our L1 error over POT's L2 column error (measured after a slice)
    chunk = int(np.clip(_FIRST / (_SWEEP_COST[method] * C.size), 1, 10_000))
    done, slices = 0, 0
    message = ""
    for _ in ctx.iterations(None):
        if max_iter is not None and done >= max_iter:
            ctx.reason = StopReason.ITERATION_LIMIT
            break
        steps = chunk if max_iter is None else min(chunk, max_iter - done)
        t0 = time.perf_counter()
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            P, log = ot.sinkhorn(a, b, C, reg, method=method, numItermax=steps, stopThr=0.9 * tol / ratio,
                                 log=True, warn=False, warmstart=warm)
        dt = time.perf_counter() - t0
        ran = _sweeps(log, steps)
        done += ran
        slices += 1
        P = np.asarray(P, dtype=np.float64)
        if not np.all(np.isfinite(P)):
            message = f"POT's {method} broke down (non-finite plan; reg too small for it?): " \
                      "try method='sinkhorn_log'"
            break
        col = P.sum(0) - b
        plan, err = P, float(np.abs(P.sum(1) - a).sum() + np.abs(col).sum())  # problem.marginal_error
        ctx.record(err, iteration=done, incumbent=plan)
        if err <= tol:
            ctx.converged()
            break
        l2 = float(np.linalg.norm(col))
        if l2 > 0:
            ratio = max(1.0, err / l2)
        warm = _warm(method, log, reg)
        if warm is None:
            message = f"POT's {method} scalings broke down: try method='sinkhorn_log'"
            break
        chunk = next_slice(ctx, ran, dt)
    stats: dict[str, Any] = {"peer": peer_info("ot", "POT"), "method": method, "slices": slices,
                             "marginal_error": err if plan is not None else None}
    if plan is None:
        status = Status.ERROR if message else ctx.stop_status(Status.ERROR)
        return ctx.result(status=status, iterations=done, stats=stats,
                          message=message or "stopped before POT returned a plan")
    status = Status.CONVERGED if err <= tol else (Status.ERROR if message else None)
    return ctx.result(solution=plan, objective=problem.objective(plan), status=status, iterations=done,
                      stats=stats, message=message)
