"""Speed of the time-to-event model: 3,000 participants x 24 months in 43 services, default profile.

Usage (from the repository root)::

    .venv/bin/python benchmarks/time_to_event.py            # both formulas, then the gradient timings
    .venv/bin/python benchmarks/time_to_event.py --quick    # gradient timings only (seconds)

Each fit runs in a fresh Python process and prints one JSON line; the driver writes
``benchmarks/results/time_to_event.{json,md}``. Data: ``ipsbayes simulate ipsung`` with
3,000 participants (43 services, 24 months, follow-up right-censored), seed 31.

Cases:

- **shipped formula** (models/ipsung_time_to_job.toml: age, gender, months outside, diagnosis,
  IPS-25, collaboration): age and months outside make nearly every participant a pattern of
  their own, so collapsing saves little and the dense, factorised likelihood carries the speed;
- **discrete predictors** (gender, diagnosis, IPS-25, collaboration): participants share
  patterns within services and person-months collapse several-fold.

Reported per fit: person-month rows at risk (before collapsing), pattern-months with someone at
risk (after), patterns; wall seconds for checking and building, compiling, sampling, computing
the estimands, and the fit (check + compile + sampling + deterministics); the process's CPU
seconds; minimum bulk ESS of the fidelity slopes, service SDs and baseline smoothness; and the
1-minute load average of the machine when the fit ended (the development machine is shared).
The gradient timings compare the likelihood's forms on the same data, CPU milliseconds per
log-density-and-gradient evaluation (PyTensor's numba backend, as nutpie uses).
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
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
SHIPPED = "~ age + gender + months_outside + diagnosis + ips25 + education_collaboration + (1 | service)"
DISCRETE = "~ gender + diagnosis + ips25 + education_collaboration + (1 | service)"
N_PARTICIPANTS, SEED = 3000, 31


def make_config(folder: Path, formula: str, collapse: str = "auto", profile: str = "default") -> dict:
    import tomllib

    from ipsbayes.simulate import simulate

    if not (folder / "monthly_status.csv").exists():
        simulate("ipsung", seed=SEED, out=folder, options={"n_participants": N_PARTICIPANTS})
    raw = tomllib.loads((REPO / "models" / "ipsung_time_to_job.toml").read_text())
    raw["data"] = {k: str(folder / f"{k}.csv") for k in ("participants", "services", "monthly_status")}
    raw["model"] |= {"formula": formula, "collapse": collapse}
    raw["sampler"] = {"profile": profile}
    raw.pop("validation", None)
    return raw


def case_fit(folder: Path, formula: str) -> dict:
    import arviz as az

    from ipsbayes.runner import check
    from ipsbayes.sampling import sample

    cpu, started = time.process_time(), time.perf_counter()
    plan = check(make_config(folder, formula))
    build = time.perf_counter() - started
    fit = sample(plan.model, plan.config.sampler, 1, predictive=False, log_likelihood=False, progress=False)
    step = time.perf_counter()
    posterior = fit.datatree["posterior"].to_dataset()
    plan.family.estimands(posterior, plan.data, plan.spec, plan.config)
    estimands = time.perf_counter() - step
    names = ["fidelity_slope", "sd_service", "baseline_sd"]
    ess = az.ess(posterior[names], method="bulk")
    info = plan.data.info
    return {
        "formula": formula,
        "participants": plan.data.n_rows,
        "person_months": info["person_months"],
        "cells": info["cells"],
        "patterns": info["patterns"],
        "build_s": round(build, 1),
        "compile_s": round(fit.timings["compile"], 1),
        "sampling_s": round(fit.timings["sampling"], 1),
        "fit_s": round(build + fit.timings["compile"] + fit.timings["sampling"] + fit.timings["deterministics"], 1),
        "estimands_s": round(estimands, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
        "min_bulk_ess": round(min(float(ess[n].min()) for n in names)),
        "divergences": int(fit.datatree["sample_stats"]["diverging"].sum()),
        "mean_steps": round(float(fit.datatree["sample_stats"]["n_steps"].mean()), 1),
        "load_1min": os.getloadavg()[0],
    }


def gradient_ms(folder: Path) -> list[dict]:
    """CPU milliseconds per log-density-and-gradient evaluation for the likelihood's forms on the same data."""
    import pytensor.tensor as pt

    import ipsbayes.models.time_to_event as tte
    from ipsbayes.runner import check

    def sum_over_targets(value, trials, baseline, linear, n_targets, cells=None):  # the straightforward form
        odds = pt.dot(pt.exp(linear[:, 0, :]), pt.exp(baseline[0]).T)
        return (value * (baseline + linear)).sum(axis=-1) - trials * pt.log1p(odds)

    def exponentiated(value, trials, baseline, linear, n_targets, cells=None):  # exp of the whole (P, T, K) array
        eta = baseline + linear
        return (value * eta).sum(axis=-1) - trials * pt.log1p(pt.exp(eta).sum(axis=-1))

    original = tte.event_logp

    def target_by_target(value, trials, baseline, linear, n_targets, cells=None):  # every cell, no sparse term
        return original(value, trials, baseline, linear, n_targets)

    rows = []
    forms = [("shipped: exp of (P, T, K), sum over targets", exponentiated),
             ("shipped: factorised exp, sum over targets", sum_over_targets),
             ("shipped: factorised exp, target by target", target_by_target),
             ("shipped: factorised exp, transitions only where they happened (used)", original)]  # fmt: skip
    cases = [(SHIPPED, "auto", label, form) for label, form in forms]
    cases += [(DISCRETE, "never", "discrete: one pattern per participant", original)]
    cases += [(DISCRETE, "auto", "discrete: collapsed patterns (used)", original)]
    compiled = []
    try:
        for formula, collapse, label, form in cases:
            tte.event_logp = form
            plan = check(make_config(folder, formula, collapse))
            point = plan.model.initial_point()
            gradient = plan.model.compile_dlogp(mode="NUMBA")  # its graph includes the log density itself
            gradient(point)
            compiled.append((label, plan, point, gradient))
    finally:
        tte.event_logp = original
    # interleaved: every form once per round, five rounds; medians and ranges of CPU ms per gradient
    timings: dict[str, list[float]] = {label: [] for label, *_ in compiled}
    repeats = 300
    for _ in range(5):
        for label, _plan, point, gradient in compiled:
            cpu = time.process_time()
            for _ in range(repeats):
                gradient(point)
            timings[label].append(1000 * (time.process_time() - cpu) / repeats)
    for label, plan, _point, _gradient in compiled:
        rows.append(
            {
                "form": label,
                "patterns": plan.data.info["patterns"],
                "cells_computed": int(plan.data.arrays["trials"].size),
                "ms_per_gradient": round(float(np.median(timings[label])), 3),
                "ms_range": [round(min(timings[label]), 3), round(max(timings[label]), 3)],
            }
        )
    return rows


def centring(folder: Path, seeds: tuple[int, ...] = (1, 2, 3, 4)) -> list[dict]:
    """Baseline coordinates non-centred against ``auto`` (centred above the information threshold).

    Both data sets (the 3,000 simulated participants and the bundled IPS ung data, 1,500 participants),
    the shipped formula, default profile at target_accept 0.8 with no second attempt (so divergences are
    counted as they come), interleaved: seed by seed, one form then the other. Leapfrog steps per
    effective draw (after warmup, minimum bulk ESS over every free variable) do not depend on the load.
    """
    import tomllib

    import arviz as az

    from ipsbayes.runner import check
    from ipsbayes.sampling import one_blas_thread, sample

    bundled = tomllib.loads((REPO / "models" / "ipsung_time_to_job.toml").read_text())
    tables = ("participants", "services", "monthly_status")
    bundled["data"] = {k: str(REPO / "data" / "ipsung" / f"{k}.csv") for k in tables}
    bundled.pop("validation", None)
    designs = {"3,000 simulated": make_config(folder, SHIPPED), "bundled 1,500": bundled}
    rows = []
    for seed in seeds:
        for label, raw in designs.items():
            for form in ("noncentred", "auto"):
                raw["model"]["baseline_parameterisation"] = form
                raw["sampler"] = {"profile": "default", "target_accept": 0.8}
                plan = check(raw)
                with one_blas_thread():
                    fit = sample(plan.model, plan.config.sampler, seed, predictive=False, log_likelihood=False)
                posterior, stats = fit.datatree["posterior"].to_dataset(), fit.datatree["sample_stats"]
                free = [v.name for v in plan.model.free_RVs]
                ess = az.ess(posterior[free], method="bulk")
                minimum = min(float(ess[n].min()) for n in free)
                rows.append(
                    {
                        "data": label,
                        "form": form,
                        "seed": seed,
                        "centred": plan.data.info["baseline_centred"],
                        "divergences": int(stats["diverging"].sum()),
                        "steps_per_ess": round(float(stats["n_steps"].sum()) / minimum, 1),
                        "min_bulk_ess": round(minimum),
                        "baseline_sd_ess": round(float(ess["baseline_sd"].min())),
                        "sampling_s": round(fit.timings["sampling"], 1),
                    }
                )
                print(rows[-1], file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=["shipped", "discrete", "gradients", "centring"])
    parser.add_argument("--data")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--centring", action="store_true", help="baseline non-centred against 'auto' only")
    args = parser.parse_args()
    if args.case:
        folder = Path(args.data)
        if args.case in ("gradients", "centring"):
            result = gradient_ms(folder) if args.case == "gradients" else centring(folder)
        else:
            result = case_fit(folder, {"shipped": SHIPPED, "discrete": DISCRETE}[args.case])
        print("RESULT " + json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        results = {}
        cases = ["centring"] if args.centring else ["gradients"] if args.quick else ["shipped", "discrete", "gradients"]
        for case in cases:
            done = subprocess.run(
                [sys.executable, __file__, "--case", case, "--data", str(folder)],
                capture_output=True,
                text=True,
                env={**os.environ, "CI": "true"},
            )
            line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                raise SystemExit(f"{case} failed:\n{done.stderr[-3000:]}")
            results[case] = json.loads(line[7:])
            print(case, results[case], flush=True)
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}", "seed": SEED}
    RESULTS.mkdir(exist_ok=True)
    if args.centring:
        write_centring(results["centring"], meta)
        return
    (RESULTS / "time_to_event.json").write_text(json.dumps({"meta": meta, **results}, indent=2) + "\n")
    lines = [
        "# Time-to-event model: 3,000 participants x 24 months in 43 services",
        "",
        f"Machine: {meta['machine']}.",
        "",
    ]
    fits = [results[c] for c in ("shipped", "discrete") if c in results]
    if fits:
        keys = ["participants", "person_months", "cells", "patterns", "build_s", "compile_s", "sampling_s", "fit_s",
                "estimands_s", "cpu_s", "min_bulk_ess", "divergences", "mean_steps", "load_1min"]  # fmt: skip
        lines += ["| formula | " + " | ".join(keys) + " |", "| --- |" + " ---: |" * len(keys)]
        lines += [f"| `{f['formula']}` | " + " | ".join(str(f[k]) for k in keys) + " |" for f in fits]
        lines.append("")
    lines += [
        "Gradients: five interleaved rounds of 300 evaluations per form; median (range) CPU ms per evaluation.",
        "",
        "| likelihood form | patterns | cells computed | ms per gradient (CPU) |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r['form']} | {r['patterns']} | {r['cells_computed']} | {r['ms_per_gradient']} "
        f"({r['ms_range'][0]}-{r['ms_range'][1]}) |"
        for r in results["gradients"]
    ]
    (RESULTS / "time_to_event.md").write_text("\n".join(lines) + "\n")


def write_centring(rows: list[dict], meta: dict) -> None:
    """``benchmarks/results/time_to_event_centring.{json,md}``: per fit, then medians per data set and form."""
    (RESULTS / "time_to_event_centring.json").write_text(json.dumps({"meta": meta, "fits": rows}, indent=2) + "\n")
    keys = ["data", "form", "seed", "centred", "divergences", "steps_per_ess", "min_bulk_ess", "baseline_sd_ess"]
    lines = [
        "# Time-to-event baseline: non-centred against 'auto' (centred above the information threshold)",
        "",
        f"Machine: {meta['machine']}. Default profile, target_accept 0.8 with no second attempt, interleaved.",
        "",
        "| data | form | fits with divergences | divergences | median steps per ESS (range) | median min bulk ESS |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for data in dict.fromkeys(r["data"] for r in rows):
        for form in ("noncentred", "auto"):
            mine = [r for r in rows if r["data"] == data and r["form"] == form]
            steps = [r["steps_per_ess"] for r in mine]
            lines.append(
                f"| {data} | {form} | {sum(r['divergences'] > 0 for r in mine)} of {len(mine)} | "
                f"{sum(r['divergences'] for r in mine)} | {np.median(steps):.1f} ({min(steps)}-{max(steps)}) | "
                f"{np.median([r['min_bulk_ess'] for r in mine]):.0f} |"
            )
    lines += ["", "| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    (RESULTS / "time_to_event_centring.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
