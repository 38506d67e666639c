"""Report of ``ipsbayes map-prior``: evidence, heterogeneity, the MAP mixture, robustification and ESS.

Every sentence is built from the fitted numbers, in English (``en``) or Norwegian bokmål (``nb``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from ipsbayes.evidence.derive import TARGETS, MapPart, MapResult
from ipsbayes.report.figures_map import forest_figure, mixture_figure
from ipsbayes.report.standalone import check_language, save_figure, write_standalone
from ipsbayes.rundir import package_versions, write_json

TEXT = {
    "en": {
        "title": "Meta-analytic-predictive prior: {name}",
        "evidence": "Evidence",
        "n_trials": "{n} trials entered the meta-analysis: {names}.",
        "left_out": " {n} row(s) were left out of this analysis because column '{column}' does not mark them "
        "(counts not verified against the publication, or another rule of the evidence table): {names}.",
        "heterogeneity": "Between-trial heterogeneity",
        "tau": "Between-trial SD of the {what}: median {median:.2f} (95% interval {low:.2f} to {high:.2f}); "
        "prior HalfNormal({scale:g}).",
        "what_effect": "log odds ratio",
        "what_control": "control-arm log-odds",
        "map": "The prior for a new trial",
        "effect_line": "**Odds ratio of {outcome} with {treatment} in a new trial**: median {median:.2f} "
        "(95% interval {low:.2f} to {high:.2f}); the MAP prior gives {treatment} better odds of {outcome} "
        "(OR > 1) with probability {p_pos:.2f}. After robustification: median {r_median:.2f} "
        "({r_low:.2f} to {r_high:.2f}).",
        "control_line": "**Rate of {outcome} without {treatment} in a new trial**: median {median:.0f}% "
        "(95% interval {low:.0f}% to {high:.0f}%); after robustification {r_low:.0f}% to {r_high:.0f}%.",
        "fit_line": "The {k}-component {family} mixture ({criterion}) reproduces the {n:,} predictive draws: "
        "mean {m_mix:.3f} vs {m_draw:.3f}, SD {s_mix:.3f} vs {s_draw:.3f}, 2.5% and 97.5% quantiles "
        "{l_mix:.3f}/{h_mix:.3f} vs {l_draw:.3f}/{h_draw:.3f} (mixture vs draws).",
        "ess": "Effective sample size",
        "ess_line": "The {label} is worth about **{elir:.0f} {unit}** (ELIR, Neuenschwander et al. 2020; moment "
        "matching: {moment:.0f}). Adding a vague component with weight {w:g} (one {one}'s worth of information) "
        "lowers this to **{elir_r:.0f}** (moment: {moment_r:.0f}).",
        "label_effect": "MAP prior for the log odds ratio",
        "label_control": "MAP prior for the control rate",
        "unit_effect": "participants per arm",
        "unit_control": "control participants",
        "one_effect": "participant per arm",
        "one_control": "participant",
        "unit_sd": " One participant per arm is a normal observation with SD {sd:.2f} on the log odds ratio "
        "(unit information at a control rate of {p0:.0%} and an IPS rate of {p1:.0%}).",
        "bridge": "From historical trials to the CACE model",
        "bridge_text": "The prior set `{prior_set}` uses the robust MAP prior of the log odds ratio for "
        "`treatment_effect` (the effect of IPS on compliers) and of the control-arm log-odds for "
        "`complier_control_intercept`. The trials report intention-to-treat contrasts in populations where "
        "most people offered IPS took it up; where uptake was lower, their log odds ratio is diluted towards no "
        "effect, so the prior leans sceptical rather than optimistic. None of the trials studied refugees: the "
        "robust components ({w_effect:g} for the effect, {w_control:g} for the control rate) let the Raskt i jobb "
        "data override the prior when they conflict with it, and every run with this prior reports a prior-data "
        "conflict check.",
        "diagnostics": "Sampler diagnostics: {status}{messages}.",
        "figure_forest": "Trials and the prior for a new trial",
        "caption_forest": "Open circles: each trial's observed estimate (95% CI, 0.5 added to every cell); squares: "
        "the hierarchical model's estimate for that trial (95% interval); diamonds: median and 95% interval of "
        "the MAP prior and of its robust version.",
        "figure_mixture": "Mixture approximation",
        "caption_mixture": "Grey: MCMC draws from the predictive distribution of a new trial; red: the fitted "
        "mixture; orange dashed: the robust mixture written to the prior set.",
    },
    "nb": {
        "title": "Meta-analytisk prediktiv prior: {name}",
        "evidence": "Kunnskapsgrunnlag",
        "n_trials": "{n} studier inngår i metaanalysen: {names}.",
        "left_out": " {n} rad(er) er utelatt fordi kolonnen '{column}' ikke markerer dem (tallene er ikke "
        "kontrollert mot publikasjonen, eller en annen regel i tabellen): {names}.",
        "heterogeneity": "Variasjon mellom studier",
        "tau": "Standardavvik mellom studier for {what}: median {median:.2f} (95 % intervall {low:.2f} til "
        "{high:.2f}); prior HalfNormal({scale:g}).",
        "what_effect": "log-oddsratioen",
        "what_control": "log-odds i kontrollgruppen",
        "map": "Prioren for en ny studie",
        "effect_line": "**Oddsratio for {outcome} med {treatment} i en ny studie**: median {median:.2f} "
        "(95 % intervall {low:.2f} til {high:.2f}); MAP-prioren gir {treatment} bedre odds for {outcome} "
        "(OR > 1) med sannsynlighet {p_pos:.2f}. Etter robustifisering: median {r_median:.2f} "
        "({r_low:.2f} til {r_high:.2f}).",
        "control_line": "**Andel med {outcome} uten {treatment} i en ny studie**: median {median:.0f} % "
        "(95 % intervall {low:.0f} % til {high:.0f} %); etter robustifisering {r_low:.0f} % til {r_high:.0f} %.",
        "fit_line": "Blandingen med {k} {family}-komponenter ({criterion}) gjengir de {n:,} prediktive trekkene: "
        "gjennomsnitt {m_mix:.3f} mot {m_draw:.3f}, SD {s_mix:.3f} mot {s_draw:.3f}, 2,5 %- og 97,5 %-kvantil "
        "{l_mix:.3f}/{h_mix:.3f} mot {l_draw:.3f}/{h_draw:.3f} (blanding mot trekk).",
        "ess": "Effektiv utvalgsstørrelse",
        "ess_line": "{label} er verdt omtrent **{elir:.0f} {unit}** (ELIR, Neuenschwander mfl. 2020; "
        "momentmetoden: {moment:.0f}). En vag komponent med vekt {w:g} (informasjonen fra én {one}) senker "
        "dette til **{elir_r:.0f}** (momentmetoden: {moment_r:.0f}).",
        "label_effect": "MAP-prioren for log-oddsratioen",
        "label_control": "MAP-prioren for andelen i kontrollgruppen",
        "unit_effect": "deltakere per arm",
        "unit_control": "kontrolldeltakere",
        "one_effect": "deltaker per arm",
        "one_control": "deltaker",
        "unit_sd": " Én deltaker per arm er en normalfordelt observasjon med SD {sd:.2f} på log-oddsratioen "
        "(enhetsinformasjon ved {p0:.0%} i arbeid i kontrollgruppen og {p1:.0%} med IPS).",
        "bridge": "Fra tidligere studier til CACE-modellen",
        "bridge_text": "Priorsettet `{prior_set}` bruker den robuste MAP-prioren for log-oddsratioen som "
        "`treatment_effect` (effekten av IPS for dem som tar imot tilbudet) og for log-odds i kontrollgruppen som "
        "`complier_control_intercept`. Studiene rapporterer intention-to-treat-kontraster i grupper der de fleste "
        "som fikk tilbud om IPS, tok det imot; der færre tok imot, er log-oddsratioen trukket mot null, så "
        "prioren heller mot det skeptiske. Ingen av studiene gjaldt flyktninger: de robuste komponentene "
        "({w_effect:g} for effekten, {w_control:g} for kontrollandelen) lar data fra Raskt i jobb overstyre "
        "prioren når de strider mot den, og hver analyse med denne prioren rapporterer en sjekk av konflikt "
        "mellom prior og data.",
        "diagnostics": "Diagnostikk for MCMC: {status}{messages}.",
        "figure_forest": "Studiene og prioren for en ny studie",
        "caption_forest": "Åpne sirkler: hver studies observerte estimat (95 % KI, 0,5 lagt til hver celle); "
        "kvadrater: den hierarkiske modellens estimat for studien (95 % intervall); ruter: median og 95 % "
        "intervall for MAP-prioren og den robuste versjonen.",
        "figure_mixture": "Tilnærming med blandingsfordeling",
        "caption_mixture": "Grått: MCMC-trekk fra den prediktive fordelingen for en ny studie; rødt: den tilpassede "
        "blandingen; oransje stiplet: den robuste blandingen som skrives til priorsettet.",
    },
}


def _tau_line(result: MapResult, part: str, t: dict[str, str]) -> str:
    draws = result.datatree["posterior"][f"tau_{part}"].values.ravel()
    low, median, high = np.quantile(draws, [0.025, 0.5, 0.975])
    scale = getattr(result.config.hierarchy, f"{part}_tau")
    return t["tau"].format(what=t[f"what_{part}"], median=median, low=low, high=high, scale=scale)


def _prior_line(part: MapPart, t: dict[str, str], labels: dict[str, str]) -> str:
    mix, rob = part.mixture, part.robust
    if part.name == "effect":
        q = [np.exp(mix.quantile(p)) for p in (0.025, 0.5, 0.975)]
        r = [np.exp(rob.quantile(p)) for p in (0.025, 0.5, 0.975)]
        p_pos = 1 - float(mix.cdf(0.0))
        return t["effect_line"].format(
            median=q[1], low=q[0], high=q[2], p_pos=p_pos, r_median=r[1], r_low=r[0], r_high=r[2], **labels
        )

    def rate(m: object, p: float) -> float:
        value = m.quantile(p)
        return 100 * (value if mix.family == "beta" else float(expit(value)))

    return t["control_line"].format(
        median=rate(mix, 0.5), low=rate(mix, 0.025), high=rate(mix, 0.975), r_low=rate(rob, 0.025),
        r_high=rate(rob, 0.975), **labels,
    )  # fmt: skip


def _fit_line(part: MapPart, t: dict[str, str]) -> str:
    draws, mixed = part.draws_summary(), part.mixture.summary()
    crit = part.fit.criterion.upper() + (" 6" if part.fit.criterion == "aic" else "")
    return t["fit_line"].format(
        k=part.mixture.size, family=part.mixture.family, criterion=crit, n=part.draws.size,
        m_mix=mixed["mean"], m_draw=draws["mean"], s_mix=mixed["sd"], s_draw=draws["sd"],
        l_mix=mixed["q0.025"], h_mix=mixed["q0.975"], l_draw=draws["q0.025"], h_draw=draws["q0.975"],
    )  # fmt: skip


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


def write_map_report(folder: Path, result: MapResult, language: str = "en") -> None:
    """Write ``summary.csv``, ``components.csv``, figures, ``report.md``/``report.html`` and ``provenance.json``."""
    t = TEXT[check_language(language)]
    config, evidence = result.config, result.evidence
    labels = {"outcome": config.outcome_label, "treatment": config.treatment_label}
    summary_table(result).to_csv(folder / "summary.csv", index=False, float_format="%.6g", lineterminator="\n")
    components_table(result).to_csv(folder / "components.csv", index=False, float_format="%.6g", lineterminator="\n")
    text = t["n_trials"].format(n=evidence.size, names=", ".join(evidence.studies))
    if evidence.left_out:
        names = ", ".join(dict.fromkeys(evidence.left_out))
        text += t["left_out"].format(n=len(evidence.left_out), column=config.columns.verified, names=names)
    messages = "; ".join(result.diagnostics.messages)
    text += " " + t["diagnostics"].format(
        status=result.diagnostics.status, messages=f" ({messages})" if messages else ""
    )
    sections = [(t["evidence"], text)]
    sections.append(
        (t["heterogeneity"], " ".join(_tau_line(result, p, t) for p in ("effect", "control") if p in result.parts))
    )
    sections.append(
        (
            t["map"],
            "\n\n".join(
                _prior_line(result.parts[p], t, labels) + " " + _fit_line(result.parts[p], t)
                for p in ("effect", "control")
                if p in result.parts
            ),
        )
    )
    ess_lines = []
    p0, p1 = result.rates()
    for name in ("effect", "control"):
        part = result.parts.get(name)
        if part is None:
            continue
        line = t["ess_line"].format(
            label=t[f"label_{name}"], elir=part.ess["elir"], moment=part.ess["moment"], unit=t[f"unit_{name}"],
            w=part.robust_weight, one=t[f"one_{name}"], elir_r=part.ess["elir_robust"],
            moment_r=part.ess["moment_robust"],
        )  # fmt: skip
        if part.unit_sd is not None and p1 is not None:
            line += t["unit_sd"].format(sd=part.unit_sd, p0=p0, p1=p1)
        ess_lines.append(line)
    sections.append((t["ess"], "\n\n".join(ess_lines)))
    if "effect" in result.parts:
        sections.append(
            (
                t["bridge"],
                t["bridge_text"].format(
                    prior_set=config.name,
                    w_effect=config.mixture.robust_weight_effect,
                    w_control=config.mixture.robust_weight_control,
                ),
            )
        )
    figures = [
        save_figure(forest_figure(result, language), folder, "map_forest", t["figure_forest"], t["caption_forest"]),
        save_figure(mixture_figure(result, language), folder, "map_mixture", t["figure_mixture"], t["caption_mixture"]),
    ]
    write_standalone(folder, t["title"].format(name=config.name), sections, figures, language)
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
