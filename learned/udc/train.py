"""Train the UDC divider: Divide-Conquer-Reunion REINFORCE (Zheng et al. 2024, §4.4, eq. 6).

For every random instance, ``samples`` tours are sampled from the heatmap; each is conquered
(2-opt/Or-opt descent; CVRP: optimal split + per-route descent) and the conquered length is
the reward (plus ``divided_weight`` x the divided length, which reduces variance on small
CPU budgets; 0 gives the paper's reward); the baseline is the mean over the samples of that
instance (POMO-style shared baseline).  loss = mean((L - mean L) * log pi(tour)).
Seeded; CPU by default (CUDA if present).

    python3 -m learned.udc.train --kind tsp --n 500 --steps 600 --batch 2 --samples 8 \
        --divided-weight 0      # the shipped TSP divider (node heatmap, insertion, segment conquer)
    python3 -m learned.udc.train --kind cvrp --steps 300   # CVRP divider (edge heatmap, next node)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def _reward(problem, tour, improver, kind, conquer="descend", segment=100, rounds=4):
    """Conquered length: ``descend`` = 2-opt/Or-opt on the whole tour (right for n ~ segment);
    ``segment`` = the solver's conquer-reunion (``rounds`` passes over open paths of ``segment``
    nodes with fixed ends, cut points shifted by segment/2), i.e. exactly what the divided tour
    goes through at test time (TSP)."""
    from solvers.routing.local_search import improve_route, split_routes

    if conquer == "segment" and kind == "tsp":
        from learned.udc.conquer import reunion_round

        for r in range(rounds):
            tour = reunion_round(tour, improver, segment, r)
        return improver.length(tour)
    tour = improver.descend(tour.copy())
    if kind == "tsp":
        return improver.length(tour)
    routes = [improve_route(improver, r, improver.neigh) for r in split_routes(problem, improver, tour)]
    return problem.objective(routes)


def train(kind: str = "tsp", n: int = 100, steps: int = 200, batch: int = 4, samples: int = 8,
          lr: float = 1e-3, seed: int = 0, hidden: int = 32, layers: int = 4, k: int = 10,
          log_every: int = 10, progress: bool = True, divided_weight: float = 0.2,
          init: str | None = None, decode: str = "next", conquer: str = "descend",
          segment: int = 100, rounds: int = 4, sizes: tuple[int, ...] | None = None,
          checkpoint: str | None = None) -> tuple[object, list[dict]]:
    """REINFORCE training of the divider (see the module docstring); ``init`` = path of a
    weights file to continue from (same architecture) instead of a fresh network; ``decode``:
    ``next`` (edge heatmap, next-node construction) or ``insert`` (node heatmap, learned-order
    cheapest insertion; TSP only); ``conquer``: reward after full-tour descent or after the
    segment conquer-reunion; ``sizes``: instance sizes drawn uniformly per instance (default (n,));
    ``checkpoint``: weights file rewritten every 50 steps (to stop a long run early)."""
    import torch

    from learned.udc import model as M
    from learned.udc._construct import construct_tour, insertion_tour
    from problems import CVRP, TSP
    from solvers.routing.local_search import TourImprover

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    dev = M.device()
    if decode == "insert" and kind != "tsp":
        raise ValueError("decode='insert' is implemented for TSP only")
    net = M.Divider(node_dim=2 if kind == "tsp" else 5, hidden=hidden, layers=layers, k=k,
                    decode=decode).to(dev)
    sizes = tuple(sizes) if sizes else (n,)
    if init is not None:
        blob = torch.load(init, map_location="cpu", weights_only=True)
        net = M.Divider(**blob["config"]).to(dev)
        net.load_state_dict(blob["state"])
        k = net.k
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    history: list[dict] = []
    try:
        from tqdm import trange
    except ImportError:  # pragma: no cover
        trange = None
    it = trange(steps, disable=not progress) if trange is not None else range(steps)
    t0 = time.time()
    for step in it:
        losses, lengths, conquered = [], [], []
        for _ in range(batch):
            n = int(sizes[rng.integers(len(sizes))]) if len(sizes) > 1 else sizes[0]
            if kind == "tsp":
                prob = TSP(rng.random((n, 2)), edge_weight_type="EUC")
                feats = M.node_features(prob.coords)
            else:
                prob = CVRP(rng.random((n + 1, 2)), rng.integers(1, 10, n + 1).astype(float) * (
                    np.arange(n + 1) > 0), capacity=50.0, edge_weight_type="EUC")
                feats = M.node_features(prob.coords, prob.demands, prob.capacity)
            neigh = M.knn(prob.coords, k)
            improver = TourImprover(prob, neigh)
            logits = net(torch.from_numpy(feats).to(dev), torch.from_numpy(neigh).to(dev))
            lg_np = logits.detach().double().cpu().numpy()
            xy = M.unit_box(prob.coords)
            R, LP = [], []
            for _ in range(samples):
                if decode == "insert":
                    tour, order, delta = insertion_tour(lg_np[:, 0].copy(), lg_np[:, 1].copy(), xy, False,
                                                        int(rng.integers(2**31)), True)
                    LP.append(M.insertion_log_prob(logits, order, delta))
                else:
                    start = 0 if kind == "cvrp" else int(rng.integers(n))
                    tour, slot = construct_tour(lg_np, neigh, xy, start, False, int(rng.integers(2**31)))
                    LP.append(M.log_prob(logits, neigh, tour, slot))
                lengths.append(improver.length(tour))
                R.append(_reward(prob, tour, improver, kind, conquer, segment, rounds)
                         + divided_weight * lengths[-1])
            R_t = torch.tensor(R, device=dev, dtype=torch.float32)
            adv = (R_t - R_t.mean()) / (R_t.std() + 1e-8)
            losses.append((adv * torch.stack(LP)).mean())
            conquered.append(float(np.mean(R)))
        loss = torch.stack(losses).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        rec = {"step": step, "loss": float(loss.detach()), "divided": float(np.mean(lengths)),
               "conquered": float(np.mean(conquered)), "time": time.time() - t0}
        if decode == "insert":
            with torch.no_grad():
                rec["b_mean"] = float(logits[:, 1].mean())
        history.append(rec)
        if progress and trange is not None:
            it.set_postfix(divided=f"{rec['divided']:.3f}", conquered=f"{rec['conquered']:.3f}")
        elif progress and step % log_every == 0:
            print(rec, flush=True)
        if checkpoint is not None and (step + 1) % 50 == 0:
            M.save(net, kind, Path(checkpoint))
    return net.eval(), history


def plot(history: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(steps, [h["loss"] for h in history], lw=0.8)
    ax[0].set(xlabel="step", ylabel="REINFORCE loss", title=title)
    w = max(1, len(history) // 20)
    div = np.convolve([h["divided"] for h in history], np.ones(w) / w, mode="valid")
    con = np.convolve([h["conquered"] for h in history], np.ones(w) / w, mode="valid")
    ax[1].plot(steps[w - 1:], div, label="divided (sampled) length")
    ax[1].plot(steps[w - 1:], con, label="conquered length (reward)")
    ax[1].set(xlabel="step", ylabel="mean tour length")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="optbox train udc", description=__doc__.splitlines()[0])
    p.add_argument("--kind", choices=["tsp", "cvrp", "both"], default="both")
    p.add_argument("--n", type=int, default=100, help="training instance size")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--divided-weight", type=float, default=0.2,
                   help="reward = conquered length + w * divided length (w=0: the paper's reward)")
    p.add_argument("--decode", choices=["auto", "next", "insert"], default="auto",
                   help="next: edge heatmap, next-node construction; insert: node heatmap, learned-order "
                        "cheapest insertion (TSP only); auto: insert for TSP, next for CVRP")
    p.add_argument("--conquer", choices=["auto", "descend", "segment"], default="auto",
                   help="reward after a full-tour 2-opt/Or-opt descent or after the solver's segment "
                        "conquer-reunion (auto: segment for insert, descend for next)")
    p.add_argument("--segment", type=int, default=100, help="segment length of the conquer reward")
    p.add_argument("--rounds", type=int, default=4, help="reunion rounds of the conquer reward")
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--init", type=Path, default=None, help="continue from this weights file")
    p.add_argument("--out", type=Path, default=Path(__file__).with_name("weights"))
    args = p.parse_args(argv)
    import torch

    from learned.udc import model as M

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    for kind in (["tsp", "cvrp"] if args.kind == "both" else [args.kind]):
        decode = args.decode if args.decode != "auto" else "insert" if kind == "tsp" else "next"
        conquer = args.conquer if args.conquer != "auto" else "segment" if decode == "insert" else "descend"
        net, hist = train(kind, args.n, args.steps, args.batch, args.samples, args.lr, args.seed,
                          hidden=args.hidden, layers=args.layers, divided_weight=args.divided_weight,
                          init=None if args.init is None else str(args.init), decode=decode,
                          conquer=conquer, segment=args.segment, rounds=args.rounds)
        path = M.save(net.cpu(), kind, args.out / f"udc_{kind}.pt")
        plot(hist, args.out / f"training_{kind}.png", f"UDC divider ({kind.upper()}{args.n})")
        first, last = hist[: max(1, len(hist) // 10)], hist[-max(1, len(hist) // 10):]

        def avg(hs: list[dict], key: str) -> float:
            return float(np.mean([h[key] for h in hs]))

        print(f"{kind}: saved {path}; divided length {avg(first, 'divided'):.3f} -> "
              f"{avg(last, 'divided'):.3f}, "
              f"reward {avg(first, 'conquered'):.3f} -> {avg(last, 'conquered'):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
