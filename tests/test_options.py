"""Typed options: each method declares its options once, and everything else follows from it.

For every registry entry: the declaration is well formed, every default passes its own
validation, the solver function takes exactly the declared options (keyword-only, no
defaults of its own), and the help text lists them. Then the behaviour ``solve`` derives
from a declaration: validation with one wording, unknown options warn, old spellings work.
"""

from __future__ import annotations

import inspect
import warnings

import pytest

from problems import DAGLearning, LinearSystem
from solvers import Option, show_options, solve
from solvers.options import OptionError, resolve
from solvers.registry import get_method, registry

ENTRIES = sorted(registry())


@pytest.mark.parametrize("key", ENTRIES, ids=[f"{m}-{k}" for m, k in ENTRIES])
def test_declaration_is_well_formed(key):
    spec = registry()[key]
    assert isinstance(spec.options, tuple)
    names = [o.name for o in spec.options]
    assert len(names) == len(set(names)), names
    for option in spec.options:
        assert isinstance(option, Option)
        assert option.doc, f"{spec.name}.{option.name} has no doc line"
        assert option.validate(option.default, spec.name) == option.default or option.default is None
    assert "max_iterations" not in names and "max_epochs" not in names  # one spelling: max_iter


@pytest.mark.parametrize("key", ENTRIES, ids=[f"{m}-{k}" for m, k in ENTRIES])
def test_solver_takes_exactly_the_declared_options(key):
    spec = registry()[key]
    if not spec.installed():
        pytest.skip(f"{spec.name} not installed")
    params = list(inspect.signature(spec.load()).parameters.values())
    assert [p.name for p in params[:2]] == ["problem", "ctx"], spec.target
    keywords = params[2:]
    assert {p.name for p in keywords} == set(spec.option_names), spec.target
    for p in keywords:
        assert p.kind is inspect.Parameter.KEYWORD_ONLY, f"{spec.target}: {p.name} is not keyword-only"
        assert p.default is inspect.Parameter.empty, f"{spec.target}: {p.name} has a second default"


@pytest.mark.parametrize("name", sorted({m for m, _ in ENTRIES}))
def test_show_options_lists_every_option(name):
    text = show_options(name)
    for (m, _), spec in registry().items():
        if m == name:
            for option in spec.options:
                assert option.name in text


def test_values_are_validated_with_one_wording():
    problem = LinearSystem.poisson((8, 8))
    with pytest.raises(ValueError, match=r"cg: option tol must be a number > 0, got -1"):
        solve(problem, "cg", tol=-1)
    with pytest.raises(ValueError, match=r"cg: option max_iter must be an integer >= 1"):
        solve(problem, "cg", max_iter=0)
    with pytest.raises(ValueError, match=r"option max_iter must be an integer"):
        solve(problem, "cg", max_iter="ten")
    with pytest.raises(ValueError, match=r"option max_iter"):
        solve(problem, "cg", max_iter=True)  # a bool is not a count


def test_unknown_option_warns_and_is_ignored():
    problem = DAGLearning.random(4, n=50, seed=0)
    with pytest.warns(UserWarning, match="ignores unknown option"):
        result = solve(problem, "topo", seed=0, not_an_option=3)
    assert result.ok


def test_choices_are_case_insensitive_and_listed():
    opt = Option("rule", str, "gs", "block rule", choices=("gs", "gsl", "cyclic"))
    assert opt.validate("GSL") == "gsl"
    with pytest.raises(OptionError, match="must be one of 'gs', 'gsl', 'cyclic'"):
        opt.validate("nope")


def test_aliases_keep_old_spellings_with_a_deprecation_warning():
    declared = (Option("max_iter", int, 10, "cap", low=1, aliases=("max_iterations",)),)
    with pytest.warns(DeprecationWarning, match="now called 'max_iter'"):
        values = resolve("m", declared, {"max_iterations": 3})
    assert values == {"max_iter": 3}


def test_defaults_come_from_the_declaration():
    spec = get_method("cg", "LinearSystem")
    values = resolve("cg", spec.options, {})
    assert values == spec.defaults()


def test_integral_floats_are_counts_but_fractions_are_not():
    opt = Option("k", int, 2, "count", low=1)
    assert opt.validate(3.0) == 3 and isinstance(opt.validate(3.0), int)
    with pytest.raises(OptionError):
        opt.validate(2.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Option("x", float, 1.0, "number").validate(2) == 2.0
