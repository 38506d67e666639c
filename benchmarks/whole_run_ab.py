"""The whole ``ipsbayes run`` command from two source trees, interleaved (issue 15).

Checks out ``--base`` (a git revision) into a temporary worktree and runs the console command
(``ipsbayes.cli.command``, as installed) from it and from this working tree, A, B, B, A, A, B, ... on
the contender benchmark's data (``contenders.prepare``; reference model, default profile). Both
take the same seed in a round, a different one each round. Prints and records medians and ranges
of wall seconds, process CPU seconds (the command and its children) and the stage timings each
run's provenance.json records, so one change can be measured on the whole command. Both trees'
bytecode is compiled first (``compileall``), so neither compiles its modules from source in every
process (``--no-bytecode``: neither is compiled, and the working tree's ``__pycache__`` is set aside
by running it with ``PYTHONPYCACHEPREFIX`` pointing to an empty folder).

Usage::

    .venv/bin/python benchmarks/whole_run_ab.py --base HEAD --label "compiler probe" --rounds 5
    .venv/bin/python benchmarks/whole_run_ab.py --base HEAD~2 --size 15000 --power-scaling

Results are appended to ``benchmarks/results/whole_run_ab.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "import ipsbayes.cli as c; c.command()"
STAGES = (
    "compile", "sampling", "deterministics", "log_density", "posterior_predictive", "estimands", "diagnostics",
    "prior_estimands", "sensitivity", "report", "total",
)  # fmt: skip


def one_run(src: Path, config: Path, seed: int, pycache: str | None = None) -> dict[str, float]:
    """One ``ipsbayes run`` from the package sources in ``src``: wall and CPU seconds, stage timings."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["run", str(config), "--out", f"{tmp}/run", "--seed", str(seed), "--quiet"]
        env = {**os.environ, "CI": "true", "PYTHONPATH": str(src)}
        if pycache is not None:
            env["PYTHONPYCACHEPREFIX"] = pycache
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", COMMAND, *argv], capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode:
            raise SystemExit(f"{src}: exit {done.returncode}: {done.stderr[-400:]}")
        provenance = json.loads(Path(f"{tmp}/run/provenance.json").read_text())
    timings = provenance["timings_seconds"]
    return {
        "wall_s": wall,
        "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "attempts": len(provenance["sampler"].get("target_accept_attempts", [None])),
        **{f"{stage}_s": timings.get(stage, 0.0) for stage in STAGES},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="git revision of the 'before' tree (e.g. HEAD)")
    parser.add_argument("--label", default="", help="what the working tree changes (for the results)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=1500)
    parser.add_argument("--power-scaling", action="store_true", help="switch power-scaling on in the config")
    parser.add_argument("--no-bytecode", action="store_true", help="neither tree's package bytecode compiled")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import tomllib

    import contenders
    import tomli_w
    from results_files import append_results, median_range

    folder = contenders.prepare(args.size, contenders.SEED)
    config = tomllib.loads((folder / "config.toml").read_text())
    config["sensitivity"]["power_scaling"] = args.power_scaling
    commit = subprocess.run(["git", "rev-parse", "--short", args.base], capture_output=True, text=True, cwd=ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        worktree = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(worktree), args.base], check=True, cwd=ROOT, capture_output=True
        )
        try:
            (Path(tmp) / "config.toml").write_text(tomli_w.dumps(config))
            trees = {f"base {commit.stdout.strip()}": worktree / "src", "working tree": ROOT / "src"}
            pycache = None
            if args.no_bytecode:
                pycache = str(Path(tmp) / "empty-pycache")  # where nothing is compiled and nothing can be written
                Path(pycache).mkdir()
                os.chmod(pycache, 0o500)
            else:
                for src in trees.values():
                    subprocess.run([sys.executable, "-m", "compileall", "-q", str(src / "ipsbayes")], check=True)
            for src in trees.values():  # warm the compile cache and the file cache once each
                one_run(src, Path(tmp) / "config.toml", 0, pycache)
            rows: list[dict] = []
            loads = [os.getloadavg()[0]]
            for round_ in range(args.rounds):
                order = list(trees.items()) if round_ % 2 == 0 else list(trees.items())[::-1]
                for name, src in order:
                    rows.append(
                        {"tree": name, "round": round_, **one_run(src, Path(tmp) / "config.toml", round_ + 1, pycache)}
                    )
                    print(json.dumps(rows[-1]), flush=True)
                loads.append(os.getloadavg()[0])
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, capture_output=True)
    lines = [
        f"\n## {args.label or 'change'}: {args.size:,} rows, {args.rounds} interleaved rounds, "
        f"{'no' if args.no_bytecode else 'both trees with'} bytecode "
        f"({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load {min(loads):.1f}-{max(loads):.1f})\n",
        "| median (range) | " + " | ".join(trees) + " |",
        "| --- | " + " | ".join("---:" for _ in trees) + " |",
    ]
    for key in ("wall_s", "cpu_s", *(f"{stage}_s" for stage in STAGES)):
        cells = [median_range([r[key] for r in rows if r["tree"] == name]) for name in trees]
        lines.append(f"| {key.removesuffix('_s')}, s | " + " | ".join(cells) + " |")
    resampled = {name: sum(r["attempts"] > 1 for r in rows if r["tree"] == name) for name in trees}
    lines.append("\nRuns that sampled again after divergences: " + ", ".join(f"{k} {v}" for k, v in resampled.items()))
    entry = {"label": args.label, "size": args.size, "base": args.base, "rows": rows}
    append_results("whole_run_ab", "\n".join(lines) + "\n", entry)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
