"""The numba kernels of a first call compiled in a separate process.

On an empty numba cache the Lin–Kernighan kernel takes ~8 s of compilation (one core, idle) and
the α-nearness kernels ~20 s more; numba's compiler holds the GIL most of that time, so a
compile thread would starve whatever the solve does meanwhile, and a process that ends first
has to wait for it. Instead a first call starts one compiler process (``python -c ...
_child(kind)``) that writes the kernels to numba's on-disk cache (the same directory: it inherits
the environment, ``NUMBA_CACHE_DIR`` included) and the solve goes on with a compile-free
fallback on its own core, polling :func:`ready`; once the cache index is on disk, the solve's own
call loads the kernel in a fraction of a second. The compiler outlives the calling process (its
own session: a Ctrl-C of the solve does not stop it), so that the next process starts warm; a
lock file next to the cache keeps it to one compiler per cache and kind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

#: a lock older than this (s) is stale (its compiler died without removing it)
STALE = 900.0

_started: dict[str, subprocess.Popen] = {}


def ready(dispatcher) -> bool:
    """Whether a numba kernel runs without compiling: compiled in this process or in the on-disk
    cache (unknown: assumed ready)."""
    if dispatcher.signatures:
        return True
    try:
        return os.path.exists(dispatcher._cache._cache_file._index_path)
    except AttributeError:
        return True


def busy() -> bool:
    """No core to spare for a fallback beside the compiler process: the 1-minute load average
    is at least the core count less one half (then a CPU-bound fallback slows the compiler:
    d1291's LK kernel ready after 9.0-9.6 s instead of 7.6-7.8 s at load 5 on 2 cores)."""
    try:
        return os.getloadavg()[0] >= (os.cpu_count() or 1) - 0.5
    except (AttributeError, OSError):
        return False


def prepare() -> None:
    """numba's one-time set-up of this process (its typing and target registries: 0.5-1 s, the
    bulk of loading a cached kernel), done while the compiler process works, so that the load
    itself then takes milliseconds."""
    try:
        from numba.core.registry import cpu_target

        cpu_target.target_context.refresh()
        cpu_target.typing_context.refresh()
    except Exception:  # noqa: BLE001 - numba internals moved: the first call pays instead
        pass


def _lock_path(kind: str) -> Path | None:
    from . import _lk_kernels as L

    try:
        return Path(L.lk_ils._cache._cache_path) / f"optbox-compile-{kind}.lock"
    except AttributeError:
        return None


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate it there: trust the lock's age
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def compiling(kind: str) -> bool:
    """Whether a compiler process for ``kind`` (this process's or another one's) is running."""
    proc = _started.get(kind)
    if proc is not None and proc.poll() is None:
        return True
    lock = _lock_path(kind)
    if lock is None or not lock.exists():
        return False
    try:
        pid = int(lock.read_text().strip() or 0)
        age = time.time() - lock.stat().st_mtime
    except (OSError, ValueError):
        return False
    return pid > 0 and _alive(pid) and age < STALE


def register(kind: str, source: str) -> None:
    """A kind of kernels that a higher layer owns (``learned.udc``): ``source`` is the Python
    its compiler process runs (imports and small solves that compile the kernels)."""
    _WARM.setdefault(kind, source)


def start(kind: str) -> bool:
    """Start a compiler process for ``kind`` unless one runs already; False if none could be
    started (no writable cache directory: the caller compiles in-process)."""
    if kind not in _WARM:
        raise ValueError(f"unknown kernel kind {kind!r}")
    if compiling(kind):
        return True
    lock = _lock_path(kind)
    if lock is None:
        return False
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        if lock.exists():  # stale (checked above)
            lock.unlink()
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return True  # another process won the race
    except OSError:
        return False
    root = str(Path(__file__).resolve().parents[2])  # the directory holding ``solvers``
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from solvers.routing.background import _child; "
             "_child(sys.argv[1], sys.argv[2])", kind, _WARM[kind]],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True)
    except OSError:
        os.close(fd)
        lock.unlink(missing_ok=True)
        return False
    os.write(fd, str(proc.pid).encode())
    os.close(fd)
    _started[kind] = proc
    return True


#: what a compiler process runs for each kind (source text: this module imports no solver)
_WARM = {
    "tsp": "from solvers.routing.tsp import _warm_alpha, _warm_lk; _warm_lk(); _warm_alpha()",
    "cvrp": "from solvers.routing.local_search import _warm_search; _warm_search(); "
            "from problems import CVRP; from solvers import solve; "
            "solve(CVRP.random(20, seed=1), 'local-search', kicks=5, seed=0)",
}


def _child(kind: str, source: str | None = None) -> None:
    """The compiler process: warm ``kind``'s kernels (``source``: a registered kind's), then
    remove the lock."""
    lock = _lock_path(kind)
    try:
        exec(source or _WARM[kind], {})  # noqa: S102 - this module's or a registered fixed string
    finally:
        if lock is not None:
            try:
                if int(lock.read_text().strip() or 0) == os.getpid():
                    lock.unlink()
            except (OSError, ValueError):
                pass
