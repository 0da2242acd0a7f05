"""Train DCDM's network (``optbox train dcdm``): unsupervised, on random geometries.

Loss: Kaneda et al. (ICML 2023) eq. (6), ``‖r − (qᵀr / qᵀAq) A q‖² / ‖r‖²`` with ``q = f(r)``,
``A q`` applied as a stencil in torch; right-hand sides from Ritz vectors (``generator.py``).
Sizes are mixed (e.g. 32², 48², 64², 96²) so the fully convolutional model serves larger
grids. Seeded; a progress bar; CUDA when available.

    python -m learned.dcdm.train --dim 2 --minutes 25 --out learned/dcdm/weights/dcdm2d.pt
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_DEFAULT_SIZES = {2: "32,48,64,96", 3: "16,24,32"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="optbox train dcdm", description=__doc__.split("\n")[0])
    p.add_argument("--dim", type=int, default=2, choices=(2, 3))
    p.add_argument("--sizes", default=None, help="comma-separated grid sizes (default 2-D: "
                   f"{_DEFAULT_SIZES[2]}; 3-D: {_DEFAULT_SIZES[3]})")
    p.add_argument("--steps", type=int, default=100_000, help="optimizer steps (upper bound)")
    p.add_argument("--minutes", type=float, default=None, help="stop after this wall-clock budget")
    p.add_argument("--geoms", type=int, default=4, help="geometries per batch")
    p.add_argument("--per-geom", type=int, default=4, help="right-hand sides per geometry")
    p.add_argument("--reuse", type=int, default=4, help="optimizer steps per generated batch")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--arch", default="spd", choices=("spd", "gated", "relu"),
                   help="spd: G^T G r with G a gated linear multilevel net (default); gated: linear "
                   "in the residual with geometry gates; relu: plain U-net")
    p.add_argument("--c0", type=int, default=8)
    p.add_argument("--c1", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--init", default=None, help="start from these weights")
    p.add_argument("--out", default=None, help="weights file (default learned/dcdm/weights/dcdm{dim}d.pt)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.steps < 1 or args.geoms < 1 or args.per_geom < 1 or args.reuse < 1:
        p.error("steps, geoms, per-geom and reuse must be >= 1")
    return args


def train(args: argparse.Namespace) -> dict[str, list[float]]:
    """Run the training loop; returns the loss history (per step)."""
    import torch
    from tqdm import tqdm

    from .generator import make_batch
    from .model import apply_stencil, build_model, dcdm_loss, save_model

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    sizes = [int(s) for s in (args.sizes or _DEFAULT_SIZES[args.dim]).split(",")]
    model = build_model(args.arch, dim=args.dim, c0=args.c0, c1=args.c1)
    if args.init:  # warm start: every parameter of matching name and shape
        old = torch.load(args.init, map_location="cpu", weights_only=True)["state_dict"]
        own = model.state_dict()
        model.load_state_dict({k: v for k, v in old.items() if k in own and own[k].shape == v.shape},
                              strict=False)
    model = model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    out = Path(args.out or Path(__file__).parent / "weights" / f"dcdm{args.dim}d.pt")
    out.parent.mkdir(parents=True, exist_ok=True)
    budget = None if args.minutes is None else 60.0 * args.minutes
    start = time.perf_counter()
    losses: list[float] = []
    bar = tqdm(total=args.steps, disable=args.quiet, desc=f"dcdm {args.dim}-D", unit="step")
    step = 0
    try:
        while step < args.steps:
            elapsed = time.perf_counter() - start
            if budget is not None and elapsed >= budget:
                break
            # cosine decay over the step or time budget, whichever is tighter
            frac = step / args.steps if budget is None else max(step / args.steps, elapsed / budget)
            for group in opt.param_groups:
                group["lr"] = args.lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(frac, 1.0))))
            n = sizes[int(rng.integers(len(sizes)))]
            batch = make_batch((n,) * args.dim, args.geoms, args.per_geom, rng)
            t = {k: torch.from_numpy(getattr(batch, k)).to(device) for k in ("r", "mask", "logk", "diag")}
            w = [torch.from_numpy(x).to(device) for x in batch.weights]
            for _ in range(args.reuse):
                q = model(t["r"], t["mask"], t["logk"])
                loss = dcdm_loss(t["r"], q, apply_stencil(q, t["diag"], w))
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                losses.append(loss.item())
                step += 1
                bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}", n=n)
            if step % 200 < args.reuse:
                save_model(model.cpu(), str(out), steps=step, loss=float(np.mean(losses[-50:])))
                model.to(device)
    except KeyboardInterrupt:
        log.warning("interrupted: saving the model as it is")
    finally:
        bar.close()
    save_model(model.cpu(), str(out), steps=step, seed=args.seed, sizes=sizes,
               minutes=(time.perf_counter() - start) / 60,
               loss=float(np.mean(losses[-50:])) if losses else None)
    log.info("saved %s after %d steps", out, step)
    return {"loss": losses}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    hist = train(args)
    loss = hist["loss"]
    if loss:
        k = max(1, min(50, len(loss) // 4))
        print(f"steps {len(loss)}  loss first {np.mean(loss[:k]):.4f}  last {np.mean(loss[-k:]):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
