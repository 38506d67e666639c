"""Writing ``posterior.nc``: the netCDF C library (xarray's ``netcdf4`` engine) against ``h5netcdf`` (issue 15).

A run writes its DataTree (about a hundred variables in ten groups) in a forked child beside the
report's figures, so the child's CPU time is taken from the figures. This writes the tree of real
run folders with :func:`ipsbayes.rundir.write_posterior` under each engine, each write in a fresh
forked child as in a run, interleaved (A, B, A, B, ...; the order alternates between rounds),
and reports the medians and ranges of the child's CPU and wall time. It also checks that both
files read back identically.

Usage::

    .venv/bin/python benchmarks/posterior_writer.py RUN_FOLDER [RUN_FOLDER ...] --rounds 7

Results: ``benchmarks/results/posterior_writer.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
ENGINES = ("h5netcdf", "netcdf4")


def timed_write(tree, engine: str, path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of a forked child writing ``tree`` to ``path`` with ``engine``."""
    import ipsbayes.rundir as rundir

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: as a run's writer, then leave at once
        code = 1
        try:
            rundir.writer_engine = lambda: engine
            rundir.write_posterior_in_child(tree, path)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status != 0:
        raise RuntimeError(f"the {engine} writer failed")
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    """Run the interleaved rounds and write the results."""
    import xarray as xr

    from ipsbayes.rundir import package_versions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders whose posterior.nc is written again")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    results = {"measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cases": {}}
    for folder in args.runs:
        tree = xr.open_datatree(folder / "posterior.nc", engine="h5netcdf").load()
        rows = max(var.size for var in tree["observed_data"].to_dataset().data_vars.values())
        variables = sum(len(node.dataset.data_vars) for node in tree.subtree)
        times: dict[str, dict[str, list[float]]] = {e: {"wall": [], "cpu": []} for e in ENGINES}
        with tempfile.TemporaryDirectory() as scratch:
            for r in range(args.rounds + 1):  # round 0 warms the page cache and the libraries: not counted
                order = ENGINES if r % 2 == 0 else ENGINES[::-1]
                for engine in order:
                    wall, cpu = timed_write(tree, engine, Path(scratch) / f"{engine}.nc")
                    if r:
                        times[engine]["wall"].append(wall)
                        times[engine]["cpu"].append(cpu)
            back = {e: xr.open_datatree(Path(scratch) / f"{e}.nc", engine="h5netcdf").load() for e in ENGINES}
            xr.testing.assert_identical(back["h5netcdf"], back["netcdf4"])
            sizes = {e: (Path(scratch) / f"{e}.nc").stat().st_size for e in ENGINES}
        results["cases"][str(folder)] = {
            "rows": rows,
            "variables": variables,
            "bytes": sizes,
            "identical": True,
            "seconds": times,
        }
    results["load_average"] = os.getloadavg()
    results["versions"] = package_versions()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "posterior_writer.json").write_text(json.dumps(results, indent=1))
    (RESULTS / "posterior_writer.md").write_text(markdown(results, args.rounds))
    print(markdown(results, args.rounds))


def markdown(results: dict, rounds: int) -> str:
    """The results as a Markdown table: medians and ranges per engine and case."""
    lines = [
        "`benchmarks/posterior_writer.py`; see its docstring.",
        "",
        f"Measured {results['measured']}, {rounds} interleaved rounds per case, each write in a fresh forked "
        f"child (load average after: {', '.join(f'{x:.2f}' for x in results['load_average'])}).",
        "",
        "| run | rows | variables | engine | child CPU s: median (range) | wall s | file MB | read back |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for folder, case in results["cases"].items():
        for engine in ENGINES:
            cpu, wall = case["seconds"][engine]["cpu"], case["seconds"][engine]["wall"]
            lines.append(
                f"| {Path(folder).name} | {case['rows']:,} | {case['variables']} | {engine} | "
                f"{statistics.median(cpu):.3f} ({min(cpu):.3f}-{max(cpu):.3f}) | "
                f"{statistics.median(wall):.3f} ({min(wall):.3f}-{max(wall):.3f}) | "
                f"{case['bytes'][engine] / 1e6:.1f} | identical |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
