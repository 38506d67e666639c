"""Post-fit stages of ``ipsbayes run`` on the reference model (issue 15).

Reference model: Bernoulli outcome, 43 services, service intercepts, IPS-25 fidelity slope, continuous
participant covariates (so nothing collapses), default profile (4 chains x 1000 draws after 1000 tuning).
Simulates the data once (cached under ``benchmarks/.postfit_data/``, git-ignored through ``runs/``-style
local folders), runs ``ipsbayes run`` and prints the stage timings the run folder's provenance records,
split into the fit (read, build, compile, sample) and everything after it.

Usage::

    python benchmarks/postfit.py 15000                      # default profile
    python benchmarks/postfit.py 150000 --draws 1000 --tune 200
    python benchmarks/postfit.py 15000 --no-power-scaling
    python benchmarks/postfit.py 15000 --loo exact,auto --rounds 3   # interleaved, medians

Results of the runs made for issue 15 are in ``benchmarks/results/postfit.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("IPSBAYES_BENCH_DATA", HERE / ".postfit_data"))
FORMULA = "work_or_education_12m ~ age + gender + months_outside + diagnosis + ips25 + (1 | service)"
FIT_STAGES = ("read_data", "prepare_data", "build_model", "compile", "sampling", "deterministics")


def make_data(n: int, seed: int = 1) -> Path:
    """Simulated ipsung tables with n participants (continuous age and months outside work)."""
    folder = DATA / f"n{n}_s{seed}"
    if (folder / "participants.csv").exists():
        return folder
    from ipsbayes.simulate import simulate

    tables, _ = simulate("ipsung", seed=seed, options={"n_participants": n})
    folder.mkdir(parents=True, exist_ok=True)
    tables["participants"].to_csv(folder / "participants.csv", index=False)
    tables["services"].to_csv(folder / "services.csv", index=False)
    return folder


def config(folder: Path, *, power_scaling: bool = True, loo: str = "auto", **sampler) -> dict:
    """The reference config (default profile unless ``sampler`` overrides draws/tune)."""
    return {
        "name": "postfit",
        "seed": 1,
        "data": {"participants": str(folder / "participants.csv"), "services": str(folder / "services.csv")},
        "model": {"kind": "hierarchical_logistic", "formula": FORMULA, "fidelity": {"column": "ips25"}},
        "sampler": {"profile": "default", **sampler},
        "sensitivity": {"power_scaling": power_scaling},
        "diagnostics": {"loo": loo},
    }


def one_run(cfg: dict, out: Path, n: int, sampler: dict) -> dict:
    """Run ``cfg`` in this process; the stage timings its provenance records, split at the fit."""
    import ipsbayes

    shutil.rmtree(out, ignore_errors=True)
    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), time.process_time()
    run = ipsbayes.run(cfg, out=out, progress=False)
    total = time.perf_counter() - started
    timings = run.provenance["timings_seconds"]
    fit = sum(timings.get(k, 0.0) for k in FIT_STAGES)
    return {
        "n": n,
        "loo": cfg["diagnostics"]["loo"],
        "sampler": sampler or "default profile",
        "total_s": round(total, 2),
        "process_cpu_s": round(time.process_time() - cpu, 2),
        "fit_s": round(fit, 2),
        "after_fit_s": round(total - fit, 2),
        "after_fit_over_fit": round((total - fit) / fit, 3),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "timings": timings,
        "posterior_nc_MB": round((out / "posterior.nc").stat().st_size / 1e6, 1),
        "groups": list(run.datatree.children),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--draws", type=int)
    parser.add_argument("--tune", type=int)
    parser.add_argument("--no-power-scaling", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / ".postfit_runs")
    parser.add_argument("--loo", default="auto", help="comma-separated [diagnostics] loo modes, run interleaved")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    import statistics

    sampler = {k: v for k, v in (("draws", args.draws), ("tune", args.tune)) if v is not None}
    modes = args.loo.split(",")
    rows = []
    for _ in range(args.rounds):
        for loo in modes:  # interleaved: exact, auto, exact, auto, ...
            cfg = config(make_data(args.n), power_scaling=not args.no_power_scaling, loo=loo, **sampler)
            rows.append(one_run(cfg, args.out / f"n{args.n}_{loo}", args.n, sampler))
            print(json.dumps(rows[-1], indent=1), flush=True)
    for loo in modes:
        mine = [row for row in rows if row["loo"] == loo]
        summary = {
            key: (statistics.median(r[key] for r in mine), min(r[key] for r in mine), max(r[key] for r in mine))
            for key in ("total_s", "fit_s", "after_fit_s", "after_fit_over_fit", "process_cpu_s")
        }
        print(f"loo={loo}: median (min-max) over {len(mine)} rounds: {json.dumps(summary)}")


if __name__ == "__main__":
    main()
