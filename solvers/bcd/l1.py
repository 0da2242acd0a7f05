"""The L1 entry of ``bcd`` (Lasso, L1-logistic): one target, two algorithms.

- ``update=None`` (default): the greedy working-set prox-CD of :mod:`solvers.bcd.greedy_cd`
  (GS-s working sets, prox-Newton model solves for L1-logistic; the fast path, on par with skglm);
- ``update="prox-gradient"`` / ``"prox-newton"``: the paper's proximal greedy BCD with variable
  blocks, rules GS-s / GS-r / GS-q, and the Newton phase on the identified support
  (:mod:`solvers.bcd.prox_bcd`, Nutini, Laradji & Schmidt 2022, §6).
"""

from __future__ import annotations

from problems import L1LogisticRegression, Lasso

from ..context import SolveContext
from ..result import Result
from .greedy_cd import solve_l1_cd
from .prox_bcd import solve_prox_bcd

WS_RULES = ("gs", "cyclic")  # the working-set path's rules ("gs" is GS-s)
PROX_RULES = ("gs", "gs-s", "gs-r", "gs-q", "cyclic")  # the proximal BCD path's


def solve_l1(problem: Lasso | L1LogisticRegression, ctx: SolveContext, *, tol: float, max_iter: int | None,
             rule: str, update: str | None, block_size: int | None, inner_epochs: int, ws_start: int,
             ws_grow: float, newton_gram_max: int, anderson: bool) -> Result:
    """Working-set prox-CD (``update`` None) or proximal greedy BCD (``update`` given)."""
    if update is None:
        if rule not in WS_RULES:
            raise ValueError(f"rule={rule!r} needs a block update (update='prox-gradient' or 'prox-newton'); "
                             f"the working-set path takes rule in {WS_RULES}")
        if block_size is not None:
            raise ValueError("block_size applies to the proximal BCD path (give update=...)")
        return solve_l1_cd(problem, ctx, tol=tol, max_iter=max_iter, rule=rule, inner_epochs=inner_epochs,
                           ws_start=ws_start, ws_grow=ws_grow, newton_gram_max=newton_gram_max,
                           anderson=anderson)
    return solve_prox_bcd(problem, ctx, tol=tol, max_iter=max_iter, rule=rule, update=update,
                          block_size=block_size)
