"""SPD linear systems: Krylov methods, preconditioners, a direct solve, DCDM and learned-mg.

Defaults (``benchmarks/results/linear.md``): a sparse direct solve up to 5,000 unknowns; above,
AMG-preconditioned CG on grid Poisson problems (fastest wall-clock in our benchmark) and
IC(0)-PCG on other matrices. Every method's history holds the relative residual
``‖b − Ax‖ / ‖b‖`` (the recursive one of each iteration for the iterative methods).

Modules: ``pcg`` (the one PCG loop and the methods built on it), ``precond`` (IC(0), AMG,
symmetric Gauss–Seidel), ``grid`` (stencil kernels and the red-black V-cycle), ``direct``,
``_common`` (starting vector, residual history, the final check). DCDM's network and its
iteration and ``learned-mg`` (a learned linear multigrid cycle as PCG preconditioner) live in
``learned/dcdm`` (registered below by their dotted paths).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..options import Option, max_iter, positive_int, tolerance
from ..registry import MethodSpec


def _finite_vector(value: Any) -> Any:
    from ._common import finite_vector

    return finite_vector(value)


def _weights(value: Any) -> str:
    """``"untrained"`` or the path of an existing file (a clear error before any work)."""
    import os

    if not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"must be 'untrained' or a file path, got {type(value).__name__}")
    value = os.fspath(value)
    if value != "untrained" and not os.path.isfile(value):
        raise ValueError(f"weights file {value!r} does not exist (None: the shipped model, "
                         "'untrained': its seeded initial weights, or a file written by `optbox train dcdm`)")
    return value


_TOL = tolerance(1e-6, "stop at ‖b − Ax‖ ≤ tol ‖b‖ (true residual)", low_open=True)
_X0 = Option("x0", object, None, "starting vector (None: zeros)", none=True, check=_finite_vector,
             accepts="a vector of n finite numbers")
_THREADS = positive_int("threads", None, "CPU threads for the red-black sweeps (None: NUMBA_NUM_THREADS)",
                        none=True)
_KRYLOV = (_TOL, max_iter(None, "iteration cap (None: 10 n)"), _X0)
_WEIGHTS = Option("weights", object, None, "network weights: None (the shipped model), 'untrained' "
                  "(its seeded initial weights) or a file", none=True, check=_weights,
                  accepts="'untrained' or a file path")
_DEVICE = Option("device", str, None, "torch device, cpu or cuda (None: cuda when available)", none=True)

LABEL = "relative residual"


def _rank_direct(problem):
    return 5 if problem.size <= 5_000 else None


def _rank_cg(problem):
    return 1


def _rank_pcg_ic(problem):
    return 2


def _rank_amg(problem):
    return 3 if getattr(problem, "grid", None) is not None else None


METHODS = [
    MethodSpec(
        name="cg",
        problems=("LinearSystem",),
        target="solvers.linear.pcg:solve_cg",
        options=_KRYLOV,
        description="conjugate gradient, unpreconditioned (iterates of scipy.sparse.linalg.cg)",
        default_rank=_rank_cg,
        history_label=LABEL,
    ),
    MethodSpec(
        name="direct",
        problems=("LinearSystem",),
        target="solvers.linear.direct:solve_direct",
        options=(),
        description="sparse direct solve (SuperLU via scipy) for small systems",
        default_rank=_rank_direct,
        history_label=LABEL,
    ),
    MethodSpec(
        name="pcg-ic",
        problems=("LinearSystem",),
        target="solvers.linear.pcg:solve_pcg_ic",
        options=_KRYLOV + (Option("precision", str, "single", "IC(0) factor as stored for the "
                                  "triangular solves: single (float32, the default: 5-17 % faster "
                                  "at 1024²-2048², even at 128³, half the factor's memory; "
                                  "benchmarks/results/scale.md) or double; CG stays float64",
                                  choices=("single", "double")),),
        description="CG preconditioned with incomplete Cholesky IC(0) (numba)",
        default_rank=_rank_pcg_ic,
        history_label=LABEL,
    ),
    MethodSpec(
        name="amg",
        problems=("LinearSystem",),
        target="solvers.linear.pcg:solve_amg",
        options=_KRYLOV + (
            Option("cycle", str, "V", "multigrid cycle of the preconditioner", choices=("V", "W", "F")),
            Option("strength", str, "symmetric", "PyAMG strength of connection (None: every entry)",
                   choices=("symmetric", "classical", "evolution", "algebraic_distance", "affinity"),
                   none=True),
            Option("smooth", str, "jacobi", "PyAMG prolongation smoother (None: plain aggregation)",
                   choices=("jacobi", "richardson", "energy"), none=True),
        ),
        description="CG preconditioned with a PyAMG smoothed-aggregation cycle",
        default_rank=_rank_amg,
        requires=("pyamg",),
        history_label=LABEL,
    ),
    MethodSpec(
        name="pcg-sgs",
        problems=("LinearSystem",),
        target="solvers.linear.pcg:solve_pcg_sgs",
        options=_KRYLOV + (positive_int("sweeps", 1, "red-black sweeps each way"), _THREADS),
        description="CG preconditioned with symmetric red-black Gauss-Seidel (grid problems; "
        "dcdm's smoother without the network)",
        history_label=LABEL,
    ),
    MethodSpec(
        name="dcdm",
        problems=("LinearSystem",),
        target="learned.dcdm.solve:solve_dcdm",
        options=(
            _TOL,
            max_iter(None, "iteration cap (None: 1000)"),
            _X0,
            Option("kept", int, 2, "directions kept for the A-orthogonalization", low=0),
            Option("variant", str, "dcdm", "dcdm: Algorithm 1; fpcg / pcg: the network inside "
                   "flexible / plain PCG (fcg: old name of fpcg)", choices=("dcdm", "fpcg", "pcg", "fcg")),
            _WEIGHTS,
            _DEVICE,
            Option("smooth", int, None, "red-black sweeps around the network (0: the network alone, "
                   "the paper's direction; None: learned.dcdm.solve.DCDM_SMOOTH)", low=0, none=True),
            _THREADS,
        ),
        description="deep conjugate directions: a nonlinear CNN proposes directions, A-orthogonalized "
        "against the kept ones (grid Poisson problems)",
        requires=("torch",),
        history_label=LABEL,
    ),
    MethodSpec(
        name="learned-mg",
        problems=("LinearSystem",),
        target="learned.dcdm.solve:solve_learned_mg",
        options=(
            _TOL,
            max_iter(None, "iteration cap (None: 1000)"),
            _X0,
            _WEIGHTS,
            _DEVICE,
            Option("smooth", int, None, "red-black sweeps around the network (0: the network alone; "
                   "None: 2 in 2-D, 6 in 3-D)", low=0, none=True),
            _THREADS,
        ),
        description="CG preconditioned with a learned linear multigrid cycle inside red-black sweeps "
        "(grid Poisson problems)",
        requires=("torch",),
        history_label=LABEL,
    ),
]


def _example() -> Any:
    from problems import LinearSystem

    return LinearSystem.poisson((16, 16))


EXAMPLES: dict[str, Callable[[], Any]] = {"LinearSystem": _example}
