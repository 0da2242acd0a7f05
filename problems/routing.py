"""Routing problems: the symmetric TSP and the capacitated VRP (TSPLIB / CVRPLIB files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ._validation import InvalidProblemError, InvalidSolutionError, as_float_array
from .base import Problem, read_text
from .distances import DISTANCE_CODES, full_distance_matrix, pair_distances

_SUPPORTED_TYPES = ("EUC_2D", "CEIL_2D", "ATT", "GEO", "EXPLICIT", "EUC")


def _parse_vrplib_text(text: str) -> dict[str, Any]:
    import vrplib.parse

    if not text.strip():
        raise InvalidProblemError("file is empty")
    head = text.upper()
    explicit = "EDGE_WEIGHT_TYPE" in head and "EXPLICIT" in head
    data = vrplib.parse.parse_vrplib(text, compute_edge_weights=explicit)
    data = {str(k).lower(): v for k, v in data.items()}
    kind = str(data.get("edge_weight_type", "EUC_2D")).strip().upper()
    if kind not in _SUPPORTED_TYPES:
        raise InvalidProblemError(
            f"unsupported EDGE_WEIGHT_TYPE {kind!r}; supported: {', '.join(_SUPPORTED_TYPES)}"
        )
    data["edge_weight_type"] = kind
    if "dimension" not in data:
        raise InvalidProblemError("missing DIMENSION")
    try:
        dim = int(data["dimension"])
    except (TypeError, ValueError):
        raise InvalidProblemError(f"DIMENSION must be an integer, got {data['dimension']!r}")
    if dim < 1 or dim > 5_000_000:
        raise InvalidProblemError(f"DIMENSION {dim} is out of range")
    data["dimension"] = dim
    if kind == "EXPLICIT":
        if "edge_weight" not in data:
            raise InvalidProblemError("EXPLICIT instance without EDGE_WEIGHT_SECTION")
        mat = np.asarray(data["edge_weight"], dtype=np.float64)
        if mat.shape != (dim, dim):
            raise InvalidProblemError(
                f"EDGE_WEIGHT_SECTION gives a {mat.shape} matrix but DIMENSION is {dim}"
            )
        data["edge_weight"] = mat
    else:
        if "node_coord" not in data:
            raise InvalidProblemError("missing NODE_COORD_SECTION")
        coords = np.asarray(data["node_coord"], dtype=np.float64)
        if coords.ndim != 2 or coords.shape[0] != dim or coords.shape[1] < 2:
            raise InvalidProblemError(
                f"NODE_COORD_SECTION has {coords.shape[0] if coords.ndim else 0} rows "
                f"but DIMENSION is {dim}"
            )
        data["node_coord"] = coords[:, :2]
    return data


class _RoutingBase(Problem):
    """Shared by TSP and CVRP: coordinates (or an explicit matrix) and a distance rule."""

    coords: np.ndarray | None
    edge_weight_type: str
    matrix: np.ndarray | None
    name: str

    def _init_geometry(
        self, coords: Any, edge_weight_type: str, matrix: Any, min_nodes: int
    ) -> None:
        kind = str(edge_weight_type).upper()
        if kind not in DISTANCE_CODES:
            raise InvalidProblemError(
                f"edge_weight_type must be one of {', '.join(DISTANCE_CODES)}, got {edge_weight_type!r}"
            )
        self.edge_weight_type = kind
        if kind == "EXPLICIT":
            mat = as_float_array(matrix, "matrix", ndim=2)
            if mat.shape[0] != mat.shape[1]:
                raise InvalidProblemError(f"matrix must be square, got {mat.shape}")
            if np.any(mat < 0):
                raise InvalidProblemError("matrix has negative distances")
            if not np.allclose(mat, mat.T):
                raise InvalidProblemError("matrix must be symmetric (only symmetric problems)")
            self.matrix = mat
            self.coords = None if coords is None else as_float_array(coords, "coords", ndim=2)
            n = mat.shape[0]
        else:
            self.matrix = None
            self.coords = as_float_array(coords, "coords", ndim=2)
            if self.coords.shape[1] != 2:
                raise InvalidProblemError(
                    f"coords must have shape (n, 2), got {self.coords.shape}"
                )
            n = self.coords.shape[0]
        if n < min_nodes:
            raise InvalidProblemError(f"{type(self).__name__} needs at least {min_nodes} nodes, got {n}")
        self._n_nodes = n

    @property
    def n_nodes(self) -> int:
        return self._n_nodes

    @property
    def distance_code(self) -> int:
        """Integer code of the distance rule (see :mod:`problems.distances`)."""
        return DISTANCE_CODES[self.edge_weight_type]

    def pair_lengths(self, i: Any, j: Any) -> np.ndarray:
        """Lengths of the edges (i[k], j[k]) under this instance's distance rule."""
        return pair_distances(self.coords, i, j, self.edge_weight_type, self.matrix)

    def distance_matrix(self) -> np.ndarray:
        """Dense distance matrix (n^2 memory)."""
        if self.n_nodes > 20_000:
            raise MemoryError(f"a dense distance matrix for {self.n_nodes} nodes is too large")
        return full_distance_matrix(self.coords, self.edge_weight_type, self.matrix)


class TSP(_RoutingBase):
    """Symmetric travelling salesman problem.

    ``TSP(coords)`` with ``coords`` an (n, 2) array uses exact Euclidean lengths;
    files keep their TSPLIB convention (EUC_2D rounding, CEIL_2D, ATT, GEO, EXPLICIT).
    A solution is a permutation of ``range(n)``; the objective is the closed tour length.
    """

    extensions: ClassVar[tuple[str, ...]] = (".tsp", ".tsp.gz")
    kind: ClassVar[str] = "tsp"

    def __init__(
        self,
        coords: Any = None,
        *,
        edge_weight_type: str = "EUC",
        matrix: Any = None,
        name: str = "tsp",
    ):
        if coords is None and matrix is None:
            raise InvalidProblemError("TSP needs coords (n, 2) or an explicit matrix")
        if matrix is not None and coords is None:
            edge_weight_type = "EXPLICIT"
        self._init_geometry(coords, edge_weight_type, matrix, min_nodes=3)
        self.name = name

    @property
    def size(self) -> int:
        return self.n_nodes

    @classmethod
    def random(cls, n: int, seed: int = 0) -> TSP:
        """Uniform random points in the unit square (the UDC / neural CO benchmark family)."""
        rng = np.random.default_rng(seed)
        return cls(rng.random((int(n), 2)), name=f"tsp{n}-s{seed}")

    def check_tour(self, tour: Any) -> np.ndarray:
        try:
            perm = np.asarray(tour, dtype=np.int64).ravel()
        except (TypeError, ValueError):
            raise InvalidSolutionError("a tour must be a sequence of node indices")
        if perm.shape[0] != self.n_nodes or not np.array_equal(np.sort(perm), np.arange(self.n_nodes)):
            raise InvalidSolutionError(f"a tour must be a permutation of range({self.n_nodes})")
        return perm

    def objective(self, solution: Any) -> float:
        perm = self.check_tour(solution)
        return float(self.pair_lengths(perm, np.roll(perm, -1)).sum())

    @classmethod
    def _read(cls, path: Path) -> TSP:
        data = _parse_vrplib_text(read_text(path))
        typ = str(data.get("type", "TSP")).upper()
        if typ not in ("TSP",):
            raise InvalidProblemError(f"TYPE is {typ!r}; only symmetric TSP is supported")
        return cls(
            data.get("node_coord"),
            edge_weight_type=data["edge_weight_type"],
            matrix=data.get("edge_weight"),
            name=str(data.get("name", path.stem)),
        )

    def _write(self, path: Path) -> None:
        lines = [f"NAME : {self.name}", "TYPE : TSP", f"DIMENSION : {self.n_nodes}"]
        if self.edge_weight_type == "EXPLICIT":
            lines += ["EDGE_WEIGHT_TYPE : EXPLICIT", "EDGE_WEIGHT_FORMAT : FULL_MATRIX",
                      "EDGE_WEIGHT_SECTION"]
            lines += [" ".join(repr(float(v)) for v in row) for row in self.matrix]
        else:
            lines.append(f"EDGE_WEIGHT_TYPE : {self.edge_weight_type}")
            lines.append("NODE_COORD_SECTION")
            lines += [f"{i + 1} {x!r} {y!r}" for i, (x, y) in enumerate(self.coords.tolist())]
        lines.append("EOF")
        _write_text(path, "\n".join(lines) + "\n")


class CVRP(_RoutingBase):
    """Capacitated vehicle routing: row 0 of ``coords`` is the depot, ``demands[0] == 0``.

    A solution is a list of routes, each a list of customer indices (1..n), depot omitted.
    The objective is the total length of all routes, each starting and ending at the depot.
    """

    extensions: ClassVar[tuple[str, ...]] = (".vrp", ".vrp.gz")
    kind: ClassVar[str] = "cvrp"

    def __init__(
        self,
        coords: Any,
        demands: Any,
        capacity: float,
        *,
        edge_weight_type: str = "EUC",
        matrix: Any = None,
        name: str = "cvrp",
    ):
        self._init_geometry(coords, edge_weight_type, matrix, min_nodes=2)
        dem = as_float_array(demands, "demands", ndim=1)
        if dem.shape[0] != self.n_nodes:
            raise InvalidProblemError(
                f"demands has {dem.shape[0]} entries but there are {self.n_nodes} nodes (depot first)"
            )
        if dem[0] != 0:
            raise InvalidProblemError(f"demands[0] is the depot and must be 0, got {dem[0]}")
        if np.any(dem < 0):
            raise InvalidProblemError("demands must be >= 0")
        try:
            cap = float(capacity)
        except (TypeError, ValueError):
            raise InvalidProblemError(f"capacity must be a number, got {capacity!r}")
        if not np.isfinite(cap) or cap <= 0:
            raise InvalidProblemError(f"capacity must be a positive number, got {capacity!r}")
        if np.any(dem > cap):
            worst = int(np.argmax(dem))
            raise InvalidProblemError(
                f"customer {worst} has demand {dem[worst]:g} above the vehicle capacity {cap:g}"
            )
        self.demands = dem
        self.capacity = cap
        self.name = name

    @property
    def size(self) -> int:
        return self.n_nodes - 1

    @property
    def n_customers(self) -> int:
        return self.n_nodes - 1

    @classmethod
    def random(
        cls, n: int, seed: int = 0, capacity: float | None = None, max_demand: int = 9
    ) -> CVRP:
        """Depot and ``n`` customers uniform in the unit square, demands U{1..9}.

        Capacity defaults to the neural-CO convention (50 at n<=50, 200 from n=1000 on).
        """
        rng = np.random.default_rng(seed)
        coords = rng.random((int(n) + 1, 2))
        demands = np.concatenate([[0], rng.integers(1, max_demand + 1, size=int(n))])
        if capacity is None:
            capacity = 30 if n <= 20 else 40 if n <= 50 else 50 if n <= 100 else 200
        return cls(coords, demands, capacity, name=f"cvrp{n}-s{seed}")

    def check_routes(self, routes: Any) -> list[np.ndarray]:
        """Each customer exactly once, no depot inside routes; returns routes as int arrays."""
        try:
            arrs = [np.asarray(r, dtype=np.int64).ravel() for r in routes]
        except (TypeError, ValueError):
            raise InvalidSolutionError("routes must be a list of lists of customer indices")
        arrs = [r for r in arrs if r.size]
        visited = np.concatenate(arrs) if arrs else np.zeros(0, dtype=np.int64)
        if visited.size != self.n_customers or not np.array_equal(
            np.sort(visited), np.arange(1, self.n_nodes)
        ):
            raise InvalidSolutionError(
                f"routes must visit every customer 1..{self.n_customers} exactly once"
            )
        return arrs

    def route_loads(self, routes: Any) -> np.ndarray:
        return np.array([self.demands[r].sum() for r in self.check_routes(routes)])

    def is_feasible(self, routes: Any) -> bool:
        try:
            return bool(np.all(self.route_loads(routes) <= self.capacity + 1e-9))
        except InvalidSolutionError:
            return False

    def objective(self, solution: Any) -> float:
        total = 0.0
        for r in self.check_routes(solution):
            path = np.concatenate([[0], r, [0]])
            total += float(self.pair_lengths(path[:-1], path[1:]).sum())
        return total

    @classmethod
    def _read(cls, path: Path) -> CVRP:
        data = _parse_vrplib_text(read_text(path))
        for key in ("capacity", "demand"):
            if key not in data:
                raise InvalidProblemError(f"missing {key.upper()} (not a CVRP file?)")
        depot = np.atleast_1d(np.asarray(data.get("depot", [0]), dtype=np.int64))
        if depot.size != 1 or depot[0] != 0:
            raise InvalidProblemError("only a single depot at node 1 is supported")
        return cls(
            data.get("node_coord"),
            np.asarray(data["demand"], dtype=np.float64).ravel(),
            data["capacity"],
            edge_weight_type=data["edge_weight_type"],
            matrix=data.get("edge_weight"),
            name=str(data.get("name", path.stem)),
        )

    def _write(self, path: Path) -> None:
        lines = [f"NAME : {self.name}", "TYPE : CVRP", f"DIMENSION : {self.n_nodes}",
                 f"CAPACITY : {self.capacity:g}"]
        if self.edge_weight_type == "EXPLICIT":
            lines += ["EDGE_WEIGHT_TYPE : EXPLICIT", "EDGE_WEIGHT_FORMAT : FULL_MATRIX",
                      "EDGE_WEIGHT_SECTION"]
            lines += [" ".join(repr(float(v)) for v in row) for row in self.matrix]
        if self.coords is not None:
            if self.edge_weight_type != "EXPLICIT":
                lines.append(f"EDGE_WEIGHT_TYPE : {self.edge_weight_type}")
            lines.append("NODE_COORD_SECTION")
            lines += [f"{i + 1} {x!r} {y!r}" for i, (x, y) in enumerate(self.coords.tolist())]
        lines.append("DEMAND_SECTION")
        lines += [f"{i + 1} {d:g}" for i, d in enumerate(self.demands)]
        lines += ["DEPOT_SECTION", "1", "-1", "EOF"]
        _write_text(path, "\n".join(lines) + "\n")


def _write_text(path: Path, text: str) -> None:
    if str(path).lower().endswith(".gz"):
        import gzip

        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def read_cvrp_solution(path: str | Path) -> list[list[int]]:
    """Routes from a CVRPLIB ``.sol`` file ("Route #k: i j ...")."""
    routes = []
    for line in Path(path).read_text().splitlines():
        if line.lower().startswith("route"):
            _, _, rest = line.partition(":")
            routes.append([int(t) for t in rest.split()])
    if not routes:
        raise InvalidProblemError(f"{path}: no 'Route #k:' lines found")
    return routes
