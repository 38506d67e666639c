"""Speed of ipsbayes against Bambi's defaults and PyMC's own NUTS, on the same models and machine.

Usage (from the repository root, after ``make install``)::

    .venv/bin/python benchmarks/run_benchmarks.py                 # all cases (tens of minutes)
    .venv/bin/python benchmarks/run_benchmarks.py --sizes 1500     # quick

Each case runs in a fresh Python process (so no compiled model is reused between cases) and
prints one JSON line; the driver collects them into ``benchmarks/results/latest.json`` and a
Markdown table ``benchmarks/results/latest.md`` that the README quotes.

Reference model: Bernoulli outcome (work, apprenticeship or education at 12 months) for
participants in 43 services, non-centred service intercepts, an IPS-25 fidelity slope and
discrete participant covariates (age group, gender, diagnosis, months outside work or
education in bands), simulated by ``ipsbayes simulate ipsung``. All contenders sample 4
chains x 1000 draws after 1000 tuning steps. Reported: wall time for building the model,
for compiling plus sampling, and in all; and the minimum bulk ESS per second of sampling of
the key parameters (fidelity slope, service SD).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
FORMULA = "work_or_education_12m ~ age_group + gender + diagnosis + months_band + ips25 + (1 | service)"
DRAWS = {"draws": 1000, "tune": 1000, "chains": 4}


def make_data(n: int, folder: Path) -> Path:
    """Simulate IPS ung data with ``n`` participants and band the covariates (discrete patterns)."""
    import pandas as pd

    from ipsbayes.simulate import simulate

    tables, _ = simulate("ipsung", seed=1, options={"n_participants": n})
    people = tables["participants"]
    people["age_group"] = pd.cut(people["age"], [15, 19, 24, 30], labels=["16-19", "20-24", "25-30"]).astype(str)
    people["months_band"] = pd.cut(people["months_outside"], [-1, 5, 23, 1000], labels=["0-5", "6-23", "24+"]).astype(
        str
    )
    folder.mkdir(parents=True, exist_ok=True)
    people.to_csv(folder / "participants.csv", index=False)
    tables["services"].to_csv(folder / "services.csv", index=False)
    return folder


def ipsbayes_config(folder: Path, collapse: str) -> dict:
    return {
        "name": "benchmark",
        "seed": 1,
        "data": {"participants": str(folder / "participants.csv"), "services": str(folder / "services.csv")},
        "model": {
            "kind": "hierarchical_logistic",
            "formula": FORMULA,
            "collapse": collapse,
            "fidelity": {"column": "ips25"},
        },
        "sampler": {"profile": "default"},
        "sensitivity": {"power_scaling": False},
    }


def min_ess(posterior, names: list[str]) -> float:
    import arviz as az

    ess = az.ess(posterior[names], method="bulk")
    return float(min(float(ess[name].min()) for name in names))


def case_ipsbayes(folder: Path, collapse: str) -> dict:
    """ipsbayes: fit timings from the sampling seam, then the whole run (report included) separately."""
    import ipsbayes
    from ipsbayes.runner import check
    from ipsbayes.sampling import sample

    config = ipsbayes_config(folder, collapse)
    started = time.perf_counter()
    plan = check(config)
    build = time.perf_counter() - started
    fit = sample(plan.model, plan.config.sampler, 1, predictive=False, log_likelihood=False, progress=False)
    posterior = fit.datatree["posterior"].to_dataset()
    fit_seconds = time.perf_counter() - started
    ess = min_ess(posterior, ["fidelity_slope", "sd_service"])
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        ipsbayes.run(config, out=Path(out) / "run", progress=False)
    end_to_end = time.perf_counter() - started  # a fresh model compile (not the one above) is part of it
    return {
        "build_s": build,
        "compile_s": fit.timings["compile"],
        "sampling_s": fit.timings["sampling"],
        "fit_s": fit_seconds,
        "end_to_end_s": end_to_end,
        "min_bulk_ess": ess,
        "likelihood_rows": len(plan.data.arrays["y"]),
    }


def case_pymc(folder: Path) -> dict:
    """PyMC's own NUTS (nuts_sampler='pymc', 2 cores) on the model ipsbayes builds."""
    import pymc as pm

    from ipsbayes.runner import check

    started = time.perf_counter()
    plan = check(ipsbayes_config(folder, "never"))
    build = time.perf_counter() - started
    started_fit = time.perf_counter()
    with plan.model:
        datatree = pm.sample(
            **DRAWS, cores=2, random_seed=1, nuts_sampler="pymc", progressbar=False, compute_convergence_checks=False
        )
    fit = time.perf_counter() - started_fit
    posterior = datatree["posterior"].to_dataset()
    sampling = float(posterior.attrs.get("sampling_time", fit))
    return {
        "build_s": build,
        "compile_s": fit - sampling,
        "sampling_s": sampling,
        "fit_s": build + fit,
        "min_bulk_ess": min_ess(posterior, ["fidelity_slope", "sd_service"]),
        "likelihood_rows": len(plan.data.arrays["y"]),
    }


def case_bambi(folder: Path) -> dict:
    """The same model as a Bambi formula with Bambi's default settings (``Model(...).fit()``)."""
    import bambi as bmb
    import pandas as pd

    people = pd.read_csv(folder / "participants.csv")
    services = pd.read_csv(folder / "services.csv")
    frame = people.merge(services[["service", "ips25"]], on="service")
    started = time.perf_counter()
    model = bmb.Model(FORMULA, frame, family="bernoulli")
    model.build()
    build = time.perf_counter() - started
    started_fit = time.perf_counter()
    datatree = model.fit(random_seed=1)
    fit = time.perf_counter() - started_fit
    posterior = datatree["posterior"].to_dataset() if hasattr(datatree, "children") else datatree.posterior
    sampling = float(posterior.attrs.get("sampling_time", fit))
    return {
        "build_s": build,
        "compile_s": fit - sampling,
        "sampling_s": sampling,
        "fit_s": build + fit,
        "min_bulk_ess": min_ess(posterior, ["ips25", "1|service_sigma"]),
        "likelihood_rows": len(frame),
    }


def case_cace(backend: str) -> dict:
    """The 66-person CACE model (bundled data), ipsbayes with nutpie or with PyMC's sampler."""
    import ipsbayes
    from ipsbayes.runner import check
    from ipsbayes.sampling import sample
    from ipsbayes.testing import edit_config, load_raw_config

    raw = load_raw_config(Path(__file__).resolve().parents[1] / "models" / "rij_cace.toml")
    raw = edit_config(
        raw,
        **{
            "sensitivity.prior_sets": [],
            "sensitivity.variants": {},
            "sensitivity.power_scaling": False,
            "sampler.backend": backend,
        },
    )
    started = time.perf_counter()
    plan = check(raw)
    build = time.perf_counter() - started
    fit = sample(plan.model, plan.config.sampler, 1, predictive=False, log_likelihood=False, progress=False)
    fit_seconds = time.perf_counter() - started
    sampling = fit.timings.get("sampling", fit.timings.get("compile_and_sampling"))
    out = {
        "build_s": build,
        "compile_s": fit.timings.get("compile", 0.0),
        "sampling_s": sampling,
        "fit_s": fit_seconds,
        "min_bulk_ess": min_ess(fit.datatree["posterior"].to_dataset(), ["treatment_effect"]),
        "likelihood_rows": 66,
    }
    if backend == "nutpie":
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            ipsbayes.run(raw, out=Path(folder) / "run", progress=False)
        out["end_to_end_s"] = time.perf_counter() - started
    return out


def run_case(spec: dict) -> dict:
    """Run one case in this process (called in a subprocess by the driver)."""
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    if spec["contender"] == "cace":
        result = case_cace(spec["backend"])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            folder = make_data(spec["n"], Path(tmp) / "data")
            if spec["contender"] == "ipsbayes":
                result = case_ipsbayes(folder, spec["collapse"])
            elif spec["contender"] == "pymc":
                result = case_pymc(folder)
            else:
                result = case_bambi(folder)
    result["process_s"] = time.perf_counter() - started
    return {**spec, **result}


def cases(sizes: list[int], contenders: list[str]) -> list[dict]:
    out = []
    for n in sizes:
        if "ipsbayes" in contenders:
            out += [
                {"contender": "ipsbayes", "n": n, "collapse": "auto"},
                {"contender": "ipsbayes", "n": n, "collapse": "never"},
            ]
        for other in ("bambi", "pymc"):
            if other in contenders:
                out.append({"contender": other, "n": n})
    if "cace" in contenders:
        out += [{"contender": "cace", "backend": "nutpie", "n": 66}, {"contender": "cace", "backend": "pymc", "n": 66}]
    return out


def label(result: dict) -> str:
    if result["contender"] == "ipsbayes":
        return f"ipsbayes (nutpie, collapse={result['collapse']})"
    if result["contender"] == "cace":
        return f"ipsbayes CACE ({result['backend']})"
    return {"bambi": "Bambi defaults", "pymc": "PyMC own NUTS (same model)"}[result["contender"]]


def markdown(results: list[dict], machine: str) -> str:
    lines = [
        f"Machine: {machine}",
        "",
        "| model, participants | how | likelihood rows | build s | compile s | sampling s | fit s | "
        "end to end s | min bulk ESS | ESS/s (sampling) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r.get('n')} | {label(r)} | | | | | | | | {r['error'][:60]} |")
            continue
        name = "CACE, 66" if r["contender"] == "cace" else f"services, {r['n']:,}"
        e2e = f"{r['end_to_end_s']:.1f}" if "end_to_end_s" in r else "-"
        lines.append(
            f"| {name} | {label(r)} | {r['likelihood_rows']:,} | {r['build_s']:.1f} | {r['compile_s']:.1f} | "
            f"{r['sampling_s']:.1f} | {r['fit_s']:.1f} | {e2e} | {r['min_bulk_ess']:.0f} | "
            f"{r['min_bulk_ess'] / max(r['sampling_s'], 1e-9):.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1500, 15000, 150000])
    parser.add_argument("--contenders", nargs="+", default=["ipsbayes", "bambi", "pymc", "cace"])
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per case")
    parser.add_argument("--skip", nargs="*", default=[], help="contender:n pairs to skip, e.g. bambi:150000")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return 0
    results = []
    for spec in cases(args.sizes, args.contenders):
        key = f"{spec['contender']}:{spec['n']}"
        if key in args.skip:
            results.append({**spec, "error": "skipped (see --skip)"})
            continue
        print(f"running {spec}", file=sys.stderr, flush=True)
        try:
            done = subprocess.run(
                [sys.executable, __file__, "--case", json.dumps(spec)],
                capture_output=True,
                text=True,
                timeout=args.timeout,
                env={**os.environ, "CI": "true"},
            )
            line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
            results.append(json.loads(line) if done.returncode == 0 else {**spec, "error": done.stderr[-300:]})
        except subprocess.TimeoutExpired:
            results.append({**spec, "error": f"timed out after {args.timeout} s"})
        print(f"  -> {results[-1]}", file=sys.stderr, flush=True)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.platform()}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps({"machine": machine, "results": results}, indent=1) + "\n")
    (RESULTS / "latest.md").write_text(markdown(results, machine))
    print(markdown(results, machine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
