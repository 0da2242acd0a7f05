"""DCDM's network (Kaneda et al., ICML 2023, §3.2): a nonlinear, fully convolutional CNN
``q = f(r, mask)`` approximating ``A⁻¹ r`` up to an unknown scalar.

:class:`DCDMCNN` is a U-net with ReLU activations on every hidden layer: inputs are the
(normalized) residual and the fluid mask (and the centred log-coefficient, zero for the
constant-coefficient Poisson systems of the paper); every level is 2× average pooling then a
3×3(×3) convolution, the levels below the second share their weights and recurse until the
grid is ``min_size`` cells wide (the paper's "the coarse levels share their weights", so one
model serves grids of any size), and the way up adds each coarse correction, scaled by a
learned per-level gain, to the skip connection of its level. Hidden maps are multiplied by the
level's fluid mask, so solid cells never carry values. The U-net enters as its odd part,
``U(x) − U(−x)`` (one batch of two), so ``f(−r) = −f(r)`` like ``A⁻¹`` (without it a short
training run here learned directions that hardly depended on the sign of ``r``, and DCDM
stalled). The network is NOT linear in ``r`` (ReLU, biases), so PCG's recurrences do not hold
for it — the point of Algorithm 1's explicit A-orthogonalization (``learned/dcdm/solve.py``).

Channel counts are small at full resolution (``c0``) and grow on the coarse levels (``c1`` at
level 1, ``c2`` below), so that one application costs a few hundred multiply-adds per cell on
a CPU core.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .cnn_infer import apply_inference
from .layers import conv_layer, pool_even, stencil_axpys, upsample


class DCDMCNN(nn.Module):
    """``f(r, mask, logk) -> direction`` on a 2-D or 3-D grid of any size (nonlinear)."""

    def __init__(self, dim: int = 2, c0: int = 8, c1: int = 16, c2: int = 16, thin: int = 0,
                 min_size: int = 4, arch: str = "cnn"):
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        if min(c0, c1, c2) < 1 or thin < 0:
            raise ValueError("channel counts must be >= 1 and thin >= 0")
        self.config: dict[str, Any] = {"dim": dim, "c0": c0, "c1": c1, "c2": c2, "thin": thin,
                                       "min_size": min_size, "arch": "cnn"}
        self.dim, self.min_size, self.thin = dim, min_size, thin
        # thin levels (one channel, linear): a 3×3 stencil on the way down and one on the way
        # up per level, and the weight of the level's own features in the sum on the way up
        self.thin_down = nn.ModuleList([conv_layer(dim, 1, 1, bias=False) for _ in range(thin)])
        self.thin_up = nn.ModuleList([conv_layer(dim, 1, 1, bias=False) for _ in range(thin)])
        self.thin_log_weight = nn.Parameter(torch.zeros(thin))
        self.inp = conv_layer(dim, 3, c0)  # (r, mask, logk) → level-0 features
        self.down1 = conv_layer(dim, c0, c1)  # level 1
        self.down2 = conv_layer(dim, c1, c2)  # level 2
        self.down = conv_layer(dim, c2, c2)  # levels ≥ 3 (shared)
        self.bottom = conv_layer(dim, c2, c2)
        # the way up: a transfer convolution on the coarse grid (level ℓ+1 → level ℓ's
        # channels), then, after adding the skip, a convolution on level ℓ
        self.t = conv_layer(dim, c2, c2)  # levels ≥ 2 (shared)
        self.t1 = conv_layer(dim, c2, c1)
        self.t0 = conv_layer(dim, c1, c0)
        self.lvl = conv_layer(dim, c2, c2)  # levels ≥ 2 (shared)
        self.lvl1 = conv_layer(dim, c1, c1)
        self.dec = conv_layer(dim, c0, c0)
        self.out = conv_layer(dim, c0, 1)
        # log of the gain of every coarse correction (A⁻¹ amplifies smooth modes by about 4
        # per level in 2-D); learned, one for all levels, so that deeper grids extrapolate
        self.log_gain = nn.Parameter(torch.zeros(()))

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def gates(self, mask: torch.Tensor, logk: torch.Tensor | None = None) -> dict[str, Any]:
        """The geometry part, once per problem: the fluid-mask pyramid (level ℓ fluid where
        any child is) and the fixed input channels."""
        m = mask.to(torch.float32) if not mask.is_floating_point() else mask
        masks = [m]
        while len(masks) < self.thin + 3 or min(masks[-1].shape[2:]) > self.min_size:
            masks.append((pool_even(masks[-1]) > 0).to(m.dtype))
        logk = torch.zeros_like(m) if logk is None else logk.to(m.dtype)
        for _ in range(self.thin):
            logk = pool_even(logk)
        return {"masks": masks, "geometry": torch.cat([masks[self.thin], logk], dim=1)}

    def apply(self, r: torch.Tensor, gates: dict[str, Any]) -> torch.Tensor:
        """The network on ``r`` (batch, 1, *grid) given :meth:`gates`; without autograd and
        for one residual, :func:`learned.dcdm.cnn_infer.apply_inference` (the same function,
        fewer operations)."""
        if r.shape[0] == 1 and not torch.is_grad_enabled():
            return apply_inference(self, r, gates)
        masks, geo, thin = gates["masks"], gates["geometry"], self.thin
        if geo.shape[0] != r.shape[0]:
            geo = geo.expand(r.shape[0], *geo.shape[1:])
        feats = []  # the thin levels' features (one channel, linear in r)
        x = r
        for ell in range(thin):
            x = self._stencil(x if ell == 0 else pool_even(x), self.thin_down[ell]) * masks[ell]
            feats.append(x)
        x = pool_even(x) if thin else r
        b = x.shape[0]  # the odd part of the core: core(x) − core(−x), both in one batch
        coarse = [m if m.shape[0] == 1 else torch.cat([m, m]) for m in masks[thin:]]
        z = self._core(torch.cat([x, -x]), coarse, torch.cat([geo, geo]))
        z = z[:b] - z[b:]
        for ell in range(thin - 1, -1, -1):  # the thin levels' way up: weighted sum, stencil
            u = torch.exp(self.thin_log_weight[ell]) * feats[ell] + \
                torch.exp(self.log_gain) * upsample(z, feats[ell].shape[2:])
            z = self._stencil(u, self.thin_up[ell]) * masks[ell]
        return z

    def _stencil(self, x: torch.Tensor, conv: nn.Module) -> torch.Tensor:
        """A one-channel 3×3(×3) convolution; as shifted axpys when not training (faster)."""
        if torch.is_grad_enabled() or x.shape[0] != 1 or x[0, 0].numel() < 32_768:
            return conv(x)
        return stencil_axpys(x, conv.weight[0, 0].detach().cpu().numpy())

    def _core(self, r: torch.Tensor, masks: list[torch.Tensor], geo: torch.Tensor) -> torch.Tensor:
        """The nonlinear U-net on the levels ``thin`` and below (its level 0 = level ``thin``)."""
        h = F.relu(self.inp(torch.cat([r, geo], dim=1))) * masks[0]
        skips = [h]
        for ell in range(1, len(masks)):  # the way down: pool, convolve, ReLU, mask
            conv = self.down1 if ell == 1 else self.down2 if ell == 2 else self.down
            h = F.relu(conv(pool_even(h))) * masks[ell]
            skips.append(h)
        gain = torch.exp(self.log_gain)
        u = F.relu(self.bottom(h)) * masks[-1]
        for ell in range(len(masks) - 2, -1, -1):  # the way up: ℓ = L−1 … 0
            transfer = self.t if ell >= 2 else self.t1 if ell == 1 else self.t0
            level = self.lvl if ell >= 2 else self.lvl1 if ell == 1 else self.dec
            u = skips[ell] + gain * upsample(transfer(u), skips[ell].shape[2:])
            u = F.relu(level(u)) * masks[ell]
        return self.out(u) * masks[0]

    def forward(self, r: torch.Tensor, mask: torch.Tensor, logk: torch.Tensor | None = None) -> torch.Tensor:
        return self.apply(r, self.gates(mask.to(r.dtype), logk))
