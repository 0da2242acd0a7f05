"""Random MIP families of Gasse et al. (2019, "Exact combinatorial optimization with graph
convolutional neural networks", §5.1 and appendix): set cover, combinatorial auction, capacitated
facility location and maximum independent set; and a multi-dimensional knapsack (the small
instance the contract tests and ``optbox warmup`` use).

Each generator builds a ``pyscipopt.Model`` (``*_model``) and the ``MIP`` snapshot of it (the
plain names); the same ``seed`` gives the same instance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import InvalidProblemError
from .mip import MIP


def _check_positive(**values: Any) -> None:
    for name, value in values.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise InvalidProblemError(f"{name} must be a positive integer, got {value!r}")


def _model(name: str) -> Any:
    from pyscipopt import Model

    model = Model(name)
    model.hideOutput()
    return model


def set_cover_model(n_rows: int = 500, n_cols: int = 1000, density: float = 0.05,
                    max_coef: int = 100, seed: int = 0) -> Any:
    """Balas & Ho (1980) set cover as in Gasse et al.: min c^T x, every row covered at least once.

    Each column covers at least one row, each row is covered by at least two columns; ``density``
    is the share of nonzeros; costs are uniform integers in [1, max_coef].
    """
    _check_positive(n_rows=n_rows, n_cols=n_cols, max_coef=max_coef)
    if not 0 < density <= 1:
        raise InvalidProblemError(f"density must be in (0, 1], got {density!r}")
    rng = np.random.default_rng(seed)
    nnz = max(int(n_rows * n_cols * density), n_cols, 2 * n_rows)
    cover = np.zeros((n_rows, n_cols), dtype=bool)
    cover[rng.integers(n_rows, size=n_cols), np.arange(n_cols)] = True  # every column used
    for r in range(n_rows):  # every row covered twice
        cover[r, rng.choice(n_cols, size=2, replace=False)] = True
    extra = nnz - int(cover.sum())
    if extra > 0:
        flat = np.flatnonzero(~cover.ravel())
        cover.ravel()[rng.choice(flat, size=min(extra, len(flat)), replace=False)] = True
    cost = rng.integers(1, max_coef + 1, size=n_cols)
    model = _model(f"setcover_{n_rows}x{n_cols}_s{seed}")
    x = [model.addVar(f"x{j}", vtype="B", obj=float(cost[j])) for j in range(n_cols)]
    from pyscipopt import quicksum

    for r in range(n_rows):
        model.addCons(quicksum(x[j] for j in np.flatnonzero(cover[r])) >= 1, name=f"c{r}")
    return model


def combinatorial_auction_model(n_items: int = 100, n_bids: int = 500, add_item_prob: float = 0.7,
                                seed: int = 0) -> Any:
    """Combinatorial auction (Leyton-Brown et al. 2000, arbitrary relationships, simplified):
    maximize the accepted bids' prices, each item sold at most once.

    Items have common values U[1, 100] and a random compatibility matrix; a bid grows its bundle
    from a random item, adding compatible items with probability ``add_item_prob``; the price is
    the bundle's value times a private factor U[0.8, 1.2] plus a bundle-size premium.
    """
    _check_positive(n_items=n_items, n_bids=n_bids)
    rng = np.random.default_rng(seed)
    values = rng.uniform(1.0, 100.0, size=n_items)
    compat = rng.uniform(size=(n_items, n_items))
    compat = (compat + compat.T) / 2
    np.fill_diagonal(compat, 0.0)
    bids: list[tuple[np.ndarray, float]] = []
    seen: set[tuple[int, ...]] = set()
    while len(bids) < n_bids:
        bundle = [int(rng.integers(n_items))]
        while rng.uniform() < add_item_prob and len(bundle) < n_items:
            weights = compat[bundle].sum(axis=0)
            weights[bundle] = 0.0
            bundle.append(int(rng.choice(n_items, p=weights / weights.sum())))
        key = tuple(sorted(bundle))
        if key in seen:
            continue
        seen.add(key)
        price = values[list(key)].sum() * rng.uniform(0.8, 1.2) * len(key) ** 0.2
        bids.append((np.array(key), round(float(price), 2)))
    model = _model(f"cauction_{n_items}x{n_bids}_s{seed}")
    x = [model.addVar(f"b{k}", vtype="B", obj=price) for k, (_, price) in enumerate(bids)]
    model.setMaximize()
    from pyscipopt import quicksum

    holders: list[list[int]] = [[] for _ in range(n_items)]
    for k, (bundle, _) in enumerate(bids):
        for i in bundle:
            holders[i].append(k)
    for i, ks in enumerate(holders):
        if len(ks) > 1:
            model.addCons(quicksum(x[k] for k in ks) <= 1, name=f"item{i}")
    return model


def facility_location_model(n_customers: int = 100, n_facilities: int = 100, ratio: float = 5.0,
                            seed: int = 0) -> Any:
    """Capacitated facility location (Cornuejols, Sridharan, Thizy 1991) as in Gasse et al.

    Demands U[5, 35], capacities U[10, 160] scaled so capacity = ``ratio`` x demand, fixed costs
    U[100, 110] sqrt(capacity) + U[0, 90], transport cost 10 x distance x demand on the unit
    square; x_ij in [0, 1] (share of i served by j), y_j binary, tightening x_ij <= y_j.
    """
    _check_positive(n_customers=n_customers, n_facilities=n_facilities)
    if not ratio > 0:
        raise InvalidProblemError(f"ratio must be positive, got {ratio!r}")
    rng = np.random.default_rng(seed)
    cpos, fpos = rng.uniform(size=(n_customers, 2)), rng.uniform(size=(n_facilities, 2))
    demand = rng.integers(5, 36, size=n_customers)
    capacity = rng.integers(10, 161, size=n_facilities).astype(float)
    fixed = np.round(rng.integers(100, 111, size=n_facilities) * np.sqrt(capacity)
                     + rng.integers(0, 91, size=n_facilities))
    capacity = np.round(capacity * ratio * demand.sum() / capacity.sum())
    dist = np.linalg.norm(cpos[:, None, :] - fpos[None, :, :], axis=2)
    trans = np.round(10.0 * dist * demand[:, None], 2)
    model = _model(f"cfl_{n_customers}x{n_facilities}_s{seed}")
    y = [model.addVar(f"y{j}", vtype="B", obj=float(fixed[j])) for j in range(n_facilities)]
    x = [[model.addVar(f"x{i}_{j}", vtype="C", lb=0.0, ub=1.0, obj=float(trans[i, j]))
          for j in range(n_facilities)] for i in range(n_customers)]
    from pyscipopt import quicksum

    for i in range(n_customers):
        model.addCons(quicksum(x[i]) == 1, name=f"demand{i}")
    for j in range(n_facilities):
        model.addCons(quicksum(float(demand[i]) * x[i][j] for i in range(n_customers))
                      <= float(capacity[j]) * y[j], name=f"capacity{j}")
    model.addCons(quicksum(float(capacity[j]) * y[j] for j in range(n_facilities))
                  >= float(demand.sum()), name="total")
    for i in range(n_customers):
        for j in range(n_facilities):
            model.addCons(x[i][j] <= y[j], name=f"tight{i}_{j}")
    return model


def independent_set_model(n_nodes: int = 500, affinity: int = 4, seed: int = 0) -> Any:
    """Maximum independent set on a Barabási-Albert graph with clique-partition inequalities
    (Gasse et al.: affinity 4, greedy clique partition, one ``sum x <= 1`` per clique)."""
    _check_positive(n_nodes=n_nodes, affinity=affinity)
    if affinity >= n_nodes:
        raise InvalidProblemError(f"affinity ({affinity}) must be below n_nodes ({n_nodes})")
    import networkx as nx

    graph = nx.barabasi_albert_graph(n_nodes, affinity, seed=int(seed))
    remaining = {frozenset(e) for e in graph.edges}
    cliques: list[list[int]] = []
    for node in sorted(graph.nodes, key=graph.degree, reverse=True):  # greedy clique partition
        clique = [node]
        for nb in sorted(graph.neighbors(node), key=graph.degree, reverse=True):
            if all(frozenset((nb, c)) in remaining for c in clique):
                clique.append(nb)
        if len(clique) > 1:
            for a in clique:
                for b in clique:
                    remaining.discard(frozenset((a, b)))
            cliques.append(clique)
    model = _model(f"indset_{n_nodes}_a{affinity}_s{seed}")
    x = [model.addVar(f"v{k}", vtype="B", obj=1.0) for k in range(n_nodes)]
    model.setMaximize()
    from pyscipopt import quicksum

    for k, clique in enumerate(cliques):
        model.addCons(quicksum(x[v] for v in clique) <= 1, name=f"clique{k}")
    for a, b in sorted(tuple(sorted(e)) for e in remaining):
        model.addCons(x[a] + x[b] <= 1, name=f"edge{a}_{b}")
    return model


def set_cover(n_rows: int = 500, n_cols: int = 1000, density: float = 0.05, max_coef: int = 100,
              seed: int = 0) -> MIP:
    """A set cover ``MIP`` (see :func:`set_cover_model`)."""
    return MIP.from_model(set_cover_model(n_rows, n_cols, density, max_coef, seed))


def combinatorial_auction(n_items: int = 100, n_bids: int = 500, add_item_prob: float = 0.7,
                          seed: int = 0) -> MIP:
    """A combinatorial auction ``MIP`` (see :func:`combinatorial_auction_model`)."""
    return MIP.from_model(combinatorial_auction_model(n_items, n_bids, add_item_prob, seed))


def facility_location(n_customers: int = 100, n_facilities: int = 100, ratio: float = 5.0,
                      seed: int = 0) -> MIP:
    """A capacitated facility location ``MIP`` (see :func:`facility_location_model`)."""
    return MIP.from_model(facility_location_model(n_customers, n_facilities, ratio, seed))


def independent_set(n_nodes: int = 500, affinity: int = 4, seed: int = 0) -> MIP:
    """A maximum independent set ``MIP`` (see :func:`independent_set_model`)."""
    return MIP.from_model(independent_set_model(n_nodes, affinity, seed))


def multi_knapsack_model(n_items: int = 30, n_constraints: int = 3, seed: int = 0) -> Any:
    """A seeded multi-dimensional 0/1 knapsack (maximization): weights uniform in [20, 100),
    each capacity a quarter of its row's total weight, values the mean weight plus noise."""
    from pyscipopt import quicksum

    _check_positive(n_items=n_items, n_constraints=n_constraints)
    rng = np.random.default_rng(seed)
    model = _model("mkp")
    x = [model.addVar(f"x{i}", vtype="B") for i in range(n_items)]
    w = rng.integers(20, 100, size=(n_constraints, n_items))
    for k in range(n_constraints):
        model.addCons(quicksum(int(w[k, i]) * x[i] for i in range(n_items)) <= int(w[k].sum() // 4))
    value = w.sum(0) // n_constraints + rng.integers(0, 10, size=n_items)
    model.setObjective(quicksum(int(value[i]) * x[i] for i in range(n_items)), "maximize")
    return model


def multi_knapsack(n_items: int = 30, n_constraints: int = 3, seed: int = 0) -> MIP:
    """A multi-dimensional knapsack ``MIP`` (see :func:`multi_knapsack_model`)."""
    return MIP.from_model(multi_knapsack_model(n_items, n_constraints, seed),
                          name=f"mkp{n_items}x{n_constraints}")


GENERATORS = {
    "setcover": set_cover,
    "cauction": combinatorial_auction,
    "cfl": facility_location,
    "indset": independent_set,
    "knapsack": multi_knapsack,
}
