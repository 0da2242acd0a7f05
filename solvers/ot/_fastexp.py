"""The vectorizable exponential of the OT kernels (dense ``_kernels.build_kernel`` and the
online point-cloud passes of ``_points_kernels``).

x = k ln2 + r with k = round(x / ln2) (Cody-Waite reduction, |r| <= ln2/2), exp(r) by its
degree-13 Taylor polynomial (truncation < 2e-16 relative), then 2^k added to the exponent bits.
Branch-free, so the loop vectorizes: 2x-7x faster than ``math.exp`` per entry, which also slows
down near underflow.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split in a high part exact in k * _LN2_HI ...
_LN2_LO = 1.90821492927058770002e-10  # ... and the rest
_SHIFT = 6755399441055744.0  # 1.5 * 2^52: t = y + _SHIFT holds round(y) in its low mantissa bits
_SHIFT_BITS = int(np.array([_SHIFT]).view(np.int64)[0])
#: exponents are clamped to [-XMAX, XMAX]: results stay normal numbers (e^-700 > 1e-304)
XMAX = 700.0


@njit(cache=True, nogil=True, fastmath={"contract"})  # no reassoc: it would fold (t - _SHIFT)
def vexp(x: np.ndarray, out: np.ndarray, tb: np.ndarray, count: int) -> None:
    """out[:count] = exp(clamp(x[:count], -XMAX, XMAX)); ``tb`` is a scratch buffer of at least
    ``count`` doubles.  Pass an ``out`` distinct from ``x``: in place is correct but 3-4x slower
    (the aliasing stops the loop's vectorization)."""
    tbits = tb.view(np.int64)
    for j in range(count):
        xx = min(max(x[j], -XMAX), XMAX)
        t = xx * _LOG2E + _SHIFT
        kf = t - _SHIFT
        r = (xx - kf * _LN2_HI) - kf * _LN2_LO
        p = 1.0 / 6227020800.0
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        out[j] = p * r + 1.0
        tb[j] = t
    obits = out.view(np.int64)
    for j in range(count):
        obits[j] += (tbits[j] - _SHIFT_BITS) << 52
