"""``solve``, ``solve_many`` and ``available_methods``: the one entry point for every problem."""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

import numpy as np

from problems import InvalidProblemError, Problem

from .context import SolveContext
from .options import resolve
from .registry import default_method, get_method, methods_for
from .result import Result, Status
from .stop import StoppingCriterion, StopReason

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
    stop: StoppingCriterion | Sequence[StoppingCriterion] | None = None,
    **options: Any,
) -> Result:
    """Solve ``problem`` with ``method`` (None: the best default for this instance).

    ``time_limit`` is wall-clock seconds for everything; ``seed`` makes randomized methods
    repeatable; ``callback(info)`` is called with a :class:`solvers.context.Progress`
    (``time``, ``objective``, ``incumbent``, ``iteration``) whenever the solver records
    progress and may raise ``StopIteration`` to stop. ``stop`` adds stopping criteria from
    :mod:`solvers.stop` (e.g. ``NoImprovement(200)``, ``MaxIterations(50)``; a sequence for
    several), asked by the method's loop beside Ctrl-C, the callback and ``time_limit``.
    Options are checked against the
    method's declaration (:func:`solvers.show_options`); unknown options warn. The first
    Ctrl-C stops at the next check with the best solution found; a second one aborts
    (``KeyboardInterrupt``). Returns a :class:`Result`.
    """
    if not isinstance(problem, Problem):
        raise TypeError(
            f"solve() takes a problem from the problems package, got {type(problem).__name__}"
        )
    limit = _check_time_limit(time_limit)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    spec = get_method(method, problem) if method is not None else default_method(problem)
    kwargs = resolve(spec.name, spec.options, options)
    ctx = SolveContext(limit, callback, None if seed is None else int(seed), spec.history_label)
    ctx.state.sense = -1 if getattr(problem, "maximize", False) else 1
    for criterion in _criteria(stop):
        ctx.add_stop(criterion)
    func = spec.load()
    try:
        with _graceful_interrupt(ctx):
            result = func(problem, ctx, **kwargs)
    except KeyboardInterrupt:
        if ctx.interrupted:  # the second Ctrl-C: abort, as promised
            raise
        # a Ctrl-C that reached Python without our handler (another thread's or a library's)
        ctx.interrupted = True
        ctx.reason = StopReason.INTERRUPT
        result = ctx.salvage("interrupted" if ctx.incumbent is not None
                             else "interrupted before a solution was found")
    except (np.linalg.LinAlgError, FloatingPointError) as exc:
        result = ctx.result(status=Status.ERROR, message=f"numerical failure: {exc}")
    result.method = spec.name
    result.problem = getattr(problem, "name", "") or type(problem).__name__
    if not result.runtime:
        result.runtime = ctx.elapsed()
    _guard_nan(result)
    return result


def _criteria(stop: Any) -> list[StoppingCriterion]:
    if stop is None:
        return []
    items = list(stop) if isinstance(stop, (list, tuple)) else [stop]
    for item in items:
        if not callable(item):
            raise ValueError(f"stop takes stopping criteria from solvers.stop (callables), got {item!r}")
    return items


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
        if _WORKER_INTERRUPTED:
            return _not_started(method)
        result = solve(problem, method, **kwargs)
        if _IN_WORKER and result.status == Status.INTERRUPTED:
            _worker_sigint(signal.SIGINT, None)  # the batch is stopping: skip queued jobs
        return result
    except Exception as exc:  # one bad instance never loses the others' results
        name = problem if isinstance(problem, str) else type(problem).__name__
        return Result(status=Status.ERROR, message=f"{type(exc).__name__}: {exc}",
                      method=method or "", problem=str(name))


#: set in a pool worker when the parent forwarded a Ctrl-C (see _worker_init)
_WORKER_INTERRUPTED = False
_IN_WORKER = False


def _worker_sigint(signum: int, frame: Any) -> None:
    global _WORKER_INTERRUPTED
    _WORKER_INTERRUPTED = True


def _worker_init() -> None:
    """Pool workers leave the terminal's process group and remember a SIGINT between solves.

    A Ctrl-C then reaches the parent only, which forwards exactly one SIGINT to each worker:
    inside ``solve`` it becomes a graceful stop; outside (reading a file, idle) it marks the
    worker so that jobs it picks up afterwards come back as not started."""
    global _IN_WORKER
    _IN_WORKER = True
    with contextlib.suppress(OSError):
        import os

        os.setsid()
    signal.signal(signal.SIGINT, _worker_sigint)


def _not_started(method: str | None) -> Result:
    return Result(status=Status.INTERRUPTED, message="interrupted before this instance started",
                  method=method or "")


class _BatchInterrupt:
    """The parent's Ctrl-C handler during ``solve_many``: the first Ctrl-C cancels the jobs not
    yet started and asks the running ones to stop with their best solution; a second aborts."""

    def __init__(self, futures: Iterable[Any], pool: Executor | None) -> None:
        self.futures = list(futures)
        self.pool = pool
        self.interrupted = False
        self.previous: Any = None

    def __enter__(self) -> _BatchInterrupt:
        if threading.current_thread() is threading.main_thread():
            with contextlib.suppress(ValueError):
                self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True
        logger.warning("interrupt received: finishing running instances with their best solution "
                       "(Ctrl-C again to abort)")
        for fut in self.futures:
            fut.cancel()
        import os

        for pid in list(getattr(self.pool, "_processes", None) or {}):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGINT)


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
    complete. Ctrl-C: running instances stop with their best solution (status ``interrupted``),
    the ones not started come back as ``interrupted`` without a solution; with a foreign
    executor (Dask) running tasks cannot be signalled and finish at their own time limit.
    """
    items: Sequence[Any] = list(problems)
    _check_time_limit(time_limit)
    kwargs = dict(options, time_limit=time_limit, seed=seed)
    jobs = [(p, method, kwargs) for p in items]
    bar = _progress(len(jobs), progress)
    results: list[Result | None] = [None] * len(jobs)
    if executor is None and (workers == 1 or len(jobs) <= 1):
        for k, job in enumerate(jobs):
            try:
                results[k] = _solve_one(job)
            except KeyboardInterrupt:  # between two solves, or a second Ctrl-C inside one
                results[k] = _not_started(method)
            bar.update(1)
            if results[k].status == Status.INTERRUPTED:
                results[k + 1:] = [_not_started(method) for _ in jobs[k + 1:]]
                break
    else:
        own = executor is None
        pool = executor or ProcessPoolExecutor(max_workers=workers, initializer=_worker_init)
        futures: dict[Any, int] = {}
        try:
            futures = {pool.submit(_solve_one, job): k for k, job in enumerate(jobs)}
            from concurrent.futures import CancelledError, as_completed

            with _BatchInterrupt(futures, pool if own else None):
                for fut in as_completed(futures):
                    k = futures[fut]
                    try:
                        results[k] = fut.result()
                    except CancelledError:
                        results[k] = _not_started(method)
                    except Exception as exc:  # worker died, pickling failed...
                        results[k] = Result(status=Status.ERROR, message=f"{type(exc).__name__}: {exc}",
                                            method=method or "")
                    bar.update(1)
        except KeyboardInterrupt:
            if own:  # second Ctrl-C: abort, do not wait for the workers
                for proc in list((getattr(pool, "_processes", None) or {}).values()):
                    proc.terminate()
            raise
        finally:
            if own:
                pool.shutdown(wait=True, cancel_futures=True)
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
