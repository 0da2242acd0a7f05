"""The sparse Newton system of the batched torch SNS (paper Alg. 1 lines 7-8, ``linsolve="sparse"``
of ``torch_newton.run_batch``): Sparsify(P) as row-wise top-k entries of every problem's plan,
and the Schur complement of the shifted system solved by batched preconditioned CG with
sparse matrix-vector products on the kept entries only.

Storage is a batched ELL matrix: values (B, m, k) and column indices (B, m, k) (the k largest
entries of each plan row, ``torch.topk``), so S y is a gather and S^T x a ``scatter_add``: no
dense (B, m, n) product in the solve, O(B m k) per CG iteration, and the same code on CPU and
CUDA.  k is the smallest power-of-two multiple of K_MIN (whole rows once past n/4) whose kept entries
hold all but a ``drop`` fraction of every problem's mass (as the numpy ``sns``'s mass rule, drop =
sigma, at least 1e-6 of the mass kept out only when the error is larger).
"""

from __future__ import annotations

from typing import Any

K_MIN = 8  # kept entries a row at least


def sparsify_rows(P: Any, drop: Any, k0: int = K_MIN) -> tuple[Any, Any, int]:
    """Row-wise top-k of the (B, m, n) plans: (values, indices, k), k the smallest of k0, 2 k0,
    4 k0, ... (capped at n) for which every problem keeps all but its ``drop`` (B,) fraction of
    the plan's mass."""
    import torch

    B, m, n = P.shape
    total = P.sum((1, 2)).clamp_min(1e-300)
    k = min(max(int(k0), 1), n)
    while True:
        if 4 * k > n:  # a quarter of the row or more: the whole row, no selection
            idx = torch.arange(n, device=P.device).expand(B, m, n)
            return P, idx, n
        vals, idx = torch.topk(P, k, dim=2, sorted=False)
        kept = vals.sum((1, 2)) / total
        if k >= n or bool((kept >= 1.0 - drop).all()):
            return vals, idx, k
        k = min(2 * k, n)


def _matvec_s(vals: Any, idx: Any, y: Any) -> Any:
    """S y for the ELL batch: (B, m)."""
    B, m, k = idx.shape
    return (vals * y.gather(1, idx.reshape(B, m * k)).reshape(B, m, k)).sum(2)


def _matvec_st(vals: Any, idx: Any, x: Any, n: int) -> Any:
    """S^T x for the ELL batch: (B, n)."""
    import torch

    B, m, k = idx.shape
    out = torch.zeros(B, n, dtype=x.dtype, device=x.device)
    return out.scatter_add_(1, idx.reshape(B, m * k), (vals * x[:, :, None]).reshape(B, m * k))


def schur_cg(vals: Any, idx: Any, r: Any, c: Any, ga: Any, gb: Any, rtol: Any,
             maxit: int) -> tuple[Any, Any, int]:
    """Solve [[diag r, S], [S^T, diag c]] (x, y) = (ga, gb) for every problem of the batch: the row
    block eliminated exactly, x = (ga - S y) / r, and the Schur complement
    (diag c - S^T diag(1/r) S) y = gb - S^T (ga / r) solved by CG preconditioned with its
    diagonal c_j - sum_i S_ij^2 / r_i (as the numpy ``newton.pcg``), each problem frozen once
    its residual is below ``rtol`` (B,) times its right-hand side's norm.  Zero-mass bins get a
    zero step.  Returns x, y and the CG iterations run."""
    import torch

    n = c.shape[1]
    inv_r = torch.where(r > 0, 1.0 / r.clamp_min(1e-300), torch.zeros_like(r))
    live_c = c > 0
    diag = c - _scatter_sq(vals, idx, inv_r, n)
    diag = torch.where(live_c & (diag > 1e-14 * c), diag, c.clamp_min(1e-300))
    inv_d = torch.where(live_c, 1.0 / diag, torch.zeros_like(diag))

    def schur(y: Any) -> Any:
        return c * y - _matvec_st(vals, idx, inv_r * _matvec_s(vals, idx, y), n)

    rhs = gb - _matvec_st(vals, idx, ga * inv_r, n)
    rhs = torch.where(live_c, rhs, torch.zeros_like(rhs))
    y = torch.zeros_like(gb)
    res = rhs.clone()
    z = res * inv_d
    p = z.clone()
    rz = (res * z).sum(1)
    stop = rtol ** 2 * ((ga * ga).sum(1) + (gb * gb).sum(1))
    live = (res * res).sum(1) > stop
    it = 0
    while it < maxit and bool(live.any()):
        it += 1
        q = schur(p)
        pq = (p * q).sum(1)
        live = live & (pq > 0)
        alpha = torch.where(live, rz / torch.where(pq > 0, pq, torch.ones_like(pq)),
                            torch.zeros_like(pq))[:, None]
        y = y + alpha * p
        res = res - alpha * q
        live = live & ((res * res).sum(1) > stop)
        z = res * inv_d
        rz_new = (res * z).sum(1)
        beta = torch.where(live, rz_new / torch.where(rz > 0, rz, torch.ones_like(rz)),
                           torch.zeros_like(rz))[:, None]
        rz = rz_new
        p = z + beta * p
    y = torch.where(live_c, y, torch.zeros_like(y))
    x = (ga - _matvec_s(vals, idx, y)) * inv_r
    return x, y, it


def _scatter_sq(vals: Any, idx: Any, inv_r: Any, n: int) -> Any:
    """sum_i S_ij^2 / r_i for every column j: the Schur complement's diagonal correction."""
    return _matvec_st(vals * vals, idx, inv_r, n)
