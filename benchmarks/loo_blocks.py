"""PSIS-LOO's block sizes: observations per block and columns per Pareto fit (issue 15).

:func:`ipsbayes.loo.psis_loo` reads the log-likelihood a block of observations at a time
(``_BLOCK_CELLS`` draws x observations per block) and fits the generalised Pareto tails of a
block's observations together (``_FIT_CELLS`` grid points x tail draws x observations in its one
large array). This times the first ``psis_loo`` of a process, as a run calls it after sampling
(two threads), on the stored log-likelihood subsample of a real run folder, under each setting,
each call in a fresh process, interleaved (A, B, A, B, ...; the order alternates between rounds),
and reports medians and ranges of wall and CPU seconds. Every setting must give the same elpd and
Pareto k (to float rounding) as the first.

Usage::

    .venv/bin/python benchmarks/loo_blocks.py RUN_FOLDER --rounds 5

where ``RUN_FOLDER`` holds a ``posterior.nc`` with a ``loo_subsample`` group (a run of more
than 10,000 rows). Results: ``benchmarks/results/loo_blocks.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
#: (label, observations' cells per block, cells of the Pareto fit's array): before and after the eighteenth round
SETTINGS = (("2,000,000-cell blocks, one fit per block", 2_000_000, 10**12), ("500,000 and 500,000", 500_000, 500_000))

CHILD = r"""
import json, sys, time
import numpy as np, xarray as xr
from ipsbayes import chunks, loo
loo._BLOCK_CELLS, loo._FIT_CELLS = int(sys.argv[2]), int(sys.argv[3])
tree = xr.open_datatree(sys.argv[1], engine="h5netcdf")
log_lik = next(iter(tree["loo_subsample"].to_dataset().data_vars.values())).load()
started, cpu = time.perf_counter(), time.process_time()
with chunks.threads(2):
    result = loo.psis_loo(log_lik, 0.9)
print(json.dumps({"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu,
                  "elpd": result.elpd, "k": result.pareto_k.tolist()}))
"""


def timed(posterior: Path, block: int, fit: int) -> dict:
    """One fresh process's first ``psis_loo``: wall and CPU seconds, elpd and Pareto k."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(posterior), str(block), str(fit)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(done.stdout)


def main() -> None:
    """Run the interleaved rounds, check the numbers agree, write the results."""
    import numpy as np

    from ipsbayes.rundir import package_versions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder with a loo_subsample group in posterior.nc")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    posterior = args.run / "posterior.nc"
    times = {label: {"wall": [], "cpu": []} for label, _, _ in SETTINGS}
    reference = None
    for r in range(args.rounds):
        for label, block, fit in SETTINGS if r % 2 == 0 else SETTINGS[::-1]:
            out = timed(posterior, block, fit)
            times[label]["wall"].append(out["wall"])
            times[label]["cpu"].append(out["cpu"])
            if reference is None:
                reference = out
            elif not (
                np.isclose(out["elpd"], reference["elpd"], rtol=1e-12)
                and np.allclose(out["k"], reference["k"], rtol=1e-12, equal_nan=True)
            ):
                raise SystemExit(f"{label}: the numbers differ from the first setting's")
    results = {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "run": str(args.run),
        "shape": [len(reference["k"])],
        "seconds": times,
        "same_numbers": True,
        "load_average": os.getloadavg(),
        "versions": package_versions(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "loo_blocks.json").write_text(json.dumps(results, indent=1))
    (RESULTS / "loo_blocks.md").write_text(markdown(results, args.rounds))
    print(markdown(results, args.rounds))


def markdown(results: dict, rounds: int) -> str:
    """The results as a Markdown table: medians and ranges per setting."""
    lines = [
        "`benchmarks/loo_blocks.py`; see its docstring.",
        "",
        f"Measured {results['measured']}: the first PSIS-LOO of a fresh process, two threads, over "
        f"{results['shape'][0]:,} subsampled rows x 4,000 draws; {rounds} interleaved rounds "
        f"(load average after: {', '.join(f'{x:.2f}' for x in results['load_average'])}). "
        "Every setting gave the same elpd and Pareto k (relative tolerance 1e-12).",
        "",
        "| setting | wall s: median (range) | CPU s: median (range) |",
        "| --- | ---: | ---: |",
    ]
    for label, seconds in results["seconds"].items():
        wall, cpu = seconds["wall"], seconds["cpu"]
        lines.append(
            f"| {label} | {statistics.median(wall):.3f} ({min(wall):.3f}-{max(wall):.3f}) | "
            f"{statistics.median(cpu):.3f} ({min(cpu):.3f}-{max(cpu):.3f}) |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
