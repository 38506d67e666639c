"""Whole ``ipsbayes run`` commands with and without the forked child after sampling (issue 15).

After sampling, a run draws its figures and writes ``posterior.nc`` in two processes where
:func:`ipsbayes.forked.available` (a forked child on the second core), else in one. This runs each
case as the real command in a fresh process, both ways, interleaved (A, B, A, B, ...; the order
alternates between rounds), and reports medians and ranges of the command's wall time and of the
stages its ``provenance.json`` records. "one process" is the same command with
``forked.available`` returning False.

Cases: every shipped config at ``--profile ci`` (the issue's 15 s target), and the contender
benchmark's 1,500-row reference config at its default profile (``benchmarks/contenders.py`` makes
it). Compile caches are warm after the first round, as for a user's re-run; round 0 warms them and
is not counted.

Usage::

    .venv/bin/python benchmarks/forked_post_fit.py --rounds 3
    .venv/bin/python benchmarks/forked_post_fit.py --rounds 3 --cases ipsung_employment,reference

Results: ``benchmarks/results/forked_post_fit.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
REFERENCE = ROOT / "benchmarks" / ".data" / "n1500_s1" / "config.toml"
STAGES = ("sampling", "report", "write_posterior", "write_posterior_and_report", "total")
#: the command as a user runs it, optionally with fork switched off
COMMAND = """
import sys
from ipsbayes import forked
if sys.argv[1] == "one":
    forked.available = lambda: False
from ipsbayes.cli import command
sys.argv = ["ipsbayes", *sys.argv[2:]]
command()
"""


def cases(names: list[str] | None) -> dict[str, list[str]]:
    """Case name -> ``ipsbayes`` arguments (before ``--out``)."""
    shipped = {p.stem: ["run", str(p), "--profile", "ci"] for p in sorted((ROOT / "models").glob("*.toml"))}
    every = {**shipped, "reference": ["run", str(REFERENCE)]}
    if not REFERENCE.exists():
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import contenders

        contenders.prepare(1500, 1)
    return {name: every[name] for name in (names or list(every))}


def one_run(way: str, arguments: list[str], out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", COMMAND, way, *arguments, "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - started
    if done.returncode not in (0, 3):  # 3: the diagnostics gate warned or failed; the run is complete
        raise RuntimeError(f"{arguments}: exit {done.returncode}\n{done.stderr[-2000:]}")
    timings = json.loads((out / "provenance.json").read_text())["timings_seconds"]
    return {"way": way, "wall_s": round(wall, 3), "load": round(load, 2), **{k: timings.get(k) for k in STAGES}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    args = parser.parse_args()
    chosen = cases(args.cases.split(",") if args.cases else None)
    runs: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds + 1):
            for name, arguments in chosen.items():
                ways = ("two", "one") if r % 2 else ("one", "two")
                for way in ways:
                    result = one_run(way, arguments, Path(tmp) / name)
                    if r > 0:  # round 0 warms the compile caches
                        runs.append({"case": name, "round": r, **result})
                        print(json.dumps(runs[-1]), flush=True)
    document = {"date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "rounds": args.rounds, "runs": runs}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "forked_post_fit.json").write_text(json.dumps(document, indent=1) + "\n")
    (RESULTS / "forked_post_fit.md").write_text(render(document))
    print(render(document))
    return 0


def render(document: dict) -> str:
    def med(values: list[float]) -> str:
        values = [v for v in values if v is not None]
        return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})" if values else "-"

    loads = [r["load"] for r in document["runs"]]
    lines = [
        "# The forked child after sampling: whole commands, two processes against one (issue 15)",
        "",
        f"`benchmarks/forked_post_fit.py`, {document['date_utc']} UTC, {document['rounds']} interleaved rounds "
        f"after a warm-up round, load {min(loads):.2f}-{max(loads):.2f}; seconds, median (range). "
        "`report + posterior` is the wall time of the two together (`write_posterior_and_report`).",
        "",
        "| case | way | whole command | report + posterior | report | sampling |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for case in dict.fromkeys(r["case"] for r in document["runs"]):
        for way, label in (("two", "two processes (forked child)"), ("one", "one process")):
            mine = [r for r in document["runs"] if r["case"] == case and r["way"] == way]
            lines.append(
                f"| {case} | {label} | {med([r['wall_s'] for r in mine])} | "
                f"{med([r['write_posterior_and_report'] for r in mine])} | {med([r['report'] for r in mine])} | "
                f"{med([r['sampling'] for r in mine])} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
