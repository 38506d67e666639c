"""Report of ``ipsbayes validate``: coverage table with Monte Carlo error, ECDF-PIT plots, failed fits."""

from __future__ import annotations

import base64
import warnings
from pathlib import Path
from typing import Any

import arviz as az
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from ipsbayes.config import RunConfig
from ipsbayes.present.style import NO_MATHTEXT, figure_of
from ipsbayes.report.html import markdown_to_html
from ipsbayes.textutil import code_span, escape_md

CSS = (
    "body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;font-size:.85em}th,td{border:1px solid #ddd;padding:.25em .5em}"
    "img{max-width:100%}"
)


def pit_tree(rows: pd.DataFrame, study: str) -> xr.DataTree:
    """PIT values of one study as the ``prior_sbc`` group ArviZ's ``plot_ecdf_pit`` reads."""
    ok = rows[(rows["ok"]) & (rows["study"] == study)]
    variables = {}
    counts = ok.groupby("quantity", sort=False).size()
    full = counts[counts == counts.max()].index if len(counts) else []  # one Dataset: one number of fits
    for quantity, group in ok[ok["quantity"].isin(full)].groupby("quantity", sort=False):
        safe = quantity.replace("[", "(").replace("]", ")").replace("/", "∕")  # xarray names cannot hold "/"
        variables[safe] = (("chain", "draw"), group.sort_values("dataset")["pit"].to_numpy()[None, :])
    return xr.DataTree.from_dict({"prior_sbc": xr.Dataset(variables)})


def ecdf_figure(rows: pd.DataFrame, study: str, path: Path) -> bool:
    """ECDF-PIT difference plot (ArviZ) for every quantity of a study; False when there is nothing to plot."""
    tree = pit_tree(rows, study)
    if not tree["prior_sbc"].data_vars:
        return False
    with warnings.catch_warnings(), matplotlib.rc_context(NO_MATHTEXT):
        warnings.simplefilter("ignore")
        pc = az.plot_ecdf_pit(tree, backend="matplotlib", col_wrap=3)
        fig = figure_of(pc)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return True


def coverage_figure(coverage: pd.DataFrame, path: Path) -> None:
    """Empirical vs nominal coverage with +/- 2 Monte Carlo SE, per quantity."""
    data = coverage[coverage["study"] == "coverage"]
    with matplotlib.rc_context(NO_MATHTEXT):
        _draw_coverage(data, path)


def _draw_coverage(data: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 5))
    quantities = list(dict.fromkeys(data["quantity"]))
    offsets = np.linspace(-0.012, 0.012, len(quantities)) if len(quantities) > 1 else np.zeros(len(quantities))
    if not quantities:  # every coverage fit failed: fits.csv says why
        ax.text(0.7, 0.7, "No coverage fit succeeded:\nsee fits.csv for the errors", ha="center", va="center")
    for offset, quantity in zip(offsets, quantities, strict=True):
        rows = data[data["quantity"] == quantity]
        ax.errorbar(
            rows["nominal"] + offset, rows["coverage"], yerr=2 * rows["mcse"], fmt="o", ms=4, capsize=2, label=quantity
        )
    ax.plot([0.4, 1.0], [0.4, 1.0], color="black", lw=0.8, ls="--")
    ax.set_xlabel("Nominal interval probability")
    ax.set_ylabel("Share of data sets whose interval contains the truth")
    ax.set_title("Interval coverage (error bars: +/- 2 Monte Carlo SE)")
    if quantities:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def uniformity(rows: pd.DataFrame) -> pd.DataFrame:
    """Per study and quantity: number of fits, mean PIT and a Kolmogorov-Smirnov p-value against uniform."""
    ok = rows[rows["ok"]]
    out = []
    for (study, quantity), group in ok.groupby(["study", "quantity"], sort=False):
        out.append(
            {
                "study": study,
                "quantity": quantity,
                "fits": len(group),
                "mean_pit": group["pit"].mean(),
                "ks_p_value": stats.kstest(group["pit"], "uniform").pvalue,
                "fits_with_divergences": int((group["divergences"] > 0).sum()),
                "fits_failing_gate": int((group["gate"] == "fail").sum()) if "gate" in group else 0,
            }
        )
    return pd.DataFrame(out)


def write_validation_report(
    folder: Path, rows: pd.DataFrame, coverage: pd.DataFrame, meta: dict[str, Any], config: RunConfig
) -> None:
    """Write ``report.md``, ``report.html`` and figures for a validation run."""
    figures = folder / "figures"
    figures.mkdir()
    drawn = []
    if not coverage.empty:
        coverage_figure(coverage, figures / "coverage.png")
        drawn.append(("coverage.png", "Interval coverage over data sets from the design's simulator"))
    for study, title in (
        ("coverage", "PIT of the true values, simulator data sets"),
        ("sbc", "Simulation-based calibration (prior draws, model-generated data)"),
    ):
        if "study" in rows and ecdf_figure(rows, study, figures / f"ecdf_pit_{study}.png"):
            drawn.append((f"ecdf_pit_{study}.png", title))
    fits = rows.drop_duplicates(["study", "dataset"])
    failures = fits[~fits["ok"]]
    lines = [
        f"# Validation of {code_span(config.name)} ({meta['model']})",
        "",
        f"{meta['fits']} fits ({meta['datasets_per_study']} data sets per study), sampler profile "
        f"{escape_md(meta['profile'])}, prior set {escape_md(meta['prior_set'])}, design {escape_md(meta['design'])} "
        f"with options {escape_md(meta['options'])}, run on {escape_md(meta['scheduler'])} in {meta['seconds']} s.",
        "",
        f"**Failed fits: {len(failures)}** of {len(fits)}"
        + (" (listed below; they are excluded from the tables, never silently)." if len(failures) else "."),
        "",
        "## Interval coverage",
        "",
        "Equal-tailed posterior intervals; coverage is the share of simulated data sets whose interval contains "
        "the simulator's true value, with its Monte Carlo standard error (binomial). SBC rows are calibrated by "
        "construction when the code is right, so their coverage must match the nominal value within about 2 SE. "
        "Coverage rows hold the truth fixed at the simulator's values: that is a frequentist property, and where "
        "the truth lies away from the prior's centre in a small sample the prior pulls estimates towards it (mean "
        "PIT away from 0.5, coverage slightly below nominal). That is the price of the prior, shown here so it can "
        "be weighed, not a failure of the sampler.",
        "",
        "| Study | Quantity | Nominal | Coverage | MC SE | Data sets |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in coverage.to_dict("records"):
        lines.append(
            f"| {row['study']} | {escape_md(row['quantity'])} | {row['nominal']:.0%} | {row['coverage']:.3f} | "
            f"{row['mcse']:.3f} | {row['datasets']} |"
        )
    lines += [
        "",
        "## Uniformity of PIT values",
        "",
        "Under calibration the PIT of each true value among its posterior draws is uniform: mean 0.5, and the "
        "ECDF-PIT difference stays inside ArviZ's simultaneous band. SBC rows use data generated by the model "
        "from prior draws (Talts et al. 2018).",
        "",
        "| Study | Quantity | Fits | Mean PIT | KS p-value | Fits with divergences | Fits failing the gate |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in uniformity(rows).to_dict("records"):
        lines.append(
            f"| {row['study']} | {escape_md(row['quantity'])} | {row['fits']} | {row['mean_pit']:.3f} | "
            f"{row['ks_p_value']:.3f} | {row['fits_with_divergences']} | {row['fits_failing_gate']} |"
        )
    lines += ["", "## Figures", ""]
    for name, title in drawn:
        lines += [f"### {title}", "", f"![{title}](figures/{name})", ""]
    if len(failures):
        lines += ["## Failed fits", "", "| Study | Data set | Seed | Error |", "| --- | ---: | ---: | --- |"]
        for row in failures.to_dict("records"):
            lines.append(f"| {row['study']} | {row['dataset']} | {row['seed']} | {escape_md(row.get('error', ''))} |")
    text = "\n".join(lines) + "\n"
    (folder / "report.md").write_text(text)
    from ipsbayes.report.render import sanitize_html

    html = str(sanitize_html(markdown_to_html(text), images=True))
    for name, _ in drawn:
        encoded = base64.b64encode((figures / name).read_bytes()).decode()
        html = html.replace(f'src="figures/{name}"', f'src="data:image/png;base64,{encoded}"')
    (folder / "report.html").write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Validation {config.name}</title>"
        f"<style>{CSS}</style></head><body>{html}</body></html>\n"
    )
