"""Fit every published example and set ipsbayes's numbers beside the source's.

    python examples/reproduce.py [--profile final] [--only seeds rats]

writes ``examples/results.md`` (the README's table) and ``examples/results.json``. The published
numbers below were read from the sources cited in each example's ``SOURCE.md``; ``tests/test_examples.py``
fits each example at the ``ci`` profile and checks the same quantities with loose tolerances.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Quantity:
    """One published number: what it is, its value and spread, how to get it from a fit, and the tolerance."""

    label: str
    published: float
    spread: float  # posterior SD (Bayesian sources) or standard error (ML sources)
    get: Callable[[xr.Dataset, xr.Dataset], np.ndarray]
    tolerance: float  # |ipsbayes mean - published| allowed in a ci-profile test, in units of ``spread``
    spread_published: bool = True  # False: ``spread`` is only the test's scale (ML sources give no SE for SDs)


def post(name: str, **sel: str) -> Callable[[xr.Dataset, xr.Dataset], np.ndarray]:
    """A posterior variable (optionally one element)."""

    def get(posterior: xr.Dataset, estimands: xr.Dataset) -> np.ndarray:
        value = posterior[name]
        return np.asarray(value.sel(sel) if sel else value).ravel()

    return get


def est(name: str, scale: float = 1.0) -> Callable[[xr.Dataset, xr.Dataset], np.ndarray]:
    """An estimand, times ``scale``."""
    return lambda posterior, estimands: scale * np.asarray(estimands[name]).ravel()


def rats_alpha0(posterior: xr.Dataset, estimands: xr.Dataset) -> np.ndarray:
    """Weight at birth: alpha.c - 22 beta.c (the source's alpha0)."""
    return np.asarray(posterior["intercept"] - 22.0 * posterior["beta"].sel(term="day_c")).ravel()


@dataclass(frozen=True)
class Example:
    """A published analysis reproduced by a config under examples/."""

    name: str
    config: str
    source: str
    how: str  # "Bayesian, source's priors" or "ML; weakly informative priors"
    quantities: tuple[Quantity, ...]
    published_result: bool = True  # False: the reference numbers were computed, not published


EXAMPLES = (
    Example(
        "seeds",
        "seeds/seeds.toml",
        "BUGS Seeds (MultiBUGS Examples Vol. 1; Crowder 1978)",
        "Bayesian, the source's priors",
        (
            Quantity("alpha0 (intercept)", -0.5484, 0.2143, post("intercept"), 1.0),
            Quantity("alpha1 (seed type)", 0.06001, 0.3478, post("beta", term="x1"), 1.0),
            Quantity("alpha2 (root extract)", 1.36, 0.3077, post("beta", term="x2"), 1.0),
            Quantity("alpha12 (interaction)", -0.8343, 0.4845, post("beta", term="x1:x2"), 1.0),
            Quantity("sigma (plate SD)", 0.3543, 0.1491, post("sd_plate"), 1.0),
        ),
    ),
    Example(
        "rats",
        "rats/rats.toml",
        "BUGS Rats (MultiBUGS Examples Vol. 1; Gelfand et al. 1990)",
        "Bayesian, the source's priors",
        (
            Quantity("alpha0 (weight at birth, g)", 106.6, 3.66, rats_alpha0, 1.0),
            Quantity("beta.c (growth, g/day)", 6.186, 0.1089, post("beta", term="day_c"), 1.0),
            Quantity("sigma (residual SD, g)", 6.093, 0.4643, post("sigma"), 1.0),
        ),
    ),
    Example(
        "vitamin_a",
        "vitamin_a/vitamin_a.toml",
        "Vitamin A CACE (Lee, Feller & Rabe-Hesketh 2023, Stan case study; Sommer & Zeger 1991)",
        "Bayesian, the source's priors (on probabilities)",
        (
            Quantity("CACE per 1,000 compliers", 3.226, 1.144, est("cace", 10.0), 1.0),
            Quantity("complier share", 0.800, 0.004, est("complier_share", 0.01), 1.5),
        ),
    ),
    Example(
        "cbpp",
        "cbpp/cbpp.toml",
        "lme4 cbpp (Bates et al. 2015; Lesnoff et al. 2004)",
        "ML (Laplace); weakly informative priors",
        (
            Quantity("(Intercept)", -1.3985, 0.2312, post("intercept"), 1.0),
            Quantity("period2", -0.9923, 0.3032, post("beta", term="period[2]"), 1.0),
            Quantity("period3", -1.1287, 0.3228, post("beta", term="period[3]"), 1.0),
            Quantity("period4", -1.5803, 0.4220, post("beta", term="period[4]"), 1.0),
            Quantity("herd SD", 0.6422, 0.2, post("sd_herd"), 1.5, spread_published=False),
        ),
    ),
    Example(
        "sleepstudy",
        "sleepstudy/sleepstudy.toml",
        "lme4 sleepstudy (Bates et al. 2015; Belenky et al. 2003)",
        "REML; weakly informative priors scaled to the data",
        (
            Quantity("(Intercept), ms", 251.405, 6.825, post("intercept"), 1.0),
            Quantity("Days, ms/day", 10.467, 1.546, post("beta", term="Days"), 1.0),
            Quantity(
                "SD subject intercepts",
                24.741,
                6.0,
                post("sd_Subject", Subject_coef="Intercept"),
                1.5,
                spread_published=False,
            ),
            Quantity(
                "SD subject slopes", 5.922, 1.5, post("sd_Subject", Subject_coef="Days"), 1.5, spread_published=False
            ),
            Quantity("residual SD", 25.592, 1.5, post("sigma"), 1.5, spread_published=False),
        ),
    ),
    Example(
        "contraception",
        "contraception/contraception.toml",
        "mlmRev Contraception, nested M2 (lme4pureR tests; Bangladesh Fertility Survey 1988)",
        "ML (Laplace); weakly informative priors",
        (
            Quantity("(Intercept)", -1.032745, 0.175593, post("intercept"), 1.0),
            Quantity("age", 0.005876, 0.007935, post("beta", term="age"), 1.0),
            Quantity("age^2", -0.004537, 0.000724, post("beta", term="I(age ** 2)"), 1.0),
            Quantity("ch (any child)", 0.872691, 0.149028, post("beta", term="ch"), 1.0),
            Quantity("urban", 0.764670, 0.169725, post("beta", term="urban[Y]"), 1.0),
            Quantity("SD district:urban", 0.5645, 0.12, post("sd_urban"), 1.5, spread_published=False),
        ),
    ),
    Example(
        "verbagg",
        "verbagg/verbagg.toml",
        "lme4 VerbAgg, crossed person x item (MixedModels.jl deviance 8151.40; ML table computed)",
        "ML (Laplace) reproduced at the published deviance; weakly informative priors",
        (
            Quantity("(Intercept)", 0.19913, 0.4052, post("intercept"), 1.0),
            Quantity("Anger", 0.05743, 0.01676, post("beta", term="Anger"), 1.0),
            Quantity("Gender M", 0.32071, 0.1913, post("beta", term="Gender[M]"), 1.0),
            Quantity("btype scold", -1.05880, 0.2568, post("beta", term="btype[scold]"), 1.0),
            Quantity("btype shout", -2.10540, 0.2585, post("beta", term="btype[shout]"), 1.0),
            Quantity("situ self", -1.05547, 0.2103, post("beta", term="situ[self]"), 1.0),
            Quantity("SD person", 1.3397, 0.08, post("sd_id"), 1.5, spread_published=False),
            Quantity("SD item", 0.4953, 0.1, post("sd_item"), 1.5, spread_published=False),
        ),
        published_result=False,
    ),
    Example(
        "jobs2",
        "jobs2/jobs2.toml",
        "JOBS II continuous CACE (mediation::jobs; Vinokur et al. 1995): Wald/IV estimate computed",
        "moment (IV) estimate; data-scaled priors",
        (Quantity("CACE on depressive symptoms", -0.1022, 0.0755, est("cace"), 1.0),),
        published_result=False,
    ),
)


def fit_example(example: Example, profile: str, seed: int | None = None) -> tuple[xr.Dataset, xr.Dataset, dict]:
    """Fit one example through ipsbayes's pipeline; return its posterior, estimands and diagnostics."""
    from ipsbayes.pipeline import fit
    from ipsbayes.runner import check
    from ipsbayes.testing import load_raw_config

    plan = check(load_raw_config(HERE / example.config))
    config = plan.config.with_overrides(profile=profile, seed=seed)
    fitted = fit(plan.family, plan.spec, plan.priors, config, data=plan.data, model=plan.model, progress=False)
    status = {"status": fitted.diagnostics.status, "messages": fitted.diagnostics.messages}
    return fitted.posterior, fitted.estimands, status | {"timings": fitted.timings}


def write_table(results: dict, profile: str) -> str:
    """The README table (``examples/results.md``): source numbers beside ipsbayes's."""
    lines = [
        f"| analysis | how the source fitted it | quantity | source | ipsbayes ({profile} profile) |",
        "| --- | --- | --- | ---: | ---: |",
    ]
    for example in EXAMPLES:
        if example.name not in results:
            continue
        for i, row in enumerate(results[example.name]["rows"]):
            mark = "" if example.published_result else " (computed)"
            name = f"[{example.name}](examples/{example.config}){mark}" if i == 0 else ""
            how = example.how if i == 0 else ""
            spread = f" ({row['spread']:.2g})" if row["spread"] is not None else ""
            lines.append(
                f"| {name} | {how} | {row['label']} | {row['published']:.4g}{spread} | "
                f"{row['mean']:.4g} ({row['sd']:.2g}) |"
            )
    text = "\n".join(lines) + "\n"
    (HERE / "results.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Fit the examples and write results.md and results.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="final", choices=["ci", "default", "final"])
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--table-only", action="store_true", help="rewrite results.md from results.json")
    args = parser.parse_args(argv)
    if args.table_only:
        stored = json.loads((HERE / "results.json").read_text())
        for example in EXAMPLES:  # which spreads are published is a property of the source, not of the run
            rows = stored["results"].get(example.name, {}).get("rows", [])
            for row, quantity in zip(rows, example.quantities, strict=False):
                row["spread"] = quantity.spread if quantity.spread_published else None
        print(write_table(stored["results"], stored["profile"]))
        return 0
    warnings.simplefilter("ignore")
    results = {}
    for example in EXAMPLES:
        if args.only and example.name not in args.only:
            continue
        started = time.perf_counter()
        posterior, estimands, status = fit_example(example, args.profile)
        rows = []
        for q in example.quantities:
            draws = q.get(posterior, estimands)
            rows.append(
                {
                    "label": q.label,
                    "published": q.published,
                    "spread": q.spread if q.spread_published else None,
                    "mean": float(np.mean(draws)),
                    "sd": float(np.std(draws)),
                }
            )
        results[example.name] = {
            "rows": rows,
            "diagnostics": status["status"],
            "seconds": time.perf_counter() - started,
        }
        print(example.name, status["status"], f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    stored = HERE / "results.json"
    if args.only and stored.is_file():  # refit some: keep the others' stored numbers
        previous = json.loads(stored.read_text())
        if previous["profile"] == args.profile:
            results = previous["results"] | results
            results = {e.name: results[e.name] for e in EXAMPLES if e.name in results}
    stored.write_text(json.dumps({"profile": args.profile, "results": results}, indent=1))
    print(write_table(results, args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
