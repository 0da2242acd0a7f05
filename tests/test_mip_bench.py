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
    # the same table rebuilt from runs.json alone
    assert main(["--merge", str(tmp_path), "--out", str(tmp_path / "merged")]) == 0
    again = json.loads((tmp_path / "merged" / "mip.json").read_text())
    assert [r["primal_integral"] for r in again] == pytest.approx([r["primal_integral"] for r in rows])


def _run(instance: str, solver: str, seed: int, history: list, optimum: float | None = None) -> dict:
    return {"instance": instance, "solver": solver, "seed": seed, "maximize": True, "time_limit": 10.0,
            "optimum": optimum, "history": history, "final": history[-1][1] if history else None,
            "wall": 10.0, "iterations": 1, "status": "time_limit", "stats": {}, "iteration_log": []}


def test_merge_takes_the_best_known_value_over_all_split_runs(tmp_path) -> None:
    # A generated (maximization) instance run in two halves: balans in one folder, scip in another.
    # The best known value must be the best final over both (20), not each half's own best.
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "runs.json").write_text(json.dumps([_run("gen-x", "balans", 0, [[1.0, 10.0], [5.0, 20.0]])]))
    (tmp_path / "b" / "runs.json").write_text(json.dumps([_run("gen-x", "scip", 0, [[2.0, 16.0]])]))
    assert main(["--merge", f"{tmp_path / 'a'},{tmp_path / 'b'}", "--out", str(tmp_path / "m")]) == 0
    rows = {r["solver"]: r for r in json.loads((tmp_path / "m" / "mip.json").read_text())}
    assert rows["balans"]["best_known"] == rows["scip"]["best_known"] == 20.0
    # balans: gap 1 on [0,1), 0.5 on [1,5), 0 after: 1 + 2 = 3; scip: 2 + 0.2 * 8 = 3.6
    assert rows["balans"]["primal_integral"] == pytest.approx(3.0)
    assert rows["scip"]["primal_integral"] == pytest.approx(3.6)
    assert "balans vs scip: wins/ties/losses on the primal integral = 1/0/0" in (tmp_path / "m" / "mip.md").read_text()
    assert (tmp_path / "m" / "anytime_gap.png").exists()
    # DIR:solver keeps only that solver's runs of the folder
    assert main(["--merge", f"{tmp_path / 'a'}:scip,{tmp_path / 'b'}", "--out", str(tmp_path / "s")]) == 0
    assert [r["solver"] for r in json.loads((tmp_path / "s" / "mip.json").read_text())] == ["scip"]


def test_methods_runs_a_peer_through_solve(tmp_path) -> None:
    """--methods takes the peers (highs here) beside ours; an unknown name is refused."""
    with pytest.raises(SystemExit):
        main(["--methods", "balans,nope", "--out", str(tmp_path)])
    pytest.importorskip("highspy")
    if not (MIPLIB_DIR / "gen-ip054.mps.gz").exists():
        pytest.skip("benchdata not available")
    assert main(["--protocol", "quick", "--time", "1", "--instances", "gen-ip054",
                 "--methods", "highs", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "mip.json").read_text())
    assert [r["solver"] for r in rows] == ["highs"]
    assert rows[0]["objective"] is not None and 0.0 <= rows[0]["primal_gap"] <= 1.0
