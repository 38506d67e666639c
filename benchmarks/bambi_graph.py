"""Why the multilevel graph is written by hand instead of taken from Bambi: same density, cheaper gradient.

Usage (repository root)::

    .venv/bin/python benchmarks/bambi_graph.py [--n 1500] [--rounds 7]

For a model both can express (Bernoulli outcome, population-level predictors, one random
intercept: the IPS ung model without fidelity, on simulated data), it

1. builds Bambi 0.21's graph (``bmb.Model(...).build()``) and ipsbayes's, with the same priors,
   and checks that their log densities agree at random points (same model, same numbers);
2. times one log-density-and-gradient evaluation of each (the cost of every leapfrog step),
   interleaved, through nutpie's compiled function (numba), as the sampler calls it;
3. times compile + sample with nutpie (ci profile) for each.

It also lists what Bambi 0.21 cannot express that ipsbayes needs. Writes
``benchmarks/results/bambi_graph.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FORMULA = "work_or_education_12m ~ age + gender + months_outside + diagnosis + (1 | service)"

#: what the IPS analyses need that Bambi 0.21 cannot express (checked in its source)
MISSING_IN_BAMBI = [
    "correlated varying slopes with an LKJ prior (the LKJ code in bambi/backend/model_components.py is commented "
    "out in 0.21: `(1 + x | g)` gives independent effects)",
    "per-group centring (Bambi's `noncentered` is one switch per model; large groups need centred, small "
    "groups non-centred, in the same factor)",
    "a group-level predictor measured with error (latent fidelity from repeated reviews)",
    "priors stated on the probability scale with their Jacobian, data-scaled defaults checked for meaning",
]


def make_frame(n: int, folder: Path):
    """Simulated IPS ung participants with the service fidelity score joined."""
    import pandas as pd

    from ipsbayes.simulate import simulate

    simulate("ipsung", seed=11, out=folder, options={"n_participants": n})
    people = pd.read_csv(folder / "participants.csv")
    return people


def ipsbayes_model(folder: Path, collapse: str = "never"):
    """ipsbayes's graph for the formula, with priors matching Bambi's below."""
    from ipsbayes.runner import check

    config = {
        "name": "bambi_graph",
        "data": {"main": str(folder / "participants.csv")},
        "model": {"kind": "multilevel", "formula": FORMULA, "collapse": collapse, "parameterisation": "noncentred"},
        "priors": {
            "set": "defaults",
            "overrides": {
                "intercept": {"dist": "Normal", "mu": 0.0, "sigma": 1.5},
                "beta": {"dist": "Normal", "mu": 0.0, "sigma": 1.0},
                "sd_service": {"dist": "HalfNormal", "sigma": 1.0},
            },
        },
        "sampler": {"profile": "ci"},
    }
    return check(config)


def bambi_model(frame, plan):
    """Bambi's graph on the same (standardised) design and priors, predictors not re-centred (same parameters)."""
    import bambi as bmb

    design = plan.data.info["design"]
    data = design.transform(plan.data.info["frame"])
    priors = {
        "Intercept": bmb.Prior("Normal", mu=0.0, sigma=1.5),
        "common": bmb.Prior("Normal", mu=0.0, sigma=1.0),
        "1|service": bmb.Prior("Normal", mu=0.0, sigma=bmb.Prior("HalfNormal", sigma=1.0)),
    }
    model = bmb.Model(FORMULA, data, family="bernoulli", priors=priors, center_predictors=False)
    model.build()
    return model


def nutpie_caller(model):
    """One log-density-and-gradient evaluation through nutpie's compiled C function, as nuts-rs calls it.

    Returns a zero-argument callable and the seconds the numba compilation took.
    """
    import ctypes

    import nutpie

    started = time.perf_counter()
    compiled = nutpie.compile_pymc_model(
        model, backend="numba", freeze_model=True, var_names=[v.name for v in model.free_RVs]
    )
    seconds = time.perf_counter() - started
    n = compiled.n_dim
    x = np.ascontiguousarray(compiled.initial_point_func(1), dtype=np.float64)
    out, logp = np.zeros(n), np.zeros(())
    function = compiled.compiled_logp_func.ctypes
    args = (
        ctypes.c_uint64(n),
        x.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
        out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
        logp.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )

    def call() -> None:
        function(*args)

    call.keep = (compiled, x, out, logp)  # the C function points into these
    return call, seconds


def time_calls(functions: dict, rounds: int, reps: int = 300) -> dict[str, list[float]]:
    """Microseconds per call, interleaved rounds (thread CPU time: robust to other jobs on shared cores)."""
    out = {name: [] for name in functions}
    for function in functions.values():
        for _ in range(30):
            function()
    for _ in range(rounds):
        for name, function in functions.items():
            started = time.thread_time()
            for _ in range(reps):
                function()
            out[name].append((time.thread_time() - started) / reps * 1e6)
    return out


def same_density(plan, bambi) -> float:
    """Largest |difference| of the two log densities over random points (mapped parameter by parameter)."""
    import pymc as pm

    ours, theirs = plan.model, bambi.backend.model
    rng = np.random.default_rng(0)
    worst = 0.0
    terms = list(plan.data.coords["term"])
    bambi_terms = {name: bambi.backend.model[name] for name in theirs.named_vars if name in bambi.components["p"].terms}
    for _ in range(5):
        point = {k: rng.normal(0, 0.5, size=np.shape(v)) for k, v in ours.initial_point().items()}
        mapped = {
            "Intercept": point["intercept"],
            "1|service_sigma_log__": point["sd_service_log__"],
            "1|service_offset": point["z_service"],
        }
        start = 0
        for name, var in bambi_terms.items():
            if name in ("Intercept", "1|service"):
                continue
            width = int(np.prod(var.eval().shape)) if var.ndim else 1
            mapped[name] = point["beta"][start : start + width].reshape(np.shape(theirs.initial_point()[name]))
            start += width
        assert start == len(terms), (start, terms)
        ours_value = ours.compile_logp()(point)
        theirs_value = theirs.compile_logp()(pm.model.Point(mapped, model=theirs))
        worst = max(worst, abs(float(ours_value) - float(theirs_value)))
    return worst


def sample_wall(model) -> float:
    """Seconds to compile and sample with nutpie (ci profile settings)."""
    import nutpie

    started = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model, backend="numba", freeze_model=True)
    nutpie.sample(compiled, draws=400, tune=400, chains=2, cores=2, seed=1, progress_bar=False)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and write the results table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frame = make_frame(args.n, folder)
        plan = ipsbayes_model(folder)
        bambi = bambi_model(frame, plan)
        difference = same_density(plan, bambi)
        callers = {"ipsbayes": nutpie_caller(plan.model), "Bambi 0.21": nutpie_caller(bambi.backend.model)}
        timings = time_calls({name: call for name, (call, _) in callers.items()}, args.rounds)
        compiles = {name: seconds for name, (_, seconds) in callers.items()}
        walls = {"ipsbayes": sample_wall(plan.model), "Bambi 0.21": sample_wall(bambi.backend.model)}
    lines = [
        f"# Bambi's graph against ipsbayes's ({args.n} rows, {FORMULA})",
        "",
        f"Largest difference of the two log densities over 5 random points: {difference:.2e} (same model).",
        "",
        "| graph | log density + gradient through nutpie, us per call (median, range) | numba compile, s | "
        "compile + sample (ci), s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, values in timings.items():
        lines.append(
            f"| {name} | {statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f}) | "
            f"{compiles[name]:.1f} | {walls[name]:.1f} |"
        )
    lines += ["", "What ipsbayes needs that Bambi 0.21 cannot express:", ""]
    lines += [f"- {item}" for item in MISSING_IN_BAMBI]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bambi_graph.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
