"""Stopping is owned by the one solve loop: Ctrl-C, a callback's StopIteration, a second Ctrl-C.

For every registered method (the long-running instances of ``test_limits``): a SIGINT during
the solve returns within 3 s with status ``interrupted`` and the best solution found; a
callback that raises ``StopIteration`` at the first progress report stops the run as
promptly, and it saw the incumbent. A second Ctrl-C aborts. Through the command line,
``optbox solve`` under SIGINT exits with code 130 within 3 s and writes the incumbent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest

from solvers import Status, solve

from .test_limits import LIMIT_INSTANCES, LIMIT_OPTIONS, UNINTERRUPTIBLE, _methods, _warm_up, big

PROMPT = 3.0  # seconds from the stop request to the returned result
DELAY = 0.6  # seconds into the solve at which the stop is requested


def _long_instance(method: str, kind: str):
    return LIMIT_INSTANCES.get((method, kind), lambda: big(kind))()


class _Swallow:
    """A SIGINT handler for the test itself, so a signal that lands after ``solve`` returned
    (the method finished first) cannot stop pytest."""

    def __enter__(self):
        self.previous = signal.signal(signal.SIGINT, lambda *a: None)
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)


def _solve_quietly(problem, method, kind, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return solve(problem, method, seed=0, **LIMIT_OPTIONS.get((method, kind), {}), **kw)
        except ValueError as exc:
            pytest.skip(f"{method} refuses the instance: {exc}")


@pytest.mark.parametrize("method, kind", _methods())
def test_ctrl_c_returns_the_incumbent_promptly(method, kind):
    if method in UNINTERRUPTIBLE:
        pytest.skip(f"{method} has a non-interruptible phase")
    _warm_up(method, kind)
    problem = _long_instance(method, kind)
    sent: list[float] = []

    def interrupt():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    with _Swallow():
        timer = threading.Timer(DELAY, interrupt)
        timer.start()
        try:
            result = _solve_quietly(problem, method, kind, time_limit=60)
        finally:
            timer.cancel()
        done = time.perf_counter()
    if not sent:
        pytest.skip(f"{method} finished before the interrupt ({result.runtime:.2f} s)")
    assert done - sent[0] <= PROMPT, f"{method} took {done - sent[0]:.2f} s to stop: {result.summary()}"
    # a method may meet its own test between the signal and its next check (sns's plan converged)
    assert result.status in (Status.INTERRUPTED, Status.CONVERGED, Status.OPTIMAL), result.summary()
    if result.solution is not None:
        assert result.objective is None or np.isfinite(result.objective)


#: methods that report progress only once, when they return (elkai's LKH gives none before)
FINAL_REPORT_ONLY = {"lkh"}


@pytest.mark.parametrize("method, kind", _methods())
def test_callback_stop_is_prompt_and_sees_the_incumbent(method, kind):
    if method in UNINTERRUPTIBLE:
        pytest.skip(f"{method} has a non-interruptible phase")
    if method in FINAL_REPORT_ONLY:
        pytest.skip(f"{method} reports its solution only when it returns: nothing to stop on")
    _warm_up(method, kind)
    problem = _long_instance(method, kind)
    seen = []

    def stop_at_first(info):
        seen.append((time.perf_counter(), info))
        raise StopIteration

    result = _solve_quietly(problem, method, kind, time_limit=60, callback=stop_at_first)
    if not seen:
        pytest.skip(f"{method} reported no progress before it ended: {result.summary()}")
    assert time.perf_counter() - seen[0][0] <= PROMPT, result.summary()
    assert result.status == Status.INTERRUPTED, result.summary()
    info = seen[0][1]
    assert set(info) >= {"time", "objective", "incumbent", "iteration"}
    assert info.objective == info["objective"]


def test_a_second_ctrl_c_aborts():
    from problems import LinearSystem

    problem = LinearSystem.poisson((400, 400))

    def ctrl_c_twice(info):
        if info.iteration == 5:
            for _ in range(2):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # the handler runs here: the first marks the run, the second aborts

    with _Swallow(), pytest.raises(KeyboardInterrupt):
        solve(problem, "cg", tol=1e-14, time_limit=30, callback=ctrl_c_twice)


#: (method, file suffix, instance factory) for the command-line check: one long-running
#: method per problem family that has a file format
CLI_CASES = [
    ("local-search", ".tsp", lambda: __import__("problems").TSP.random(2500, seed=0)),
    ("udc", ".tsp", lambda: __import__("problems").TSP.random(3000, seed=2)),
    ("ortools", ".vrp", lambda: __import__("problems").CVRP.random(400, seed=2)),
    ("sinkhorn-log", ".npz", lambda: __import__("problems").OptimalTransport.random(800, seed=1, reg=1e-4)),
    ("topo", ".csv", lambda: __import__("problems").DAGLearning.random(400, n=500, seed=1)),
    ("notears", ".csv", lambda: __import__("problems").DAGLearning.random(40, n=500, seed=1, graph="SF",
                                                                         edges_per_node=4)),
    ("cg", ".npz", lambda: __import__("problems").LinearSystem.poisson((600, 600))),
    ("balans", ".lp", lambda: __import__("problems.mip_generators").mip_generators.multi_knapsack(400, 15, 1)),
    ("scip", ".lp", lambda: __import__("problems.mip_generators").mip_generators.multi_knapsack(400, 15, 1)),
    ("bcd", ".npz", lambda: big("Lasso")),
]


@pytest.mark.parametrize("method, suffix, make", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_ctrl_c_exits_130_with_the_incumbent_written(method, suffix, make, tmp_path):
    instance = tmp_path / f"big{suffix}"
    make().to_file(instance)
    out = tmp_path / "out.json"
    extra = ["-O", "tol=1e-30"] if method == "cg" else []
    proc = subprocess.Popen([sys.executable, "-m", "optbox", "solve", str(instance), "--method", method,
                             "--time-limit", "300", "--output", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()  # printed once the file is read and the solve begins
        assert f"solving {instance.name}" in line, line + proc.stderr.read()
        time.sleep(3.5)  # past the method's imports (torch for udc): the solve loop is running
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        took = time.perf_counter() - sent
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert took <= PROMPT, f"{method}: exited {took:.2f} s after SIGINT"
    result = json.loads(out.read_text())
    assert result["status"] == "interrupted"
    assert result["solution"] is not None
