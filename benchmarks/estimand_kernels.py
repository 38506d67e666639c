"""The estimands' sweep with and without the fused numba kernels (issue 15).

``Predictor.averages`` on the reference model's shapes: a Bernoulli outcome, 43 services with their
intercepts, an IPS-25 fidelity slope, five population-level columns, 4,000 draws, a 33-point fidelity
curve and five counterfactual designs (a numeric column shifted by one unit; a binary column set to
0 and to 1; another set to 0 and to 1). The draws are synthetic (posterior-like magnitudes) so that
only the sweep is timed. Contenders, interleaved in one process (A, B, A, B, ...), medians and ranges:

- ``numpy``: the curve's and the counterfactuals' sums in numpy (four or five passes over the rows);
- ``kernel``: :mod:`ipsbayes.kernels`, one fused numba pass each with one division per row;
- ``pairs``: the same kernels adding rows in pairs, one division per pair (what a run uses where no
  product can overflow).

Both use the same thread count (``--threads``, default 2 as on the 2-core machine the targets are
measured on) and are checked to agree before timing.

Usage::

    python benchmarks/estimand_kernels.py --rows 1500 15000 150000 --rounds 3

Writes ``benchmarks/results/estimand_kernels.md``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from ipsbayes import chunks, kernels
from ipsbayes.families import get_outcome_family
from ipsbayes.models.predict import BlockDraws, Predictor

RESULTS = Path(__file__).resolve().parent / "results"
DRAWS, SERVICES, COLUMNS, VALUES = 4_000, 43, 5, 33


def predictor(rows: int, seed: int = 1) -> tuple[Predictor, list[np.ndarray], np.ndarray]:
    """Synthetic posterior draws and data of the reference model's shapes."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, COLUMNS))
    X[:, 1:3] = rng.integers(0, 2, size=(rows, 2))  # two binary columns
    service = rng.integers(0, SERVICES, size=rows)
    fidelity = rng.normal(size=SERVICES)
    pred = Predictor(
        family=get_outcome_family("bernoulli"),
        intercept=rng.normal(-0.3, 0.05, size=DRAWS),
        beta=rng.normal(0.2, 0.05, size=(DRAWS, COLUMNS)),
        X=X,
        weights=np.ones(rows),
        blocks=[BlockDraws(rng.normal(0.0, 0.3, size=(DRAWS, SERVICES)), service, None)],
        fidelity_slope=rng.normal(0.25, 0.05, size=DRAWS),
        fidelity=fidelity,
        fidelity_idx=service,
    )
    shifted = X.copy()
    shifted[:, 0] += 1.0
    designs = [shifted]
    for column in (1, 2):
        for value in (0.0, 1.0):
            design = X.copy()
            design[:, column] = value
            designs.append(design)
    return pred, designs, np.linspace(-2.5, 2.0, VALUES)


def sweep(pred: Predictor, designs: list[np.ndarray], values: np.ndarray, threads: int) -> np.ndarray:
    with chunks.threads(threads):
        averages = pred.averages(designs, fidelity_values=values)
    return np.column_stack([averages.fidelity, *averages.counterfactuals])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_500, 15_000, 150_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    compiled = {name: kernels.compiled_kernel(name) for name in kernels._LOOPS}
    if None in compiled.values():
        raise SystemExit("numba is not available: nothing to compare")
    lines = [
        "# Estimands' sweep: numpy against the fused kernels, one division per row or per pair of rows",
        "",
        f"`Predictor.averages`, {DRAWS:,} draws, {SERVICES} services, {COLUMNS} columns, {VALUES}-point curve,"
        f" five counterfactual designs, {args.threads} threads; interleaved, {args.rounds} rounds;"
        " median (range), seconds.",
        "",
        "| rows | numpy | kernel | pairs | kernel / pairs | numpy / pairs |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for rows in args.rows:
        pred, designs, values = predictor(rows)
        times: dict[str, list[float]] = {"numpy": [], "kernel": [], "pairs": []}
        results = {}
        for _ in range(args.rounds):
            for name in times:
                # numpy: no kernel at all; kernel: no pairs kernel (the wrappers fall back to numpy there, so
                # the one-division kernels stand in for them); pairs: every kernel, as a run has them
                chosen = {k: None if name == "numpy" else v for k, v in compiled.items()}
                if name == "kernel":
                    chosen |= {"curve_pairs": compiled["curve"], "shifted_pairs": compiled["shifted"]}
                kernels._KERNEL.update(chosen)
                start = time.perf_counter()
                results[name] = sweep(pred, designs, values, args.threads)
                times[name].append(time.perf_counter() - start)
        kernels._KERNEL.update(compiled)
        np.testing.assert_allclose(results["kernel"], results["numpy"], rtol=1e-12)
        np.testing.assert_allclose(results["pairs"], results["numpy"], rtol=1e-12)
        med = {name: statistics.median(t) for name, t in times.items()}
        cells = [f"{med[n]:.2f} ({min(times[n]):.2f}-{max(times[n]):.2f})" for n in times]
        ratios = f"{med['kernel'] / med['pairs']:.2f}x | {med['numpy'] / med['pairs']:.1f}x"
        lines.append(f"| {rows:,} | {' | '.join(cells)} | {ratios} |")
        print(lines[-1], flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "estimand_kernels.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
