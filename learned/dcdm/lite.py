"""DCDM's shipped network (2-D and 3-D): :class:`LiteSPDNet`, a learned additive multilevel
operator ``Σ_ℓ w_ℓ G_ℓᵀ G_ℓ`` (SPD by construction) with one channel on the finest levels and
the channels only on the coarse grids, geometry-dependent gates computed once per problem, and
``Gᵀ`` written out — cheap enough on one CPU core to beat CG's wall-clock from ≈ 160² up
(benchmarks/results/linear.md). Kaneda et al. (ICML 2023), §3.2: a CNN ``f(r)`` whose output
is a search direction; inputs are the normalized residual, the fluid mask and the
log-coefficient on the grid (:func:`learned.dcdm.model.grid_features`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .layers import bpx_stencils, conv_layer, pool_adjoint, pool_even, stencil_axpys


class LiteSPDNet(nn.Module):
    """The fast DCDM network: a learned additive multilevel (BPX-type) operator
    ``f(r) = Σ_ℓ w_ℓ G_ℓᵀ G_ℓ r`` — symmetric positive semidefinite by construction, definite
    on the fluid cells — whose ``thin`` finest levels have ONE channel and whose channels
    (``c0`` at level ``thin``, ``c1`` below) live only on the coarse grids.

    ``G_0 r = g_0 ⊙ K_0 r`` and, for ℓ ≥ 1, ``G_ℓ r = g_ℓ ⊙ C_ℓ(P G_{ℓ−1} r)``: ``P`` is 2×
    average pooling, ``K_0`` and ``C_ℓ`` 3×3 convolutions (1 → 1 on the thin levels, then
    1 → c0, c0 → c1, and one c1 → c1 shared by all deeper levels, so any grid size works);
    ``w_ℓ = exp(2 s_ℓ)`` with ``s_ℓ`` learned per distinct level and then extrapolated by a
    learned slope. The gates ``g_ℓ = 2σ(·) ⊙ mask_ℓ`` come from a small geometry network on
    (mask, log-coefficient) and are computed once per problem (:meth:`gates`). ``Gᵀ`` is
    written out (transposed convolutions, the adjoint of pooling) rather than taken by
    autograd, so one application is one restriction pass down and one prolongation pass up,
    the shape of a multigrid V-cycle. Kaneda et al. (§3.2) ask only that f approximate A⁻¹
    up to a scale; the SPD form keeps every DCDM step (Algorithm 1, step 4) a descent step.

    Why thin fine levels: in the earlier 8/16-channel :class:`SPDNet` started from BPX, every
    channel but channel 0 got exactly zero gradient (f is quadratic in a zero channel's
    weights) and stayed zero, and so did the zero-initialized geometry path: the shipped
    12,972-parameter net computed a one-channel BPX while paying 8 channels at full
    resolution (≈ 2,000 multiply-adds per cell instead of ≈ 40). Here the coarse channels
    and the geometry path start from small random weights, so that they can learn.
    """

    def __init__(self, dim: int = 2, c0: int = 8, c1: int = 8, cg: int = 8, thin: int = 2,
                 min_size: int = 4, arch: str = "lite"):
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        if c0 % 8 or c1 % 8 or cg % 8 or min(c0, c1, cg) < 8:
            raise ValueError("channel counts c0, c1, cg must be positive multiples of 8")
        if thin < 1:
            raise ValueError(f"thin (one-channel levels) must be >= 1, got {thin}")
        self.config: dict[str, Any] = {"dim": dim, "c0": c0, "c1": c1, "cg": cg, "thin": thin,
                                       "min_size": min_size, "arch": "lite"}
        self.dim, self.min_size, self.thin = dim, min_size, thin
        # geometry path (once per problem): features at level 0, level 1, shared below
        self.geo0 = conv_layer(dim, 2, cg)
        self.geo = nn.ModuleList([conv_layer(dim, cg, cg), conv_layer(dim, cg, cg)])
        outs = [1] * thin + [c0, c1, c1]
        self.gate_out = nn.ModuleList([conv_layer(dim, cg, c) for c in outs])

        def lin(a: int, b: int) -> nn.Module:
            return conv_layer(dim, a, b, bias=False)

        # residual path (linear, no bias): level 0, 1, …, thin + 1, then shared
        chans = [1] * (thin + 1) + [c0, c1, c1]
        self.convs = nn.ModuleList([lin(a, b) for a, b in zip(chans[:-1], chans[1:])])
        self.convs[0] = lin(1, 1)
        self.log_scale = nn.Parameter(torch.zeros(thin + 2))
        self.log_slope = nn.Parameter(torch.tensor(float(np.log(2.0))))
        self._fast: tuple | None = None
        self.fused = True  # CPU inference through the numba kernels (_apply_fused)
        # parameters for the inference cache's key (in-place updates — optimizer steps,
        # load_state_dict — bump their versions; reassigning a Parameter needs a new model)
        self._params: list[nn.Parameter] | None = None

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _index(self, level: int) -> int:
        """Which convolution / gate head serves ``level`` (deeper levels share the last)."""
        return min(level, self.thin + 2)

    @torch.no_grad()
    def init_bpx(self, noise: float = 1e-2, seed: int = 0) -> LiteSPDNet:
        """The classical additive multilevel (BPX) preconditioner plus ``noise``-sized random
        weights on the channels that BPX does not use (so that they receive gradient): gates
        exactly 1 on fluid cells, ``K_0`` the identity, each coarser level a [1, 2, 1]
        smoothing after pooling on channel 0, level weights ``2^{(2+d)ℓ} / (2d)`` (the
        inverse scale of the pooled Laplacian at level ℓ, as in :meth:`SPDNet.init_bpx`)."""
        d = self.dim
        gen = torch.Generator().manual_seed(seed)
        for p in self.parameters():
            p.copy_(noise * torch.randn(p.shape, generator=gen))
        for conv in (self.geo0, *self.geo):  # geometry features: a default-scale random start
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen)
                              / np.sqrt(conv.weight[0].numel()))
            conv.bias.zero_()
        for conv in self.gate_out:  # 2σ(0) = 1
            conv.weight.zero_()
            conv.bias.zero_()
        eye, smooth = bpx_stencils(d)
        self.convs[0].weight[0, 0] = eye
        for conv in self.convs[1:]:
            conv.weight[0, 0] = smooth
        slope = 0.5 * (2 + d) * float(np.log(2.0))
        s0 = -0.5 * float(np.log(2.0 * d))
        self.log_scale.copy_(torch.tensor([s0 + i * slope for i in range(self.thin + 2)]))
        self.log_slope.fill_(slope)
        return self

    def gates(self, mask: torch.Tensor,
              logk: torch.Tensor | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per level ℓ: (gates g_ℓ, fluid mask of level ℓ); from the geometry only."""
        m = mask.to(torch.float32) if not mask.is_floating_point() else mask
        if logk is None:
            logk = torch.zeros_like(m)
        e = F.relu(self.geo0(torch.cat([m, logk.to(m.dtype)], dim=1))) * m
        out = [(2.0 * torch.sigmoid(self.gate_out[0](e)) * m, m)]
        level = 1
        while min(e.shape[2:]) > self.min_size:
            m = (pool_even(m) > 0).to(m.dtype)
            e = F.relu(self.geo[min(level, 2) - 1](pool_even(e))) * m
            out.append((2.0 * torch.sigmoid(self.gate_out[self._index(level)](e)) * m, m))
            level += 1
        return out

    def _weights(self, levels: int) -> list[torch.Tensor]:
        last = self.thin + 1
        return [torch.exp(2.0 * (self.log_scale[min(ell, last)] + self.log_slope * max(ell - last, 0)))
                for ell in range(levels)]

    def _kernels(self) -> list:
        """Per convolution: (weight, flipped channel-transposed weight) — ``conv(x, Wᵀ)`` with
        the flipped, transposed kernel is the adjoint of ``conv(x, W)`` (zero padding)."""
        flip = tuple(range(2, 2 + self.dim))
        return [(c.weight, c.weight.flip(flip).transpose(0, 1)) for c in self.convs]

    def _inference_cache(self, r: torch.Tensor) -> tuple:
        if self._params is None:  # the module walk of parameters() costs ~0.5 ms a call
            self._params = list(self.parameters())
        key = (r.device, r.dtype, tuple(p._version for p in self._params))
        if self._fast is None or self._fast[0] != key:
            with torch.no_grad():
                kern = [(a.detach().to(r.dtype).contiguous(), b.detach().to(r.dtype).contiguous())
                        for a, b in self._kernels()]
                floats = [(a[0, 0].cpu().float().numpy().copy(), b[0, 0].cpu().float().numpy().copy())
                          if a.shape[:2] == (1, 1) and a.device.type == "cpu" else None for a, b in kern]
                self._fast = (key, kern, [float(v) for v in self._weights(32)], floats)
        return self._fast[1:]

    def apply(self, r: torch.Tensor, gates: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """``f(r) = Σ_ℓ w_ℓ G_ℓᵀ G_ℓ r`` given precomputed :meth:`gates`: restriction down the
        levels, then the transposed pass up, accumulating the weighted features."""
        conv = F.conv2d if self.dim == 2 else F.conv3d
        if torch.is_grad_enabled():
            kern, w, floats = self._kernels(), self._weights(len(gates)), [None] * len(self.convs)
        else:
            kern, w, floats = self._inference_cache(r)
            if (r.device.type == "cpu" and r.dtype == torch.float32
                    and r.shape[:2] == (1, 1) and self.fused):
                return self._apply_fused(r, gates, kern, w, floats)

        def c(x: torch.Tensor, i: int, t: int) -> torch.Tensor:
            if floats[i] is not None and x[0, 0].numel() >= 32_768:
                return stencil_axpys(x, floats[i][t])
            return conv(x, kern[i][t], padding=1)

        h = c(r, 0, 0) * gates[0][0]
        feats = [h]
        for ell in range(1, len(gates)):
            h = c(pool_even(h), self._index(ell), 0) * gates[ell][0]
            feats.append(h)
        a = feats[-1] * w[len(gates) - 1]
        for ell in range(len(gates) - 1, 0, -1):
            a = c(a * gates[ell][0], self._index(ell), 1)
            a = pool_adjoint(a, feats[ell - 1].shape[2:])
            wl = w[ell - 1]
            a = a.add_(feats[ell - 1], alpha=wl) if isinstance(wl, float) else a + feats[ell - 1] * wl
        return c(a * gates[0][0], 0, 1) * gates[0][1]

    def _apply_fused(self, r: torch.Tensor, gates: list[tuple[torch.Tensor, torch.Tensor]],
                     kern: list, w: list[float], floats: list) -> torch.Tensor:
        """:meth:`apply` for one float32 grid (2-D or 3-D) on the CPU: the one-channel levels
        ``0 … thin−1`` by the fused numba kernels of :mod:`learned.dcdm._fused` (one pass per
        level and direction), the multi-channel coarse levels by torch as in :meth:`apply`."""
        from . import _fused as fk

        d3 = self.dim == 3
        stencil_gate = fk.stencil_gate3 if d3 else fk.stencil_gate
        pool_stencil_gate = fk.pool_stencil_gate3 if d3 else fk.pool_stencil_gate
        pool = fk.pool_even3 if d3 else fk.pool_even
        up_add = fk.up_add3 if d3 else fk.up_add
        gate_stencil_up_add = fk.gate_stencil_up_add3 if d3 else fk.gate_stencil_up_add
        gate_stencil_gate = fk.gate_stencil_gate3 if d3 else fk.gate_stencil_gate
        levels = len(gates)
        thin = min(self.thin, levels)
        k32 = floats  # per convolution: float32 (kernel, flipped kernel) of the 1→1 ones
        g = [gates[ell][0][0, 0].numpy() for ell in range(thin)]
        x = r[0, 0].numpy()
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        feats = [np.empty_like(x)]
        stencil_gate(x, k32[0][0], g[0], feats[0])
        for ell in range(1, thin):
            h = np.empty_like(g[ell])
            pool_stencil_gate(feats[-1], k32[ell][0], g[ell], np.empty_like(g[ell]), h)
            feats.append(h)
        if levels > thin:  # multi-channel coarse levels: torch convolutions, as in apply
            conv = F.conv3d if d3 else F.conv2d
            c = [kern[self._index(ell)] for ell in range(levels)]
            fine = feats[-1]
            pooled = np.empty(tuple((n + 1) // 2 for n in fine.shape), np.float32)
            pool(fine, pooled)
            h = torch.from_numpy(pooled)[None, None]
            tf = []
            for ell in range(thin, levels):
                h = conv(h if ell == thin else pool_even(h), c[ell][0], padding=1) * gates[ell][0]
                tf.append(h)
            a = tf[-1] * w[levels - 1]
            for ell in range(levels - 1, thin, -1):
                a = pool_adjoint(conv(a * gates[ell][0], c[ell][1], padding=1), tf[ell - 1 - thin].shape[2:])
                a = a.add_(tf[ell - 1 - thin], alpha=w[ell - 1])
            z = conv(a * gates[thin][0], c[thin][1], padding=1)[0, 0].numpy()
            a = np.empty_like(feats[-1])
            up_add(z, feats[-1], w[thin - 1], a)
        else:
            a = feats[-1] * np.float32(w[levels - 1])
        for ell in range(thin - 1, 0, -1):
            out = np.empty_like(feats[ell - 1])
            gate_stencil_up_add(a, g[ell], k32[ell][1], feats[ell - 1], w[ell - 1],
                                np.empty_like(a), np.empty_like(a), out)
            a = out
        out = np.empty_like(a)
        gate_stencil_gate(a, g[0], k32[0][1], gates[0][1][0, 0].numpy(), np.empty_like(a), out)
        return torch.from_numpy(out)[None, None]

    def forward(self, r: torch.Tensor, mask: torch.Tensor, logk: torch.Tensor | None = None) -> torch.Tensor:
        return self.apply(r, self.gates(mask.to(r.dtype), logk))
