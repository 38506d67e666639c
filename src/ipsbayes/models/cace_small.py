"""Small trials: why the CACE posterior differs from the raw estimates, and how well calibrated it is.

With a few dozen participants the prior carries real weight. This section sets
three answers side by side (what the prior alone implies, the data-dominated raw
estimates, the posterior), says in one computed sentence how far the prior pulls
the estimate, and quotes the calibration ``ipsbayes validate`` measured for the
design (coverage of the interval and average shrinkage at the study's size) when
a validation run exists for the config.
"""

from __future__ import annotations

import numpy as np

from ipsbayes.models.base import nb_word
from ipsbayes.present import ReportContext
from ipsbayes.present.cells import cell_text, too_small
from ipsbayes.present.phrases import Effect, amount, estimate
from ipsbayes.present.prior_weight import flagged_prior_sensitivity, prior_weight_words, pull_sentence
from ipsbayes.present.text import escape_md, format_number, percent

#: estimand -> observed raw estimate, its name in the table (English, Norwegian) and in a sentence
RAW = {
    "cace": (
        "observed_wald_cace",
        (
            "Wald estimate: observed ITT / share of those offered who received it",
            "Wald-anslag: observert ITT / andel av de tilbudte som mottok det",
        ),
        ("the raw Wald estimate", "det rå Wald-anslaget"),
    ),
    "itt": (
        "observed_itt",
        ("observed difference between the arms", "observert forskjell mellom armene"),
        ("the raw difference between the arms", "den rå forskjellen mellom armene"),
    ),
}


def small_sample_section(ctx: ReportContext) -> str:
    """Prior only, raw data and posterior side by side; the pull in one sentence; the measured calibration."""
    names = [n for n in ("cace", "itt") if ctx.has(n)]
    unit = ctx.estimands["cace"].attrs.get("unit", "")
    header = ctx.text("| | Prior only | Raw data | Posterior |", "| | Bare prior | Rådata | Posterior |")
    rows = [header, "| --- | --- | --- | --- |"]
    for name in names:
        prior = prior_effect(ctx, name)
        observed, (raw_en, raw_nb), _ = RAW[name]
        raw = "-"
        if ctx.has(observed):
            value = ctx.estimands[observed]
            raw = cell_text(
                f"{amount(float(value), unit, ctx.language)}, {ctx.text(raw_en, raw_nb)}",
                value.attrs.get("participants", ctx.min_cell),
                ctx.min_cell,
                ctx.language,
            )
        prior_text = estimate(prior, ctx.style, ctx.language) if prior is not None else "-"
        rows.append(
            f"| {name.upper()} | {prior_text} | {raw} | {estimate(ctx.effect(name), ctx.style, ctx.language)} |"
        )
    lines = [
        ctx.text(
            f"{_size_text(ctx, 'en')}The prior-only column is what the priors alone imply (the estimands computed from "
            "prior draws); the raw data column uses the data alone, without the model; the posterior combines both.",
            f"{_size_text(ctx, 'nb')}Kolonnen «bare prior» viser hva priorene alene tilsier (estimandene beregnet fra "
            "trekk fra prioren); rådata-kolonnen bruker bare dataene, uten modellen; posterioren kombinerer begge.",
        ),
        "\n".join(rows),
    ]
    for name in names:
        observed = RAW[name][0]
        prior = prior_effect(ctx, name)
        published = ctx.has(observed) and not too_small(
            ctx.estimands[observed].attrs.get("participants", ctx.min_cell), ctx.min_cell
        )
        if published and prior is not None:
            post = ctx.effect(name)
            raw_value = float(ctx.estimands[observed])
            lines.append(
                f"**{name.upper()}.** "
                + pull_sentence(
                    ctx,
                    post.median,
                    raw_value,
                    prior,
                    unit,
                    RAW[name][2],
                )
            )
    lines.append(calibration_text(ctx))
    return "\n\n".join(lines)


def calibration_text(ctx: ReportContext) -> str:
    """Coverage and average shrinkage measured by ``ipsbayes validate`` for this design, or how to measure them."""
    calibration = ctx.calibration or {}
    found = calibration.get("quantities", {}).get("cace")
    if not found:
        return ctx.text(
            "**Calibration.** No validation run was found for this config. `ipsbayes validate CONFIG` measures, over "
            "trials simulated at this design's size, how often the interval covers the true effect and how far the "
            "posterior mean is pulled from the truth on average; the report quotes it once `runs/NAME-validation/` "
            "exists (or `validation.results` names the folder).",
            "**Kalibrering.** Fant ingen valideringskjøring for denne konfigurasjonen. `ipsbayes validate CONFIG` "
            "måler, over forsøk simulert med denne designens størrelse, hvor ofte intervallet dekker den sanne "
            "effekten og hvor langt posteriorgjennomsnittet i snitt trekkes fra sannheten; rapporten siterer det når "
            "`runs/NAVN-validation/` finnes (eller `validation.results` peker på mappen).",
        )
    unit = ctx.estimands["cace"].attrs.get("unit", "")
    truth, mean = float(found["mean_truth"]), float(found["mean_posterior_mean"])
    coverage, nominal = float(found["coverage"]), float(found["nominal"])
    datasets = int(found.get("datasets", 0))
    size = calibration.get("n_participants")
    units = units_word(ctx)
    size_text = ctx.text(f" of {size} {units}", f" med {size} {units}") if size else ""
    shrink = 1 - mean / truth if truth else float("nan")
    if np.isfinite(shrink) and shrink > 0.02:
        pull = ctx.text(
            f"the posterior mean averaged {amount(mean, unit, 'en')}, {format_number(100 * shrink, '%', 'en')}% "
            "closer to zero than the truth",
            f"posteriorgjennomsnittet var i snitt {amount(mean, unit, 'nb')}, "
            f"{format_number(100 * shrink, '%', 'nb')} % nærmere null enn sannheten",
        )
    elif np.isfinite(shrink) and shrink < -0.02:
        pull = ctx.text(
            f"the posterior mean averaged {amount(mean, unit, 'en')}, further from zero than the truth",
            f"posteriorgjennomsnittet var i snitt {amount(mean, unit, 'nb')}, lenger fra null enn sannheten",
        )
    else:
        pull = ctx.text(
            f"the posterior mean averaged {amount(mean, unit, 'en')}, close to the truth",
            f"posteriorgjennomsnittet var i snitt {amount(mean, unit, 'nb')}, nær sannheten",
        )
    # two-sided, against the binomial SE at the nominal level (an observed 100% has no spread of its own)
    spread = 2 * float(np.sqrt(nominal * (1 - nominal) / max(int(datasets), 1)))
    if coverage < nominal - spread:
        verdict = ctx.text("below its nominal level", "under det nominelle nivået")
    elif coverage > nominal + spread:
        verdict = ctx.text(
            "above its nominal level: intervals too wide", "over det nominelle nivået: for brede intervaller"
        )
    else:
        verdict = ctx.text("consistent with its nominal level", "i tråd med det nominelle nivået")
    source = escape_md(calibration.get("path", ""))
    return ctx.text(
        f"**Calibration** (`ipsbayes validate`, {datasets} simulated trials{size_text} with a true CACE of "
        f"{amount(truth, unit, 'en')}; {source}): the {percent(nominal, 'en')} interval covered the truth in "
        f"{format_number(100 * coverage, '%', 'en')}% of trials ({verdict}), and {pull}.",
        f"**Kalibrering** (`ipsbayes validate`, {datasets} simulerte forsøk{size_text} med sann CACE "
        f"{amount(truth, unit, 'nb')}; {source}): {percent(nominal, 'nb')}-intervallet dekket sannheten i "
        f"{format_number(100 * coverage, '%', 'nb')} % av forsøkene ({verdict}), og {pull}.",
    )


def units_of(ctx: ReportContext) -> str:
    """The study's word for the people (or units) it counts, in the report's language, as plain text.

    ``[report.labels]`` wins over the vocabulary; in Norwegian ``units_nb`` (or the bokmål form of a
    family default). For sentences that are escaped once where they are rendered (the answer).
    """
    words = {**ctx.vocabulary, **ctx.labels}
    if ctx.language == "nb":
        return nb_word(words, "units", "participants")
    return str(words.get("units") or "participants")


def units_word(ctx: ReportContext) -> str:
    """:func:`units_of` escaped for Markdown ("participants", "workers"), for text written as Markdown."""
    return escape_md(units_of(ctx))


def _participants(ctx: ReportContext) -> int | None:
    """Participants the trial had: both arms' counts (a row with ``weights`` stands for several), else the rows."""
    arms = [
        ctx.estimands[name] for name in ("observed_rate_treatment_arm", "observed_rate_control_arm") if ctx.has(name)
    ]
    if len(arms) == 2 and all("group_size" in arm.attrs for arm in arms):  # "participants" is the smallest cell
        return round(sum(float(arm.attrs["group_size"]) for arm in arms))
    if arms:  # a run folder written before group sizes were stored: no count rather than the cells' sum
        return None
    observed = ctx.datatree["observed_data"] if "observed_data" in ctx.datatree.children else None
    return observed.sizes.get("participant") if observed is not None else None


def _size_text(ctx: ReportContext, language: str) -> str:
    """How much narrower the posterior interval of the CACE is than the prior's, and what that means."""
    prior = prior_effect(ctx, "cace")
    if prior is None:
        return ""
    post = ctx.effect("cace")
    ratio = (post.upper - post.lower) / (prior.upper - prior.lower) if prior.upper > prior.lower else float("nan")
    if not np.isfinite(ratio):
        return ""
    n = _participants(ctx)
    units = units_word(ctx)
    who = (
        (f"With {n:,} {units}, t" if language != "nb" else f"Med {n:,} {units} er p".replace(",", "\u2009"))
        if n
        else ("T" if language != "nb" else "P")
    )
    share = format_number(100 * ratio, "%", language)
    flagged = flagged_prior_sensitivity(ctx, "cace")
    meaning = prior_weight_words(ratio, flagged)  # the reading every report gives a width ratio
    if language == "nb":
        return f"{who}osteriorintervallet for CACE {share} % så bredt som priorens, {meaning[1]}. "
    return f"{who}he posterior interval of the CACE is {share}% as wide as the prior's, {meaning[0]}. "


def prior_effect(ctx: ReportContext, name: str) -> Effect | None:
    """What the priors alone imply for estimand ``name`` (the ``prior_estimands`` group), or None."""
    if "prior_estimands" not in ctx.datatree.children or name not in ctx.datatree["prior_estimands"].data_vars:
        return None
    values = ctx.datatree["prior_estimands"][name]
    return Effect.from_draws(values.values, ctx.style, values.attrs.get("unit", ""), values.attrs.get("null", 0.0))


__all__ = ["calibration_text", "prior_effect", "small_sample_section", "units_of", "units_word"]
