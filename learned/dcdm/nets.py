"""Older forms of DCDM's network, kept for comparison and for loading old weight files:
the ReLU U-net :class:`DCDMNet` (Kaneda et al., ICML 2023, §3.2: the coarse levels share their
weights and recurse until the grid is 4 cells wide, like a multigrid V-cycle), the
residual-linear :class:`GatedLinearNet` and the SPD :class:`SPDNet` (``Gᵀ`` by autograd). The
shipped network is :class:`learned.dcdm.lite.LiteSPDNet`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .layers import bpx_stencils, conv_layer, pool_ceil


class DCDMNet(nn.Module):
    """``f(r, mask, logk) -> direction`` on a grid of any size (2-D or 3-D)."""

    def __init__(self, dim: int = 2, c0: int = 8, c1: int = 16, min_size: int = 4):
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        if c0 % 8 or c1 % 8:
            raise ValueError("channel counts must be multiples of 8")
        self.config: dict[str, Any] = {"dim": dim, "c0": c0, "c1": c1, "min_size": min_size, "arch": "relu"}
        self.dim, self.min_size = dim, min_size
        self.enc0 = nn.ModuleList([conv_layer(dim, 3, c0), conv_layer(dim, c0, c0)])
        self.down0 = conv_layer(dim, c0, c1)
        self.down = nn.ModuleList([conv_layer(dim, c1, c1), conv_layer(dim, c1, c1)])  # shared by levels ≥ 1
        self.bottom = conv_layer(dim, c1, c1)
        self.up = nn.ModuleList([conv_layer(dim, c1, c1), conv_layer(dim, c1, c1)])  # shared by levels ≥ 1
        self.up0 = conv_layer(dim, c1, c0)
        self.dec0 = nn.ModuleList([conv_layer(dim, c0, c0), conv_layer(dim, c0, 1)])

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _level(self, h: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """One coarse level (shared weights): smooth, recurse on the coarser grid, correct."""
        h = F.relu(self.down[0](h)) * m
        h = F.relu(self.down[1](h)) * m
        if min(h.shape[2:]) <= self.min_size:
            return F.relu(self.bottom(h)) * m
        mc = (pool_ceil(m) > 0).to(h.dtype)
        c = self._level(pool_ceil(h) * mc, mc)
        h = h + F.interpolate(c, size=h.shape[2:], mode="nearest")
        h = F.relu(self.up[0](h)) * m
        return F.relu(self.up[1](h)) * m

    def forward(self, r: torch.Tensor, mask: torch.Tensor, logk: torch.Tensor | None = None) -> torch.Tensor:
        """``r``, ``mask``, ``logk``: (batch, 1, *grid). Returns a direction (batch, 1, *grid)."""
        m = mask.to(r.dtype)
        if logk is None:
            logk = torch.zeros_like(r)
        x = torch.cat([r, m, logk], dim=1)
        h0 = F.relu(self.enc0[0](x)) * m
        h0 = F.relu(self.enc0[1](h0)) * m
        if min(h0.shape[2:]) > self.min_size:
            mc = (pool_ceil(m) > 0).to(r.dtype)
            h1 = F.relu(self.down0(pool_ceil(h0))) * mc
            c = self._level(h1, mc)
            h0 = h0 + F.relu(self.up0(F.interpolate(c, size=h0.shape[2:], mode="nearest"))) * m
        h0 = F.relu(self.dec0[0](h0)) * m
        return self.dec0[1](h0) * m


class GatedLinearNet(nn.Module):
    """A network that is *linear in the residual* with geometry-dependent gates.

    The residual path has no bias and no activation, so ``f(c r) = c f(r)`` for every scalar c
    (the normalization of step 2 is exact and -r gives -f(r)); it is a learned multilevel
    V-cycle. The geometry (mask, log-coefficient) enters through sigmoid gates multiplied into
    every residual feature map; the gates depend on the geometry only, so ``gates`` is
    computed once per solve and ``apply`` is all a DCDM iteration pays for.
    """

    def __init__(self, dim: int = 2, c0: int = 8, c1: int = 16, min_size: int = 4, arch: str = "gated"):
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        if c0 % 8 or c1 % 8:
            raise ValueError("channel counts must be multiples of 8")
        self.config: dict[str, Any] = {"dim": dim, "c0": c0, "c1": c1, "min_size": min_size,
                                       "arch": "gated"}
        self.dim, self.min_size = dim, min_size
        # geometry path
        self.g0 = nn.ModuleList([conv_layer(dim, 2, c0), conv_layer(dim, c0, c0)])
        self.g1 = nn.ModuleList([conv_layer(dim, c0, c1), conv_layer(dim, c1, c1)])
        self.gs = nn.ModuleList([conv_layer(dim, c1, c1), conv_layer(dim, c1, c1)])  # shared, levels ≥ 2
        # residual path (linear, no bias)
        def lin(a: int, b: int) -> nn.Module:
            return conv_layer(dim, a, b, bias=False)

        self.enc0 = nn.ModuleList([lin(1, c0), lin(c0, c0)])
        self.down0 = lin(c0, c1)
        self.down = lin(c1, c1)
        self.bottom = lin(c1, c1)
        self.up = lin(c1, c1)
        self.up0 = lin(c1, c0)
        self.dec0 = nn.ModuleList([lin(c0, c0), lin(c0, 1)])

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def gates(self, mask: torch.Tensor,
              logk: torch.Tensor | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per level: (gate, fluid mask) — computed from the geometry only."""
        m = mask.to(torch.float32) if not mask.is_floating_point() else mask
        if logk is None:
            logk = torch.zeros_like(m)
        e = F.relu(self.g0[0](torch.cat([m, logk], dim=1))) * m
        out = [(torch.sigmoid(self.g0[1](e)) * m, m)]
        level = 1
        while min(e.shape[2:]) > self.min_size:
            m = (pool_ceil(m) > 0).to(m.dtype)
            convs = self.g1 if level == 1 else self.gs
            e = F.relu(convs[0](pool_ceil(e))) * m
            out.append((torch.sigmoid(convs[1](e)) * m, m))
            level += 1
        return out

    def apply(self, r: torch.Tensor, gates: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """The residual path given precomputed ``gates``."""
        g0, m0 = gates[0]
        h0 = self.enc0[0](r) * g0
        h0 = self.enc0[1](h0) * g0
        if len(gates) > 1:
            c = self._level(self.down0(pool_ceil(h0)) * gates[1][0], gates, 1)
            h0 = h0 + self.up0(F.interpolate(c, size=h0.shape[2:], mode="nearest")) * m0
        h0 = self.dec0[0](h0) * g0
        return self.dec0[1](h0) * m0

    def _level(self, h: torch.Tensor, gates: list, level: int) -> torch.Tensor:
        g, m = gates[level]
        h = self.down(h) * g
        if level + 1 >= len(gates):
            return self.bottom(h) * g
        c = self._level(pool_ceil(h) * gates[level + 1][1], gates, level + 1)
        h = h + F.interpolate(c, size=h.shape[2:], mode="nearest") * m
        return self.up(h) * g

    def forward(self, r: torch.Tensor, mask: torch.Tensor, logk: torch.Tensor | None = None) -> torch.Tensor:
        return self.apply(r, self.gates(mask.to(r.dtype), logk))


class SPDNet(GatedLinearNet):
    """A gated linear multilevel network made symmetric positive semidefinite by construction:
    ``f(r) = Gᵀ G r`` where ``G r`` is the list of gated feature maps of a restriction-only
    pass (one per level, level ℓ scaled by a learned ``exp(s_ℓ)``) — a learned additive
    multilevel (BPX-like) preconditioner. ``Gᵀ`` is applied by reverse-mode autodiff, exact
    because G is linear. A non-symmetric network lets ``rᵀ f(r)`` change sign, and the
    conjugate-direction iteration then stalls on the residuals where it vanishes; with
    ``f`` SPD every step makes progress and plain PCG applies too.
    """

    def __init__(self, dim: int = 2, c0: int = 8, c1: int = 16, min_size: int = 4, arch: str = "spd"):
        super().__init__(dim, c0, c1, min_size)
        self.config["arch"] = "spd"
        del self.up, self.up0, self.dec0, self.bottom
        # level ℓ weight exp(s_ℓ): s_0, s_1, s_2 learned, then s_2 + slope·(ℓ − 2), so that grids
        # deeper than the training ones extrapolate the learned per-level growth
        self.log_scale = nn.Parameter(torch.tensor([0.0, 1.0, 2.0]))
        self.log_slope = nn.Parameter(torch.tensor(float(np.log(2.0))))

    @torch.no_grad()
    def init_bpx(self, gate_bias: float = 6.0) -> SPDNet:
        """Set the weights to a classical additive multilevel (BPX) preconditioner, the
        starting point of training: gates ≈ 1 on fluid cells, level 0 the identity, every
        coarser level a [1, 2, 1]-smoothing after 2× average pooling (its adjoint is a smoothed
        prolongation) on channel 0 and zero elsewhere, and level weights
        ``exp(2 s_ℓ) = 2^{(2 + d) ℓ} / (2d)`` — the inverse of the pooled 2-D/3-D Laplacian's
        scale at level ℓ (pooling halves the grid, A's smooth eigenvalues fall by 4 per level,
        ``poolᵀ pool`` divides by ``2^d``). Untrained, it already takes ~0.1–0.2× CG's
        iterations on 64²–256² grids with obstacles."""
        d = self.dim
        for p in self.parameters():
            p.zero_()
        for g in (self.g0[1], self.g1[1], self.gs[1]):
            g.bias.fill_(gate_bias)
        eye, smooth = bpx_stencils(d)
        self.enc0[0].weight[0, 0] = eye
        self.enc0[1].weight[0, 0] = eye
        self.down0.weight[0, 0] = smooth
        self.down.weight[0, 0] = smooth
        slope = 0.5 * (2 + d) * float(np.log(2.0))
        s0 = -0.5 * float(np.log(2.0 * d))
        self.log_scale.copy_(torch.tensor([s0, s0 + slope, s0 + 2 * slope]))
        self.log_slope.fill_(slope)
        return self

    def encode(self, r: torch.Tensor, gates: list[tuple[torch.Tensor, torch.Tensor]]) -> list[torch.Tensor]:
        g0, _ = gates[0]
        h = self.enc0[0](r) * g0
        h = self.enc0[1](h) * g0
        feats = [h * torch.exp(self.log_scale[0])]
        for level in range(1, len(gates)):
            conv = self.down0 if level == 1 else self.down
            h = conv(pool_ceil(h)) * gates[level][0]
            s = self.log_scale[min(level, 2)] + self.log_slope * max(level - 2, 0)
            feats.append(h * torch.exp(s))
        return feats

    def apply(self, r: torch.Tensor, gates: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        train = torch.is_grad_enabled() and self.log_scale.requires_grad
        with torch.enable_grad():
            x = r.detach().clone().requires_grad_(True)
            feats = self.encode(x, gates)
            outs = feats if train else [f.detach() for f in feats]
            (out,) = torch.autograd.grad(feats, x, grad_outputs=outs, create_graph=train)
        return out * gates[0][1]
