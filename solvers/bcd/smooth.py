"""Block coordinate descent for the smooth learning problems: the one loop.

Nutini, Laradji & Schmidt, "Let's Make Block Coordinate Descent Converge Faster" (2022). The
loop combines a partition (:mod:`solvers.bcd.partitions`), a selection rule
(:mod:`solvers.bcd.rules`) and a block update (:mod:`solvers.bcd.updates`). The linear
predictor Z = A X is kept current by residual updates (one block update costs O(n |b| k)); the
full gradient is only formed by greedy rules and the stopping test ||∇f||_inf <= tol (each
iteration for greedy rules, each sweep otherwise). ``max_iter`` counts block updates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from problems import LeastSquares, SoftmaxRegression

from ..context import SolveContext
from ..result import Result
from .model import LinearModel
from .partitions import block_order, column_forests, fixed_blocks
from .rules import RULES, Selection, gsd_diagonal, offdiag_bound
from .updates import UPDATES, BlockSetup, take_step

ONE_BLOCK_MAX = 640  # one block of every coordinate while the Newton system (p k variables) is this small
GREEDY_BLOCK = 16  # block size when a rule or a partition is named without one


def default_block(problem: Any) -> int:
    """Default block size (measured, benchmarks/bcd.py on load_digits): while the Newton system
    of all p k variables is small (<= 640), one variable block of every coordinate (the τ = p end
    of the paper's variable blocks: a damped Newton method, 5-6 iterations on digits, 50-300x
    faster than 16-coordinate blocks); otherwise blocks of 16 coordinates — used when a partition
    or an update is given; with neither, larger problems also take one block with the Hessian-free
    Newton step (:func:`large_one_block`)."""
    p = problem.A.shape[1]
    k = problem.n_classes if isinstance(problem, SoftmaxRegression) else 1
    return p if p * k <= ONE_BLOCK_MAX else 16


def large_one_block(problem: Any) -> bool:
    """Default for problems too large for the explicit one-block Newton step (p k > 640; measured,
    benchmarks/bcd.py 'sparse' cases and the paper's dense designs at 1000x2000): still one block of
    every coordinate, with the Hessian-free Newton step and a Jacobi preconditioner. Sparse ridge /
    logistic 1000x2000: 0.012 s / 0.008 s, against 0.20 s / 0.07 s for forest blocks with message
    passing and 6.0 s / 1.0 s for fixed blocks of 16 (GSQ / Newton, the former default); dense
    logistic 1000x2000: 0.26-0.46 s against 15-38 s for fixed blocks of 16."""
    return default_block(problem) != problem.A.shape[1]


def default_update(problem: Any, block_size: int | None) -> str:
    """Default update (measured side by side, benchmarks/bcd.py on load_digits, time to relative
    suboptimality 1e-6): with the default one-block partition, logistic and softmax take the
    Hessian-free Newton step ``newton-cg`` (softmax: 0.085-0.11 s against 1.15 s for the explicit
    640 x 640 block Hessian, whose k(k+1)/2 weighted Grams dominate, and 0.22 s for scikit-learn's
    newton-cg; logistic: 1.2-1.6x faster than the explicit 64 x 64 Newton step at tol 1e-1 / 1e-2,
    equal at tight tol); least squares keeps the explicit Newton step (one exact solve); smaller
    blocks keep ``newton``."""
    one_block = block_size is None and default_block(problem) == problem.A.shape[1]
    return "newton-cg" if one_block and not isinstance(problem, LeastSquares) else "newton"


def resolve_defaults(problem: Any, rule: str | None, update: str | None, block_size: int | None,
                     partition: str | None) -> tuple[str, str, int, str]:
    """The options left at None, chosen for this instance (see the functions above). With none
    of ``rule``, ``partition``, ``block_size`` given, the run is one block of every coordinate
    (damped Newton, the fastest default measured; no selection rule runs); naming a ``rule`` or a
    ``partition`` asks for block coordinate descent proper, on blocks of :data:`GREEDY_BLOCK`."""
    p = problem.A.shape[1]
    greedy = rule is not None or partition is not None
    if not greedy and block_size is None and update is None and large_one_block(problem):
        block_size, update = p, "newton-cg"
    forest = partition == "forest"
    given = block_size
    if block_size is None:
        block_size = min(GREEDY_BLOCK, p) if greedy else default_block(problem)
    rule = rule or ("gs" if forest else "gsq")
    update = update or ("newton" if forest else default_update(problem, None if given is None and not greedy
                                                               else block_size))
    return rule, update, int(block_size), partition or "fixed"


def _check_forest(problem: Any, rule: str, update: str) -> None:
    if isinstance(problem, SoftmaxRegression) or not UPDATES[update].forest or not RULES[rule].forest:
        ok_rules = "/".join(r.name for r in RULES.values() if r.forest)
        ok_updates = "/".join(repr(u.name) for u in UPDATES.values() if u.forest)
        raise ValueError(f"partition='forest' needs least squares or logistic regression, "
                         f"update={ok_updates} (solved by message passing) and rule {ok_rules}")


def solve_smooth_bcd(problem: Any, ctx: SolveContext, *, tol: float, max_iter: int | None, rule: str | None,
                     update: str | None, block_size: int | None, partition: str | None) -> Result:
    """BCD on fixed, variable or forest blocks (paper §3, §5); stops when ||∇f||_inf <= tol.

    ``partition``: "fixed" (index order), "sorted" (coordinates sorted by L_i, then chunked),
    "random" (a seeded random partition), "variable" (a new block of ``block_size`` coordinates
    each iteration: the top scores for greedy rules, a sample for random / Lipschitz) or "forest"
    (greedy forest blocks of the column graph of AᵀA, Newton steps by message passing; least
    squares / logistic with the newton update and a rule that allows forests; ``block_size``
    unused). ``rule``: :data:`solvers.bcd.rules.RULES`; ``update``:
    :data:`solvers.bcd.updates.UPDATES`. None: chosen per instance (:func:`resolve_defaults`).

    Defaults: with no rule, partition or block size given the run is one block of all
    coordinates — a damped (or Hessian-free, ``newton-cg``) Newton method, the fastest default
    measured (benchmarks/bcd.py) — and ``stats`` says so (``rule`` None, ``n_blocks`` 1, ``ran``).
    Greedy BCD is one option away: ``rule="gsq"`` (fixed blocks of 16) or, the paper's best
    corner (§3-4), ``rule="gsq", partition="variable", update="matrix"``.
    """
    rule, update, block_size, partition = resolve_defaults(problem, rule, update, block_size, partition)
    forest = partition == "forest"
    variable = partition == "variable"
    if forest:
        _check_forest(problem, rule, update)
    select, upd = RULES[rule], UPDATES[update]
    model = LinearModel(problem)
    A = problem.A
    if forest and sp.issparse(A):
        A = sp.csc_matrix(A)  # column slices of the blocks
    n, p = A.shape
    k = model.k
    c, l2 = model.c, model.l2
    sq_cols = np.asarray(A.multiply(A).sum(axis=0)).ravel() if sp.issparse(A) else np.einsum("ij,ij->j", A, A)
    coord_l = np.maximum(c * sq_cols + l2, 1e-300)  # coordinate Lipschitz constants L_i
    tau = min(block_size, p)
    nb = -(-p // block_size)
    setup = BlockSetup(A, model, update, forest=forest, diagonal="diagonal" in select.needs,
                       minv=upd.minv or ("quadratic" in select.needs and not variable and nb > 1))
    sel = Selection(rng=ctx.rng, nb=nb)
    if variable:
        sel.tau, sel.p, sel.coord_l, sel.A, sel.c, sel.l2 = tau, p, coord_l, A, c, l2
        if "probs" in select.needs:
            sel.probs = coord_l / coord_l.sum()
        if ("diagonal" in select.needs or "quadratic" in select.needs) and tau < p:
            sel.coord_d = gsd_diagonal(coord_l, offdiag_bound(A, c), tau)
    else:
        # (forest blocks draw the random order too: the seeded stream stays that of earlier releases)
        order = block_order(partition, coord_l, ctx.rng)
        blocks, parents = column_forests(A) if forest else (fixed_blocks(order, block_size), None)
        data = []
        for i, b in enumerate(blocks):
            if ctx.should_stop():  # the setup alone can outlast a short time limit
                zero = np.zeros((p, k)) if isinstance(problem, SoftmaxRegression) else np.zeros(p)
                return ctx.result(solution=zero, objective=problem.objective(zero), iterations=0,
                                  message="stopped during the block setup")
            data.append(setup(b, None if parents is None else parents[i]))
        nb = sel.nb = len(blocks)
        _fixed_selection(sel, select.needs, blocks, data, p, k)
    X = np.zeros((p, k))
    Z = np.zeros((n, k))
    f, R = model.loss_and_dZ(Z)  # loss (without the l2 term) and d loss / dZ, kept current
    it = 0
    gnorm = np.inf
    n_hv = 0
    max_cg = 10 * tau * k  # most Hessian-vector products per newton-cg step
    G = np.zeros((p, k))

    def solution() -> np.ndarray:
        return (X if isinstance(problem, SoftmaxRegression) else X[:, 0]).copy()

    for _ in ctx.iterations(max_iter):
        fresh = select.greedy or sel.pos % nb == 0  # G = ∇f at the current X this iteration
        if fresh:
            G = sel.G = np.asarray(A.T @ R) + l2 * X
            gnorm = float(np.max(np.abs(G))) if G.size else 0.0
            if gnorm <= tol:
                ctx.converged()
                break
        if variable:
            b = select.coords(sel)
            blk = setup(b)
        else:
            bi = 0 if nb == 1 else select.block(sel)
            b, blk = blocks[bi], data[bi]
        sel.pos += 1
        # block gradient: a slice of G when G is current, else by the residual R = dloss/dZ
        gb = (G[b] if fresh else blk.cols.T @ R + l2 * X[b]).ravel()
        if upd.line_search and ctx.should_stop():  # a Newton step can take long
            break
        d, used = upd.direction(model, blk, Z, R, gb, max_cg)
        n_hv += used
        D, Znew, lnew, Rnew, fnew = take_step(model, blk, X[b], Z, f, gb, d, upd.line_search)
        if fnew <= f + 1e-12 * max(1.0, abs(f)):
            X[b] += D
            Z = Znew
            f, R = lnew, Rnew
        it += 1
        ctx.record(f + 0.5 * l2 * float(np.sum(X * X)), iteration=it, incumbent=solution)
    sol = X if isinstance(problem, SoftmaxRegression) else X[:, 0]
    one = nb == 1 or (variable and tau >= p)  # one block of every coordinate: no rule selects anything
    size = "forest" if forest else tau
    ran = (f"{update} on one block of all {p} coordinates" if one else
           f"{rule} rule, {partition} blocks of {size} coordinates, {update} update")
    return ctx.result(solution=sol, objective=problem.objective(sol), iterations=it,
                      stats={"grad_norm": gnorm, "n_blocks": 1 if one else nb,
                             "block_size": p if one else tau,
                             "rule": None if one else rule, "update": update,
                             "partition": "one block" if one else partition, "ran": ran,
                             "hessian_vector_products": n_hv})


def _fixed_selection(sel: Selection, needs: tuple[str, ...], blocks: list[np.ndarray], data: list,
                     p: int, k: int) -> None:
    """The fixed blocks' tables a rule reads: the padded (nb, width) index table (pad = the dummy
    zero row p) for vectorized greedy scores, L_b, and what ``needs`` asks for."""
    nb = len(blocks)
    sel.lips = np.array([blk.lip for blk in data])
    width = max(b.size for b in blocks)
    sel.pad = np.full((nb, width), p, dtype=np.int64)
    for i, b in enumerate(blocks):
        sel.pad[i, :b.size] = b
    if "diagonal" in needs:
        sel.dpad = np.ones((nb, width))
        for i, blk in enumerate(data):
            sel.dpad[i, :blk.diag.size] = blk.diag
    if "quadratic" in needs and nb > 1:
        mk = width * k
        sel.mpad = np.zeros((nb, mk, mk))
        for i, blk in enumerate(data):
            m = blk.minv.shape[0]
            sel.mpad[i, :m, :m] = blk.minv
    if "probs" in needs:
        sel.probs = sel.lips / sel.lips.sum()
