"""``solve``, ``solve_many`` and ``available_methods``: the one entry point for every problem."""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

import numpy as np

from problems import InvalidProblemError, Problem

from .context import SolveContext
from .registry import default_method, get_method, methods_for
from .result import Result, Status

logger = logging.getLogger(__name__)


def available_methods(problem: Problem) -> list[str]:
    """Names of the installed methods that accept ``problem`` (the default first)."""
    names = [s.name for s in methods_for(problem)]
    try:
        default = default_method(problem).name
    except ValueError:
        return names
    return [default] + [n for n in names if n != default]


def _check_time_limit(time_limit: Any) -> float | None:
    if time_limit is None:
        return None
    try:
        value = float(time_limit)
    except (TypeError, ValueError):
        raise ValueError(f"time_limit must be a number of seconds, got {time_limit!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    return value


def solve(
    problem: Problem,
    method: str | None = None,
    *,
    time_limit: float | None = None,
    seed: int | None = None,
    callback: Callable[[dict[str, Any]], Any] | None = None,
    **options: Any,
) -> Result:
    """Solve ``problem`` with ``method`` (None: the best default for this instance).

    ``time_limit`` is wall-clock seconds for everything; ``seed`` makes randomized methods
    repeatable; ``callback(info)`` is called with a dict (time, objective, iteration, ...)
    whenever the solver records progress and may raise ``StopIteration`` to stop.
    Unknown options warn. Returns a :class:`Result`.
    """
    if not isinstance(problem, Problem):
        raise TypeError(
            f"solve() takes a problem from the problems package, got {type(problem).__name__}"
        )
    limit = _check_time_limit(time_limit)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    spec = get_method(method, problem) if method is not None else default_method(problem)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        warnings.warn(
            f"method {spec.name!r} ignores unknown option(s) {unknown}; "
            f"accepted: {sorted(spec.options)}",
            UserWarning,
            stacklevel=2,
        )
    kwargs = {k: v for k, v in options.items() if k in spec.options}
    ctx = SolveContext(limit, callback, None if seed is None else int(seed))
    func = spec.load()
    try:
        with _graceful_interrupt(ctx):
            result = func(problem, ctx, **kwargs)
    except KeyboardInterrupt:
        result = ctx.result(status=Status.INTERRUPTED, message="interrupted before a solution was found")
    except (np.linalg.LinAlgError, FloatingPointError) as exc:
        result = ctx.result(status=Status.ERROR, message=f"numerical failure: {exc}")
    result.method = spec.name
    result.problem = getattr(problem, "name", "") or type(problem).__name__
    if not result.runtime:
        result.runtime = ctx.elapsed()
    _guard_nan(result)
    return result


@contextlib.contextmanager
def _graceful_interrupt(ctx: SolveContext) -> Iterator[None]:
    """Turn the first Ctrl-C into ``ctx.interrupted`` so the solver's loop stops at its next
    check and returns its best solution; a second Ctrl-C raises ``KeyboardInterrupt``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if ctx.interrupted:
            raise KeyboardInterrupt
        ctx.interrupted = True
        logger.warning("interrupt received: stopping at the next iteration (Ctrl-C again to abort)")

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not allowed here (embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _guard_nan(result: Result) -> None:
    """Never hand back NaN silently: a non-finite solution becomes an error status."""
    sol = result.solution
    arr = None
    if isinstance(sol, np.ndarray) and sol.dtype.kind in "fc":
        arr = sol
    elif isinstance(sol, dict) and sol and all(isinstance(v, (float, int)) for v in sol.values()):
        arr = np.fromiter(sol.values(), dtype=float)
    if arr is not None and not np.all(np.isfinite(arr)):
        result.status = Status.ERROR
        result.message = (result.message + "; " if result.message else "") + \
            "the solver produced non-finite values"
        result.solution = None
        result.objective = None
    if result.objective is not None and not math.isfinite(result.objective):
        result.objective = None


def _solve_one(args: tuple[Any, str | None, dict[str, Any]]) -> Result:
    problem, method, kwargs = args
    try:
        if isinstance(problem, str):
            from problems import read_instance

            problem = read_instance(problem)
        return solve(problem, method, **kwargs)
    except Exception as exc:  # one bad instance never loses the others' results
        name = problem if isinstance(problem, str) else type(problem).__name__
        return Result(status=Status.ERROR, message=f"{type(exc).__name__}: {exc}",
                      method=method or "", problem=str(name))


def solve_many(
    problems: Iterable[Problem | str],
    method: str | None = None,
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    time_limit: float | None = None,
    seed: int | None = None,
    progress: bool = False,
    **options: Any,
) -> list[Result]:
    """Solve a batch (problem objects or file paths), results in input order.

    ``executor`` is any ``concurrent.futures.Executor`` — e.g. a Dask
    ``distributed.Client(...).get_executor()`` to spread over a cluster; by default a local
    process pool of ``workers`` processes (``workers=1`` solves serially in this process).
    A failing instance yields a ``Result`` with status ``error`` and the message; the others
    complete.
    """
    items: Sequence[Any] = list(problems)
    _check_time_limit(time_limit)
    kwargs = dict(options, time_limit=time_limit, seed=seed)
    jobs = [(p, method, kwargs) for p in items]
    bar = _progress(len(jobs), progress)
    results: list[Result | None] = [None] * len(jobs)
    if executor is None and (workers == 1 or len(jobs) <= 1):
        for k, job in enumerate(jobs):
            results[k] = _solve_one(job)
            bar.update(1)
    else:
        own = executor is None
        pool = executor or ProcessPoolExecutor(max_workers=workers)
        try:
            futures = {pool.submit(_solve_one, job): k for k, job in enumerate(jobs)}
            from concurrent.futures import as_completed

            for fut in as_completed(futures):
                k = futures[fut]
                try:
                    results[k] = fut.result()
                except Exception as exc:  # worker died, pickling failed...
                    results[k] = Result(status=Status.ERROR, message=f"{type(exc).__name__}: {exc}",
                                        method=method or "")
                bar.update(1)
        finally:
            if own:
                pool.shutdown()
    bar.close()
    return [r for r in results if r is not None]


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="instance")


__all__ = ["InvalidProblemError", "available_methods", "solve", "solve_many"]
