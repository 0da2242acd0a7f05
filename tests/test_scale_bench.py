"""`optbox bench scale` (issue 23): the fitted exponent is the log-log slope, and a quick run
writes its table, JSON and plot with one row per (method, size)."""

from __future__ import annotations

import json

import pytest

from benchmarks import scale


def test_fitted_exponent_is_the_log_log_slope():
    assert scale.fitted_exponent([10, 100, 1000], [2.0, 200.0, 20000.0]) == pytest.approx(2.0)
    assert scale.fitted_exponent([10, 100], [1.0, None]) is None  # one finished run: no slope


def test_quick_dag_scale_run_writes_its_tables(tmp_path):
    assert scale.main(["--quick", "--areas", "dag", "--methods", "topo", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "scale.json").read_text())
    assert [(r["method"], r["size"]) for r in rows] == [("topo", 10), ("topo", 20)]
    assert all(r["seconds"] > 0 and r["peak_mb"] > 0 and r["quality_name"] == "SHD" for r in rows)
    text = (tmp_path / "scale.md").read_text()
    assert "| dag | topo |" in text and (tmp_path / "scale.png").exists()
