"""Leapfrog steps per effective draw at target_accept 0.8 and 0.9, for every shipped model config.

Usage (repository root, after ``make install``)::

    .venv/bin/python benchmarks/target_accept.py                       # every config in models/, 3 seeds
    .venv/bin/python benchmarks/target_accept.py --configs rij_cace --seeds 5

Each config is built by ipsbayes on its bundled data and compiled once (nutpie, numba); then, for each
seed, it is sampled at each target_accept (4 chains x 1000 draws after 1000 tuning steps, the default
profile), seeds outermost and rates interleaved. Reported per config and rate, median (range) over the
seeds: leapfrog steps after warmup, minimum bulk ESS over every sampled parameter, steps per effective
draw (the cost that does not depend on the machine's load) and divergences after warmup. A rate that
diverges where the other does not is what :data:`ipsbayes.sampling.RAISED_TARGET_ACCEPT` is for.
Writes ``benchmarks/results/target_accept.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGETS = (0.8, 0.9)


def build(config: Path):
    from ipsbayes.runner import check

    return check(config).model


def one_fit(compiled, model, target: float, seed: int) -> dict[str, float]:
    import arviz as az
    import nutpie

    started = time.perf_counter()
    tree = nutpie.sample(
        compiled, draws=1000, tune=1000, chains=4, cores=2, seed=seed, target_accept=target, progress_bar=False
    )
    wall = time.perf_counter() - started
    names = [v.name for v in model.free_RVs]
    ess = az.ess(tree["posterior"].to_dataset()[names], method="bulk")
    min_ess = float(min(float(np.nanmin(ess[n].values)) for n in names))
    steps = int(tree["sample_stats"]["n_steps"].values.sum())
    return {
        "steps": steps,
        "min_bulk_ess": min_ess,
        "steps_per_effective_draw": steps / min_ess,
        "divergences": int(tree["sample_stats"]["diverging"].values.sum()),
        "step_size": float(tree["sample_stats"]["step_size"].values.mean()),
        "wall_s": wall,
    }


def summarise(results: list[dict]) -> list[str]:
    lines = [
        "| config | target_accept | leapfrog steps (draws) | min bulk ESS | steps per effective draw | divergences |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]

    def cell(values: list[float], fmt: str) -> str:
        return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"

    for config in dict.fromkeys(r["config"] for r in results):
        for target in TARGETS:
            rows = [r for r in results if r["config"] == config and r["target_accept"] == target]
            if not rows:
                continue
            lines.append(
                f"| {config} | {target} | {cell([r['steps'] for r in rows], '{:,.0f}')} | "
                f"{cell([r['min_bulk_ess'] for r in rows], '{:,.0f}')} | "
                f"{cell([r['steps_per_effective_draw'] for r in rows], '{:.1f}')} | "
                f"{cell([r['divergences'] for r in rows], '{:.0f}')} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="*", default=None, help="names in models/ (default: all)")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import nutpie

    from ipsbayes.nutpie_compile import free_names

    names = args.configs or sorted(p.stem for p in (ROOT / "models").glob("*.toml"))
    compiled = {}
    for name in names:
        model = build(ROOT / "models" / f"{name}.toml")
        compiled[name] = (
            nutpie.compile_pymc_model(model, backend="numba", freeze_model=True, var_names=free_names(model)),
            model,
        )
        print("compiled", name, flush=True)
    results = []
    for seed in range(1, args.seeds + 1):
        for name, (fn, model) in compiled.items():
            for target in TARGETS if seed % 2 else reversed(TARGETS):
                result = {"config": name, "target_accept": target, "seed": seed, **one_fit(fn, model, target, seed)}
                results.append(result)
                print(json.dumps(result), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "target_accept.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    lines = [
        "# target_accept 0.8 against 0.9 on every shipped config",
        "",
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, nutpie, 4 chains x 1000 draws after 1000 tuning "
        f"steps, bundled data; median (range) over {args.seeds} seeds. Steps per effective draw = leapfrog steps "
        "after warmup / minimum bulk ESS over every sampled parameter (independent of the machine's load).",
        "",
        *summarise(results),
    ]
    (RESULTS / "target_accept.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
