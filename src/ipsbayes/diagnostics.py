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

import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from ipsbayes.config import DiagnosticsConfig
from ipsbayes.convergence import diagnostic_summary, sampler_statistics
from ipsbayes.diagnostics_text import (
    SHOWN,
    advice_for,
    check_text,
    decimal_commas,
    listing,
    parameter_label,
    raised_target_note,
)
from ipsbayes.loo import psis_loo, relative_efficiency, subsampled_loo
from ipsbayes.textutil import beside

Status = Literal["pass", "warn", "fail", "skipped"]
_ORDER = {"skipped": 0, "pass": 0, "warn": 1, "fail": 2}
#: PSIS-LOO's Pareto tail is min(S / 5, 3 sqrt(S / r_eff)) draws and the fit needs 5 of them: 25 draws;
#: below 30 the tail's first quartile is its minimum and no k can be estimated
MIN_LOO_DRAWS = 30


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
    #: ``message`` in Norwegian, for the diagnostics table of a Norwegian report ("" in older run folders)
    message_nb: str = ""


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

    def messages_in(self, language: str = "en", words: Mapping[str, str] | None = None) -> list[str]:
        """:attr:`messages` in the report's language ("en" or "nb"), parameters named in the study's ``words``."""
        return [check_text(c, language, words) for c in self.checks if c.status in ("warn", "fail")]

    def findings_in(self, language: str = "en", words: Mapping[str, str] | None = None) -> list[tuple[Status, str]]:
        """Each check that did not pass as (its own status, :attr:`messages_in` text): a warning is not a failure."""
        return [(c.status, check_text(c, language, words)) for c in self.checks if c.status in ("warn", "fail")]

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


def diagnose(
    datatree: xr.DataTree,
    thresholds: DiagnosticsConfig,
    var_names: list[str] | None = None,
    words: Mapping[str, str] | None = None,
) -> Diagnostics:
    """Run every check on a fitted DataTree.

    Parameters
    ----------
    datatree : DataTree
        Needs ``posterior`` and ``sample_stats``; ``log_likelihood`` enables the Pareto k check.
    thresholds : DiagnosticsConfig
        Warn/fail rules.
    var_names : list of str, optional
        Posterior variables to check R-hat and ESS on (default: all).
    words : mapping, optional
        The study's vocabulary (grouping factor -> the config's word): messages name parameters with it.
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
    nonfinite = _nonfinite_check(summary, words)
    if nonfinite is not None:
        checks.append(nonfinite)
    checks.append(_rhat_check(summary, thresholds, result, words, n_chains))
    for kind in ("bulk", "tail"):
        checks.append(_ess_check(summary, kind, n_chains, thresholds, result, words))
    divergent = sampler.get("divergent", {}).get("n_divergent")
    if divergent is None:
        checks.append(
            Check(
                "divergences",
                "skipped",
                None,
                "",
                "the sampler reported no divergence statistics",
                message_nb="sampleren rapporterte ingen divergensstatistikk",
            )
        )
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
                advice=advice_for("divergences", "warn" if divergent else "pass"),
                note=note,
                message_nb=f"{divergent} av {total} overganger divergerte"
                + ("; posterioren kan være skjev der divergensene samler seg" if divergent else "")
                + (f" ({note[1]})" if note[1] else ""),
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
                advice=advice_for("tree_depth", "warn" if depth else "pass"),
                message_nb=f"{depth} av {total} overganger nådde maksimal tredybde"
                + (" (treg utforsking, ikke skjevhet)" if depth else ""),
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
                advice=advice_for("e_bfmi", "warn" if low < thresholds.bfmi_min else "pass"),
                message_nb=f"laveste E-BFMI over kjedene {low:.2f}"
                + (" (tunge haler eller dårlig resampling av bevegelsesmengden)" if low < thresholds.bfmi_min else ""),
            )
        )
    checks.extend(_pareto_checks(datatree, thresholds))
    return result


def _nonfinite_check(summary: pd.DataFrame, words: Mapping[str, str] | None = None) -> Check | None:
    """Posterior elements with draws that are not finite numbers (NaN or infinite): their R-hat and ESS are unknown."""
    bad = list(summary.attrs.get("nonfinite", []))
    if not bad:
        return None
    shown = [parameter_label(name, "en", words) for name in bad[:SHOWN]]
    shown_nb = [parameter_label(name, "nb", words) for name in bad[:SHOWN]]
    more = len(bad) - len(shown)
    return Check(
        "finite_draws",
        "warn",
        len(bad),
        "warn if any element has a NaN or infinite draw",
        f"{len(bad)} of {len(summary)} parameter elements have draws that are NaN or infinite, so their R-hat and "
        f"ESS cannot be computed: {', '.join(shown)}" + (f" and {more} more" if more else ""),
        bad,
        advice_for("finite_draws", "warn"),
        message_nb=f"{len(bad)} av {len(summary)} parameterelementer har trekninger som er NaN eller uendelige, så "
        f"R-hat og ESS kan ikke beregnes for dem: {', '.join(shown_nb)}" + (f" og {more} til" if more else ""),
    )


def _checked(summary: pd.DataFrame, column: str) -> pd.Series:
    """A column of the summary over the elements it is defined for: not constant, every draw finite."""
    left_out = set(summary.attrs.get("nonfinite", [])) | set(summary.attrs.get("constant", []))
    values = summary[column].astype(float)
    return values[~values.index.isin(left_out)].dropna()


def _nothing_to_check(name: str, rule: str) -> Check:
    return Check(
        name,
        "skipped",
        None,
        rule,
        "no parameter element to check: every element is constant or has non-finite draws",
        message_nb="ingen parameterelementer å sjekke: alle er konstante eller har trekninger som ikke er endelige",
    )


def _rhat_check(
    summary: pd.DataFrame,
    thresholds: DiagnosticsConfig,
    result: Diagnostics,
    words: Mapping[str, str] | None = None,
    n_chains: int = 4,
) -> Check:
    rule = f"warn > {thresholds.rhat_warn}, fail > {thresholds.rhat_fail}"
    if n_chains < 2:
        return Check(
            "r_hat",
            "warn",
            None,
            rule,
            "R-hat needs at least 2 chains: with 1 chain, whether independent chains agree cannot be checked",
            advice=advice_for("chains", "warn"),
            message_nb="R-hat krever minst 2 kjeder: med 1 kjede kan det ikke sjekkes om uavhengige kjeder er enige",
        )
    rhat = _checked(summary, "r_hat").sort_values(ascending=False)
    if rhat.empty:
        return _nothing_to_check("r_hat", rule)
    worst = float(rhat.iloc[0])
    edges = (thresholds.rhat_warn, thresholds.rhat_fail)
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
            f"{listing(beyond, 3, 'en', words, edges)}"
        )
        message_nb = (
            f"R-hat over {thresholds.rhat_warn} for {len(beyond)} av {len(rhat)} parameterelementer: "
            f"{listing(beyond, 3, 'nb', words, edges)}"
        )
    else:
        first, shown = str(rhat.index[0]), beside(worst, 3, edges)
        message = f"largest R-hat {shown} ({parameter_label(first, 'en', words)}) over {len(rhat)} parameter elements"
        message_nb = (
            f"største R-hat {shown} ({parameter_label(first, 'nb', words)}) over {len(rhat)} parameterelementer"
        )
    return Check(
        "r_hat",
        status,
        round(worst, 6),
        rule,
        message,
        [str(p) for p in beyond.index],
        advice_for("r_hat", status),
        message_nb=message_nb,
    )


def _ess_check(
    summary: pd.DataFrame,
    kind: str,
    n_chains: int,
    thresholds: DiagnosticsConfig,
    result: Diagnostics,
    words: Mapping[str, str] | None = None,
) -> Check:
    warn_at, fail_at = thresholds.ess_per_chain * n_chains, thresholds.ess_fail_per_chain * n_chains
    rule = f"warn < {warn_at:g}, fail < {fail_at:g} ({n_chains} chains)"
    ess = _checked(summary, f"ess_{kind}").sort_values()
    if ess.empty:
        return _nothing_to_check(f"ess_{kind}", rule)
    lowest = float(ess.iloc[0])
    edges = (warn_at, fail_at)
    result.worst_parameters[f"ess_{kind}"] = ess.index[:5].tolist()
    status: Status = "fail" if lowest < fail_at else "warn" if lowest < warn_at else "pass"
    below = ess[ess < warn_at]
    kind_nb = {"bulk": "bulk", "tail": "hale"}[kind]
    if len(below):
        message = (
            f"{kind} ESS below {warn_at:g} for {len(below)} of {len(ess)} parameter elements: "
            f"{listing(below, 0, 'en', words, edges)}"
        )
        message_nb = (
            f"{kind_nb}-ESS under {warn_at:g} for {len(below)} av {len(ess)} parameterelementer: "
            f"{listing(below, 0, 'nb', words, edges)}"
        )
    else:
        first, shown = str(ess.index[0]), beside(lowest, 0, edges)
        message = (
            f"lowest {kind} ESS {shown} ({parameter_label(first, 'en', words)}) over {len(ess)} parameter elements"
        )
        message_nb = (
            f"laveste {kind_nb}-ESS {shown} ({parameter_label(first, 'nb', words)}) over {len(ess)} parameterelementer"
        )
    return Check(
        f"ess_{kind}",
        status,
        round(lowest, 3),
        rule,
        message,
        [str(p) for p in below.index],
        advice_for(f"ess_{kind}", status),
        message_nb=message_nb,
    )


def _elpd(value: float) -> str:
    """An elpd, p_loo or SE with one decimal, or in exponent form when it is huge (a prior at 1e300 gave 1e298)."""
    value = float(value)
    return f"{value:.1f}" if not np.isfinite(value) or abs(value) < 1e6 else f"{value:.3g}"


def _places_apart(value: float, limit: float, least: int = 2) -> int:
    """Decimals (at least ``least``) at which ``value`` and ``limit`` print differently, when they differ."""
    places = least
    while value != limit and places < least + 6 and f"{value:.{places}f}" == f"{limit:.{places}f}":
        places += 1
    return places


def _pareto_checks(datatree: xr.DataTree, thresholds: DiagnosticsConfig) -> list[Check]:
    """PSIS-LOO Pareto k for each observed variable (outcome, and e.g. fidelity reviews).

    Above the pointwise limit a run keeps a random subsample of rows (``loo_subsample``): the check
    then reads the subsample's k, and elpd_loo is the difference estimate for every row.
    """
    subsampled = "log_likelihood" not in datatree.children and "loo_subsample" in datatree.children
    if "log_likelihood" not in datatree.children and not subsampled:
        return [
            Check(
                "pareto_k",
                "skipped",
                None,
                "",
                "no log-likelihood stored, LOO not computed",
                message_nb="ingen log-likelihood lagret, LOO ikke beregnet",
            )
        ]
    pointwise = datatree["loo_subsample" if subsampled else "log_likelihood"].to_dataset()
    names = list(pointwise.data_vars)
    draws = pointwise.sizes.get("chain", 1) * pointwise.sizes.get("draw", 1)
    if names and draws < MIN_LOO_DRAWS:  # a Pareto tail of 5 draws needs 25; below 30 no k can be estimated
        return [
            Check(
                "pareto_k",
                "warn",
                None,
                "",
                f"PSIS-LOO needs at least {MIN_LOO_DRAWS} draws in all; this fit has {draws}, so LOO was not computed",
                advice=advice_for("loo_draws", "warn"),
                message_nb=f"PSIS-LOO trenger minst {MIN_LOO_DRAWS} trekninger i alt; denne tilpasningen har {draws}, "
                "så LOO ble ikke beregnet",
            )
        ]
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
        k = np.asarray(loo.pareto_k, dtype=float).ravel()
        n_bad = int((~(k <= limit)).sum())  # a k that could not be estimated (NaN) is no better than a large one
        unknown = int(np.isnan(k).sum())
        # as many decimals as tell the largest k from the limit ("k > 0.656 (max 0.658)", not "> 0.66 (max 0.66)")
        places = _places_apart(float(np.nanmax(k)), float(limit)) if unknown < k.size else 2
        largest = f"{np.nanmax(k):.{places}f}" if unknown < k.size else "nan"
        if subsampled:
            observations = f"{k.size:,} subsampled observations (of {loo.n_rows:,})"
            # the elpd's SE (as exact LOO of every row would give it) and the subsampling's, side by side
            se = f"SE {_elpd(loo.se)}; subsampling SE {_elpd(loo.subsampling_se)}"
            observations_nb = f"{k.size:,} utvalgte observasjoner (av {loo.n_rows:,})".replace(",", " ")
            se_nb = f"SE {_elpd(loo.se)}; utvalgs-SE {_elpd(loo.subsampling_se)}"
            note = (
                f"LOO from a random subsample of {k.size:,} of {loo.n_rows:,} observations",
                f"LOO fra et tilfeldig utvalg på {k.size:,} av {loo.n_rows:,} observasjoner".replace(",", " "),
            )
        else:
            observations, se, note = f"{k.size} observations", f"SE {_elpd(loo.se)}", ("", "")
            observations_nb, se_nb = f"{k.size} observasjoner", se
        observed = datatree["observed_data"] if "observed_data" in datatree.children else None
        collapsed = observed[name].attrs.get("collapsed_from") if observed is not None and name in observed else None
        if collapsed and not subsampled:  # each LOO row is a pattern of identical rows: say so, and what it leaves out
            observations = (
                f"{k.size} binomial rows ({int(collapsed):,} rows collapsed by identical predictors and groups; LOO "
                "leaves out one such row, all its rows at once)"
            )
            observations_nb = (
                f"{k.size} binomiske rader ({int(collapsed):,} rader slått sammen etter like prediktorer og grupper; "
                "LOO utelater én slik rad, alle radene i den samtidig)"
            ).replace(f"{int(collapsed):,}", f"{int(collapsed):,}".replace(",", " "))
        checks.append(
            Check(
                "pareto_k" if len(names) == 1 else f"pareto_k ({name})",
                "pass" if n_bad == 0 else "warn",
                n_bad,
                f"warn if any k > {limit:.{places}f}",
                f"{n_bad} of {observations} {'has' if n_bad == 1 else 'have'} Pareto k > {limit:.{places}f}"
                + (f" or no estimate of k ({unknown})" if unknown else "")
                + f" (max {largest}); elpd_loo {_elpd(loo.elpd)} ({se}), p_loo {_elpd(loo.p)}",
                advice=advice_for("pareto_k", "warn" if n_bad else "pass"),
                note=note,
                message_nb=decimal_commas(
                    f"{n_bad} av {observations_nb} har Pareto k > {limit:.{places}f}"
                    + (f" eller ikke noe estimat av k ({unknown})" if unknown else "")
                    + f" (maks {largest}); elpd_loo {_elpd(loo.elpd)} ({se_nb}), p_loo {_elpd(loo.p)}"
                ),
            )
        )
    return checks
