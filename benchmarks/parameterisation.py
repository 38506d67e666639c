"""Centred, non-centred or per-group choice of the service intercepts: sampling efficiency by data size.

Usage (from the repository root, after ``make install``)::

    .venv/bin/python benchmarks/parameterisation.py                  # 1,500 / 15,000 / 150,000 (~10 minutes)
    .venv/bin/python benchmarks/parameterisation.py --sizes 1500

For each size the IPS ung simulator makes one data set (seed ``--data-seed``); the benchmark
reference model (``run_benchmarks.FORMULA``, collapsed to binomial counts where that helps) and,
(up to 15,000) the same model with job specialists nested in services are fitted with the ``default`` profile
(4 chains x 1000 draws) under each setting of ``model.parameterisation`` / ``model.centre_above``.
Reported: groups centred, sampling seconds, divergences, minimum bulk ESS of the key parameters
(intercept, coefficients, fidelity slope, service and specialist SDs) and that ESS per second of
sampling. The results justify the default ``CENTRE_ABOVE`` of the hierarchical logistic family;
they are written to ``benchmarks/results/parameterisation.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_benchmarks import FORMULA, RESULTS, make_data

SETTINGS = [("noncentred", None), ("auto", 100.0), ("auto", 50.0), ("auto", 25.0), ("centred", None)]
NESTED = FORMULA + " + (1 | service:specialist)"
NESTED_SETTINGS = [("noncentred", None), ("centred", None)]  # 'auto' keeps nested models non-centred
KEY = ["intercept", "beta", "fidelity_slope", "sd_service", "sd_specialist"]


def config(folder: Path, formula: str, mode: str, threshold: float | None) -> dict:
    model = {
        "kind": "hierarchical_logistic",
        "formula": formula,
        "fidelity": {"column": "ips25"},
        "parameterisation": mode,
    }
    if threshold is not None:
        model["centre_above"] = threshold
    return {
        "name": "parameterisation",
        "seed": 1,
        "data": {"participants": str(folder / "participants.csv"), "services": str(folder / "services.csv")},
        "model": model,
        "sampler": {"profile": "default"},
    }


def fit(raw: dict) -> dict:
    import arviz as az

    from ipsbayes.runner import check
    from ipsbayes.sampling import sample

    plan = check(raw)
    result = sample(plan.model, plan.config.sampler, 1, predictive=False, log_likelihood=False, progress=False)
    posterior = result.datatree["posterior"].to_dataset()
    names = [n for n in KEY if n in posterior]
    ess = az.ess(posterior[names], method="bulk")
    stats = result.datatree["sample_stats"].to_dataset()
    sampling = result.timings["sampling"]
    worst = min(names, key=lambda n: float(ess[n].min()))
    return {
        "centred": plan.data.info["centred_groups"],
        "compile_s": round(result.timings.get("compile", 0.0), 1),
        "sampling_s": round(sampling, 1),
        "divergences": int(stats["diverging"].sum()),
        "min_bulk_ess": round(float(ess[worst].min())),
        "worst": worst,
        "ess_per_s": round(float(ess[worst].min()) / sampling, 1),
        "sd_service_mean": round(float(posterior["sd_service"].mean()), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1500, 15000, 150000])
    parser.add_argument("--data-seed", type=int, default=7)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    os.environ.setdefault("CI", "true")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            folder = make_data(n, Path(tmp) / f"n{n}", args.data_seed)
            models = [("reference", FORMULA, SETTINGS)]
            if n <= 15000:  # non-centred with specialists takes minutes at 150,000
                models.append(("with specialists", NESTED, NESTED_SETTINGS))
            for model_name, formula, settings in models:
                for mode, threshold in settings:
                    started = time.perf_counter()
                    row = {"n": n, "model": model_name, "mode": mode, "centre_above": threshold}
                    row |= fit(config(folder, formula, mode, threshold))
                    row["wall_s"] = round(time.perf_counter() - started, 1)
                    print(json.dumps(row), file=sys.stderr, flush=True)
                    rows.append(row)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; simulator seed {args.data_seed}"
    lines = [
        f"Machine: {machine}",
        "",
        "| participants | model | setting | centred (services, specialists) | sampling s | divergences | "
        "min bulk ESS (parameter) | ESS/s |",
        "| ---: | --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        setting = r["mode"] + (f", centre_above={r['centre_above']:g}" if r["centre_above"] else "")
        centred = ", ".join(str(v) for v in r["centred"].values())
        lines.append(
            f"| {r['n']:,} | {r['model']} | {setting} | {centred} | {r['sampling_s']} | {r['divergences']} | "
            f"{r['min_bulk_ess']} ({r['worst']}) | {r['ess_per_s']} |"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "parameterisation.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1) + "\n")
    (RESULTS / "parameterisation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
