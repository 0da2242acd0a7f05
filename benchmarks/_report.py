"""Shared output helpers for the benchmark suites: progress bar, CSV/JSON/Markdown tables, PNG plots.

Every suite writes the same artefacts into its output folder (issue 7): ``NAME.csv`` and
``NAME.json`` (one record per run), ``NAME.md`` (the human table) and at least one PNG plot.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
Curve = tuple[Sequence[float], Sequence[float]]


def progress(iterable: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm progress bar on stderr (silent when ``OPTBOX_NO_PROGRESS`` is set)."""
    from tqdm import tqdm

    disable = bool(os.environ.get("OPTBOX_NO_PROGRESS"))
    yield from tqdm(iterable, desc=desc, total=total, unit="run", leave=False, disable=disable)


def _jsonable(value: Any) -> Any:
    """Plain JSON value for a table cell: numpy scalars unwrapped, non-finite floats as strings."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def write_tables(out_dir: str | Path, name: str, rows: list[dict], markdown: str) -> None:
    """Write ``name.csv``, ``name.json`` and ``name.md`` into ``out_dir`` (created if missing).

    The CSV header is the union of the rows' keys in first-seen order, so rows of different
    kinds (a peer that was skipped, say) still fit one file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fields: list[str] = []
    for row in rows:
        fields.extend(k for k in row if k not in fields)
    with open(out / f"{name}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields or ["empty"])
        writer.writeheader()
        writer.writerows(rows)
    records = [{k: _jsonable(v) for k, v in row.items()} for row in rows]
    (out / f"{name}.json").write_text(json.dumps(records, indent=1) + "\n")
    (out / f"{name}.md").write_text(markdown if markdown.endswith("\n") else markdown + "\n")


def _draw(ax: Any, curves: Mapping[str, Curve], logx: bool, logy: bool, steps: bool) -> None:
    for label, (xs, ys) in curves.items():
        xs, ys = list(xs), list(ys)
        if not xs:
            continue
        if logy:
            pairs = [(x, y) for x, y in zip(xs, ys) if y is not None and y > 0 and math.isfinite(y)]
            if not pairs:
                continue
            xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
        ax.plot(xs, ys, label=label, drawstyle="steps-post" if steps else "default",
                marker="o" if len(xs) == 1 else None)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.grid(True, which="major", alpha=0.3)


def plot_curves(path: str | Path, curves: Mapping[str, Curve], xlabel: str, ylabel: str,
                title: str = "", logx: bool = False, logy: bool = True, steps: bool = False) -> Path:
    """One line plot (``label -> (xs, ys)``) saved as a PNG; non-positive values are dropped on a log axis.

    ``steps=True`` draws step functions, right for anytime curves (incumbent value vs time).
    """
    return plot_panels(path, {title: curves}, xlabel, ylabel, logx=logx, logy=logy, steps=steps)


def plot_panels(path: str | Path, panels: Mapping[str, Mapping[str, Curve]], xlabel: str, ylabel: str,
                logx: bool = False, logy: bool = True, steps: bool = False) -> Path:
    """A grid of subplots (``panel title -> {label -> (xs, ys)}``) saved as one PNG; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = max(1, len(panels))
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax, (title, curves) in zip(flat, panels.items()):
        _draw(ax, curves, logx, logy, steps)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if curves:
            ax.legend(fontsize=7)
    for ax in flat[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
