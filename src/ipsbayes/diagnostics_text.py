"""The words of the diagnostics gate: readable parameter names, rules, statuses and advice, in English and Norwegian.

:mod:`ipsbayes.diagnostics` judges the fit; this module says what it found in the study's words.
Parameter names follow the config's vocabulary (a model with ``vocabulary = {classroom = "klasse"}``
reports "klasse-effekt, K3", not "classroom effect"), and a Norwegian report gets Norwegian rules
("advarsel > 1,01"), statuses and numbers with decimal commas.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ipsbayes.textutil import beside, decimal_commas

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from ipsbayes.diagnostics import Check


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
    "chains": (
        "run at least 2 chains (`sampler.chains`; 4 is the default), so that R-hat can compare them",
        "kjør minst 2 kjeder (`sampler.chains`; 4 er standard), så R-hat kan sammenligne dem",
    ),
    "finite_draws": (
        "a quantity overflowed or is undefined in some draws: check the scale of the priors and of the predictors "
        "(a prior too wide for a log-odds or log scale gives infinite values when exponentiated)",
        "en størrelse ble for stor eller er udefinert i noen trekninger: sjekk skalaen til priorene og "
        "prediktorene (en prior som er for vid for en log-odds- eller log-skala gir uendelige verdier)",
    ),
    "loo_draws": (
        "draw more (`sampler.draws`): PSIS-LOO needs at least 30 draws in all",
        "trekk flere (`sampler.draws`): PSIS-LOO trenger minst 30 trekninger i alt",
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


def parameter_label(name: str, language: str = "en", words: Mapping[str, str] | None = None) -> str:
    """A readable label of a posterior parameter element as ArviZ names it, in the study's words.

    ``sd_specialist`` -> "SD of job-specialist effects"; ``z_service[S3]`` -> "service effect
    (standardised), S3"; ``service_chol[L[2,1]]`` -> "Cholesky factor of the service covariance,
    row 3, column 2"; ``beta[age]`` -> "coefficient, age". Names no rule knows get spaces for
    underscores.

    Parameters
    ----------
    name : str
        The parameter element (``sd_school``, ``z_classroom[K3]``).
    language : {"en", "nb"}
    words : mapping, optional
        The study's vocabulary (grouping factor -> the config's word, ``<factor>_nb`` for Norwegian):
        a group the config names gets the config's word.
    """
    base, _, rest = str(name).partition("[")
    coords = rest[:-1] if rest.endswith("]") else rest
    en = language != "nb"
    label = None
    for pattern, english, norwegian in _PARAMETER_PATTERNS:
        match = re.fullmatch(pattern, base)
        if match:
            groups = [group_word(g, language, words) for g in match.groups()]
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
    parts = [part.strip() for part in coords.split(",")]
    return f"{label}, " + ", ".join(_coordinate_word(part, language, words or {}) for part in parts)


def _coordinate_word(part: str, language: str, words: Mapping[str, str]) -> str:
    """A coordinate of a parameter element in the study's words (``education`` -> "utdanning" in bokmål).

    An equation ``education_vs_work`` (or ``education vs work``) is read side by side: "utdanning mot arbeid".
    """
    for joint in ("_vs_", " vs "):
        if joint in part:
            high, low = part.split(joint, 1)
            between = " mot " if language == "nb" else " vs "
            return _coordinate_word(high, language, words) + between + _coordinate_word(low, language, words)
    given = words.get(f"{part}_nb") if language == "nb" else None
    return str(given or words.get(part) or part.replace("_", " "))


def group_word(group: str, language: str = "en", words: Mapping[str, str] | None = None) -> str:
    """The word for a grouping factor in a parameter label (Norwegian: the first part of a compound).

    The config's own word wins over the factor's name; Norwegian compounds with a first part that
    is not a known bokmål stem take a hyphen ("klasse-effekt", "classroom-effekt").
    """
    words = words or {}
    plain = group.replace("_", " ")
    if language != "nb":
        given = words.get(group)
        return given if given and given != plain else _EN_GROUPS.get(group, plain)
    given = words.get(f"{group}_nb") or (None if group in _NB_GROUPS else words.get(group))
    if given and given != plain:
        return f"{given}-"
    return _NB_GROUPS.get(group, f"{plain}-")


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
    (r"hazard_intercept", "baseline hazard level (log-odds)", "nivå for grunnrisikoen (log-odds)"),
    (r"hazard_trend", "baseline hazard trend", "trend i grunnrisikoen"),
    (r"baseline_logit", "baseline hazard (log-odds)", "grunnrisiko (log-odds)"),
    (r"z_baseline", "baseline shape (standardised)", "form på grunnrisikoen (standardisert)"),
    (r"baseline_sd", "smoothness SD of the baseline", "glatthets-SD for grunnrisikoen"),
    (r"fidelity_mean", "mean true fidelity score", "gjennomsnittlig sann trofasthetsskåre"),
    (r"fidelity_sd", "SD of true fidelity scores", "SD for sanne trofasthetsskårer"),
    (r"review_error_sd", "SD of review error", "SD for målefeil i vurderingene"),
    (r"z_fidelity", "true fidelity score (standardised)", "sann trofasthetsskåre (standardisert)"),
    (r"complier_control_intercept", "intercept of compliers under control", "konstantledd for compliers i kontroll"),
    (r"never_taker_intercept", "intercept of never-takers", "konstantledd for never-takers"),
    (r"concentration", "concentration (overdispersion)", "konsentrasjon (overspredning)"),
    (r"sd_(\w+)", "SD of {0} effects", "SD for {0}effekter"),
    (r"(\w+)_sd", "SD of {0} effects", "SD for {0}effekter"),
    (r"z_(\w+)", "{0} effect (standardised)", "{0}effekt (standardisert)"),
    (r"(\w+)_centred", "{0} intercept (centred)", "{0}konstantledd (sentrert)"),
    (r"(\w+)_effect", "{0} effect", "{0}effekt"),
    (r"(\w+)_chol", "Cholesky factor of the {0} covariance", "Cholesky-faktor for {0}kovariansen"),
    (r"chol_(\w+)", "Cholesky factor of the {0} covariance", "Cholesky-faktor for {0}kovariansen"),
    (r"(\w+)_corr", "correlation of {0} effects", "korrelasjon mellom {0}effekter"),
    (r"fidelity_slope", "fidelity slope", "stigningstall for modelltrofasthet"),
    (r"fidelity_latent", "true fidelity score", "sann trofasthetsskåre"),
    (r"treatment_effect", "treatment effect (log-odds)", "behandlingseffekt (log-odds)"),
    (r"(\w+)_beta", "{0} coefficient", "{0}koeffisient"),
    (r"(\w+)_intercept", "{0} intercept", "{0}konstantledd"),
)


def check_text(check: Check, language: str = "en", words: Mapping[str, str] | None = None) -> str:
    """One sentence for a check that did not pass: what was found, for which parameters, and what to do."""
    if language != "nb":
        return f"{check.name}: {check.message}" + (f". What to do: {check.advice}" if check.advice else "")
    return decimal_commas(_check_text_nb(check, words))


def _check_text_nb(check: Check, words: Mapping[str, str] | None = None) -> str:
    names = [parameter_label(p, "nb", words) for p in check.parameters[:SHOWN]]
    rule = rule_text(check.rule, "nb").replace(", ", "; ")  # "1,01; 1,05" once the decimal points are commas
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
    }.get(check.name.split(" ")[0], check.message_nb or check.message)
    if check.value is None:  # e.g. R-hat of one chain: the message says why there is no number
        found = check.message_nb or check.message
    elif check.name.startswith("ess_") and check.message_nb:  # as the English line: rounded counts, how many below
        found = check.message_nb
    if check.name.startswith("pareto_k") and check.value is not None:
        noun = "observasjon" if check.value == 1 else "observasjoner"
        found = f"{check.value} {noun} har Pareto k over grensen ({rule})" + (
            f" ({check.note[1]})" if check.note[1] else ""
        )
    advice = ADVICE.get(advice_key(check.name), ("", ""))[1]
    return f"{check.name}: {found}" + (f". Hva du kan gjøre: {advice}" if advice else "")


#: a check's status in a Norwegian report
STATUS_NB = {"pass": "bestått", "warn": "advarsel", "fail": "feil", "skipped": "hoppet over"}
#: the words of the rules :mod:`ipsbayes.diagnostics` writes, in Norwegian (longest first)
_RULE_NB = (
    ("if any element has a NaN or infinite draw", "hvis et element har en trekning som er NaN eller uendelig"),
    ("if any chain", "hvis en kjede"),
    ("if any k", "hvis en k"),
    (" if ", " hvis "),
    ("warn", "advarsel"),
    ("fail", "feil"),
    ("chains", "kjeder"),
)


def status_word(status: str, language: str = "en") -> str:
    """``pass``/``warn``/``fail``/``skipped`` in the report's language."""
    return STATUS_NB.get(status, status) if language == "nb" else status


def rule_text(rule: str, language: str = "en") -> str:
    """A check's rule ("warn > 1.01, fail > 1.05") in the report's language, numbers included."""
    if language != "nb":
        return rule
    for english, norwegian in _RULE_NB:
        rule = rule.replace(english, norwegian)
    return decimal_commas(rule)


def table_rows(checks: list[Check], language: str = "en") -> list[dict[str, str]]:
    """The report's diagnostics table: check, status, value, rule and detail, in the report's language."""
    rows = []
    for check in checks:
        value = "-" if check.value is None else str(check.value)
        detail = (check.message_nb or check.message) if language == "nb" else check.message
        rows.append(
            {
                "name": check.name,
                "status_key": check.status,
                "status": status_word(check.status, language),
                "value": decimal_commas(value) if language == "nb" else value,
                "rule": rule_text(check.rule, language),
                "detail": decimal_commas(detail) if language == "nb" else detail,
            }
        )
    return rows


def _value(value: float | int | None) -> str:
    """A check's number as read: six significant digits (``1.0104``, ``399.6``), integers as they are.

    Four digits made an R-hat of 1.0104 read "1.01" beside the rule "warn > 1.01".
    """
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def advice_key(name: str) -> str:
    """The :data:`ADVICE` entry of a check (``ess_bulk`` and ``ess_tail`` share one; so do Pareto k checks)."""
    if name.startswith("ess"):
        return "ess"
    if name.startswith("pareto_k"):
        return "pareto_k"
    return name


def advice_for(name: str, status: str) -> str:
    """What to do about a check that did not pass (English; "" when it passed)."""
    return ADVICE.get(advice_key(name), ("", ""))[0] if status in ("warn", "fail") else ""


def listing(
    values: pd.Series,
    fmt: str | int,
    language: str = "en",
    words: Mapping[str, str] | None = None,
    edges: Sequence[float] = (),
) -> str:
    """``SD of specialist effects (1.019), intercept (1.012) and 3 more`` for the worst-first ``values``.

    ``fmt`` is a format spec, or a number of decimals, shown with more where a value would read as one
    of the thresholds ``edges`` (:func:`beside`).
    """
    shown = [
        f"{parameter_label(str(name), language, words)} "
        f"({beside(float(value), fmt, edges) if isinstance(fmt, int) else format(float(value), fmt)})"
        for name, value in values.iloc[:SHOWN].items()
    ]
    more = len(values) - len(shown)
    return ", ".join(shown) + (
        f" {'og' if language == 'nb' else 'and'} {more} {'til' if language == 'nb' else 'more'}" if more > 0 else ""
    )


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
        f"samplet med target_accept {decimal_commas(f'{high:g}')} etter {before} divergente overganger med "
        f"{decimal_commas(f'{low:g}')}",
    )


__all__ = [
    "ADVICE",
    "SHOWN",
    "STATUS_NB",
    "advice_for",
    "advice_key",
    "check_text",
    "decimal_commas",
    "group_word",
    "listing",
    "parameter_label",
    "raised_target_note",
    "rule_text",
    "status_word",
    "table_rows",
]
