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
chains x 1000 draws after 1000 tuning steps. Reported: wall time for reading and building
the model, for compiling, for sampling, for the fit (all of those) and, for ipsbayes, for the
whole run with diagnostics and report; and the minimum bulk ESS per second of sampling of the
key parameters (fidelity slope, service SD; the treatment effect for the CACE model).

Compile caches: PyTensor and numba cache compiled functions on disk, keyed by the graph, and
a graph with its data frozen in is new for new data. Each benchmark simulates its data with a
new seed, so the first pass of every case compiles from scratch, as a statistician's first fit
of new data does; cases up to ``--repeat-up-to`` participants then run a second time on the
same data, as a re-run of the same config does.
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


def make_data(n: int, folder: Path, seed: int) -> Path:
    """Simulate IPS ung data with ``n`` participants and band the covariates (discrete patterns)."""
    import pandas as pd

    from ipsbayes.simulate import simulate

    tables, _ = simulate("ipsung", seed=seed, options={"n_participants": n})
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


FIT_STAGES = ("read_data", "prepare_data", "build_model", "compile", "sampling", "deterministics")


def from_run(config: dict, ess_names: list[str]) -> dict:
    """One whole ``ipsbayes.run`` (report included); the fit's stages are read from its recorded timings.

    Timing the fit inside the run (rather than fitting first and running after) keeps a single
    compilation per case, so the on-disk compile caches help no stage the table calls cold.
    """
    import ipsbayes

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        run = ipsbayes.run(config, out=Path(out) / "run", progress=False)
    end_to_end = time.perf_counter() - started
    timings = run.provenance["timings_seconds"]
    return {
        "build_s": timings["read_data"] + timings["prepare_data"] + timings["build_model"],
        "compile_s": timings["compile"],
        "sampling_s": timings["sampling"],
        "fit_s": sum(timings.get(stage, 0.0) for stage in FIT_STAGES),
        "end_to_end_s": end_to_end,
        "min_bulk_ess": min_ess(run.datatree["posterior"].to_dataset(), ess_names),
        "likelihood_rows": max(int(v.size) for v in run.datatree["observed_data"].to_dataset().data_vars.values()),
    }


def case_ipsbayes(folder: Path, collapse: str) -> dict:
    """ipsbayes end to end (validation, fit, diagnostics, report) with the fit's stages split out."""
    return from_run(ipsbayes_config(folder, collapse), ["fidelity_slope", "sd_service"])


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


def case_cace(backend: str, seed: int) -> dict:
    """The CACE model on a simulated 66-person trial: ipsbayes end to end (nutpie) or the fit with PyMC's sampler."""
    from ipsbayes.runner import check
    from ipsbayes.sampling import sample
    from ipsbayes.simulate import simulate
    from ipsbayes.testing import edit_config, load_raw_config

    raw = load_raw_config(Path(__file__).resolve().parents[1] / "models" / "rij_cace.toml")
    with tempfile.TemporaryDirectory() as tmp:
        simulate("rij", seed=seed, out=tmp)
        raw = edit_config(
            raw,
            **{
                "data.participants": str(Path(tmp) / "participants.csv"),
                "sensitivity.prior_sets": [],
                "sensitivity.variants": {},
                "sensitivity.power_scaling": False,
                "sampler.backend": backend,
            },
        )
        if backend == "nutpie":
            return from_run(raw, ["treatment_effect"])
        started = time.perf_counter()
        plan = check(raw)
        build = time.perf_counter() - started
        fit = sample(plan.model, plan.config.sampler, 1, predictive=False, log_likelihood=False, progress=False)
    return {
        "build_s": build,
        "compile_s": fit.timings.get("compile", 0.0),
        "sampling_s": fit.timings.get("sampling", fit.timings.get("compile_and_sampling")),
        "fit_s": time.perf_counter() - started,
        "min_bulk_ess": min_ess(fit.datatree["posterior"].to_dataset(), ["treatment_effect"]),
        "likelihood_rows": 66,
    }


def run_case(spec: dict) -> dict:
    """Run one case in this process (called in a subprocess by the driver)."""
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    if spec["contender"] == "cace":
        result = case_cace(spec["backend"], spec["data_seed"])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            folder = make_data(spec["n"], Path(tmp) / "data", spec["data_seed"])
            if spec["contender"] == "ipsbayes":
                result = case_ipsbayes(folder, spec["collapse"])
            elif spec["contender"] == "pymc":
                result = case_pymc(folder)
            else:
                result = case_bambi(folder)
    result["process_s"] = time.perf_counter() - started
    return {**spec, **result}


def cases(sizes: list[int], contenders: list[str], data_seed: int, repeat_up_to: int) -> list[dict]:
    """Every case once on new data (compile caches cold for that graph); small cases a second time on the same data."""
    singles = []
    for n in sizes:
        if "ipsbayes" in contenders:
            singles += [
                {"contender": "ipsbayes", "n": n, "collapse": "auto"},
                {"contender": "ipsbayes", "n": n, "collapse": "never"},
            ]
        singles += [{"contender": other, "n": n} for other in ("bambi", "pymc") if other in contenders]
    if "cace" in contenders:
        singles += [
            {"contender": "cace", "backend": "nutpie", "n": 66},
            {"contender": "cace", "backend": "pymc", "n": 66},
        ]
    out = []
    for spec in singles:
        out.append({**spec, "data_seed": data_seed, "pass": 1})
        if spec["n"] <= repeat_up_to:
            out.append({**spec, "data_seed": data_seed, "pass": 2})
    return out


def label(result: dict) -> str:
    if result["contender"] == "ipsbayes":
        how = f"ipsbayes (nutpie, collapse={result['collapse']})"
    elif result["contender"] == "cace":
        how = f"ipsbayes CACE ({result['backend']})"
    else:
        how = {"bambi": "Bambi defaults", "pymc": "PyMC own NUTS (same model)"}[result["contender"]]
    return how + (", same data again" if result.get("pass") == 2 else "")


def markdown(results: list[dict], machine: str) -> str:
    lines = [
        f"Machine: {machine}",
        "",
        "| model, participants | how | likelihood rows | build s | compile s | sampling s | fit s | "
        "end to end s | min bulk ESS | ESS/s (sampling) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        name = "CACE, 66" if r["contender"] == "cace" else f"services, {r['n']:,}"
        if "error" in r:
            lines.append(f"| {name} | {label(r)} | | | | | | | | {r['error'][:80]} |")
            continue
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
    parser.add_argument(
        "--data-seed",
        type=int,
        default=int(time.time()) % 100_000,
        help="simulator seed; a new one (the default) makes every first pass compile a graph never seen before",
    )
    parser.add_argument(
        "--repeat-up-to", type=int, default=1500, help="run cases up to this many participants a second time"
    )
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return 0
    results = []
    for spec in cases(args.sizes, args.contenders, args.data_seed, args.repeat_up_to):
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
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
        f"simulator seed {args.data_seed}"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(
        json.dumps({"machine": machine, "data_seed": args.data_seed, "results": results}, indent=1) + "\n"
    )
    (RESULTS / "latest.md").write_text(markdown(results, machine))
    print(markdown(results, machine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
