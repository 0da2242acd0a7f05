"""DAG structure learning from observational data (NOTEARS-type score objectives)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ._validation import InvalidProblemError, InvalidSolutionError, as_float_array
from .base import Problem, read_text

LOSSES = ("l2", "logistic", "gauss-nv")


class DAGLearning(Problem):
    """Learn a weighted DAG W (d x d, W[i, j] != 0 means i -> j) from data X (n, d).

    Score (NOTEARS, Zheng et al. 2018, eq. 2/3) on the working data ``X``:
      loss="l2":        Q(W) = 1/(2n) ||X - X W||_F^2
      loss="logistic":  Q(W) = min_b 1/n sum( log(1 + exp(X W + 1 b)) - X * (X W + 1 b) )
    plus ``lambda1 * ||W||_1`` when ``lambda1 > 0``. ``objective(W)`` returns this score
    and raises if W is not acyclic or breaks the prior knowledge.

    ``loss="gauss-nv"``: the Gaussian BIC score with a noise variance per node (the profile
    log-likelihood of GOLEM-NV, Ng et al. 2020, and DAGMA's log-likelihood score, plus the
    BIC complexity term of GES, Chickering 2002), per sample:
      Q(W) = sum_j 1/2 log(||x_j - X w_j||^2 / n) + log(n) / (2n) * nnz(W).
    Unlike l2 it does not assume equal noise variances, and rescaling a column shifts Q by a
    constant, so the best graph does not depend on the data's units. The complexity term is
    what makes it identify a graph (the likelihood alone is the same for every complete DAG),
    so it takes no ``lambda1``.

    Data as users have it: ``data`` keeps the given matrix. For l2 the working ``X`` is the
    data with every column centred (``center=True``, the default, as DAGMA does), so constant
    offsets of the columns change nothing; ``standardize=True`` also scales every column to
    unit variance. Caveat (var-sortability, Reisach et al. 2021): the equal-variance score
    exploits the growth of marginal variance along the causal order in simulated data;
    standardizing removes that signal, so the score then identifies a different (often worse)
    graph; standardize only when the units are arbitrary. For logistic loss (binary data) each
    node has an unpenalized intercept b_j instead (``center=False``: no intercept).

    Prior knowledge (as in causal-learn / gcastle): ``forbidden`` and ``required`` are edges
    as (cause, effect) pairs of column indices or node names, or a boolean (d, d) mask;
    ``tiers`` (temporal layers) is a tier number per node or a list of lists of nodes (tier 0
    first): no edge may point from a later tier into an earlier one. ``allowed`` and
    ``required`` are the resulting (d, d) masks, ``precedence[i, j]`` says i must come before
    j in every topological order (required edges and tiers).
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
        center: bool = True,
        standardize: bool = False,
        forbidden: Any = None,
        required: Any = None,
        tiers: Any = None,
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
        if loss == "logistic" and standardize:
            raise InvalidProblemError("standardize=True applies to loss='l2' (logistic data stay 0/1)")
        if lambda1 < 0 or not np.isfinite(lambda1):
            raise InvalidProblemError(f"lambda1 must be >= 0, got {lambda1}")
        if loss == "gauss-nv" and lambda1 > 0:
            raise InvalidProblemError("loss='gauss-nv' carries its own BIC sparsity term; lambda1 must be 0")
        self.data = X
        self.loss = loss
        self.center = bool(center)
        self.standardize = bool(standardize)
        self.intercept = loss == "logistic" and self.center
        if loss != "logistic":
            Xw = X - X.mean(axis=0) if (self.center or self.standardize) else X
            self.X = Xw / Xw.std(axis=0) if self.standardize else Xw
        else:
            self.X = X
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
        self._set_priors(forbidden, required, tiers)

    # ------------------------------------------------------------------ prior knowledge
    def _node(self, v: Any) -> int:
        d = self.n_nodes
        if isinstance(v, str):
            if v not in self.node_names:
                raise InvalidProblemError(f"unknown node name {v!r} in prior knowledge")
            return self.node_names.index(v)
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= int(v) < d:
            return int(v)
        raise InvalidProblemError(f"node {v!r} in prior knowledge is not a column index 0..{d - 1} or a name")

    def _edge_mask(self, edges: Any, what: str) -> np.ndarray:
        d = self.n_nodes
        if edges is None:
            return np.zeros((d, d), dtype=bool)
        arr = np.asarray(edges, dtype=object) if not isinstance(edges, np.ndarray) else edges
        if arr.ndim == 2 and arr.shape == (d, d) and not (d == 2 and arr.dtype == object):
            mask = np.asarray(edges).astype(bool)
        else:
            mask = np.zeros((d, d), dtype=bool)
            for pair in edges:
                if not isinstance(pair, (tuple, list, np.ndarray)) or len(pair) != 2:
                    raise InvalidProblemError(f"{what} edges must be (cause, effect) pairs, got {pair!r}")
                mask[self._node(pair[0]), self._node(pair[1])] = True
        if np.any(np.diag(mask)):
            raise InvalidProblemError(f"{what} edges contain a self-loop")
        return mask

    def _set_priors(self, forbidden: Any, required: Any, tiers: Any) -> None:
        d = self.n_nodes
        forb = self._edge_mask(forbidden, "forbidden")
        req = self._edge_mask(required, "required")
        tier = None
        if tiers is not None:
            items = list(tiers)
            if len(items) == d and all(isinstance(t, (int, np.integer)) and not isinstance(t, bool)
                                       for t in items):
                tier = np.asarray(items, dtype=np.int64)
            else:
                tier = np.full(d, -1, dtype=np.int64)
                for t, layer in enumerate(items):
                    if isinstance(layer, (str, int, np.integer)):
                        raise InvalidProblemError("tiers must be one tier number per node or a list "
                                                  "of lists of nodes")
                    for v in layer:
                        k = self._node(v)
                        if tier[k] >= 0:
                            raise InvalidProblemError(f"node {self.node_names[k]!r} is in two tiers")
                        tier[k] = t
                if np.any(tier < 0):
                    missing = [self.node_names[k] for k in np.flatnonzero(tier < 0)][:5]
                    raise InvalidProblemError(f"every node needs a tier; missing {missing}")
        both = np.argwhere(forb & req)
        if both.size:
            i, j = both[0]
            raise InvalidProblemError(f"edge {self.node_names[i]} -> {self.node_names[j]} is both "
                                      "forbidden and required")
        allowed = ~forb & ~np.eye(d, dtype=bool)
        precedence = req.copy()
        if tier is not None:
            allowed &= tier[:, None] <= tier[None, :]
            precedence |= tier[:, None] < tier[None, :]
            back = np.argwhere(req & (tier[:, None] > tier[None, :]))
            if back.size:
                i, j = back[0]
                raise InvalidProblemError(f"required edge {self.node_names[i]} -> {self.node_names[j]} "
                                          "points into an earlier tier")
        if not is_dag(req):
            raise InvalidProblemError("the required edges form a directed cycle")
        self.allowed, self.required, self.precedence, self.tiers = allowed, req, precedence, tier

    @property
    def has_priors(self) -> bool:
        d = self.n_nodes
        return bool(self.precedence.any() or (~self.allowed).sum() > d)

    def prior_violations(self, W: Any) -> list[str]:
        """The prior-knowledge rules a graph breaks (empty when it keeps all)."""
        E = np.asarray(W) != 0
        out = [f"forbidden edge {self.node_names[i]} -> {self.node_names[j]}"
               for i, j in np.argwhere(E & ~self.allowed & ~np.eye(self.n_nodes, dtype=bool))]
        out += [f"required edge {self.node_names[i]} -> {self.node_names[j]} is missing"
                for i, j in np.argwhere(self.required & ~E)]
        return out

    # ------------------------------------------------------------------ sizes and score
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
        """The data-fit term of the score, without the L1 penalty, for any W (logistic: at
        the best intercepts)."""
        W = self._check_W(W)
        M = self.X @ W
        n = self.n_samples
        if self.loss == "l2":
            R = self.X - M
            return float(0.5 / n * np.sum(R * R))
        if self.loss == "gauss-nv":
            R = self.X - M
            return float(0.5 * np.sum(np.log(np.maximum(np.mean(R * R, axis=0), 1e-300))))
        if self.intercept:
            M = M + best_intercepts(M, self.X)
        return float(np.sum(np.logaddexp(0.0, M) - self.X * M) / n)

    def objective(self, solution: Any) -> float:
        W = self._check_W(solution)
        if not is_dag(W):
            raise InvalidSolutionError("W has a directed cycle")
        broken = self.prior_violations(W)
        if broken:
            raise InvalidSolutionError(f"W breaks the prior knowledge: {broken[0]}")
        if self.loss == "gauss-nv":
            n = self.n_samples
            return self.loss_value(W) + float(0.5 * np.log(n) / n * np.count_nonzero(W))
        return self.loss_value(W) + self.lambda1 * float(np.abs(W).sum())

    # ------------------------------------------------------------------ files
    @classmethod
    def _read(cls, path: Path, **kwargs: Any) -> DAGLearning:
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
        kwargs.setdefault("node_names", header)
        kwargs.setdefault("true_graph", true_graph)
        return cls(X, kwargs.pop("loss", "logistic" if binary else "l2"), **kwargs)

    def _write(self, path: Path) -> None:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.node_names)
        writer.writerows([[repr(float(v)) for v in row] for row in self.data])
        path.write_text(buf.getvalue(), encoding="utf-8")

    @classmethod
    def random(
        cls, d: int, n: int = 1000, seed: int = 0, graph: str = "ER", edges_per_node: int = 2,
        loss: str = "l2", noise: str = "gauss", equal_variance: bool = True, **kwargs: Any,
    ) -> DAGLearning:
        """Simulated linear SEM (or logistic) on a random ER/SF graph, see
        :func:`problems.dag_simulation.simulate` (NOTEARS/DAGMA conventions)."""
        from .dag_simulation import simulate

        X, B = simulate(d, n, seed=seed, graph=graph, edges_per_node=edges_per_node,
                        sem="logistic" if loss == "logistic" else noise,
                        equal_variance=equal_variance)
        return cls(X, loss, true_graph=B, **kwargs)


def best_intercepts(M: np.ndarray, Y: np.ndarray, iters: int = 50) -> np.ndarray:
    """Per column j, the intercept b_j minimizing mean(log(1 + e^{m + b}) - y (m + b)) (Newton)."""
    ybar = np.clip(Y.mean(axis=0), 1e-12, 1 - 1e-12)
    b = np.log(ybar / (1 - ybar)) - M.mean(axis=0)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(M + b, -700, 700)))
        g = p.mean(axis=0) - ybar
        h = np.maximum((p * (1 - p)).mean(axis=0), 1e-12)
        step = np.clip(g / h, -5.0, 5.0)
        b = b - step
        if np.max(np.abs(step)) < 1e-12:
            break
    return b


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
