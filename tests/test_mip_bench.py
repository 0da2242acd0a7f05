"""The MIP benchmark's protocol plumbing: metrics, tables and the anytime plot on a tiny run."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("mabwiser")

from benchmarks.mip import MIPLIB_DIR, main, primal_gap, primal_integral  # noqa: E402


def test_primal_gap_and_integral_by_hand() -> None:
    assert primal_gap(None, 5.0) == 1.0
    assert primal_gap(10.0, 10.0) == 0.0
    assert primal_gap(-1.0, 2.0) == 1.0
    assert primal_gap(12.0, 10.0) == pytest.approx(2 / 12)
    # gap 1 on [0, 2), 0.5 on [2, 4), 0 on [4, 10]: 2 + 1 = 3 gap-seconds
    assert primal_integral([(2.0, 20.0), (4.0, 10.0)], 10.0, 10.0) == pytest.approx(3.0)
    assert primal_integral([], 10.0, 7.0) == pytest.approx(7.0)


def test_benchmark_writes_tables_and_anytime_plot(tmp_path) -> None:
    if not (MIPLIB_DIR / "gen-ip054.mps.gz").exists():
        pytest.skip("benchdata not available")
    rc = main(["--protocol", "quick", "--time", "2", "--instances", "gen-ip054",
               "--solvers", "balans,scip", "--out", str(tmp_path)])
    assert rc == 0
    rows = json.loads((tmp_path / "mip.json").read_text())
    assert {r["solver"] for r in rows} == {"balans", "scip"}
    for r in rows:
        assert r["instance"] == "gen-ip054" and r["best_known"] == pytest.approx(6840.966, abs=1e-2)
        assert 0.0 <= r["primal_gap"] <= 1.0 and 0.0 <= r["primal_integral"] <= 2.0 + 1e-9
        assert r["wall"] <= 2 * 1.2 + 1
    assert "balans vs scip" in (tmp_path / "mip.md").read_text()
    assert (tmp_path / "anytime_gap.png").stat().st_size > 1000
    assert (tmp_path / "mip.csv").exists() and (tmp_path / "primal_integral.png").exists()
