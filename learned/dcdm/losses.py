"""Training losses of DCDM's network: both are scale-free in the direction ``q = f(r)``."""

from __future__ import annotations

import torch


def dcdm_loss(r: torch.Tensor, q: torch.Tensor, Aq: torch.Tensor) -> torch.Tensor:
    """Scale-free loss (paper eq. (6), reference ``CustomLoss``): mean over the batch of
    ``‖r − (qᵀr / qᵀAq) A q‖² / ‖r‖²``."""
    dims = tuple(range(1, r.dim()))
    qr = (q * r).sum(dims)
    qAq = (q * Aq).sum(dims).clamp_min(1e-30)
    alpha = (qr / qAq).view(-1, *([1] * (r.dim() - 1)))
    res = ((r - alpha * Aq) ** 2).sum(dims) / (r * r).sum(dims).clamp_min(1e-30)
    return res.mean()


def energy_loss(r: torch.Tensor, q: torch.Tensor, Aq: torch.Tensor, rAr: torch.Tensor,
                signed: bool = False) -> torch.Tensor:
    """The A-norm error left by one DCDM step along ``q`` (Algorithm 1, step 4), relative:
    with ``e = A⁻¹r`` and the exact line search ``α = qᵀr / qᵀAq``,
    ``‖e − αq‖²_A / ‖e‖²_A = 1 − (qᵀr)² / (qᵀAq · rᵀA⁻¹r)`` ∈ [0, 1]; ``rAr`` = ``rᵀA⁻¹r`` per
    sample (computed exactly when the batch is made). Scale-free in ``q`` like eq. (6), but
    it measures the quantity the iteration minimizes rather than the residual 2-norm.

    ``signed``: ``1 − qᵀr·|qᵀr| / (qᵀAq · rᵀA⁻¹r)`` ∈ [0, 2] — the same where ``qᵀr > 0``, but a
    direction pointing away from ``A⁻¹r`` is penalized instead of rewarded. The squared form
    lets an odd network pick the sign per input, and by continuity it then has inputs with
    ``f(r)ᵀr = 0``, where Algorithm 1 stalls (α = 0; seen in 3-D training here)."""
    dims = tuple(range(1, r.dim()))
    qr = (q * r).sum(dims)
    qAq = (q * Aq).sum(dims).clamp_min(1e-30)
    num = qr * qr.abs() if signed else qr * qr
    return (1.0 - num / (qAq * rAr.clamp_min(1e-30))).mean()
