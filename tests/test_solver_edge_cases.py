"""Reliability, per solver: edge-case and malformed problems for every registered method (issue 8).

Each case is built with the public constructors. A malformed one must be refused at construction
with ``InvalidProblemError``; a well-formed edge case (one city, zero-mass bins, a singular
matrix, separable data, an infeasible MIP, ...) is given to every method that accepts it. The
method must either raise a clear error of ours (``InvalidProblemError`` / ``ValueError`` raised
from optbox code, not from deep inside numpy) or return a ``Result`` whose status is right and
whose solution, when it has one, is finite and feasible. Counts per method are printed in the
test summary (see conftest).
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from problems import (
    CVRP,
    MIP,
    TSP,
    DAGLearning,
    InvalidProblemError,
    L1LogisticRegression,
    LabelPropagation,
    Lasso,
    LeastSquares,
    LinearSystem,
    LogisticRegression,
    OptimalTransport,
    SoftmaxRegression,
)
from solvers import Status, available_methods, solve

#: edge cases given to each method, and malformed cases refused per problem class
TRIED_SOLVER: Counter[str] = Counter()
REFUSED: Counter[str] = Counter()

OUR_CODE = tuple(str(Path(__file__).resolve().parent.parent / d) for d in ("problems", "solvers", "learned"))
RNG = np.random.default_rng(0)


def _lp(text: str) -> MIP:
    return MIP(text.encode(), ".lp", name="edge")


def _indefinite(n: int) -> sp.csr_matrix:
    """Symmetric, positive diagonal, eigenvalues of both signs: passes the cheap SPD checks."""
    M = RNG.normal(size=(n, n))
    return sp.csr_matrix(M + M.T + 0.5 * np.eye(n) + np.diag(np.abs(np.diag(M + M.T))))


def _uniform(n: int) -> np.ndarray:
    return np.full(n, 1.0 / n)


# ------------------------------------------------------------------------------------------ cases
#: (name, factory, expected status or None): well-formed edge cases
EDGE_CASES: list[tuple[str, Callable[[], object], Status | None]] = [
    ("tsp three cities", lambda: TSP([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), None),
    ("tsp all cities at one point", lambda: TSP(np.zeros((12, 2))), None),
    ("tsp collinear", lambda: TSP(np.c_[np.arange(25.0), np.zeros(25)]), None),
    ("tsp huge coordinates", lambda: TSP(RNG.random((30, 2)) * 1e9), None),
    ("cvrp one customer", lambda: CVRP([[0.0, 0.0], [1.0, 1.0]], [0, 3], 10), None),
    ("cvrp demands equal capacity", lambda: CVRP(RNG.random((8, 2)), [0] + [5] * 7, 5), None),
    ("cvrp zero demands", lambda: CVRP(RNG.random((10, 2)), [0] * 10, 1), None),
    ("cvrp customer at the depot", lambda: CVRP([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]], [0, 1, 1], 1), None),
    ("ot 1x1", lambda: OptimalTransport([1.0], [1.0], [[0.3]], 0.1), None),
    ("ot zero-mass bins", lambda: OptimalTransport([0.5, 0.0, 0.5], [0.0, 0.25, 0.75],
                                                   RNG.random((3, 3)), 0.05), None),
    ("ot reg 1e-4", lambda: OptimalTransport(_uniform(40), _uniform(40), RNG.random((40, 40)), 1e-4), None),
    ("ot reg 1e4", lambda: OptimalTransport(_uniform(30), _uniform(30), RNG.random((30, 30)), 1e4), None),
    ("ot constant cost", lambda: OptimalTransport(_uniform(20), _uniform(20), np.ones((20, 20)), 0.01), None),
    ("ot rectangular 1x50", lambda: OptimalTransport([1.0], _uniform(50), RNG.random((1, 50)), 0.01), None),
    ("ot huge cost scale", lambda: OptimalTransport(_uniform(25), _uniform(25),
                                                    RNG.random((25, 25)) * 1e6, 1e-2), None),
    ("dag one variable", lambda: DAGLearning(RNG.normal(size=(50, 1))), None),
    ("dag duplicate columns", lambda: DAGLearning(np.repeat(RNG.normal(size=(60, 2)), 2, axis=1)), None),
    ("dag two samples", lambda: DAGLearning(RNG.normal(size=(2, 4))), None),
    ("dag column scale 1e6", lambda: DAGLearning(RNG.normal(size=(100, 4)) * [1, 1, 1, 1e6]), None),
    ("linear 1x1", lambda: LinearSystem(sp.csr_matrix([[4.0]]), [2.0]), None),
    ("linear zero rhs", lambda: LinearSystem.poisson((8, 8), rhs=np.zeros(64)), None),
    ("linear singular consistent", lambda: LinearSystem(sp.csr_matrix([[1.0, 1.0], [1.0, 1.0]]), [1.0, 1.0]),
     None),
    ("linear singular inconsistent", lambda: LinearSystem(sp.csr_matrix([[1.0, 1.0], [1.0, 1.0]]),
                                                          [1.0, -1.0]), None),
    ("linear indefinite, positive diagonal", lambda: LinearSystem(sp.csr_matrix([[1.0, 2.0], [2.0, 1.0]]),
                                                                  [1.0, 0.0]), None),
    ("linear indefinite 60x60", lambda: LinearSystem(_indefinite(60), np.ones(60)), None),
    ("linear tiny poisson", lambda: LinearSystem.poisson((2, 2)), None),
    ("lasso one sample", lambda: Lasso(RNG.normal(size=(1, 5)), [1.0], 0.01), None),
    ("lasso one feature", lambda: Lasso(RNG.normal(size=(30, 1)), RNG.normal(size=30), 0.01), None),
    ("lasso alpha above alpha_max", lambda: Lasso(RNG.normal(size=(30, 8)), RNG.normal(size=30), 1e6), None),
    ("lasso zero column", lambda: Lasso(np.c_[RNG.normal(size=(30, 4)), np.zeros(30)],
                                        RNG.normal(size=30), 0.01), None),
    ("lasso zero target", lambda: Lasso(RNG.normal(size=(30, 6)), np.zeros(30), 0.01), None),
    ("lasso tiny alpha", lambda: Lasso(RNG.normal(size=(40, 6)), RNG.normal(size=40), 1e-12), None),
    ("lasso sparse empty design", lambda: Lasso(sp.csc_matrix((20, 5)), RNG.normal(size=20), 0.1), None),
    ("l1-logistic one class", lambda: L1LogisticRegression(RNG.normal(size=(30, 4)), np.ones(30), 0.01), None),
    ("least squares rank deficient", lambda: LeastSquares(np.repeat(RNG.normal(size=(30, 3)), 2, axis=1),
                                                          RNG.normal(size=30)), None),
    ("least squares 1x1", lambda: LeastSquares([[2.0]], [4.0]), None),
    ("logistic separable", lambda: LogisticRegression(np.r_[np.ones((10, 2)), -np.ones((10, 2))],
                                                      np.r_[np.ones(10), -np.ones(10)]), None),
    ("softmax one class present", lambda: SoftmaxRegression(RNG.normal(size=(20, 3)), np.zeros(20),
                                                            n_classes=3, l2=1e-2), None),
    ("label propagation disconnected", lambda: LabelPropagation(
        sp.block_diag([sp.csr_matrix(np.ones((3, 3)) - np.eye(3))] * 2).tocsr(), [0, -1, -1, -1, -1, 1]),
     None),
    ("label propagation all labelled", lambda: LabelPropagation(
        sp.csr_matrix(np.ones((4, 4)) - np.eye(4)), [0, 1, 0, 1]), None),
    ("mip infeasible", lambda: _lp("Minimize\n obj: x + y\nSubject To\n c1: x + y >= 3\n"
                                   "Bounds\n 0 <= x <= 1\n 0 <= y <= 1\nGenerals\n x y\nEnd\n"),
     Status.INFEASIBLE),
    ("mip unbounded", lambda: _lp("Maximize\n obj: x + y\nSubject To\n c1: x - y <= 3\n"
                                  "Bounds\n x >= 0\n y >= 0\nGenerals\n x y\nEnd\n"), Status.UNBOUNDED),
    ("mip no constraints", lambda: _lp("Minimize\n obj: 2 x - y\nBounds\n 0 <= x <= 4\n 0 <= y <= 5\n"
                                       "Generals\n x y\nEnd\n"), Status.OPTIMAL),
    ("mip continuous only", lambda: _lp("Maximize\n obj: x + 2 y\nSubject To\n c1: x + y <= 4\n"
                                        "Bounds\n 0 <= x <= 3\n 0 <= y <= 3\nEnd\n"), Status.OPTIMAL),
]

#: (problem class, factory) that must be refused at construction
MALFORMED: list[tuple[str, Callable[[], object]]] = [
    ("TSP", lambda: TSP([[0.0, np.nan], [1.0, 1.0]])),
    ("TSP", lambda: TSP([[0.0, np.inf], [1.0, 1.0]])),
    ("TSP", lambda: TSP(np.zeros((5, 3)))),
    ("TSP", lambda: TSP(np.zeros((0, 2)))),
    ("TSP", lambda: TSP([[0.0, 0.0]])),
    ("TSP", lambda: TSP([[0.0, 0.0], [3.0, 4.0]])),
    ("TSP", lambda: TSP([["a", "b"]])),
    ("CVRP", lambda: CVRP([[0.0, 0.0], [1.0, 1.0]], [0, 11], 10)),
    ("CVRP", lambda: CVRP([[0.0, 0.0], [1.0, 1.0]], [0, -1], 10)),
    ("CVRP", lambda: CVRP([[0.0, 0.0], [1.0, 1.0]], [0, 1], 0)),
    ("CVRP", lambda: CVRP([[0.0, 0.0], [1.0, 1.0]], [0, 1, 2], 10)),
    ("CVRP", lambda: CVRP([[0.0, 0.0], [np.nan, 1.0]], [0, 1], 10)),
    ("OptimalTransport", lambda: OptimalTransport([0.5, 0.5], [0.5, 0.5], [[0, np.nan], [1, 0]], 0.1)),
    ("OptimalTransport", lambda: OptimalTransport([0.5, 0.5], [0.5, 0.5], [[0, np.inf], [1, 0]], 0.1)),
    ("OptimalTransport", lambda: OptimalTransport([1.5, -0.5], [0.5, 0.5], np.ones((2, 2)), 0.1)),
    ("OptimalTransport", lambda: OptimalTransport([0.5, 0.5], [0.2, 0.2], np.ones((2, 2)), 0.1)),
    ("OptimalTransport", lambda: OptimalTransport([0.5, 0.5], [0.5, 0.5], np.ones((2, 2)), 0.0)),
    ("OptimalTransport", lambda: OptimalTransport([0.5, 0.5], [0.5, 0.5], np.ones((2, 2)), -1.0)),
    ("OptimalTransport", lambda: OptimalTransport([0.5, 0.5], [0.5, 0.5], np.ones((3, 2)), 0.1)),
    ("DAGLearning", lambda: DAGLearning(np.full((10, 3), np.nan))),
    ("DAGLearning", lambda: DAGLearning(np.zeros((0, 3)))),
    ("DAGLearning", lambda: DAGLearning(np.c_[RNG.normal(size=(80, 3)), np.ones(80)])),
    ("DAGLearning", lambda: DAGLearning(RNG.normal(size=(10, 3)), loss="hinge")),
    ("LinearSystem", lambda: LinearSystem(sp.csr_matrix([[1.0, 2.0], [0.0, 1.0]]), [1.0, 1.0])),
    ("LinearSystem", lambda: LinearSystem(sp.csr_matrix([[1.0, 0.0], [0.0, -1.0]]), [1.0, 1.0])),
    ("LinearSystem", lambda: LinearSystem(sp.eye(3).tocsr(), [1.0, np.nan, 0.0])),
    ("LinearSystem", lambda: LinearSystem(sp.eye(3).tocsr(), [1.0, 2.0])),
    ("LinearSystem", lambda: LinearSystem(sp.csr_matrix((0, 0)), [])),
    ("Lasso", lambda: Lasso(np.full((5, 2), np.nan), np.ones(5), 0.1)),
    ("Lasso", lambda: Lasso(np.ones((5, 2)), np.ones(4), 0.1)),
    ("Lasso", lambda: Lasso(np.ones((5, 2)), np.ones(5), -0.1)),
    ("L1LogisticRegression", lambda: L1LogisticRegression(np.ones((4, 2)), [0, 1, 2, 3], 0.1)),
    ("LogisticRegression", lambda: LogisticRegression(np.ones((4, 2)), [1, -1, 1, np.inf])),
    ("SoftmaxRegression", lambda: SoftmaxRegression(np.ones((4, 2)), [0, 1, -2, 1])),
    ("LeastSquares", lambda: LeastSquares(np.ones((4, 2)), np.ones((4, 2)))),
    ("LabelPropagation", lambda: LabelPropagation(sp.csr_matrix(np.ones((3, 3))), [-1, -1, -1])),
    ("LabelPropagation", lambda: LabelPropagation(sp.csr_matrix([[0.0, 1.0], [2.0, 0.0]]), [0, -1])),
    ("LabelPropagation", lambda: LabelPropagation(sp.csr_matrix([[0.0, -1.0], [-1.0, 0.0]]), [0, -1])),
    ("MIP", lambda: _lp("Minimize\n obj: x +\nSubject To\n c1: x >= \nEnd\n")),
    ("MIP", lambda: MIP(b"", ".lp")),
]


@pytest.mark.parametrize("name,factory", MALFORMED, ids=[f"{c}-{k}" for k, (c, _) in enumerate(MALFORMED)])
def test_malformed_problem_is_refused_at_construction(name, factory):
    REFUSED[name] += 1
    with pytest.raises(InvalidProblemError) as info:
        factory()
    assert str(info.value), "the error must say what is wrong"


#: (case, method) where a peer refuses a whole model class by design, with a clear error
REFUSED_BY_DESIGN = {("mip continuous only", "cpsat")}


def _cases() -> list[tuple[str, str, Callable[[], object], Status | None]]:
    rows = []
    for case, factory, expected in EDGE_CASES:
        try:
            methods = available_methods(factory())
        except Exception:  # reported by the test below, which builds it again
            methods = ["construct"]
        rows.extend((case, method, factory, expected) for method in methods)
    return rows


def _raised_by_us(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(OUR_CODE)


def _check_solution(problem: object, result) -> None:
    sol = result.solution
    if isinstance(problem, TSP):
        assert sorted(int(i) for i in sol) == list(range(len(problem.coords))), "a tour visits every city once"
    elif isinstance(problem, CVRP):
        visited = sorted(int(c) for route in sol for c in route)
        assert visited == list(range(1, len(problem.coords))), "every customer served once"
        for route in sol:
            assert problem.demands[list(route)].sum() <= problem.capacity
    elif isinstance(problem, LinearSystem):
        assert np.all(np.isfinite(sol))
        if result.status in (Status.CONVERGED, Status.OPTIMAL):
            assert problem.objective(sol) <= 1e-4, "a converged solve has a small residual"
    elif isinstance(sol, dict):
        assert all(np.isfinite(v) for v in sol.values())
    else:
        arr = sol.toarray() if sp.issparse(sol) else np.asarray(sol, dtype=float)
        assert np.all(np.isfinite(arr)), "no NaN/inf in a returned solution"
    assert result.objective is None or np.isfinite(result.objective)


@pytest.mark.parametrize("case,method,factory,expected", _cases(),
                         ids=[f"{c}-{m}" for c, m, _, _ in _cases()])
def test_edge_case_gives_a_clear_error_or_a_right_result(case, method, factory, expected):
    problem = factory()  # a well-formed edge case must be accepted
    TRIED_SOLVER[method] += 1
    try:
        result = solve(problem, method=method, time_limit=1.0, seed=0)
    except (InvalidProblemError, ValueError) as exc:
        assert _raised_by_us(exc), f"{type(exc).__name__} escaped from library internals: {exc}"
        assert str(exc)
        assert expected is None or (case, method) in REFUSED_BY_DESIGN, \
            f"{case}: expected status {expected}, got an error: {exc}"
        return
    assert isinstance(result.status, Status)
    if expected is not None:
        assert result.status == expected or (expected == Status.OPTIMAL and result.status.has_solution), \
            f"{case}/{method}: status {result.status} ({result.message})"
    if result.status.has_solution:
        assert result.solution is not None
        _check_solution(problem, result)
    else:
        assert result.message, "a status without a solution must say why"
