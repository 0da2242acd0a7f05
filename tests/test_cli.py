"""The optbox command line: exit codes, outputs, one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from solvers.cli import main

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


def test_console_script_entry_point():
    exe = shutil.which("optbox")
    cmd = [exe] if exe else [sys.executable, "-m", "solvers.cli"]
    proc = subprocess.run(cmd + ["solve", str(INSTANCES / "poisson12.mtx")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "optimal" in proc.stdout
