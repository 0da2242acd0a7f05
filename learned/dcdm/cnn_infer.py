"""The inference path of :class:`learned.dcdm.cnn.DCDMCNN` for one residual (the solver's
step 2, ``d = f(r)``): the same function as :meth:`DCDMCNN.apply`, with fewer operations.

What changes (none of it changes the map, only the float32 rounding):

- the first layer is linear before its ReLU, so ``inp([±x, geometry]) = ±W_r x + (W_g ·
  geometry + bias)``: the geometry term is computed once per problem (cached in the gates
  dict), and the residual term once for both halves of the odd batch ``(x, −x)``;
- the last layer is linear, so ``out(u₊) − out(u₋) = W_out (u₊ − u₋)`` (the bias cancels): one
  one-channel convolution of one map instead of two;
- prolongation and skip connection in one broadcast add (only the last axis is copied), ReLU
  and mask in place;
- convolutions on maps of at most :data:`SMALL` cells go through the im2col kernel, which has a
  fraction of oneDNN's per-call cost there, and one-channel stencils on maps of at least
  :data:`AXPY` cells through shifted axpys (:func:`learned.dcdm.layers.stencil_axpys`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .layers import pool_even, stencil_axpys, upsample

SMALL = {2: 256, 3: 8}
"""Per grid dimension: maps of at most this many cells (2-D 16², 3-D 2³) use the im2col
convolution; larger maps oneDNN's, in channels-last layout (measured on one core: 1.3–1.7×
faster than NCHW for the 8- and 16-channel maps here)."""

AXPY = 4096
"""One-channel stencils on maps of at least this many cells run as shifted axpys."""

_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}


def conv(x: torch.Tensor, layer: Any, bias: bool = True) -> torch.Tensor:
    """``layer(x)`` (3×3(×3), zero padding), on the backend cheapest for the map's size."""
    w, b = layer.weight, layer.bias if bias else None
    if x[0, 0].numel() <= SMALL[x.dim() - 2]:
        x = x.contiguous()
        if x.dim() == 4 and hasattr(torch._C._nn, "thnn_conv2d"):
            return torch._C._nn.thnn_conv2d(x, w, [3, 3], b, [1, 1], [1, 1])
        if x.dim() == 5 and hasattr(torch._C._nn, "slow_conv3d"):
            return torch._C._nn.slow_conv3d(x, w, [3, 3, 3], b, [1, 1, 1], [1, 1, 1])
    x = x.contiguous(memory_format=_LAST[x.dim()])
    return F.conv2d(x, w, b, padding=1) if x.dim() == 4 else F.conv3d(x, w, b, padding=1)


def relu_mask(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``relu(x) * mask`` in place (``x`` is a fresh convolution output)."""
    return F.relu_(x).mul_(mask)


def up_add(skip: torch.Tensor, y: torch.Tensor, alpha: float) -> torch.Tensor:
    """``skip + alpha · upsample(y)`` (nearest-neighbour 2× prolongation cropped to the
    skip's shape), as one broadcast add where the sides are exactly twice the coarse ones."""
    shape, coarse = skip.shape[2:], y.shape[2:]
    if any(n != 2 * m for n, m in zip(shape, coarse)):
        return torch.add(skip, upsample(y, tuple(shape)), alpha=alpha)
    if not skip.is_contiguous() and skip.is_contiguous(memory_format=_LAST[skip.dim()]):
        return _up_add_last(skip, y, alpha)
    # the last axis doubled by a copy (contiguous inner loop), the others by broadcasting
    split: list[int] = []
    index: list[Any] = [slice(None), slice(None)]
    for m in coarse[:-1]:
        split += [m, 2]
        index += [slice(None), None]
    fine = y.repeat_interleave(2, dim=-1)
    out = torch.add(skip.reshape(*skip.shape[:2], *split, shape[-1]), fine[(*index, slice(None))],
                    alpha=alpha)
    return out.view(skip.shape)


def _up_add_last(skip: torch.Tensor, y: torch.Tensor, alpha: float) -> torch.Tensor:
    """:func:`up_add` for a channels-last ``skip``: every spatial axis by broadcasting over the
    (contiguous) channel axis; the result is channels-last."""
    d = skip.dim() - 2
    to_last = (0, *range(2, d + 2), 1)
    split: list[int] = []
    index: list[Any] = [slice(None)]
    for m in y.shape[2:]:
        split += [m, 2]
        index += [slice(None), None]
    fine = skip.permute(to_last).reshape(skip.shape[0], *split, skip.shape[1])
    out = torch.add(fine, y.permute(to_last)[(*index, slice(None))], alpha=alpha)
    return out.view(skip.shape[0], *skip.shape[2:], skip.shape[1]).permute(0, d + 1, *range(1, d + 1))


def stencil(x: torch.Tensor, layer: Any) -> torch.Tensor:
    """A one-channel linear 3×3(×3) stencil (no bias)."""
    if x[0, 0].numel() >= AXPY:
        return stencil_axpys(x, layer.weight[0, 0].detach().cpu().numpy())
    return conv(x, layer, bias=False)


def geometry_term(net: Any, gates: dict[str, Any]) -> torch.Tensor:
    """``W_g · geometry + bias`` of the first layer, once per problem and weights version."""
    w, b = net.inp.weight, net.inp.bias
    key = (id(net), w._version, b._version)
    cached = gates.get("_geometry_term")
    if cached is None or cached[0] != key:
        geo = gates["geometry"][:1]
        g = F.conv2d(geo, w[:, 1:], b, padding=1) if geo.dim() == 4 else F.conv3d(geo, w[:, 1:], b, padding=1)
        cached = (key, g)
        gates["_geometry_term"] = cached
    return cached[1]


def apply_inference(net: Any, r: torch.Tensor, gates: dict[str, Any]) -> torch.Tensor:
    """:meth:`DCDMCNN.apply` for ``r`` of shape (1, 1, *grid), without autograd; the thin
    levels by the numba kernels of :class:`ThinLevels` on a CPU float32 residual."""
    thin = net.thin
    gain = float(torch.exp(net.log_gain))
    fused = None
    if thin and r.device.type == "cpu" and r.dtype == torch.float32:
        fused = ThinLevels.of(net, gates)
    if fused is not None:
        x = fused.down(r)
    else:
        x, feats = thin_down(net, r, gates["masks"])
    z = odd_core(net, x, gates, gain)
    if fused is not None:
        return fused.up(z, gain)
    return thin_up(net, z, feats, gates["masks"], gain)


def thin_down(net: Any, r: torch.Tensor, masks: list) -> tuple[torch.Tensor, list]:
    """The thin (one-channel, linear) levels on the way down, in torch: the pooled input of the
    core and each level's features."""
    feats = []
    x = r
    for ell in range(net.thin):
        x = stencil(x if ell == 0 else pool_even(x), net.thin_down[ell]).mul_(masks[ell])
        feats.append(x)
    return (pool_even(x) if net.thin else x), feats


def thin_up(net: Any, z: torch.Tensor, feats: list, masks: list, gain: float) -> torch.Tensor:
    """The thin levels' way up in torch: weighted sum with the prolonged correction, stencil."""
    for ell in range(net.thin - 1, -1, -1):
        scaled = feats[ell] * float(torch.exp(net.thin_log_weight[ell]))
        z = stencil(up_add(scaled, z, gain), net.thin_up[ell]).mul_(masks[ell])
    return z


def odd_core(net: Any, x: torch.Tensor, gates: dict[str, Any], gain: float) -> torch.Tensor:
    """``core(x) − core(−x)``: the nonlinear U-net below the thin levels, odd part."""
    core = gates["masks"][net.thin:]
    # first layer of the odd batch (x, −x): ±W_r x + geometry term, then ReLU and mask
    g = geometry_term(net, gates)
    w_r = net.inp.weight[:, :1]
    a = F.conv2d(x, w_r, padding=1) if x.dim() == 4 else F.conv3d(x, w_r, padding=1)
    h = relu_mask(torch.cat([g + a, g - a]), core[0]).contiguous(memory_format=_LAST[x.dim()])
    skips = [h]
    for ell in range(1, len(core)):  # the way down
        layer = net.down1 if ell == 1 else net.down2 if ell == 2 else net.down
        h = relu_mask(conv(pool_even(h), layer), core[ell])
        skips.append(h)
    u = relu_mask(conv(h, net.bottom), core[-1])
    for ell in range(len(core) - 2, -1, -1):  # the way up
        transfer = net.t if ell >= 2 else net.t1 if ell == 1 else net.t0
        level = net.lvl if ell >= 2 else net.lvl1 if ell == 1 else net.dec
        u = relu_mask(conv(up_add(skips[ell], conv(u, transfer), gain), level), core[ell])
    return conv(u[:1] - u[1:], net.out, bias=False).mul_(core[0])  # out(u₊) − out(u₋)


class ThinLevels:
    """The thin levels of one (network, geometry) pair as numba passes over numpy buffers
    (``learned/dcdm/_fused.py``), allocated once per problem and reused:

    - down, level ℓ: ``h_ℓ = m_ℓ ⊙ (K↓_ℓ ⋆ P h_{ℓ−1})`` (``P`` only for ℓ ≥ 1), then the core's
      input ``P h_{thin−1}``;
    - up, level ℓ: ``z_ℓ = m_ℓ ⊙ (K↑_ℓ ⋆ (w_ℓ h_ℓ + γ·upsample(z_{ℓ+1})))``, written as the
      kernels' ``2⁻ᵈ·Pᵀ(2ᵈγ z) + w_ℓ h_ℓ`` with the factor ``2ᵈγ`` folded into the stencil
      (or, for the core's output, one multiply on the coarse grid) that produces ``z_{ℓ+1}``.

    Cached in the gates dict, keyed by the network's identity and weight versions."""

    def __init__(self, net: Any, gates: dict[str, Any]):
        from . import _fused as K

        self.dim, self.thin = net.dim, net.thin
        self.k = K
        masks = gates["masks"][: self.thin + 1]
        self.masks = [np.ascontiguousarray(m[0, 0].cpu().numpy(), dtype=np.float32) for m in masks]
        shapes = [m.shape for m in self.masks]
        self.feats = [np.empty(s, np.float32) for s in shapes[: self.thin]]
        self.pool_tmp = [np.empty(s, np.float32) for s in shapes[1:]]
        self.coarse = np.empty(shapes[self.thin], np.float32)
        self.sum = [np.empty(s, np.float32) for s in shapes[: self.thin]]
        self.ups = [np.empty(s, np.float32) for s in shapes[: self.thin]]
        gain = float(torch.exp(net.log_gain))
        self.scale = float(2 ** self.dim) * gain
        self.kd = [self._kernel(net.thin_down[e]) for e in range(self.thin)]
        self.ku = [self._kernel(net.thin_up[e]) * np.float32(self.scale if e > 0 else 1.0)
                   for e in range(self.thin)]
        self.w = [float(torch.exp(net.thin_log_weight[e])) for e in range(self.thin)]

    @staticmethod
    def _kernel(layer: Any) -> np.ndarray:
        return np.ascontiguousarray(layer.weight[0, 0].detach().cpu().numpy(), dtype=np.float32)

    @classmethod
    def of(cls, net: Any, gates: dict[str, Any]) -> ThinLevels:
        params = [net.log_gain, net.thin_log_weight, *(m.weight for m in net.thin_down),
                  *(m.weight for m in net.thin_up)]
        key = (id(net), tuple(p._version for p in params))
        cached = gates.get("_thin_levels")
        if cached is None or cached[0] != key:
            cached = (key, cls(net, gates))
            gates["_thin_levels"] = cached
        return cached[1]

    def down(self, r: torch.Tensor) -> torch.Tensor:
        K, three = self.k, self.dim == 3
        stencil_gate = K.stencil_gate3 if three else K.stencil_gate
        pool_stencil_gate = K.pool_stencil_gate3 if three else K.pool_stencil_gate
        x = np.ascontiguousarray(r[0, 0].numpy())
        for e in range(self.thin):
            if e == 0:
                stencil_gate(x, self.kd[0], self.masks[0], self.feats[0])
            else:
                pool_stencil_gate(self.feats[e - 1], self.kd[e], self.masks[e], self.pool_tmp[e - 1],
                                  self.feats[e])
        (K.pool_even3 if three else K.pool_even)(self.feats[-1], self.coarse)
        return torch.from_numpy(self.coarse)[None, None]

    def up(self, z: torch.Tensor, gain: float) -> torch.Tensor:
        K, three = self.k, self.dim == 3
        stencil_gate = K.stencil_gate3 if three else K.stencil_gate
        add = K.up_add3 if three else K.up_add
        zc = np.ascontiguousarray(z[0, 0].numpy(), dtype=np.float32) * np.float32(self.scale)
        out = np.empty(self.masks[0].shape, np.float32)
        for e in range(self.thin - 1, -1, -1):
            add(zc, self.feats[e], self.w[e], self.sum[e])
            target = out if e == 0 else self.ups[e]
            stencil_gate(self.sum[e], self.ku[e], self.masks[e], target)
            zc = target
        return torch.from_numpy(out)[None, None]
