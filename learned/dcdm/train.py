"""Train DCDM's networks (``optbox train dcdm``): unsupervised, on random geometries.

Default (``--arch cnn``): the nonlinear CNN of ``method="dcdm"`` (:class:`learned.dcdm.cnn.
DCDMCNN`), from its seeded random initial weights. Right-hand sides: combinations of Ritz
vectors weighted toward the low end of the spectrum (Kaneda et al., ICML 2023, §3.3;
``generator.RitzPool``: ``--pool`` geometries per grid size, ``--vectors`` Lanczos vectors
each, coefficients ``9·N(0,1)`` on the lowest half), fresh coefficients every step. Sizes are
mixed (32²–96²) so the fully convolutional model serves larger grids. Loss (``--loss``), both
scale-invariant (the unknown scale of ``f ≈ c A⁻¹`` drops out through the exact line search
``α = qᵀr / qᵀAq`` of Algorithm 1, step 4) and unsupervised:

- ``energy`` (default): the A-norm error left by that step, ``1 − (qᵀr)² / (qᵀAq · rᵀA⁻¹r)``
  (``rᵀA⁻¹r`` per sample by a sparse LU when the pool is built);
- ``residual``: the paper's eq. (6) (reference ``CustomLoss``), ``‖r − α A q‖² / ‖r‖²``.
  Measured here (``benchmarks/results/learned_dcdm.md``): 1.5 CPU-minutes of eq. (6) lowered it
  from 0.93 to 0.42 and the net's DCDM iterations did not converge at all on held-out 64²
  problems (stalled at 0.8), where the energy form reached 75 iterations (CG 314); the shipped
  learned multigrid scores 1.31 on eq. (6), worse than ``q = r`` (0.80) — the 2-norm residual
  of one step is not what the iteration needs.

The weights with the fewest DCDM iterations (Algorithm 1, k = 2) on fixed held-out problems
are kept (``--val-every``; ``--val-kinds rings,crosses``: obstacle shapes training never draws,
:mod:`learned.dcdm.shapes`, at seeds apart from the benchmark's). ``--min-size``: the coarsest
level's width; the levels below the third share their weights, so a net that serves 64³ must
train on grids deep enough to reach them (``--min-size 2`` at 24³–32³ does).

``--arch lite``: the linear learned multigrid of ``method="learned-mg"`` (:class:`learned.
dcdm.lite.LiteSPDNet`), from the analytic BPX start, with the energy loss by default.

    python -m learned.dcdm.train --dim 2 --minutes 12            # weights/dcdm2d.pt
    python -m learned.dcdm.train --arch lite --init bpx --smooth 1  # weights/learned_mg2d.pt

Seeded (the same ``--seed`` and step count give the same weights); a progress bar; CUDA when
available. The shipped runs' commands are in ``benchmarks/results/learned_dcdm.md``.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_DEFAULT_SIZES = {2: "32,48,64,96", 3: "16,24,32"}
DEFAULT_CNN = {"c0": 8, "c1": 16, "c2": 16, "thin": 2, "min_size": 4}
"""The shipped CNN's channels (full-channel levels ``c0`` / ``c1`` / ``c2`` below ``thin``
one-channel linear levels; coarse levels down to ``min_size`` cells); see
``benchmarks/results/learned_dcdm.md``."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="optbox train dcdm", description=__doc__.split("\n")[0])
    p.add_argument("--dim", type=int, default=2, choices=(2, 3))
    p.add_argument("--arch", default="cnn", choices=("cnn", "lite", "spd", "gated", "relu"),
                   help="cnn: the nonlinear CNN of method dcdm (default); lite: the linear learned "
                   "multigrid of method learned-mg; spd / gated / relu: older forms (nets.py)")
    p.add_argument("--sizes", default=None, help="comma-separated grid sizes (default 2-D: "
                   f"{_DEFAULT_SIZES[2]}; 3-D: {_DEFAULT_SIZES[3]})")
    p.add_argument("--steps", type=int, default=100_000, help="optimizer steps (upper bound)")
    p.add_argument("--minutes", type=float, default=None, help="stop after this wall-clock budget")
    p.add_argument("--pool", type=int, default=6, help="training geometries per grid size")
    p.add_argument("--vectors", type=int, default=500, help="Lanczos / Ritz vectors per geometry")
    p.add_argument("--high", type=float, default=0.0, help="fraction of right-hand sides on the "
                   "upper half of the Ritz spectrum only (high-frequency residuals; default 0)")
    p.add_argument("--noise", type=float, default=0.0, help="fraction of right-hand sides that "
                   "are white noise on the unknowns (all of the spectrum; default 0)")
    p.add_argument("--geoms", type=int, default=4, help="geometries per batch")
    p.add_argument("--per-geom", type=int, default=4, help="right-hand sides per geometry")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--loss", default="energy", choices=("residual", "energy", "signed"),
                   help="energy: the A-norm error left by one exact line-search step (default); "
                   "signed: the same with the sign of qᵀr kept (f(r)ᵀr < 0 penalized); "
                   "residual: the paper's eq. (6)")
    for name, default in DEFAULT_CNN.items():
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, default=None,
                       help=f"channels / one-channel levels / coarsest width (cnn: {default}; "
                       "lite: c0 8, c1 16, thin 3)")
    p.add_argument("--cg", type=int, default=8, help="lite: channels of the geometry (gate) path")
    p.add_argument("--smooth", type=int, default=0,
                   help="red-black Gauss–Seidel sweeps around the network in the loss and in "
                   "validation (0: the network's direction alone, the paper's form)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--init", default=None, help="start from these weights, 'random' (the seeded "
                   "initial weights; default for cnn) or 'bpx' (lite / spd: the analytic additive "
                   "multilevel preconditioner; default for them)")
    p.add_argument("--val-every", type=int, default=200,
                   help="steps between validations (DCDM iterations on fixed held-out problems); "
                   "the best validated weights are the ones saved; 0: no validation")
    p.add_argument("--val-size", type=int, default=128, help="grid size of the validation problems")
    p.add_argument("--val-kinds", default="spheres,boxes,walls", help="obstacle kinds of the "
                   "validation problems: training kinds (random right-hand side) or the unseen "
                   "'rings', 'crosses' (divergence right-hand side, seeds apart from the benchmark's)")
    p.add_argument("--val-count", type=int, default=1, help="validation problems per kind")
    p.add_argument("--out", default=None, help="weights file (default learned/dcdm/weights/"
                   "dcdm{dim}d.pt for cnn, learned_mg{dim}d.pt for lite)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if min(args.steps, args.geoms, args.per_geom, args.pool, args.vectors) < 1:
        p.error("steps, geoms, per-geom, pool and vectors must be >= 1")
    if args.smooth < 0:
        p.error("smooth must be >= 0")
    lite = args.arch in ("lite", "spd")
    args.init = args.init or ("bpx" if lite else "random")
    return args


def model_config(args: argparse.Namespace) -> dict[str, Any]:
    """The architecture and its configuration from the command line."""
    if args.arch == "cnn":
        cfg = {k: (getattr(args, k) if getattr(args, k) is not None else v) for k, v in DEFAULT_CNN.items()}
        return {"arch": "cnn", "dim": args.dim, **cfg}
    cfg = {"arch": args.arch, "dim": args.dim, "c0": args.c0 or 8, "c1": args.c1 or 16}
    if args.arch == "lite":
        cfg.update(thin=3 if args.thin is None else args.thin, cg=args.cg)
    return cfg


def train(args: argparse.Namespace) -> dict[str, list[float]]:
    """Run the training loop; returns the loss history (per step) and the best validation."""
    import torch
    from tqdm import tqdm

    from .generator import RitzPool
    from .losses import dcdm_loss, energy_loss
    from .model import initial_model, save_model
    from .stencil import apply_stencil, smoothed_direction

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    sizes = [int(s) for s in (args.sizes or _DEFAULT_SIZES[args.dim]).split(",")]
    config = model_config(args)
    init = args.init if args.init in ("random", "bpx") else "random"
    model = initial_model(config, args.seed, init)
    if args.init not in ("random", "bpx"):  # warm start: every parameter of matching name and shape
        old = torch.load(args.init, map_location="cpu", weights_only=True)["state_dict"]
        own = model.state_dict()
        model.load_state_dict({k: v for k, v in old.items() if k in own and own[k].shape == v.shape},
                              strict=False)
    model = model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    stem = "dcdm" if args.arch == "cnn" else "learned_mg"
    out = Path(args.out or Path(__file__).parent / "weights" / f"{stem}{args.dim}d.pt")
    out.parent.mkdir(parents=True, exist_ok=True)
    t_pool = time.perf_counter()
    pool = RitzPool([(n,) * args.dim for n in sizes], args.pool, args.vectors, rng,
                    exact=args.loss in ("energy", "signed"), high=args.high, noise=args.noise)
    log.info("training set: %d geometries, %d Ritz vectors (%.0f s)",
             args.pool * len(sizes), pool.vectors(), time.perf_counter() - t_pool)
    val = validation_problems(args.dim, args.val_size, args.seed, args.val_kinds.split(","),
                              args.val_count) if args.val_every > 0 else []
    best = (validation_iterations(model, val, device, smooth=args.smooth), 0) if val else None
    best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if best is not None:
        log.info("validation at step 0: %d DCDM iterations", best[0])
    meta = {"seed": args.seed, "sizes": sizes, "init": args.init, "smooth": args.smooth,
            "loss_kind": args.loss, "pool": args.pool, "vectors": args.vectors, "high": args.high,
            "noise": args.noise}
    budget = None if args.minutes is None else 60.0 * args.minutes
    start = time.perf_counter()
    losses: list[float] = []
    bar = tqdm(total=args.steps, disable=args.quiet, desc=f"{stem} {args.dim}-D", unit="step")
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
            batch = pool.batch((n,) * args.dim, args.geoms, args.per_geom, rng)
            t = {k: torch.from_numpy(getattr(batch, k)).to(device) for k in ("r", "mask", "logk", "diag")}
            w = [torch.from_numpy(x).to(device) for x in batch.weights]
            if args.smooth:
                q = smoothed_direction(lambda s, t=t: model(s, t["mask"], t["logk"]), t["r"],
                                       t["mask"], t["diag"], w, args.smooth)
            else:
                q = model(t["r"], t["mask"], t["logk"])
            Aq = apply_stencil(q, t["diag"], w)
            if args.loss in ("energy", "signed"):
                rAr = torch.from_numpy(batch.rAr).to(device=device, dtype=torch.float32)
                loss = energy_loss(t["r"], q, Aq, rAr, signed=args.loss == "signed")
            else:
                loss = dcdm_loss(t["r"], q, Aq)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
            step += 1
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}", n=n)
            if val and step % args.val_every == 0:
                its = validation_iterations(model, val, device, smooth=args.smooth)
                if its <= best[0]:
                    best = (its, step)
                    best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                    save_model(_with_state(model, best_state), str(out), steps=step, val_iterations=its,
                               **meta)
                    model.to(device)
                bar.write(f"step {step}: loss {np.mean(losses[-50:]):.4f}, validation {its} DCDM "
                          f"iterations (best {best[0]} at step {best[1]})")
    finally:
        bar.close()
    meta.update(steps=step, minutes=(time.perf_counter() - start) / 60,
                loss=float(np.mean(losses[-50:])) if losses else None)
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


def validation_problems(dim: int, n: int, seed: int,
                        kinds: tuple[str, ...] | list[str] = ("spheres", "boxes", "walls"),
                        count: int = 1) -> list:
    """Fixed held-out problems, ``count`` per obstacle kind (seeds outside the training
    stream): training kinds with a random right-hand side, or the unseen kinds of
    :mod:`learned.dcdm.shapes` with the divergence right-hand side."""
    from problems import LinearSystem
    from problems.linear import random_obstacles

    from .shapes import UNSEEN_KINDS, unseen_obstacles

    out = []
    for i, kind in enumerate(k for k in kinds for _ in range(count)):
        s, shape = 10_000 + seed + i, (n,) * dim
        if kind in UNSEEN_KINDS:
            mask = unseen_obstacles(shape, kind, s)
            out.append(LinearSystem.poisson(shape, mask, rhs="divergence", seed=s))
        else:
            mask = random_obstacles(shape, kind=kind, density=0.2, seed=s)
            out.append(LinearSystem.poisson(shape, mask, rhs="random", seed=s))
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
