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


def forest_figure(result: MapResult, language: str = "en") -> Figure:
    """Each trial's observed and shrunken estimate, and the MAP prior for a new trial, per quantity."""
    text = LABELS[language]
    parts = [p for p in ("effect", "control") if p in result.parts]
    studies = result.evidence.studies
    fig, axes = plt.subplots(1, len(parts), figsize=(5.2 * len(parts), 0.42 * len(studies) + 2.2), squeeze=False)
    raw, shrunk = (
        raw_estimates(result.evidence),
        trial_estimates(result.datatree["posterior"].to_dataset(), result.evidence),
    )
    for ax, part in zip(axes[0], parts, strict=True):
        beta_family = result.parts[part].mixture.family == "beta"
        y = np.arange(len(studies))[::-1] + 2
        est, se = raw[part]
        low, high = est - 1.96 * se, est + 1.96 * se
        ax.hlines(y + 0.15, _to_scale(part, low, False), _to_scale(part, high, False), color="0.6")
        ax.plot(_to_scale(part, est, False), y + 0.15, "o", mfc="white", color="0.4", label=text["observed"])
        draws = shrunk[part]
        q = np.quantile(draws, [0.025, 0.5, 0.975], axis=0)
        ax.hlines(y - 0.15, _to_scale(part, q[0], False), _to_scale(part, q[2], False), color="C0")
        ax.plot(_to_scale(part, q[1], False), y - 0.15, "s", color="C0", label=text["shrunk"])
        for row, (mix, label, colour) in enumerate(
            ((result.parts[part].mixture, text["map"], "C3"), (result.parts[part].robust, text["robust"], "C1"))
        ):
            bounds = [mix.quantile(p) for p in (0.025, 0.5, 0.975)]
            values = _to_scale(part, np.asarray(bounds), beta_family)
            ax.hlines(1 - row * 0.5, values[0], values[2], color=colour, lw=2.5)
            ax.plot(values[1], 1 - row * 0.5, "D", color=colour, label=label)
        ax.set_yticks([*list(y), 1, 0.5], [*studies, text["map"], text["robust"]])
        ax.set_xlabel(text[part])
        if part == "effect":
            ax.set_xscale("log")
            ax.axvline(1, color="0.3", lw=0.8, ls=":")
        ax.legend(loc="lower right", fontsize=7, frameon=False)
    fig.tight_layout()
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
            ax.set_xlabel(text["effect"].replace(" (log scale)", "").replace(" (log-skala)", "") + " (log)")
        else:
            ax.set_xlabel(text["control"] if beta_family else text["control"].replace("(%)", "(log-odds)"))
        ax.set_ylabel(text["density"])
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
