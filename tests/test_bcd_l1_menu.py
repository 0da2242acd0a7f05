"""The paper's L1 menu (Nutini, Laradji & Schmidt 2022, §6): proximal-gradient / proximal-Newton
block updates with the GS-s / GS-r / GS-q rules on variable blocks, active-set identification
in finitely many iterations, then Newton on the support with superlinear convergence."""

from __future__ import annotations

import numpy as np
import pytest

from problems import L1LogisticRegression, Lasso
from solvers import Status, solve
from solvers.bcd.prox_bcd import PATIENCE


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((80, 200))
    A[:, 1:] += 0.5 * A[:, :-1]
    x0 = np.zeros(200)
    x0[:6] = 3 * rng.standard_normal(6)
    return A, A @ x0 + 0.1 * rng.standard_normal(80)


def _problems(frac: float) -> list:
    A, b = _data()
    y = np.sign(b)
    return [Lasso(A, b, alpha=frac * Lasso(A, b).alpha_max()),
            L1LogisticRegression(A, y, alpha=frac * L1LogisticRegression(A, y).alpha_max())]


@pytest.mark.parametrize("update", ["prox-gradient", "prox-newton"])
@pytest.mark.parametrize("rule", ["gs-s", "gs-r", "gs-q", "cyclic"])
def test_menu_reaches_the_working_set_optimum(rule: str, update: str) -> None:
    for pb in _problems(0.05):
        ref = solve(pb, "bcd", tol=1e-14)
        res = solve(pb, "bcd", rule=rule, update=update, block_size=8, tol=1e-12, max_iter=5000)
        assert res.status is Status.CONVERGED, res.stats
        assert abs(res.objective - ref.objective) <= 1e-10 * abs(ref.objective)
        objs = [h[1] for h in res.history]
        assert all(b <= a + 1e-12 * abs(a) for a, b in zip(objs, objs[1:]))  # monotone (§6)
        assert res.stats["rule"] == rule and res.stats["update"] == update


@pytest.mark.parametrize("update", ["prox-gradient", "prox-newton"])
def test_active_set_then_superlinear_newton_phase(update: str) -> None:
    """The support stops changing at the recorded iteration (checked on every incumbent), the
    Newton phase starts within PATIENCE iterations of it, and there the errors F_k - F* fall
    superlinearly (the ratio of successive errors goes to 0), unlike the greedy phase's."""
    pb = _problems(0.2)[1]  # L1-logistic: Newton on the support is not finite, only superlinear
    fstar = solve(pb, "bcd", tol=1e-15).objective
    supports: list[tuple[int, bytes]] = []
    res = solve(pb, "bcd", rule="gs-q", update=update, block_size=4, tol=1e-14, max_iter=500,
                callback=lambda info: supports.append((info.iteration, np.flatnonzero(info.incumbent).tobytes())))
    a, s = res.stats["active_set_iteration"], res.stats["newton_phase_iteration"]
    # the switch happens within PATIENCE of the last support change: after it (the greedy phase
    # identified the support), or just before it (the first Newton step drops a spurious coordinate)
    assert s is not None and 1 <= a < res.iterations and abs(s - a) <= PATIENCE
    final = supports[-1][1]
    assert all(sup == final for it, sup in supports if it >= a)
    assert any(sup != final for it, sup in supports if it < a)  # it did change before a
    err = np.array([h[1] for h in res.history]) - fstar
    newton = [e for e in err[max(s, a):] if e > 1e-14]
    ratios = [e1 / e0 for e0, e1 in zip(newton, newton[1:])]
    assert len(newton) >= 2 and ratios[-1] < 1e-2, newton
    greedy = [e1 / e0 for e0, e1 in zip(err[1:s], err[2:s]) if e0 > 0]
    assert min(greedy[-3:]) > 10 * ratios[-1]  # linear before the switch, superlinear after


def test_lasso_newton_phase_terminates() -> None:
    """Least squares on the identified support: one Newton step is exact (finite termination)."""
    pb = _problems(0.2)[0]
    res = solve(pb, "bcd", rule="gs-q", update="prox-gradient", block_size=2, tol=1e-13, max_iter=2000)
    s = res.stats["newton_phase_iteration"]
    assert res.status is Status.CONVERGED and s is not None and res.iterations <= s + 2


def test_default_l1_path_is_the_working_set_cd() -> None:
    pb = _problems(0.05)[0]
    res = solve(pb, "bcd")
    assert "working_set_size" in res.stats
    with pytest.raises(ValueError, match="block update"):
        solve(pb, "bcd", rule="gs-q")
