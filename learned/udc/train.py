"""Train the UDC divider: Divide-Conquer-Reunion REINFORCE (Zheng et al. 2024, §4.4, eq. 6).

For every instance of the served distribution (``instances.py``: TSP 500-2000 uniform and
clustered, CVRP X-style 500-1000 customers) the heatmap is computed once and ``samples``
(alpha) solutions are sampled from it node by node (``divide.sample``: the solver's own
construction); each is conquered and reunited by the solver's own code (``conquer.dcr_tsp`` /
``conquer.dcr_cvrp``, the rounds at ``conquer.reunion_offsets``) and the length after that is
the reward.  The baseline is the mean over the alpha samples of the instance:
loss = mean((L - mean L) / std L * log pi(solution)).  Seeded; CPU by default (CUDA if there).

    python3 -m learned.udc.train --kind tsp --minutes 30     # the shipped TSP divider
    python3 -m learned.udc.train --kind cvrp --minutes 30    # the shipped CVRP divider
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def _reward(problem, path, improver, cvrp: bool, segment: int, offsets, ctx, rng, neigh) -> float:
    """Length after the solver's conquer + reunion of one divided solution."""
    from learned.udc.conquer import dcr_cvrp, dcr_tsp
    from learned.udc.divide import routes_of
    from solvers.routing.local_search import cvrp_cost

    if cvrp:
        state = dcr_cvrp(problem, improver, routes_of(path), neigh, segment, offsets, ctx, rng)
        return cvrp_cost(state, improver, best=True)
    return improver.length(dcr_tsp(path, improver, segment, offsets))


def train(kind: str = "tsp", steps: int = 200, samples: int = 8, sizes: tuple[int, int] = (500, 2000),
          lr: float = 1e-3, seed: int = 0, hidden: int = 32, layers: int = 4, k: int = 10,
          segment: int = 100, rounds: int = 4, minutes: float | None = None,
          init: str | None = None, checkpoint: str | None = None, progress: bool = True,
          log_every: int = 10) -> tuple[object, list[dict]]:
    """REINFORCE training of the divider (module docstring).  ``sizes``: instance sizes drawn
    uniformly in [lo, hi] (customers for CVRP); ``minutes``: wall-clock budget (stops before
    ``steps`` if reached); ``init``: weights file to continue from; ``checkpoint``: weights
    file rewritten every 25 steps."""
    import torch

    from learned.udc import model as M
    from learned.udc.conquer import reunion_offsets
    from learned.udc.divide import graph, sample
    from learned.udc.instances import cvrp_instance, tsp_instance
    from solvers.context import SolveContext
    from solvers.routing.local_search import TourImprover, cvrp_neighbours, neighbour_lists

    cvrp = kind == "cvrp"
    rng = np.random.default_rng(seed)
    net = M.untrained(kind, hidden=hidden, layers=layers, k=k) if init is None \
        else M.load(kind, path=init)
    torch.manual_seed(seed)
    dev = M.device()
    net = net.to(dev).train()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    ctx = SolveContext(seed=seed)
    history: list[dict] = []
    t0 = time.time()
    for step in range(steps):
        if minutes is not None and time.time() - t0 > 60 * minutes:
            break
        n = int(rng.integers(sizes[0], sizes[1] + 1))
        prob = cvrp_instance(rng, n) if cvrp else tsp_instance(rng, n)
        g = graph(prob.coords, net.k, prob.demands if cvrp else None, prob.capacity if cvrp else None)
        logits = net(torch.from_numpy(g.feats).to(dev), torch.from_numpy(g.neigh).to(dev))
        lg = logits.detach().double().cpu().numpy()
        improver = TourImprover(prob, neighbour_lists(prob, 10))
        neigh = cvrp_neighbours(prob) if cvrp else None
        offsets = reunion_offsets(segment, rounds, rng)
        R, LP, divided = [], [], []
        for _ in range(samples):
            s = int(rng.integers(1, prob.n_nodes)) if cvrp else int(rng.integers(prob.n_nodes))
            path, rec = sample(lg, g, s, int(rng.integers(2**31)))
            LP.append(M.log_prob(logits, *rec))
            divided.append(_divided(prob, path, improver, cvrp))
            R.append(_reward(prob, path, improver, cvrp, segment, offsets, ctx, rng, neigh))
        R_t = torch.tensor(R, device=dev, dtype=torch.float32)
        adv = (R_t - R_t.mean()) / (R_t.std() + 1e-8)
        loss = (adv * torch.stack(LP)).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        scale = float(np.mean(R))
        rec = {"step": step, "n": n, "loss": float(loss.detach()), "divided": float(np.mean(divided)) / scale,
               "conquered": scale, "spread": float(np.std(R)) / scale, "time": time.time() - t0}
        history.append(rec)
        if progress and step % log_every == 0:
            print(rec, flush=True)
        if checkpoint is not None and (step + 1) % 25 == 0:
            M.save(net.cpu(), kind, Path(checkpoint))
            net.to(dev)
    return net.eval(), history


def _divided(prob, path, improver, cvrp: bool) -> float:
    from learned.udc.divide import routes_of

    return float(prob.objective([r.tolist() for r in routes_of(path)])) if cvrp else improver.length(path)


def plot(history: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(steps, [h["loss"] for h in history], lw=0.6)
    ax[0].set(xlabel="step", ylabel="REINFORCE loss", title=title)
    w = max(1, len(history) // 20)
    div = np.convolve([h["divided"] for h in history], np.ones(w) / w, mode="valid")
    ax[1].plot(steps[w - 1:], div, label="divided / conquered length (sampled)")
    ax[1].set(xlabel="step", ylabel="ratio")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="optbox train udc", description=__doc__.splitlines()[0])
    p.add_argument("--kind", choices=["tsp", "cvrp", "both"], default="both")
    p.add_argument("--steps", type=int, default=100_000, help="step cap (--minutes usually ends it)")
    p.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget per model")
    p.add_argument("--samples", type=int, default=8, help="alpha: samples per instance (baseline)")
    p.add_argument("--sizes", type=int, nargs=2, default=None,
                   help="instance sizes lo hi (default TSP 500 2000, CVRP 500 1000 customers)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--segment", type=int, default=100)
    p.add_argument("--rounds", type=int, default=4)
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
        sizes = tuple(args.sizes) if args.sizes else (500, 2000) if kind == "tsp" else (500, 1000)
        name = M.FILES[kind]
        net, hist = train(kind, args.steps, args.samples, sizes, args.lr, args.seed, args.hidden,
                          args.layers, segment=args.segment, rounds=args.rounds,
                          minutes=args.minutes, init=None if args.init is None else str(args.init),
                          checkpoint=str(args.out / name))
        path = M.save(net.cpu(), kind, args.out / name)
        plot(hist, args.out / name.replace("udc_", "training_").replace(".pt", ".png"),
             f"UDC divider ({kind.upper()})")
        q = max(1, len(hist) // 10)
        print(f"{kind}: saved {path} after {len(hist)} steps; divided/conquered "
              f"{np.mean([h['divided'] for h in hist[:q]]):.3f} -> "
              f"{np.mean([h['divided'] for h in hist[-q:]]):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
