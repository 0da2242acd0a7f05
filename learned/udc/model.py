"""UDC dividing network: anisotropic (edge-gated) GNN on a sparse k-NN graph -> heatmap.

Zheng et al., "UDC: A Unified Neural Divide-and-Conquer Framework for Large-Scale
Combinatorial Optimization Problems" (NeurIPS 2024), §4.1: the dividing policy is an
Anisotropic GNN (AGNN, Joshi et al. 2019 eq. 2-3) on a sparse graph whose edge outputs form a
heatmap; solutions are constructed node by node from it (``learned.udc.divide``).  TSP node
features: (x, y) in the unit box.  CVRP: (x, y, demand / capacity, r, theta / pi, is-depot)
with polar coordinates around the depot; every node's k nearest *customers* plus one extra
edge to the depot (the last heatmap column: "return to the depot").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import nn

WEIGHTS = Path(__file__).with_name("weights")
#: shipped weights per problem kind
FILES = {"tsp": "udc_tsp.pt", "cvrp": "udc_cvrp.pt"}
INIT_SEED = 0  # torch seed of the initial weights (``weights="untrained"``, ``train``)


def scatter_sum(src: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Rows of ``src`` summed by ``index`` into ``size`` rows (torch_geometric's ``scatter``
    ``reduce="sum"``, without importing torch_geometric)."""
    view = index.view((-1,) + (1,) * (src.dim() - 1)).expand_as(src)
    return src.new_zeros((size,) + tuple(src.shape[1:])).scatter_add_(0, view, src)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def knn(coords: np.ndarray, k: int, depot: bool = False) -> np.ndarray:
    """(n, k) nearest neighbours of every node, itself excluded (short rows padded with their
    last entry).  ``depot``: node 0 is the depot, it is left out of every row and appended as
    an extra last column (the CVRP graph: k nearest customers + the depot edge)."""
    n = coords.shape[0]
    pts = coords[1:] if depot else coords
    base = 1 if depot else 0
    k = max(1, min(k, pts.shape[0] - 1 if not depot else pts.shape[0]))
    _, idx = cKDTree(pts).query(coords, k=min(k + 1, pts.shape[0]))
    idx = np.asarray(idx).reshape(n, -1) + base
    out = np.empty((n, k), dtype=np.int64)
    for v in range(n):
        row = idx[v][idx[v] != v][:k]
        out[v, : row.size] = row
        out[v, row.size:] = row[-1] if row.size else (v + 1) % n
    return np.c_[out, np.zeros(n, dtype=np.int64)] if depot else out


def unit_box(coords: np.ndarray) -> np.ndarray:
    lo = coords.min(axis=0)
    span = float(np.max(coords.max(axis=0) - lo)) or 1.0
    return (coords - lo) / span


def node_features(coords: np.ndarray, demands: np.ndarray | None = None,
                  capacity: float | None = None) -> np.ndarray:
    """TSP: (x, y); CVRP: (x, y, demand/capacity, r, theta/pi, is-depot), depot at node 0."""
    xy = unit_box(coords)
    if demands is None:
        return xy.astype(np.float32)
    rel = xy - xy[0]
    r = np.hypot(rel[:, 0], rel[:, 1])
    th = np.arctan2(rel[:, 1], rel[:, 0]) / np.pi
    is_depot = (np.arange(coords.shape[0]) == 0).astype(float)
    return np.c_[xy, np.asarray(demands, float) / capacity, r, th, is_depot].astype(np.float32)


class AGNNLayer(nn.Module):
    """One edge-gated layer (Joshi et al. 2019, eq. 2-3):
    e'_ij = A e_ij + B h_i + C h_j;  h'_i = h_i + ReLU(LN(U h_i + sum_j sig(e'_ij) V h_j / sum_j sig(e'_ij)));
    e_ij <- e_ij + ReLU(LN(e'_ij))."""

    def __init__(self, hidden: int):
        super().__init__()
        self.U, self.V = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.A, self.B, self.C = (nn.Linear(hidden, hidden) for _ in range(3))
        self.norm_h, self.norm_e = nn.LayerNorm(hidden), nn.LayerNorm(hidden)

    def forward(self, h: torch.Tensor, e: torch.Tensor, src: torch.Tensor, dst: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        e_new = self.A(e) + self.B(h)[dst] + self.C(h)[src]
        gate = torch.sigmoid(e_new)
        num = scatter_sum(gate * self.V(h)[src], dst, h.shape[0])
        den = scatter_sum(gate, dst, h.shape[0]) + 1e-6
        h = h + torch.relu(self.norm_h(self.U(h) + num / den))
        e = e + torch.relu(self.norm_e(e_new))
        return h, e


class Divider(nn.Module):
    """Heatmap network on the k-NN graph (§4.1): edge heatmap, logits[v, s] scores moving from v
    to the node in its s-th neighbour slot (CVRP: the last slot is the depot); AGNN edge output
    plus a learned distance prior -scale * d * sqrt(n).  The solution is built node by node, the
    next node drawn with probability ~ exp(logit) over the unvisited (CVRP: fitting) slots."""

    def __init__(self, node_dim: int = 2, hidden: int = 32, layers: int = 4, k: int = 10):
        super().__init__()
        self.config = {"node_dim": node_dim, "hidden": hidden, "layers": layers, "k": k}
        self.k = k
        self.embed_h = nn.Linear(node_dim, hidden)
        self.embed_e = nn.Linear(2, hidden)
        self.layers = nn.ModuleList(AGNNLayer(hidden) for _ in range(layers))
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.dist_scale = nn.Parameter(torch.tensor(1.0))

    @property
    def kind(self) -> str:
        return "tsp" if self.config["node_dim"] == 2 else "cvrp"

    def forward(self, feats: torch.Tensor, neigh: torch.Tensor) -> torch.Tensor:
        """(n, slots) edge logits."""
        n, k = neigh.shape
        dst = torch.arange(n, device=feats.device).repeat_interleave(k)  # edge v -> neigh[v, s]
        src = neigh.reshape(-1)
        d = torch.linalg.norm(feats[src, :2] - feats[dst, :2], dim=1)
        rank = torch.arange(k, device=feats.device, dtype=feats.dtype).repeat(n) / self.k
        e = self.embed_e(torch.stack([d * np.sqrt(n), rank], dim=1))
        h = self.embed_h(feats)
        for layer in self.layers:
            h, e = layer(h, e, src, dst)
        return (self.head(e).squeeze(1) - self.dist_scale * d * np.sqrt(n)).reshape(n, k)


def untrained(kind: str, **config) -> Divider:
    """The network with its seeded initial weights (torch seed ``INIT_SEED``): what ``train``
    starts from, the same every call (``weights="untrained"``)."""
    state = torch.random.get_rng_state()
    torch.manual_seed(INIT_SEED)
    try:
        net = Divider(node_dim=2 if kind == "tsp" else 6, **config)
    finally:
        torch.random.set_rng_state(state)
    return net.eval()


def load(kind: str, map_location: torch.device | None = None, path: str | Path | None = None
         ) -> Divider:
    """Load weights: the shipped ``weights/udc_<kind>.pt`` (offline) or ``path``.  A missing,
    unreadable or mismatched file raises ``ValueError`` naming the path."""
    file = Path(path) if path is not None else WEIGHTS / FILES[kind]
    if not file.is_file():
        raise ValueError(f"UDC weights file {file} does not exist"
                         + ("" if path is not None else "; run `optbox train udc`"))
    try:
        blob = torch.load(file, map_location=map_location or "cpu", weights_only=True)
        model = Divider(**blob["config"])
        model.load_state_dict(blob["state"])
    except Exception as exc:  # noqa: BLE001 - any failure means: not a UDC weights file
        raise ValueError(f"{file} is not a UDC divider weights file ({type(exc).__name__}: {exc})") from exc
    if model.kind != kind:
        raise ValueError(f"{file} holds a {model.kind.upper()} divider, the problem is {kind.upper()}")
    return model.eval()


def save(model: Divider, kind: str, path: Path | None = None) -> Path:
    path = path or WEIGHTS / FILES[kind]
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": model.config, "state": model.state_dict()}, path)
    return path


@torch.no_grad()
def heatmap(model: Divider, feats: np.ndarray, neigh: np.ndarray) -> np.ndarray:
    dev = next(model.parameters()).device
    out = model(torch.from_numpy(feats).to(dev), torch.from_numpy(neigh).to(dev))
    return out.double().cpu().numpy()


def log_prob(logits: torch.Tensor, rows: np.ndarray, masks: np.ndarray, slots: np.ndarray
             ) -> torch.Tensor:
    """log pi(solution) = sum over the recorded construction decisions t of
    log softmax_{allowed slots of row_t}(logits[row_t])[slot_t] (eq. 5 of the paper's policy;
    ``masks[t]`` = the slots that were allowed: unvisited, fitting, depot when allowed)."""
    dev = logits.device
    if rows.size == 0:
        return logits.sum() * 0.0
    lg = logits[torch.from_numpy(rows).to(dev)]
    lg = lg.masked_fill(~torch.from_numpy(masks).to(dev), float("-inf"))
    lp = torch.log_softmax(lg, dim=1)
    return lp.gather(1, torch.from_numpy(slots).to(dev)[:, None]).sum()
