"""DCDM's network: a small fully convolutional multilevel CNN approximating A⁻¹ r up to a scale.

Kaneda et al., "A Deep Conjugate Direction Method for Iteratively Solving Linear Systems"
(ICML 2023), §3.2: a CNN ``f(r)`` whose output is a search direction; trained so that
``A f(r)`` is parallel to ``r`` (loss eq. (6), the optimal scale eliminated). Inputs here are the
normalized residual, the fluid mask and the log-coefficient on the grid (design.md §7).

Shipped architecture (2-D and 3-D): :class:`LiteSPDNet`, a learned additive multilevel
operator ``Σ_ℓ w_ℓ G_ℓᵀ G_ℓ`` (SPD by construction) with one channel on the finest levels and
the channels only on the coarse grids, geometry-dependent gates computed once per problem, and
``Gᵀ`` written out — cheap enough on one CPU core to beat CG's wall-clock from ≈ 160² up
(benchmarks/results/linear.md). Older forms kept for comparison and loading old files:
:class:`SPDNet` (same form, 8 channels at full resolution, ``Gᵀ`` by autograd),
:class:`GatedLinearNet` and the ReLU U-net :class:`DCDMNet` (the coarse levels share their
weights and recurse until the grid is 4 cells wide, like a multigrid V-cycle).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _conv(dim: int, cin: int, cout: int, bias: bool = True) -> nn.Module:
    cls = nn.Conv2d if dim == 2 else nn.Conv3d
    return cls(cin, cout, kernel_size=3, padding=1, bias=bias)


def _pool(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 4:
        return F.avg_pool2d(x, 2, ceil_mode=True)
    return F.avg_pool3d(x, 2, ceil_mode=True)



def _bpx_stencils(d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The BPX start's 3^d stencils: the identity and the separable [1, 2, 1]/4 smoothing."""
    eye = torch.zeros((3,) * d)
    eye[(1,) * d] = 1.0
    k1 = torch.tensor([1.0, 2.0, 1.0]) / 4.0
    smooth = k1[:, None] * k1[None, :]
    if d == 3:
        smooth = smooth[:, :, None] * k1[None, None, :]
    return eye, smooth

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
        self.enc0 = nn.ModuleList([_conv(dim, 3, c0), _conv(dim, c0, c0)])
        self.down0 = _conv(dim, c0, c1)
        self.down = nn.ModuleList([_conv(dim, c1, c1), _conv(dim, c1, c1)])  # shared by levels ≥ 1
        self.bottom = _conv(dim, c1, c1)
        self.up = nn.ModuleList([_conv(dim, c1, c1), _conv(dim, c1, c1)])  # shared by levels ≥ 1
        self.up0 = _conv(dim, c1, c0)
        self.dec0 = nn.ModuleList([_conv(dim, c0, c0), _conv(dim, c0, 1)])

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _level(self, h: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """One coarse level (shared weights): smooth, recurse on the coarser grid, correct."""
        h = F.relu(self.down[0](h)) * m
        h = F.relu(self.down[1](h)) * m
        if min(h.shape[2:]) <= self.min_size:
            return F.relu(self.bottom(h)) * m
        mc = (_pool(m) > 0).to(h.dtype)
        c = self._level(_pool(h) * mc, mc)
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
            mc = (_pool(m) > 0).to(r.dtype)
            h1 = F.relu(self.down0(_pool(h0))) * mc
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
        self.g0 = nn.ModuleList([_conv(dim, 2, c0), _conv(dim, c0, c0)])
        self.g1 = nn.ModuleList([_conv(dim, c0, c1), _conv(dim, c1, c1)])
        self.gs = nn.ModuleList([_conv(dim, c1, c1), _conv(dim, c1, c1)])  # shared, levels ≥ 2
        # residual path (linear, no bias)
        def lin(a: int, b: int) -> nn.Module:
            return _conv(dim, a, b, bias=False)

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
            m = (_pool(m) > 0).to(m.dtype)
            convs = self.g1 if level == 1 else self.gs
            e = F.relu(convs[0](_pool(e))) * m
            out.append((torch.sigmoid(convs[1](e)) * m, m))
            level += 1
        return out

    def apply(self, r: torch.Tensor, gates: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """The residual path given precomputed ``gates``."""
        g0, m0 = gates[0]
        h0 = self.enc0[0](r) * g0
        h0 = self.enc0[1](h0) * g0
        if len(gates) > 1:
            c = self._level(self.down0(_pool(h0)) * gates[1][0], gates, 1)
            h0 = h0 + self.up0(F.interpolate(c, size=h0.shape[2:], mode="nearest")) * m0
        h0 = self.dec0[0](h0) * g0
        return self.dec0[1](h0) * m0

    def _level(self, h: torch.Tensor, gates: list, level: int) -> torch.Tensor:
        g, m = gates[level]
        h = self.down(h) * g
        if level + 1 >= len(gates):
            return self.bottom(h) * g
        c = self._level(_pool(h) * gates[level + 1][1], gates, level + 1)
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
        eye, smooth = _bpx_stencils(d)
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
            h = conv(_pool(h)) * gates[level][0]
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


def _pool_even(x: torch.Tensor) -> torch.Tensor:
    """2× average pooling (÷ 2^d) after zero-padding odd axes to even length; exactly linear,
    with the adjoint :func:`_pool_adjoint`. Written as strided sums (5–10× faster than
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


def _pool_adjoint(y: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Adjoint of :func:`_pool_even`: copy each coarse value to its 2^d children, ÷ 2^d, crop."""
    d = y.dim() - 2
    up = F.interpolate(y * (0.5 ** d), scale_factor=2, mode="nearest")  # scale the coarse grid
    if tuple(up.shape[2:]) != tuple(shape):
        up = up[(..., *(slice(0, n) for n in shape))]
    return up


def _stencil(x: torch.Tensor, w: np.ndarray) -> torch.Tensor:
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
        self.geo0 = _conv(dim, 2, cg)
        self.geo = nn.ModuleList([_conv(dim, cg, cg), _conv(dim, cg, cg)])
        outs = [1] * thin + [c0, c1, c1]
        self.gate_out = nn.ModuleList([_conv(dim, cg, c) for c in outs])

        def lin(a: int, b: int) -> nn.Module:
            return _conv(dim, a, b, bias=False)

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
        eye, smooth = _bpx_stencils(d)
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
            m = (_pool_even(m) > 0).to(m.dtype)
            e = F.relu(self.geo[min(level, 2) - 1](_pool_even(e))) * m
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
                return _stencil(x, floats[i][t])
            return conv(x, kern[i][t], padding=1)

        h = c(r, 0, 0) * gates[0][0]
        feats = [h]
        for ell in range(1, len(gates)):
            h = c(_pool_even(h), self._index(ell), 0) * gates[ell][0]
            feats.append(h)
        a = feats[-1] * w[len(gates) - 1]
        for ell in range(len(gates) - 1, 0, -1):
            a = c(a * gates[ell][0], self._index(ell), 1)
            a = _pool_adjoint(a, feats[ell - 1].shape[2:])
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
                h = conv(h if ell == thin else _pool_even(h), c[ell][0], padding=1) * gates[ell][0]
                tf.append(h)
            a = tf[-1] * w[levels - 1]
            for ell in range(levels - 1, thin, -1):
                a = _pool_adjoint(conv(a * gates[ell][0], c[ell][1], padding=1), tf[ell - 1 - thin].shape[2:])
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


def save_model(model: DCDMNet, path: str, **meta: Any) -> None:
    torch.save({"config": model.config, "state_dict": model.state_dict(), "meta": meta}, path)


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


def dcdm_loss(r: torch.Tensor, q: torch.Tensor, Aq: torch.Tensor) -> torch.Tensor:
    """Scale-free loss (paper eq. (6), reference ``CustomLoss``): mean over the batch of
    ``‖r − (qᵀr / qᵀAq) A q‖² / ‖r‖²``."""
    dims = tuple(range(1, r.dim()))
    qr = (q * r).sum(dims)
    qAq = (q * Aq).sum(dims).clamp_min(1e-30)
    alpha = (qr / qAq).view(-1, *([1] * (r.dim() - 1)))
    res = ((r - alpha * Aq) ** 2).sum(dims) / (r * r).sum(dims).clamp_min(1e-30)
    return res.mean()


def energy_loss(r: torch.Tensor, q: torch.Tensor, Aq: torch.Tensor, rAr: torch.Tensor) -> torch.Tensor:
    """The A-norm error left by one DCDM step along ``q`` (Algorithm 1, step 4), relative:
    with ``e = A⁻¹r`` and the exact line search ``α = qᵀr / qᵀAq``,
    ``‖e − αq‖²_A / ‖e‖²_A = 1 − (qᵀr)² / (qᵀAq · rᵀA⁻¹r)`` ∈ [0, 1]; ``rAr`` = ``rᵀA⁻¹r`` per
    sample (computed exactly when the batch is made). Scale-free in ``q`` like eq. (6), but
    it measures the quantity the iteration minimizes rather than the residual 2-norm."""
    dims = tuple(range(1, r.dim()))
    qr = (q * r).sum(dims)
    qAq = (q * Aq).sum(dims).clamp_min(1e-30)
    return (1.0 - qr * qr / (qAq * rAr.clamp_min(1e-30))).mean()


def colour_masks(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Red (even coordinate sum) and black fluid cells of a (batch, 1, *grid) mask, the
    colouring of ``solvers.linear.smoother``."""
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
    """The preconditioner of ``solvers/linear/smoother.py`` in torch, batched: ``z = S r``;
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
