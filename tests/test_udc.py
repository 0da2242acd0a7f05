"""UDC (issue 20): the shipped dividers beat their untrained network after conquer, training
runs the decoder that ships, stages never get worse, ``weights`` option, distinct reunion
shifts, valid tours / capacity-feasible routes, seeded determinism, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from learned.udc.conquer import conquer, reunion_offsets
from learned.udc.divide import _random_insertion
from problems import CVRP, TSP, InvalidProblemError
from solvers import solve
from solvers.routing.local_search import TourImprover, neighbour_lists

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.mark.parametrize("kind", ["tsp", "cvrp"])
def test_shipped_weights_load_offline(kind, monkeypatch):
    from learned.udc import model as M

    monkeypatch.setenv("NO_PROXY", "*")
    net = M.load(kind)
    assert isinstance(net, M.Divider) and net.kind == kind
    assert sum(p.numel() for p in net.parameters()) < 250_000
    assert (M.WEIGHTS / M.FILES[kind]).stat().st_size < 1_000_000


@pytest.mark.parametrize("kind", ["tsp", "cvrp"])
def test_shipped_weights_beat_untrained_after_conquer(kind):
    """Equal work (same starts, rounds, seed) on an unseen instance: the length after divide +
    conquer + reunion is shorter with the shipped divider than with its untrained network."""
    from learned.udc.instances import cvrp_instance

    opts = dict(start="learned", starts=2, rounds=2, polish=False, seed=7)
    if kind == "tsp":
        problems = [TSP.random(400, seed=123)]
    else:  # the CVRP divider's effect after conquer is ~0.5 %: a mean over four X-style instances
        problems = [cvrp_instance(np.random.default_rng(s), 600) for s in range(130, 134)]
    ratios = [solve(p, "udc", **opts).stats["stages"]["conquer"]
              / solve(p, "udc", weights="untrained", **opts).stats["stages"]["conquer"] for p in problems]
    assert np.mean(ratios) < 1.0


def test_training_runs_the_shipped_decoder():
    """A few DCR REINFORCE steps on the network that ships (same architecture and decoder),
    rewarded by the solver's own conquer + reunion: finite losses, weights move."""
    from learned.udc import model as M
    from learned.udc.train import train

    shipped = M.load("tsp")
    before = {k: v.clone() for k, v in M.untrained("tsp").state_dict().items()}
    net, hist = train("tsp", steps=3, samples=4, sizes=(60, 80), segment=20, rounds=2, seed=0,
                      progress=False)
    assert net.config == shipped.config and type(net) is type(shipped)
    assert len(hist) == 3 and all(np.isfinite(h["loss"]) for h in hist)
    assert any(not torch.equal(before[k], v) for k, v in net.state_dict().items())
    net, hist = train("cvrp", steps=1, samples=3, sizes=(40, 50), segment=20, rounds=1, progress=False)
    assert net.config == M.load("cvrp").config and np.isfinite(hist[0]["loss"])


@pytest.mark.parametrize("kind", ["tsp", "cvrp"])
@pytest.mark.parametrize("start", ["learned", "random-insertion"])
def test_stages_non_increasing(kind, start):
    p = TSP.random(250, seed=3) if kind == "tsp" else CVRP.random(200, seed=3)
    r = solve(p, "udc", start=start, seed=0, starts=2, kicks=50)
    st = r.stats["stages"]
    assert list(st) == ["divide", "conquer", "polish"]
    assert st["divide"] >= st["conquer"] - 1e-9 >= st["polish"] - 2e-9
    assert st["polish"] == pytest.approx(r.objective)
    if kind == "cvrp":
        assert p.is_feasible(r.solution)
    else:
        assert sorted(r.solution.tolist()) == list(range(250))


def test_untrained_weights_deterministic_under_a_seed():
    from learned.udc import model as M

    a, b = M.untrained("tsp").state_dict(), M.untrained("tsp").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    p = TSP.random(200, seed=9)
    runs = [solve(p, "udc", start="learned", weights="untrained", seed=4, polish=False)
            for _ in range(2)]
    assert runs[0].objective == runs[1].objective
    assert np.array_equal(runs[0].solution, runs[1].solution)
    other = solve(p, "udc", start="learned", weights="untrained", seed=5, polish=False)
    assert other.stats["stages"]["divide"] != runs[0].stats["stages"]["divide"]


def test_weights_path_and_bad_weights(tmp_path):
    from learned.udc import model as M

    p = TSP.random(60, seed=1)
    path = tmp_path / "w.pt"
    M.save(M.load("tsp"), "tsp", path)
    a = solve(p, "udc", start="learned", weights=str(path), seed=0, polish=False)
    b = solve(p, "udc", start="learned", seed=0, polish=False)
    assert a.objective == b.objective
    with pytest.raises(ValueError, match="does not exist"):
        solve(p, "udc", weights=str(tmp_path / "missing.pt"))
    junk = tmp_path / "junk.pt"
    junk.write_text("not weights")
    with pytest.raises(ValueError, match="not a UDC divider weights file"):
        solve(p, "udc", start="learned", weights=str(junk))
    with pytest.raises(ValueError, match="CVRP divider"):
        solve(p, "udc", start="learned", weights=str(M.WEIGHTS / M.FILES["cvrp"]))
    with pytest.raises(ValueError, match="weights"):
        solve(p, "udc", weights=3)


def test_reunion_shifts_distinct():
    rng = np.random.default_rng(0)
    off = reunion_offsets(100, 4, rng)
    assert off[0] == 0 and off[1] == 50 and len(set((off % 100).tolist())) == 4
    assert len(set(reunion_offsets(100, 100, rng).tolist())) == 100
    assert np.array_equal(reunion_offsets(100, 6, np.random.default_rng(3)),
                          reunion_offsets(100, 6, np.random.default_rng(3)))
    r = solve(TSP.random(300, seed=0), "udc", rounds=5, seed=1, polish=False)
    assert len(set(x % 100 for x in r.stats["offsets"])) == 5


def test_cvrp_construction_is_capacity_feasible():
    """The learned CVRP construction returns to the depot before any customer that does not
    fit: every constructed route is feasible, every customer appears once."""
    from learned.udc import model as M
    from learned.udc.divide import graph, routes_of, sample
    from learned.udc.instances import cvrp_instance

    p = cvrp_instance(np.random.default_rng(5), 150)
    net = M.load("cvrp")
    g = graph(p.coords, net.k, p.demands, p.capacity)
    lg = M.heatmap(net, g.feats, g.neigh)
    for seed in range(3):
        path, (rows, masks, slots) = sample(lg, g, 1 + seed, seed)
        routes = routes_of(path)
        assert sorted(int(v) for r in routes for v in r) == list(range(1, p.n_nodes))
        assert all(p.demands[r].sum() <= p.capacity for r in routes)
        assert masks[np.arange(slots.size), slots].all()


@pytest.mark.parametrize("seed", [0, 1])
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
    assert a.objective == pytest.approx(p.objective(a.solution)) and a.objective == b.objective
    assert a.stats["start"] == start


def test_udc_is_default_for_large_cvrp_and_time_limit_honoured():
    """Defaults follow the figures: UDC for CVRP from 200 nodes; LK local search for every TSP
    (ahead of UDC at equal time up to 50k nodes, benchmarks/results/routing_lk.md)."""
    import time

    from problems import CVRP
    from solvers.registry import default_method

    assert default_method(CVRP.random(300, seed=4)).name == "udc"
    assert default_method(CVRP.random(150, seed=4)).name == "local-search"
    assert default_method(TSP.random(5000, seed=4)).name == "local-search"
    p = TSP.random(2000, seed=1)
    t = time.perf_counter()
    solve(p, "udc", seed=0, time_limit=2)
    assert time.perf_counter() - t < 2 * 1.1 + 1


def test_random_insertion_is_a_permutation_and_reasonable():
    rng = np.random.default_rng(0)
    xy = rng.random((400, 2))
    tour = _random_insertion(xy, rng.permutation(400))
    assert sorted(tour.tolist()) == list(range(400))
    assert TSP(xy).objective(tour) < 1.3 * 0.7124 * np.sqrt(400)


def test_bad_inputs():
    xy = np.random.default_rng(0).random((10, 2))
    xy[2, 0] = np.nan
    with pytest.raises(InvalidProblemError, match="(?i)nan|finite"):
        TSP(xy)
    p = TSP.random(20, seed=0)
    for bad in ({"start": "x"}, {"segment": 2}, {"rounds": -1}, {"refresh": -1}, {"starts": 0}):
        with pytest.raises(ValueError):
            solve(p, "udc", **bad)
    assert solve(p, "udc", polish=False).stats["start"] == "random-insertion"  # the measured default


@pytest.mark.parametrize("kind", ["tsp", "cvrp"])
def test_refreshed_heatmap_construction(kind):
    """Heatmap recomputed every few steps on the unvisited nodes (§4.1): a valid solution."""
    from learned.udc import model as M
    from learned.udc.divide import refreshed, routes_of

    p = TSP.random(120, seed=2) if kind == "tsp" else CVRP.random(119, seed=2)
    net = M.load(kind)
    for every in (1, 7, 50):
        path = refreshed(p, net, 5, every, 0)
        if kind == "tsp":
            assert sorted(path.tolist()) == list(range(p.n_nodes)) and path[0] == 5
        else:
            assert p.is_feasible([r.tolist() for r in routes_of(path)])
    r = solve(p, "udc", start="learned", refresh=30, seed=0, polish=False)
    assert r.objective == pytest.approx(p.objective(r.solution))


def test_next_node_log_prob_is_a_distribution():
    """log pi of the next-node policy over all tours from a fixed start of a 5-node instance
    with a complete neighbour list sums to 1."""
    import itertools

    from learned.udc import model as M
    from learned.udc.divide import Graph, sample

    rng = np.random.default_rng(1)
    xy = rng.random((5, 2))
    neigh = M.knn(xy, 4)
    g = Graph(M.node_features(xy), neigh, M.unit_box(xy), np.zeros(5), np.inf, -1)
    lg = rng.normal(size=(5, 4))
    total = 0.0
    seen = set()
    for seed in range(400):
        path, rec = sample(lg, g, 0, seed)
        seen.add(tuple(path))
    for perm in itertools.permutations(range(1, 5)):
        tour = (0,) + perm
        # the decisions of this tour: at every step the slot of the next node
        rows, masks, slots = [], [], []
        for t in range(3):
            cur, nxt = tour[t], tour[t + 1]
            masks.append([u not in tour[: t + 1] for u in neigh[cur]])
            rows.append(cur)
            slots.append(int(np.flatnonzero(neigh[cur] == nxt)[0]))
        total += float(torch.exp(M.log_prob(torch.tensor(lg), np.array(rows), np.array(masks),
                                             np.array(slots))))
    assert total == pytest.approx(1.0, abs=1e-9)
    assert len(seen) > 1


def test_first_call_with_cold_kernels_runs_as_local_search_within_its_limit(monkeypatch):
    """A first call whose UDC kernels are not compiled (readiness mocked) starts UDC's compiler
    process and returns local-search's result (a feasible solution) within its limit, instead
    of compiling for tens of seconds; a warm call runs UDC's stages."""
    import time

    from solvers.routing import background

    started = []
    udc_kernels = set()

    from learned.udc import _conquer_kernels as CQ
    from learned.udc import _insertion_kernels as IK

    udc_kernels.update({id(IK.random_insertion_kernel), id(CQ.conquer_pass)})
    real_ready = background.ready
    monkeypatch.setattr(background, "ready",
                        lambda k: False if id(k) in udc_kernels else real_ready(k))
    monkeypatch.setattr(background, "start", lambda kind: started.append(kind) or True)
    p = CVRP.random(80, seed=3)
    t = time.perf_counter()
    r = solve(p, "udc", time_limit=2.0, seed=0)
    assert time.perf_counter() - t < 2.0 + 1.5
    assert "udc" in started and r.stats["cold_start"] == "local-search"
    assert p.is_feasible(r.solution) and "stages" not in r.stats
    monkeypatch.setattr(background, "ready", real_ready)
    warm = solve(p, "udc", time_limit=2.0, seed=0)
    assert "cold_start" not in warm.stats and "stages" in warm.stats
