"""``.npz`` containers shared by several problem classes.

Every optbox ``.npz`` holds a string entry ``kind`` naming the problem class, so that
:func:`problems.read_instance` can dispatch on content rather than on the suffix alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._validation import InvalidProblemError


def load_npz(path: Path) -> dict[str, Any]:
    """All arrays of an ``.npz`` file, refusing pickled objects."""
    try:
        with open(path, "rb") as fh:
            if fh.read(2) != b"PK":  # not a zip: np.load would try to read it as a pickle
                raise ValueError("not a zip archive written by numpy.savez")
        with np.load(path, allow_pickle=False) as data:
            out = {k: data[k] for k in data.files}
    except Exception as exc:  # BadZipFile, pickled objects, truncated data...
        raise InvalidProblemError(f"not a valid .npz file ({exc})") from None
    if "kind" in out:
        out["kind"] = str(out["kind"])
    return out


def npz_kind(path: Path) -> str:
    data = load_npz(path)
    if "kind" not in data:
        raise InvalidProblemError(
            "the .npz file has no 'kind' entry naming its problem class "
            "(e.g. 'ot', 'linear', 'least_squares')"
        )
    return data["kind"]


def require(data: dict[str, Any], *keys: str) -> None:
    missing = [k for k in keys if k not in data]
    if missing:
        raise InvalidProblemError(f"the .npz file misses entries {missing}")


def pack_matrix(prefix: str, mat: Any) -> dict[str, np.ndarray]:
    """Store a dense or sparse matrix under ``prefix``-named entries."""
    if sp.issparse(mat):
        csr = sp.csr_matrix(mat)
        return {
            f"{prefix}_data": csr.data, f"{prefix}_indices": csr.indices,
            f"{prefix}_indptr": csr.indptr, f"{prefix}_shape": np.array(csr.shape),
        }
    return {prefix: np.asarray(mat)}


def unpack_matrix(data: dict[str, Any], prefix: str) -> Any:
    if prefix in data:
        return data[prefix]
    keys = [f"{prefix}_{s}" for s in ("data", "indices", "indptr", "shape")]
    require(data, *keys)
    shape = tuple(int(s) for s in data[keys[3]])
    if len(shape) != 2 or min(shape) < 0:
        raise InvalidProblemError(f"bad shape {shape} for {prefix}")
    try:
        return sp.csr_matrix((data[keys[0]], data[keys[1]], data[keys[2]]), shape=shape)
    except ValueError as exc:
        raise InvalidProblemError(f"inconsistent sparse matrix {prefix}: {exc}") from None


def save_npz(path: Path, kind: str, **arrays: Any) -> None:
    with open(path, "wb") as fh:
        np.savez_compressed(fh, kind=np.array(kind), **arrays)
