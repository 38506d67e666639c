"""Command line: ``ipsbayes simulate | check | run | report | validate | map-prior | design``.

Thin by design: parse arguments, call the runner, print where results are.
No traceback ever reaches a user; every failure is one message and an exit code:

- 0 success;
- 2 bad config, data, arguments or output location (nothing written);
- 3 diagnostics gate failed under ``--strict`` (run folder written);
- 130 interrupted (Ctrl-C): nothing half-written, an earlier run intact;
- 1 anything unexpected, with a one-line cause (``--debug`` prints the traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

from ipsbayes import interrupt
from ipsbayes.cli_types import MAX_SIZE, MIN_SIZE, bounded_int, options, parse_sizes, scheduler_address, stdout_closed
from ipsbayes.command_process import importing_stack, leave_now, pause_collector_for_imports
from ipsbayes.config import MAX_DATASETS, MAX_SEED
from ipsbayes.errors import ConfigError, IpsBayesError
from ipsbayes.textutil import clean_message

EXIT_INTERRUPTED = 130
MAX_WORKERS = 1024
SCHEDULER_HELP = "address of an existing Dask scheduler, HOST:PORT or tcp://HOST:PORT (default: a local cluster)"
DEBUG_HINT = "run with --debug for the traceback"


SEED = bounded_int("seed", 0, MAX_SEED)


def _parser() -> argparse.ArgumentParser:
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="print tracebacks of failures")
    parser = argparse.ArgumentParser(
        prog="ipsbayes", description="Bayesian multilevel evaluation of IPS services.", parents=[debug]
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sim = commands.add_parser("simulate", help="write a synthetic data set with known truth", parents=[debug])
    sim.add_argument("design", help="study design: ipsung or rij")
    sim.add_argument("--seed", type=SEED, default=20261122, help="0 <= seed < 2**32")
    sim.add_argument("--out", type=Path, required=True, help="folder for the tables and truth.json")
    sim.add_argument("--force", action="store_true", help="write into DIR-2 (etc.) if DIR holds other files")
    sim.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a design setting, e.g. --option n_participants=3000 (repeatable)",
    )

    chk = commands.add_parser("check", help="validate a config and its data without fitting", parents=[debug])
    chk.add_argument("config", type=Path)

    run = commands.add_parser("run", help="fit a config and write its run folder and report", parents=[debug])
    run.add_argument("config", type=Path)
    run.add_argument("--out", type=Path, help="run folder (default runs/<name>)")
    run.add_argument(
        "--force", action="store_true", help="write into OUT-2 (etc.) if OUT holds files ipsbayes did not write"
    )
    run.add_argument("--profile", choices=["ci", "default", "final"], help="override the sampler profile")
    run.add_argument("--seed", type=SEED, help="override the config's seed (0 <= seed < 2**32)")
    run.add_argument("--strict", action="store_true", help="exit with code 3 if the diagnostics gate fails")
    run.add_argument("--quiet", action="store_true", help="no progress lines or bars on stderr")

    rep = commands.add_parser("report", help="re-render the report of a run folder", parents=[debug])
    rep.add_argument("run_dir", type=Path)

    val = commands.add_parser(
        "validate", help="calibration and interval coverage over simulated data sets", parents=[debug]
    )
    val.add_argument("config", type=Path)
    val.add_argument(
        "--datasets",
        type=bounded_int("--datasets", 1, MAX_DATASETS + 1),
        help=f"number of simulated data sets K, 1 to {MAX_DATASETS:,} (default: the config's validation.datasets)",
    )
    val.add_argument("--scheduler", type=scheduler_address, help=SCHEDULER_HELP)
    val.add_argument(
        "--workers", type=bounded_int("--workers", 1, MAX_WORKERS + 1), help="local cluster workers (default: CPUs)"
    )
    val.add_argument("--profile", choices=["ci", "default", "final"], default="ci")
    val.add_argument("--seed", type=bounded_int("seed", 0, MAX_SEED // 100_003), default=1)
    val.add_argument("--out", type=Path, help="output folder (default runs/<name>-validation)")
    val.add_argument("--force", action="store_true", help="write into OUT-2 (etc.) if OUT holds other files")

    mp = commands.add_parser(
        "map-prior", help="robust meta-analytic-predictive prior from earlier trials", parents=[debug]
    )
    mp.add_argument("config", type=Path, help="a map-prior config, e.g. priors/map/ips_map.toml")
    mp.add_argument("--out", type=Path, help="report folder (default output.folder or runs/<name>)")
    mp.add_argument("--force", action="store_true", help="write into OUT-2 (etc.) if OUT holds other files")
    mp.add_argument("--profile", choices=["ci", "default", "final"], help="override the sampler profile")
    mp.add_argument("--language", choices=["en", "nb"], default="en", help="report language")

    des = commands.add_parser(
        "design", help="assurance of the next trial by sample size (simulated trials)", parents=[debug]
    )
    des.add_argument("config", type=Path, help="a run config with a [design] table")
    des.add_argument(
        "--trials",
        type=bounded_int("--trials", 1, MAX_DATASETS + 1),
        help=f"simulated trials per size, 1 to {MAX_DATASETS:,} (default design.trials)",
    )
    des.add_argument(
        "--sizes",
        type=parse_sizes,
        help=f"planned sizes, comma-separated, e.g. 66,150,300; each {MIN_SIZE} to {MAX_SIZE:,} participants "
        "(at most 5,000 when design.profile is default, 2,000 when final: about 2 GB per simulated trial)",
    )
    des.add_argument("--scheduler", type=scheduler_address, help=SCHEDULER_HELP)
    des.add_argument(
        "--workers",
        type=bounded_int("--workers", 0, MAX_WORKERS + 1),
        help="local cluster workers (default: CPUs; 0: in this process)",
    )
    des.add_argument("--seed", type=bounded_int("seed", 0, MAX_SEED // 1_000_003), default=1)
    des.add_argument("--out", type=Path, help="output folder (default runs/<name>-design)")
    des.add_argument("--force", action="store_true", help="write into OUT-2 (etc.) if OUT holds other files")
    des.add_argument("--language", choices=["en", "nb"], default="en", help="report language")
    return parser


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    print(f"warning: {clean_message(str(message))}", file=sys.stderr)


def _say(message: str) -> None:
    print(f"error: {clean_message(message)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ipsbayes`` command; returns the exit code.

    Run as the ``ipsbayes`` command (``argv`` None), an interrupted command exits at once
    after its staging folders are removed, instead of waiting seconds for the interpreter
    to tear down compiled models and sampler threads; a Ctrl-C during that teardown exits
    with 130 and one line, never a traceback. In-process, the caller's SIGINT handler is restored.
    """
    if argv is None:  # the command, not a program calling main(): chunked post-fit work reuses freed memory
        from ipsbayes.memory import keep_freed_memory

        keep_freed_memory()
    try:
        code = _main(argv)
    except KeyboardInterrupt:  # only a second Ctrl-C within instants of the first one's handling gets here
        print("interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED:
        code = interrupt.exit_code()  # 143 when SIGTERM stopped it
    if argv is None and code > 128:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            code = stdout_closed()
        with contextlib.suppress(OSError):
            sys.stderr.flush()
        os._exit(code)
    if argv is None:  # output still buffered meets a closed pipe only at exit: check it now
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            os._exit(stdout_closed())
    return code


def command() -> None:
    """The ``ipsbayes`` console command: :func:`main` on ``sys.argv``, then leave at once.

    Programs and tests call :func:`main`, which returns; only the installed command imports the
    stack with the collector paused and skips the interpreter's teardown
    (:mod:`ipsbayes.command_process`).
    """
    pause_collector_for_imports()
    code = main()
    leave_now(code)
    sys.exit(code)


def _main(argv: list[str] | None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed usage and the problem (exit code 2) or --help (0)
        return exc.code if isinstance(exc.code, int) else 2
    debug = getattr(args, "debug", False)
    if args.version:
        from ipsbayes import __version__

        try:
            print(__version__, flush=True)
        except BrokenPipeError:
            return stdout_closed()
        except OSError as exc:  # e.g. stdout on a full disk
            _say(f"cannot write the version: {_one_line(exc)}")
            return 2
        return 0
    if args.command is None:
        _parser().print_help()
        return 2
    from ipsbayes.output import placed_count, release_all

    placed_before = placed_count()
    previous_handler = interrupt.install_cli_handler()
    previous_showwarning, previous_unraisable = warnings.showwarning, sys.unraisablehook
    warnings.showwarning = _show_warning
    sys.unraisablehook = functools.partial(_unraisable, debug=debug)  # forked children inherit it
    handler = _log_to_stderr(quiet=getattr(args, "quiet", False) or args.command != "run")
    try:
        code = _guarded(args, debug, placed_before)
    except KeyboardInterrupt:  # between the command's end and its cleanup
        code = _interrupted(placed_before)
    finally:
        interrupt.record_only()  # the cleanup runs to its end; a Ctrl-C during it still counts
        release_all()
        warnings.showwarning, sys.unraisablehook = previous_showwarning, previous_unraisable
        logging.getLogger("ipsbayes").removeHandler(handler)
    if interrupt.requested() and code != EXIT_INTERRUPTED:
        code = _interrupted(placed_before)
    if argv is None:  # what is left is the interpreter's teardown (see main)
        interrupt.exit_on_interrupt(_interrupted_text(placed_before), EXIT_INTERRUPTED)
    else:
        interrupt.restore(previous_handler)
    return code


def _unraisable(unraisable: Any, *, debug: bool) -> None:
    """An exception Python cannot raise (in a destructor or a garbage-collection callback): no traceback.

    A Ctrl-C whose ``KeyboardInterrupt`` lands in such a callback is recorded all the same, and the
    command stops at its next check (:func:`ipsbayes.output.atomic_output` at the latest). Others,
    such as h5py's cleanup after a full disk (the write's own error is reported), show with ``--debug``.
    """
    if debug and not isinstance(unraisable.exc_value, KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)


def _guarded(args: argparse.Namespace, debug: bool, placed_before: int) -> int:
    """Run the command; every failure becomes one message and an exit code."""
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return _interrupted(placed_before)
    except BrokenPipeError:  # the reader of stdout went away (`| head`): end quietly, as Unix tools do
        return stdout_closed()
    except IpsBayesError as exc:
        if interrupt.requested():
            return _interrupted(placed_before)
        _say(str(exc))
        if debug:
            traceback.print_exc()
        return exc.exit_code
    except (OSError, MemoryError) as exc:
        if interrupt.requested():
            return _interrupted(placed_before)
        _say(_one_line(exc, args.command))
        if debug:
            traceback.print_exc()
        return 2
    except Exception as exc:
        if interrupt.requested():
            return _interrupted(placed_before)
        _say(f"unexpected failure: {_one_line(exc, args.command)} ({DEBUG_HINT})")
        if debug:
            traceback.print_exc()
        return 1


def _interrupted_text(placed_before: int) -> str:
    """The line an interrupt prints: whether this command's output is complete and in place."""
    from ipsbayes.output import last_placed, placed_count

    if placed_count() > placed_before:
        return f"interrupted: {last_placed()} had been written completely and is in place"
    return "interrupted: stopped before writing anything; earlier results are unchanged"


def _interrupted(placed_before: int) -> int:
    print(_interrupted_text(placed_before), file=sys.stderr)
    return EXIT_INTERRUPTED


#: what to lower when a command runs out of memory
_SMALLER = {"simulate": "use smaller --option sizes", "validate": "use fewer --workers", "design": "lower --sizes"}


def _one_line(exc: BaseException, command: str = "run") -> str:
    if isinstance(exc, MemoryError):
        smaller = _SMALLER.get(command, "lower sampler.draws or sampler.chains")
        return f"out of memory; {smaller}, or use a machine with more memory"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = " ".join(str(exc).split())
    text = text if len(text) <= 300 else f"{text[:300]}..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _log_to_stderr(quiet: bool) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("ipsbayes: %(message)s"))
    logger = logging.getLogger("ipsbayes")
    if not quiet:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    # a font matplotlib's cache lacks (another install's cache without STIX) falls back to DejaVu Sans; its
    # "findfont: ... not found" line, once per figure text, says nothing a user can act on
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    return handler


def _precheck_output(config: Path, out: Path | None, force: bool, kind: str, suffix: str = "") -> None:
    """Check the output location before the heavy imports, so a bad one fails in well under a second."""
    from ipsbayes.config import load_config
    from ipsbayes.output import check_output

    try:
        parsed = load_config(config)
    except ConfigError:
        return  # the runner reports every problem of the config at once
    target = out if out is not None else Path("runs") / f"{parsed.name}{suffix}"
    check_output(target, kind=kind, force=force, inputs=parsed.input_files())


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "simulate":
        from ipsbayes.simulate import simulate

        simulate(args.design, args.seed, args.out, options(args.option), force=args.force)
        from ipsbayes.output import last_placed

        print(f"wrote {args.design} data (seed {args.seed}) to {last_placed() or args.out}")
        return 0
    if args.command == "check":
        return _check(args.config)
    if args.command == "run":
        return _run(args)
    if args.command == "report":
        from ipsbayes.rundir_check import check_run_folder

        check_run_folder(args.run_dir)
        with importing_stack():
            from ipsbayes.runner import rerender

        result = rerender(args.run_dir)
        print(f"report: {result.report_html.resolve()}")
        return 0
    if args.command == "validate":
        _precheck_output(args.config, args.out, args.force, "validation", "-validation")
        with importing_stack():
            from ipsbayes.validation import validate

        result = validate(
            args.config,
            datasets=args.datasets,
            scheduler=args.scheduler,
            workers=args.workers,
            profile=args.profile,
            seed=args.seed,
            out=args.out,
            force=args.force,
        )
        print(f"report: {(result / 'report.html').resolve()}", flush=True)  # before the interpreter's teardown
        return 0
    if args.command == "map-prior":
        with importing_stack():
            from ipsbayes.evidence.derive import map_prior

        result = map_prior(args.config, out=args.out, profile=args.profile, language=args.language, force=args.force)
        _say_map_prior(result)
        return 0
    if args.command == "design":
        _precheck_output(args.config, args.out, args.force, "design", "-design")
        with importing_stack():
            from ipsbayes.assurance import design

        result = design(
            args.config,
            trials=args.trials,
            sizes=args.sizes,
            scheduler=args.scheduler,
            workers=args.workers,
            seed=args.seed,
            out=args.out,
            language=args.language,
            force=args.force,
        )
        print(f"report: {(result / 'report.html').resolve()}", flush=True)  # before the interpreter's teardown
        return 0
    raise IpsBayesError(f"unknown command {args.command}")


def _say_map_prior(result: Any) -> None:
    """Name every file ``map-prior`` wrote, and say whether (and how) the prior set was installed."""
    inside = [str(p.relative_to(result.folder)) for p in result.files() if p != result.installed]
    print(f"wrote {result.folder}/: {', '.join(inside)}")
    if result.prior_set is not None:
        print(f"prior set: {result.prior_set}")
    if result.installed is not None:
        print(f"{'replaced' if result.replaced else 'created'} {result.installed} (output.prior_set)")
    elif result.target is not None and result.prior_set is not None:
        print(
            f"not installed into {result.target} (output.prior_set), which is unchanged: {result.not_installed}. "
            f"To use this prior set anyway: cp {result.prior_set} {result.target}"
        )
    print(f"report: {result.folder / 'report.html'}")


def _stderr_line(line: str) -> None:
    """One progress line per finished stage, on stderr (stdout stays for results)."""
    print(line, file=sys.stderr, flush=True)


def _check(config: Path) -> int:
    with importing_stack():
        from ipsbayes.loo_policy import LARGE_DATA_PREDICTIVE_DRAWS, LOO_SUBSAMPLE_ROWS, keeps_pointwise
        from ipsbayes.resources import check_memory, estimate_memory, human_bytes
        from ipsbayes.runner import check, describe_priors
        from ipsbayes.sampling import resolve_settings

    plan = check(config)
    if plan.config.validation.design and plan.config.validation.truth:  # what `ipsbayes validate` would meet
        from ipsbayes.errors import ConfigError
        from ipsbayes.validation import coverage_problems

        if problems := coverage_problems(plan.config, plan.family, plan.spec, str(config)):
            raise ConfigError(f"Invalid [validation] in {config}", problems)
    dims = ", ".join(f"{k}={len(v)}" for k, v in plan.data.coords.items())
    if (blocks := plan.data.info.get("blocks")) is not None:  # multilevel: grouping factors, then the X columns
        sizes = {f: len(plan.data.coords[f]) for f in dict.fromkeys(b.dim for b in blocks)}
        factors = ", ".join(f"{f}={n}" for f, n in sizes.items())
        n_terms = len(plan.data.coords.get("term", []))
        dims = f"grouping factor{'s' * (len(sizes) != 1)}: {factors}; " * bool(sizes) + (
            f"{n_terms} population-level term{'s' * (n_terms != 1)} besides the intercept"
        )
    pointwise = keeps_pointwise(plan.config, plan.family, plan.data, plan.spec)
    memory = estimate_memory(  # the groups a run keeps (see runner.run)
        plan.model,
        resolve_settings(plan.config.sampler),
        log_likelihood=pointwise,
        predictive_draws=None if pointwise else LARGE_DATA_PREDICTIVE_DRAWS,
        likelihood_subsample=0 if pointwise else LOO_SUBSAMPLE_ROWS,
    )
    check_memory(memory)
    room = f" of {human_bytes(memory.available)} available" if memory.available else ""
    print(
        f"ok: {config} is valid ({plan.family.kind}; {plan.data.n_rows} rows; {dims}; "
        f"prior set '{plan.priors.name}'; draws need {human_bytes(memory.total)}{room})"
    )
    print("\n".join(describe_priors(plan)))
    return 0


def _run(args: argparse.Namespace) -> int:
    _precheck_output(args.config, args.out, args.force, "run")
    from ipsbayes import progress as progress_stage
    from ipsbayes.errors import DiagnosticsGateError
    from ipsbayes.output import last_placed

    with importing_stack():
        from ipsbayes.runner import run

    try:
        with progress_stage.reporting(None if args.quiet else _stderr_line):
            result = run(
                args.config,
                out=args.out,
                profile=args.profile,
                seed=args.seed,
                strict=args.strict,
                progress=False if args.quiet else None,
                force=args.force,
            )
    except DiagnosticsGateError as exc:
        _say(str(exc))
        placed = last_placed()
        if placed is not None:
            print(f"report: {(placed / 'report.html').resolve()}")
        return exc.exit_code
    print(f"diagnostics: {result.diagnostics.status}")
    for message in result.diagnostics.messages:
        print(f"  - {clean_message(message)}")
    print(f"report: {result.report_html.resolve()}")
    return 0


if __name__ == "__main__":  # python -m ipsbayes.cli: the same as the installed command
    command()
