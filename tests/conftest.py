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
    """Print how many bad inputs the reliability tests tried, per reader."""
    try:
        from .test_reliability import TRIED
    except ImportError:
        return
    if TRIED:
        line = ", ".join(f"{ext}: {n}" for ext, n in sorted(TRIED.items()))
        terminalreporter.write_line(f"reliability: bad inputs tried per reader — {line}")
