"""Reliability: every reader fuzzed with malformed files; bad input never escapes as a raw
exception and never hangs. Counts of the bad inputs tried are printed in the test summary."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from problems import InvalidProblemError, Problem, read_instance

from .conftest import INSTANCES

#: bad inputs tried, per reader (extension) — printed by conftest's terminal summary
TRIED: Counter[str] = Counter()

SEEDS = {
    ".tsp": "berlin52.tsp",
    ".vrp": "X-n101-k25.vrp",
    ".lp": "knapsack30.lp",
    ".mps.gz": "facility8x20.mps.gz",
    ".npz": "ot_random60.npz",
    ".mtx": "poisson12.mtx",
    ".csv": "sem6.csv",
    ".svm": "diabetes.svm",
}


def _mutations() -> st.SearchStrategy:
    """A strategy producing (kind, parameters) describing how to damage a valid file."""
    return st.one_of(
        st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
        st.tuples(st.just("token"), st.floats(0.0, 1.0),
                  st.sampled_from(["abc", "-", "1e999", "nan", "inf", "-7", "99999999999", "",
                                   "\x00", "1.2.3", "EOF", "\ufffd"])),
        st.tuples(st.just("drop_line"), st.floats(0.0, 1.0)),
        st.tuples(st.just("dup_line"), st.floats(0.0, 1.0)),
        st.tuples(st.just("junk"), st.binary(min_size=0, max_size=200)),
        st.tuples(st.just("header"), st.sampled_from(["DIMENSION : 99999999", "DIMENSION : -3",
                                                      "EDGE_WEIGHT_TYPE : XRAY", "CAPACITY : 0",
                                                      "TYPE : ATSP"])),
    )


def _damage(data: bytes, mutation: tuple) -> bytes:
    kind = mutation[0]
    if kind == "truncate":
        return data[: int(len(data) * mutation[1])]
    if kind == "junk":
        return mutation[1]
    text = data.decode("latin-1")
    lines = text.splitlines(keepends=True)
    if not lines:
        return data
    if kind == "header":
        return (mutation[1] + "\n" + text).encode("latin-1")
    k = min(int(len(lines) * mutation[1]), len(lines) - 1)
    if kind == "drop_line":
        del lines[k]
    elif kind == "dup_line":
        lines.insert(k, lines[k])
    elif kind == "token":
        tokens = lines[k].split(" ")
        j = min(int(len(tokens) * mutation[1]), len(tokens) - 1)
        tokens[j] = mutation[2]
        lines[k] = " ".join(tokens)
    return "".join(lines).encode("utf-8", errors="surrogateescape")


def _raw(name: str) -> bytes:
    path = INSTANCES / name
    if name.endswith(".gz"):
        import gzip

        return gzip.decompress(path.read_bytes())
    return path.read_bytes()


def _write(path: Path, ext: str, payload: bytes) -> None:
    if ext.endswith(".gz") and not payload.startswith(b"\x1f\x8b"):
        import gzip

        payload = gzip.compress(payload)
    path.write_bytes(payload)


@pytest.mark.parametrize("ext", sorted(SEEDS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=_mutations())
def test_reader_never_raises_anything_but_invalid_problem(ext, mutation, tmp_path_factory):
    source = _raw(SEEDS[ext])
    if ext == ".npz":
        source = (INSTANCES / SEEDS[ext]).read_bytes()
    payload = _damage(source, mutation)
    path = tmp_path_factory.mktemp("fuzz") / f"bad{ext}"
    _write(path, ext, payload)
    TRIED[ext] += 1
    start = time.perf_counter()
    try:
        problem = read_instance(path)
    except InvalidProblemError as exc:
        assert str(exc), "an error must say what is wrong"
    else:
        assert isinstance(problem, Problem)  # a harmless mutation: the file is still valid
    assert time.perf_counter() - start < 30


@pytest.mark.parametrize("ext", sorted(SEEDS) + [".mps", ".vrp.gz"])
def test_empty_and_binary_files(ext, tmp_path):
    for k, payload in enumerate([b"", b"\x00" * 64, bytes(range(256)), b"\xff\xfe garbage \n" * 10]):
        path = tmp_path / f"bad{k}{ext}"
        path.write_bytes(payload)
        TRIED[ext] += 1
        with pytest.raises(InvalidProblemError):
            read_instance(path)


def test_huge_dimension_is_refused_quickly(tmp_path):
    path = tmp_path / "huge.tsp"
    path.write_text("NAME: h\nTYPE: TSP\nDIMENSION: 999999999999\nEDGE_WEIGHT_TYPE: EUC_2D\n"
                    "NODE_COORD_SECTION\n1 0 0\n2 1 1\n3 2 2\nEOF\n")
    TRIED[".tsp"] += 1
    start = time.perf_counter()
    with pytest.raises(InvalidProblemError):
        read_instance(path)
    assert time.perf_counter() - start < 5


def test_directory_instead_of_file(tmp_path):
    (tmp_path / "dir.tsp").mkdir()
    with pytest.raises(InvalidProblemError):
        read_instance(tmp_path / "dir.tsp")


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, kind=np.array("ot"), a=np.array([object()], dtype=object))
    TRIED[".npz"] += 1
    with pytest.raises(InvalidProblemError):
        read_instance(path)


def test_npz_that_is_not_a_zip_says_so(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("kind ot\n1 2 3\n")
    TRIED[".npz"] += 1
    with pytest.raises(InvalidProblemError, match="not a zip archive"):
        read_instance(path)


def test_truncated_mps_that_crashes_scip_is_an_error(tmp_path):
    """SCIP's MPS reader segfaults on a file cut inside ROWS; we must report, not die."""
    rows = "\n".join(f" L  c{k} " for k in range(40))
    path = tmp_path / "cut.mps"
    path.write_text(f"NAME          cut\nOBJSENSE\n  MIN\nROWS\n N  Obj \n{rows}\n L")
    TRIED[".mps"] += 1
    with pytest.raises(InvalidProblemError):
        read_instance(path)
