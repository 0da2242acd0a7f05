"""Sinkhorn scaling sweeps on the stabilized state (SNS stage 1, paper Alg. 1 lines 1-4; the
whole of the ``sinkhorn`` method)."""

from __future__ import annotations

import numpy as np

from ..context import SolveContext
from . import _kernels as K
from .sampling import density
from .scaled import Scaled, accept_plan, sweeps_so_far

MIN_SWEEPS = 20  # Sinkhorn sweeps before the first switch test (paper: N1 = 20)
PROBE_AT = 5  # adaptive stage 1 (n1=None): sweeps before the first, probing, Newton step
PROBE_SPAN = 3  # ... whose per-pass rate is compared with that of the last this many sweeps


def sweep_rate(errs: list[float], span: int = PROBE_SPAN) -> float:
    """Per-sweep contraction of the marginal error over the last ``span`` sweeps of ``errs``
    (the first sweep, from arbitrary scalings, is left out); 1.0 when it cannot be measured."""
    tail = errs[1:][-(span + 1):]
    if len(tail) < 2 or not (tail[0] > 0 and tail[-1] > 0):
        return 1.0
    return float((tail[-1] / tail[0]) ** (1.0 / (len(tail) - 1)))


def finishes_within(errs: list[float], tol: float, sweeps_left: int) -> bool:
    """Whether the sweeps' recent rate (:func:`sweep_rate`) brings the error of ``errs`` to
    ``tol`` within ``sweeps_left`` more sweeps (then a probing Newton step would not save
    passes: the adaptive stage 1 keeps sweeping)."""
    rate = sweep_rate(errs)
    if not errs or errs[-1] <= tol:
        return True
    return 0.0 < rate < 1.0 and np.log(tol / errs[-1]) / np.log(rate) <= sweeps_left


def sweeps(st: Scaled, ctx: SolveContext, tol: float, max_iter: int | None, stats: dict,
           switch_after: float | None = None, errs: list[float] | None = None,
           min_sweeps: int = MIN_SWEEPS) -> str:
    """Sinkhorn scaling sweeps u = a / (K v), v = b / (K^T u), at most ``max_iter`` of them
    (None: no cap), run by numba in chunks of up to 10 between the checks of ``ctx.iterations``.

    The row error sum_i |u_i (K v)_i - a_i| comes free with each u-update (the columns are
    exact after each v-update).  Returns "converged" (the error of the actual plan is <= tol:
    ``st`` then holds ``st.P``), "switch" (the observed linear rate predicts more than
    ``switch_after`` further sweeps: Newton pays), "limit" (``max_iter`` sweeps ran) or "stop"
    (a stopping criterion fired; ``ctx`` keeps the reason)."""
    red = st.red
    a, b = red.a, red.b
    errs = [] if errs is None else errs
    inner = 0.5 * tol
    dense: tuple[float, int] | None = None
    buf = np.empty(10)
    it = 0
    if max_iter is None or max_iter > 0:  # the first sweep starts from arbitrary scalings:
        r, c = st.marginals()  # count the column error too
        col = float(np.abs(c - b).sum())
    for _ in ctx.iterations():
        if max_iter is not None and it >= max_iter:
            return "limit"
        chunk = 10 - it % 10 if max_iter is None else min(10 - it % 10, max_iter - it)  # every-10 cadence
        u, v = st.u.copy(), st.v.copy()
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            done = K.scaling_sweeps(st.K, a, b, u, v, chunk, inner, buf)
        if it == 0:
            buf[0] += col
        errs.extend(buf[:done].tolist())
        err = errs[-1]
        it += done
        stats["sinkhorn_iterations"] += done
        if not np.isfinite(err) or not (np.all(np.isfinite(v)) and v.min() > 0 and u.min() > 0):
            st.log_sweep()  # a kernel row/column underflowed for these scalings
            continue
        st.u, st.v = u, v
        if err <= inner:  # (u, v) is the state whose plan has this error
            ctx.record(err, iteration=sweeps_so_far(stats),
                       incumbent=st.incumbent())
            done, e = accept_plan(st, a, b, tol)
            if done:
                return "converged"
            inner = 0.1 * min(inner, e)
            continue
        if it % 10 == 0:
            ctx.record(err, iteration=sweeps_so_far(stats),
                       incumbent=st.incumbent())
        if st.needs_absorb():
            st.absorb()
        if switch_after is not None and it >= max(min_sweeps, MIN_SWEEPS) and it % 10 == 0:
            span = min(10, len(errs) - 1)  # the rate over the last (up to) 10 sweeps
            prev = errs[-1 - span]
            rate = (err / prev) ** (1.0 / span) if prev > 0 and err > 0 else 0.0
            left = np.inf if rate >= 1.0 else (np.log(tol / err) / np.log(rate) if rate > 0 else 0.0)
            # a Newton step costs a few passes plus CG on the kept part of the plan: the denser
            # the plan (mass spread over many entries), the more sweeps Newton must save to pay
            if left > switch_after:
                if dense is None or it - dense[1] >= 50:  # a sorted sample: ~1 ms, so cached
                    dense = (density(st, err), it)
                if left > switch_after * (1.0 + 10.0 * dense[0]):
                    return "switch"
    return "stop"
