"""What every peer adapter shares: the peer's name and version for ``stats["peer"]``, the size
of the next slice of a sliced peer, a peer call in a worker thread that the solve context can
stop (or leave behind), and a peer call in a forked child process that is killed when the
context says stop (for peers that offer no way to stop them)."""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from ..context import SolveContext

#: seconds between two looks at the stopping criteria while a peer runs elsewhere
POLL = 0.02
#: seconds one slice of a sliced peer aims at: long enough that a slice's setup is a small
#: share of it, short enough that a stop request waits at most about this long
SLICE = 0.25


@functools.cache
def _version(distribution: str) -> str:  # reading the metadata takes milliseconds: once a process
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def peer_info(package: str, distribution: str | None = None) -> dict[str, str]:
    """``{"package": ..., "version": ...}`` of an installed peer (``stats["peer"]``)."""
    return {"package": package, "version": _version(distribution or package)}


def next_slice(ctx: SolveContext, steps: int, seconds: float, grow: int = 16) -> int:
    """Steps of the next slice: as many as fill ``SLICE`` seconds (or the time left, if less)
    at the pace of the slice just done (``steps`` in ``seconds``), at most ``grow`` times as many."""
    target = min(SLICE, ctx.remaining())
    steps = max(int(steps), 1)
    if seconds <= 0:
        return grow * steps
    return int(max(1, min(grow * steps, target * steps / seconds)))


def _start_worker(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """A started daemon thread running ``fn()``; its value or exception lands in the dict."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    worker = threading.Thread(target=work, name="optbox-peer", daemon=True)
    worker.start()
    return worker, box


def run_in_thread(ctx: SolveContext, fn: Callable[[], Any], cancel: Callable[[], None]) -> Any:
    """``fn()`` in a worker thread while this (main) thread watches the stopping criteria, so a
    Ctrl-C reaches Python at once; when one fires, ``cancel()`` is called once (the peer's own
    stop request) and the worker is awaited. Returns ``fn``'s value or raises its exception."""
    worker, box = _start_worker(fn)
    cancelled = False
    while worker.is_alive():
        worker.join(POLL)
        if not cancelled and worker.is_alive() and ctx.should_stop():
            cancel()
            cancelled = True
    if "error" in box:
        raise box["error"]
    return box.get("value")


def run_left_behind(ctx: SolveContext, fn: Callable[[], Any]) -> tuple[Any, bool]:
    """``fn()`` (a call that releases the GIL and cannot be stopped) in a daemon worker thread
    while this thread watches the stopping criteria; returns ``(value, False)``, or ``(None,
    True)`` at once when a criterion fires first: the worker is then left to finish on its own
    and its value is dropped. For calls expected to take a moment only (see ``run_in_child``
    for the others)."""
    worker, box = _start_worker(fn)
    while worker.is_alive():
        worker.join(POLL)
        if worker.is_alive() and ctx.should_stop():
            return None, True
    if "error" in box:
        raise box["error"]
    return box.get("value"), False


def _child(conn: Any, fn: Callable[..., Any], args: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; a terminal Ctrl-C reaches both
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as exc:  # reported to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def run_in_child(ctx: SolveContext, fn: Callable[..., Any], args: tuple = (),
                 grace: float = 0.0) -> tuple[Any, bool]:
    """``fn(*args)`` in a forked child process; returns ``(value, False)``, or ``(None, True)``
    when a stopping criterion fired first (the child is then killed; ``grace`` seconds after the
    deadline are allowed for a peer that ends at its own time limit). A failure in the child is
    raised here as ``RuntimeError``."""
    fork = mp.get_context("fork")
    parent, child = fork.Pipe(duplex=False)
    proc = fork.Process(target=_child, args=(child, fn, args), daemon=True)
    proc.start()
    child.close()
    over_since: float | None = None
    try:
        while True:
            if parent.poll(POLL):
                try:
                    kind, value = parent.recv()
                except EOFError:
                    kind, value = "error", f"the peer's process died (exit code {proc.exitcode})"
                break
            if not proc.is_alive() and not parent.poll(0):
                kind, value = "error", f"the peer's process died (exit code {proc.exitcode})"
                break
            reason = ctx.stop_reason()
            if reason is not None:
                now = time.perf_counter()
                over_since = now if over_since is None else over_since
                time_only = ctx.time_up() and not (ctx.interrupted or ctx.stopped_by_callback)
                if not time_only or now - over_since >= grace:
                    ctx.should_stop()  # keep the reason for the status
                    return None, True
    finally:
        if proc.is_alive():  # stopped, or the value is in: nothing more is wanted from it
            with contextlib.suppress(OSError):
                os.kill(proc.pid, signal.SIGKILL)  # our own child, by its pid
        parent.close()
        # the child's exit (tearing down a copy of this process) takes tens of ms: reap it aside
        threading.Thread(target=proc.join, args=(5.0,), name="optbox-reap", daemon=True).start()
    if kind == "error":
        raise RuntimeError(value)
    return value, False
