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
