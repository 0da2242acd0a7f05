"""UDC: shipped weights load offline, training lowers the loss, conquer never lengthens a tour,
valid tours / capacity-feasible routes, seeded determinism, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from learned.udc.conquer import conquer
from learned.udc.divide import _random_insertion
from problems import CVRP, TSP, InvalidProblemError
from solvers import solve
from solvers.routing.local_search import TourImprover, neighbour_lists

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("kind", ["tsp", "cvrp"])
def test_shipped_weights_load_offline(kind, monkeypatch):
    from learned.udc import model as M

    monkeypatch.setenv("NO_PROXY", "*")
    net = M.load(kind)
    assert isinstance(net, M.Divider)
    assert sum(p.numel() for p in net.parameters()) < 250_000
    assert (M.WEIGHTS / f"udc_{kind}.pt").stat().st_size < 1_000_000


def test_training_few_steps_lowers_the_loss():
    from learned.udc.train import train

    torch.set_num_threads(1)
    _, hist = train("tsp", n=30, steps=40, batch=2, samples=6, lr=3e-3, seed=0, progress=False)
    first = np.mean([h["divided"] for h in hist[:8]])
    last = np.mean([h["divided"] for h in hist[-8:]])
    assert last < first  # the sampled (divided) tours get shorter


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_segment_conquer_never_lengthens(seed):
    rng = np.random.default_rng(seed)
    p = TSP(rng.random((300, 2)) * 1000, edge_weight_type="EUC_2D")
    imp = TourImprover(p, neighbour_lists(p, 10))
    tour = rng.permutation(300)
    before = imp.length(tour)
    for r in range(3):
        new, _ = conquer(tour.copy(), imp, 50, r * 25)
        assert sorted(new.tolist()) == list(range(300))
        assert imp.length(new) <= imp.length(tour) + 1e-9
        tour = new
    assert imp.length(tour) < before


@pytest.mark.parametrize("start", ["learned", "random-insertion"])
def test_udc_tsp_valid_and_deterministic(start):
    p = TSP.random(250, seed=3)
    a = solve(p, "udc", start=start, seed=5, polish=False)
    b = solve(p, "udc", start=start, seed=5, polish=False)
    assert sorted(a.solution.tolist()) == list(range(250))
    assert a.objective == pytest.approx(p.objective(a.solution))
    assert a.objective == b.objective
    assert a.stats["conquered"] <= a.stats["divided"] + 1e-9


def test_udc_is_default_for_large_and_close_to_local_search():
    from solvers.registry import default_method

    # defaults follow the issue and the benchmark: udc from 200 nodes, local-search below
    assert default_method(TSP.random(5000, seed=4)).name == "udc"
    assert default_method(CVRP.random(250, seed=4)).name == "udc"
    assert default_method(TSP.random(199, seed=4)).name == "local-search"
    p = TSP.random(300, seed=4)
    r = solve(p, "udc", seed=0, time_limit=2)
    ls = solve(p, "local-search", seed=0, time_limit=2)
    assert r.objective <= 1.03 * ls.objective
    assert solve(TSP.random(50, seed=0), seed=0, kicks=100).method == "local-search"


def test_udc_without_time_limit_polishes_with_a_kick_budget():
    p = TSP.random(250, seed=5)
    short = solve(p, "udc", seed=0, kicks=0)
    long = solve(p, "udc", seed=0, kicks=400)
    assert short.stats["kicks"] == 0 and long.stats["kicks"] == 400
    assert long.objective <= short.objective
    with pytest.raises(ValueError, match="kicks"):
        solve(p, "udc", kicks=-1)


def test_udc_time_limit_honoured():
    import time

    p = TSP.random(2000, seed=1)
    t = time.perf_counter()
    solve(p, "udc", seed=0, time_limit=2)
    assert time.perf_counter() - t < 2 * 1.1 + 1


@pytest.mark.parametrize("start", ["learned", "random-insertion"])
def test_udc_cvrp_routes_feasible(start):
    p = CVRP.random(200, seed=2)
    r = solve(p, "udc", start=start, seed=0, time_limit=2)
    seen = sorted(int(v) for route in r.solution for v in route)
    assert seen == list(range(1, p.n_nodes))
    assert p.is_feasible(r.solution)
    assert r.objective == pytest.approx(p.objective(r.solution))


def test_tsplib_rounding_objective():
    rng = np.random.default_rng(0)
    p = TSP(rng.random((220, 2)) * 5000, edge_weight_type="EUC_2D")
    r = solve(p, "udc", seed=0, polish=False)
    assert r.objective == float(int(r.objective))
    assert r.objective == p.objective(r.solution)


def test_random_insertion_is_a_permutation_and_reasonable():
    rng = np.random.default_rng(0)
    xy = rng.random((400, 2))
    tour = _random_insertion(xy, rng.permutation(400))
    assert sorted(tour.tolist()) == list(range(400))
    L = TSP(xy).objective(tour)
    assert L < 1.3 * 0.7124 * np.sqrt(400)


def test_bad_inputs():
    xy = np.random.default_rng(0).random((10, 2))
    xy[3] = xy[4]
    TSP(xy)  # duplicates are fine
    xy[2, 0] = np.nan
    with pytest.raises(InvalidProblemError, match="(?i)nan|finite"):
        TSP(xy)
    with pytest.raises(InvalidProblemError):
        TSP(np.zeros((2, 2)) + [[0, 0], [1, 1]])
    with pytest.raises(InvalidProblemError, match="(?i)capacity"):
        CVRP(np.random.default_rng(0).random((5, 2)), [0, 1, 2, 30, 1], capacity=10)
    p = TSP.random(20, seed=0)
    for bad in ({"start": "x"}, {"segment": 2}, {"rounds": -1}):
        with pytest.raises(ValueError):
            solve(p, "udc", **bad)


@pytest.mark.parametrize("kind", ["tsp", "cvrp"])
def test_refreshed_heatmap_construction_is_a_permutation(kind):
    """Heatmap recomputed every few steps on the unvisited nodes (paper §4.1): a valid tour
    (CVRP: the giant tour holds the depot once), identical to a single-heatmap run only where
    the greedy choices coincide."""
    from learned.udc import model as M
    from learned.udc.divide import _construct_refreshed

    p = TSP.random(120, seed=2) if kind == "tsp" else CVRP.random(119, seed=2)
    net = M.load(kind)
    for every in (1, 7, 50):
        tour = _construct_refreshed(p, net, 5, every, kind)
        assert sorted(tour.tolist()) == list(range(p.n_nodes))
        assert tour[0] == 5
    with pytest.raises(ValueError):
        solve(p, "udc", refresh=-1)


def test_cvrp_conquer_on_route_groups_never_worse_and_feasible():
    from learned.udc.conquer import conquer_cvrp
    from solvers.context import SolveContext
    from solvers.routing.local_search import RouteState, cvrp_cost, cvrp_neighbours, split_routes

    p = CVRP.random(300, seed=4)
    imp = TourImprover(p, neighbour_lists(p, 10))
    routes = split_routes(p, imp, np.random.default_rng(0).permutation(p.n_nodes))
    state = RouteState(p, routes)
    before = cvrp_cost(state, imp)
    ctx = SolveContext(seed=0)
    last = before
    for shift in range(3):
        groups = conquer_cvrp(p, imp, state, cvrp_neighbours(p), 60, shift, ctx, ctx.rng, 20)
        assert groups >= 300 // 60 - 1
        now = cvrp_cost(state, imp)
        assert p.is_feasible(state.routes()) and now <= last + 1e-9
        assert now == pytest.approx(p.objective(state.routes()))
        last = now
    assert last < 0.8 * before  # a random giant tour split is far from good


def _deltas(xy: np.ndarray, order: np.ndarray) -> np.ndarray:
    """delta_t(v) = sqrt(n) * distance from v to the nodes inserted before step t (0 at t = 0)."""
    n = len(order)
    D = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    out = np.zeros((n, n))
    for t in range(1, n):
        out[t] = np.sqrt(n) * D[order[:t]].min(axis=0)
    return out


def test_insertion_policy_log_prob_is_a_distribution():
    """The learned-order insertion policy: recorded delta_t match their definition, and
    exp(log pi) summed over all orders of a 5-node instance is 1 (Plackett-Luce with
    state-dependent scores); b -> inf gives farthest insertion, a = b = 0 a permutation."""
    import itertools

    from learned.udc import model as M
    from learned.udc._construct import insertion_tour

    rng = np.random.default_rng(0)
    xy = rng.random((5, 2))
    a, b = rng.normal(size=5), rng.normal(size=5)
    tour, order, delta = insertion_tour(a, b, xy, False, 3, True)
    assert sorted(tour.tolist()) == list(range(5)) and sorted(order.tolist()) == list(range(5))
    pos = np.argsort(order)
    free = pos[None, :] >= np.arange(5)[:, None]  # delta_t(v) only matters for v not yet inserted
    np.testing.assert_allclose(delta[free], _deltas(xy, order)[free], atol=1e-12)
    s = torch.tensor(np.c_[a, b], dtype=torch.float64)
    total = sum(float(torch.exp(M.insertion_log_prob(s, np.array(o), _deltas(xy, np.array(o)))))
                for o in itertools.permutations(range(5)))
    assert total == pytest.approx(1.0, abs=1e-9)
    # b large: every next node is the one farthest from the partial tour
    xy = rng.random((60, 2))
    _, order, _ = insertion_tour(np.zeros(60), np.full(60, 1e4), xy, True, 0, False)
    dl = _deltas(xy, order)
    for t in range(1, 60):
        rest = order[t:]
        assert dl[t, order[t]] == pytest.approx(dl[t, rest].max())


def test_insert_decoder_starts_as_random_insertion_and_trains():
    """The node-heatmap divider (decode='insert') outputs a = b = 0 before training, and a few
    REINFORCE steps with the segment-conquer reward run and move the scores."""
    from learned.udc import model as M
    from learned.udc.train import train

    torch.set_num_threads(1)
    xy = np.random.default_rng(1).random((40, 2))
    net = M.Divider(decode="insert")
    with torch.no_grad():
        out = net(torch.from_numpy(M.node_features(xy)), torch.from_numpy(M.knn(xy, net.k)))
    assert out.shape == (40, 2) and float(out.abs().max()) == 0.0
    net, hist = train("tsp", n=40, steps=3, batch=1, samples=4, lr=1e-2, seed=0, progress=False,
                      divided_weight=0.0, decode="insert", conquer="segment", segment=20, rounds=2)
    with torch.no_grad():
        out = net(torch.from_numpy(M.node_features(xy)), torch.from_numpy(M.knn(xy, net.k)))
    assert float(out.abs().max()) > 0.0
    assert all(np.isfinite(h["loss"]) for h in hist)
    with pytest.raises(ValueError):
        M.Divider(decode="x")
