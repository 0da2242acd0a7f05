"""UDC divide stage (Zheng et al. NeurIPS 2024, §4.1): the initial tour, from the learned heatmap
or by random insertion (the paper's ablation start) or nearest neighbour.

TSP: the shipped divider outputs a node heatmap and builds ``starts`` tours by learned-order
cheapest insertion (sampled, the shortest kept; ``_construct.insertion_tour``); an edge-heatmap
network (``decode="next"``, used for CVRP) builds them greedily node by node from several start
nodes instead, with the heatmap recomputed every ``refresh`` steps. For CVRP the tour is a giant
tour through the depot. torch is imported only for the learned start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from problems import CVRP, TSP
from solvers.routing import _ls_kernels as K
from solvers.routing.local_search import TourImprover, neighbour_lists


def random_insertion(coords: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random insertion (the paper's ablation start): nodes in random order, each inserted
    where it lengthens the tour least (Euclidean; O(n K) with a bucket grid)."""
    n = coords.shape[0]
    order = rng.permutation(n)
    return _random_insertion(coords.astype(np.float64), order)


def _random_insertion(coords: np.ndarray, order: np.ndarray) -> np.ndarray:
    from ._insertion_kernels import random_insertion_kernel

    return random_insertion_kernel(coords, order)


def divide_tsp(problem: TSP | CVRP, start: str, starts: int, rng: np.random.Generator,
               model=None, refresh: int = 0, stop: Callable[[], bool] | None = None
               ) -> tuple[np.ndarray, str]:
    """Initial tour: learned heatmap (greedy from ``starts`` start nodes, best kept) or random
    insertion.  With ``refresh`` > 0 the heatmap is recomputed on the not yet visited nodes every
    ``refresh`` construction steps (paper §4.1; the first start only, the others reuse the full
    heatmap).  ``stop`` (a no-argument callable, e.g. the solve's ``should_stop``) is asked once
    torch is loaded (if it says so, random insertion replaces the heatmap) and after each start:
    once it says so, the best tour built so far is returned.  Returns (tour, how)."""
    coords = problem.coords if problem.coords is not None else None
    if coords is None or problem.distance_code == 5:
        start = "random-insertion" if coords is not None else "nearest"
    if start == "random-insertion":
        return _random_insertion(np.asarray(coords, float), rng.permutation(problem.n_nodes)), start
    if start == "nearest":
        imp = TourImprover(problem, neighbour_lists(problem, 10))
        return K.nearest_neighbour_tour(imp.coords, imp.matrix, imp.code, imp.neigh, 0), start
    from . import model as M  # imports torch: seconds on a cold start, not interruptible
    from ._construct import construct_tour, insertion_tour

    if stop is not None and stop():  # asked to stop meanwhile: the cheap start, no heatmap
        return _random_insertion(np.asarray(coords, float), rng.permutation(problem.n_nodes)), \
            "random-insertion"
    kind = "cvrp" if isinstance(problem, CVRP) else "tsp"
    net = model if model is not None else M.load(kind, M.device()).to(M.device())
    neigh = M.knn(np.asarray(coords, float), net.k)
    feats = (M.node_features(coords, problem.demands, problem.capacity) if kind == "cvrp"
             else M.node_features(coords))
    logits = M.heatmap(net, feats, neigh)
    xy = M.unit_box(np.asarray(coords, float))
    if getattr(net, "decode", "next") == "insert":  # node heatmap: learned-order insertion
        a, b = np.ascontiguousarray(logits[:, 0]), np.ascontiguousarray(logits[:, 1])
        # ``starts`` sampled insertion orders
        tours = (insertion_tour(a, b, xy, False, int(rng.integers(2**31)), False)[0]
                 for _ in range(starts))
    else:
        firsts = rng.choice(problem.n_nodes, size=min(starts, problem.n_nodes), replace=False)
        tours = (_construct_refreshed(problem, net, int(s), refresh, kind)
                 if i == 0 and 0 < refresh < problem.n_nodes - 1
                 else construct_tour(logits, neigh, xy, int(s), True, 0)[0]
                 for i, s in enumerate(firsts))
    return _shortest(tours, TourImprover(problem, neigh), stop), "learned"


def _shortest(tours: Iterable[np.ndarray], length: TourImprover, stop: Callable[[], bool] | None
              ) -> np.ndarray:
    """The shortest of the lazily built ``tours``; stops building once ``stop()`` says so."""
    best, best_len = None, np.inf
    for tour in tours:
        L = length.length(tour)
        if L < best_len:
            best, best_len = tour, L
        if stop is not None and stop():
            break
    return best


def _construct_refreshed(problem: TSP | CVRP, net, start: int, refresh: int, kind: str) -> np.ndarray:
    """Greedy construction whose heatmap is recomputed every ``refresh`` steps on the sub-problem
    (current node + unvisited nodes; for CVRP the depot stays in as the polar-feature anchor)."""
    from . import model as M
    from ._construct import construct_steps

    coords = np.asarray(problem.coords, float)
    n = problem.n_nodes
    visited = np.zeros(n, dtype=np.bool_)
    visited[start] = True
    tour = [start]
    cur = start
    while len(tour) < n:
        rest = np.flatnonzero(~visited)
        if kind == "cvrp" and visited[0] and cur != 0:
            nodes = np.concatenate([[cur, 0], rest])  # depot: anchor only, cannot be entered
        else:
            nodes = np.concatenate([[cur], rest])
        sub = coords[nodes]
        m = nodes.size
        if m <= 2:
            tour.extend(rest.tolist())
            break
        neigh = M.knn(sub, min(net.k, m - 1))
        if kind == "cvrp":
            anchor = np.flatnonzero(nodes == 0)  # the depot is always in the sub-problem
            perm = np.r_[anchor, np.setdiff1d(np.arange(m), anchor)]
            feats = np.empty((m, 5), dtype=np.float32)
            feats[perm] = M.node_features(sub[perm], problem.demands[nodes][perm], problem.capacity)
        else:
            feats = M.node_features(sub)
        if neigh.shape[1] < net.k:  # pad tiny sub-problems with repeats of the last neighbour
            neigh = np.concatenate([neigh, np.repeat(neigh[:, -1:], net.k - neigh.shape[1], 1)], 1)
        logits = M.heatmap(net, feats, neigh)
        blocked = np.zeros(m, dtype=np.bool_)
        blocked[1:] = visited[nodes[1:]]
        path = construct_steps(logits, neigh, M.unit_box(sub), 0, refresh, blocked)
        for v in nodes[path]:
            visited[v] = True
            tour.append(int(v))
        cur = tour[-1]
    return np.asarray(tour, dtype=np.int64)
