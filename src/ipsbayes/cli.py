"""Command line: ``ipsbayes simulate | check | run | report | validate | map-prior | design``.

Thin by design: parse arguments, call the runner, print where results are.
Exit codes: 0 success; 2 bad config or data (nothing written); 3 diagnostics
gate failed under ``--strict`` (run folder written); 1 anything else.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ipsbayes.errors import IpsBayesError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ipsbayes", description="Bayesian multilevel evaluation of IPS services.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sim = commands.add_parser("simulate", help="write a synthetic data set with known truth")
    sim.add_argument("design", help="study design: ipsung or rij")
    sim.add_argument("--seed", type=int, default=20261122)
    sim.add_argument("--out", type=Path, required=True, help="folder for the tables and truth.json")
    sim.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a design setting, e.g. --option n_participants=3000 (repeatable)",
    )

    chk = commands.add_parser("check", help="validate a config and its data without fitting")
    chk.add_argument("config", type=Path)

    run = commands.add_parser("run", help="fit a config and write its run folder and report")
    run.add_argument("config", type=Path)
    run.add_argument("--out", type=Path, help="run folder (default runs/<name>)")
    run.add_argument("--profile", choices=["ci", "default", "final"], help="override the sampler profile")
    run.add_argument("--seed", type=int, help="override the config's seed")
    run.add_argument("--strict", action="store_true", help="exit with code 3 if the diagnostics gate fails")
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    rep = commands.add_parser("report", help="re-render the report of a run folder")
    rep.add_argument("run_dir", type=Path)

    val = commands.add_parser("validate", help="calibration and interval coverage over simulated data sets")
    val.add_argument("config", type=Path)
    val.add_argument("--datasets", type=int, default=100, help="number of simulated data sets (K)")
    val.add_argument("--scheduler", help="address of an existing Dask scheduler (default: a local cluster)")
    val.add_argument("--workers", type=int, help="local cluster workers (default: CPU count)")
    val.add_argument("--profile", choices=["ci", "default", "final"], default="ci")
    val.add_argument("--seed", type=int, default=1)
    val.add_argument("--out", type=Path, help="output folder (default runs/<name>-validation)")

    mp = commands.add_parser("map-prior", help="robust meta-analytic-predictive prior from earlier trials")
    mp.add_argument("config", type=Path, help="a map-prior config, e.g. priors/map/ips_map.toml")
    mp.add_argument("--out", type=Path, help="report folder (default output.folder or runs/<name>)")
    mp.add_argument("--profile", choices=["ci", "default", "final"], help="override the sampler profile")
    mp.add_argument("--language", choices=["en", "nb"], default="en", help="report language")

    des = commands.add_parser("design", help="assurance of the next trial by sample size (simulated trials)")
    des.add_argument("config", type=Path, help="a run config with a [design] table")
    des.add_argument("--trials", type=int, help="simulated trials per size (default design.trials)")
    des.add_argument("--sizes", type=_sizes, help="planned sizes, comma-separated, e.g. 66,150,300")
    des.add_argument("--scheduler", help="address of an existing Dask scheduler (default: a local cluster)")
    des.add_argument("--workers", type=int, help="local cluster workers (default: CPU count; 0: in this process)")
    des.add_argument("--seed", type=int, default=1)
    des.add_argument("--out", type=Path, help="output folder (default runs/<name>-design)")
    des.add_argument("--language", choices=["en", "nb"], default="en", help="report language")
    return parser


def _sizes(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be whole numbers separated by commas, got {text!r}") from None


def _options(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise IpsBayesError(f"--option needs KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ipsbayes`` command."""
    args = _parser().parse_args(argv)
    if args.version:
        from ipsbayes import __version__

        print(__version__)
        return 0
    if args.command is None:
        _parser().print_help()
        return 2
    try:
        return _dispatch(args)
    except IpsBayesError as exc:
        exc.exit_code = getattr(exc, "exit_code", 1)
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "simulate":
        from ipsbayes.simulate import simulate

        simulate(args.design, args.seed, args.out, _options(args.option))
        print(f"wrote {args.design} data (seed {args.seed}) to {args.out}")
        return 0
    if args.command == "check":
        from ipsbayes.runner import check

        plan = check(args.config)
        dims = ", ".join(f"{k}={len(v)}" for k, v in plan.data.coords.items())
        print(
            f"ok: {args.config} is valid ({plan.family.kind}; {plan.data.n_rows} rows; {dims}; "
            f"prior set '{plan.priors.name}')"
        )
        return 0
    if args.command == "run":
        from ipsbayes.errors import DiagnosticsGateError
        from ipsbayes.runner import run

        try:
            result = run(
                args.config,
                out=args.out,
                profile=args.profile,
                seed=args.seed,
                strict=args.strict,
                progress=False if args.quiet else None,
            )
        except DiagnosticsGateError as exc:
            print(f"error: {exc}", file=sys.stderr)
            target = args.out or Path("runs") / _config_name(args.config)
            print(f"report: {(Path(target) / 'report.html').resolve()}")
            return exc.exit_code
        print(f"diagnostics: {result.diagnostics.status}")
        for message in result.diagnostics.messages:
            print(f"  - {message}")
        print(f"report: {result.report_html.resolve()}")
        return 0
    if args.command == "report":
        from ipsbayes.runner import rerender

        result = rerender(args.run_dir)
        print(f"report: {result.report_html.resolve()}")
        return 0
    if args.command == "validate":
        from ipsbayes.validation import validate

        result = validate(
            args.config,
            datasets=args.datasets,
            scheduler=args.scheduler,
            workers=args.workers,
            profile=args.profile,
            seed=args.seed,
            out=args.out,
        )
        print(f"report: {(result / 'report.html').resolve()}")
        return 0
    if args.command == "map-prior":
        from ipsbayes.evidence.derive import map_prior

        result = map_prior(args.config, out=args.out, profile=args.profile, language=args.language)
        for written in sorted(result.glob("*.toml")):
            print(f"prior set: {written.resolve()}")
        print(f"report: {(result / 'report.html').resolve()}")
        return 0
    if args.command == "design":
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
        )
        print(f"report: {(result / 'report.html').resolve()}")
        return 0
    raise IpsBayesError(f"unknown command {args.command}")


def _config_name(path: Path) -> str:
    from ipsbayes.config import load_config

    return load_config(path).name


if __name__ == "__main__":
    sys.exit(main())
