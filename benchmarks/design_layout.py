"""Design matrix stored as it is (``X``) or transposed (``X_T``): gradient and sampling cost (issue 15).

The reference model's linear predictor is ``X @ beta`` and its gradient needs ``X.T @ g``. With the data
container holding ``X`` row by row (C order), numba gives the gradient a transposed view, and both
products read memory across BLAS's grain. ``ipsbayes.models.base.TRANSPOSED_DATA`` stores the matrix
transposed and C-contiguous (``X_T``) and lets the graph use ``X_T.T``: the same log density
(``tests/test_design_layout.py``), other memory order.

For each size this builds the contender benchmark's reference model both ways (``contenders.prepare``
makes the data) and compiles each exactly as ``ipsbayes run`` does (the persistent compile cache, in a
private folder). Then, interleaved A, B, A, B ... (the order alternating between rounds):

- microseconds of process CPU per log density + gradient, called as nuts-rs calls it (3,000 calls a
  round at 1,500 rows, 300 at 15,000);
- a whole fit (4 chains x 1,000 draws after 1,000 tuning, nutpie, the same seed both ways per round):
  CPU seconds, leapfrog steps, CPU microseconds per step, posterior means.

Usage::

    .venv/bin/python benchmarks/design_layout.py --sizes 1500,15000 --rounds 3

Results: ``benchmarks/results/design_layout.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
LAYOUTS = ("row by row (X)", "transposed (X_T)")


def build(folder: Path, transposed: bool):
    """The reference model with the design matrix stored one way, compiled as a run compiles it."""
    from ipsbayes.models import base
    from ipsbayes.nutpie_compile import compile_nutpie
    from ipsbayes.runner import check

    saved = base.TRANSPOSED_DATA
    base.TRANSPOSED_DATA = saved if transposed else frozenset()
    try:
        plan = check(folder / "config.toml", sampling_follows=True)
    finally:
        base.TRANSPOSED_DATA = saved
    compiled, _, cache = compile_nutpie(plan.model)
    assert cache in {"hit", "miss"}, cache
    return compiled


def fit(compiled, seed: int) -> dict:
    import nutpie

    from ipsbayes.sampling import one_blas_thread

    started_cpu, started_wall = time.process_time(), time.perf_counter()
    with one_blas_thread():
        trace = nutpie.sample(
            compiled, draws=1000, tune=1000, chains=4, cores=2, seed=seed, progress_bar=False, save_warmup=True
        )
    cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started_wall
    steps = int(trace.sample_stats["n_steps"].sum()) + int(trace.warmup_sample_stats["n_steps"].sum())
    posterior = trace.posterior
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "steps": steps,
        "us_per_step": cpu / steps * 1e6,
        "divergences": int(trace.sample_stats["diverging"].sum()),
        "means": {name: float(posterior[name].mean()) for name in ("fidelity_slope", "sd_service", "beta")},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1500,15000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import contenders

    os.environ["IPSBAYES_CACHE_DIR"] = tempfile.mkdtemp(prefix="ipsbayes-design-layout-")
    document: dict = {
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.platform()}, {os.cpu_count()} cores",
        "load_before": os.getloadavg()[0],
        "rounds": args.rounds,
        "sizes": {},
    }
    for n in [int(s) for s in args.sizes.split(",")]:
        folder = contenders.prepare(n, 1)
        models = {layout: build(folder, transposed=(i == 1)) for i, layout in enumerate(LAYOUTS)}
        calls = {layout: contenders.compiled_caller(compiled) for layout, compiled in models.items()}
        for call in calls.values():
            call()
        (_, _, grad_a, logp_a), (_, _, grad_b, logp_b) = (call.keep for call in calls.values())
        logp_a, logp_b = float(logp_a), float(logp_b)
        agreement = {
            "logp_difference": abs(logp_a - logp_b),
            "max_gradient_difference": float(np.abs(grad_a - grad_b).max()),
        }
        repeats = 3000 if n <= 2000 else 300
        per_call: dict[str, list[float]] = {layout: [] for layout in LAYOUTS}
        fits: dict[str, list[dict]] = {layout: [] for layout in LAYOUTS}
        for round_ in range(args.rounds):
            order = LAYOUTS if round_ % 2 == 0 else LAYOUTS[::-1]
            for layout in order:
                call = calls[layout]
                started = time.process_time()
                for _ in range(repeats):
                    call()
                per_call[layout].append((time.process_time() - started) / repeats * 1e6)
            for layout in order:
                fits[layout].append(fit(models[layout], seed=round_ + 1))
                print(n, round_, layout, json.dumps(fits[layout][-1]), flush=True)
        document["sizes"][str(n)] = {"agreement": agreement, "per_call_us": per_call, "fits": fits}
    document["load_after"] = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "design_layout.json").write_text(json.dumps(document, indent=1))
    (RESULTS / "design_layout.md").write_text(render(document))
    print(render(document))
    return 0


def render(document: dict) -> str:
    def summary(values: list[float], digits: int = 1) -> str:
        return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"

    lines = [
        "# Design matrix layout: row by row (`X`) or transposed (`X_T`)",
        "",
        "`benchmarks/design_layout.py`; see its docstring.",
        "",
        f"Measured {document['started']} on {document['machine']}; load average {document['load_before']:.2f} "
        f"before, {document['load_after']:.2f} after; {document['rounds']} interleaved rounds, median (range).",
        "",
    ]
    for n, size in document["sizes"].items():
        agreement = size["agreement"]
        lines += [
            f"**{int(n):,} participants** (log densities differ by {agreement['logp_difference']:.1e}, gradients by "
            f"at most {agreement['max_gradient_difference']:.1e})",
            "",
            "| layout | us per gradient (CPU) | fit CPU s | fit wall s | leapfrog steps | CPU us per step "
            "| divergences |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for layout in LAYOUTS:
            fits = size["fits"][layout]
            lines.append(
                f"| {layout} | {summary(size['per_call_us'][layout])} | {summary([f['cpu_s'] for f in fits], 2)} | "
                f"{summary([f['wall_s'] for f in fits], 2)} | {summary([f['steps'] for f in fits], 0)} | "
                f"{summary([f['us_per_step'] for f in fits])} | {sum(f['divergences'] for f in fits)} |"
            )
        a, b = (statistics.median(size["per_call_us"][layout]) for layout in LAYOUTS)
        sa, sb = (statistics.median(f["us_per_step"] for f in size["fits"][layout]) for layout in LAYOUTS)
        lines += [
            "",
            f"Transposed against row by row: gradient {b / a:.2f}x, CPU per leapfrog step {sb / sa:.2f}x.",
            "",
        ]
        means = {layout: size["fits"][layout][0]["means"] for layout in LAYOUTS}
        lines.append(
            "Posterior means, round 1 (same seed): "
            + "; ".join(
                f"{name} {means[LAYOUTS[0]][name]:.3f} / {means[LAYOUTS[1]][name]:.3f}" for name in means[LAYOUTS[0]]
            )
        )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
