"""Which PyTensor backend computes the work after sampling faster: the C VM or numba.

Usage (repository root, after ``make install``)::

    .venv/bin/python benchmarks/post_sampling_backend.py                 # 1,500 and 15,000 rows
    .venv/bin/python benchmarks/post_sampling_backend.py --rows 1500 --rounds 5

PyTensor 3 made ``FAST_RUN`` a numba mode. Numba caches plain functions on disk, but the functions
that draw random variables are compiled again in every process. After sampling, a run computes
prior-predictive draws (prior estimands), the pointwise log-likelihood and posterior predictive
draws; each is compiled in every run. This script times them in fresh processes, the way a run
meets them, for the C VM (``mode="CVM"``, compiled modules cached on disk) and numba
(``mode="NUMBA"``), interleaved over ``--rounds`` rounds (CVM, NUMBA, CVM, ...; disk caches warm
after the first round, as for any repeated run), on the reference model (Bernoulli outcome, 43
services, IPS-25 fidelity slope, participant covariates) with ``--draws`` posterior draws (prior
draws stand in for them; the cost does not depend on their values). Reports medians (ranges) and
writes ``benchmarks/results/post_sampling_backend.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FORMULA = "work_or_education_12m ~ age + gender + months_outside + diagnosis + ips25 + (1 | service)"
STAGES = ("prior_predictive", "log_likelihood", "posterior_predictive")

CHILD = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import pymc as pm
import xarray as xr
from ipsbayes.runner import check

mode, config, draws = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
model = check(config).model
names = [v.name for v in model.free_RVs]
out = {}
started = time.perf_counter()
pm.sample_prior_predictive(draws=500, model=model, random_seed=1, compile_kwargs={"mode": mode})
out["prior_predictive"] = time.perf_counter() - started
stand_in = pm.sample_prior_predictive(
    draws=draws, model=model, random_seed=2, var_names=names, compile_kwargs={"mode": "FAST_COMPILE"}
)["prior"].to_dataset()
tree = xr.DataTree.from_dict({"posterior": stand_in})
started = time.perf_counter()
pm.compute_log_likelihood(tree, model=model, progressbar=False, compile_kwargs={"mode": mode})
out["log_likelihood"] = time.perf_counter() - started
started = time.perf_counter()
pm.sample_posterior_predictive(tree, model=model, progressbar=False, random_seed=3, compile_kwargs={"mode": mode})
out["posterior_predictive"] = time.perf_counter() - started
print("RESULT " + json.dumps(out))
"""


def write_data(rows: int, folder: Path) -> dict:
    from ipsbayes.simulate import simulate

    tables, _ = simulate("ipsung", seed=1, options={"n_participants": rows})
    tables["participants"].to_csv(folder / f"participants_{rows}.csv", index=False)
    tables["services"].to_csv(folder / f"services_{rows}.csv", index=False)
    return {
        "name": "backend",
        "seed": 1,
        "data": {
            "participants": str(folder / f"participants_{rows}.csv"),
            "services": str(folder / f"services_{rows}.csv"),
        },
        "model": {"kind": "hierarchical_logistic", "formula": FORMULA, "fidelity": {"column": "ips25"}},
    }


def one_process(mode: str, config: dict, draws: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, json.dumps(config), str(draws)],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="1500,15000")
    parser.add_argument("--draws", default="800,4000", help="posterior draws (ci profile: 800; default: 4,000)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(v) for v in args.rows.split(",")]
    draw_counts = [int(v) for v in args.draws.split(",")]
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        configs = {rows: write_data(rows, Path(tmp)) for rows in sizes}
        for round_ in range(args.rounds):
            for rows in sizes:
                for draws in draw_counts:
                    for mode in ("CVM", "NUMBA"):
                        started = time.perf_counter()
                        value = one_process(mode, configs[rows], draws)
                        results.setdefault(f"{rows}|{draws}|{mode}", []).append(value)
                        seconds = time.perf_counter() - started
                        print(f"round {round_ + 1} rows {rows} draws {draws} {mode}: {value} ({seconds:.1f} s)")
    lines = [
        "# Work after sampling: PyTensor's C VM against numba",
        "",
        f"`benchmarks/post_sampling_backend.py`, {args.rounds} interleaved rounds, fresh process per case, "
        f"medians (ranges) in seconds, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "Prior predictive: 500 draws (what the prior estimands use). Log-likelihood and posterior predictive: "
        "one evaluation per posterior draw.",
        "",
        "| rows | posterior draws | backend | prior predictive | log-likelihood | posterior predictive | sum |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for key, values in results.items():
        rows, draws, mode = key.split("|")
        cells = []
        for stage in (*STAGES, "sum"):
            series = [sum(v.values()) if stage == "sum" else v[stage] for v in values]
            cells.append(f"{statistics.median(series):.2f} ({min(series):.2f}-{max(series):.2f})")
        lines.append(f"| {int(rows):,} | {int(draws):,} | {mode} | " + " | ".join(cells) + " |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "post_sampling_backend.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "post_sampling_backend.json").write_text(json.dumps(results, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
