"""The grid operator and the solver's smoothed direction in torch (batched, differentiable):
``A q`` as a stencil, the red-black colouring, and the V-cycle of
``solvers/linear/grid.py`` around a network (used in training and on CUDA)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def apply_stencil(q: torch.Tensor, diag: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
    """``A q`` for the 5/7-point stencil given as grid arrays (``problems.linear.Grid.stencil``):
    ``(Aq)_i = diag_i q_i - Σ_faces w q_neighbour``; all tensors (batch, 1, *grid)."""
    out = diag * q
    for axis, w in enumerate(weights):
        ax = axis + 2
        n = q.shape[ax]
        lo, hi = q.narrow(ax, 0, n - 1), q.narrow(ax, 1, n - 1)
        pad_hi = [0, 0] * (q.dim() - 2)
        pad_lo = list(pad_hi)
        k = 2 * (q.dim() - 1 - ax)
        pad_hi[k + 1] = 1  # pad after: result for cells 0..n-2 (neighbour above)
        pad_lo[k] = 1  # pad before: result for cells 1..n-1 (neighbour below)
        out = out - F.pad(w * hi, pad_hi) - F.pad(w * lo, pad_lo)
    return out


def colour_masks(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Red (even coordinate sum) and black fluid cells of a (batch, 1, *grid) mask, the
    colouring of ``solvers.linear.grid``."""
    dims = mask.shape[2:]
    parity = torch.zeros(dims, dtype=torch.int64, device=mask.device)
    for axis, n in enumerate(dims):
        shape = [1] * len(dims)
        shape[axis] = n
        parity = parity + torch.arange(n, device=mask.device).view(shape)
    red = (parity % 2 == 0).to(mask.dtype)
    m = mask.to(red.dtype)
    return red * m, (1 - red) * m


def smoothed_direction(network: Any, r: torch.Tensor, mask: torch.Tensor, diag: torch.Tensor,
                       weights: list[torch.Tensor], sweeps: int = 1,
                       alpha: float | None = None) -> torch.Tensor:
    """The preconditioner of ``solvers/linear/grid.py`` in torch, batched: ``z = S r``;
    ``z += α N(r − A z)``; ``z += Sᵀ(r − A z)``, with ``S`` ``sweeps`` red-black Gauss–Seidel
    sweeps (red, black; the adjoint black, red) and ``N = network`` (a map of (batch, 1,
    *grid) tensors). ``alpha`` None (training): ``α = nᵀs / nᵀA n`` per sample, the exact line
    search of the network on its input ``s``; the solver passes the α it fixed once per
    problem (its torch / CUDA path)."""
    red, black = colour_masks(mask)
    inv = torch.where(diag > 0, 1.0 / diag.clamp_min(1e-30), torch.zeros_like(diag))

    def relax(z: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
        return z + colour * inv * (r - apply_stencil(z, diag, weights))

    z = red * inv * r
    z = relax(z, black)
    for _ in range(sweeps - 1):
        z = relax(relax(z, red), black)
    s = r - apply_stencil(z, diag, weights)
    n = network(s)
    if alpha is None:
        dims = tuple(range(1, r.dim()))
        nAn = (n * apply_stencil(n, diag, weights)).sum(dims).clamp_min(1e-30)
        z = z + ((n * s).sum(dims) / nAn).view(-1, *([1] * (r.dim() - 1))) * n
    else:
        z = z + alpha * n
    for _ in range(sweeps):
        z = relax(relax(z, black), red)
    return z
