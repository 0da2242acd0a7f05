"""Train DCDM's network (``optbox train dcdm``): unsupervised, on random geometries.

Loss (``--loss``): ``energy`` (default), the A-norm error left by one exact line-search step,
``1 − (qᵀr)² / (qᵀAq · rᵀA⁻¹r)``; or ``residual``, Kaneda et al. (ICML 2023) eq. (6) as in the
reference code, ``‖r − (qᵀr / qᵀAq) A q‖² / ‖r‖²``. Both eliminate the unknown scale of
``q = f(r)``; ``A q`` is applied as a stencil in torch; right-hand sides from Ritz vectors
(``generator.py``). The residual form can exceed 1 (the energy-optimal step may grow the
2-norm residual); in a short check here it raised the validation iteration count from the
analytic start while the energy form lowered it.
Training starts from the analytic additive multilevel preconditioner (``LiteSPDNet.init_bpx``)
and keeps the weights with the fewest DCDM iterations on fixed held-out problems
(``--val-every``). Sizes are mixed (e.g. 32², 48², 64², 96²) so the fully convolutional
model serves larger grids. Seeded; a progress bar; CUDA when available.

    python -m learned.dcdm.train --dim 2 --minutes 12 --lr 1e-3 --val-every 100 --val-size 128

The shipped weights are such a run followed by fine-tunes from it (``--init``); the commands,
in order, are in ``benchmarks/results/linear.md`` (rounds 4, 6 and 9 for 2-D; 4 and 6 for 3-D).
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
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--arch", default="lite", choices=("lite", "spd", "gated", "relu"),
                   help="lite: sum_l w_l G_l^T G_l r with one-channel fine levels and channels only on "
                   "coarse levels (default, LiteSPDNet); spd: the same form with 8 channels at full "
                   "resolution (SPDNet); gated: linear in the residual with geometry gates; "
                   "relu: plain U-net")
    p.add_argument("--loss", default="energy", choices=("energy", "residual"),
                   help="energy: A-norm error left by one exact line-search step (default); "
                   "residual: the paper's eq. (6), ‖r − (qᵀr/qᵀAq) A q‖² / ‖r‖²")
    p.add_argument("--c0", type=int, default=8)
    p.add_argument("--c1", type=int, default=16)
    p.add_argument("--thin", type=int, default=3, help="lite: number of one-channel finest levels")
    p.add_argument("--cg", type=int, default=8, help="lite: channels of the geometry (gate) path")
    p.add_argument("--smooth", type=int, default=1,
                   help="red-black Gauss–Seidel sweeps around the network in the loss and in "
                   "validation (0: the network's direction alone; the solver runs the trained "
                   "network inside learned.dcdm.solve.DEFAULT_SWEEPS sweeps by default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--init", default="bpx", help="start from these weights, or 'bpx' (lite / spd: "
                   "the classical additive multilevel preconditioner, init_bpx) or 'random'")
    p.add_argument("--val-every", type=int, default=150,
                   help="steps between validations (DCDM iterations on fixed held-out problems); "
                   "the best validated weights are the ones saved; 0: no validation")
    p.add_argument("--val-size", type=int, default=128, help="grid size of the validation problems")
    p.add_argument("--out", default=None, help="weights file (default learned/dcdm/weights/dcdm{dim}d.pt)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.steps < 1 or args.geoms < 1 or args.per_geom < 1 or args.reuse < 1:
        p.error("steps, geoms, per-geom and reuse must be >= 1")
    if args.smooth < 0:
        p.error("smooth must be >= 0")
    return args


def train(args: argparse.Namespace) -> dict[str, list[float]]:
    """Run the training loop; returns the loss history (per step)."""
    import torch
    from tqdm import tqdm

    from .generator import make_batch
    from .losses import dcdm_loss, energy_loss
    from .model import build_model, save_model
    from .stencil import apply_stencil, smoothed_direction

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    sizes = [int(s) for s in (args.sizes or _DEFAULT_SIZES[args.dim]).split(",")]
    extra = {"thin": args.thin, "cg": args.cg} if args.arch == "lite" else {}
    model = build_model(args.arch, dim=args.dim, c0=args.c0, c1=args.c1, **extra)
    if args.init == "bpx":
        if not hasattr(model, "init_bpx"):
            raise ValueError("--init bpx needs --arch lite or spd")
        if args.arch == "lite":
            model.init_bpx(seed=args.seed)
        else:
            model.init_bpx()
    elif args.init and args.init != "random":  # warm start: every parameter of matching name and shape
        old = torch.load(args.init, map_location="cpu", weights_only=True)["state_dict"]
        own = model.state_dict()
        model.load_state_dict({k: v for k, v in old.items() if k in own and own[k].shape == v.shape},
                              strict=False)
    model = model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    out = Path(args.out or Path(__file__).parent / "weights" / f"dcdm{args.dim}d.pt")
    out.parent.mkdir(parents=True, exist_ok=True)
    val = validation_problems(args.dim, args.val_size, args.seed) if args.val_every > 0 else []
    best = (validation_iterations(model, val, device, smooth=args.smooth), 0) if val else None
    best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if best is not None:
        log.info("validation at step 0: %d DCDM iterations", best[0])
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
            rAr = torch.from_numpy(batch.rAr).to(device=device, dtype=torch.float32)
            for _ in range(args.reuse):
                if args.smooth:
                    q = smoothed_direction(lambda s, t=t: model(s, t["mask"], t["logk"]), t["r"],
                                           t["mask"], t["diag"], w, args.smooth)
                else:
                    q = model(t["r"], t["mask"], t["logk"])
                Aq = apply_stencil(q, t["diag"], w)
                if args.loss == "energy":
                    loss = energy_loss(t["r"], q, Aq, rAr)
                else:
                    loss = dcdm_loss(t["r"], q, Aq)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                losses.append(loss.item())
                step += 1
                bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}", n=n)
            if val and step % args.val_every < args.reuse:
                its = validation_iterations(model, val, device, smooth=args.smooth)
                if its <= best[0]:
                    best = (its, step)
                    best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                    save_model(_with_state(model, best_state), str(out), steps=step, val_iterations=its)
                    model.to(device)
                bar.write(f"step {step}: validation {its} DCDM iterations (best {best[0]} at step {best[1]})")
            elif not val and step % 200 < args.reuse:
                save_model(model.cpu(), str(out), steps=step, loss=float(np.mean(losses[-50:])))
                model.to(device)
    except KeyboardInterrupt:
        log.warning("interrupted: saving the model as it is")
    finally:
        bar.close()
    meta = {"steps": step, "seed": args.seed, "sizes": sizes, "init": args.init, "smooth": args.smooth,
            "minutes": (time.perf_counter() - start) / 60,
            "loss": float(np.mean(losses[-50:])) if losses else None}
    if val:
        its = validation_iterations(model, val, device, smooth=args.smooth)
        if its <= best[0]:
            best = (its, step)
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        meta.update(val_iterations=best[0], best_step=best[1])
        log.info("kept the weights of step %d (%d validation iterations)", best[1], best[0])
        model = _with_state(model, best_state)
    save_model(model.cpu(), str(out), **meta)
    log.info("saved %s after %d steps", out, step)
    return {"loss": losses, "best": list(best) if best else []}


def _with_state(model, state):
    model.load_state_dict(state)
    return model.cpu()


def validation_problems(dim: int, n: int, seed: int) -> list:
    """Three fixed held-out problems (training obstacle kinds, seeds outside the training
    stream), random right-hand sides."""
    from problems import LinearSystem
    from problems.linear import random_obstacles

    out = []
    for i, kind in enumerate(("spheres", "boxes", "walls")):
        mask = random_obstacles((n,) * dim, kind=kind, density=0.2, seed=10_000 + seed + i)
        out.append(LinearSystem.poisson((n,) * dim, mask, rhs="random", seed=10_000 + seed + i))
    return out


def validation_iterations(model, problems: list, device, tol: float = 1e-6, cap: int = 400,
                          smooth: int = 1) -> int:
    """Total DCDM iterations (Algorithm 1, k = 2) to ``tol`` over ``problems`` with ``model``
    (``cap`` per problem when it does not converge), the network wrapped in ``smooth``
    red-black sweeps as in the solver (``solvers/linear/grid.py``)."""
    import torch

    from solvers.linear.grid import GridVCycle

    from .operators import grid_network, network_operator

    total = 0
    with torch.no_grad():
        for prob in problems:
            A, b = prob.A, prob.b
            if smooth:
                M = GridVCycle(prob, grid_network(model, prob.grid, str(device)), smooth, b)
            else:
                M = network_operator(prob, model=model, device=str(device))[0]
            x = np.zeros_like(b)
            r = b.copy()
            P: list = []
            k = 0
            while np.linalg.norm(r) > tol * np.linalg.norm(b) and k < cap:
                d = M(r)
                Ad = A @ d
                for p, Ap, pp in P:
                    c = (d @ Ap) / pp
                    d, Ad = d - c * p, Ad - c * Ap
                dAd = d @ Ad
                if not dAd > 0:
                    break
                x += (d @ r) / dAd * d
                r = b - A @ x
                P = (P + [(d, Ad, dAd)])[-2:]
                k += 1
            total += k if np.linalg.norm(r) <= tol * np.linalg.norm(b) else cap
    return total


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
