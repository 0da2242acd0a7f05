"""The torch building blocks of DCDM's networks: 3×3(×3) convolutions, 2× pooling and its
exact adjoint, the BPX starting stencils and a one-channel stencil as shifted axpys."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def conv_layer(dim: int, cin: int, cout: int, bias: bool = True) -> nn.Module:
    """A 3×3 (2-D) or 3×3×3 (3-D) convolution with zero padding (same-size output)."""
    cls = nn.Conv2d if dim == 2 else nn.Conv3d
    return cls(cin, cout, kernel_size=3, padding=1, bias=bias)


def pool_ceil(x: torch.Tensor) -> torch.Tensor:
    """2× average pooling, odd sides rounded up (the older networks' pooling)."""
    if x.dim() == 4:
        return F.avg_pool2d(x, 2, ceil_mode=True)
    return F.avg_pool3d(x, 2, ceil_mode=True)


def bpx_stencils(d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The BPX start's 3^d stencils: the identity and the separable [1, 2, 1]/4 smoothing."""
    eye = torch.zeros((3,) * d)
    eye[(1,) * d] = 1.0
    k1 = torch.tensor([1.0, 2.0, 1.0]) / 4.0
    smooth = k1[:, None] * k1[None, :]
    if d == 3:
        smooth = smooth[:, :, None] * k1[None, None, :]
    return eye, smooth


def pool_even(x: torch.Tensor) -> torch.Tensor:
    """2× average pooling (÷ 2^d) after zero-padding odd axes to even length; exactly linear,
    with the adjoint :func:`pool_adjoint`. Written as strided sums (5–10× faster than
    ``avg_pool2d`` on one core for the thin maps used here)."""
    d = x.dim() - 2
    pad: list[int] = []
    for n in reversed(x.shape[2:]):
        pad += [0, n % 2]
    if any(pad):
        x = F.pad(x, pad)
    if d == 2 and x.shape[-1] * x.shape[-2] < 4096:
        return F.avg_pool2d(x, 2)  # the same function; fewer dispatches on small maps
    if d == 2:
        return (x[..., 0::2, 0::2] + x[..., 1::2, 0::2] + x[..., 0::2, 1::2] + x[..., 1::2, 1::2]) * 0.25
    return F.avg_pool3d(x, 2)


def pool_adjoint(y: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Adjoint of :func:`pool_even`: copy each coarse value to its 2^d children, ÷ 2^d, crop."""
    d = y.dim() - 2
    up = F.interpolate(y * (0.5 ** d), scale_factor=2, mode="nearest")  # scale the coarse grid
    if tuple(up.shape[2:]) != tuple(shape):
        up = up[(..., *(slice(0, n) for n in shape))]
    return up


def upsample(y: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Nearest-neighbour 2× prolongation of ``y`` cropped to ``shape`` (odd sides)."""
    up = F.interpolate(y, scale_factor=2, mode="nearest")
    if tuple(up.shape[2:]) != tuple(shape):
        up = up[(..., *(slice(0, n) for n in shape))]
    return up


def stencil_axpys(x: torch.Tensor, w: np.ndarray) -> torch.Tensor:
    """``conv{2,3}d(x, w, padding=1)`` for one channel and a 3×3(×3) kernel ``w`` (numpy), as
    shifted in-place axpys — 3–5× faster than oneDNN's single-channel convolution on grids
    ≥ 256² (inference only; training takes the autograd path)."""
    dims = x.shape[2:]
    centre = (1,) * len(dims)
    out = x * float(w[centre])
    for off in np.ndindex(*w.shape):
        if off == centre or w[off] == 0.0:
            continue
        dst, src = [], []
        for o, n in zip(off, dims):
            s = o - 1
            dst.append(slice(max(0, -s), n - max(0, s)))
            src.append(slice(max(0, s), n - max(0, -s)))
        out[(..., *dst)].add_(x[(..., *src)], alpha=float(w[off]))
    return out
