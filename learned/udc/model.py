"""UDC dividing network: anisotropic (edge-gated) GNN on a sparse k-NN graph -> heatmap.

Zheng et al., "UDC: A Unified Neural Divide-and-Conquer Framework for Large-Scale
Combinatorial Optimization Problems" (NeurIPS 2024), §4.1: the dividing policy is an
Anisotropic GNN (AGNN, Joshi et al. 2019 eq. 2-3) on a sparse graph whose edge outputs form a
heatmap; solutions are constructed node by node from it.  Node features: TSP (x, y) scaled
to the unit box; CVRP adds demand / capacity and polar coordinates (r, theta) around the depot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import nn

WEIGHTS = Path(__file__).with_name("weights")


def scatter_sum(src: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Rows of ``src`` summed by ``index`` into ``size`` rows (``torch_geometric.utils.scatter``'s
    ``reduce="sum"``, the same ``scatter_add_``: the same sums, bit for bit, without importing
    torch_geometric, which costs seconds at the start of a solve)."""
    view = index.view((-1,) + (1,) * (src.dim() - 1)).expand_as(src)
    return src.new_zeros((size,) + tuple(src.shape[1:])).scatter_add_(0, view, src)


def scatter_mean(src: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Rows of ``src`` averaged by ``index`` (rows with no entry stay 0), as ``reduce="mean"``."""
    count = src.new_zeros(size).scatter_add_(0, index, src.new_ones(src.shape[0])).clamp(min=1)
    out = scatter_sum(src, index, size)
    return out / count.view((-1,) + (1,) * (src.dim() - 1)).expand_as(out)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def knn(coords: np.ndarray, k: int) -> np.ndarray:
    """(n, k) nearest neighbours of every node, itself excluded (duplicates allowed)."""
    n = coords.shape[0]
    k = min(k, n - 1)
    _, idx = cKDTree(coords).query(coords, k=k + 1)
    out = np.empty((n, k), dtype=np.int64)
    for v in range(n):
        row = idx[v][idx[v] != v][:k]
        out[v, : row.size] = row
        out[v, row.size:] = row[-1] if row.size else (v + 1) % n
    return out


def unit_box(coords: np.ndarray) -> np.ndarray:
    lo = coords.min(axis=0)
    span = float(np.max(coords.max(axis=0) - lo)) or 1.0
    return (coords - lo) / span


def node_features(coords: np.ndarray, demands: np.ndarray | None = None,
                  capacity: float | None = None) -> np.ndarray:
    """TSP: (x, y); CVRP: (x, y, demand/capacity, r, theta/pi) with the depot at node 0."""
    xy = unit_box(coords)
    if demands is None:
        return xy.astype(np.float32)
    rel = xy - xy[0]
    r = np.hypot(rel[:, 0], rel[:, 1])
    th = np.arctan2(rel[:, 1], rel[:, 0]) / np.pi
    return np.c_[xy, demands / capacity, r, th].astype(np.float32)


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
    """Heatmap network on the k-NN graph, two decoders:

    - ``decode="next"``: edge heatmap, logits[v, s] scores moving from v to its s-th nearest
      neighbour (AGNN edge output plus a learned distance prior, which makes the untrained policy
      a soft nearest-neighbour rule); the tour is built by choosing the next node.
    - ``decode="insert"``: node heatmap, two scores (a_v, b_v) per node; the next node to insert
      is drawn with probability ~ exp(a_v + b_v delta_t(v)) over the nodes not yet in the tour
      (delta_t(v): distance to the partial tour, updated every step) and inserted at the cheapest
      position (``learned.udc._construct.insertion_tour``).  The output layer starts at zero, so
      the untrained policy is exactly random insertion (the paper's ablation start)."""

    def __init__(self, node_dim: int = 2, hidden: int = 32, layers: int = 4, k: int = 10,
                 decode: str = "next"):
        super().__init__()
        if decode not in ("next", "insert"):
            raise ValueError("decode must be 'next' or 'insert'")
        self.config = {"node_dim": node_dim, "hidden": hidden, "layers": layers, "k": k}
        if decode != "next":
            self.config["decode"] = decode
        self.k, self.decode = k, decode
        self.embed_h = nn.Linear(node_dim, hidden)
        self.embed_e = nn.Linear(2, hidden)
        self.layers = nn.ModuleList(AGNNLayer(hidden) for _ in range(layers))
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.dist_scale = nn.Parameter(torch.tensor(1.0))
        if decode == "insert":
            self.node_head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2))
            nn.init.zeros_(self.node_head[2].weight)
            nn.init.zeros_(self.node_head[2].bias)

    def forward(self, feats: torch.Tensor, neigh: torch.Tensor) -> torch.Tensor:
        """``next``: (n, k) edge logits; ``insert``: (n, 2) node scores (a, b)."""
        n, k = neigh.shape
        dst = torch.arange(n, device=feats.device).repeat_interleave(k)  # edge v -> neigh[v, s]
        src = neigh.reshape(-1)
        d = torch.linalg.norm(feats[src, :2] - feats[dst, :2], dim=1)
        rank = torch.arange(k, device=feats.device, dtype=feats.dtype).repeat(n) / k
        e = self.embed_e(torch.stack([d * np.sqrt(n), rank], dim=1))
        h = self.embed_h(feats)
        for layer in self.layers:
            h, e = layer(h, e, src, dst)
        if self.decode == "insert":  # node embedding + mean of its outgoing edge embeddings
            e_mean = scatter_mean(e, dst, n)
            return self.node_head(torch.cat([h, e_mean], dim=1))
        # distance-biased heatmap: learned correction on top of -scale * (d * sqrt(n))
        return (self.head(e).squeeze(1) - self.dist_scale * d * np.sqrt(n)).reshape(n, k)


def load(kind: str, map_location: torch.device | None = None) -> Divider:
    """Load the shipped weights ``weights/udc_<kind>.pt`` (offline)."""
    path = WEIGHTS / f"udc_{kind.lower()}.pt"
    if not path.exists():
        raise FileNotFoundError(f"no shipped UDC weights at {path}; run `optbox train udc`")
    blob = torch.load(path, map_location=map_location or "cpu", weights_only=True)
    model = Divider(**blob["config"])
    model.load_state_dict(blob["state"])
    return model.eval()


def save(model: Divider, kind: str, path: Path | None = None) -> Path:
    path = path or WEIGHTS / f"udc_{kind.lower()}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": model.config, "state": model.state_dict()}, path)
    return path


@torch.no_grad()
def heatmap(model: Divider, feats: np.ndarray, neigh: np.ndarray) -> np.ndarray:
    dev = next(model.parameters()).device
    out = model(torch.from_numpy(feats).to(dev), torch.from_numpy(neigh).to(dev))
    return out.double().cpu().numpy()


def insertion_log_prob(scores: torch.Tensor, order: np.ndarray, delta: np.ndarray) -> torch.Tensor:
    """log pi(order) of the insertion policy: sum_t log softmax_{v not yet inserted}
    (a_v + b_v delta_t(v)) at v = order[t] (Plackett-Luce with state-dependent scores)."""
    n = order.size
    dev = scores.device
    D = torch.from_numpy(delta).to(dev, scores.dtype)
    lg = scores[:, 0][None, :] + scores[:, 1][None, :] * D  # (n steps, n nodes)
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    avail = torch.from_numpy(pos[None, :] >= np.arange(n)[:, None]).to(dev)
    lp = torch.log_softmax(lg.masked_fill(~avail, float("-inf")), dim=1)
    return lp.gather(1, torch.from_numpy(order).to(dev)[:, None]).sum()


def log_prob(logits: torch.Tensor, neigh: np.ndarray, tour: np.ndarray, slot: np.ndarray) -> torch.Tensor:
    """Sum over construction steps of log pi(next | current, unvisited) (fallback jumps excluded)."""
    n = tour.size
    order = np.empty(n, dtype=np.int64)
    order[tour] = np.arange(n)
    steps = np.flatnonzero(slot >= 0)
    cur = tour[steps - 1]
    # a neighbour slot is available at step t iff that neighbour is visited at or after t
    avail = order[neigh[cur]] >= steps[:, None]
    lg = logits[torch.from_numpy(cur).to(logits.device)]
    lg = lg.masked_fill(~torch.from_numpy(avail).to(logits.device), float("-inf"))
    lp = torch.log_softmax(lg, dim=1)
    return lp.gather(1, torch.from_numpy(slot[steps]).to(logits.device)[:, None]).sum()
