"""Report of ``ipsbayes design``: the sample-size (assurance) curve, expected interval widths, in words.

Every sentence is computed from ``assurance.csv`` and the design's settings, in English or
Norwegian bokmål.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ipsbayes.report.standalone import check_language, save_figure, write_standalone

#: assurance a design should reach to be called adequate in the report's summary sentence
TARGET = 0.8

TEXT = {
    "en": {
        "title": "Planning the next trial: assurance by sample size",
        "question": "Question",
        "question_text": "A simulated trial succeeds when its analysis (same model and prior set `{prior}` as this "
        "config) gives **P({estimand} > {threshold:g} {unit}) > {probability:g}**. Assurance is the probability of "
        "success averaged over the design prior ({source}), with {allocation:.0%} randomised to IPS. Each size has "
        "{trials} simulated trials; Monte Carlo standard errors (MC SE) are binomial.",
        "answer": "Answer",
        "reach": "The smallest planned size whose assurance reaches {target:.0%} is **{size} participants** "
        "(assurance {value:.2f}, MC SE {mcse:.2f}).",
        "no_reach": "None of the planned sizes reaches an assurance of {target:.0%}; the largest, {size} participants, "
        "has {value:.2f} (MC SE {mcse:.2f}).",
        "row": "With **{size}** participants: assurance **{value:.2f}** (MC SE {mcse:.2f}); the {prob:.0%} interval "
        "of the {estimand} would be {width:.1f} {unit} wide on average (MC SE {width_mcse:.1f}).",
        "ceiling": "Assurance cannot exceed the design prior's own probability that the true {estimand} exceeds "
        "{threshold:g} {unit}, here **{ceiling:.2f}**: beyond some size, more participants buy precision, not "
        "success.",
        "failed": "{failed} of {fits} simulated analyses failed and are left out (see trials.csv).",
        "figure": "Assurance and expected interval width by sample size",
        "caption": "Left: assurance with +/- 2 MC SE; dotted: {target:.0%}; dashed: the ceiling {ceiling:.2f}. Right: "
        "mean width of the {prob:.0%} interval of the {estimand} (+/- 2 MC SE).",
        "x": "participants in the trial",
        "y_assurance": "assurance",
        "y_width": "interval width ({unit})",
    },
    "nb": {
        "title": "Planlegging av neste studie: sannsynlighet for suksess etter utvalgsstørrelse",
        "question": "Spørsmål",
        "question_text": "En simulert studie lykkes når analysen (samme modell og priorsett `{prior}` som denne "
        "konfigurasjonen) gir **P({estimand} > {threshold:g} {unit}) > {probability:g}**. «Assurance» er "
        "sannsynligheten for suksess, midlet over designprioren ({source}), med {allocation:.0%} randomisert til "
        "IPS. Hver størrelse har {trials} simulerte studier; Monte Carlo-standardfeil (MC SE) er binomiske.",
        "answer": "Svar",
        "reach": "Den minste planlagte størrelsen der sannsynligheten for suksess når {target:.0%}, er **{size} "
        "deltakere** ({value:.2f}, MC SE {mcse:.2f}).",
        "no_reach": "Ingen av de planlagte størrelsene når {target:.0%} sannsynlighet for suksess; den største, {size} "
        "deltakere, gir {value:.2f} (MC SE {mcse:.2f}).",
        "row": "Med **{size}** deltakere: sannsynlighet for suksess **{value:.2f}** (MC SE {mcse:.2f}); "
        "{prob:.0%}-intervallet for {estimand} blir i snitt {width:.1f} {unit} bredt (MC SE {width_mcse:.1f}).",
        "ceiling": "Sannsynligheten for suksess kan ikke bli større enn designpriorens egen sannsynlighet for at sann "
        "{estimand} er over {threshold:g} {unit}, her **{ceiling:.2f}**: over en viss størrelse gir flere deltakere "
        "mer presisjon, ikke mer suksess.",
        "failed": "{failed} av {fits} simulerte analyser feilet og er utelatt (se trials.csv).",
        "figure": "Sannsynlighet for suksess og forventet intervallbredde etter utvalgsstørrelse",
        "caption": "Venstre: sannsynlighet for suksess med +/- 2 MC SE; prikket: {target:.0%}; stiplet: taket "
        "{ceiling:.2f}. Høyre: gjennomsnittlig bredde av {prob:.0%}-intervallet for {estimand} (+/- 2 MC SE).",
        "x": "deltakere i studien",
        "y_assurance": "sannsynlighet for suksess",
        "y_width": "intervallbredde ({unit})",
    },
}


def assurance_figure(curve: pd.DataFrame, ceiling: float, unit: str, t: dict[str, str]) -> Figure:
    """Assurance and expected interval width against sample size, with +/- 2 Monte Carlo SE."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.errorbar(curve["size"], curve["assurance"], yerr=2 * curve["assurance_mcse"], marker="o", capsize=3)
    left.axhline(TARGET, color="0.4", ls=":", lw=1)
    left.axhline(ceiling, color="C3", ls="--", lw=1)
    left.set_ylim(0, 1.02)
    left.set_xlabel(t["x"])
    left.set_ylabel(t["y_assurance"])
    right.errorbar(
        curve["size"], curve["mean_interval_width"], yerr=2 * curve["interval_width_mcse"].fillna(0), marker="s",
        color="C2", capsize=3,
    )  # fmt: skip
    right.set_xlabel(t["x"])
    right.set_ylabel(t["y_width"].format(unit=unit))
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def write_design_report(folder: Path, curve: pd.DataFrame, meta: dict[str, Any], unit: str, language: str) -> None:
    """Write the figure and ``report.md``/``report.html`` of a design folder."""
    t = TEXT[check_language(language)]
    design = meta["design"]
    success = design["success"]
    estimand = success["estimand"].upper() if success["estimand"] in ("cace", "itt") else success["estimand"]
    common = {"estimand": estimand, "unit": unit, "threshold": success["threshold"], "prob": design["interval_prob"]}
    question = t["question_text"].format(
        prior=meta["analysis_prior_set"], probability=success["probability"], source=meta["design_prior_source"],
        allocation=design["allocation"], trials=design["trials"], **common,
    )  # fmt: skip
    valid = curve.dropna(subset=["assurance"])
    lines = []
    reached = valid[valid["assurance"] >= TARGET]
    if len(reached):
        row = reached.iloc[0]
        lines.append(
            t["reach"].format(target=TARGET, size=int(row["size"]), value=row["assurance"], mcse=row["assurance_mcse"])
        )
    elif len(valid):
        row = valid.iloc[-1]
        lines.append(
            t["no_reach"].format(
                target=TARGET, size=int(row["size"]), value=row["assurance"], mcse=row["assurance_mcse"]
            )
        )
    rows = []
    for _, r in valid.iterrows():
        width_mcse = 0.0 if np.isnan(r["interval_width_mcse"]) else r["interval_width_mcse"]
        rows.append(
            "- "
            + t["row"].format(
                size=int(r["size"]), value=r["assurance"], mcse=r["assurance_mcse"], width=r["mean_interval_width"],
                width_mcse=width_mcse, **common,
            )
        )  # fmt: skip
    lines.append("\n".join(rows))
    lines.append(t["ceiling"].format(ceiling=meta["ceiling"], **common))
    if meta["failed_fits"]:
        lines.append(t["failed"].format(failed=meta["failed_fits"], fits=meta["fits"]))
    figure = save_figure(
        assurance_figure(valid, meta["ceiling"], unit, t),
        folder,
        "assurance_curve",
        t["figure"],
        t["caption"].format(target=TARGET, ceiling=meta["ceiling"], **common),
    )
    sections = [(t["question"], question), (t["answer"], "\n\n".join(lines))]
    write_standalone(folder, t["title"], sections, [figure], language)
