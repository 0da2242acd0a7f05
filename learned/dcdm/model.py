"""DCDM's networks by name, and their weight files: :func:`build_model` (an architecture and
its configuration), :func:`load_model` (the shipped weights or a file written by
``train.py``, offline), :func:`save_model`, and :func:`grid_features`, the geometry inputs
every network reads (fluid mask, log-coefficient)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .lite import LiteSPDNet
from .nets import DCDMNet, GatedLinearNet, SPDNet


def grid_features(grid: Any) -> tuple[np.ndarray, np.ndarray]:
    """Network inputs that describe the geometry: the fluid mask and the log-coefficient,
    centred over the fluid cells (A's scale does not matter to a direction)."""
    mask = grid.mask.astype(np.float32)
    if grid.coeff is None:
        return mask, np.zeros(grid.shape, dtype=np.float32)
    logk = np.log(grid.coeff)
    logk = np.where(grid.mask, logk - logk[grid.mask].mean(), 0.0)
    return mask, logk.astype(np.float32)


def load_model(dim: int = 2, path: str | None = None, device: str | torch.device = "cpu",
               plain: bool = False) -> nn.Module:
    """Load shipped weights or a file written by ``train.py``. Shipped: ``weights/dcdm{dim}d.pt``,
    trained with the solver's default red-black smoothing in the loop; with ``plain``,
    ``weights/dcdm{dim}d_plain.pt`` where shipped, trained for the paper's direction alone
    (``smooth=0``)."""
    if path is None:
        from importlib import resources

        names = [f"dcdm{dim}d_plain.pt", f"dcdm{dim}d.pt"] if plain else [f"dcdm{dim}d.pt"]
        ckpt = None
        for name in names:
            ref = resources.files("learned.dcdm") / "weights" / name
            with resources.as_file(ref) as p:
                if p.exists():
                    ckpt = torch.load(str(p), map_location="cpu", weights_only=True)
                    break
        if ckpt is None:
            raise FileNotFoundError(f"no shipped DCDM weights for {dim}-D grids ({names[-1]})")
    else:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    model = build_model(**ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model.to(device)


def build_model(arch: str = "relu", **config: Any) -> nn.Module:
    """``arch="lite"``: :class:`LiteSPDNet` (the shipped 2-D model); ``"spd"``: :class:`SPDNet`;
    ``"gated"``: :class:`GatedLinearNet`; ``"relu"``:
    :class:`DCDMNet`."""
    if arch == "lite":
        return LiteSPDNet(**config)
    if arch == "spd":
        return SPDNet(**config)
    if arch == "gated":
        return GatedLinearNet(**config)
    if arch == "relu":
        return DCDMNet(**config)
    raise ValueError(f"arch must be 'lite', 'spd', 'gated' or 'relu', got {arch!r}")


def save_model(model: nn.Module, path: str, **meta: Any) -> None:
    torch.save({"config": model.config, "state_dict": model.state_dict(), "meta": meta}, path)
