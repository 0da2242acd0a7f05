"""The optbox command line: exit codes, outputs, one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from optbox.cli import main

from .conftest import INSTANCES


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_solve_writes_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    code, stdout, _ = run(capsys, "solve", str(INSTANCES / "ot_random60.npz"), "-o", str(out))
    assert code == 0
    assert "ot_random60.npz" in stdout and "converged" in stdout
    data = json.loads(out.read_text())
    assert data["status"] == "converged"
    assert len(data["solution"]) == 60


def test_solve_several_files_with_workers(tmp_path, capsys):
    out = tmp_path / "r.json"
    files = [str(INSTANCES / f) for f in ("poisson12.mtx", "ot_random60.npz")]
    code, stdout, _ = run(capsys, "solve", *files, "--workers", "2", "-q", "-o", str(out))
    assert code == 0
    data = json.loads(out.read_text())
    assert [d["status"] for d in data] == ["optimal", "converged"]


def test_methods_lists_default(capsys):
    code, stdout, _ = run(capsys, "methods", str(INSTANCES / "knapsack30.lp"))
    assert code == 0 and "(default)" in stdout and "scip" in stdout


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["solve", "missing.tsp"], "no such file"),
        (["solve", str(INSTANCES / "berlin52.tsp"), "--method", "nope"], "unknown method"),
        (["solve", str(INSTANCES / "berlin52.tsp"), "--time-limit", "0"], "time-limit"),
        (["solve", str(INSTANCES / "berlin52.tsp"), "-O", "novalue"], "KEY=VALUE"),
        (["generate", "nosuchkind", "--size", "5", "-o", "x.tsp"], "unknown kind"),
        (["warmup", "--method", "nope"], "unknown method"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(capsys, argv, fragment):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_malformed_file_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.vrp"
    bad.write_text("NAME: x\nTYPE: CVRP\nDIMENSION: 3\nCAPACITY: 10\nNODE_COORD_SECTION\n1 0 0\n")
    code, _, err = run(capsys, "solve", str(bad))
    assert code == 2 and err.startswith("optbox: error:")


def test_generate_then_solve(tmp_path, capsys):
    path = tmp_path / "g.npz"
    assert run(capsys, "generate", "poisson", "--size", "10", "--seed", "1", "-o", str(path))[0] == 0
    code, stdout, _ = run(capsys, "solve", str(path), "--method", "cg", "--plot", str(tmp_path / "p.png"))
    assert code == 0 and "converged" in stdout
    assert (tmp_path / "p.png").exists()


def test_warmup_compiles_every_problem_class_of_a_method(capsys):
    from problems import TSP
    from solvers import solve

    code, stdout, _ = run(capsys, "warmup", "-m", "local-search", "-m", "sinkhorn")
    assert code == 0
    warmed = [line.split()[1:3] for line in stdout.splitlines() if line.startswith("warmed")]
    assert warmed == [["local-search", "TSP"], ["local-search", "CVRP"], ["sinkhorn", "OptimalTransport"]]
    result = solve(TSP.random(300, seed=3), "local-search", time_limit=0.5, seed=0)
    assert result.runtime <= 0.5 * 1.1 + 1.0  # nothing left to compile inside the limit


def test_console_script_entry_point():
    exe = shutil.which("optbox")
    cmd = [exe] if exe else [sys.executable, "-m", "optbox"]
    proc = subprocess.run(cmd + ["solve", str(INSTANCES / "poisson12.mtx")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "optimal" in proc.stdout


def test_ctrl_c_in_the_cli_keeps_the_best_solution_and_exits_130(tmp_path):
    """SIGINT during `optbox solve`: exit code 130, the output file holds the incumbent (issue 8)."""
    import json
    import signal
    import subprocess
    import sys
    import time

    from problems import TSP

    instance = tmp_path / "big.tsp"
    TSP.random(2500, seed=0).to_file(instance)
    out = tmp_path / "out.json"
    proc = subprocess.Popen([sys.executable, "-m", "optbox", "solve", str(instance), "--method",
                             "local-search", "--time-limit", "300", "--output", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()  # printed once the file is read and the solve begins
        assert "solving big.tsp" in line, line
        time.sleep(3.0)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stdout
    result = json.loads(out.read_text())
    assert result["status"] == "interrupted"
    assert sorted(result["solution"]) == list(range(2500))


def test_bench_suite_skips_a_missing_peer_with_a_note(tmp_path, capsys, monkeypatch):
    """A suite without one of its peers still runs and says so (issue 7): DAG without DAGMA."""
    import sys

    monkeypatch.setitem(sys.modules, "dagma", None)  # `import dagma` now raises ImportError
    monkeypatch.setenv("OPTBOX_NO_PROGRESS", "1")
    from benchmarks import dag

    assert dag.main(["--dims", "5", "--seeds", "1", "--n", "200", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "dagma not installed" in out
    rows = json.loads((tmp_path / "dag.json").read_text())
    assert {r["method"] for r in rows} == {"topo", "notears"}
    for name in ("dag.csv", "dag.md", "dag_shd.png", "dag_cpu.png"):
        assert (tmp_path / name).stat().st_size > 0


@pytest.mark.slow
def test_bench_quick_runs_a_whole_suite(tmp_path, capsys):
    """`optbox bench dag --quick`: tables (CSV, JSON, Markdown) and PNG plots appear (issue 7)."""
    assert main(["bench", "dag", "--quick", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "dag.json").read_text())
    assert {r["d"] for r in rows} == {10, 20, 30}
    assert all(r["shd"] == 0 for r in rows if r["method"] == "topo" and r["d"] <= 20)
    assert (tmp_path / "dag_shd.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_all_keeps_going_after_a_failing_suite(tmp_path, capsys, monkeypatch):
    """`optbox bench all`: a suite that crashes is reported, the next suites still run."""
    import types

    import benchmarks

    def boom(argv):
        raise RuntimeError("peer exploded")

    def fine(argv):
        out = Path(argv[argv.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        (out / "fine.md").write_text("| ok |\n")
        return 0

    for name, fn in (("boom", boom), ("fine", fine)):
        monkeypatch.setitem(sys.modules, f"benchmarks.{name}", types.SimpleNamespace(main=fn))
    monkeypatch.setattr(benchmarks, "SUITES", ("boom", "fine"))
    code, out, err = run(capsys, "bench", "all", "--out", str(tmp_path))
    assert code == 1
    assert "bench boom failed: RuntimeError: peer exploded" in err
    assert (tmp_path / "fine" / "fine.md").exists() and "wrote fine.md" in out


def test_ctrl_c_during_a_batch_returns_every_instance(tmp_path):
    """SIGINT to `optbox solve a b c --workers 2`: running instances stop with their best tour,
    the one not started is reported, exit code 130, nothing hangs (issue 8)."""
    import signal
    import time

    from problems import TSP

    files = []
    for k in range(3):
        files.append(tmp_path / f"t{k}.tsp")
        TSP.random(2000, seed=k).to_file(files[-1])
    out = tmp_path / "out.json"
    proc = subprocess.Popen([sys.executable, "-m", "optbox", "solve", *map(str, files), "--workers", "2",
                             "--method", "local-search", "--time-limit", "300", "--output", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(12.0)  # workers start, read their files and compile
        start = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=90)
        waited = time.perf_counter() - start
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert waited < 60
    results = json.loads(out.read_text())
    assert [r["status"] for r in results].count("interrupted") == 3
    finished = [r for r in results if r["solution"] is not None]
    assert finished, "the running instances keep their best tours"
    for r in finished:
        assert sorted(r["solution"]) == list(range(2000))
