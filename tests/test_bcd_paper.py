"""The paper's orderings on its own design (Nutini, Laradji & Schmidt 2022, §7 / appendix F.1:
sparse N(1, 1) entries, columns scaled by 10 |N(0, 1)|, benchmarks/bcd.py:paper_data), in
suboptimality after an equal number of iterations, for least squares and logistic regression:
fixed blocks with gradient updates GSL < GS < cyclic / random (§2, Fig. 2), variable blocks with
matrix updates GSQ <= GSD <= GSL <= GS (§3, Fig. 4); GSD / GSQ are distinct rules. Reduced size
(200 x 1000, blocks of 5, l2 = 1, 150 iterations = 0.75 passes); the measured exceptions are
recorded in benchmarks/results/bcd.md."""

from __future__ import annotations

import numpy as np
import pytest

from problems import LeastSquares, LogisticRegression
from solvers import solve

ITERS = 150


@pytest.fixture(scope="module", params=["ls", "logistic"])
def paper(request: pytest.FixtureRequest) -> tuple[str, object, float]:
    from benchmarks.bcd import paper_data

    A, t = paper_data(request.param, 200, 1000, seed=1)
    if request.param == "ls":
        pb = LeastSquares(A, t, l2=1.0)
        fstar = pb.objective(np.linalg.solve(A.T @ A + np.eye(1000), A.T @ t))
    else:
        pb = LogisticRegression(A, t, l2=1.0)
        fstar = solve(pb, "lbfgs", tol=1e-10).objective
    return request.param, pb, fstar


def _sub(pb: object, fstar: float, rule: str, partition: str, update: str) -> float:
    r = solve(pb, "bcd", rule=rule, partition=partition, update=update, block_size=5, max_iter=ITERS,
              tol=1e-300, seed=0)
    assert r.iterations == ITERS and r.stats["rule"] == rule
    return r.objective - fstar


@pytest.mark.slow
def test_fixed_blocks_gsl_gs_cyclic_random(paper: tuple) -> None:
    _, pb, fstar = paper
    s = {r: _sub(pb, fstar, r, "fixed", "gradient") for r in ("gsl", "gs", "cyclic", "random")}
    assert s["gsl"] < s["gs"] < min(s["cyclic"], s["random"]), s


@pytest.mark.slow
def test_variable_blocks_gsq_gsd_gsl_gs(paper: tuple) -> None:
    kind, pb, fstar = paper
    s = {r: _sub(pb, fstar, r, "variable", "matrix") for r in ("gsq", "gsd", "gsl", "gs")}
    # GSQ <= GSD up to a tie (measured within 0.1 % on least squares, where both reach the same
    # plateau; GSQ's per-iteration bound progress is at least GSD's by construction)
    assert s["gsq"] <= s["gsd"] * 1.02 and s["gsl"] < s["gs"], s
    if kind == "ls":
        assert s["gsd"] < s["gsl"], s
    else:  # measured: GSD's bound D_i = L_i + (τ-1) μ_i is loose on this design (see bcd.md)
        assert s["gsd"] < 1.1 * s["gsl"], s
    assert s["gsq"] <= s["gsl"], s


def test_gsd_gsq_differ_from_gsl_on_variable_blocks() -> None:
    """The issue-26 regression: GSD and GSQ with variable blocks returned the iterates of GSL."""
    from benchmarks.bcd import paper_data

    A, t = paper_data("ls", 60, 200, seed=3)
    pb = LeastSquares(A, t, l2=1.0)
    sols = {r: solve(pb, "bcd", rule=r, partition="variable", update="matrix", block_size=5, max_iter=40,
                     tol=1e-300).solution for r in ("gsl", "gsd", "gsq")}
    assert not np.allclose(sols["gsd"], sols["gsl"]) and not np.allclose(sols["gsq"], sols["gsl"])
    assert not np.allclose(sols["gsq"], sols["gsd"])


def test_gsq_block_makes_at_least_gsd_and_gs_progress() -> None:
    """GSQ's IHT search starts from the GSD and GS blocks and keeps the best exact score."""
    from benchmarks.bcd import paper_data
    from solvers.bcd.rules import gsd_diagonal, iht_block, offdiag_bound, quadratic_progress, top

    A, t = paper_data("ls", 60, 200, seed=4)
    G = (A.T @ (A @ np.random.default_rng(0).standard_normal(200) * 0.01 - t))[:, None]
    cl = np.einsum("ij,ij->j", A, A) + 1.0
    D = gsd_diagonal(cl, offdiag_bound(A, 1.0), 5)
    g2 = G[:, 0] ** 2
    q = quadratic_progress(A, G, iht_block(G, A, D, 1.0, 1.0, 5), 1.0, 1.0)[0]
    for b in (top(g2 / D, 5), top(g2, 5), top(g2 / cl, 5)):
        assert q >= quadratic_progress(A, G, b, 1.0, 1.0)[0] * (1 - 1e-12)


def test_defaults_report_what_ran() -> None:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((50, 20))
    pb = LeastSquares(A, rng.standard_normal(50))
    r = solve(pb, "bcd")
    assert r.stats["rule"] is None and r.stats["n_blocks"] == 1 and r.stats["block_size"] == 20
    assert r.stats["update"] == "newton" and "one block" in r.stats["ran"]
    g = solve(pb, "bcd", rule="gsq")  # greedy BCD is one option away
    assert g.stats["rule"] == "gsq" and g.stats["n_blocks"] > 1 and g.stats["block_size"] == 16
    from solvers import show_options

    text = show_options("bcd", "LeastSquares")
    assert "gsq" in text and "one block" in text
