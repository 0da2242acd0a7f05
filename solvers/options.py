"""Typed solver options, declared once per method.

Each method lists its options as :class:`Option` records (name, type, default, range or
choices, one line of doc). From that one declaration come the defaults ``solve`` fills in,
the validation (one wording for every method), the warning for an unknown option (as
scipy's ``_check_unknown_options``), old spellings kept as aliases, and the help text of
:func:`show_options` and ``optbox methods FILE --options``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class OptionError(ValueError):
    """An option value outside its declaration."""


@dataclass(frozen=True)
class Option:
    """One option of one method.

    ``kind`` is ``int``, ``float``, ``bool``, ``str`` or ``object`` (no type check; ``check``
    then validates). ``none=True`` accepts ``None`` (usually "chosen per instance").
    ``low`` / ``high`` bound numbers (inclusive unless ``low_open`` / ``high_open``);
    ``choices`` lists the accepted values (strings compare case- and dash-insensitively and
    come back in their declared spelling). ``check(value)`` may return a converted value or
    raise ``ValueError`` with a message; ``aliases`` are old names that still work, with a
    ``DeprecationWarning``. ``accepts`` says in words what an ``object`` option takes (help text).
    """

    name: str
    kind: type = object
    default: Any = None
    doc: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] | None = None
    none: bool = False
    check: Callable[[Any], Any] | None = None
    aliases: tuple[str, ...] = ()
    accepts: str = ""

    def validate(self, value: Any, method: str = "") -> Any:
        """``value`` converted to this option's type, or :class:`OptionError`."""
        where = f"{method}: " if method else ""
        if value is None:
            if self.none or self.default is None:
                return None
            raise OptionError(f"{where}option {self.name} must be {self.expects()}, got None")
        try:
            value = self._typed(value)
        except (TypeError, ValueError, OverflowError):
            raise OptionError(f"{where}option {self.name} must be {self.expects()}, "
                              f"got {value!r}") from None
        if self.choices is not None:
            value = self._choice(value, where)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not self._in_range(value):
                raise OptionError(f"{where}option {self.name} must be {self.expects()}, got {value!r}")
        if self.check is not None:
            try:
                checked = self.check(value)
            except (TypeError, ValueError) as exc:
                raise OptionError(f"{where}option {self.name}: {exc}") from None
            if checked is not None:
                value = checked
        return value

    def _typed(self, value: Any) -> Any:
        if self.kind is bool:
            if isinstance(value, bool) or type(value).__name__ == "bool_":
                return bool(value)
            raise TypeError
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                if isinstance(value, float) and value.is_integer() and math.isfinite(value):
                    return int(value)
                raise TypeError
            return int(value)
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError
            value = float(value)
            if math.isnan(value):
                raise ValueError
            return value
        if self.kind is str:
            if not isinstance(value, str):
                raise TypeError
            return value
        if self.kind is not object and not isinstance(value, self.kind):
            raise TypeError
        return value

    def _choice(self, value: Any, where: str) -> Any:
        def norm(v: Any) -> Any:
            return v.strip().lower().replace("_", "-") if isinstance(v, str) else v

        for choice in self.choices or ():
            if norm(choice) == norm(value):
                return choice
        raise OptionError(f"{where}option {self.name} must be one of "
                          f"{', '.join(map(repr, self.choices or ()))}; got {value!r}")

    def _in_range(self, value: float) -> bool:
        if self.kind is float and not math.isfinite(value) and self.high is not None:
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (self.high is not None and (value > self.high or (self.high_open and value == self.high)))

    def expects(self) -> str:
        """What the option accepts, in words (used in messages and help)."""
        names = {int: "an integer", float: "a number", bool: "True or False", str: "a string",
                 object: "see doc"}
        text = self.accepts or names.get(self.kind, getattr(self.kind, "__name__", "a value"))
        if self.choices is not None:
            text = "one of " + ", ".join(map(repr, self.choices))
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            bounds.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        if bounds:
            text += " " + " and ".join(bounds)
        if self.none:
            text += " or None"
        return text


#: shorthands for the declarations that recur in every family
def positive_int(name: str, default: Any, doc: str, none: bool = False, **kw: Any) -> Option:
    return Option(name, int, default, doc, low=1, none=none, **kw)


def positive_float(name: str, default: Any, doc: str, none: bool = False, **kw: Any) -> Option:
    return Option(name, float, default, doc, low=0.0, low_open=True, none=none, **kw)


def fraction(name: str, default: Any, doc: str, **kw: Any) -> Option:
    return Option(name, float, default, doc, low=0.0, high=1.0, **kw)


def max_iter(default: Any = None, doc: str = "iteration cap (None: the method's own)", **kw: Any) -> Option:
    """The one spelling of an iteration cap across optbox."""
    return Option("max_iter", int, default, doc, low=1, none=True, **kw)


def tolerance(default: float, doc: str = "stopping tolerance", **kw: Any) -> Option:
    return Option("tol", float, default, doc, low=0.0, **kw)


def resolve(method: str, declared: Iterable[Option], given: Mapping[str, Any],
            stacklevel: int = 3) -> dict[str, Any]:
    """Every declared option's value: the given one (validated) or its default.

    Unknown names warn (``UserWarning``) and are dropped; an alias is renamed with a
    ``DeprecationWarning``; a value outside its declaration raises :class:`OptionError`.
    """
    table = {o.name: o for o in declared}
    alias = {a: o.name for o in table.values() for a in o.aliases}
    values: dict[str, Any] = {}
    unknown = []
    for key, value in given.items():
        name = alias.get(key, key)
        if name not in table:
            unknown.append(key)
            continue
        if name != key:
            warnings.warn(f"{method}: option {key!r} is now called {name!r}", DeprecationWarning,
                          stacklevel=stacklevel)
        values[name] = table[name].validate(value, method)
    if unknown:
        warnings.warn(f"method {method!r} ignores unknown option(s) {sorted(unknown)}; "
                      f"accepted: {sorted(table)}", UserWarning, stacklevel=stacklevel)
    for name, option in table.items():
        if name not in values:
            values[name] = option.default
    return values


def options_table(declared: Iterable[Option]) -> str:
    """A plain-text table: name, default, what it accepts, doc."""
    rows = [(o.name, repr(o.default), o.expects(), o.doc) for o in declared]
    if not rows:
        return "  (no options)"
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    return "\n".join(f"  {n.ljust(widths[0])}  {d.ljust(widths[1])}  {e.ljust(widths[2])}  {doc}".rstrip()
                     for n, d, e, doc in rows)
