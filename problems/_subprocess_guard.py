"""Run a native parser in a forked child first, so a crash in C code (e.g. SCIP's MPS reader
segfaulting on a truncated file) becomes an ``InvalidProblemError`` instead of killing us."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from ._validation import InvalidProblemError


def survives_in_child(action: Callable[[], object], what: str) -> None:
    """Run ``action`` in a forked child; raise if the child dies from a signal.

    Exceptions inside the child are ignored here (the caller runs ``action`` again in this
    process and handles them normally). Where ``fork`` is unavailable this is a no-op.
    """
    if not hasattr(os, "fork"):
        return
    pid = os.fork()
    if pid == 0:  # child: never return into the caller's stack
        code = 0
        try:
            import faulthandler

            faulthandler.disable()  # the parent's handler would print a dump for the crash
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            action()
        except BaseException:
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        raise InvalidProblemError(f"{what} crashed the native reader ({name}); the file is malformed")
