"""Report of ``ipsbayes map-prior``: evidence, heterogeneity, the MAP mixture, robustification and ESS.

Every sentence is built from the fitted numbers, in English (``en``) or Norwegian bokmål (``nb``),
and rendered by the shared standalone renderer (:mod:`ipsbayes.report.standalone`): same
templates, escaping and figure profile as run reports.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from ipsbayes.evidence.derive import TARGETS, MapPart, MapResult
from ipsbayes.present import Figure as FigureSpec
from ipsbayes.present import Presentation, ReportContext, Section, fixed
from ipsbayes.present.text import localise, percent
from ipsbayes.report.figures_map import forest_figure, mixture_figure
from ipsbayes.report.standalone import check_language, standalone_context, write_standalone
from ipsbayes.report.tables import csv_text
from ipsbayes.report.verdict import command_verdict
from ipsbayes.rundir import package_versions, write_json
from ipsbayes.textutil import escape_md

#: ESS change (share of the MAP prior's ESS) below which robustification "hardly" lowers it
ESS_HARDLY = 0.1


def num(value: float, spec: str, language: str) -> str:
    """``format(value, spec)`` with a decimal comma and thin-space thousands in Norwegian."""
    return localise(format(value, spec), language)


def ratio_text(value: float, language: str) -> str:
    """A positive ratio (odds ratio) with two decimals, or two significant digits below 0.1; never "0.00"."""
    if value >= 0.1:
        return num(value, ".2f", language)
    if value < 0.001:
        return "< " + num(0.001, ".3f", language)
    return localise(np.format_float_positional(value, precision=2, unique=False, fractional=False), language)


def share_text(percent_value: float, language: str) -> str:
    """A rate in percent: whole numbers, one decimal below 1%, "< 0.1" below that; never "0"."""
    if percent_value >= 1:
        return num(percent_value, ".0f", language)
    return num(percent_value, ".1f", language) if percent_value >= 0.1 else "< " + num(0.1, ".1f", language)


def ess_change_sentence(ctx: ReportContext, elir: float, elir_robust: float) -> str:
    """How much the vague component lowers the prior's information, chosen from the two ESS values."""
    drop = 1 - elir_robust / elir if elir > 0 else 0.0
    share = percent(drop, ctx.language)
    if drop < ESS_HARDLY:
        return ctx.text(
            f"Robustification hardly changes the prior's information (ESS {share} lower).",
            f"Robustifiseringen endrer knapt informasjonen i prioren (ESS {share} lavere).",
        )
    return ctx.text(
        f"Robustification removes {share} of the prior's information: the trial's own data weigh correspondingly "
        "more if they disagree with the earlier trials.",
        f"Robustifiseringen fjerner {share} av informasjonen i prioren: studiens egne data veier tilsvarende mer "
        "hvis de avviker fra de tidligere studiene.",
    )


class MapText:
    """Sections of the MAP prior report, each computed from a :class:`MapResult`."""

    def __init__(self, result: MapResult) -> None:
        self.result = result
        self.config = result.config

    # -- evidence -----------------------------------------------------------------------------------------------
    def evidence(self, ctx: ReportContext) -> str:
        """Which trials entered, which were left out and why, and the sampler diagnostics."""
        result, config, evidence = self.result, self.config, self.result.evidence
        names = escape_md(", ".join(evidence.studies))
        text = ctx.text(
            f"{evidence.size} trials entered the meta-analysis: {names}.",
            f"{evidence.size} studier inngår i metaanalysen: {names}.",
        )
        if evidence.left_out:
            left = escape_md(", ".join(dict.fromkeys(evidence.left_out)))
            column = escape_md(config.columns.verified)
            n = len(evidence.left_out)
            text += " " + ctx.text(
                f"{n} row{'s' * (n != 1)} {'were' if n != 1 else 'was'} left out because column '{column}' does not "
                f"mark {'them' if n != 1 else 'it'} (counts not verified against the publication, or another rule of "
                f"the evidence table): {left}.",
                f"{n} {'rad' if n == 1 else 'rader'} er utelatt fordi kolonnen '{column}' ikke markerer "
                f"{'den' if n == 1 else 'dem'} (tallene er ikke kontrollert mot publikasjonen, eller en annen regel i "
                f"tabellen): {left}.",
            )
        diagnostics = result.diagnostics
        messages = escape_md("; ".join(diagnostics.messages_in(ctx.language)))
        status = {"pass": ("passed", "bestått"), "warn": ("warnings", "advarsler"), "fail": ("failed", "feilet")}
        word = ctx.text(*status.get(diagnostics.status, (diagnostics.status, diagnostics.status)))
        text += " " + ctx.text(
            f"Sampler diagnostics: {word}{f' ({messages})' if messages else ''}.",
            f"Diagnostikk for MCMC: {word}{f' ({messages})' if messages else ''}.",
        )
        return text

    # -- heterogeneity --------------------------------------------------------------------------------------------
    def heterogeneity(self, ctx: ReportContext) -> str:
        """Between-trial SD of each quantity against its prior."""
        lines = []
        for part in ("effect", "control"):
            if part not in self.result.parts:
                continue
            draws = self.result.datatree["posterior"][f"tau_{part}"].values.ravel()
            low, median, high = (num(v, ".2f", ctx.language) for v in np.quantile(draws, [0.025, 0.5, 0.975]))
            scale = num(getattr(self.config.hierarchy, f"{part}_tau"), "g", ctx.language)
            what = ctx.text(
                *{
                    "effect": ("the log odds ratio", "log-oddsratioen"),
                    "control": ("the control-arm log-odds", "log-odds i kontrollgruppen"),
                }[part]
            )
            lines.append(
                ctx.text(
                    f"Between-trial SD of {what}: median {median} (95% interval {low} to {high}); prior "
                    f"HalfNormal({scale}).",
                    f"Standardavvik mellom studier for {what}: median {median} (95 % intervall {low} til {high}); "
                    f"prior HalfNormal({scale}).",
                )
            )
        return " ".join(lines)

    # -- the MAP prior ------------------------------------------------------------------------------------------
    def prior_line(self, ctx: ReportContext, part: MapPart) -> str:
        """The MAP prior of one quantity on the users' scale, before and after robustification."""
        lang = ctx.language
        outcome, treatment = escape_md(self.config.outcome_label), escape_md(self.config.treatment_label)
        utfall, tiltak = escape_md(self.config.label("outcome", "nb")), escape_md(self.config.label("treatment", "nb"))
        mix, rob = part.mixture, part.robust
        if part.name == "effect":
            q = [ratio_text(float(np.exp(mix.quantile(p))), lang) for p in (0.025, 0.5, 0.975)]
            r = [ratio_text(float(np.exp(rob.quantile(p))), lang) for p in (0.025, 0.5, 0.975)]
            p_pos = 1 - float(mix.cdf(0.0))
            better = num(p_pos, ".2f", lang)
            lean = (
                ctx.text("favours", "favoriserer")
                if p_pos >= 0.9
                else ctx.text("leans towards", "heller mot")
                if p_pos >= 0.5
                else ctx.text("does not favour", "favoriserer ikke")
            )
            return ctx.text(
                f"**Odds ratio of {outcome} with {treatment} in a new trial**: median {q[1]} (95% interval {q[0]} "
                f"to {q[2]}). The MAP prior {lean} better odds of {outcome} with {treatment} (OR > 1 with probability "
                f"{better}). After robustification: median {r[1]} ({r[0]} to {r[2]}).",
                f"**Oddsratio for {utfall} med {tiltak} i en ny studie**: median {q[1]} (95 % intervall {q[0]} "
                f"til {q[2]}). MAP-prioren {lean} bedre odds for {utfall} med {tiltak} (OR > 1 med "
                f"sannsynlighet {better}). Etter robustifisering: median {r[1]} ({r[0]} til {r[2]}).",
            )

        def rate(m: object, p: float) -> str:
            value = m.quantile(p)
            return share_text(100 * (value if mix.family == "beta" else float(expit(value))), lang)

        pct = " %" if lang == "nb" else "%"
        return ctx.text(
            f"**Rate of {outcome} without {treatment} in a new trial**: median {rate(mix, 0.5)}{pct} (95% interval "
            f"{rate(mix, 0.025)}{pct} to {rate(mix, 0.975)}{pct}); after robustification {rate(rob, 0.025)}{pct} to "
            f"{rate(rob, 0.975)}{pct}.",
            f"**Andel med {utfall} uten {tiltak} i en ny studie**: median {rate(mix, 0.5)}{pct} (95 % intervall "
            f"{rate(mix, 0.025)}{pct} til {rate(mix, 0.975)}{pct}); etter robustifisering {rate(rob, 0.025)}{pct} "
            f"til {rate(rob, 0.975)}{pct}.",
        )

    def fit_line(self, ctx: ReportContext, part: MapPart) -> str:
        """How well the mixture reproduces the MCMC draws (the quality word chosen from the gaps)."""
        lang = ctx.language
        draws, mixed = part.draws_summary(), part.mixture.summary()
        crit = part.fit.criterion.upper() + (" 6" if part.fit.criterion == "aic" else "")
        pairs = {
            key: (num(mixed[key], ".3f", lang), num(draws[key], ".3f", lang))
            for key in ("mean", "sd", "q0.025", "q0.975")
        }
        worst = max(abs(mixed[k] - draws[k]) for k in pairs) / max(draws["sd"], 1e-12)
        quality = (
            ctx.text("reproduces", "gjengir")
            if worst < 0.1
            else ctx.text("approximates only roughly", "gjengir bare grovt")
        )
        n = num(part.draws.size, ",", lang)
        k = part.mixture.size
        return ctx.text(
            f"The {k}-component {part.mixture.family} mixture ({crit}) {quality} the {n} predictive draws: mean "
            f"{pairs['mean'][0]} vs {pairs['mean'][1]}, SD {pairs['sd'][0]} vs {pairs['sd'][1]}, 2.5% and 97.5% "
            f"quantiles {pairs['q0.025'][0]}/{pairs['q0.975'][0]} vs {pairs['q0.025'][1]}/{pairs['q0.975'][1]} "
            "(mixture vs draws).",
            f"Blandingen med {k} {part.mixture.family}-komponenter ({crit}) {quality} de {n} prediktive trekkene: "
            f"gjennomsnitt {pairs['mean'][0]} mot {pairs['mean'][1]}, SD {pairs['sd'][0]} mot {pairs['sd'][1]}, "
            f"2,5 %- og 97,5 %-kvantil {pairs['q0.025'][0]}/{pairs['q0.975'][0]} mot "
            f"{pairs['q0.025'][1]}/{pairs['q0.975'][1]} (blanding mot trekk).",
        )

    def prior(self, ctx: ReportContext) -> str:
        """The MAP prior of every quantity with its mixture fit."""
        return "\n\n".join(
            self.prior_line(ctx, self.result.parts[p]) + " " + self.fit_line(ctx, self.result.parts[p])
            for p in ("effect", "control")
            if p in self.result.parts
        )

    # -- effective sample size ----------------------------------------------------------------------------------
    def ess(self, ctx: ReportContext) -> str:
        """Effective sample size of each MAP prior, before and after robustification."""
        lang = ctx.language
        lines = []
        p0, p1 = self.result.rates()
        for name in ("effect", "control"):
            part = self.result.parts.get(name)
            if part is None:
                continue
            label, unit, one = {
                "effect": (
                    ("The MAP prior for the log odds ratio", "MAP-prioren for log-oddsratioen"),
                    ("participants per arm", "deltakere per arm"),
                    ("participant per arm", "deltaker per arm"),
                ),
                "control": (
                    ("The MAP prior for the control rate", "MAP-prioren for andelen i kontrollgruppen"),
                    ("control participants", "kontrolldeltakere"),
                    ("participant", "deltaker"),
                ),
            }[name]
            e = part.ess
            elir, moment = num(e["elir"], ".0f", lang), num(e["moment"], ".0f", lang)
            elir_r, moment_r = num(e["elir_robust"], ".0f", lang), num(e["moment_robust"], ".0f", lang)
            w = num(part.robust_weight, "g", lang)
            line = ctx.text(
                f"{label[0]} is worth about **{elir} {unit[0]}** (ELIR, Neuenschwander et al. 2020; moment matching: "
                f"{moment}). Adding a vague component with weight {w} (one {one[0]}'s worth of information) lowers "
                f"this to **{elir_r}** (moment matching: {moment_r}).",
                f"{label[1]} er verdt omtrent **{elir} {unit[1]}** (ELIR, Neuenschwander mfl. 2020; momentmetoden: "
                f"{moment}). En vag komponent med vekt {w} (informasjonen fra én {one[1]}) senker dette til "
                f"**{elir_r}** (momentmetoden: {moment_r}).",
            )
            line += " " + ess_change_sentence(ctx, e["elir"], e["elir_robust"])
            if part.unit_sd is not None and p1 is not None:
                sd = num(part.unit_sd, ".2f", lang)
                line += " " + ctx.text(
                    f"One participant per arm is a normal observation with SD {sd} on the log odds ratio (unit "
                    f"information at a control rate of {percent(p0, 'en')} and a treatment rate of "
                    f"{percent(p1, 'en')}).",
                    f"Én deltaker per arm er en normalfordelt observasjon med SD {sd} på log-oddsratioen "
                    f"(enhetsinformasjon ved {percent(p0, 'nb')} i kontrollgruppen og {percent(p1, 'nb')} med "
                    "tiltaket).",
                )
            lines.append(line)
        return "\n\n".join(lines)

    # -- bridge to the CACE model -------------------------------------------------------------------------------
    def bridge(self, ctx: ReportContext) -> str:
        """How the MAP prior set feeds the CACE model's priors."""
        config = self.config
        name = escape_md(config.name)
        treatment, tiltak = escape_md(config.treatment_label), escape_md(config.label("treatment", "nb"))
        w_effect = num(config.mixture.robust_weight_effect, "g", ctx.language)
        w_control = num(config.mixture.robust_weight_control, "g", ctx.language)
        return ctx.text(
            f"The prior set {name} uses the robust MAP prior of the log odds ratio for `treatment_effect` (the "
            f"effect of {treatment} on compliers) and of the control-arm log-odds for `complier_control_intercept`. "
            f"The trials report intention-to-treat contrasts in populations where most people offered {treatment} "
            "took it up; where uptake was lower, their log odds ratio is diluted towards no effect, so the prior "
            f"leans sceptical rather than optimistic. The robust components ({w_effect} for the effect, {w_control} "
            "for the control rate) let a new trial's data override the prior when they conflict with it, and every "
            "run with this prior reports a prior-data conflict check.",
            f"Priorsettet {name} bruker den robuste MAP-prioren for log-oddsratioen som `treatment_effect` "
            f"(effekten av {tiltak} for dem som tar imot tilbudet) og for log-odds i kontrollgruppen som "
            f"`complier_control_intercept`. Studiene rapporterer intention-to-treat-kontraster i grupper der de "
            f"fleste som fikk tilbud om {tiltak}, tok det imot; der færre tok imot, er log-oddsratioen trukket mot "
            f"null, så prioren heller mot det skeptiske. De robuste komponentene ({w_effect} for effekten, "
            f"{w_control} for kontrollandelen) lar data fra en ny studie overstyre prioren når de strider mot den, og "
            "hver analyse med denne prioren rapporterer en sjekk av konflikt mellom prior og data.",
        )

    # -- figures --------------------------------------------------------------------------------------------------
    def forest(self, ctx: ReportContext):
        """The forest figure with its caption."""
        fig = forest_figure(self.result, ctx)
        return fig, ctx.text(
            "Open circles: each trial's observed estimate (95% CI, 0.5 added to every cell); squares: the "
            "hierarchical model's estimate for that trial (95% interval); diamonds: median and 95% interval of the "
            "MAP prior and of its robust version. These are published aggregate counts of earlier trials.",
            "Åpne sirkler: hver studies observerte estimat (95 % KI, 0,5 lagt til hver celle); kvadrater: den "
            "hierarkiske modellens estimat for studien (95 % intervall); ruter: median og 95 % intervall for "
            "MAP-prioren og den robuste versjonen. Tallene er publiserte aggregater fra tidligere studier.",
        )

    def mixture(self, ctx: ReportContext):
        """The mixture figure with its caption."""
        fig = mixture_figure(self.result, ctx)
        return fig, ctx.text(
            "Grey: MCMC draws from the predictive distribution of a new trial; red: the fitted mixture; orange "
            "dashed: the robust mixture written to the prior set. The mixture is a density, so it has no interval.",
            "Grått: MCMC-trekk fra den prediktive fordelingen for en ny studie; rødt: den tilpassede blandingen; "
            "oransje stiplet: den robuste blandingen som skrives til priorsettet. Blandingen er en tetthet og har "
            "ikke noe intervall.",
        )

    def presentation(self) -> Presentation:
        """Sections and figures of the MAP prior report."""
        return Presentation(
            sections=(
                Section("evidence", fixed("Evidence", "Kunnskapsgrunnlag"), self.evidence),
                Section(
                    "heterogeneity",
                    fixed("Between-trial heterogeneity", "Variasjon mellom studier"),
                    self.heterogeneity,
                ),
                Section("map", fixed("The prior for a new trial", "Prioren for en ny studie"), self.prior),
                Section("ess", fixed("Effective sample size", "Effektiv utvalgsstørrelse"), self.ess),
                Section(
                    "bridge",
                    fixed("From earlier trials to the CACE model", "Fra tidligere studier til CACE-modellen"),
                    self.bridge,
                    lambda ctx: "effect" in self.result.parts,
                ),
            ),
            figures=(
                FigureSpec(
                    "map_forest",
                    fixed("Trials and the prior for a new trial", "Studiene og prioren for en ny studie"),
                    self.forest,
                ),
                FigureSpec(
                    "map_mixture", fixed("Mixture approximation", "Tilnærming med blandingsfordeling"), self.mixture
                ),
            ),
        )


def summary_table(result: MapResult) -> pd.DataFrame:
    """One row per quantity and source (MCMC draws, mixture, robust mixture) with moments, quantiles and ESS."""
    rows = []
    for name, part in result.parts.items():
        for source, values in (
            ("mcmc_draws", part.draws_summary()),
            ("mixture", part.mixture.summary()),
            ("robust_mixture", part.robust.summary()),
        ):
            ess_elir = {"mixture": part.ess["elir"], "robust_mixture": part.ess["elir_robust"]}.get(source)
            ess_moment = {"mixture": part.ess["moment"], "robust_mixture": part.ess["moment_robust"]}.get(source)
            rows.append(
                {
                    "quantity": name,
                    "prior_name": TARGETS[name],
                    "scale": "rate" if part.mixture.family == "beta" else ("log_or" if name == "effect" else "logit"),
                    "source": source,
                    **values,
                    "ess_elir": ess_elir,
                    "ess_moment": ess_moment,
                    "components": None if source == "mcmc_draws" else part.mixture.size + (source == "robust_mixture"),
                }
            )
    return pd.DataFrame(rows)


def components_table(result: MapResult) -> pd.DataFrame:
    """Weights and parameters of every robust mixture component."""
    rows = []
    for name, part in result.parts.items():
        rob = part.robust
        first, second = ("mu", "sigma") if rob.family == "normal" else ("a", "b")
        for label, w, a, b in zip(rob.labels, rob.w, rob.a, rob.b, strict=True):
            rows.append({"quantity": name, "component": label, "w": w, first: a, second: b})
    return pd.DataFrame(rows)


#: fewer trials than this leave the between-trial SDs mostly to their priors (the verdict warns)
FEW_TRIALS = 5


def map_verdict(result: MapResult, ctx: ReportContext) -> dict:
    """The verdict block: the MAP fit's diagnostics gate, and a warning when there are too few trials."""
    diagnostics, k = result.diagnostics, result.evidence.size
    extra = []
    if k < FEW_TRIALS:
        extra.append(
            (
                "warn",
                ctx.text(
                    f"Only {k} trials: so few cannot determine the between-trial SD, so the width of the MAP prior "
                    "rests largely on its HalfNormal prior (see the hierarchy section).",
                    f"Bare {k} studier: så få kan ikke bestemme standardavviket mellom studiene, så bredden på "
                    "MAP-prioren hviler mest på HalfNormal-prioren (se avsnittet om hierarkiet).",
                ),
            )
        )
    return command_verdict(diagnostics.status, diagnostics.findings_in(ctx.language), extra, ctx.language)


def write_map_report(folder: Path, result: MapResult, language: str = "en") -> None:
    """Write ``summary.csv``, ``components.csv``, figures, ``report.md``/``report.html`` and ``provenance.json``."""
    ctx = standalone_context(check_language(language))
    config, evidence = result.config, result.evidence
    (folder / "summary.csv").write_text(csv_text(summary_table(result)))  # study names: never formulas
    (folder / "components.csv").write_text(csv_text(components_table(result)))
    title = ctx.text(f"Meta-analytic-predictive prior: {config.name}", f"Meta-analytisk prediktiv prior: {config.name}")
    details = {
        "config": str(config.source) if config.source else "",
        "evidence table": str(config.resolve(config.evidence)),
        "seed": config.seed,
        "seconds": round(result.timings.get("total", 0.0), 1),
    }
    write_standalone(
        folder, ctx, title, MapText(result).presentation(), details=details, verdict=map_verdict(result, ctx)
    )
    write_json(
        folder / "provenance.json",
        {
            "config": str(config.source) if config.source else None,
            "evidence": str(config.resolve(config.evidence)),
            "trials": evidence.studies,
            "left_out_unverified": evidence.left_out,
            "seed": config.seed,
            "sampler": config.sampler.model_dump(),
            "diagnostics": result.diagnostics.to_dict(),
            "timings_seconds": {k: round(v, 2) for k, v in result.timings.items()},
            "versions": package_versions(),
        },
    )


__all__ = ["MapText", "components_table", "ess_change_sentence", "map_verdict", "summary_table", "write_map_report"]
