"""Mixed-integer linear programs read from MPS / LP files by SCIP."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from ._subprocess_guard import survives_in_child
from ._validation import InvalidProblemError, InvalidSolutionError
from .base import Problem, file_extension


@dataclass(frozen=True)
class MIPData:
    """The model in arrays: min/max c^T x + offset, lhs <= A x <= rhs, lb <= x <= ub."""

    names: list[str]
    vtypes: np.ndarray  # 'B', 'I', 'C' (implicit integers count as 'I')
    lb: np.ndarray
    ub: np.ndarray
    c: np.ndarray
    offset: float
    A: sp.csr_matrix
    lhs: np.ndarray
    rhs: np.ndarray
    maximize: bool
    nonlinear_constraints: int


class MIP(Problem):
    """A mixed-integer program. Build with ``MIP.from_file("x.mps.gz")`` (.mps/.lp, gzip ok).

    A solution is a dict ``{variable name: value}``; ``objective`` is c^T x + offset in the
    model's own sense (minimize or maximize).
    """

    extensions: ClassVar[tuple[str, ...]] = (".mps", ".lp", ".mps.gz", ".lp.gz")
    kind: ClassVar[str] = "mip"

    def __init__(self, source: bytes, ext: str, name: str = "mip"):
        if ext not in self.extensions:
            raise InvalidProblemError(f"MIP source format must be one of {self.extensions}, got {ext!r}")
        self._source = bytes(source)
        self._ext = ext
        self.name = name
        model = self.create_model()
        self.data = _extract(model)
        model.freeProb()

    # ------------------------------------------------------------------ SCIP side
    def create_model(self, quiet: bool = True):
        """A fresh ``pyscipopt.Model`` holding this problem (each call a new copy)."""
        from pyscipopt import Model

        fd, tmp = tempfile.mkstemp(suffix=self._ext)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(self._source)
            if not self.__dict__.get("_checked_native"):
                survives_in_child(lambda: _read_quietly(tmp), "reading the model")
                self._checked_native = True
            model = Model()
            if quiet:
                model.hideOutput()
            try:
                model.readProblem(tmp)
            except Exception as exc:  # SCIP reports parse errors as generic exceptions
                raise InvalidProblemError(f"SCIP could not read the model: {exc}") from None
        finally:
            os.unlink(tmp)
        if model.getNVars() == 0:
            raise InvalidProblemError("the model has no variables")
        return model

    @classmethod
    def from_model(cls, model: Any, name: str | None = None) -> MIP:
        """Snapshot a pyscipopt model (written to MPS internally)."""
        fd, tmp = tempfile.mkstemp(suffix=".mps")
        os.close(fd)
        try:
            model.writeProblem(tmp, trans=False, verbose=False)
            source = Path(tmp).read_bytes()
        finally:
            os.unlink(tmp)
        return cls(source, ".mps", name=name or model.getProbName() or "mip")

    @classmethod
    def _read(cls, path: Path) -> MIP:
        source = path.read_bytes()
        if not source.strip():
            raise InvalidProblemError("file is empty")
        return cls(source, file_extension(path), name=path.name.split(".")[0])

    def _write(self, path: Path) -> None:
        ext = file_extension(path)
        if ext == self._ext:
            path.write_bytes(self._source)
            return
        model = self.create_model()
        model.writeProblem(str(path), trans=False, verbose=False)

    # ------------------------------------------------------------------ evaluation
    @property
    def size(self) -> int:
        return len(self.data.names)

    @property
    def maximize(self) -> bool:
        return self.data.maximize

    def vector(self, solution: dict[str, float]) -> np.ndarray:
        """The solution dict as a vector in the model's variable order."""
        if not isinstance(solution, dict):
            raise InvalidSolutionError("a MIP solution is a dict {variable name: value}")
        missing = [n for n in self.data.names if n not in solution]
        if missing:
            raise InvalidSolutionError(
                f"solution misses {len(missing)} variable(s), e.g. {missing[:3]}"
            )
        return np.array([float(solution[n]) for n in self.data.names])

    def objective(self, solution: dict[str, float]) -> float:
        return float(self.data.c @ self.vector(solution) + self.data.offset)

    def violation(self, solution: dict[str, float]) -> float:
        """Largest violation of bounds, integrality or linear rows (0 for a feasible point)."""
        d = self.data
        x = self.vector(solution)
        viol = max(0.0, float(np.max(d.lb - x, initial=0.0)), float(np.max(x - d.ub, initial=0.0)))
        integral = d.vtypes != "C"
        if integral.any():
            viol = max(viol, float(np.max(np.abs(x[integral] - np.round(x[integral])))))
        if d.A.shape[0]:
            ax = d.A @ x
            viol = max(viol, float(np.max(d.lhs - ax, initial=0.0)), float(np.max(ax - d.rhs, initial=0.0)))
        return viol

    def is_feasible(self, solution: dict[str, float], tol: float = 1e-6) -> bool:
        """Feasibility with tolerance ``tol`` scaled like SCIP's (relative for large rows)."""
        if self.data.nonlinear_constraints:
            model = self.create_model()
            sol = model.createSol()
            for var in model.getVars():
                model.setSolVal(sol, var, solution[var.name])
            return bool(model.checkSol(sol))
        finite_rhs = np.abs(self.data.rhs[np.isfinite(self.data.rhs)])
        return self.violation(solution) <= tol * max(1.0, float(np.max(finite_rhs, initial=1.0)))


def _read_quietly(path: str) -> None:
    from pyscipopt import Model

    model = Model()
    model.hideOutput()
    model.readProblem(path)


def _extract(model: Any) -> MIPData:
    """Arrays of a freshly read model (linear constraints; others only counted)."""
    variables = model.getVars()
    index = {v.name: k for k, v in enumerate(variables)}
    vt = {"BINARY": "B", "INTEGER": "I", "IMPLINT": "I", "CONTINUOUS": "C"}
    vtypes = np.array([vt.get(v.vtype(), "C") for v in variables])
    lb = np.array([v.getLbOriginal() for v in variables], dtype=np.float64)
    ub = np.array([v.getUbOriginal() for v in variables], dtype=np.float64)
    inf = model.infinity()
    lb[lb <= -inf] = -np.inf
    ub[ub >= inf] = np.inf
    c = np.array([v.getObj() for v in variables], dtype=np.float64)
    rows, cols, vals, lhs, rhs = [], [], [], [], []
    nonlinear = 0
    for cons in model.getConss():
        if cons.getConshdlrName() != "linear":
            nonlinear += 1
            continue
        r = len(lhs)
        for name, coef in model.getValsLinear(cons).items():
            rows.append(r)
            cols.append(index[name])
            vals.append(coef)
        lo, hi = model.getLhs(cons), model.getRhs(cons)
        lhs.append(-np.inf if lo <= -inf else lo)
        rhs.append(np.inf if hi >= inf else hi)
    A = sp.csr_matrix((vals, (rows, cols)), shape=(len(lhs), len(variables)))
    return MIPData(
        names=[v.name for v in variables], vtypes=vtypes, lb=lb, ub=ub, c=c,
        offset=float(model.getObjoffset()), A=A, lhs=np.array(lhs), rhs=np.array(rhs),
        maximize=model.getObjectiveSense() == "maximize", nonlinear_constraints=nonlinear,
    )
