"""Figures of ``ipsbayes map-prior``: the forest plot of the trials and the mixture fit of the MAP draws."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from scipy.special import expit

from ipsbayes.evidence.derive import MapResult
from ipsbayes.evidence.model import raw_estimates, trial_estimates
from ipsbayes.present import ReportContext
from ipsbayes.present.style import plain_log_ticks


def _labels(ctx: ReportContext) -> dict[str, str]:
    """Axis and legend texts in the report's language, with the config's words for outcome and treatment."""
    return {
        "effect": ctx.text(
            "Odds ratio, treatment vs control (log scale)", "Oddsratio, tiltak mot kontroll (log-skala)"
        ),
        "effect_log": ctx.text("Log odds ratio, treatment vs control", "Log-oddsratio, tiltak mot kontroll"),
        "control": ctx.text("Rate in the control arm (%)", "Andel i kontrollgruppen (%)"),
        "control_logit": ctx.text("Control-arm rate (log-odds)", "Andel i kontrollgruppen (log-odds)"),
        "observed": ctx.text("observed (95% CI)", "observert (95 % KI)"),
        "shrunk": ctx.text("hierarchical model (95% interval)", "hierarkisk modell (95 % intervall)"),
        "map": ctx.text("MAP prior, new trial (95% interval)", "MAP-prior, ny studie (95 % intervall)"),
        "robust": ctx.text("robust MAP prior", "robust MAP-prior"),
        "draws": ctx.text("MCMC predictive draws", "MCMC-trekk fra prediktiv fordeling"),
        "mixture": ctx.text("fitted mixture", "tilpasset blanding"),
        "density": ctx.text("density", "tetthet"),
    }


def _to_scale(part: str, values: np.ndarray, beta_family: bool) -> np.ndarray:
    if part == "effect":
        return np.exp(values)
    return 100 * (values if beta_family else expit(values))


def _short(label: str) -> str:
    """Study label without its parenthesised detail, at most 28 characters."""
    short = label.split(" (")[0].strip()
    return short if len(short) <= 28 else short[:27] + "\u2026"


def forest_figure(result: MapResult, ctx: ReportContext) -> Figure:
    """Each trial's observed and shrunken estimate, and the MAP prior for a new trial, per quantity."""
    text = _labels(ctx)
    parts = [p for p in ("effect", "control") if p in result.parts]
    studies = [_short(s) for s in result.evidence.studies]
    fig, axes = ctx.style.subplots(0.22 * len(studies) + 2.2, ncols=len(parts), squeeze=False, sharey=True)
    raw, shrunk = (
        raw_estimates(result.evidence),
        trial_estimates(result.datatree["posterior"].to_dataset(), result.evidence),
    )
    y = np.arange(len(studies))[::-1] + 2.0
    for ax, part in zip(axes[0], parts, strict=True):
        beta_family = result.parts[part].mixture.family == "beta"
        est, se = raw[part]
        low, high = _to_scale(part, est - 1.96 * se, False), _to_scale(part, est + 1.96 * se, False)
        ax.hlines(y + 0.15, low, high, color="0.6")
        ax.plot(_to_scale(part, est, False), y + 0.15, "o", mfc="white", color="0.4", label=text["observed"])
        q = np.quantile(shrunk[part], [0.025, 0.5, 0.975], axis=0)
        ax.hlines(y - 0.15, _to_scale(part, q[0], False), _to_scale(part, q[2], False), color="C0")
        ax.plot(_to_scale(part, q[1], False), y - 0.15, "s", color="C0", label=text["shrunk"])
        bounds = [low.min(), high.max()]
        for row, (mix, label, colour) in enumerate(
            ((result.parts[part].mixture, text["map"], "C3"), (result.parts[part].robust, text["robust"], "C1"))
        ):
            values = _to_scale(part, np.asarray([mix.quantile(p) for p in (0.025, 0.5, 0.975)]), beta_family)
            ax.hlines(1 - row * 0.6, values[0], values[2], color=colour, lw=2.5)
            ax.plot(values[1], 1 - row * 0.6, "D", color=colour, label=label)
            if row == 0:
                bounds = [min(bounds[0], values[0]), max(bounds[1], values[2])]
        if part == "effect":
            ax.set_xscale("log")
            plain_log_ticks(ax.xaxis)
            ax.axvline(1, color="0.3", lw=0.8, ls=":")
            ax.set_xlim(bounds[0] / 1.5, bounds[1] * 1.5)  # the robust prior's tails run off the axis
        else:
            ax.set_xlim(0, min(100, bounds[1] * 1.2))
        ax.set_xlabel(text[part])
    axes[0][0].set_yticks([*list(y), 1, 0.4], [*studies, ctx.text("MAP prior", "MAP-prior"), text["robust"]])
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=2, frameon=False)
    return fig


def mixture_figure(result: MapResult, ctx: ReportContext) -> Figure:
    """Histogram of the predictive draws with the fitted and the robust mixture densities."""
    text = _labels(ctx)
    parts = [p for p in ("effect", "control") if p in result.parts]
    fig, axes = ctx.style.subplots(ctx.style.width * 0.42, ncols=len(parts), squeeze=False)
    for ax, name in zip(axes[0], parts, strict=True):
        part = result.parts[name]
        draws = part.draws
        lo, hi = np.quantile(draws, [0.0005, 0.9995])
        grid = np.linspace(lo, hi, 400)
        density, edges = np.histogram(draws, bins=80, range=(lo, hi), density=True)
        ax.stairs(density, edges, fill=True, color="0.85", label=text["draws"])  # one outline, not 80 bars
        ax.plot(grid, part.mixture.pdf(grid), color="C3", label=text["mixture"])
        ax.plot(grid, part.robust.pdf(grid), color="C1", ls="--", label=text["robust"])
        beta_family = part.mixture.family == "beta"
        if name == "effect":
            ax.set_xlabel(text["effect_log"])
        else:
            ax.set_xlabel(text["control"] if beta_family else text["control_logit"])
        ax.set_ylabel(text["density"])
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=3, frameon=False)
    return fig
