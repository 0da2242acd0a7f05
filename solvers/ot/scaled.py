"""The stabilized scaling state of the numpy OT solvers and the result built from it.

P = diag(u) K diag(v) with K = exp((f0 + g0 - C)/eps) (Schmitzer 2019): K is one exponential
pass, rebuilt only when u or v leave [e^-100, e^100] (absorption f0 += eps log u), so a
Sinkhorn sweep, a Newton line-search trial and the sparsification are multiply-add passes over
K, never exponentials.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..context import SolveContext
from ..result import Result, Status
from . import _kernels as K
from ._common import Reduced, plan_status

_ABSORB = 100.0  # absorb u, v into the potentials when |log u| or |log v| exceeds this


class Scaled:
    """P = diag(u) K diag(v), K = exp((f0 + g0 - C)/eps); potentials f = f0 + eps log u."""

    def __init__(self, red: Reduced, eps: float | None = None):
        self.red = red
        self.eps = red.eps if eps is None else float(eps)
        C = red.C
        # c-transform start: f0 = row minima, g0 = column minima of C - f0.  Then every entry of
        # K is <= 1 and every row and column holds an entry equal to 1: no row or column of the
        # kernel underflows, whatever eps and the cost scale are.
        self.f0, self.g0 = K.ctransform_start(C)
        self.K = np.empty(C.shape)
        self._build()
        self.u = np.ones(C.shape[0])
        self.v = np.ones(C.shape[1])
        self.absorptions = 0
        self.P: np.ndarray | None = None  # the final plan, once a stopping test has passed
        self.r_plan = self.c_plan = np.empty(0)  # marginals of the last plan() call
        self.sample_at: tuple[np.ndarray, np.ndarray] | None = None  # see sampling.positions

    def _build(self) -> None:
        K.build_kernel(self.red.C, self.f0, self.g0, self.eps, self.K)

    def potentials(self) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore"):
            return self.f0 + self.eps * np.log(self.u), self.g0 + self.eps * np.log(self.v)

    def incumbent(self) -> Callable[[], np.ndarray]:
        """A builder of the current plan on the full grid, for ``ctx.record``: the potentials
        are copied now (O(m + n)), the plan is built only if a callback or a salvage asks."""
        f, g = self.potentials()
        red, eps = self.red, self.eps
        return lambda: red.plan_of(f, g, eps)

    def absorb(self, eps: float | None = None) -> None:
        """f0 += eps log u, g0 += eps log v, u = v = 1, rebuild K (one exponential pass),
        optionally for a new regularization ``eps`` (eps-scaling warm start)."""
        self.f0, self.g0 = self.potentials()
        if eps is not None:
            self.eps = float(eps)
        self.u = np.ones_like(self.u)
        self.v = np.ones_like(self.v)
        self._build()
        self.absorptions += 1

    def needs_absorb(self) -> bool:
        lo, hi = np.exp(-_ABSORB), np.exp(_ABSORB)
        return bool(min(self.u.min(), self.v.min()) < lo or max(self.u.max(), self.v.max()) > hi)

    def scalings_ok(self) -> bool:
        """u and v finite and positive (else a kernel row or column underflowed)."""
        return bool(np.all(np.isfinite(self.u)) and np.all(np.isfinite(self.v))
                    and self.u.min() > 0 and self.v.min() > 0)

    def log_sweep(self) -> None:
        """One exact log-domain Sinkhorn sweep (numba log-sum-exp) from the current potentials,
        then rebuild K: the fallback when the scaled kernel has an all-zero row or column."""
        red = self.red
        f, g = self.potentials()
        f = np.where(np.isfinite(f), f, self.f0)
        g = np.where(np.isfinite(g), g, self.g0)
        K.update_f(red.C, g, np.log(red.a), self.eps, f)
        K.update_g(red.C, f, np.log(red.b), self.eps, g)
        self.f0, self.g0 = f, g
        self.u = np.ones_like(self.u)
        self.v = np.ones_like(self.v)
        self._build()
        self.absorptions += 1

    def marginals(self, u: np.ndarray | None = None,
                  v: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Row and column sums of diag(u) K diag(v) (the current scalings by default)."""
        u = self.u if u is None else u
        v = self.v if v is None else v
        r = np.empty(u.size)
        c = np.empty(v.size)
        K.scaled_marginals(self.K, u, v, r, c)
        return r, c

    def plan(self) -> np.ndarray:
        P = np.empty(self.K.shape)
        self.r_plan, self.c_plan = np.empty(P.shape[0]), np.empty(P.shape[1])
        K.scaled_plan(self.K, self.u, self.v, P, self.r_plan, self.c_plan)
        return P


def plan_error(st: Scaled, a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """||P1 - a||_1 + ||P^T 1 - b||_1 of the plan just built by ``st.plan()`` (its row and column
    sums come with the same pass; they match numpy's P.sum to rounding)."""
    r, c = st.r_plan, st.c_plan
    return float(np.abs(r - a).sum() + np.abs(c - b).sum()), r, c


def accept_plan(st: Scaled, a: np.ndarray, b: np.ndarray, tol: float) -> tuple[bool, float]:
    """Build the plan of the current scalings and measure its L1 marginal error; keep it as
    ``st.P`` and return ``(True, error)`` when it meets ``tol``, else ``(False, error)``. The
    stages call this once their cheap error estimate falls under their inner tolerance."""
    P = st.plan()
    err, _, _ = plan_error(st, a, b)
    if err <= tol:
        st.P = P
        return True, err
    return False, err


def sweeps_so_far(stats: dict) -> int:
    """Every pass counted as one iteration (the paper's headline metric, Fig. 1-3): Sinkhorn
    sweeps (stage 1, fallback phases, safeguard sweeps), Newton steps, and the Sinkhorn sweeps
    fused after Newton steps far from the optimum."""
    return stats["sinkhorn_iterations"] + stats["newton_iterations"] + stats.get("newton_sweeps", 0)


def pack(red: Reduced, ctx: SolveContext, st: Scaled, stats: dict,
         status: Status | None = None) -> Result:
    """Plan (``st.P`` when a stopping test passed, else the current one), objective
    <C,P> + eps sum P(log P - 1), potentials, final error; the status follows the stop reason
    and the returned plan's error (``status`` where the loop ended without a reason).

    With log P_ij = (f_i + g_j - C_ij)/eps the objective is sum_ij P_ij (f_i + g_j - eps)
    = f^T P1 + g^T P^T1 - eps sum P: O(m + n) once the plan's marginals are known."""
    P = st.plan() if st.P is None else st.P
    err, r, c = plan_error(st, red.a, red.b)
    f, g = st.potentials()
    with np.errstate(invalid="ignore"):
        obj = float(np.where(r > 0, f * r, 0.0).sum() + np.where(c > 0, g * c, 0.0).sum()
                    - red.eps * r.sum())
    Pf, ff, gf = red.embed(P, f, g)
    stats = dict(stats, potentials=(ff, gf), marginal_error=err, absorptions=st.absorptions)
    its = sweeps_so_far(stats)
    return ctx.result(solution=Pf, objective=obj, status=plan_status(ctx, err, stats["tol"]) or status,
                      iterations=its, stats=stats)
