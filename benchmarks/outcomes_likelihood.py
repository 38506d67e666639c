"""Gradient cost of the competing-outcomes likelihood: the observed entry of ``log_p`` against ``pm.Categorical``.

Usage (from the repository root)::

    .venv/bin/python benchmarks/outcomes_likelihood.py

The model (``models/ipsung_outcomes.toml`` on its bundled data: 1,500 participants, 4 categories, 43 services,
correlated service effects) builds normalised log-probabilities ``log_p`` per participant. The shipped
likelihood picks the observed category's entry; ``pm.Categorical(logit_p=log_p)`` normalises again with a
softmax and checks that the probabilities sum to one. Both log densities (priors and Jacobians included)
are compiled with PyTensor's numba backend, as nutpie uses, and timed interleaved: five rounds of 300
evaluations of log density and gradient, CPU milliseconds per evaluation, median and range. Writes
``benchmarks/results/outcomes_likelihood.{json,md}``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    from ipsbayes.runner import check
    from ipsbayes.sampling import one_blas_thread

    plan = check(REPO / "models" / "ipsung_outcomes.toml")
    model = plan.model
    observed = model[plan.data.info["response"]]
    y = pt.as_tensor(plan.data.arrays["y"])
    priors = model.logp(vars=model.free_RVs)
    categorical = pm.logp(pm.Categorical.dist(logit_p=observed.owner.inputs[-1]), y).sum()
    forms = {
        "observed entry of log_p (shipped)": model.logp(),
        "pm.Categorical(logit_p=log_p)": priors + model.replace_rvs_by_values([categorical])[0],
    }
    values = model.value_vars
    functions = {}
    for label, logp in forms.items():
        functions[label] = pytensor.function(values, [logp, *pytensor.grad(logp, values)], mode="NUMBA")
    point = list(model.initial_point().values())
    logps = {label: float(function(*point)[0]) for label, function in functions.items()}
    timings: dict[str, list[float]] = {label: [] for label in functions}
    with one_blas_thread():
        for _ in range(5):
            for label, function in functions.items():
                started = time.process_time()
                for _ in range(300):
                    function(*point)
                timings[label].append(1000 * (time.process_time() - started) / 300)
    rows = [
        {
            "form": label,
            "ms_per_gradient": round(float(np.median(times)), 3),
            "ms_range": [round(min(times), 3), round(max(times), 3)],
            "logp_at_initial_point": logps[label],
        }
        for label, times in timings.items()
    ]
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}", "rows": plan.data.n_rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "outcomes_likelihood.json").write_text(json.dumps({"meta": meta, "forms": rows}, indent=2) + "\n")
    lines = [
        "# Competing outcomes: cost of a log density and gradient",
        "",
        f"Machine: {meta['machine']}; {meta['rows']:,} participants (models/ipsung_outcomes.toml). Five interleaved "
        "rounds of 300 evaluations; median (range) CPU ms.",
        "",
        "| likelihood form | ms per gradient (CPU) | log density at the initial point |",
        "| --- | ---: | ---: |",
    ]
    lines += [
        f"| {r['form']} | {r['ms_per_gradient']} ({r['ms_range'][0]}-{r['ms_range'][1]}) | "
        f"{r['logp_at_initial_point']:.6f} |"
        for r in rows
    ]
    (RESULTS / "outcomes_likelihood.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
