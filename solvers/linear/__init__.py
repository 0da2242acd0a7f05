"""SPD linear systems: Krylov methods, preconditioners, a direct solve and DCDM."""

from ..registry import MethodSpec

_COMMON = {"tol": 1e-6, "max_iter": None}


def _rank_direct(problem):
    return 5 if problem.size <= 5_000 else None


def _rank_cg(problem):
    return 1


METHODS = [
    MethodSpec(
        name="cg",
        problems=("LinearSystem",),
        target="solvers.linear.krylov:solve_cg",
        options=dict(_COMMON, x0=None),
        description="conjugate gradient (scipy.sparse.linalg.cg), relative residual tol",
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
]
