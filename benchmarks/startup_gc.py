"""The whole ``ipsbayes run`` with and without the collector paused for the stack's imports (issue 15).

``ipsbayes.cli.command`` imports PyMC, ArviZ, SciPy and matplotlib with the cyclic garbage collector
paused and then freezes the objects they made (``ipsbayes.command_process.importing_stack``). This
runs the real command on the contender benchmark's 1,500-row data (``contenders.prepare``) both
ways, interleaved: "paused" is the installed command; "collector on" is the same command with the
pause switched off (``main`` then the same early exit). Seeds vary by round, the same for both.
Medians and ranges of wall seconds, and the run's own ``total`` from provenance.json (reading the
data to the report).

Usage::

    .venv/bin/python benchmarks/startup_gc.py --rounds 3

Results: ``benchmarks/results/startup_gc.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
WAYS = {
    "collector on": "import ipsbayes.cli as c, ipsbayes.command_process as p; p.leave_now(c.main())",
    "paused for imports (ipsbayes)": "import ipsbayes.cli as c; c.command()",
}


def one_run(way: str, config: Path, seed: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["run", str(config), "--out", f"{tmp}/run", "--seed", str(seed), "--quiet"]
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", WAYS[way], *argv], capture_output=True, text=True, env={**os.environ, "CI": "true"}
        )
        wall = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(f"{way}: exit {done.returncode}: {done.stderr[-400:]}")
        total = json.loads(Path(f"{tmp}/run/provenance.json").read_text())["timings_seconds"]["total"]
    return {"wall_s": wall, "run_total_s": total}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=1500)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import contenders

    config = contenders.prepare(args.size, 1) / "config.toml"
    one_run("paused for imports (ipsbayes)", config, 0)  # warm the compile cache and the file cache
    document: dict = {
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.platform()}, {os.cpu_count()} cores",
        "load_before": os.getloadavg()[0],
        "size": args.size,
        "runs": {way: [] for way in WAYS},
    }
    for round_ in range(1, args.rounds + 1):
        for way in WAYS if round_ % 2 else list(WAYS)[::-1]:
            document["runs"][way].append({**one_run(way, config, round_), "seed": round_})
    document["load_after"] = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "startup_gc.json").write_text(json.dumps(document, indent=1) + "\n")
    (RESULTS / "startup_gc.md").write_text(render(document))
    print(render(document))
    return 0


def render(document: dict) -> str:
    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"

    lines = [
        "# The whole `ipsbayes run` with the collector paused for the imports, or not",
        "",
        "`benchmarks/startup_gc.py`; see its docstring.",
        "",
        f"Measured {document['started']} on {document['machine']}; load average {document['load_before']:.2f} "
        f"before, {document['load_after']:.2f} after; {document['size']:,} participants; "
        f"{len(next(iter(document['runs'].values())))} interleaved rounds, median (range).",
        "",
        "| way | whole command, s wall | the run's own total, s |",
        "| --- | ---: | ---: |",
    ]
    for way, runs in document["runs"].items():
        lines.append(f"| {way} | {cell([r['wall_s'] for r in runs])} | {cell([r['run_total_s'] for r in runs])} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
