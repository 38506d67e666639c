"""Report sections of the time-to-event family, in English or Norwegian bokmål.

Every sentence is computed from the estimands: direction from the sign of the
posterior median, size with its interval (kind and probability stated), and the
posterior probability of exceeding no difference and the configured threshold.
Each builder takes ``language`` ("en" default, or "nb"); the registered versions
use English until the report API passes the run's language.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
import xarray as xr

from ipsbayes.report.sections import register_section
from ipsbayes.report.style import Style

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "interval": "{prob} {kind} {low} to {high}",
        "bounds": "{low} to {high}",
        "share_by": "By month {month}, an expected {value} of participants have had a {label} ({interval}).",
        "targets": "Their first transition by month {month}: {parts}.",
        "target_part": "{target} {value} ({interval})",
        "median": (
            "Among those who have one by month {last}, half have it by month {value} ({interval}; months since "
            "start, linear within months)."
        ),
        "observed": (
            "Observed in the data (Kaplan-Meier, counting participants for the months they were followed): "
            "{value} by month {month}."
        ),
        "contrast": (
            "By month {month}, the share with a {label} is {size} percentage points {direction} with every service "
            "at {scale} = {high} than at {low} ({interval}); P(difference > 0) = {p_null}{threshold}."
        ),
        "higher": "higher",
        "lower": "lower",
        "threshold": "; P(difference > {value} percentage points) = {p}",
        "hazard_or": "Hazard odds ratio per {per} {scale} points, {target}: {value} ({interval}); P(> 1) = {p}.",
        "association": (
            "This is an association across services, not a randomised comparison of fidelity levels: services "
            "with higher fidelity may differ in other ways, and the score is treated as exact."
        ),
        "services": (
            "Observed shares by month {month} range from {raw_low} to {raw_high} across services ({n_low} to "
            "{n_high} participants each); partially pooled, the expected shares range from {low} to {high}."
        ),
        "sd": "SD of service effects on the hazard, {target}: {value} log-odds ({interval}).",
        "or_header": "| Target | Predictor | Hazard odds ratio | Interval | P(> 1) |",
        "or_intro": (
            "Odds of a first transition in a month among those still at risk ({kind}); numeric predictors per SD "
            "unless the model was fitted unstandardised, categories against their reference."
        ),
    },
    "nb": {
        "interval": "{prob} {kind} {low} til {high}",
        "bounds": "{low} til {high}",
        "share_by": "Innen måned {month} er forventet andel med {label} {value} ({interval}).",
        "targets": "Første overgang innen måned {month}: {parts}.",
        "target_part": "{target} {value} ({interval})",
        "median": (
            "Blant dem som har en overgang innen måned {last}, har halvparten den innen måned {value} ({interval}; "
            "måneder siden start, lineært innen måneden)."
        ),
        "observed": (
            "Observert i dataene (Kaplan-Meier, deltakere telt for månedene de ble fulgt): {value} innen måned {month}."
        ),
        "contrast": (
            "Innen måned {month} er andelen med {label} {size} prosentpoeng {direction} når alle tjenester har "
            "{scale} = {high} enn {low} ({interval}); P(forskjell > 0) = {p_null}{threshold}."
        ),
        "higher": "høyere",
        "lower": "lavere",
        "threshold": "; P(forskjell > {value} prosentpoeng) = {p}",
        "hazard_or": "Oddsratio for overgang per {per} {scale}-poeng, {target}: {value} ({interval}); P(> 1) = {p}.",
        "association": (
            "Dette er en sammenheng på tvers av tjenester, ikke en randomisert sammenligning av troskapsnivåer: "
            "tjenester med høyere troskap kan skille seg ut på andre måter, og skåren behandles som eksakt."
        ),
        "services": (
            "Observerte andeler innen måned {month} varierer fra {raw_low} til {raw_high} mellom tjenestene "
            "({n_low} til {n_high} deltakere hver); med delvis sammenslåing (partial pooling) varierer forventet "
            "andel fra {low} til {high}."
        ),
        "sd": "Standardavvik for tjenesteeffekter på overgangsraten, {target}: {value} log-odds ({interval}).",
        "or_header": "| Mål | Forklaringsvariabel | Oddsratio for overgang | Intervall | P(> 1) |",
        "or_intro": (
            "Odds for en første overgang i en måned blant dem som fortsatt er i risiko ({kind}); numeriske "
            "variabler per standardavvik med mindre modellen er tilpasset uten standardisering, kategorier mot "
            "referansen."
        ),
    },
}
KINDS = {
    "en": {"eti": "equal-tailed interval", "hdi": "highest-density interval"},
    "nb": {"eti": "likehalet intervall", "hdi": "intervall med høyest tetthet"},
}


def number(value: float, language: str = "en", digits: int = 1) -> str:
    """A number for reading: decimal comma in Norwegian."""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if language == "nb" else text


def percent(value: float, language: str = "en") -> str:
    """A share in percent, e.g. '41.3%' or '41,3 %'."""
    return number(value, language) + (" %" if language == "nb" else "%")


def _rows(summary: pd.DataFrame, name: str) -> pd.DataFrame:
    return summary[summary["estimand"] == name]


def _row(summary: pd.DataFrame, name: str, element: str = "") -> dict:
    return _rows(summary, name).set_index("element").loc[element].to_dict()


def interval(
    row: dict, style: Style, language: str = "en", unit: str = "%", digits: int = 1, bounds_only: bool = False
) -> str:
    """'90% equal-tailed interval a to b' (or only 'a to b') in the language."""
    fmt = (lambda v: percent(v, language)) if unit == "%" else (lambda v: number(v, language, digits))
    prob = f"{100 * style.prob:g}" + (" %" if language == "nb" else "%")
    prob = prob.replace(".", ",") if language == "nb" else prob
    return TEXT[language]["bounds" if bounds_only else "interval"].format(
        low=fmt(row["lower"]), high=fmt(row["upper"]), prob=prob, kind=KINDS[language][style.kind]
    )


def incidence_section(
    estimands: xr.Dataset, datatree: xr.DataTree, summary: pd.DataFrame, style: Style, language: str = "en"
) -> str:
    """How soon participants reach a target: cumulative incidence by month, per target, median time."""
    text = TEXT[language]
    label = estimands["incidence_any"].attrs["outcome_label"]
    lines = []
    for row in _rows(summary, "incidence_any").to_dict("records"):
        month = row["element"].split()[0]
        lines.append(
            text["share_by"].format(
                month=month,
                value=percent(row["median"], language),
                label=label,
                interval=interval(row, style, language),
            )
        )
    rows = _rows(summary, "incidence")
    if len(rows) and estimands.sizes.get("target", 1) > 1:
        month = rows["element"].str.split(", ").str[1].iloc[-1]
        parts = [
            text["target_part"].format(
                target=r["element"].split(", ")[0],
                value=percent(r["median"], language),
                interval=interval(r, style, language),
            )
            for r in rows.to_dict("records")
            if r["element"].endswith(month)
        ]
        lines.append(text["targets"].format(month=month.split()[0], parts="; ".join(parts)))
    median = _row(summary, "median_time_any")
    months = estimands["incidence_curve_any"]["month"].values
    lines.append(
        text["median"].format(
            last=int(months[-1]),
            value=number(median["median"], language),
            interval=interval(median, style, language, unit="months"),
        )
    )
    observed = estimands["observed_incidence_curve"].sum("target")
    check = int(_rows(summary, "incidence_any")["element"].iloc[-1].split()[0])
    if check in set(months.tolist()):
        value = float(observed.sel(month=check))
        lines.append(text["observed"].format(value=percent(value, language), month=check))
    return "\n\n".join(lines)


def fidelity_time_section(
    estimands: xr.Dataset, datatree: xr.DataTree, summary: pd.DataFrame, style: Style, language: str = "en"
) -> str:
    """What fidelity means for how soon participants reach a target, at each reporting month."""
    text = TEXT[language]
    attrs = estimands["fidelity_incidence_contrast_any"].attrs
    low, high = number(attrs["low"], language, 0), number(attrs["high"], language, 0)
    scale, label = attrs["scale"], attrs["outcome_label"]
    lines = []
    for row in _rows(summary, "fidelity_incidence_contrast_any").to_dict("records"):
        threshold = ""
        if row.get("threshold") is not None and not np.isnan(row["p_above_threshold"]):
            threshold = text["threshold"].format(
                value=number(row["threshold"], language, 0 if float(row["threshold"]).is_integer() else 1),
                p=number(row["p_above_threshold"], language, 2),
            )
        lines.append(
            text["contrast"].format(
                month=row["element"].split()[0],
                label=label,
                size=number(abs(row["median"]), language),
                direction=text["higher"] if row["median"] >= 0 else text["lower"],
                scale=scale,
                high=high,
                low=low,
                interval=interval(row, style, language, unit="pp"),
                p_null=number(row["p_above_null"], language, 2),
                threshold=threshold,
            )
        )
    per = number(attrs["per"], language, 0)
    for row in _rows(summary, "hazard_fidelity_odds_ratio").to_dict("records"):
        lines.append(
            text["hazard_or"].format(
                per=per,
                scale=scale,
                target=row["element"],
                value=number(row["median"], language, 2),
                interval=interval(row, style, language, unit="OR", digits=2),
                p=number(row["p_above_null"], language, 2),
            )
        )
    lines.append(text["association"])
    return "\n\n".join(lines)


def services_time_section(
    estimands: xr.Dataset, datatree: xr.DataTree, summary: pd.DataFrame, style: Style, language: str = "en"
) -> str:
    """How much services differ in the share reaching a target by the service month."""
    text = TEXT[language]
    pooled = estimands["service_incidence_any"].median(["chain", "draw"]).values
    raw = estimands["service_observed_incidence_any"].values
    n = estimands["service_n"].values
    month = estimands["service_incidence_any"].attrs["month"]
    lines = [
        text["services"].format(
            month=month,
            raw_low=percent(float(np.nanmin(raw)), language),
            raw_high=percent(float(np.nanmax(raw)), language),
            n_low=int(n.min()),
            n_high=int(n.max()),
            low=percent(float(pooled.min()), language),
            high=percent(float(pooled.max()), language),
        )
    ]
    for row in _rows(summary, "sd_service").to_dict("records"):
        lines.append(
            text["sd"].format(
                target=row["element"] or "-",
                value=number(row["median"], language, 2),
                interval=interval(row, style, language, unit="SD", digits=2),
            )
        )
    return "\n\n".join(lines)


def hazard_ratio_section(
    estimands: xr.Dataset, datatree: xr.DataTree, summary: pd.DataFrame, style: Style, language: str = "en"
) -> str:
    """Table of hazard odds ratios per target and predictor."""
    text = TEXT[language]
    rows = [text["or_header"], "| --- | --- | ---: | --- | ---: |"]
    for row in _rows(summary, "hazard_odds_ratio").to_dict("records"):
        target, term = row["element"].split(", ", 1)
        rows.append(
            f"| {target} | {term} | {number(row['median'], language, 2)} | "
            f"{interval(row, style, language, unit='OR', digits=2, bounds_only=True)} | "
            f"{number(row['p_above_null'], language, 2)} |"
        )
    kind = f"{style.prob:.0%} {KINDS[language][style.kind]}".replace("%", " %" if language == "nb" else "%")
    return text["or_intro"].format(kind=kind) + "\n\n" + "\n".join(rows)


#: (title, applies, builder) in the order they appear; builders accept ``language``
TIME_SECTIONS: list[tuple[str, Callable[[xr.Dataset, xr.DataTree], bool], Callable[..., str]]] = [
    ("How soon participants reach a target", lambda e, d: "incidence_any" in e, incidence_section),
    (
        "Fidelity and time to a first transition",
        lambda e, d: "fidelity_incidence_contrast_any" in e,
        fidelity_time_section,
    ),
    ("Differences between services over time", lambda e, d: "service_incidence_any" in e, services_time_section),
    ("Hazard odds ratios", lambda e, d: "hazard_odds_ratio" in e, hazard_ratio_section),
]

for _title, _applies, _builder in TIME_SECTIONS:
    register_section(_title, _applies, partial(_builder, language="en"))
