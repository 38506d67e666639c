"""Does the shipped demo config pass its diagnostics gate at the default profile? Sampler settings compared.

Usage (from the repository root, after ``make install``)::

    .venv/bin/python benchmarks/demo_gate.py                       # every setting, seeds 20261122, 1, 2
    .venv/bin/python benchmarks/demo_gate.py --settings default draws_2000 --seeds 20261122

``models/ipsung_employment.toml`` (the config ``make demo`` runs) is fitted to the bundled data
(``data/ipsung``, simulator seed 2) under each sampler setting and seed, through the same pipeline
and the same diagnostics gate as ``ipsbayes run`` (thresholds unchanged). Reported per fit: gate
status, largest R-hat, lowest bulk and tail ESS with the parameter, divergences and sampling
seconds. Results go to ``benchmarks/results/demo_gate.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CONFIG = ROOT / "models" / "ipsung_employment.toml"

#: name -> sampler keys added to the config's [sampler] table
SETTINGS: dict[str, dict] = {
    "default": {},
    "target_accept_0.95": {"target_accept": 0.95},
    "tune_2000": {"tune": 2000},
    "draws_2000": {"draws": 2000},
    "tune_2000_draws_2000": {"tune": 2000, "draws": 2000},
}


def run(names: list[str], seeds: list[int]) -> list[dict]:
    from ipsbayes.pipeline import LIGHT, fit
    from ipsbayes.runner import check
    from ipsbayes.testing import edit_config, load_raw_config

    raw = load_raw_config(CONFIG)
    rows = []
    for name in names:
        for seed in seeds:
            changes = {f"sampler.{key}": value for key, value in SETTINGS[name].items()}
            plan = check(edit_config(raw, seed=seed, **changes))
            started = time.perf_counter()
            fitted = fit(
                plan.family, plan.spec, plan.priors, plan.config, data=plan.data, model=plan.model,
                outputs=LIGHT, progress=False,
            )  # fmt: skip
            checks = {c.name: c for c in fitted.diagnostics.checks}
            row = {
                "setting": name,
                "seed": seed,
                "status": fitted.diagnostics.status,
                "max_rhat": checks["r_hat"].value,
                "min_ess_bulk": checks["ess_bulk"].value,
                "min_ess_tail": checks["ess_tail"].value,
                "worst": fitted.diagnostics.worst_parameters.get("ess_bulk", [""])[0],
                "divergences": checks["divergences"].value,
                "sampling_s": round(fitted.timings.get("sampling", float("nan")), 1),
                "total_s": round(time.perf_counter() - started, 1),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def write(rows: list[dict]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"host": platform.node(), "cpus": __import__("os").cpu_count(), "config": str(CONFIG.relative_to(ROOT))}
    (RESULTS / "demo_gate.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = [
        "# Demo config at the default profile: diagnostics gate by sampler setting",
        "",
        f"`{meta['config']}` on the bundled data; {meta['cpus']} CPUs. Gate thresholds unchanged "
        "(R-hat warn > 1.01; bulk/tail ESS warn < 100 x chains).",
        "",
        "| Setting | Seed | Gate | Max R-hat | Min bulk ESS | Min tail ESS | Worst (bulk ESS) | Divergences "
        "| Sampling s |",
        "| --- | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['setting']} | {r['seed']} | {r['status']} | {r['max_rhat']:.3f} | {r['min_ess_bulk']:.0f} | "
            f"{r['min_ess_tail']:.0f} | {r['worst']} | {r['divergences']} | {r['sampling_s']} |"
        )
    (RESULTS / "demo_gate.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[20261122, 1, 2])
    args = parser.parse_args(argv)
    write(run(args.settings, args.seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
