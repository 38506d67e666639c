"""Report sections: the family's own, then the ones every run shares.

A model family hands the report its sections (see :mod:`ipsbayes.present`);
this module adds the shared ones (sensitivity to priors and assumptions) and
turns each section's Markdown into HTML.
"""

from __future__ import annotations

import json

from ipsbayes.diagnostics_text import parameter_label
from ipsbayes.present import Presentation, ReportContext, Section, fixed
from ipsbayes.present.answers import analysis_name, refit_gates, sensitivity_effects
from ipsbayes.present.context import vocabulary_of
from ipsbayes.present.phrases import estimate
from ipsbayes.present.text import escape_md
from ipsbayes.report.html import markdown_to_html
from ipsbayes.report.tables import DIAGNOSES, power_scaling_table
from ipsbayes.report.verdict import join_names, short_name
from ipsbayes.textutil import code_span


def prior_changes_text(ctx: ReportContext) -> str:
    """What each prior-set refit changes against the main analysis, and which parameters its set does not name.

    A prior set is written for parameter names (the IPS sets name ``sd_service``); in a design with other
    names the parameters it leaves out keep the model's defaults, and the reader must see that the
    refit's "sceptical" reaches only the priors listed here. Empty without prior-set refits.
    """
    changes = json.loads(str(ctx.datatree["sensitivity"].attrs.get("prior_changes", "{}")) or "{}")
    sentences = []
    for analysis, change in changes.items():
        name = escape_md(analysis_name(analysis, ctx.labels, ctx.language))
        given = [f"{code_span(n)} {escape_md(p)}" for n, p in (c.split(": ", 1) for c in change.get("changed", []))]
        text = ctx.text(
            f"{name[:1].upper()}{name[1:]} gives {join_names(given, 'en')}"
            if given
            else f"{name[:1].upper()}{name[1:]} changes no prior of the main analysis",
            f"{name[:1].upper()}{name[1:]} gir {join_names(given, 'nb')}"
            if given
            else f"{name[:1].upper()}{name[1:]} endrer ingen prior fra hovedanalysen",
        )
        unnamed = ", ".join(code_span(n) for n in change.get("defaulted", []))
        if unnamed:
            text += ctx.text(
                f"; the parameters it does not name ({unnamed}) keep the model's defaults",
                f"; parameterne det ikke nevner ({unnamed}), beholder modellens standardpriorer",
            )
        sentences.append(text + ".")
    if not sentences:
        return ""
    return ctx.text("What the prior sets change: ", "Hva priorsettene endrer: ") + " ".join(sentences)


def sensitivity_section(ctx: ReportContext) -> str:
    """Estimates under other prior sets and model variants (with each refit's gate), and power-scaling sensitivity."""
    datatree, style = ctx.datatree, ctx.style
    parts = []
    if "sensitivity" in datatree.children:
        sensitivity = datatree["sensitivity"]
        gates = refit_gates(datatree)
        rows = [
            ctx.text(
                "| Analysis | Estimand | Median (interval) | P(direction) | Diagnostics |",
                "| Analyse | Estimand | Median (intervall) | P(retning) | Diagnosesjekk |",
            ),
            "| --- | --- | --- | ---: | --- |",
        ]
        for name in sensitivity.data_vars:
            label = escape_md(short_name(str(name), datatree, ctx.labels, ctx.language))
            for analysis, effect in sensitivity_effects(ctx, str(name)).items():
                gate = gates.get(analysis, {}).get("status", "-")
                has_null = sensitivity[name].attrs.get("null") is not None
                way = ctx.text("rise" if effect.sign >= 0 else "fall", "økning" if effect.sign >= 0 else "nedgang")
                direction = f"{ctx.probability(effect.p_direction)} ({way})" if has_null else "-"
                rows.append(
                    f"| {escape_md(analysis_name(analysis, ctx.labels, ctx.language))} | {label} | "
                    f"{estimate(effect, style, ctx.language)} | {direction} | {_gate_word(ctx, gate)} |"
                )
        parts.append(
            ctx.text(
                "Each row refits the same data (same sampler settings) under another prior set or model assumption, "
                f"through the same diagnostics gate as the main fit; intervals are {style.text}. P(direction) is the "
                "probability of a change in the direction of the median. Priors are listed in `priors/`; the main "
                "analysis's priors are tabled under *Model*.",
                "Hver rad tilpasser de samme dataene på nytt (samme samplerinnstillinger) med et annet priorsett "
                "eller en annen modellantakelse, gjennom den samme diagnosesjekken som hovedanalysen; intervallene "
                f"er {style.text}. P(retning) er sannsynligheten for en endring i medianens retning. Priorene står i "
                "`priors/`; hovedanalysens priorer er vist under *Modell*.",
            )
        )
        parts.append("\n".join(rows))
        changed = prior_changes_text(ctx)
        if changed:
            parts.append(changed)
    if "power_scaling" in datatree.children:
        power = power_scaling_table(datatree["power_scaling"].to_dataset())
        rows = [
            ctx.text(
                "| Estimand | Prior sensitivity | Likelihood sensitivity | Diagnosis |",
                "| Estimand | Følsomhet for prior | Følsomhet for likelihood | Vurdering |",
            ),
            "| --- | ---: | ---: | --- |",
        ]
        # a vector estimand's own row holds its largest element's sensitivities and no diagnosis of its own
        elements = json.loads(str(datatree["power_scaling"].attrs.get("elements", "{}")) or "{}")
        for row in power.to_dict("records"):
            diagnosis = str(row.get("diagnosis", ""))
            words = DIAGNOSES.get(diagnosis, (diagnosis, diagnosis))
            label = short_name(str(row["estimand"]), datatree, ctx.labels, ctx.language)
            if str(row["estimand"]) in elements:
                count = len(elements[str(row["estimand"])])
                if count <= 1:  # its one element's own row says the same
                    continue
                label += ctx.text(
                    f" (each column: the largest over its {count} elements)",
                    f" (hver kolonne: den største over de {count} elementene)",
                )
                words = ("see its elements' rows", "se radene for elementene")
            rows.append(
                f"| {escape_md(label)} | "
                f"{ctx.number(float(row['prior']), 'x')} | {ctx.number(float(row['likelihood']), 'x')} | "
                f"{escape_md(ctx.text(*words))} |"
            )
        parts.append(
            ctx.text(
                "**Power-scaling sensitivity** (Kallioinen et al. 2023; ArviZ `psense_summary`): how far the posterior "
                "moves when the prior or the likelihood is raised to a power near 1, without refitting. Values of "
                "0.05 or more flag sensitivity; a prior-sensitive estimand with a weak likelihood means the data alone "
                "cannot pin it down, and sensitivity to both suggests prior-data conflict.",
                "**Power-scaling-følsomhet** (Kallioinen mfl. 2023; ArviZ `psense_summary`): hvor mye posterioren "
                "flytter seg når prioren eller likelihooden opphøyes i en potens nær 1, uten ny tilpasning. Verdier "
                "på 0,05 eller mer markerer følsomhet; er et estimand følsomt for prioren mens likelihooden er svak, "
                "kan ikke dataene alene bestemme det, og følsomhet for begge tyder på konflikt mellom prior og data.",
            )
        )
        parts.append("\n".join(rows))
        parts.append(scaled_priors_sentence(ctx, datatree["power_scaling"].attrs))
    return "\n\n".join(parts)


def scaled_priors_sentence(ctx: ReportContext, attrs: dict) -> str:
    """Which priors power-scaling raised to a power, and which named priors it could not (none of their own)."""
    words = vocabulary_of(ctx.estimands)

    def names(key: str, language: str) -> str:
        listed = [n for n in str(attrs.get(key, "")).split(",") if n]
        return ", ".join(escape_md(parameter_label(n, language, words)) for n in listed)

    scaled = ctx.text(
        f"Priors scaled: {names('prior_names', 'en')}.", f"Priorer som ble skalert: {names('prior_names', 'nb')}."
    )
    if not names("priors_not_scaled", "en"):
        return scaled
    return (
        scaled
        + " "
        + ctx.text(
            f"Not scaled (the model has no density of their own for them): {names('priors_not_scaled', 'en')}.",
            f"Ikke skalert (modellen har ingen egen tetthet for dem): {names('priors_not_scaled', 'nb')}.",
        )
    )


def _gate_word(ctx: ReportContext, status: str) -> str:
    words = {
        "pass": ("passed", "bestått"),
        "warn": ("warned: use with care", "advarsel: bruk med forsiktighet"),
        "fail": ("failed: do not use", "feilet: ikke bruk"),
    }
    return ctx.text(*words[status]) if status in words else status


#: sections every run gets when it has what they need
SHARED_SECTIONS: tuple[Section, ...] = (
    Section(
        "sensitivity",
        fixed("Sensitivity to priors and assumptions", "Følsomhet for priorfordelinger og antakelser"),
        sensitivity_section,
        lambda ctx: "sensitivity" in ctx.datatree.children or "power_scaling" in ctx.datatree.children,
    ),
)


def build_sections(ctx: ReportContext, presentation: Presentation) -> list[dict]:
    """Key, title, Markdown and HTML of every applicable section: the family's first, then the shared ones."""
    out = []
    for section in (*presentation.sections, *SHARED_SECTIONS):
        if section.applies(ctx):
            text = section.build(ctx)
            out.append(
                {
                    "key": section.key,
                    "title": section.title(ctx),
                    "text": text,
                    "html": markdown_to_html(text),
                }
            )
    return out
