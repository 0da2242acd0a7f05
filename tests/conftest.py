"""Shared fixtures: paths to the example instances and their expected objectives."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
INSTANCES = ROOT / "instances"
BENCHDATA = ROOT.parent / "shared" / "benchdata"


@pytest.fixture(scope="session")
def instances_dir() -> Path:
    return INSTANCES


@pytest.fixture(scope="session")
def expected() -> dict:
    return json.loads((INSTANCES / "expected.json").read_text())


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print how many bad inputs the reliability tests tried: per reader, per problem class, per solver."""
    import sys

    counters = [("tests.test_reliability", "TRIED", "bad files tried per reader"),
                ("tests.test_solver_edge_cases", "REFUSED", "malformed problems refused per class"),
                ("tests.test_solver_edge_cases", "TRIED_SOLVER", "edge cases solved per method")]
    for module_name, attribute, label in counters:
        module = sys.modules.get(module_name)
        counts = getattr(module, attribute, None) if module else None
        if counts:
            line = ", ".join(f"{key}: {n}" for key, n in sorted(counts.items()))
            terminalreporter.write_line(f"reliability: {label} ({sum(counts.values())}) — {line}")
