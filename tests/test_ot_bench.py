"""The OT benchmark module runs end to end on tiny cases and writes its tables and plot."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import ot as bench


@pytest.mark.parametrize("family, n, side", [("random", 50, None), ("gmm", 40, None),
                                             ("digits-l2", 100, 10), ("digits-l1", 64, 8)])
def test_instance_families(family: str, n: int, side: int | None) -> None:
    p = bench.make(family, n, 1e-2)
    size = side * side if side else n
    assert p.C.shape == (size, size)
    assert p.C.max() == pytest.approx(1.0) or family == "random"
    assert np.all(p.a > 0) and np.all(p.b > 0)
    with pytest.raises(ValueError):
        bench.make("nope", 10, 1e-2)


def test_main_writes_tables_and_plot(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    argv = ["--sizes", "36", "--regs", "0.02", "--families", "random", "digits-l2",
            "--peers", "sinkhorn", "sinkhorn_ssns", "--min-budget", "0.5", "--out", str(tmp_path)]
    assert bench.main(argv) == 0
    for name in ("ot.csv", "ot.json", "ot.md", "ot_curves.png"):
        assert (tmp_path / name).stat().st_size > 0
    rows = json.loads((tmp_path / "ot.json").read_text())
    ours = [r for r in rows if r["solver"] == "optbox sns"]
    assert len(ours) == 2 and all(r["converged"] for r in ours)
    assert all(float(r["err"]) <= bench.TARGET for r in ours)
    md = (tmp_path / "ot.md").read_text()
    assert md.startswith("| family | n | reg |") and "digits-l2" in md


def test_pot_search_reaches_target() -> None:
    pytest.importorskip("ot")
    p = bench.make("random", 60, 0.05)
    r = bench.run_pot(p, "sinkhorn", budget=5.0)
    assert r["err"] <= bench.TARGET and int(r["iters"]) >= 5
    assert r["curve"][1][-1] <= bench.TARGET


def test_ab_mode_times_both_solvers(capsys) -> None:
    """--ab: alternating sns / POT runs; POT's count is the searched one and both plans converge."""
    pytest.importorskip("ot")
    p = bench.make("random", 60, 0.01)
    r = bench.run_ab(p, 2, budget=5.0)
    assert r["pot_conv"] and r["pot_iters"] >= 5 and r["sns_err"] <= bench.TARGET
    assert 0 < r["sns_cpu"] <= r["sns_wall"] + 1e-3 and r["pot_wall"] > 0
    assert bench.main(["--ab", "1", "--sizes", "40", "--regs", "0.05", "--families", "random"]) == 0
    assert "POT/sns cpu" in capsys.readouterr().out


def test_methods_pick_the_rows(tmp_path) -> None:
    """--methods sns,pot: sns (the budget's reference) and POT's rows only, POT through solve()."""
    pytest.importorskip("ot")
    pytest.importorskip("matplotlib")
    argv = ["--sizes", "36", "--regs", "0.05", "--families", "random", "--methods", "sns,pot",
            "--peers", "sinkhorn", "sinkhorn_ssns", "--min-budget", "0.5", "--out", str(tmp_path)]
    assert bench.main(argv) == 0
    rows = json.loads((tmp_path / "ot.json").read_text())
    assert {r["solver"] for r in rows} == {"optbox sns", "POT sinkhorn"}
    pot = next(r for r in rows if r["solver"] == "POT sinkhorn")
    assert pot["converged"] and float(pot["err"]) <= bench.TARGET
    with pytest.raises(SystemExit):
        bench.main(["--methods", "sns,nope"])
