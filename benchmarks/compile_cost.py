"""Where the seconds of a ``ci``-profile run go, and what reusing a compiled model saves.

Usage (repository root, after ``make install``)::

    .venv/bin/python benchmarks/compile_cost.py

1. Runs ``ipsbayes run CONFIG --profile ci`` for each shipped config in a fresh process and
   prints the stage timings that every run records in ``provenance.json``.
2. In one process, fits the 66-person CACE model to five simulated trials: first with a new
   compilation for every fit (frozen data, the single-run strategy), then reusing one
   compiled model and swapping data (the strategy of ``ipsbayes validate`` and of refits
   under other prior sets).

Writes ``benchmarks/results/compile_cost.md``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CONFIGS = [
    "ipsung_employment",
    "ipsung_outcomes",
    "ipsung_fidelity",
    "ipsung_time_to_job",
    "rij_cace",
    "rij_cace_months",
]
STAGES = [
    "build_model",
    "compile",
    "sampling",
    "deterministics",
    "log_density",
    "posterior_predictive",
    "estimands",
    "sensitivity",
    "diagnostics",
    "write_posterior",
    "report",
    "total",
]


def stage_timings() -> list[str]:
    lines = ["| config | " + " | ".join(STAGES) + " |", "| --- |" + " ---: |" * len(STAGES)]
    ipsbayes = Path(sys.executable).parent / "ipsbayes"
    for name in CONFIGS:
        with tempfile.TemporaryDirectory() as out:
            subprocess.run(
                [
                    str(ipsbayes),
                    "run",
                    str(ROOT / "models" / f"{name}.toml"),
                    "--profile",
                    "ci",
                    "--out",
                    f"{out}/run",
                    "--quiet",
                ],
                check=True,
                capture_output=True,
                env={**os.environ, "CI": "true"},
            )
            timings = json.loads(Path(f"{out}/run/provenance.json").read_text())["timings_seconds"]
        lines.append(f"| {name} | " + " | ".join(f"{timings.get(s, 0.0):.1f}" for s in STAGES) + " |")
        print(lines[-1], flush=True)
    return lines


def reuse() -> list[str]:
    warnings.simplefilter("ignore")
    from ipsbayes import nutpie_compile, sampling
    from ipsbayes.runner import validate_config
    from ipsbayes.simulate import simulate
    from ipsbayes.validation import bundle_from_tables

    config, family, spec, priors = validate_config(ROOT / "models" / "rij_cace.toml")
    config = config.with_overrides(profile="ci")
    models = []
    base = int(time.time()) % 100_000 * 10  # new trials, so no fit finds its frozen graph in a disk cache
    for seed in range(base, base + 5):
        tables, _ = simulate("rij", seed)
        data = family.prepare(bundle_from_tables(tables, "bench"), spec, config)
        models.append(family.build(data, spec, priors))
    lines = [
        "| strategy | fits | compile s (total) | sampling s (total) | wall s |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for reuse_compiled in (False, True):
        nutpie_compile._COMPILED.clear()
        started = time.perf_counter()
        compile_s = sampling_s = 0.0
        for model in models:
            fit = sampling.sample(
                model,
                config.sampler,
                1,
                predictive=False,
                log_likelihood=False,
                progress=False,
                reuse_compiled=reuse_compiled,
            )
            compile_s += fit.timings["compile"]
            sampling_s += fit.timings["sampling"]
        label = "one compiled model, data swapped (validate, refits)" if reuse_compiled else "compile every fit"
        lines.append(
            f"| {label} | {len(models)} | {compile_s:.1f} | {sampling_s:.1f} | {time.perf_counter() - started:.1f} |"
        )
        print(lines[-1], flush=True)
    return lines


def main() -> int:
    machine = f"{os.cpu_count()} cores, {sys.platform}"
    text = [
        "# Compile cost",
        "",
        f"Machine: {machine}. Seconds per stage of `ipsbayes run --profile ci` "
        "(fresh process each; disk caches of numba and PyTensor warm from earlier runs):",
        "",
    ]
    text += stage_timings()
    text += ["", "Five new simulated 66-person CACE trials fitted in one process (`ci` profile):", ""]
    text += reuse()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compile_cost.md").write_text("\n".join(text) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
