"""Figures of ``ipsbayes map-prior``: the forest plot of the trials and the mixture fit of the MAP draws."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from scipy.special import expit

from ipsbayes.evidence.derive import MapResult
from ipsbayes.evidence.model import raw_estimates, trial_estimates

LABELS = {
    "en": {
        "effect": "Odds ratio of employment, IPS vs control (log scale)",
        "effect_log": "Log odds ratio of employment, IPS vs control",
        "control": "Employment rate in the control arm (%)",
        "observed": "observed (95% CI)",
        "shrunk": "hierarchical model (95% interval)",
        "map": "MAP prior for a new trial",
        "robust": "robust MAP prior",
        "draws": "MCMC predictive draws",
        "mixture": "fitted mixture",
        "density": "density",
    },
    "nb": {
        "effect": "Oddsratio for arbeid, IPS mot kontroll (log-skala)",
        "effect_log": "Log-oddsratio for arbeid, IPS mot kontroll",
        "control": "Andel i arbeid i kontrollgruppen (%)",
        "observed": "observert (95 % KI)",
        "shrunk": "hierarkisk modell (95 % intervall)",
        "map": "MAP-prior for en ny studie",
        "robust": "robust MAP-prior",
        "draws": "MCMC-trekk fra prediktiv fordeling",
        "mixture": "tilpasset blanding",
        "density": "tetthet",
    },
}


def _to_scale(part: str, values: np.ndarray, beta_family: bool) -> np.ndarray:
    if part == "effect":
        return np.exp(values)
    return 100 * (values if beta_family else expit(values))


def _short(label: str) -> str:
    """Study label without its parenthesised detail, at most 28 characters."""
    short = label.split(" (")[0].strip()
    return short if len(short) <= 28 else short[:27] + "\u2026"


def forest_figure(result: MapResult, language: str = "en") -> Figure:
    """Each trial's observed and shrunken estimate, and the MAP prior for a new trial, per quantity."""
    text = LABELS[language]
    parts = [p for p in ("effect", "control") if p in result.parts]
    studies = [_short(s) for s in result.evidence.studies]
    fig, axes = plt.subplots(
        1, len(parts), figsize=(4.6 * len(parts) + 1.6, 0.38 * len(studies) + 2.4), squeeze=False, sharey=True
    )
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
            ax.axvline(1, color="0.3", lw=0.8, ls=":")
            ax.set_xlim(bounds[0] / 1.5, bounds[1] * 1.5)  # the robust prior's tails run off the axis
        else:
            ax.set_xlim(0, min(100, bounds[1] * 1.2))
        ax.set_xlabel(text[part])
    axes[0][0].set_yticks([*list(y), 1, 0.4], [*studies, text["map"], text["robust"]])
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def mixture_figure(result: MapResult, language: str = "en") -> Figure:
    """Histogram of the predictive draws with the fitted and the robust mixture densities."""
    text = LABELS[language]
    parts = [p for p in ("effect", "control") if p in result.parts]
    fig, axes = plt.subplots(1, len(parts), figsize=(5.2 * len(parts), 3.6), squeeze=False)
    for ax, name in zip(axes[0], parts, strict=True):
        part = result.parts[name]
        draws = part.draws
        lo, hi = np.quantile(draws, [0.0005, 0.9995])
        grid = np.linspace(lo, hi, 400)
        ax.hist(draws, bins=80, range=(lo, hi), density=True, color="0.85", label=text["draws"])
        ax.plot(grid, part.mixture.pdf(grid), color="C3", label=f"{text['mixture']} ({part.mixture.size})")
        ax.plot(grid, part.robust.pdf(grid), color="C1", ls="--", label=text["robust"])
        beta_family = part.mixture.family == "beta"
        if name == "effect":
            ax.set_xlabel(text["effect_log"])
        else:
            ax.set_xlabel(text["control"] if beta_family else text["control"].replace("(%)", "(log-odds)"))
        ax.set_ylabel(text["density"])
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
