"""Where UDC's learned TSP construction loses to random insertion (issue 20): tour edges that
jump outside the 10-NN graph, before and after the conquer, and what relocating the nodes on
those jumps recovers.  ``python -m benchmarks.udc_strays [--seeds 1000,1001,1002]``."""

from __future__ import annotations

import argparse

import numpy as np

from learned.udc import model as M
from learned.udc.conquer import dcr_tsp, reunion_offsets
from learned.udc.divide import graph, random_insertion, sample
from learned.udc.instances import tsp_instance
from solvers.routing.local_search import TourImprover, neighbour_lists


def jumps(tour: np.ndarray, xy: np.ndarray, neigh: np.ndarray) -> tuple[int, float]:
    """Number and length of the tour's edges whose ends are not each other's k-NN."""
    a, b = tour, np.roll(tour, -1)
    near = [set(r) for r in neigh]
    out = np.array([v not in near[u] and u not in near[v] for u, v in zip(a, b)])
    return int(out.sum()), float(np.linalg.norm(xy[a] - xy[b], axis=1)[out].sum())


def relocate_strays(tour: np.ndarray, xy: np.ndarray, neigh: np.ndarray, passes: int = 3) -> np.ndarray:
    """Move every node on a jump to its best position beside one of its k-NN (first improvement)."""
    t = list(tour)
    near = [set(r) for r in neigh]

    def d(u, v):
        return float(np.hypot(*(xy[u] - xy[v])))

    for _ in range(passes):
        n = len(t)
        ends = {u for i in range(n) for u in (t[i], t[(i + 1) % n])
                if t[(i + 1) % n] not in near[t[i]] and t[i] not in near[t[(i + 1) % n]]}
        moved = 0
        for v in ends:
            pos = {u: i for i, u in enumerate(t)}
            i = pos[v]
            p, q = t[i - 1], t[(i + 1) % n]
            saved = d(p, v) + d(v, q) - d(p, q)
            best, at = 0.0, None
            for w in neigh[v]:
                j = pos[w]
                for a, b in ((t[j - 1], w), (w, t[(j + 1) % n])):
                    if v not in (a, b) and d(a, v) + d(v, b) - d(a, b) - saved < best - 1e-12:
                        best, at = d(a, v) + d(v, b) - d(a, b) - saved, b
            if at is not None:
                t.pop(i)
                t.insert(t.index(at), v)
                moved += 1
        if not moved:
            break
    return np.array(t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.udc_strays")
    ap.add_argument("--seeds", default="1000,1001,1002")
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args(argv)
    nets = {"learned": M.load("tsp"), "untrained": M.untrained("tsp")}
    print("| instance | start | length | jumps / their length | after conquer | jumps left / length "
          "| conquer / RI |")
    print("|---|---|---|---|---|---|---|")
    for seed in map(int, args.seeds.split(",")):
        p = tsp_instance(np.random.default_rng(seed), args.n)
        xy = np.asarray(p.coords, float)
        imp = TourImprover(p, neighbour_lists(p, 10))
        offsets = reunion_offsets(100, 4, np.random.default_rng(0))
        g = graph(xy, nets["learned"].k)
        tours = {"random-insertion": random_insertion(xy, np.random.default_rng(0))}
        for name, net in nets.items():
            t = sample(M.heatmap(net, g.feats, g.neigh), g, 0, 1)[0]
            tours[name] = t
            tours[name + " + relocation"] = relocate_strays(t, xy, g.neigh)
        done = {k: dcr_tsp(t.copy(), imp, 100, offsets, lambda: False, seed=0) for k, t in tours.items()}
        ri = imp.length(done["random-insertion"])
        for k, t in tours.items():
            j0, l0 = jumps(t, xy, g.neigh)
            j1, l1 = jumps(done[k], xy, g.neigh)
            print(f"| tsp{args.n}-s{seed} | {k} | {imp.length(t):.3f} | {j0} / {l0:.3f} | "
                  f"{imp.length(done[k]):.3f} | {j1} / {l1:.3f} | {imp.length(done[k]) / ri:.4f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
