"""Report of ``ipsbayes design``: the sample-size (assurance) curve and expected interval widths, in words.

Every sentence is computed from the assurance table and the design's settings, in English or
Norwegian bokmål, and rendered by the shared standalone renderer (:mod:`ipsbayes.report.standalone`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ipsbayes.models.base import nb_word
from ipsbayes.present import Figure as FigureSpec
from ipsbayes.present import Presentation, ReportContext, Section, fixed
from ipsbayes.present.phrases import amount
from ipsbayes.present.text import localise, percent
from ipsbayes.report.standalone import check_language, standalone_context, write_standalone
from ipsbayes.report.verdict import command_verdict
from ipsbayes.textutil import escape_md

#: assurance a design should reach to be called adequate in the report's answer
TARGET = 0.8


def decimal(value: float, digits: int, language: str) -> str:
    """``value`` with ``digits`` decimals (decimal comma in Norwegian)."""
    return localise(f"{value:.{digits}f}", language)


def study_units(words: dict[str, Any]) -> dict[str, str]:
    """The study's word for the people it counts, in English and bokmål (``units``, ``units_nb``)."""
    return {"en": str(words.get("units") or "participants"), "nb": nb_word(words, "units", "participants")}


class DesignText:
    """Sentences of a design report, each computed from the curve and the design's settings."""

    def __init__(self, curve: pd.DataFrame, meta: dict[str, Any], unit: str) -> None:
        self.curve = curve.dropna(subset=["assurance"]).reset_index(drop=True)
        self.meta = meta
        self.unit = unit
        design = meta["design"]
        self.success = design["success"]
        name = self.success["estimand"]
        self.estimand = name.upper() if name in ("cace", "itt") else name.replace("_", " ")
        self.prob = float(design["interval_prob"])
        self.fixed = {str(k): float(v) for k, v in (design.get("fixed") or {}).items()}
        self.units = meta.get("units") or {"en": "participants", "nb": "deltakere"}

    def people(self, language: str, markdown: bool = False) -> str:
        """The study's word for the people it counts ("participants", "pupils").

        Plain text for the answer (its template escapes it), escaped Markdown for a section.
        """
        word = self.units.get(language) or self.units["en"]
        return escape_md(word) if markdown else word

    def pins(self, ctx: ReportContext, markdown: bool = False) -> str:
        """The parameters ``[design.fixed]`` pins and what that makes assurance ('' when none).

        Plain text for the answer (its template escapes it), escaped Markdown for a section.
        """
        if not self.fixed:
            return ""
        name = escape_md if markdown else str
        listing = ", ".join(f"{name(k)} = {decimal(v, 2, ctx.language)}" for k, v in self.fixed.items())
        text = ctx.text(
            f"Fixed in every simulated trial instead of drawn from the design prior (design.fixed): {listing}; "
            "assurance is then the probability of success if these values were true, an assumption of this "
            "config, not what the data imply.",
            f"Fast i hver simulerte studie i stedet for trukket fra designprioren (design.fixed): {listing}; "
            "sannsynligheten for suksess gjelder da hvis disse verdiene var sanne, en antakelse i denne "
            "konfigurasjonen, ikke noe dataene viser.",
        )
        if self.fixed.get("treatment_effect") == 0.0:
            text += " " + ctx.text(
                "With no treatment effect, assurance is the false-positive rate of the success rule.",
                "Uten effekt av tiltaket er sannsynligheten for suksess regelens andel falske positive.",
            )
        return text

    def threshold(self, language: str) -> str:
        """The success threshold with its unit."""
        return amount(float(self.success["threshold"]), self.unit, language)

    def spread(self, row: pd.Series) -> float:
        """Two Monte Carlo SEs of a size's assurance, never less than the Agresti-Coull SE.

        The binomial SE is 0 when every (or no) simulated trial succeeded, which with 3 trials
        would make 3/3 look certain; the Agresti-Coull SE ((x + 2) / (k + 4)) does not.
        """
        k = max(int(row.get("trials", self.meta["design"]["trials"]) or 0), 1)
        adjusted = (float(row["assurance"]) * k + 2) / (k + 4)
        return 2 * max(float(row["assurance_mcse"]), float(np.sqrt(adjusted * (1 - adjusted) / (k + 4))))

    @staticmethod
    def trials_needed(value: float, against: float) -> int:
        """Simulated trials per size for 2 MC SEs to separate ``value`` from ``against`` (margin at least 0.03)."""
        gap = max(abs(value - against), 0.03)
        p = min(max(value, 0.05), 0.95)
        return int(np.ceil(4 * p * (1 - p) / gap**2 / 100) * 100)

    def answer(self, ctx: ReportContext) -> list[str]:
        """The smallest size that reaches :data:`TARGET` (or the best one), and the ceiling.

        A size is said to reach (or miss) the target only when its estimate is at least two Monte
        Carlo SEs from it (:meth:`spread`); otherwise the report says the simulation is too small to
        tell and how many simulated trials per size would be.
        """
        pe, pn = self.people("en"), self.people("nb")
        if self.curve.empty:
            return [
                ctx.text(
                    "Every simulated analysis failed; see trials.csv.",
                    "Alle simulerte analyser feilet; se trials.csv.",
                )
            ]
        lang = ctx.language
        reached = self.curve[self.curve["assurance"] >= TARGET]
        target = percent(TARGET, lang)
        k = int(self.meta["design"]["trials"])
        if len(reached):
            row = reached.iloc[0]
            value, mcse = decimal(row["assurance"], 2, lang), decimal(self.spread(row) / 2, 2, lang)
            if float(row["assurance"]) - self.spread(row) >= TARGET:
                first = ctx.text(
                    f"The smallest planned size whose assurance reaches {target} is {int(row['size'])} "
                    f"{pe} (assurance {value}, MC SE {mcse}).",
                    f"Den minste planlagte størrelsen der sannsynligheten for suksess når {target}, er "
                    f"{int(row['size'])} {pn} ({value}, MC SE {mcse}).",
                )
            else:
                needed = f"{self.trials_needed(float(row['assurance']), TARGET):,}"
                first = ctx.text(
                    f"The smallest planned size whose estimated assurance reaches {target} is {int(row['size'])} "
                    f"{pe} (assurance {value}, MC SE {mcse}), but with {k} simulated trials per size the "
                    f"simulation cannot tell whether it truly reaches {target}; about {needed} trials per size "
                    "would be needed to tell (--trials).",
                    f"Den minste planlagte størrelsen der anslått sannsynlighet for suksess når {target}, er "
                    f"{int(row['size'])} {pn} ({value}, MC SE {mcse}), men med {k} simulerte studier per "
                    f"størrelse kan simuleringen ikke avgjøre om den virkelig når {target}; omtrent "
                    f"{localise(needed, lang)} studier per størrelse ville trengs for å avgjøre det (--trials).",
                )
        else:
            row = self.curve.loc[self.curve["assurance"].idxmax()]
            value, mcse = decimal(row["assurance"], 2, lang), decimal(self.spread(row) / 2, 2, lang)
            upper = max(float(r["assurance"]) + self.spread(r) for _, r in self.curve.iterrows())
            if upper < TARGET:
                first = ctx.text(
                    f"None of the planned sizes reaches an assurance of {target}; the highest is {value} "
                    f"(MC SE {mcse}) with {int(row['size'])} {pe}.",
                    f"Ingen av de planlagte størrelsene når {target} sannsynlighet for suksess; den høyeste er "
                    f"{value} (MC SE {mcse}) med {int(row['size'])} {pn}.",
                )
            else:
                needed = f"{self.trials_needed(float(row['assurance']), TARGET):,}"
                first = ctx.text(
                    f"No planned size has an estimated assurance of {target} (the highest is {value}, MC SE {mcse}, "
                    f"with {int(row['size'])} {pe}), but with {k} simulated trials per size the simulation "
                    f"is too small to tell whether assurance stays below {target}; about {needed} trials per size "
                    "would be needed to tell (--trials).",
                    f"Ingen av de planlagte størrelsene har anslått sannsynlighet for suksess på {target} (den "
                    f"høyeste er {value}, MC SE {mcse}, med {int(row['size'])} {pn}), men med {k} simulerte "
                    f"studier per størrelse er simuleringen for liten til å avgjøre om den ligger under {target}; "
                    f"omtrent {localise(needed, lang)} studier per størrelse ville trengs for å avgjøre det "
                    "(--trials).",
                )
        return [first, self.ceiling_sentence(ctx), *([self.pins(ctx)] if self.fixed else [])]

    def undecided(self) -> bool:
        """True when two Monte Carlo SEs cannot tell whether the answer's size reaches :data:`TARGET`."""
        if self.curve.empty:
            return False
        reached = self.curve[self.curve["assurance"] >= TARGET]
        if len(reached):
            row = reached.iloc[0]
            return float(row["assurance"]) - self.spread(row) < TARGET
        return max(float(r["assurance"]) + self.spread(r) for _, r in self.curve.iterrows()) >= TARGET

    def verdict(self, ctx: ReportContext) -> dict[str, Any]:
        """The verdict block: failed simulated analyses, divergences, and a simulation too small to answer."""
        extra = []
        fits, failed = int(self.meta.get("fits", 0) or 0), int(self.meta.get("failed_fits", 0) or 0)
        if self.curve.empty:
            extra.append(("fail", ctx.text("Every simulated analysis failed.", "Alle simulerte analyser feilet.")))
        elif failed:
            extra.append(
                (
                    "warn",
                    ctx.text(
                        f"{failed} of {fits} simulated analyses failed and are left out (trials.csv says why).",
                        f"{failed} av {fits} simulerte analyser feilet og er utelatt (trials.csv sier hvorfor).",
                    ),
                )
            )
        divergent = int(self.curve["divergent_fits"].sum()) if "divergent_fits" in self.curve else 0
        if divergent:
            extra.append(
                (
                    "warn",
                    ctx.text(
                        f"{divergent} simulated analyses had divergent transitions; their results may be biased.",
                        f"{divergent} simulerte analyser hadde divergente overganger; resultatene kan være skjeve.",
                    ),
                )
            )
        if self.undecided():
            k = int(self.meta["design"]["trials"])
            extra.append(
                (
                    "warn",
                    ctx.text(
                        f"{k} simulated trials per size are too few to tell whether a planned size reaches "
                        f"{percent(TARGET, 'en')} assurance (see the answer).",
                        f"{k} simulerte studier per størrelse er for få til å avgjøre om en planlagt størrelse når "
                        f"{percent(TARGET, 'nb')} sannsynlighet for suksess (se svaret).",
                    ),
                )
            )
        return command_verdict(None, [], extra, ctx.language)

    def ceiling_sentence(self, ctx: ReportContext) -> str:
        """Assurance is bounded by the design prior's own probability of a true effect beyond the threshold.

        "Well below it" is said only when even the best size's estimate plus two MC SEs is more than
        0.1 below the ceiling.
        """
        pe, pn = self.people("en"), self.people("nb")
        ceiling = float(self.meta["ceiling"])
        value = decimal(ceiling, 2, ctx.language)
        if len(self.curve):
            row = self.curve.loc[self.curve["assurance"].idxmax()]
            best, spread = float(row["assurance"]), self.spread(row)
        else:
            best, spread = 0.0, 0.0
        if best - spread > ceiling:  # more successes than true effects beyond the threshold: false positives
            share_en, share_nb = decimal(best - ceiling, 2, "en"), decimal(best - ceiling, 2, "nb")
            return ctx.text(
                f"Assurance is above the design prior's own probability that the true {self.estimand} exceeds "
                f"{self.threshold('en')} ({value}{', with the fixed values below' if self.fixed else ''}): at least "
                f"{share_en} of the best size's assurance comes from simulated trials that succeed although the true "
                f"{self.estimand} does not exceed {self.threshold('en')} (false positives of the success rule).",
                f"Sannsynligheten for suksess er høyere enn designpriorens egen sannsynlighet for at sann "
                f"{self.estimand} er over {self.threshold('nb')} ({value}"
                f"{', med de faste verdiene nedenfor' if self.fixed else ''}): minst {share_nb} av den beste "
                f"størrelsens sannsynlighet kommer fra simulerte studier som lykkes selv om sann {self.estimand} ikke "
                f"er over {self.threshold('nb')} (falske positive for suksessregelen).",
            )
        largest = self.curve.iloc[-1] if len(self.curve) else None
        # assurance is a probability: the low end of its Monte Carlo error is never below 0 (a ceiling of 0.00
        # with no simulated success is at the ceiling, not "too small to tell")
        near = largest is not None and ceiling - max(0.0, float(largest["assurance"]) - self.spread(largest)) <= 0.1
        if near:  # the largest size is within 0.1 of the ceiling even at the low end of its Monte Carlo error
            en = f": the largest sizes are close to it, so more {pe} buy precision, not success."
            nb = f": de største utvalgene ligger nær den, så flere {pn} gir mer presisjon, ikke mer suksess."
        elif ceiling - min(1.0, best + spread) > 0.1:
            en = ": the planned sizes are still well below it, so larger trials would raise it further."
            nb = ": de planlagte størrelsene ligger fortsatt godt under, så større studier ville øke den."
        else:
            en = ": the simulation is too small to tell how close the planned sizes come to it."
            nb = ": simuleringen er for liten til å si hvor nær de planlagte størrelsene kommer den."
        if self.fixed:
            en, nb = f" (with the fixed values below){en}", f" (med de faste verdiene nedenfor){nb}"
        return ctx.text(
            f"Assurance can exceed the design prior's own probability that the true {self.estimand} exceeds "
            f"{self.threshold('en')} only through false positives of the success rule; that probability is "
            f"{value}" + en,
            f"Sannsynligheten for suksess kan bare bli større enn designpriorens egen sannsynlighet for at sann "
            f"{self.estimand} er over {self.threshold('nb')} gjennom falske positive; den sannsynligheten er "
            f"{value}" + nb,
        )

    def question(self, ctx: ReportContext) -> str:
        """What a simulated trial must show to succeed, and how assurance is averaged."""
        meta, design = self.meta, self.meta["design"]
        lang = ctx.language
        prior = escape_md(meta["analysis_prior_set"])
        source = escape_md(
            meta.get("design_prior_source_nb", meta["design_prior_source"])
            if lang == "nb"
            else meta["design_prior_source"]
        )
        probability = decimal(float(self.success["probability"]), 2, lang)
        allocation = percent(float(design["allocation"]), lang)
        return ctx.text(
            f"A simulated trial succeeds when its analysis (same model and prior set {prior} as this config) gives "
            f"**P({self.estimand} > {self.threshold('en')}) > {probability}**. Assurance is the probability of success "
            f"averaged over the design prior ({source}), with {allocation} randomised to the treatment arm. Each size "
            f"has {int(design['trials'])} simulated trials; Monte Carlo standard errors (MC SE) are binomial."
            + (f" {self.pins(ctx, markdown=True)}" if self.fixed else ""),
            f"En simulert studie lykkes når analysen (samme modell og priorsett {prior} som denne konfigurasjonen) "
            f"gir **P({self.estimand} > {self.threshold('nb')}) > {probability}**. Sannsynligheten for suksess "
            f"(assurance) er midlet over designprioren ({source}), med {allocation} randomisert til tiltaksarmen. "
            f"Hver størrelse har {int(design['trials'])} simulerte studier; Monte Carlo-standardfeil (MC SE) er "
            "binomiske." + (f" {self.pins(ctx, markdown=True)}" if self.fixed else ""),
        )

    def table(self, ctx: ReportContext) -> str:
        """Assurance and expected interval width per size, and how both change from the smallest to the largest."""
        pe, pn = self.people("en", markdown=True), self.people("nb", markdown=True)
        lang = ctx.language
        interval = percent(self.prob, lang)
        rows = [
            ctx.text(
                f"| {pe.capitalize()} | Assurance (MC SE) | Mean width of the {interval} interval of the "
                f"{self.estimand} (MC SE) |",
                f"| {pn.capitalize()} | Sannsynlighet for suksess (MC SE) | Gjennomsnittlig bredde av "
                f"{interval}-intervallet for {self.estimand} (MC SE) |",
            ),
            "| ---: | ---: | ---: |",
        ]
        for _, r in self.curve.iterrows():
            width_mcse = 0.0 if np.isnan(r["interval_width_mcse"]) else float(r["interval_width_mcse"])
            se = self.spread(r) / 2  # never 0.00 when every (or no) simulated trial succeeded
            rows.append(
                f"| {int(r['size'])} | {decimal(r['assurance'], 2, lang)} ({decimal(se, 2, lang)}) "
                f"| {amount(float(r['mean_interval_width']), self.unit, lang)} "
                f"({amount(width_mcse, self.unit, lang)}) |"
            )
        text = ["\n".join(rows)]
        if len(self.curve) >= 2:
            first, last = self.curve.iloc[0], self.curve.iloc[-1]
            ratio = float(last["mean_interval_width"]) / float(first["mean_interval_width"])
            change = float(last["assurance"]) - float(first["assurance"])
            apart = np.hypot(self.spread(first), self.spread(last))  # two Monte Carlo SEs of the difference
            moves_en = (
                "rises"
                if change > apart
                else "falls"
                if change < -apart
                else "does not change beyond its Monte Carlo error"
            )
            moves_nb = (
                "øker"
                if change > apart
                else "synker"
                if change < -apart
                else "endrer seg ikke mer enn Monte Carlo-feilen"
            )
            text.append(
                ctx.text(
                    f"From {int(first['size'])} to {int(last['size'])} {pe} the expected interval narrows to "
                    f"{percent(ratio, 'en')} of its width, and assurance "
                    f"{moves_en}, from "
                    f"{decimal(first['assurance'], 2, 'en')} to {decimal(last['assurance'], 2, 'en')}.",
                    f"Fra {int(first['size'])} til {int(last['size'])} {pn} krymper det forventede intervallet "
                    f"til {percent(ratio, 'nb')} av bredden, og sannsynligheten for suksess "
                    f"{moves_nb}, fra "
                    f"{decimal(first['assurance'], 2, 'nb')} til {decimal(last['assurance'], 2, 'nb')}.",
                )
            )
        failed, fits = int(self.meta["failed_fits"]), int(self.meta["fits"])
        if failed:
            text.append(
                ctx.text(
                    f"{failed} of {fits} simulated analyses failed and are left out (see trials.csv).",
                    f"{failed} av {fits} simulerte analyser feilet og er utelatt (se trials.csv).",
                )
            )
        return "\n\n".join(text)

    def figure(self, ctx: ReportContext) -> tuple[Figure, str]:
        """Assurance and expected interval width against sample size, with +/- 2 Monte Carlo SE."""
        style, curve = ctx.style, self.curve
        ceiling = float(self.meta["ceiling"])
        fig, (left, right) = style.subplots(style.width * 0.42, ncols=2)
        left.errorbar(
            curve["size"],
            curve["assurance"],
            yerr=2 * curve["assurance_mcse"],
            marker="o",
            capsize=3,
            label=style.t("assurance +/- 2 MC SE", "sannsynlighet +/- 2 MC SE"),
        )
        left.axhline(
            TARGET, color="0.4", ls=":", lw=1, label=style.t(f"target {TARGET:.0%}", f"mål {percent(TARGET, 'nb')}")
        )
        left.axhline(ceiling, color="C3", ls="--", lw=1, label=style.t("ceiling", "tak"))
        left.set_ylim(0, 1.02)
        left.set_xlabel(
            style.t(f"{self.units['en']} in the trial", f"{self.units.get('nb', self.units['en'])} i studien")
        )
        left.set_ylabel(style.t("assurance", "sannsynlighet for suksess"))
        left.legend(loc="lower right")
        right.errorbar(
            curve["size"],
            curve["mean_interval_width"],
            yerr=2 * curve["interval_width_mcse"].fillna(0),
            marker="s",
            color="C2",
            capsize=3,
        )
        right.set_xlabel(
            style.t(f"{self.units['en']} in the trial", f"{self.units.get('nb', self.units['en'])} i studien")
        )
        shown = "%" if self.unit == "%" else self.unit
        interval = percent(self.prob, ctx.language)
        right.set_ylabel(style.t(f"{interval} interval width ({shown})", f"bredde av {interval}-intervall ({shown})"))
        for ax in (left, right):
            ax.grid(alpha=0.3)
        caption = ctx.text(
            f"Left: assurance with +/- 2 Monte Carlo SE; dotted: the {percent(TARGET, 'en')} target; dashed: the "
            f"ceiling {decimal(ceiling, 2, 'en')}. Right: mean width of the {interval} interval of the "
            f"{self.estimand} (+/- 2 Monte Carlo SE).",
            f"Venstre: sannsynlighet for suksess med +/- 2 Monte Carlo-SE; prikket: målet {percent(TARGET, 'nb')}; "
            f"stiplet: taket {decimal(ceiling, 2, 'nb')}. Høyre: gjennomsnittlig bredde av {interval}-intervallet for "
            f"{self.estimand} (+/- 2 Monte Carlo-SE).",
        )
        return fig, caption

    def presentation(self) -> Presentation:
        """Answer, sections and figure of the design report."""
        return Presentation(
            answer=self.answer,
            sections=(
                Section("question", fixed("Question", "Spørsmål"), self.question),
                Section(
                    "assurance",
                    fixed("Assurance by sample size", "Sannsynlighet for suksess etter størrelse"),
                    self.table,
                    lambda ctx: not self.curve.empty,
                ),
            ),
            figures=(
                FigureSpec(
                    "assurance_curve",
                    fixed(
                        "Assurance and expected interval width by sample size",
                        "Sannsynlighet for suksess og forventet intervallbredde etter utvalgsstørrelse",
                    ),
                    self.figure,
                    lambda ctx: not self.curve.empty,
                ),
            ),
        )


def write_design_report(folder: Path, curve: pd.DataFrame, meta: dict[str, Any], unit: str, language: str) -> None:
    """Write the figure and ``report.md``/``report.html`` of a design folder."""
    ctx = standalone_context(check_language(language), interval_prob=float(meta["design"]["interval_prob"]))
    text = DesignText(curve, meta, unit)
    title = ctx.text(
        "Planning the next trial: assurance by sample size",
        "Planlegging av neste studie: sannsynlighet for suksess etter utvalgsstørrelse",
    )
    details = {
        "config": meta.get("config", ""),
        "seed": meta.get("seed", ""),
        "where": meta.get("where", ""),
        "seconds": meta.get("seconds", ""),
        "simulated analyses": meta.get("fits", ""),
    }
    write_standalone(folder, ctx, title, text.presentation(), details=details, verdict=text.verdict(ctx))


__all__ = ["TARGET", "DesignText", "write_design_report"]
