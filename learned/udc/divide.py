"""UDC divide stage (Zheng et al. NeurIPS 2024, §4.1): initial solutions from the learned
heatmap or by random insertion (the paper's ablation start).

``learned``: the AGNN heatmap of ``model.Divider`` on the sparse k-NN graph; every solution is
built node by node, the next node drawn with probability ~ exp(heatmap) over the unvisited
neighbours (CVRP: those that fit the remaining load, plus the depot edge: capacity-feasible
routes), optionally with the heatmap recomputed on the unvisited nodes every ``refresh`` steps.
torch is imported only for the learned starts.  CVRP solutions are lists of routes; the giant
tour of a random insertion is split optimally (Prins).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from problems import CVRP, TSP
from solvers.routing import _ls_kernels as K
from solvers.routing.local_search import TourImprover, neighbour_lists, split_routes


def random_insertion(coords: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random insertion (the paper's ablation start): nodes in random order, each inserted
    where it lengthens the tour least (Euclidean; O(n K) with a bucket grid)."""
    return _random_insertion(np.asarray(coords, np.float64), rng.permutation(coords.shape[0]))


def _random_insertion(coords: np.ndarray, order: np.ndarray) -> np.ndarray:
    from ._insertion_kernels import random_insertion_kernel

    return random_insertion_kernel(np.ascontiguousarray(coords, np.float64), order)


@dataclass
class Graph:
    """The divider's input for one (sub-)problem: node features, k-NN slots (CVRP: + depot slot),
    unit-box coordinates, demands (0 for TSP), capacity (inf for TSP), depot slot (-1 for TSP)."""
    feats: np.ndarray
    neigh: np.ndarray
    xy: np.ndarray
    demand: np.ndarray
    capacity: float
    depot_slot: int


def graph(coords: np.ndarray, k: int, demands: np.ndarray | None = None,
          capacity: float | None = None) -> Graph:
    """The k-NN graph and features of an instance (CVRP: node 0 is the depot)."""
    from . import model as M

    coords = np.asarray(coords, np.float64)
    n = coords.shape[0]
    if demands is None:
        return Graph(M.node_features(coords), M.knn(coords, k), M.unit_box(coords), np.zeros(n),
                     np.inf, -1)
    neigh = M.knn(coords, k, depot=True)
    return Graph(M.node_features(coords, demands, capacity), neigh, M.unit_box(coords),
                 np.asarray(demands, np.float64), float(capacity), neigh.shape[1] - 1)


def sample(logits: np.ndarray, g: Graph, start: int, seed: int, greedy: bool = False
           ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One solution from one heatmap (``_construct.construct`` over the whole instance) starting
    at node ``start`` (CVRP: a customer; the first route leaves the depot to it).  Returns the
    path (TSP: a tour; CVRP: customers with 0 at every return to the depot) and the recorded
    decisions (rows, masks, slots) for ``model.log_prob``."""
    from ._construct import construct

    n, S = g.neigh.shape
    visited = np.zeros(n, dtype=np.bool_)
    if g.depot_slot >= 0:
        visited[0] = True
    visited[start] = True
    rows = np.empty(2 * n + 2, np.int64)  # at most one decision per visit and one per return
    masks = np.empty((2 * n + 2, S), np.bool_)
    slots = np.empty(2 * n + 2, np.int64)
    left = g.capacity - g.demand[start]
    path, m, _, _, _ = construct(logits, g.neigh, g.xy, g.demand, g.capacity, g.depot_slot, 0,
                                 start, left, False, visited, n, greedy, seed, rows, masks, slots)
    return np.r_[start, path].astype(np.int64), (rows[:m], masks[:m], slots[:m])


def refreshed(problem: TSP | CVRP, net, start: int, refresh: int, seed: int) -> np.ndarray:
    """Sampled construction whose heatmap is recomputed every ``refresh`` steps on the
    sub-problem of the current node and the unvisited nodes (§4.1; CVRP: the depot stays in,
    the load carries over).  Returns the path as :func:`sample` does."""
    from . import model as M
    from ._construct import construct

    cvrp = isinstance(problem, CVRP)
    coords = np.asarray(problem.coords, float)
    n = problem.n_nodes
    visited = np.zeros(n, dtype=np.bool_)
    visited[start] = True
    if cvrp:
        visited[0] = True
    cap = float(problem.capacity) if cvrp else np.inf
    dem = np.asarray(problem.demands, float) if cvrp else np.zeros(n)
    left, at_depot, cur = cap - dem[start], False, start
    out = [np.array([start])]
    rng = np.random.default_rng(seed)
    while not visited.all():
        rest = np.flatnonzero(~visited)
        nodes = np.r_[0, cur, rest] if cvrp else np.r_[cur, rest]
        g = graph(coords[nodes], net.k, dem[nodes] if cvrp else None, cap if cvrp else None)
        logits = M.heatmap(net, g.feats, g.neigh)
        vis = np.zeros(nodes.size, dtype=np.bool_)
        vis[: 2 if cvrp else 1] = True
        S = g.neigh.shape[1]
        buf = (np.empty(2 * refresh + 2, np.int64), np.empty((2 * refresh + 2, S), np.bool_),
               np.empty(2 * refresh + 2, np.int64))
        c0 = 1 if cvrp else 0
        path, _, c, left, at_depot = construct(logits, g.neigh, g.xy, g.demand, g.capacity,
                                               g.depot_slot, 0, c0, left, at_depot, vis, refresh,
                                               False, int(rng.integers(2**31)), *buf)
        glob = nodes[path]
        visited[glob] = True
        if cvrp:
            visited[0] = True
        out.append(glob)
        cur = int(nodes[c])
    return np.concatenate(out).astype(np.int64)


def routes_of(path: np.ndarray) -> list[np.ndarray]:
    """CVRP path (customers, 0 = back to the depot) -> non-empty routes."""
    cuts = np.flatnonzero(path == 0)
    parts = (part[part != 0] for part in np.split(path, cuts))
    return [part for part in parts if part.size]


def divide(problem: TSP | CVRP, start: str, starts: int, rng: np.random.Generator, net=None,
           refresh: int = 0, stop: Callable[[], bool] | None = None) -> tuple[list, str]:
    """``starts`` initial solutions (TSP: tours; CVRP: lists of routes) and the start used.
    Without coordinates (explicit matrices) the start is nearest neighbour.  ``stop`` (the
    solve's ``should_stop``) ends the construction early (at least one solution is built)."""
    cvrp = isinstance(problem, CVRP)
    coords = problem.coords
    if coords is None or problem.distance_code == 5:
        start = "random-insertion" if coords is not None else "nearest"
    imp = TourImprover(problem, neighbour_lists(problem, 10))
    out: list = []
    memo: dict = {}
    if start == "nearest":
        tour = K.nearest_neighbour_tour(imp.coords, imp.matrix, imp.code, imp.neigh, 0)
        return [split_routes(problem, imp, tour) if cvrp else tour], start
    for i in range(starts):
        if i and stop is not None and stop():
            break
        if start == "random-insertion":
            tour = _random_insertion(coords, rng.permutation(problem.n_nodes))
            out.append(split_routes(problem, imp, tour) if cvrp else tour)
        else:
            out.append(_learned(problem, net, rng, refresh, memo))
    return out, start


def _learned(problem: TSP | CVRP, net, rng: np.random.Generator, refresh: int, memo: dict):
    """One sampled solution of the next-node heatmap from a random start node (the one
    heatmap of the whole instance is computed once per call of :func:`divide`, in ``memo``)."""
    from . import model as M

    cvrp = isinstance(problem, CVRP)
    n = problem.n_nodes
    s = int(rng.integers(1, n)) if cvrp else int(rng.integers(n))
    seed = int(rng.integers(2**31))
    if 0 < refresh < n - 1:
        path = refreshed(problem, net, s, refresh, seed)
    else:
        if not memo:
            g = graph(problem.coords, net.k, problem.demands if cvrp else None,
                      problem.capacity if cvrp else None)
            memo.update(g=g, logits=M.heatmap(net, g.feats, g.neigh))
        path = sample(memo["logits"], memo["g"], s, seed)[0]
    return routes_of(path) if cvrp else path
