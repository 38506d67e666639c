"""Estimands of a multilevel regression on the users' scale, from the posterior predictions of :mod:`predict`.

Average outcome, average marginal effects of each contrast, group rates and, with a fidelity
scale, the fidelity slope, odds ratio, contrast and curve: each an average over the study's rows
of the family's expected outcome per posterior draw, computed in one sweep by
:meth:`~ipsbayes.models.predict.Predictor.averages` (``tests/test_predict_averages.py`` and
``tests/test_equivalence.py``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import xarray as xr

from ipsbayes.families import OutcomeFamily
from ipsbayes.models.base import ModelData, en_plural, estimand, nb_plural, nb_word, unstack_draws
from ipsbayes.models.groups import idx_key
from ipsbayes.models.predict import Counterfactual, Predictor, group_weights
from ipsbayes.scales import FidelitySpec


def regression_estimands(
    predictor: Predictor,
    posterior: xr.Dataset,
    data: ModelData,
    fidelity: FidelitySpec | None,
    words: dict[str, str],
    outcome_unit: str | None = None,
) -> xr.Dataset:
    """Users'-scale estimands shared by the regression families.

    The expected outcome (``outcome_rate`` in % or ``outcome_mean`` in the outcome's unit), average
    marginal effects, coefficients per unit (and odds ratios on the log-odds scale), the partially
    pooled mean of every group of every grouping factor beside its observed mean and size, and the
    fidelity slope, odds ratio, contrast and curve when a fidelity score is modelled.
    """
    info = data.info
    units = predictor.family.units(outcome_unit)
    post = _Wrapper(posterior)
    design = info["design"]
    outcome = words.get("outcome", "the outcome")
    outcome_nb = nb_word(words, "outcome", outcome)
    contrasts, designs, which = _counterfactual_designs(data, predictor.X)
    group_dims = _group_dims(data)
    matrices = [
        group_weights(data.arrays[idx_key(block.block.factor)], predictor.weights, len(data.coords[block.dim]))
        for block in group_dims
    ]
    grid = None
    if fidelity is not None and predictor.fidelity_slope is not None:
        grid = _fidelity_grid(data, fidelity)
    means = predictor.averages(designs, matrices, None if grid is None else grid[1])
    at = [means.overall if k is None else means.counterfactuals[k] for k in which]
    out = xr.Dataset()
    out[f"outcome_{units.noun}"] = estimand(
        post.wrap(units.multiplier * means.overall),
        f"Expected {'share with' if units.noun == 'rate' else 'mean of'} {outcome}",
        units.level,
        null=None,
        label_nb=f"Forventet {'andel med' if units.noun == 'rate' else 'gjennomsnitt av'} {outcome_nb}",
        headline=True,
    )
    if contrasts:
        ames = np.column_stack([units.multiplier * (at[2 * j + 1] - at[2 * j]) for j in range(len(contrasts))])
        out["ame"] = estimand(
            post.wrap(ames, ("contrast",), {"contrast": [c.label for c in contrasts]}),
            f"Average marginal effect on the expected {re.sub(r'^(?:a|an|the) ', '', outcome)}",  # not "the expected a"
            units.difference,
            label_nb=f"Gjennomsnittlig marginal effekt på forventet verdi av {outcome_nb}",
            headline=True,
            numeric_shift=design.per_words()[2],
            numeric_shift_nb=design.per_words()[3],
        )
    if predictor.beta.shape[1]:
        terms = {"term": data.coords["term"]}
        per_unit = post.wrap(predictor.beta / design.unit_scale(), ("term",), terms)
        if predictor.family.link == "logit":
            per_en, per_nb, _, _ = design.per_words()
            out["odds_ratio"] = estimand(
                post.wrap(np.exp(predictor.beta), ("term",), terms),
                f"Odds ratio ({per_en})",
                "OR",
                null=1.0,
                label_nb=f"Oddsratio ({per_nb})",
            )
            out["log_odds_per_unit"] = estimand(
                per_unit,
                "Log-odds coefficient per unit of the predictor",
                "log-odds",
                null=0.0,
                label_nb="Log-odds-koeffisient per enhet av prediktoren",
            )
        else:
            out["effect_per_unit"] = estimand(
                per_unit,
                "Change in the expected outcome per unit of the predictor",
                units.difference,
                null=0.0,
                label_nb="Endring i forventet utfall per enhet av prediktoren",
            )
    if grid is not None:
        out.update(_fidelity_estimands(predictor, data, fidelity, post, units.multiplier * means.fidelity, grid, units))
    out.update(_group_estimands(group_dims, means.groups, data, post, words, units))
    return out


def group_spread_estimands(
    posterior: xr.Dataset,
    data: ModelData,
    family: OutcomeFamily,
    words: dict[str, str],
    outcome_unit: str | None = None,
) -> xr.Dataset:
    """How much the groups differ: each grouping block's SD and the correlation of its effects.

    SDs are on the model's scale (log-odds for a logit link, the outcome's unit otherwise); with a
    logit link the first intercept-only block also gets the median odds ratio between two random
    groups.
    """
    out = xr.Dataset()
    scale = f"SD ({family.scale_name})" if family.link == "logit" else (outcome_unit or "outcome units")
    first = True
    for block in data.info["blocks"]:
        group = words.get(block.dim, block.dim)
        group_nb = nb_word(words, block.dim, block.dim)
        sd = posterior[block.block.sd_name]
        what = "effects" if block.intercept_only else f"effects ({', '.join(block.columns)})"
        what_nb = "effekter" if block.intercept_only else f"effekter ({', '.join(block.columns)})"
        out[block.block.sd_name] = estimand(
            sd, f"SD of {group} {what}", scale, null=None, label_nb=f"SD for {group_nb}-{what_nb}", group=block.dim
        )
        if block.k > 1:
            out[block.block.corr_name] = estimand(
                posterior[block.block.corr_name],
                f"Correlation of {group} effects",
                "correlation",
                null=None,
                label_nb=f"Korrelasjon mellom {group_nb}-effekter",
            )
        if first and family.link == "logit" and block.intercept_only:
            out["median_odds_ratio"] = estimand(
                np.exp(np.sqrt(2.0) * 0.6744897501960817 * sd),
                f"Median odds ratio between two random {en_plural(words, block.dim, block.dim)}",
                "MOR",
                null=None,
                label_nb="Median oddsratio mellom to tilfeldige " + nb_plural(words, block.dim, block.dim),
                note=f"odds ratio between the {en_plural(words, block.dim, block.dim)} of two similar "
                f"{words.get('units', 'observations')}, "
                "median over random pairs",
            )
            first = False
    return out


def _counterfactual_designs(data: ModelData, X: np.ndarray) -> tuple[list[Any], list[np.ndarray], list[int | None]]:
    """The contrasts, their distinct counterfactual designs and each end's position (:func:`_distinct_designs`).

    They depend on the data only, so they are built once per data (``data.derived``) and reused for
    the prior's draws: at 150,000 rows building them took about 0.7 s each time.
    """
    design, frame = data.info["design"], data.info["frame"]
    cached = data.derived.get("counterfactual_designs")
    if cached is not None and cached[0] is design and cached[1] is frame and cached[2] is X:
        return cached[3]
    contrasts = design.contrasts()
    sloped = [(k, b) for k, b in enumerate(data.info["blocks"]) if b.x_key]
    pairs = []
    for contrast in contrasts:
        frames = design.counterfactual_frames(frame, contrast)
        matrices = [design.matrix(f) for f in frames]
        if sloped:  # x + (x | g): the counterfactual moves each row's u_g x too
            matrices = [
                Counterfactual(matrix, {k: design.slope_values(f, b.block) for k, b in sloped})
                for matrix, f in zip(matrices, frames, strict=True)
            ]
        pairs.append(matrices)
    designs, which = _distinct_designs(X, [matrix for pair in pairs for matrix in pair], data)
    built = (contrasts, designs, which)
    data.derived["counterfactual_designs"] = (design, frame, X, built)
    return built


def _distinct_designs(
    X: np.ndarray, matrices: list[np.ndarray | Counterfactual], data: ModelData | None = None
) -> tuple[list[np.ndarray | Counterfactual], list[int | None]]:
    """The distinct design matrices other than ``X`` and, per matrix, its position among them (None: ``X``).

    Counterfactuals repeat: a numeric predictor's "+1 SD" contrast has the observed design as its
    low end, and every level of a categorical predictor shares the reference design. A
    :class:`Counterfactual` is the observed design when its matrix is ``X`` and its slopes are the
    data's (``data``'s arrays).
    """

    def same(a: np.ndarray | Counterfactual, b: np.ndarray | Counterfactual) -> bool:
        if isinstance(a, Counterfactual) != isinstance(b, Counterfactual):
            return False
        if not isinstance(a, Counterfactual):
            return a.shape == b.shape and np.array_equal(a, b)
        return (
            np.array_equal(a.X, b.X)
            and a.slopes.keys() == b.slopes.keys()
            and all(np.array_equal(a.slopes[k], b.slopes[k]) for k in a.slopes)
        )

    observed: np.ndarray | Counterfactual = X
    if data is not None and any(isinstance(m, Counterfactual) for m in matrices):
        blocks = data.info["blocks"]
        observed = Counterfactual(X, {k: data.arrays[b.x_key] for k, b in enumerate(blocks) if b.x_key})
    distinct: list[np.ndarray | Counterfactual] = []
    which: list[int | None] = []
    for matrix in matrices:
        if same(matrix, observed):
            which.append(None)
            continue
        found = next((k for k, seen in enumerate(distinct) if same(matrix, seen)), None)
        if found is None:
            distinct.append(matrix)
            found = len(distinct) - 1
        which.append(found)
    return distinct, which


def _group_dims(data: ModelData) -> list[Any]:
    """The first block of each grouping dimension (one set of group means per dimension)."""
    out, done = [], set()
    for info in data.info["blocks"]:
        if info.dim not in done:
            done.add(info.dim)
            out.append(info)
    return out


def _group_estimands(
    blocks: list[Any],
    group_means: list[np.ndarray],
    data: ModelData,
    post: _Wrapper,
    words: dict[str, str],
    units: Any,
) -> dict:
    """Partially pooled and observed mean per group of every grouping factor, and group sizes."""
    out: dict[str, xr.DataArray] = {}
    summaries = data.info["group_summaries"]
    for info, means in zip(blocks, group_means, strict=True):
        dim = info.dim
        names = data.coords[dim]
        group, units_word = words.get(dim, dim.replace("_", " ")), words.get("units", "observations")
        noun = "outcome rate" if units.noun == "rate" else "mean outcome"
        noun_nb = "andel med utfallet" if units.noun == "rate" else "gjennomsnittlig utfall"
        group_nb = nb_word(words, dim, dim.replace("_", " "))
        out[f"{dim}_{units.noun}"] = estimand(
            post.wrap(units.multiplier * means, (dim,), {dim: names}),
            f"Predicted {noun} per {group} (partially pooled)",
            units.level,
            null=None,
            label_nb=f"Predikert {noun_nb} per {group_nb} (delvis sammenslått)",
        )
        out[f"{dim}_raw_{units.noun}"] = xr.DataArray(
            units.multiplier * summaries[dim]["raw"],
            dims=dim,
            coords={dim: names},
            attrs={"label": f"Observed {noun} per {group}", "unit": units.level},
        )
        out[f"{dim}_n"] = xr.DataArray(
            summaries[dim]["n"],
            dims=dim,
            coords={dim: names},
            attrs={"label": f"{units_word.capitalize()} per {group}", "unit": units_word},
        )
    return out


def _fidelity_grid(data: ModelData, fidelity: FidelitySpec) -> tuple[np.ndarray, np.ndarray]:
    """The fidelity curve's 31 scores and, on the model's scale, those scores then the contrast's low and high."""
    scale = fidelity.resolved_scale
    centre, per = data.info["fidelity_centre"], fidelity.per
    low, high = fidelity.contrast
    raw = data.info["fidelity_raw"]
    grid_low = min(float(np.nanmin(raw)), low) - 2
    grid_high = max(float(np.nanmax(raw)), high) + 2
    grid = np.linspace(max(grid_low, scale.minimum), min(grid_high, scale.maximum), 31)
    return grid, (np.r_[grid, low, high] - centre) / per


def _fidelity_estimands(
    predictor: Predictor,
    data: ModelData,
    fidelity: FidelitySpec,
    post: _Wrapper,
    rates: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray],
    units: Any,
) -> dict[str, xr.DataArray]:
    """Fidelity slope, odds ratio, contrast and curve; ``rates`` are the users'-scale means at ``grid``."""
    scale = fidelity.resolved_scale
    dim = data.info["fidelity_group"]
    per = fidelity.per
    low, high = fidelity.contrast
    raw = data.info["fidelity_raw"]
    grid = grid[0]
    curve, at_low, at_high = rates[:, :-2], rates[:, -2], rates[:, -1]
    link = "log-odds" if predictor.family.link == "logit" else units.difference
    out = {
        "fidelity_slope": estimand(
            post.wrap(predictor.fidelity_slope),
            f"Fidelity slope ({scale.name})",
            f"{link} per {per:g} {scale.name} points",
            label_nb=f"Stigningstall for modelltrofasthet ({scale.name})",
            headline=True,
        ),
        "fidelity_contrast": estimand(
            post.wrap(at_high - at_low),
            f"Expected outcome at {scale.name} = {high:g} ({scale.band(high)}) minus at {low:g} ({scale.band(low)})",
            units.difference,
            label_nb=f"Forventet utfall ved {scale.name} = {high:g} ({scale.band(high, 'nb')}) minus ved {low:g} "
            f"({scale.band(low, 'nb')})",
            headline=True,
            note="average over the study's rows with each group's own effect kept; only fidelity changes",
            scale=scale.name,
            low=float(low),
            high=float(high),
            band_low=str(scale.band(low)),
            band_high=str(scale.band(high)),
            per=float(per),
        ),
        "fidelity_curve": estimand(
            post.wrap(curve, ("fidelity_score",), {"fidelity_score": grid}),
            f"Expected outcome by {scale.name} score",
            units.level,
            null=None,
            label_nb=f"Forventet utfall etter {scale.name}-skår",
        ),
        f"{dim}_fidelity": xr.DataArray(
            raw,
            dims=dim,
            coords={dim: data.coords[dim]},
            attrs={
                "label": f"{scale.name} score per {dim}",
                "unit": "points",
                "bands": str(scale.bands),
                "scale_min": scale.minimum,
                "scale_max": scale.maximum,
            },
        ),
    }
    if predictor.family.link == "logit":
        out["fidelity_odds_ratio"] = estimand(
            post.wrap(np.exp(predictor.fidelity_slope)),
            f"Odds ratio per {per:g} {scale.name} points",
            "OR",
            null=1.0,
            label_nb=f"Oddsratio per {per:g} {scale.name}-poeng",
            headline=True,
        )
    return out


class _Wrapper:
    """Reshape flat (sample, ...) arrays back to (chain, draw, ...) DataArrays."""

    def __init__(self, posterior: xr.Dataset) -> None:
        self.posterior = posterior

    def wrap(self, values: np.ndarray, dims: tuple[str, ...] = (), coords: dict | None = None) -> xr.DataArray:
        return unstack_draws(np.asarray(values), self.posterior, dims, coords)


__all__ = ["regression_estimands"]
