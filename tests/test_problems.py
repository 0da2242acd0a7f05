"""Problem classes: validation errors, objectives and file round trips."""

from __future__ import annotations

import gzip

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
    read_instance,
)
from problems.generate import GENERATORS, generate

from .conftest import INSTANCES


# ----------------------------------------------------------------------------- routing
def test_tsp_objective_uses_tsplib_rounding():
    tsp = TSP.from_file(INSTANCES / "berlin52.tsp")
    assert tsp.edge_weight_type == "EUC_2D"
    tour = np.arange(52)
    d = np.sqrt(((tsp.coords - np.roll(tsp.coords, -1, axis=0)) ** 2).sum(1))
    assert tsp.objective(tour) == np.floor(d + 0.5).sum()
    assert tsp.objective(tour) > 7542  # the optimum


def test_att_and_ceil_conventions():
    coords = np.array([[0.0, 0.0], [3.0, 4.1], [10.0, 0.0]])
    att = TSP(coords, edge_weight_type="ATT")
    r = np.sqrt(3.0**2 + 4.1**2) / np.sqrt(10.0)
    t = np.floor(r + 0.5)
    assert att.pair_lengths([0], [1])[0] == (t + 1 if t < r else t)
    ceil = TSP(coords, edge_weight_type="CEIL_2D")
    assert ceil.pair_lengths([0], [1])[0] == np.ceil(np.hypot(3.0, 4.1))


def test_geo_distance_is_integral_and_positive():
    tsp = TSP(np.array([[38.24, 20.42], [39.57, 26.15], [40.56, 25.32]]), edge_weight_type="GEO")
    d = tsp.pair_lengths([0, 1], [1, 2])
    assert np.all(d == np.floor(d)) and np.all(d > 0)


@pytest.mark.parametrize("ext", [".tsp", ".tsp.gz"])
def test_tsp_round_trip(tmp_path, ext):
    tsp = TSP.random(30, seed=1)
    path = tmp_path / f"x{ext}"
    tsp.to_file(path)
    back = read_instance(path)
    assert isinstance(back, TSP)
    np.testing.assert_allclose(back.coords, tsp.coords)
    tour = np.random.default_rng(0).permutation(30)
    assert back.objective(tour) == pytest.approx(tsp.objective(tour), rel=1e-12)


EXPLICIT_TSP = """NAME : tiny
TYPE : TSP
DIMENSION : 4
EDGE_WEIGHT_TYPE : EXPLICIT
EDGE_WEIGHT_FORMAT : FULL_MATRIX
EDGE_WEIGHT_SECTION
0 1 2 3
1 0 4 5
2 4 0 6
3 5 6 0
EOF
"""


def test_explicit_tsp(tmp_path):
    path = tmp_path / "tiny.tsp"
    path.write_text(EXPLICIT_TSP)
    tsp = read_instance(path)
    assert tsp.edge_weight_type == "EXPLICIT"
    assert tsp.objective([0, 1, 2, 3]) == 1 + 4 + 6 + 3
    tsp.to_file(tmp_path / "back.tsp")
    assert read_instance(tmp_path / "back.tsp").objective([0, 2, 1, 3]) == 2 + 4 + 5 + 3


def test_cvrp_round_trip_and_feasibility(tmp_path):
    cvrp = CVRP.random(20, seed=2)
    cvrp.to_file(tmp_path / "c.vrp")
    back = read_instance(tmp_path / "c.vrp")
    np.testing.assert_allclose(back.demands, cvrp.demands)
    assert back.capacity == cvrp.capacity
    routes = [[i] for i in range(1, 21)]
    assert back.is_feasible(routes)
    assert back.objective(routes) == pytest.approx(
        sum(2 * np.linalg.norm(cvrp.coords[i] - cvrp.coords[0]) for i in range(1, 21)))
    assert not back.is_feasible([list(range(1, 21))])  # 20 customers exceed capacity 30


def test_cvrplib_file_reads():
    cvrp = CVRP.from_file(INSTANCES / "X-n101-k25.vrp")
    assert cvrp.n_customers == 100 and cvrp.capacity == 206
    assert cvrp.edge_weight_type == "EUC_2D"


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: TSP(np.array([[0.0, 0.0], [1.0, np.nan], [2.0, 2.0]])), "NaN"),
        (lambda: TSP(np.zeros((2, 2))), "at least 3"),
        (lambda: TSP(np.zeros((5, 3))), "shape"),
        (lambda: CVRP(np.random.rand(4, 2), [0, 1, 2, 50], 10), "above the vehicle capacity"),
        (lambda: CVRP(np.random.rand(4, 2), [0, 1, 2, 3], -5), "positive"),
        (lambda: CVRP(np.random.rand(4, 2), [1, 1, 2, 3], 10), "depot"),
        (lambda: CVRP(np.random.rand(4, 2), [0, 1, 2], 10), "entries"),
    ],
)
def test_routing_bad_input(make, match):
    with pytest.raises(InvalidProblemError, match=match):
        make()


def test_duplicate_coordinates_are_fine():
    tsp = TSP(np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]))
    assert tsp.objective([0, 1, 2]) == pytest.approx(2 * np.sqrt(2))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "NAME: x\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 1 1\nEOF\n",
        "NAME: x\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 a b\n3 1 1\nEOF\n",
        "NAME: x\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: MAN_3D\nNODE_COORD_SECTION\n1 0 0\n2 1 1\n3 2 2\nEOF\n",
        "NAME: x\nTYPE: TSP\nDIMENSION: banana\n",
    ],
)
def test_malformed_tsp_files(tmp_path, text):
    path = tmp_path / "bad.tsp"
    path.write_text(text)
    with pytest.raises(InvalidProblemError):
        read_instance(path)


# ----------------------------------------------------------------------------- MIP
def test_mip_reads_lp_and_gzip_mps(tmp_path):
    lp = MIP.from_file(INSTANCES / "knapsack30.lp")
    assert lp.maximize and lp.size == 30
    mps = MIP.from_file(INSTANCES / "facility8x20.mps.gz")
    assert not mps.maximize
    zero = {name: 0.0 for name in mps.data.names}
    assert mps.objective(zero) == 0.0
    assert not mps.is_feasible(zero)  # every customer must be served
    mps.to_file(tmp_path / "f.lp")
    assert MIP.from_file(tmp_path / "f.lp").size == mps.size


def test_mip_feasibility_check_on_a_known_solution():
    lp = MIP.from_file(INSTANCES / "knapsack30.lp")
    model = lp.create_model()
    model.optimize()
    sol = {v.name: model.getVal(v) for v in model.getVars()}
    assert lp.is_feasible(sol)
    assert lp.objective(sol) == pytest.approx(466)
    sol[lp.data.names[0]] = 0.5
    assert not lp.is_feasible(sol)


@pytest.mark.parametrize("content", [b"", b"NAME x\nROWS\n N obj\n L c1\nCOLUMNS\n    x c1 notanumber\n",
                                     b"\x00\x01\x02garbage"])
def test_malformed_mps(tmp_path, content):
    path = tmp_path / "bad.mps"
    path.write_bytes(content)
    with pytest.raises(InvalidProblemError):
        MIP.from_file(path)


def test_truncated_gzip_mps(tmp_path):
    data = (INSTANCES / "facility8x20.mps.gz").read_bytes()
    path = tmp_path / "cut.mps.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidProblemError):
        MIP.from_file(path)


# ----------------------------------------------------------------------------- OT
def test_ot_validation_and_round_trip(tmp_path):
    ot = OptimalTransport.random(10, seed=0, m=7)
    ot.to_file(tmp_path / "o.npz")
    back = read_instance(tmp_path / "o.npz")
    np.testing.assert_array_equal(back.C, ot.C)
    assert back.reg == ot.reg
    a, b, C = ot.a, ot.b, ot.C
    with pytest.raises(InvalidProblemError, match="negative"):
        OptimalTransport(-a, b, C, 0.1)
    with pytest.raises(InvalidProblemError, match="sum to 1"):
        OptimalTransport(a * 2, b, C, 0.1)
    with pytest.raises(InvalidProblemError, match="reg"):
        OptimalTransport(a, b, C, 0.0)
    bad = C.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InvalidProblemError, match="NaN"):
        OptimalTransport(a, b, bad, 0.1)
    with pytest.raises(InvalidProblemError, match="shape"):
        OptimalTransport(a, b, C.T, 0.1)


def test_ot_primal_dual_agree_at_the_sinkhorn_fixed_point():
    ot = OptimalTransport.random(12, seed=3, reg=0.2)
    f, g = np.zeros(12), np.zeros(12)
    for _ in range(3000):
        f = -ot.reg * np.log(np.exp((g[None, :] - ot.C) / ot.reg).sum(1)) + ot.reg * np.log(ot.a)
        g = -ot.reg * np.log(np.exp((f[:, None] - ot.C) / ot.reg).sum(0)) + ot.reg * np.log(ot.b)
    P = np.exp((f[:, None] + g[None, :] - ot.C) / ot.reg)
    assert ot.marginal_error(P) < 1e-10
    assert ot.objective(P) == pytest.approx(ot.dual_objective(f, g), rel=1e-9)


def test_ot_builders():
    rng = np.random.default_rng(0)
    ot = OptimalTransport.from_point_clouds(rng.random((5, 2)), rng.random((6, 2)), 0.1)
    assert ot.shape == (5, 6) and ot.C.max() == pytest.approx(1.0)
    img = rng.random((4, 4))
    ot2 = OptimalTransport.from_images(img, img[::-1], 0.1, ground="l1")
    assert ot2.shape == (16, 16)
    with pytest.raises(InvalidProblemError):
        OptimalTransport.from_images(img, rng.random((3, 3)), 0.1)


# ----------------------------------------------------------------------------- linear
def test_poisson_matrix_is_spd_and_pockets_removed():
    mask = np.ones((10, 10), dtype=bool)
    mask[3:7, 3] = mask[3:7, 6] = mask[3, 3:7] = mask[6, 3:7] = False  # a closed box
    L = LinearSystem.poisson((10, 10), mask)
    assert not L.grid.mask[4:6, 4:6].any()  # the enclosed pocket became solid
    assert np.linalg.eigvalsh(L.A.toarray()).min() > 0
    assert L.size == 100 - 12 - 4


def test_poisson_3d_and_coefficients():
    coeff = np.exp(np.random.default_rng(0).standard_normal((4, 5, 6)))
    L = LinearSystem.poisson((4, 5, 6), coeff=coeff)
    assert L.size == 120
    assert np.linalg.eigvalsh(L.A.toarray()).min() > 0


def test_linear_round_trips(tmp_path):
    L = read_instance(INSTANCES / "poisson48_obstacle.npz")
    L.to_file(tmp_path / "p.npz")
    back = read_instance(tmp_path / "p.npz")
    assert abs(back.A - L.A).max() == 0 and np.array_equal(back.b, L.b)
    plain = LinearSystem(sp.csr_matrix(L.A), L.b)
    plain.to_file(tmp_path / "q.npz")
    plain.to_file(tmp_path / "q.mtx")
    for f in ("q.npz", "q.mtx"):
        other = read_instance(tmp_path / f)
        assert abs(other.A - L.A).max() < 1e-12
        np.testing.assert_allclose(other.b, L.b)
    assert not list(tmp_path.glob(".tmp-*"))  # atomic writes leave no temporaries


def test_linear_bad_input():
    A = sp.csr_matrix(np.array([[2.0, 1.0], [0.0, 2.0]]))
    with pytest.raises(InvalidProblemError, match="symmetric"):
        LinearSystem(A, [1.0, 1.0])
    with pytest.raises(InvalidProblemError, match="positive definite"):
        LinearSystem(sp.csr_matrix(np.array([[-1.0, 0.0], [0.0, 1.0]])), [1.0, 1.0])
    with pytest.raises(InvalidProblemError, match="entries"):
        LinearSystem(sp.identity(3), [1.0, 1.0])
    with pytest.raises(InvalidProblemError, match="square"):
        LinearSystem(sp.csr_matrix(np.ones((2, 3))), [1.0, 1.0])
    with pytest.raises(InvalidProblemError, match="NaN"):
        LinearSystem(sp.identity(2), [np.nan, 1.0])


# ----------------------------------------------------------------------------- DAG
def test_dag_csv_round_trip_and_score(tmp_path):
    dag = read_instance(INSTANCES / "sem6.csv")
    assert dag.true_graph is not None and dag.n_nodes == 6 and dag.loss == "l2"
    W = dag.true_graph
    R = dag.X - dag.X @ W
    assert dag.objective(W) == pytest.approx(0.5 / dag.n_samples * np.sum(R * R))
    cyclic = np.zeros((6, 6))
    cyclic[0, 1] = cyclic[1, 0] = 1.0
    with pytest.raises(ValueError, match="cycle"):
        dag.objective(cyclic)
    dag.to_file(tmp_path / "d.csv")
    back = read_instance(tmp_path / "d.csv")
    np.testing.assert_allclose(back.X, dag.X)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: DAGLearning(np.ones((1, 3))), "2 samples"),
        (lambda: DAGLearning(np.c_[np.random.rand(10, 2), np.ones(10)]), "constant"),
        (lambda: DAGLearning(np.random.rand(10, 3), loss="logistic"), "binary"),
        (lambda: DAGLearning(np.full((10, 3), np.nan)), "NaN"),
        (lambda: DAGLearning(np.random.rand(10, 3), loss="l1"), "loss"),
    ],
)
def test_dag_bad_input(make, match):
    with pytest.raises(InvalidProblemError, match=match):
        make()


def test_dag_csv_with_text(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(InvalidProblemError, match="non-numeric"):
        read_instance(path)


# ----------------------------------------------------------------------------- learning
def _design(seed=0, n=30, p=8):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, p)), rng


@pytest.mark.parametrize("sparse", [False, True])
def test_learning_round_trips(tmp_path, sparse):
    A, rng = _design()
    A = sp.csc_matrix(A) if sparse else A
    y = np.where(rng.random(30) > 0.5, 1.0, -1.0)
    probs = [
        LeastSquares(A, rng.standard_normal(30), l2=0.5),
        LogisticRegression(A, y, l2=1.0),
        SoftmaxRegression(A, rng.integers(0, 3, 30)),
        Lasso(A, rng.standard_normal(30), alpha=0.1),
        L1LogisticRegression(A, y, alpha=0.05),
    ]
    x = rng.standard_normal(8)
    for k, prob in enumerate(probs):
        path = tmp_path / f"p{k}.npz"
        prob.to_file(path)
        back = read_instance(path)
        assert type(back) is type(prob)
        sol = rng.standard_normal((8, 3)) if isinstance(prob, SoftmaxRegression) else x
        assert back.objective(sol) == pytest.approx(prob.objective(sol), rel=1e-12)


def test_svmlight_dispatch(tmp_path):
    from sklearn.datasets import dump_svmlight_file

    A, rng = _design()
    dump_svmlight_file(A, np.where(rng.random(30) > 0.5, 1, -1), str(tmp_path / "b.svm"))
    dump_svmlight_file(A, rng.integers(0, 4, 30), str(tmp_path / "m.svm"))
    dump_svmlight_file(A, rng.standard_normal(30), str(tmp_path / "r.svm"))
    assert isinstance(read_instance(tmp_path / "b.svm"), LogisticRegression)
    assert isinstance(read_instance(tmp_path / "m.svm"), SoftmaxRegression)
    assert isinstance(read_instance(tmp_path / "r.svm"), LeastSquares)
    (tmp_path / "bad.svm").write_text("1 1:0.5 2:abc\n")
    with pytest.raises(InvalidProblemError):
        read_instance(tmp_path / "bad.svm")


def test_lasso_alpha_max_and_duality_gap():
    A, rng = _design(1)
    b = rng.standard_normal(30)
    amax = Lasso(A, b, alpha=1.0).alpha_max()
    lasso = Lasso(A, b, alpha=amax / 10)
    big = Lasso(A, b, alpha=amax * 1.0001)
    assert big.duality_gap(np.zeros(8)) == pytest.approx(0.0, abs=1e-12)
    assert lasso.duality_gap(np.zeros(8)) > 0


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda A, r: LeastSquares(A, np.ones(29)), "entries"),
        (lambda A, r: LogisticRegression(A, np.arange(30.0)), "-1 or \\+1"),
        (lambda A, r: Lasso(A, np.ones(30), alpha=-1), ">= 0"),
        (lambda A, r: Lasso(np.where(A > 1, np.nan, A), np.ones(30), alpha=1), "NaN"),
        (lambda A, r: SoftmaxRegression(A, np.full(30, 0.5)), "integers"),
        (lambda A, r: LeastSquares(A[0], np.ones(8)), "2-dimensional"),
    ],
)
def test_learning_bad_input(make, match):
    A, rng = _design()
    with pytest.raises(InvalidProblemError, match=match):
        make(A, rng)


def test_label_propagation_validation():
    lp = LabelPropagation.lattice(5, n_labelled=3, seed=1)
    assert lp.size == 25
    W = sp.block_diag([lp.W, lp.W]).tocsr()
    labels = np.concatenate([lp.labels, -np.ones(25, dtype=int)])
    with pytest.raises(InvalidProblemError, match="components without any labelled node"):
        LabelPropagation(W, labels)
    assert LabelPropagation(W, labels, reg=0.1).size == 50
    with pytest.raises(InvalidProblemError, match="no labelled"):
        LabelPropagation(lp.W, -np.ones(25))
    with pytest.raises(InvalidProblemError, match="symmetric"):
        LabelPropagation(sp.triu(lp.W).tocsr(), lp.labels)


# ----------------------------------------------------------------------------- generic
@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_generators_are_seeded(kind, tmp_path):
    a = generate(kind, 6, seed=5)
    b = generate(kind, 6, seed=5)
    ext = {"tsp": ".tsp", "cvrp": ".vrp", "dag": ".csv"}.get(kind, ".npz")
    a.to_file(tmp_path / f"a{ext}")
    b.to_file(tmp_path / f"b{ext}")
    back_a, back_b = read_instance(tmp_path / f"a{ext}"), read_instance(tmp_path / f"b{ext}")
    assert type(back_a) is type(a)
    assert repr(back_a) == repr(back_b)
    if ext != ".npz":
        assert (tmp_path / f"a{ext}").read_bytes() == (tmp_path / f"b{ext}").read_bytes()
    c = generate(kind, 6, seed=6)
    c.to_file(tmp_path / f"c{ext}")
    if ext != ".npz":
        assert (tmp_path / f"a{ext}").read_bytes() != (tmp_path / f"c{ext}").read_bytes()


def test_unknown_extension_and_missing_file(tmp_path):
    (tmp_path / "x.foo").write_text("hello")
    with pytest.raises(InvalidProblemError, match="unknown file type"):
        read_instance(tmp_path / "x.foo")
    with pytest.raises(InvalidProblemError, match="no such file"):
        read_instance(tmp_path / "missing.tsp")
    (tmp_path / "nokind.npz").write_bytes(b"PK\x03\x04junk")
    with pytest.raises(InvalidProblemError):
        read_instance(tmp_path / "nokind.npz")


def test_gzip_tsp_reads(tmp_path):
    src = (INSTANCES / "berlin52.tsp").read_bytes()
    with gzip.open(tmp_path / "b.tsp.gz", "wb") as fh:
        fh.write(src)
    assert read_instance(tmp_path / "b.tsp.gz").n_nodes == 52
