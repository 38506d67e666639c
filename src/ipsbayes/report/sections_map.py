"""Report section on prior-data conflict (runs whose DataTree has a ``prior_data_conflict`` group).

Sentences are computed from the numbers: the observed ITT and where it falls in its prior
predictive distribution, the tail probability and how strong the conflict is, and how far
the data moved each robust mixture prior towards its vague component.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ipsbayes.report.standalone import check_language
from ipsbayes.report.style import Style

#: tail probability below which the data conflict with the prior, and below which there is tension
CONFLICT, TENSION = 0.05, 0.10

TEXT = {
    "en": {
        "itt": "The observed ITT difference, **{observed:+.1f} {unit}**, lies at the {percentile:.0f}th percentile of "
        "what the prior set `{prior_set}` predicts for this trial (middle 95% of the prior predictive distribution: "
        "{low:+.1f} to {high:+.1f} {unit}; {draws:,} draws with the observed arm sizes, covariates and uptake). "
        "Two-sided tail probability **p = {p:.3f}**: {verdict}",
        "conflict": "the data conflict with the prior; the prior is pulling the estimate, so read the analysis "
        "under other priors (sensitivity section) before this one.",
        "tension": "some tension between data and prior; compare with the analyses under other priors.",
        "none": "no sign of conflict: the data are the kind the prior expects.",
        "informative": "Under the historical (informative) components of the robust prior alone, the observed ITT "
        "lies at the {percentile:.0f}th percentile, **p = {p:.3f}**: {verdict}",
        "robust": "Robust mixture prior for `{name}`: the vague component's weight went from {prior:.2f} in the prior "
        "to **{posterior:.2f}** in the posterior: {verdict}",
        "robust_up": "the data moved weight towards the vague component, i.e. they partly overrule the historical "
        "evidence.",
        "robust_down": "the data favour the informative (historical) components.",
        "robust_same": "the data hardly changed it.",
        "method": "Method: prior-predictive check of the difference in mean outcome by arm (Box 1980), two-sided "
        "mid-p; posterior weight of the robust component averaged over posterior draws (Schmidli et al. 2014).",
    },
    "nb": {
        "itt": "Den observerte ITT-forskjellen, **{observed:+.1f} {unit}**, ligger ved {percentile:.0f}-persentilen av "
        "det priorsettet `{prior_set}` forutsier for denne studien (midterste 95 % av den prior-prediktive "
        "fordelingen: {low:+.1f} til {high:+.1f} {unit}; {draws:,} trekk med observerte gruppestørrelser, "
        "kovariater og deltakelse). Tosidig halesannsynlighet **p = {p:.3f}**: {verdict}",
        "conflict": "dataene strider mot prioren; prioren trekker estimatet, så les analysene med andre priorer "
        "(sensitivitetsavsnittet) før denne.",
        "tension": "noe spenning mellom data og prior; sammenlign med analysene med andre priorer.",
        "none": "ingen tegn til konflikt: dataene er av den typen prioren venter.",
        "informative": "Med bare de historiske (informative) komponentene av den robuste prioren ligger den observerte "
        "ITT-forskjellen ved {percentile:.0f}-persentilen, **p = {p:.3f}**: {verdict}",
        "robust": "Robust blandingsprior for `{name}`: vekten på den vage komponenten gikk fra {prior:.2f} i prioren "
        "til **{posterior:.2f}** i posterioren: {verdict}",
        "robust_up": "dataene flyttet vekt mot den vage komponenten, altså overstyrer de delvis den historiske "
        "kunnskapen.",
        "robust_down": "dataene støtter de informative (historiske) komponentene.",
        "robust_same": "dataene endret den knapt.",
        "method": "Metode: prior-prediktiv sjekk av forskjellen i gjennomsnittlig utfall mellom gruppene (Box 1980), "
        "tosidig mid-p; posterior vekt på den robuste komponenten som gjennomsnitt over posteriortrekk "
        "(Schmidli mfl. 2014).",
    },
}


def conflict_section(
    estimands: xr.Dataset, datatree: xr.DataTree, summary: pd.DataFrame, style: Style, language: str = "en"
) -> str:
    """Where the observed ITT falls under the prior, and the posterior weight of each robust component."""
    t = TEXT[check_language(language)]
    group = datatree["prior_data_conflict"].to_dataset()
    replicated = np.asarray(group["itt_prior_predictive"].values)
    observed, p = float(group["itt_observed"]), float(group["p_two_sided"])

    def judge(p: float) -> str:
        return t["conflict"] if p < CONFLICT else t["tension"] if p < TENSION else t["none"]

    verdict = judge(p)
    low, high = np.quantile(replicated, [0.025, 0.975])
    lines = [
        t["itt"].format(
            observed=observed,
            unit=group.attrs.get("unit", ""),
            percentile=100 * float(group["p_lower"]),
            prior_set=group.attrs.get("prior_set", "?"),
            low=low,
            high=high,
            draws=replicated.size,
            p=p,
            verdict=verdict,
        )
    ]
    if "p_two_sided_informative" in group:
        p_hist = float(group["p_two_sided_informative"])
        lines.append(
            t["informative"].format(
                percentile=100 * float(group["p_lower_informative"]), p=p_hist, verdict=judge(p_hist)
            )
        )
    if "robust_posterior_weight" in group:
        for name in group["parameter"].values:
            prior_w = float(group["robust_prior_weight"].sel(parameter=name))
            post_w = float(group["robust_posterior_weight"].sel(parameter=name))
            change = post_w - prior_w
            verdict = t["robust_up"] if change > 0.02 else t["robust_down"] if change < -0.02 else t["robust_same"]
            lines.append(t["robust"].format(name=name, prior=prior_w, posterior=post_w, verdict=verdict))
    lines.append(t["method"])
    return "\n\n".join(lines)
