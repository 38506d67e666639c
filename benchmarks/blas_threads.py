"""What BLAS threads cost a fit: the same compiled model sampled with and without one BLAS thread.

Usage (repository root, after ``make install``)::

    .venv/bin/python benchmarks/blas_threads.py                  # 150,000 participants
    .venv/bin/python benchmarks/blas_threads.py --rows 15000

The reference model (Bernoulli outcome, 43 services, service intercepts, IPS-25 fidelity slope,
continuous age and months outside work, gender and diagnosis) is built by ipsbayes from data simulated
by ``ipsbayes simulate ipsung`` and compiled once; then, interleaved over ``--rounds`` rounds, nutpie
samples it (4 chains, ``--draws`` draws after as many tuning steps, on every core) with OpenBLAS's own
threading and inside ``threadpoolctl.threadpool_limits(1, "blas")``, which is what
:func:`ipsbayes.sampling.sample` does. The design-matrix product ``X @ beta`` of a long data set
crosses OpenBLAS's threading threshold; its threads busy-wait and fight the chains for the cores.
Reported: medians (ranges) of wall time, process CPU time and CPU per leapfrog step. Writes
``benchmarks/results/blas_threads.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FORMULA = "work_or_education_12m ~ age + gender + months_outside + diagnosis + ips25 + (1 | service)"


def reference_model(rows: int, folder: Path):
    from ipsbayes.runner import check
    from ipsbayes.simulate import simulate

    tables, _ = simulate("ipsung", seed=1, options={"n_participants": rows})
    tables["participants"].to_csv(folder / "participants.csv", index=False)
    tables["services"].to_csv(folder / "services.csv", index=False)
    config = {
        "name": "blas",
        "seed": 1,
        "data": {"participants": str(folder / "participants.csv"), "services": str(folder / "services.csv")},
        "model": {"kind": "hierarchical_logistic", "formula": FORMULA, "fidelity": {"column": "ips25"}},
        "sampler": {"profile": "default"},
    }
    return check(config).model


def one_fit(compiled, draws: int, limit: bool, seed: int) -> dict[str, float]:
    import nutpie
    from threadpoolctl import threadpool_limits

    wall, cpu = time.perf_counter(), time.process_time()
    with threadpool_limits(limits=1, user_api="blas") if limit else _nothing():
        tree = nutpie.sample(compiled, draws=draws, tune=draws, chains=4, cores=os.cpu_count(), seed=seed)
    steps = int(np.asarray(tree["sample_stats"]["n_steps"]).sum())
    cpu = time.process_time() - cpu
    return {"wall_s": time.perf_counter() - wall, "cpu_s": cpu, "steps": steps, "cpu_us_per_step": 1e6 * cpu / steps}


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=150_000)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import nutpie
    from threadpoolctl import threadpool_info

    from ipsbayes.nutpie_compile import free_names

    with tempfile.TemporaryDirectory() as tmp:
        model = reference_model(args.rows, Path(tmp))
    started = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model, backend="numba", freeze_model=True, var_names=free_names(model))
    print(f"compiled in {time.perf_counter() - started:.1f} s", flush=True)
    results: dict[str, list[dict[str, float]]] = {"OpenBLAS threads (library default)": [], "one BLAS thread": []}
    for round_ in range(args.rounds):
        order = list(results) if round_ % 2 == 0 else list(reversed(results))
        for name in order:
            result = one_fit(compiled, args.draws, limit=name == "one BLAS thread", seed=round_ + 1)
            results[name].append(result)
            print(round_, name, {k: round(v, 2) for k, v in result.items()}, flush=True)
    blas = [
        f"{lib.get('internal_api')} {lib.get('version')} ({lib.get('num_threads')} threads)"
        for lib in threadpool_info()
    ]
    lines = [
        f"# BLAS threads: {args.rows:,} participants, 4 chains x {args.draws} draws after {args.draws} tuning steps",
        "",
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, load average before: "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}; BLAS libraries: {'; '.join(blas)}. "
        f"Interleaved over {args.rounds} rounds; median (range).",
        "",
        "| BLAS threading | wall s | process CPU s | CPU µs per leapfrog step |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, rows in results.items():
        cells = []
        for key, fmt in (("wall_s", "{:.1f}"), ("cpu_s", "{:.1f}"), ("cpu_us_per_step", "{:,.0f}")):
            values = [r[key] for r in rows]
            cells.append(
                f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("blas_threads.md" if args.rows == 150_000 else f"blas_threads_{args.rows}.md")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
