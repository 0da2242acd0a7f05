"""DCDM's network as operators of the solver: the loaded-model cache, the network on grid
tensors and numpy fields, ``r ↦ f(r / rms(r))`` on the unknowns (the paper's direction), and
the torch V-cycle (CUDA path) that wraps the network in red-black sweeps like
:class:`solvers.linear.grid.GridVCycle` does on the CPU."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from problems import LinearSystem
from solvers.linear._common import require_grid
from solvers.linear.grid import gather, grid_stencil, line_search_scale, scatter_unit_rms, unknown_cells

from .model import grid_features, load_model
from .stencil import apply_stencil, smoothed_direction

Operator = Callable[[np.ndarray], np.ndarray]

_MODELS: dict[tuple, Any] = {}


def cached_model(dim: int, weights: str | None, device: str, kind: str = "dcdm",
                 seed: int | None = None) -> Any:
    """:func:`learned.dcdm.model.load_model`, loaded once per (dimension, file, device, kind,
    seed); a file is reloaded when it changed on disk."""
    import os

    on_disk = weights not in (None, "untrained") and os.path.isfile(weights)
    stamp = os.stat(weights).st_mtime_ns if on_disk else 0
    key = (dim, weights, device, kind, seed if weights == "untrained" else None, stamp)
    if key not in _MODELS:
        _MODELS[key] = load_model(dim, weights, device, kind=kind, seed=seed)
    return _MODELS[key]


def grid_and_device(problem: LinearSystem, device: str | None) -> tuple[Any, str]:
    """The problem's grid (a clear error without one) and the device (cuda when available)."""
    grid = require_grid(problem, "dcdm", ": the network reads the residual on the grid; use "
                        "'pcg-ic', 'amg' or 'cg' for a general matrix")
    return grid, device or ("cuda" if torch.cuda.is_available() else "cpu")


def torch_network(model: Any, grid: Any, device: str, homogeneous: bool = False) -> Callable[[Any], Any]:
    """``F ↦ f(F)`` on (1, 1, *grid) float32 tensors on ``device``; the geometry part (gates,
    mask pyramid) is computed here, once per problem. Runs without autograd: inference mode
    for the shipped ``lite`` net, ``no_grad`` for SPDNet (it takes Gᵀ by autograd)."""
    mask_np, logk_np = grid_features(grid)
    no_grad = torch.inference_mode if model.config.get("arch") in ("lite", "cnn") else torch.no_grad
    with no_grad():
        mask = torch.from_numpy(mask_np)[None, None].to(device)
        logk = torch.from_numpy(logk_np)[None, None].to(device)
        gates = model.gates(mask, logk) if hasattr(model, "gates") else None

    def apply(field: Any) -> Any:
        with no_grad():
            if homogeneous:  # f(s) = rms(s) · f(s / rms(s)) over the fluid cells
                rms = (field.square().sum() / mask.sum()).sqrt().clamp_min(1e-30)
                field = field / rms
            out = model(field, mask, logk) if gates is None else model.apply(field, gates)
            return out * rms if homogeneous else out

    return apply


def grid_network(model: Any, grid: Any, device: str, homogeneous: bool = False) -> Operator:
    """:func:`torch_network` for numpy: a float32 field of the grid's shape (C order) in, a
    float32 field (zero on solid cells) out; the tensors go to ``device`` and back.
    ``homogeneous``: the network on the unit-RMS field, scaled back (for a nonlinear net in
    a V-cycle whose line-search scale is fixed once)."""
    net = torch_network(model, grid, device, homogeneous)
    cpu = torch.device(device).type == "cpu"

    def apply(field: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(field).view(1, 1, *grid.shape)
        out = net(t if cpu else t.to(device)).reshape(grid.shape)
        return np.ascontiguousarray(out.numpy() if cpu else out.cpu().numpy())

    return apply


def network_operator(problem: LinearSystem, weights: str | None = None, device: str | None = None,
                     linear: bool = False, model: Any = None, kind: str = "dcdm") -> tuple[Operator, str]:
    """``r ↦ f(r / rms(r))`` on the unknowns of ``problem`` (float64 in and out; step 2's
    normalization), or with ``linear`` the output scaled back by ``rms(r)`` (the map ``r ↦
    f(r)`` of a network linear in r, learned-mg's), and its device. ``model``: a loaded
    network instead of ``weights`` of ``kind`` (training's validation)."""
    grid, dev = grid_and_device(problem, device)
    if model is None:
        model = cached_model(len(grid.shape), weights, dev, kind)
    net = grid_network(model, grid, dev)
    idx = unknown_cells(grid)
    field = np.zeros(int(np.prod(grid.shape)), dtype=np.float32)

    def apply(r: np.ndarray) -> np.ndarray:
        scale = scatter_unit_rms(r, idx, field)  # step 2: unit RMS per cell, on the grid
        out = gather(net(field.reshape(grid.shape)).reshape(-1), idx)
        if linear:
            out *= scale
        return out

    return apply, dev


class TorchGridVCycle:
    """The V-cycle ``B`` of :mod:`solvers.linear.grid` with every step in torch on ``device``
    (the CUDA path: the sweeps and the network stay on the device, one transfer of the
    residual each way per application), by :func:`learned.dcdm.stencil.smoothed_direction`
    with ``α`` fixed once per problem like :class:`solvers.linear.grid.GridVCycle`.
    ``network`` maps a (1, 1, *grid) float32 tensor on ``device`` to one."""

    def __init__(self, problem: Any, network: Callable[[Any], Any], device: str, sweeps: int = 1,
                 probe: np.ndarray | None = None, timing: dict[str, float] | None = None):
        grid, diag, weights = grid_stencil(problem, sweeps)

        def t(a: np.ndarray) -> Any:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None, None].to(device)

        self.diag, self.weights, self.mask = t(diag), [t(w) for w in weights], t(grid.mask)
        self.network, self.sweeps, self.grid, self.device = network, int(sweeps), grid, device
        self.idx = unknown_cells(grid)
        self.timing = timing if timing is not None else {}
        self._field = np.zeros(grid.mask.size, np.float32)
        self.alpha = 1.0
        if probe is not None:
            with torch.no_grad():  # the network picks its own no-autograd mode
                v = self._to_device(probe)[0]
                n = network(v)
                nAn = float((n * apply_stencil(n, self.diag, self.weights)).sum())
                self.alpha = line_search_scale(float((n * v).sum()), nAn)

    def _to_device(self, r: np.ndarray) -> tuple[Any, float]:
        rms = scatter_unit_rms(r, self.idx, self._field)
        field = torch.from_numpy(self._field).view(1, 1, *self.grid.shape)
        return field.to(self.device), rms

    def __call__(self, r: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        with torch.no_grad():
            R, rms = self._to_device(r)
            Z = smoothed_direction(self.network, R, self.mask, self.diag, self.weights, self.sweeps,
                                   alpha=self.alpha)
            z = gather(np.ascontiguousarray(Z.reshape(-1).cpu().numpy()), self.idx)
        z *= rms
        self.timing["network"] = self.timing.get("network", 0.0) + time.perf_counter() - t0
        return z
