"""The SNS phase driver (Tang et al. 2024, Alg. 1), shared by the dense solver
(``newton_sparse.solve_sns``) and the online point-cloud solver (``points.sns_points``): stage 1
(n1 sweeps, or the adaptive probe), Newton, back to twice as many warm-started sweeps after a
stalled Newton phase, once through the eps ladder.  The two solvers differ only in their sweep
and Newton steps, passed in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..context import SolveContext
from .sweeps import MIN_SWEEPS, PROBE_AT, finishes_within, sweep_rate


def alternate(st: Any, ctx: SolveContext, *, tol: float, n1: int | None, switch_after: float,
              eps_scaling: float, stats: dict, sweeps: Callable[..., str],
              newton: Callable[[float | None], str], eps_ladder: Callable[..., None],
              gate: Callable[[], bool] | None = None) -> str:
    """Run the phases on the state ``st``; returns why the solve ended ("converged", a limit...).

    ``sweeps(st, ctx, tol, cap, stats, switch_after=, min_sweeps=, errs=)``: a Sinkhorn phase of
    at most ``cap`` sweeps (None: to the end); ``newton(probe)``: a Newton phase ("retreat" when
    the probing step lost to the sweeps' rate ``probe``, "stalled", "slow": Newton gains less
    per pass than the sweeps, so Sinkhorn to the end); ``gate()``: whether Newton may run at all
    (False: Sinkhorn to the end); ``eps_ladder(st, ctx, factor, stats)``: the warm start through
    larger regularizations, once, after the first stall."""
    phase = MIN_SWEEPS  # sweeps before the next switch; doubles after every stalled phase
    probe = n1 is None
    cap, switch = (PROBE_AT if probe else max(n1, 1)), None  # stage 1: exactly cap sweeps
    while True:
        errs: list[float] = []
        reason = sweeps(st, ctx, tol, cap, stats, switch_after=switch, min_sweeps=min(phase, cap),
                        errs=errs)
        if reason not in ("switch", "limit"):
            break
        if probe and finishes_within(errs, tol, MIN_SWEEPS - PROBE_AT):  # the sweeps finish first
            probe, cap = False, MIN_SWEEPS - PROBE_AT
            continue
        if gate is not None and not gate():
            reason = sweeps(st, ctx, tol, None, stats)
            break
        stats["newton_phases"] = stats.get("newton_phases", 0) + 1
        if stats["newton_phases"] == 1 or "stage1_retreat" in stats and stats["newton_phases"] == 2:
            stats["stage1_sweeps"] = stats["sinkhorn_iterations"]  # before the first kept step
        reason = newton(sweep_rate(errs) if probe else None)
        probe = False
        if reason == "retreat":  # the probing step lost to the sweeps: the rest of N1 = 20
            stats["stage1_retreat"] = True
            cap, switch = MIN_SWEEPS - PROBE_AT, None
            continue
        if reason == "slow":
            stats["newton_slow"] = True
            reason = sweeps(st, ctx, tol, None, stats)
            break
        if reason != "stalled":
            break
        stats["newton_stalled"] = stats.get("newton_stalled", 0) + 1
        phase *= 2
        if eps_scaling > 1 and "eps_ladder" not in stats:
            eps_ladder(st, ctx, eps_scaling, stats)
            phase = MIN_SWEEPS
        # after the ladder (phase back at N1) a stage-1 length again, as the first phase's
        cap = (MIN_SWEEPS if n1 is None else max(n1, 1)) if phase == MIN_SWEEPS else max(n1 or 0, phase)
        switch = switch_after
    if reason == "converged":
        ctx.converged()
    return reason
