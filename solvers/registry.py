"""The method registry, keyed by (method, problem type), with lazily imported implementations.

Each family package (``solvers/bcd``, ``solvers/ot``, ...) lists its methods in a ``METHODS``
list of :class:`MethodSpec` in its ``__init__.py`` and a small instance of each problem type
it serves in ``EXAMPLES`` (used by ``optbox warmup`` and the contract tests), importing
nothing heavy. The implementation is named by a dotted path and imported only when used:
a learned method lives in ``learned/<name>/solve.py`` and is registered by its path, so
``solvers`` never imports ``learned`` (nor torch). Adding a family is one package and one
entry in :data:`FAMILIES`.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .options import Option, options_table

FAMILIES = ("bcd", "ot", "mip", "dag", "routing", "linear", "peers")


@dataclass(frozen=True)
class MethodSpec:
    """One solver method for one or more problem types.

    ``target`` is ``"module:function"``; the function is called as
    ``function(problem, ctx, **options)`` with a :class:`solvers.context.SolveContext` and
    every declared option filled in (validated, defaults applied); it returns a
    :class:`solvers.result.Result`. ``options`` declares the accepted options once.
    ``default_rank(problem)`` is a priority when the method may be the default for that
    instance (highest wins), or None. ``requires`` names optional modules; the method is
    unavailable when one is missing. ``history_label`` names what ``Result.history`` holds.
    """

    name: str
    problems: tuple[str, ...]
    target: str
    options: tuple[Option, ...] = ()
    description: str = ""
    randomized: bool = False
    default_rank: Callable[[Any], int | None] | None = None
    requires: tuple[str, ...] = ()
    history_label: str = "objective"

    @property
    def problem(self) -> str:
        """The problem type of a registry entry (each entry serves exactly one)."""
        return self.problems[0]

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.options)

    def option(self, name: str) -> Option:
        for o in self.options:
            if o.name == name or name in o.aliases:
                return o
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {o.name: o.default for o in self.options}

    def load(self) -> Callable[..., Any]:
        module, _, func = self.target.partition(":")
        return getattr(importlib.import_module(module), func)

    def installed(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.requires)

    def accepts(self, problem: Any) -> bool:
        return type(problem).__name__ in self.problems


def normalize(name: str) -> str:
    """Method names are matched case- and dash/underscore-insensitively."""
    return str(name).strip().lower().replace("_", "-")


_REGISTRY: dict[tuple[str, str], MethodSpec] | None = None
_EXAMPLES: dict[str, Callable[[], Any]] | None = None


def registry() -> dict[tuple[str, str], MethodSpec]:
    """Every entry of every family, keyed by (normalized method name, problem type)."""
    global _REGISTRY
    if _REGISTRY is None:
        table: dict[tuple[str, str], MethodSpec] = {}
        for family in FAMILIES:
            module = importlib.import_module(f"solvers.{family}")
            for spec in getattr(module, "METHODS", []):
                for kind in spec.problems:
                    key = (normalize(spec.name), kind)
                    if key in table:
                        raise RuntimeError(f"method {spec.name!r} registered twice for {kind}")
                    table[key] = dataclasses.replace(spec, problems=(kind,))
        _REGISTRY = table
    return _REGISTRY


def examples() -> dict[str, Callable[[], Any]]:
    """A factory of one small seeded instance per problem type, from the families' EXAMPLES."""
    global _EXAMPLES
    if _EXAMPLES is None:
        table: dict[str, Callable[[], Any]] = {}
        for family in FAMILIES:
            table.update(getattr(importlib.import_module(f"solvers.{family}"), "EXAMPLES", {}))
        _EXAMPLES = table
    return _EXAMPLES


def method_names() -> list[str]:
    """Every registered method name, once each, sorted."""
    return sorted({s.name for s in registry().values()})


def methods_for(problem: Any, installed_only: bool = True) -> list[MethodSpec]:
    kind = type(problem).__name__
    return [s for (_, k), s in registry().items()
            if k == kind and (not installed_only or s.installed())]


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


def _entries(name: str) -> list[MethodSpec]:
    key = normalize(name)
    return [s for (n, _), s in registry().items() if n == key]


def get_method(name: str, problem: Any | None = None) -> MethodSpec:
    """The entry for ``name`` (and ``problem``'s type, or a problem type name); a clear
    ``ValueError`` lists the valid choices."""
    entries = _entries(name)
    if not entries:
        valid = sorted({s.name for s in (methods_for(problem) if problem is not None and
                                         not isinstance(problem, str) else registry().values())})
        raise ValueError(f"unknown method {name!r}; valid methods: {', '.join(valid)}")
    if problem is None:
        spec = entries[0]
    else:
        kind = problem if isinstance(problem, str) else type(problem).__name__
        match = [s for s in entries if s.problem == kind]
        if not match:
            valid = sorted(s.name for s in methods_for(problem)) if not isinstance(problem, str) else []
            raise ValueError(f"method {entries[0].name!r} does not solve {kind}; "
                             f"valid methods: {', '.join(valid)}")
        spec = match[0]
    if not spec.installed():
        raise ValueError(
            f"method {spec.name!r} needs the package(s) {', '.join(spec.requires)}: "
            "pip install 'optbox[peers]'"
        )
    return spec


def show_options(method: str, problem: Any | None = None) -> str:
    """The options of ``method`` (for ``problem`` or a problem type name; every problem type
    it serves when None) as text: name, default, what it accepts, one line of doc."""
    entries = _entries(method)
    if not entries:
        get_method(method)  # raises the ValueError listing the valid names
    if problem is not None:
        entries = [get_method(method, problem)]
    blocks = []
    seen: dict[tuple[Option, ...], list[str]] = {}
    for spec in entries:
        seen.setdefault(spec.options, []).append(spec.problem)
    for opts, kinds in seen.items():
        blocks.append(f"{entries[0].name} ({', '.join(kinds)}):\n{options_table(opts)}")
    return "\n".join(blocks)
