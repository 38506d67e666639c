"""How the multilevel family presents itself: group differences in the study's words, and its family's check figure.

The IPS parts (fidelity, measurement error, the services section and caterpillar) are
reused from :mod:`ipsbayes.models.hierarchical_logistic_report`; they apply only to runs
that have those estimands. Every other grouping factor gets the generic section and
figure below, worded with the vocabulary the config gives (``school``, ``herd``, ...).
"""

from __future__ import annotations

import json

import numpy as np

from ipsbayes.families import FAMILIES
from ipsbayes.models.hierarchical_logistic_report import PRESENTATION as IPS_PRESENTATION
from ipsbayes.present import Figure, Presentation, ReportContext, Section, fixed
from ipsbayes.present.style import median, pointrange

#: factors the IPS presentation already covers (its services section reads ``service_*`` estimands)
COVERED_BY_IPS_SECTION = ("service",)
#: groups drawn per factor in the caterpillar figure (the largest, by size)
MAX_DRAWN = 60


def _factors(ctx: ReportContext) -> list[tuple[str, str]]:
    """(dim, noun) of every grouping factor with partially pooled group means, not covered elsewhere."""
    out = []
    for name in ctx.estimands.data_vars:
        for noun in ("rate", "mean"):
            suffix = f"_raw_{noun}"
            if name.endswith(suffix):
                dim = name[: -len(suffix)]
                if f"{dim}_{noun}" in ctx.estimands and dim not in COVERED_BY_IPS_SECTION:
                    out.append((dim, noun))
    return out


def _plural(ctx: ReportContext, dim: str) -> str:
    word = ctx.label(dim)
    return ctx.label(f"{dim}_plural", word if word.endswith("s") else f"{word}s")


def groups_section(ctx: ReportContext) -> str:
    """How much the groups of each factor differ once chance variation is accounted for."""
    paragraphs = []
    for dim, noun in _factors(ctx):
        estimands = ctx.estimands
        pooled = median(estimands[f"{dim}_{noun}"])
        raw, n = estimands[f"{dim}_raw_{noun}"].values, estimands[f"{dim}_n"].values
        unit = estimands[f"{dim}_{noun}"].attrs.get("unit", "")
        shown = n >= ctx.min_cell
        groups, units = _plural(ctx, dim), ctx.label("units", "observations")
        text = []
        if shown.any():
            text.append(
                f"Observed {noun}s of {groups} with at least {ctx.min_cell} {units} range from "
                f"{ctx.number(raw[shown].min(), unit)} to {ctx.number(raw[shown].max(), unit)} {unit}"
                f" ({len(n)} {groups} with {int(n.min())} to {int(n.max())} {units})."
            )
        text.append(
            f"After partial pooling, predicted {noun}s range from {ctx.number(pooled.min(), unit)} to "
            f"{ctx.number(pooled.max(), unit)} {unit}: small groups are pulled towards the overall {noun}."
        )
        for name in estimands.data_vars:
            if name == f"sd_{dim}" or name.startswith(f"sd_{dim}_"):
                sd = estimands[name]
                if set(sd.dims) == {"chain", "draw"}:
                    row = ctx.row(name)
                    text.append(f"{row['label']}: {ctx.number(row['median'], row['unit'])} ({ctx.interval(row)}).")
        paragraphs.append(f"**{ctx.label(dim).capitalize()}.** " + " ".join(text))
    return "\n\n".join(paragraphs)


def groups_caterpillar(ctx: ReportContext) -> tuple[object, str]:
    """Predicted (partially pooled) mean per group beside the observed mean, one panel per factor."""
    import matplotlib.pyplot as plt

    factors = _factors(ctx)
    style = ctx.style
    heights = [min(len(ctx.estimands[f"{dim}_n"]), MAX_DRAWN) for dim, _ in factors]
    fig, axes = plt.subplots(1, len(factors), figsize=(5.5 * len(factors), max(3.5, 0.16 * max(heights) + 1.5)))
    axes = np.atleast_1d(axes)
    for ax, (dim, noun) in zip(axes, factors, strict=True):
        rate = ctx.estimands[f"{dim}_{noun}"]
        raw, n = ctx.estimands[f"{dim}_raw_{noun}"].values, ctx.estimands[f"{dim}_n"].values
        keep = np.sort(np.argsort(-n, kind="stable")[:MAX_DRAWN])
        mid = median(rate)[keep]
        order = keep[np.argsort(mid)]
        y = np.arange(len(order))
        pointrange(ax, rate, y, style, "#1f77b4", order=order, lw=1.4, ms=3, label=f"predicted: {style.text}")
        shown = n[order] >= ctx.min_cell
        ax.scatter(raw[order][shown], y[shown], s=10, facecolors="none", edgecolors="#d62728", label="observed")
        labels = [str(v) for v in rate[dim].values[order]]
        ax.set_yticks(y, labels if len(order) <= 40 else [""] * len(order), fontsize=6)
        ax.set_xlabel(f"{noun} ({rate.attrs.get('unit', '')})")
        ax.set_title(_plural(ctx, dim).capitalize(), fontsize=9)
        ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    caption = (
        f"Predicted mean outcome per group (dots, {style.text}) beside the observed mean (open circles; groups "
        f"with fewer than {ctx.min_cell} observations not shown). At most {MAX_DRAWN} of the largest groups per panel."
    )
    return fig, caption


def _family_applies(name: str, figure: Figure) -> object:
    def applies(ctx: ReportContext) -> bool:
        return ctx.estimands.attrs.get("outcome_family") == name and figure.applies(ctx)

    return applies


def _family_figures() -> tuple[Figure, ...]:
    """Each outcome family's own check figure, shown for runs of a family that owns it."""
    owners: dict[str, list[str]] = {}
    drawn: dict[str, Figure] = {}
    for name, family in FAMILIES.items():
        figure = family.figure
        if figure is not None:
            owners.setdefault(figure.name, []).append(name)
            drawn[figure.name] = figure
    return tuple(
        Figure(figure.name, figure.title, figure.draw, _owned_by(tuple(owners[key]), figure))
        for key, figure in drawn.items()
    )


def _owned_by(names: tuple[str, ...], figure: Figure) -> object:
    def applies(ctx: ReportContext) -> bool:
        return ctx.estimands.attrs.get("outcome_family") in names and figure.applies(ctx)

    return applies


def vocabulary_of(ctx: ReportContext) -> dict[str, str]:
    """The study's words (for tests and notebooks)."""
    return json.loads(ctx.estimands.attrs.get("vocabulary", "{}"))


PRESENTATION = Presentation(
    answer=IPS_PRESENTATION.answer,
    sections=(
        *IPS_PRESENTATION.sections,
        Section(
            "groups",
            fixed("Differences between groups", "Forskjeller mellom grupper"),
            groups_section,
            lambda ctx: bool(_factors(ctx)),
        ),
    ),
    figures=(
        *IPS_PRESENTATION.figures,
        Figure(
            "group_caterpillar",
            fixed("Groups: observed and partially pooled means", "Grupper: observerte og delvis sammenslåtte snitt"),
            groups_caterpillar,
            lambda ctx: bool(_factors(ctx)),
        ),
        *_family_figures(),
    ),
)
