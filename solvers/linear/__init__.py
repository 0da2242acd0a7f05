"""SPD linear systems: Krylov methods, preconditioners, a direct solve and DCDM.

Defaults (``benchmarks/results/linear.md``): a sparse direct solve up to 5,000 unknowns; above,
AMG-preconditioned CG on grid Poisson problems (fastest wall-clock in our benchmark) and
IC(0)-PCG on other matrices.
"""

from ..registry import MethodSpec

_COMMON = {"tol": 1e-6, "max_iter": None}


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
        target="solvers.linear.krylov:solve_cg",
        options=dict(_COMMON, x0=None),
        description="conjugate gradient, unpreconditioned (iterates of scipy.sparse.linalg.cg)",
        default_rank=_rank_cg,
    ),
    MethodSpec(
        name="direct",
        problems=("LinearSystem",),
        target="solvers.linear.krylov:solve_direct",
        options={},
        description="sparse direct solve (SuperLU via scipy) for small systems",
        default_rank=_rank_direct,
    ),
    MethodSpec(
        name="pcg-ic",
        problems=("LinearSystem",),
        target="solvers.linear.pcg:solve_pcg_ic",
        options=dict(_COMMON, x0=None),
        description="CG preconditioned with incomplete Cholesky IC(0) (numba)",
        default_rank=_rank_pcg_ic,
    ),
    MethodSpec(
        name="amg",
        problems=("LinearSystem",),
        target="solvers.linear.pcg:solve_amg",
        options=dict(_COMMON, x0=None, cycle="V", strength="symmetric", smooth="jacobi"),
        description="CG preconditioned with a PyAMG smoothed-aggregation cycle",
        default_rank=_rank_amg,
        requires=("pyamg",),
    ),
    MethodSpec(
        name="pcg-sgs",
        problems=("LinearSystem",),
        target="solvers.linear.pcg:solve_pcg_sgs",
        options=dict(_COMMON, x0=None, sweeps=1, threads=None),
        description="CG preconditioned with symmetric red-black Gauss-Seidel (grid problems; "
        "dcdm's smoother without the network)",
    ),
    MethodSpec(
        name="dcdm",
        problems=("LinearSystem",),
        target="solvers.linear.dcdm:solve_dcdm",
        options=dict(_COMMON, x0=None, kept=2, variant="dcdm", weights=None, device=None,
                     smooth=None, threads=None),
        description="deep conjugate directions: a CNN proposes directions (grid Poisson problems)",
        requires=("torch",),
    ),
]
