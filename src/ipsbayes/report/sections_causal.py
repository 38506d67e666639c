"""Report sections for causal estimands and for sensitivity to priors and assumptions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ipsbayes.report.style import Style
from ipsbayes.report.tables import format_number, power_scaling_table, sensitivity_table


def _row(summary: pd.DataFrame, name: str) -> dict:
    return summary[summary["estimand"] == name].iloc[0].to_dict()


def _value(row: dict, style: Style) -> str:
    unit = row["unit"]
    shown = {"pp": " percentage points", "%": "%"}.get(unit, f" {unit}")
    return (
        f"{format_number(row['median'], unit)}{shown} ({style.prob:.0%} {style.kind.upper()} "
        f"{format_number(row['lower'], unit)} to {format_number(row['upper'], unit)})"
    )


def cace_section(estimands: xr.Dataset, datatree: xr.DataTree, summary: pd.DataFrame, style: Style) -> str:
    """The effect of IPS on compliers, beside ITT and the naive per-protocol contrast, and why they differ."""
    cace, itt, pp = _row(summary, "cace"), _row(summary, "itt"), _row(summary, "per_protocol")
    share, bias = _row(summary, "complier_share"), _row(summary, "per_protocol_bias")
    usual, never = _row(summary, "complier_rate_usual"), _row(summary, "never_taker_rate")
    unit = cace["unit"]
    lines = [
        f"**Effect of receiving IPS for those who would take it up (CACE): {_value(cace, style)}.** "
        f"The probability that IPS helps compliers (CACE > 0) is **{cace['p_above_null']:.2f}**.",
    ]
    if cace.get("threshold") is not None and not np.isnan(cace["p_above_threshold"]):
        lines.append(
            f"The probability that the effect exceeds {cace['threshold']:g} {unit} is "
            f"**{cace['p_above_threshold']:.2f}**."
        )
    ratio = _row(summary, "cace_ratio")
    lines.append(f"As a ratio (compliers with IPS / compliers without): {_value(ratio, style)}.")
    lines.append(
        f"An estimated {format_number(share['median'], '%')}% of participants are compliers "
        f"({format_number(share['lower'], '%')}-{format_number(share['upper'], '%')}%)."
    )
    observed = {
        name: float(estimands[name])
        for name in ("observed_itt", "observed_per_protocol", "observed_wald_cace")
        if name in estimands
    }
    table = [
        "| Contrast | What it compares | Posterior median (interval) | Observed (raw data) |",
        "| --- | --- | --- | --- |",
        f"| CACE | compliers with IPS vs compliers without | {_value(cace, style)} | "
        f"{format_number(observed.get('observed_wald_cace', np.nan), unit)} (Wald/IV) |",
        f"| ITT | everyone offered IPS vs everyone not | {_value(itt, style)} | "
        f"{format_number(observed.get('observed_itt', np.nan), unit)} |",
        f"| Per-protocol (naive) | received IPS vs all controls | {_value(pp, style)} | "
        f"{format_number(observed.get('observed_per_protocol', np.nan), unit)} |",
    ]
    lines.append("\n".join(table))
    lines.append(
        "**Why per-protocol differs from the CACE.** Those who received IPS are compliers, but the control arm mixes "
        "compliers and never-takers, because randomisation hid who would have taken IPS up. Never-takers (here often "
        f"participants with little Norwegian) are expected at {_value(never, style)}, against "
        f"{_value(usual, style)} for compliers without IPS. Comparing IPS receivers with all controls therefore "
        f"mixes the effect of IPS with who takes it up: the per-protocol contrast exceeds the CACE by "
        f"{_value(bias, style)}. **The ITT** is diluted instead: it averages the effect over never-takers, who get "
        "no IPS, so it is roughly the CACE times the complier share."
    )
    return "\n\n".join(lines)


def sensitivity_section(estimands: xr.Dataset, datatree: xr.DataTree, summary: pd.DataFrame, style: Style) -> str:
    """Estimates under other prior sets and model variants, and power-scaling sensitivity."""
    parts = []
    if "sensitivity" in datatree.children:
        table = sensitivity_table(datatree["sensitivity"].to_dataset(), style.kind, style.prob)
        rows = ["| Analysis | Estimand | Median | Interval | P(> null) |", "| --- | --- | ---: | --- | ---: |"]
        for row in table.to_dict("records"):
            unit = row["unit"]
            p_null = "-" if np.isnan(row["p_above_null"]) else f"{row['p_above_null']:.2f}"
            rows.append(
                f"| {row['analysis']} | {row['label']} ({unit}) | {format_number(row['median'], unit)} | "
                f"{format_number(row['lower'], unit)} to {format_number(row['upper'], unit)} | {p_null} |"
            )
        parts.append(
            f"Each row refits the same data (same sampler settings) under another prior set or model "
            f"assumption; intervals are {style.text}. Priors are listed in `priors/`; the main analysis's "
            "priors are tabled under *Model*."
        )
        parts.append("\n".join(rows))
    if "power_scaling" in datatree.children:
        power = power_scaling_table(datatree["power_scaling"].to_dataset())
        rows = ["| Estimand | Prior sensitivity | Likelihood sensitivity | Diagnosis |", "| --- | ---: | ---: | --- |"]
        for row in power.to_dict("records"):
            rows.append(f"| {row['estimand']} | {row['prior']:.3f} | {row['likelihood']:.3f} | {row['diagnosis']} |")
        parts.append(
            "**Power-scaling sensitivity** (Kallioinen et al. 2023; ArviZ `psense_summary`): how far the posterior "
            "moves when the prior or the likelihood is raised to a power near 1, without refitting. Values of 0.05 or "
            "more flag sensitivity; a prior-sensitive estimand with a weak likelihood means the data alone cannot "
            "pin it down, and sensitivity to both suggests prior-data conflict."
        )
        parts.append("\n".join(rows))
    return "\n\n".join(parts)
