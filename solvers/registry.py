"""The method registry: names -> accepted problem types and lazily imported implementations.

Each family package (``solvers/bcd``, ``solvers/ot``, ...) lists its methods in a
``METHODS`` list of :class:`MethodSpec` in its ``__init__.py``, importing nothing heavy;
the implementation module is imported only when the method is used, so importing
``solvers`` never imports torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FAMILIES = ("bcd", "ot", "mip", "dag", "routing", "linear")


@dataclass(frozen=True)
class MethodSpec:
    """One solver method.

    ``target`` is ``"module:function"``; the function is called as
    ``function(problem, ctx, **options)`` with a :class:`solvers.context.SolveContext` and
    returns a :class:`solvers.result.Result`. ``options`` maps every accepted option to its
    default (anything else triggers a warning). ``default_rank(problem)`` returns a
    priority when the method may be the default for that instance (highest wins), or None.
    ``requires`` names optional modules; the method is unavailable when one is missing.
    """

    name: str
    problems: tuple[str, ...]
    target: str
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    randomized: bool = False
    default_rank: Callable[[Any], int | None] | None = None
    requires: tuple[str, ...] = ()

    def load(self) -> Callable[..., Any]:
        module, _, func = self.target.partition(":")
        return getattr(importlib.import_module(module), func)

    def installed(self) -> bool:
        import importlib.util

        return all(importlib.util.find_spec(m) is not None for m in self.requires)

    def accepts(self, problem: Any) -> bool:
        return type(problem).__name__ in self.problems


def normalize(name: str) -> str:
    """Method names are matched case- and dash/underscore-insensitively."""
    return str(name).strip().lower().replace("_", "-")


_REGISTRY: dict[str, MethodSpec] | None = None


def registry() -> dict[str, MethodSpec]:
    """All methods of all families, by normalized name."""
    global _REGISTRY
    if _REGISTRY is None:
        table: dict[str, MethodSpec] = {}
        for family in FAMILIES:
            module = importlib.import_module(f"solvers.{family}")
            for spec in getattr(module, "METHODS", []):
                key = normalize(spec.name)
                if key in table:
                    raise RuntimeError(f"method {spec.name!r} registered twice")
                table[key] = spec
        _REGISTRY = table
    return _REGISTRY


def methods_for(problem: Any, installed_only: bool = True) -> list[MethodSpec]:
    return [s for s in registry().values()
            if s.accepts(problem) and (not installed_only or s.installed())]


def default_method(problem: Any) -> MethodSpec:
    candidates = []
    for spec in methods_for(problem):
        rank = spec.default_rank(problem) if spec.default_rank else None
        if rank is not None:
            candidates.append((rank, spec.name, spec))
    if not candidates:
        applicable = methods_for(problem)
        if not applicable:
            raise ValueError(f"no installed method solves {type(problem).__name__}")
        return applicable[0]
    return max(candidates, key=lambda c: (c[0], c[1]))[2]


def get_method(name: str, problem: Any | None = None) -> MethodSpec:
    """Look a method up by name; a clear ``ValueError`` lists the valid choices."""
    table = registry()
    key = normalize(name)
    if key not in table:
        valid = sorted(s.name for s in (methods_for(problem) if problem is not None else table.values()))
        raise ValueError(f"unknown method {name!r}; valid methods: {', '.join(valid)}")
    spec = table[key]
    if problem is not None and not spec.accepts(problem):
        valid = sorted(s.name for s in methods_for(problem))
        raise ValueError(
            f"method {spec.name!r} does not solve {type(problem).__name__}; "
            f"valid methods: {', '.join(valid)}"
        )
    if not spec.installed():
        raise ValueError(
            f"method {spec.name!r} needs the package(s) {', '.join(spec.requires)}: "
            "pip install 'optbox[peers]'"
        )
    return spec
