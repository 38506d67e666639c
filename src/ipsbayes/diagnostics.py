"""The diagnostics gate: a DataTree in, pass/warn/fail per check out.

Checks (thresholds in :class:`~ipsbayes.config.DiagnosticsConfig`):

- R-hat (rank-normalised, Vehtari et al. 2021) of every posterior quantity;
- bulk and tail ESS relative to the number of chains (both computed for all quantities at
  once by :mod:`ipsbayes.convergence`: ArviZ's ``summary`` numbers, without its loop per quantity);
- divergent transitions, tree-depth saturation and E-BFMI, read by ArviZ's
  ``diagnose`` (the same checks as CmdStan's ``diagnose``);
- Pareto k of PSIS-LOO, which says whether leave-one-out estimates, and the
  model's fit to single observations, can be trusted (:mod:`ipsbayes.loo`: ArviZ's
  ``loo`` computed for blocks of observations at once, the same numbers).

Every sampled quantity is checked (intercepts, coefficients, group effects,
group SDs, Cholesky factors, and the deterministics computed from them), and a
check that does not pass names *every* parameter beyond its threshold with a
readable label (``SD of specialist effects``, not ``sd_specialist``) and says
what to do. Divergences and poor mixing are never hidden: every number lands in
``diagnostics.json`` and at the top of the report.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from ipsbayes.config import DiagnosticsConfig
from ipsbayes.convergence import diagnostic_summary
from ipsbayes.loo import psis_loo, relative_efficiency, subsampled_loo

Status = Literal["pass", "warn", "fail", "skipped"]
_ORDER = {"skipped": 0, "pass": 0, "warn": 1, "fail": 2}


#: what to do when a check does not pass, in English and Norwegian
ADVICE: dict[str, tuple[str, str]] = {
    "r_hat": (
        "run longer (`--profile final`, or more `sampler.tune` and `sampler.draws`); if a group SD mixes slowly, "
        "reparameterise its group effects (where the model kind has `model.parameterisation`: the other one, "
        "centred for large groups, non-centred for small ones)",
        "kjør lenger (`--profile final`, eller høyere `sampler.tune` og `sampler.draws`); hvis et gruppe-SD blander "
        "sakte, reparameteriser gruppeeffektene (der modelltypen har `model.parameterisation`: den andre, sentrert "
        "for store grupper, ikke-sentrert for små)",
    ),
    "ess": (
        "draw more (`--profile final` or a larger `sampler.draws`, with more `sampler.tune`); if a group SD is the "
        "slow parameter, reparameterise its group effects (where the model kind has `model.parameterisation`)",
        "trekk flere (`--profile final` eller høyere `sampler.draws`); hvis et gruppe-SD er den trege parameteren, "
        "reparameteriser gruppeeffektene (der modelltypen har `model.parameterisation`)",
    ),
    "divergences": (
        "raise `sampler.target_accept` (e.g. 0.95 or 0.99); if divergences remain, reparameterise "
        "(non-centred group effects for small groups via `model.parameterisation`) or use tighter priors on group SDs",
        "øk `sampler.target_accept` (f.eks. 0.95 eller 0.99); hvis divergensene blir, reparameteriser "
        "(ikke-sentrerte gruppeeffekter for små grupper via `model.parameterisation`) eller bruk strammere "
        "priorer på gruppe-SD",
    ),
    "tree_depth": (
        "slow rather than biased: more tuning (`sampler.tune`) or a reparameterisation usually removes it",
        "tregt snarere enn skjevt: mer tuning (`sampler.tune`) eller en reparameterisering fjerner det vanligvis",
    ),
    "e_bfmi": (
        "reparameterise group effects (`model.parameterisation`) or tighten the priors on group SDs",
        "reparameteriser gruppeeffektene (`model.parameterisation`) eller stram inn priorene på gruppe-SD",
    ),
    "pareto_k": (
        "leave-one-out estimates for these observations are unreliable: check them for outliers or misfit, and "
        "use K-fold cross-validation to compare models",
        "leave-one-out-estimatene for disse observasjonene er upålitelige: se etter uteliggere eller dårlig "
        "tilpasning, og bruk K-fold kryssvalidering for å sammenligne modeller",
    ),
}
#: parameters named in a message before "and N more"
SHOWN = 5


@dataclass(frozen=True)
class Check:
    """One diagnostic check with its number and the rule it was judged by.

    ``parameters`` lists the raw names of every parameter beyond the check's threshold
    (worst first) and ``advice`` says what to do; both are empty when the check passes.
    """

    name: str
    status: Status
    value: float | int | None
    rule: str
    message: str
    parameters: list[str] = field(default_factory=list)
    advice: str = ""
    #: what the sampler did about the check, in English and Norwegian (e.g. a raised target_accept)
    note: tuple[str, str] = ("", "")


@dataclass
class Diagnostics:
    """Result of the gate: overall status, the checks, and plain-language messages."""

    checks: list[Check] = field(default_factory=list)
    worst_parameters: dict[str, list[str]] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        """Worst status over the checks."""
        worst = max((_ORDER[c.status] for c in self.checks), default=0)
        return {0: "pass", 1: "warn", 2: "fail"}[worst]

    @property
    def passed(self) -> bool:
        """True unless a check failed."""
        return self.status != "fail"

    @property
    def messages(self) -> list[str]:
        """Messages of the checks that did not pass, each with what to do."""
        return [
            f"{c.name}: {c.message}" + (f". What to do: {c.advice}" if c.advice else "")
            for c in self.checks
            if c.status in ("warn", "fail")
        ]

    def messages_in(self, language: str = "en") -> list[str]:
        """:attr:`messages` in the report's language ("en" or "nb")."""
        return [check_text(c, language) for c in self.checks if c.status in ("warn", "fail")]

    def table(self) -> pd.DataFrame:
        """One row per check (name, status, value, rule, message)."""
        return pd.DataFrame([asdict(c) for c in self.checks])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form written to ``diagnostics.json``."""
        return {
            "status": self.status,
            "passed": self.passed,
            "checks": [asdict(c) for c in self.checks],
            "worst_parameters": self.worst_parameters,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Diagnostics:
        """Rebuild from ``diagnostics.json``."""
        checks = [Check(**{**c, "note": tuple(c.get("note") or ("", ""))}) for c in raw["checks"]]
        return cls(checks, raw.get("worst_parameters", {}))


def parameter_label(name: str, language: str = "en") -> str:
    """A readable label of a posterior parameter element as ArviZ names it.

    ``sd_specialist`` -> "SD of specialist effects"; ``z_service[S3]`` -> "service effect
    (standardised), S3"; ``service_chol[L[2,1]]`` -> "Cholesky factor of the service covariance,
    row 3, column 2"; ``beta[age]`` -> "coefficient, age". Names no rule knows get spaces for
    underscores.
    """
    base, _, rest = str(name).partition("[")
    coords = rest[:-1] if rest.endswith("]") else rest
    en = language != "nb"
    words = _EN_GROUPS if en else _NB_GROUPS
    unknown = "{}" if en else "{}-"  # Norwegian compounds with a foreign first part take a hyphen
    group_word = lambda g: words.get(g, unknown.format(g.replace("_", " ")))  # noqa: E731
    label = None
    for pattern, english, norwegian in _PARAMETER_PATTERNS:
        match = re.fullmatch(pattern, base)
        if match:
            groups = [group_word(g) for g in match.groups()]
            label = (english if en else norwegian).format(*groups)
            break
    if label is None:
        label = base.replace("_", " ")
    if not coords:
        return label
    cholesky = re.fullmatch(r"L\[(\d+),\s*(\d+)\]", coords)
    if cholesky:
        row, column = int(cholesky[1]) + 1, int(cholesky[2]) + 1
        return f"{label}, " + (f"row {row}, column {column}" if en else f"rad {row}, kolonne {column}")
    return f"{label}, {coords.replace('_', ' ')}"


_EN_GROUPS = {"specialist": "job-specialist"}
_NB_GROUPS = {
    "service": "tjeneste",
    "specialist": "jobbspesialist",
    "equation": "ligning",
    "compliance": "etterlevelses",
    "outcome": "utfalls",
}
_PARAMETER_PATTERNS: tuple[tuple[str, str, str], ...] = (
    (r"intercept", "intercept", "konstantledd"),
    (r"beta", "coefficient", "koeffisient"),
    (r"z_beta", "coefficient (standardised)", "koeffisient (standardisert)"),
    (r"coef_scale", "scale of the coefficients", "skala for koeffisientene"),
    (r"category_intercept", "intercept of each equation", "konstantledd per ligning"),
    (r"sd_(\w+)", "SD of {0} effects", "SD for {0}effekter"),
    (r"(\w+)_sd", "SD of {0} effects", "SD for {0}effekter"),
    (r"z_(\w+)", "{0} effect (standardised)", "{0}effekt (standardisert)"),
    (r"(\w+)_centred", "{0} intercept (centred)", "{0}konstantledd (sentrert)"),
    (r"(\w+)_effect", "{0} effect", "{0}effekt"),
    (r"(\w+)_chol", "Cholesky factor of the {0} covariance", "Cholesky-faktor for {0}kovariansen"),
    (r"(\w+)_corr", "correlation of {0} effects", "korrelasjon mellom {0}effekter"),
    (r"fidelity_slope", "fidelity slope", "stigningstall for modelltrofasthet"),
    (r"fidelity_latent", "true fidelity score", "sann trofasthetsskåre"),
    (r"treatment_effect", "treatment effect (log-odds)", "behandlingseffekt (log-odds)"),
    (r"(\w+)_beta", "{0} coefficient", "{0}koeffisient"),
    (r"(\w+)_intercept", "{0} intercept", "{0}konstantledd"),
)


def check_text(check: Check, language: str = "en") -> str:
    """One sentence for a check that did not pass: what was found, for which parameters, and what to do."""
    if language != "nb":
        return f"{check.name}: {check.message}" + (f". What to do: {check.advice}" if check.advice else "")
    return _decimal_commas(_check_text_nb(check))


def _decimal_commas(text: str) -> str:
    """Norwegian numbers: a decimal point between digits becomes a comma (``1.021`` -> ``1,021``)."""
    return _DECIMAL_POINT.sub(r"\1,\2", text)


_DECIMAL_POINT = re.compile(r"(?<![\w.])(\d+)\.(\d+)(?![\w.])")


def _check_text_nb(check: Check) -> str:
    names = [parameter_label(p, "nb") for p in check.parameters[:SHOWN]]
    rule = check.rule.replace(", ", "; ")  # "1,01; 1,05" once the decimal points are commas
    more = len(check.parameters) - len(names)
    listed = ", ".join(names) + (f" og {more} til" if more > 0 else "")
    found = {
        "r_hat": f"R-hat opptil {_value(check.value)} (regel: {rule})" + (f" for {listed}" if listed else ""),
        "ess_bulk": f"laveste bulk-ESS {_value(check.value)} (regel: {rule})" + (f" for {listed}" if listed else ""),
        "ess_tail": f"laveste hale-ESS {_value(check.value)} (regel: {rule})" + (f" for {listed}" if listed else ""),
        "divergences": f"{check.value} divergente overganger (regel: {rule})"
        + (f" ({check.note[1]})" if check.note[1] else ""),
        "tree_depth": f"{check.value} overganger nådde maksimal tredybde",
        "e_bfmi": f"laveste E-BFMI {_value(check.value)} (regel: {rule})",
    }.get(check.name.split(" ")[0], f"{check.message}")
    if check.name.startswith("pareto_k"):
        found = f"{check.value} observasjoner har Pareto k over grensen ({rule})" + (
            f" ({check.note[1]})" if check.note[1] else ""
        )
    advice = ADVICE.get(_advice_key(check.name), ("", ""))[1]
    return f"{check.name}: {found}" + (f". Hva du kan gjøre: {advice}" if advice else "")


def _value(value: float | int | None) -> str:
    """A check's number as read: four significant digits (``1.021``, ``83.2``), integers as they are."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _advice_key(name: str) -> str:
    if name.startswith("ess"):
        return "ess"
    if name.startswith("pareto_k"):
        return "pareto_k"
    return name


def _advice(name: str, status: Status) -> str:
    return ADVICE.get(_advice_key(name), ("", ""))[0] if status in ("warn", "fail") else ""


def _listing(values: pd.Series, fmt: str) -> str:
    """``SD of specialist effects (1.019), intercept (1.012) and 3 more`` for the worst-first ``values``."""
    shown = [
        f"{parameter_label(str(name))} ({format(float(value), fmt)})" for name, value in values.iloc[:SHOWN].items()
    ]
    more = len(values) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def diagnose(datatree: xr.DataTree, thresholds: DiagnosticsConfig, var_names: list[str] | None = None) -> Diagnostics:
    """Run every check on a fitted DataTree.

    Parameters
    ----------
    datatree : DataTree
        Needs ``posterior`` and ``sample_stats``; ``log_likelihood`` enables the Pareto k check.
    thresholds : DiagnosticsConfig
        Warn/fail rules.
    var_names : list of str, optional
        Posterior variables to check R-hat and ESS on (default: all).
    """
    posterior = datatree["posterior"]
    n_chains = posterior.sizes["chain"]
    total = n_chains * posterior.sizes["draw"]
    checks: list[Check] = []
    result = Diagnostics(checks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = diagnostic_summary(datatree["posterior"].to_dataset(), var_names=var_names)
        sampler = sampler_statistics(datatree)
    checks.append(_rhat_check(summary, thresholds, result))
    for kind in ("bulk", "tail"):
        checks.append(_ess_check(summary, kind, n_chains, thresholds, result))
    divergent = sampler.get("divergent", {}).get("n_divergent")
    if divergent is None:
        checks.append(Check("divergences", "skipped", None, "", "the sampler reported no divergence statistics"))
    else:
        status: Status = "pass" if divergent <= thresholds.max_divergences else "fail"
        note = raised_target_note(datatree)
        checks.append(
            Check(
                "divergences",
                status,
                int(divergent),
                f"fail if > {thresholds.max_divergences}",
                f"{divergent} of {total} transitions diverged"
                + ("; the posterior may be biased where divergences cluster" if divergent else "")
                + (f" ({note[0]})" if note[0] else ""),
                advice=_advice("divergences", "warn" if divergent else "pass"),
                note=note,
            )
        )
    depth = sampler.get("treedepth", {}).get("n_max")
    if depth is not None:
        checks.append(
            Check(
                "tree_depth",
                "pass" if depth == 0 else "warn",
                int(depth),
                "warn if > 0",
                f"{depth} of {total} transitions hit the maximum tree depth"
                + (" (slow exploration, not bias)" if depth else ""),
                advice=_advice("tree_depth", "warn" if depth else "pass"),
            )
        )
    if "bfmi" in sampler:
        values = np.asarray(sampler["bfmi"]["bfmi_values"], dtype=float)
        low = float(values.min())
        checks.append(
            Check(
                "e_bfmi",
                "pass" if low >= thresholds.bfmi_min else "warn",
                round(low, 3),
                f"warn if any chain < {thresholds.bfmi_min}",
                f"lowest E-BFMI over chains {low:.2f}"
                + (" (heavy tails or poor momentum resampling)" if low < thresholds.bfmi_min else ""),
                advice=_advice("e_bfmi", "warn" if low < thresholds.bfmi_min else "pass"),
            )
        )
    checks.extend(_pareto_checks(datatree, thresholds))
    return result


def sampler_statistics(datatree: xr.DataTree) -> dict[str, dict[str, Any]]:
    """Divergences, maximum-tree-depth hits and E-BFMI per chain, as ``az.diagnose`` reports them.

    ``az.diagnose`` also computes bulk and tail ESS and two R-hats of every variable, which
    :func:`diagnose` already has from :func:`~ipsbayes.convergence.diagnostic_summary`; this
    reads only the sampler's statistics
    (same keys and values as ``az.diagnose(..., return_diagnostics=True)[1]``, test in
    ``tests/test_fast_paths.py``).
    """
    if "sample_stats" not in datatree.children:
        return {}
    stats = datatree["sample_stats"].to_dataset()
    out: dict[str, dict[str, Any]] = {}
    if "diverging" in stats:
        out["divergent"] = {"n_divergent": int(stats["diverging"].sum().values)}
    if "reached_max_treedepth" in stats:
        out["treedepth"] = {"n_max": int(stats["reached_max_treedepth"].sum().values)}
    if "energy" in stats:
        out["bfmi"] = {"bfmi_values": az.bfmi(datatree)["energy"].values}
    return out


def raised_target_note(datatree: xr.DataTree) -> tuple[str, str]:
    """English and Norwegian words for a fit sampled again at a higher target_accept ("" when it was not).

    :func:`ipsbayes.sampling.sample_with_ladder` records the raise in the ``sample_stats`` attributes.
    """
    attrs = datatree["sample_stats"].attrs if "sample_stats" in datatree.children else {}
    if "target_accept_raised_from" not in attrs:
        return "", ""
    low, high = float(attrs["target_accept_raised_from"]), float(attrs["target_accept"])
    before = int(attrs.get("divergences_before_raise", 0))
    return (
        f"sampled at target_accept {high:g} after {before} divergent transitions at {low:g}",
        f"samplet med target_accept {_decimal_commas(f'{high:g}')} etter {before} divergente overganger med "
        f"{_decimal_commas(f'{low:g}')}",
    )


def _rhat_check(summary: pd.DataFrame, thresholds: DiagnosticsConfig, result: Diagnostics) -> Check:
    rhat = summary["r_hat"].astype(float).dropna().sort_values(ascending=False)
    worst = float(rhat.iloc[0])
    result.worst_parameters["r_hat"] = rhat.index[:5].tolist()
    if worst > thresholds.rhat_fail:
        status: Status = "fail"
    elif worst > thresholds.rhat_warn:
        status = "warn"
    else:
        status = "pass"
    beyond = rhat[rhat > thresholds.rhat_warn]
    if len(beyond):
        message = (
            f"R-hat above {thresholds.rhat_warn} for {len(beyond)} of {len(rhat)} parameter elements: "
            f"{_listing(beyond, '.3f')}"
        )
    else:
        message = (
            f"largest R-hat {worst:.3f} ({parameter_label(str(rhat.index[0]))}) over {len(rhat)} parameter elements"
        )
    return Check(
        "r_hat",
        status,
        round(worst, 4),
        f"warn > {thresholds.rhat_warn}, fail > {thresholds.rhat_fail}",
        message,
        [str(p) for p in beyond.index],
        _advice("r_hat", status),
    )


def _ess_check(
    summary: pd.DataFrame, kind: str, n_chains: int, thresholds: DiagnosticsConfig, result: Diagnostics
) -> Check:
    ess = summary[f"ess_{kind}"].astype(float).dropna().sort_values()
    lowest = float(ess.iloc[0])
    warn_at, fail_at = thresholds.ess_per_chain * n_chains, thresholds.ess_fail_per_chain * n_chains
    result.worst_parameters[f"ess_{kind}"] = ess.index[:5].tolist()
    status: Status = "fail" if lowest < fail_at else "warn" if lowest < warn_at else "pass"
    below = ess[ess < warn_at]
    if len(below):
        message = (
            f"{kind} ESS below {warn_at:g} for {len(below)} of {len(ess)} parameter elements: {_listing(below, '.0f')}"
        )
    else:
        message = (
            f"lowest {kind} ESS {lowest:.0f} ({parameter_label(str(ess.index[0]))}) over {len(ess)} parameter elements"
        )
    return Check(
        f"ess_{kind}",
        status,
        round(lowest, 1),
        f"warn < {warn_at:g}, fail < {fail_at:g} ({n_chains} chains)",
        message,
        [str(p) for p in below.index],
        _advice(f"ess_{kind}", status),
    )


def _pareto_checks(datatree: xr.DataTree, thresholds: DiagnosticsConfig) -> list[Check]:
    """PSIS-LOO Pareto k for each observed variable (outcome, and e.g. fidelity reviews).

    Above the pointwise limit a run keeps a random subsample of rows (``loo_subsample``): the check
    then reads the subsample's k, and elpd_loo is the difference estimate for every row.
    """
    subsampled = "log_likelihood" not in datatree.children and "loo_subsample" in datatree.children
    if "log_likelihood" not in datatree.children and not subsampled:
        return [Check("pareto_k", "skipped", None, "", "no log-likelihood stored, LOO not computed")]
    pointwise = datatree["loo_subsample" if subsampled else "log_likelihood"].to_dataset()
    names = list(pointwise.data_vars)
    checks = []
    r_eff = relative_efficiency(datatree["posterior"].to_dataset()) if names else 1.0
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if subsampled:
                approximation = np.asarray(datatree["loo_approximation"][name].values).ravel()
                loo = subsampled_loo(pointwise[name], approximation, r_eff)
            else:
                loo = psis_loo(pointwise[name], r_eff)
        limit = thresholds.pareto_k_max if thresholds.pareto_k_max is not None else float(loo.good_k)
        k = np.asarray(loo.pareto_k).ravel()
        n_bad = int((k > limit).sum())
        if subsampled:
            observations = f"{k.size:,} subsampled observations (of {loo.n_rows:,})"
            se = f"SE {loo.se:.1f}, of which subsampling {loo.subsampling_se:.1f}"
            note = (
                f"LOO from a random subsample of {k.size:,} of {loo.n_rows:,} observations",
                f"LOO fra et tilfeldig utvalg på {k.size:,} av {loo.n_rows:,} observasjoner".replace(",", " "),
            )
        else:
            observations, se, note = f"{k.size} observations", f"SE {float(loo.se):.1f}", ("", "")
        checks.append(
            Check(
                "pareto_k" if len(names) == 1 else f"pareto_k ({name})",
                "pass" if n_bad == 0 else "warn",
                n_bad,
                f"warn if any k > {limit:.2f}",
                f"{n_bad} of {observations} have Pareto k > {limit:.2f} (max {k.max():.2f}); "
                f"elpd_loo {float(loo.elpd):.1f} ({se}), p_loo {float(loo.p):.1f}",
                advice=_advice("pareto_k", "warn" if n_bad else "pass"),
                note=note,
            )
        )
    return checks
