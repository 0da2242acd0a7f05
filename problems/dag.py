"""DAG structure learning from observational data (NOTEARS-type score objectives)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ._validation import InvalidProblemError, InvalidSolutionError, as_float_array
from .base import Problem, read_text

LOSSES = ("l2", "logistic")


class DAGLearning(Problem):
    """Learn a weighted DAG W (d x d, W[i, j] != 0 means i -> j) from data X (n, d).

    Score (NOTEARS, Zheng et al. 2018, eq. 2/3):
      loss="l2":        Q(W) = 1/(2n) ||X - X W||_F^2
      loss="logistic":  Q(W) = 1/n sum( log(1 + exp(X W)) - X * (X W) )   (X binary 0/1)
    plus ``lambda1 * ||W||_1`` when ``lambda1 > 0``. ``objective(W)`` returns this score
    and raises if W is not acyclic.
    """

    extensions: ClassVar[tuple[str, ...]] = (".csv",)
    kind: ClassVar[str] = "dag"

    def __init__(
        self,
        X: Any,
        loss: str = "l2",
        *,
        lambda1: float = 0.0,
        node_names: list[str] | None = None,
        true_graph: Any = None,
    ):
        X = as_float_array(X, "X", ndim=2)
        n, d = X.shape
        if n < 2:
            raise InvalidProblemError(f"DAG learning needs at least 2 samples, got {n}")
        if d < 1:
            raise InvalidProblemError("X has no columns (variables)")
        if loss not in LOSSES:
            raise InvalidProblemError(f"loss must be one of {LOSSES}, got {loss!r}")
        std = X.std(axis=0)
        const = np.flatnonzero(std == 0)
        if const.size:
            raise InvalidProblemError(
                f"column(s) {const[:5].tolist()} are constant; drop them before learning a graph"
            )
        if loss == "logistic" and not np.all((X == 0) | (X == 1)):
            raise InvalidProblemError("loss='logistic' needs binary data (every entry 0 or 1)")
        if lambda1 < 0 or not np.isfinite(lambda1):
            raise InvalidProblemError(f"lambda1 must be >= 0, got {lambda1}")
        self.X = X
        self.loss = loss
        self.lambda1 = float(lambda1)
        self.node_names = list(node_names) if node_names is not None else [f"x{i}" for i in range(d)]
        if len(self.node_names) != d:
            raise InvalidProblemError(f"{len(self.node_names)} node names for {d} columns")
        self.true_graph = None
        if true_graph is not None:
            B = as_float_array(true_graph, "true_graph", ndim=2)
            if B.shape != (d, d):
                raise InvalidProblemError(f"true_graph must be ({d}, {d}), got {B.shape}")
            self.true_graph = B

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_nodes(self) -> int:
        return self.X.shape[1]

    @property
    def size(self) -> int:
        return self.n_nodes

    def _check_W(self, W: Any) -> np.ndarray:
        try:
            W = np.asarray(W, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidSolutionError("W must be a numeric (d, d) array")
        d = self.n_nodes
        if W.shape != (d, d):
            raise InvalidSolutionError(f"W must have shape ({d}, {d}), got {W.shape}")
        if not np.all(np.isfinite(W)):
            raise InvalidSolutionError("W contains NaN or inf")
        return W

    def loss_value(self, W: Any) -> float:
        """The data-fit term of the score, without the L1 penalty, for any W."""
        W = self._check_W(W)
        M = self.X @ W
        n = self.n_samples
        if self.loss == "l2":
            R = self.X - M
            return float(0.5 / n * np.sum(R * R))
        return float(np.sum(np.logaddexp(0.0, M) - self.X * M) / n)

    def objective(self, solution: Any) -> float:
        W = self._check_W(solution)
        if not is_dag(W):
            raise InvalidSolutionError("W has a directed cycle")
        return self.loss_value(W) + self.lambda1 * float(np.abs(W).sum())

    @classmethod
    def _read(cls, path: Path) -> DAGLearning:
        text = read_text(path)
        rows = list(csv.reader(io.StringIO(text)))
        rows = [r for r in rows if r and any(c.strip() for c in r)]
        if len(rows) < 2:
            raise InvalidProblemError("a DAG data .csv needs a header row and at least 2 data rows")
        header = [h.strip() for h in rows[0]]
        width = len(header)
        try:
            X = np.array([[float(c) for c in r] for r in rows[1:]], dtype=np.float64)
        except ValueError as exc:
            raise InvalidProblemError(f"non-numeric value in data rows ({exc})") from None
        if X.ndim != 2 or X.shape[1] != width:
            raise InvalidProblemError(f"every data row must have {width} values like the header")
        binary = bool(np.all((X == 0) | (X == 1)))
        true_graph = None
        graph_path = path.with_name(path.name.split(".")[0] + ".graph.csv")
        if graph_path.exists():
            true_graph = np.loadtxt(graph_path, delimiter=",", ndmin=2)
        return cls(X, "logistic" if binary else "l2", node_names=header, true_graph=true_graph)

    def _write(self, path: Path) -> None:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.node_names)
        writer.writerows([[repr(float(v)) for v in row] for row in self.X])
        path.write_text(buf.getvalue(), encoding="utf-8")

    @classmethod
    def random(
        cls, d: int, n: int = 1000, seed: int = 0, graph: str = "ER", edges_per_node: int = 2,
        loss: str = "l2",
    ) -> DAGLearning:
        """Simulated linear-Gaussian (or logistic) SEM on a random ER/SF graph, see
        :func:`problems.dag_simulation.simulate`."""
        from .dag_simulation import simulate

        X, B = simulate(d, n, seed=seed, graph=graph, edges_per_node=edges_per_node,
                        sem="logistic" if loss == "logistic" else "gauss")
        return cls(X, loss, true_graph=B)


def is_dag(W: np.ndarray) -> bool:
    """True when the support of W has no directed cycle (Kahn's algorithm)."""
    A = np.asarray(W) != 0
    d = A.shape[0]
    indeg = A.sum(axis=0).astype(np.int64)
    stack = list(np.flatnonzero(indeg == 0))
    seen = 0
    while stack:
        i = stack.pop()
        seen += 1
        for j in np.flatnonzero(A[i]):
            indeg[j] -= 1
            if indeg[j] == 0:
                stack.append(j)
    return seen == d
