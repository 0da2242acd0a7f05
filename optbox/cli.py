"""The ``optbox`` command line: solve instance files, list methods, generate, train, bench, warmup.

The top layer (see ``optbox/__init__.py``): nothing in the library imports it.

Exit codes: 0 success; 1 a solve ended with status ``error`` (or infeasible/unbounded);
2 bad input (unreadable file, bad option); 130 interrupted.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def _parse_option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise CLIError(f"options are KEY=VALUE, got {text!r}")
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value
    return key.strip().replace("-", "_"), parsed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optbox", description="Optimization solvers, classical and learned, behind one API."
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("solve", help="solve one or more instance files")
    p.add_argument("files", nargs="+", help="instance files (.tsp .vrp .mps .lp .npz .mtx .csv .svm)")
    p.add_argument("--method", "-m", default=None, help="method name (default: best for the instance)")
    p.add_argument("--time-limit", "-t", type=float, default=None, help="seconds per instance")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--option", "-O", action="append", default=[], metavar="KEY=VALUE",
                   help="solver option, repeatable (e.g. -O tol=1e-8)")
    p.add_argument("--output", "-o", default=None, help="write results as JSON to this file")
    p.add_argument("--workers", "-w", type=int, default=1, help="solve files in K processes")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address (tcp://host:port) to spread files over a cluster")
    p.add_argument("--plot", default=None, help="write the anytime curve of the (last) run as PNG")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    p = sub.add_parser("methods", help="list the methods that apply to an instance file")
    p.add_argument("file")
    p.add_argument("--options", action="store_true",
                   help="also print each method's options (name, default, accepted values, doc)")

    p = sub.add_parser("generate", help="write a random instance file")
    p.add_argument("kind", help="tsp, cvrp, ot, poisson, dag, lasso, least-squares, logistic, "
                                "l1-logistic, softmax, label-propagation")
    p.add_argument("--size", "-n", type=int, required=True,
                   help="instance size (nodes, points, grid side...)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, help="output file")

    p = sub.add_parser("train", help="train a learned component (udc or dcdm)")
    p.add_argument("model", choices=["udc", "dcdm"])
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the training script")

    p = sub.add_parser("warmup", help="compile the numba kernels into the on-disk cache (once per install)")
    p.add_argument("--method", "-m", action="append", default=None,
                   help="only this method (repeatable; default: every installed method)")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing")

    p = sub.add_parser("bench", help="run a comparative benchmark suite")
    p.add_argument("suite", help="ot, bcd, mip, dag, routing, linear or all")
    p.add_argument("--quick", action="store_true", help="a few minutes per suite")
    p.add_argument("--out", default=None, help="output folder (default benchmarks/out/SUITE)")
    p.add_argument("--methods", default=None, metavar="A,B,...",
                   help="comma list of methods to run, ours or peers (e.g. sns,pot; default: the suite's)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        handler = {"solve": cmd_solve, "methods": cmd_methods, "generate": cmd_generate,
                   "train": cmd_train, "bench": cmd_bench, "warmup": cmd_warmup}[args.command]
        return handler(args)
    except KeyboardInterrupt:
        print("optbox: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        from problems import InvalidProblemError

        expected = (CLIError, InvalidProblemError, ValueError, FileNotFoundError)
        print(f"optbox: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT if isinstance(exc, expected) else EXIT_FAILED


# ---------------------------------------------------------------------------- solve
def cmd_solve(args: argparse.Namespace) -> int:
    from problems import read_instance
    from problems.base import atomic_path
    from solvers import Status, solve, solve_many

    options = dict(_parse_option(o) for o in args.option)
    if args.time_limit is not None and not args.time_limit > 0:
        raise CLIError(f"--time-limit must be > 0 seconds, got {args.time_limit}")
    if args.workers < 1:
        raise CLIError("--workers must be >= 1")
    files = [Path(f) for f in args.files]
    for f in files:
        if not f.is_file():
            raise CLIError(f"{f}: no such file")
    if len(files) == 1 and args.scheduler is None:
        problem = read_instance(files[0])  # a bad file is exit code 2
        if not args.quiet:
            from solvers.registry import default_method, get_method

            spec = get_method(args.method, problem) if args.method else default_method(problem)
            print(f"optbox: solving {files[0].name} with {spec.name} "
                  "(Ctrl-C stops and keeps the best solution so far)", file=sys.stderr, flush=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = solve(problem, args.method, time_limit=args.time_limit, seed=args.seed, **options)
        for w in caught:
            print(f"optbox: warning: {w.message}", file=sys.stderr)
        result.problem = files[0].name
        results = [result]
    else:
        executor, client = None, None
        if args.scheduler:
            try:
                from distributed import Client
            except ImportError:
                raise CLIError("--scheduler needs dask: pip install 'optbox[distributed]'") from None
            client = Client(args.scheduler)
            executor = client.get_executor()
        try:
            results = solve_many([str(f) for f in files], args.method, executor=executor,
                                 workers=args.workers, time_limit=args.time_limit, seed=args.seed,
                                 progress=not args.quiet, **options)
        finally:
            if client is not None:
                client.close()
        for f, r in zip(files, results):
            r.problem = f.name
    print(format_table(results))
    if args.output:
        payload = results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results]
        with atomic_path(Path(args.output)) as tmp:
            # indentation costs seconds on a million-entry plan: only small payloads get it
            small = all(_size(r.solution) <= 100_000 for r in results)
            tmp.write_text(json.dumps(payload, indent=1 if small else None, allow_nan=False))
    if args.plot:
        results[-1].plot(path=args.plot)
    bad = [r for r in results if r.status in (Status.ERROR, Status.INFEASIBLE, Status.UNBOUNDED)]
    for r in bad:
        if r.message:
            print(f"optbox: {r.problem}: {r.status.value}: {r.message}", file=sys.stderr)
    if any(r.status == Status.INTERRUPTED for r in results):
        return EXIT_INTERRUPTED
    return EXIT_FAILED if bad else EXIT_OK


def _size(solution: Any) -> int:
    """Number of entries of a solution (array, dict, list of routes)."""
    if solution is None:
        return 0
    if hasattr(solution, "size") and not callable(solution.size):
        return int(solution.size)
    try:
        return len(solution)
    except TypeError:
        return 1


def format_table(results: list[Any]) -> str:
    """A plain-text summary table, one row per result."""
    rows = [("instance", "method", "status", "objective", "iterations", "seconds")]
    for r in results:
        obj = "-" if r.objective is None else f"{r.objective:.10g}"
        rows.append((r.problem, r.method, r.status.value, obj, str(r.iterations), f"{r.runtime:.3f}"))
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ---------------------------------------------------------------------------- methods
def cmd_methods(args: argparse.Namespace) -> int:
    from problems import read_instance
    from solvers import available_methods
    from solvers.options import options_table
    from solvers.registry import get_method

    problem = read_instance(args.file)
    names = available_methods(problem)
    print(f"{args.file}: {type(problem).__name__} (size {problem.size})")
    for k, name in enumerate(names):
        spec = get_method(name, problem)
        tag = " (default)" if k == 0 else " (peer)" if spec.target.startswith("solvers.peers.") else ""
        print(f"  {name}{tag}: {spec.description}")
        if args.options:
            for line in options_table(spec.options).splitlines():
                print("    " + line)
    return EXIT_OK


# ---------------------------------------------------------------------------- generate
def cmd_generate(args: argparse.Namespace) -> int:
    from problems.generate import generate

    if args.size < 1:
        raise CLIError("--size must be >= 1")
    problem = generate(args.kind, args.size, args.seed)
    problem.to_file(args.output)
    print(f"wrote {args.output}: {type(problem).__name__} (size {problem.size})")
    return EXIT_OK


# ---------------------------------------------------------------------------- train / bench
def cmd_train(args: argparse.Namespace) -> int:
    import importlib

    module = importlib.import_module(f"learned.{args.model}.train")
    return int(module.main(list(args.args)) or 0)


def cmd_warmup(args: argparse.Namespace) -> int:
    from solvers.warmup import warm_all

    def report(entry) -> None:
        if not args.quiet:
            print(f"warmed {entry.method:<14} {entry.problem_class:<22} {entry.seconds:6.1f} s", flush=True)

    try:
        warm_all(args.method, report)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    import importlib

    from benchmarks import SUITES

    suites = list(SUITES) if args.suite == "all" else [args.suite]
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        raise CLIError(f"unknown suite {unknown[0]!r}; choose from {', '.join(SUITES)} or all")
    code = EXIT_OK
    failed = []
    for suite in suites:
        argv = ["--quick"] if args.quick else []
        if args.methods:
            argv += ["--methods", args.methods]
        out = Path(args.out) / suite if args.out and len(suites) > 1 else args.out
        out = Path(out) if out else Path("benchmarks") / "out" / suite
        argv += ["--out", str(out)]
        print(f"== benchmark suite {suite} ==", flush=True)
        try:  # one broken suite must not lose the others' results
            module = importlib.import_module(f"benchmarks.{suite}")
            suite_code = int(module.main(argv) or 0)
        except Exception as exc:
            if len(suites) == 1:
                raise
            print(f"optbox: bench {suite} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            suite_code = EXIT_FAILED
        if suite_code:
            failed.append(suite)
        else:
            written = sorted(p.name for p in out.glob("*") if p.suffix in (".csv", ".json", ".md", ".png"))
            print(f"-- {suite}: wrote {', '.join(written)} in {out}", flush=True)
        code = max(code, suite_code)
    if failed:
        print(f"optbox: suites that failed: {', '.join(failed)}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
