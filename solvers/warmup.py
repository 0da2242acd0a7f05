"""Compile the numba kernels once, ahead of the first timed solve (``optbox warmup``).

numba compiles a kernel the first time it is called and caches the machine code on disk
(``cache=True``), so on a fresh install the first solve of each method pays seconds of compilation
that no time limit can interrupt; an anytime method compiles stage by stage (the local search of
CVRP reaches its ruin-and-recreate kernels only on a second call when the first one spent its
limit compiling the descent). ``warm_all`` solves a tiny instance of every problem class with every
installed method until a run stays inside its limit: afterwards every kernel the default settings
reach is in the on-disk cache and later processes load it in milliseconds.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from problems.base import Problem

#: problem classes with no JIT code to warm (SCIP is compiled already)
NOTHING_TO_WARM = frozenset({"MIP"})


def tiny_instance(kind: str) -> Problem | None:
    """The family's small seeded instance of class ``kind`` (None where there is nothing to warm)."""
    found = tiny_instances(kind)
    return found[0] if found else None


def tiny_instances(kind: str) -> list[Problem]:
    """Every small instance that warms class ``kind``: the family's ``EXAMPLES`` entry, plus a
    3-D Poisson grid for LinearSystem (the 3-D network and its kernels are separate code)."""
    from solvers.registry import examples

    factory = examples().get(kind)
    if factory is None or kind in NOTHING_TO_WARM:
        return []
    if kind == "LinearSystem":
        from problems import LinearSystem

        return [factory(), LinearSystem.poisson((10, 10, 10))]
    return [factory()]


def warm_up(problem: Problem, method: str | None = None, limit: float = 1.0, tries: int = 4,
            **options: Any) -> float:
    """Solve ``problem`` once to the end (no time limit), then until one run with ``limit`` ends
    inside ``limit * 1.1 + 1`` s; returns the seconds spent. ``options`` go to every solve.

    A method that refuses the instance (``ValueError``) has nothing to warm."""
    from solvers import solve

    start = time.perf_counter()
    with warnings.catch_warnings():
        # one complete run first: a run cut by the time limit while its first calls compile
        # never reaches the later phases (e.g. sns's Newton line search), whose kernels would
        # then compile inside a timed solve
        warnings.simplefilter("ignore")
        try:
            solve(problem, method, seed=0, **options)
        except ValueError:
            return time.perf_counter() - start
    for _ in range(tries):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = solve(problem, method, time_limit=limit, seed=0, **options)
            except ValueError:
                break
        if result.runtime <= limit * 1.1 + 1.0:
            break
    return time.perf_counter() - start


@dataclass
class WarmedMethod:
    method: str
    problem_class: str
    seconds: float


def warm_all(methods: Iterable[str] | None = None,
             report: Callable[[WarmedMethod], None] | None = None) -> list[WarmedMethod]:
    """Warm every installed method (or the named ``methods``) on every problem class it solves."""
    from solvers.registry import method_names, normalize, registry

    names = method_names()
    wanted = names if methods is None else [normalize(m) for m in methods]
    unknown = [m for m in wanted if m not in {normalize(n) for n in names}]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; choose from {', '.join(names)}")
    done: list[WarmedMethod] = []
    for wanted_name in dict.fromkeys(wanted):  # in the order asked, each once
        for (name, kind), spec in registry().items():
            if name != wanted_name or not spec.installed():
                continue
            problems = tiny_instances(kind)
            if not problems:
                continue
            entry = WarmedMethod(spec.name, kind, sum(warm_up(p, spec.name) for p in problems))
            done.append(entry)
            if report is not None:
                report(entry)
    return done
