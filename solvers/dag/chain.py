"""Starting graphs for TOPO from a continuous method (``init="notears"`` / ``"dagma"``):
TOPO as post-processing of NOTEARS (Zheng et al. 2018) or DAGMA (Bello et al. 2022), the
paper's "TOPO as a refinement" experiments (Deng et al. 2023, section 5)."""

from __future__ import annotations

import contextlib
import io

import numpy as np

from problems import DAGLearning

from ..context import SolveContext


def chained_graph(problem: DAGLearning, ctx: SolveContext, name: str, threshold: float) -> np.ndarray:
    """The thresholded acyclic graph of method ``name`` on ``problem``. NOTEARS runs inside
    this solve's context (its time limit and stops apply; its history is part of this run's);
    DAGMA (the PyPI package ``dagma``) runs to its own end with its defaults
    (lambda1 = 0.02, w_threshold = ``threshold``)."""
    if name == "notears":
        from ..registry import get_method
        from .notears import solve_notears

        opts = get_method("notears", problem).defaults()
        return np.asarray(solve_notears(problem, ctx, **opts).solution)
    if name == "dagma":
        try:
            from dagma.linear import DagmaLinear
        except ImportError:
            raise ValueError("init='dagma' needs the dagma package (pip install dagma)") from None
        from .notears import acyclic_threshold

        model = DagmaLinear(loss_type="l2" if problem.loss == "l2" else "logistic", verbose=False)
        with contextlib.redirect_stderr(io.StringIO()):  # DAGMA draws a progress bar
            W = model.fit(problem.X, lambda1=0.02, w_threshold=threshold)
        return acyclic_threshold(np.asarray(W), threshold)[0]
    raise ValueError(f"init method must be 'notears' or 'dagma', got {name!r}")
