"""ipsbayes vs RBesT on RBesT's ankylosing spondylitis example, with Monte Carlo error from repeated runs.

Usage (repository root)::

    .venv/bin/python benchmarks/rbest_as.py [--repeats 12] [--profile default]

Runs ``examples/rbest_as/as_map.toml`` (gMAP with HalfNormal(1) between-trial SD and Normal(0, 2)
mean, beta mixture by AIC, robust weight 0.2) with ``--repeats`` seeds. For each number RBesT
publishes (``examples/rbest_as/rbest_reference.toml``) it reports our mean and SD over the seeds
and ``z = (our mean - RBesT) / our SD``: RBesT's single run has about the same Monte Carlo SD as
one of ours (same number of draws), so |z| below 2 means agreement within Monte Carlo error.
Writes ``benchmarks/results/rbest_as.md`` and ``.json``. The test in tests/test_map_prior.py
(marked slow: ``make test-slow``) runs one seed with the ``ci`` profile.
"""

from __future__ import annotations

import argparse
import json
import time
import tomllib
from pathlib import Path

import numpy as np

from ipsbayes.ess import postmix_binomial, prob_difference_above
from ipsbayes.evidence.config import load_map_config
from ipsbayes.evidence.derive import derive_map
from ipsbayes.mixture import Mixture

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "rbest_as"


def one_run(seed: int, profile: str) -> dict[str, float]:
    config = load_map_config(EXAMPLE / "as_map.toml")
    config = config.model_copy(update={"seed": seed, "sampler": config.sampler.model_copy(update={"profile": profile})})
    result = derive_map(config)
    part = result.parts["control"]
    tau = result.datatree["posterior"]["tau_control"].values.ravel()
    reference = tomllib.loads((EXAMPLE / "rbest_reference.toml").read_text())["trial"]
    placebo = postmix_binomial(part.robust, reference["r_placebo"], reference["n_placebo"])
    w, a, b = reference["treat_prior"]
    treat = postmix_binomial(Mixture("beta", [w], [a], [b]), reference["r_treat"], reference["n_treat"])
    draws = part.draws
    return {
        "tau_mean": float(tau.mean()),
        "tau_sd": float(tau.std()),
        "tau_median": float(np.median(tau)),
        "map_mean": float(draws.mean()),
        "map_sd": float(draws.std()),
        "map_q025": float(np.quantile(draws, 0.025)),
        "map_median": float(np.median(draws)),
        "map_q975": float(np.quantile(draws, 0.975)),
        "mixture_mean": part.mixture.mean(),
        "mixture_sd": part.mixture.sd(),
        "components": part.mixture.size,
        "ess_elir": part.ess["elir"],
        "ess_moment": part.ess["moment"],
        "ess_robust_elir": part.ess["elir_robust"],
        "prob_difference_above_0": prob_difference_above(treat, placebo),
        "seconds": sum(result.timings.values()),
        "divergences": int(result.datatree["sample_stats"]["diverging"].sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=12)
    parser.add_argument("--profile", default="default", choices=["ci", "default", "final"])
    args = parser.parse_args()
    reference = tomllib.loads((EXAMPLE / "rbest_reference.toml").read_text())
    rbest = {
        **{f"tau_{k}": reference["gmap"][f"tau_{k}"] for k in ("mean", "sd", "median")},
        **{k: reference["gmap"][k] for k in ("map_mean", "map_sd", "map_q025", "map_median", "map_q975")},
        "mixture_mean": reference["mixture"]["mean"],
        "mixture_sd": reference["mixture"]["sd"],
        "components": len(reference["mixture"]["w"]),
        "ess_elir": reference["ess"]["elir"],
        "ess_moment": reference["ess"]["moment"],
        "ess_robust_elir": reference["ess"]["robust_elir"],
        "prob_difference_above_0": reference["trial"]["prob_difference_above_0"],
    }
    started = time.perf_counter()
    runs = [one_run(seed, args.profile) for seed in range(1, args.repeats + 1)]
    rows = []
    for key, value in rbest.items():
        values = np.array([run[key] for run in runs], dtype=float)
        sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
        z = (float(values.mean()) - value) / sd if sd > 0 else float("nan")
        rows.append({"quantity": key, "rbest": value, "ours_mean": float(values.mean()), "ours_sd": sd, "z": z})
    out = {
        "profile": args.profile,
        "repeats": args.repeats,
        "seconds_total": round(time.perf_counter() - started, 1),
        "seconds_per_run": round(float(np.mean([r["seconds"] for r in runs])), 1),
        "divergences": int(sum(r["divergences"] for r in runs)),
        "rows": rows,
        "runs": runs,
    }
    results = ROOT / "benchmarks" / "results"
    (results / f"rbest_as_{args.profile}.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [
        f"# ipsbayes vs RBesT, ankylosing spondylitis example ({args.profile} profile, {args.repeats} seeds)",
        "",
        "RBesT numbers: RBesT 1.9-0 introduction vignette (examples/rbest_as/rbest_reference.toml). "
        "z = (our mean - RBesT) / our SD over seeds.",
        "",
        "| quantity | RBesT | ipsbayes mean | ipsbayes SD over seeds | z |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        cells = f"{row['rbest']:.4g} | {row['ours_mean']:.4g} | {row['ours_sd']:.3g} | {row['z']:+.2f}"
        lines.append(f"| {row['quantity']} | {cells} |")
    lines += [
        "",
        f"{out['seconds_per_run']} s per run (sampling, mixture fits and ESS); {out['divergences']} divergent "
        "transitions in all runs together.",
        "",
    ]
    (results / f"rbest_as_{args.profile}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
