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


def config(folder: Path, *, power_scaling: bool = True, **sampler) -> dict:
    """The reference config (default profile unless ``sampler`` overrides draws/tune)."""
    return {
        "name": "postfit",
        "seed": 1,
        "data": {"participants": str(folder / "participants.csv"), "services": str(folder / "services.csv")},
        "model": {"kind": "hierarchical_logistic", "formula": FORMULA, "fidelity": {"column": "ips25"}},
        "sampler": {"profile": "default", **sampler},
        "sensitivity": {"power_scaling": power_scaling},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--draws", type=int)
    parser.add_argument("--tune", type=int)
    parser.add_argument("--no-power-scaling", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / ".postfit_runs")
    args = parser.parse_args()
    import ipsbayes

    sampler = {k: v for k, v in (("draws", args.draws), ("tune", args.tune)) if v is not None}
    cfg = config(make_data(args.n), power_scaling=not args.no_power_scaling, **sampler)
    out = args.out / f"n{args.n}"
    shutil.rmtree(out, ignore_errors=True)
    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), time.process_time()
    run = ipsbayes.run(cfg, out=out, progress=False)
    total = time.perf_counter() - started
    timings = run.provenance["timings_seconds"]
    fit = sum(timings.get(k, 0.0) for k in FIT_STAGES)
    row = {
        "n": args.n,
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
    print(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
