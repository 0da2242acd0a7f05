"""DCDM's networks by name, and their weight files: :func:`build_model` (an architecture and
its configuration), :func:`load_model` (the shipped weights, a file written by ``train.py``
— offline — or the seeded initial weights, ``"untrained"``), :func:`save_model`, and
:func:`grid_features`, the geometry inputs every network reads (fluid mask, log-coefficient)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .cnn import DCDMCNN
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


SHIPPED = {"dcdm": "dcdm{dim}d.pt", "learned-mg": "learned_mg{dim}d.pt",
           "learned-mg-plain": "learned_mg{dim}d_plain.pt"}
"""Shipped weight files per model kind: ``dcdm`` the nonlinear CNN of ``method="dcdm"``
(:class:`learned.dcdm.cnn.DCDMCNN`); ``learned-mg`` the linear learned multigrid of
``method="learned-mg"`` trained with red-black sweeps in the loop, ``learned-mg-plain`` the
same network trained for the network alone (``smooth=0``)."""


def shipped_checkpoint(dim: int, kind: str = "dcdm") -> dict | None:
    """The shipped checkpoint of ``kind`` for ``dim``-D grids, or None where none ships."""
    from importlib import resources

    ref = resources.files("learned.dcdm") / "weights" / SHIPPED[kind].format(dim=dim)
    with resources.as_file(ref) as p:
        if p.exists():
            return torch.load(str(p), map_location="cpu", weights_only=True)
    return None


def read_checkpoint(path: str) -> dict:
    """A weights file written by ``train.py``; a clear ValueError when it is missing or is not one."""
    import os

    if not os.path.isfile(path):
        raise ValueError(f"weights file {path!r} does not exist (weights: None for the shipped "
                         "model, 'untrained', or a file written by `optbox train dcdm`)")
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # a torch / pickle error: not a weights file
        raise ValueError(f"weights file {path!r} is not a DCDM weights file ({exc})") from exc
    if not isinstance(ckpt, dict) or "config" not in ckpt or "state_dict" not in ckpt:
        raise ValueError(f"weights file {path!r} is not a DCDM weights file (no config / state_dict)")
    return ckpt


def load_model(dim: int = 2, path: str | None = None, device: str | torch.device = "cpu",
               kind: str = "dcdm", seed: int | None = None) -> nn.Module:
    """Load the shipped weights of ``kind`` (:data:`SHIPPED`; ``learned-mg-plain`` falls back
    to ``learned-mg``), a file written by ``train.py`` (offline), or with
    ``path="untrained"`` the shipped network's architecture with its seeded initial weights
    (:func:`initial_model`: ``seed``, default the shipped run's training seed)."""
    if path is None or path == "untrained":
        ckpt = shipped_checkpoint(dim, kind)
        if ckpt is None and kind == "learned-mg-plain":
            ckpt = shipped_checkpoint(dim, "learned-mg")
        if ckpt is None:
            raise ValueError(f"no shipped {kind} weights for {dim}-D grids "
                                    f"({SHIPPED[kind].format(dim=dim)}); train them with "
                                    f"`optbox train dcdm --dim {dim}` and pass weights=PATH")
    else:
        ckpt = read_checkpoint(str(path))
    if path == "untrained":
        meta = ckpt.get("meta", {})
        init = "bpx" if ckpt["config"].get("arch") in ("lite", "spd") else "random"
        model = initial_model(ckpt["config"], int(meta.get("seed", 0)) if seed is None else seed, init)
    else:
        model = build_model(**ckpt["config"])
        model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model.to(device)


def build_model(arch: str = "relu", **config: Any) -> nn.Module:
    """``arch="cnn"``: :class:`DCDMCNN` (method dcdm); ``"lite"``: :class:`LiteSPDNet` (method
    learned-mg); older forms: ``"spd"`` :class:`SPDNet`, ``"gated"`` :class:`GatedLinearNet`,
    ``"relu"`` :class:`DCDMNet`."""
    if arch == "cnn":
        return DCDMCNN(**config)
    if arch == "lite":
        return LiteSPDNet(**config)
    if arch == "spd":
        return SPDNet(**config)
    if arch == "gated":
        return GatedLinearNet(**config)
    if arch == "relu":
        return DCDMNet(**config)
    raise ValueError(f"arch must be 'cnn', 'lite', 'spd', 'gated' or 'relu', got {arch!r}")


def initial_model(config: dict[str, Any], seed: int, init: str = "random") -> Any:
    """The network of ``config`` with its seeded initial weights — the start of training and
    what ``weights="untrained"`` runs: torch's default initialization under
    ``torch.manual_seed(seed)``, or with ``init="bpx"`` the analytic start of the linear nets."""
    torch.manual_seed(seed)
    model = build_model(**config)
    if init == "bpx":
        if not hasattr(model, "init_bpx"):
            raise ValueError("--init bpx needs --arch lite or spd")
        if config.get("arch") == "lite":
            model.init_bpx(seed=seed)
        else:
            model.init_bpx()
    return model


def save_model(model: nn.Module, path: str, **meta: Any) -> None:
    torch.save({"config": model.config, "state_dict": model.state_dict(), "meta": meta}, path)
