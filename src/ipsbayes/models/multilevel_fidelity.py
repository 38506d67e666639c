"""A group-level fidelity score in a multilevel model: one column, or repeated reviews measured with error.

The score belongs to one grouping factor (IPS: the service). Its slope is reported per
``per`` scale points; with reviews the true score is latent and each review measures it
with error (:mod:`ipsbayes.models.fidelity_reviews`), so its uncertainty propagates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ipsbayes.data import DataBundle, Table, raise_if
from ipsbayes.data_checks import out_of_range
from ipsbayes.models.base import ModelData, en_plural, estimand, natural_key, nb_plural, nb_word
from ipsbayes.models.fidelity_reviews import plug_in_scores, review_arrays, review_table, unknown_review_services
from ipsbayes.models.formula import ModelFormula
from ipsbayes.scales import FidelitySpec


def fidelity_spec_problems(fid: FidelitySpec, formula: ModelFormula, group: str | None) -> list[str]:
    """The score's group must be a one-column grouping factor; a score column must be a main effect."""
    problems = []
    singles = [f.name for f in formula.factors if len(f.columns) == 1]
    if group is None or group not in singles:
        problems.append(
            f"model.fidelity: the score belongs to a grouping factor of one column ({', '.join(singles) or 'none'} "
            f"here); got {group!r} (set model.fidelity.group)"
        )
    if fid.column not in formula.common_terms:
        problems.append(f"model.formula: add the fidelity column '{fid.column}' as a term of its own")
    elif any(fid.column in t.split(":") and t != fid.column for t in formula.common_terms):
        problems.append(f"model.formula: the fidelity column '{fid.column}' may only enter as a main effect")
    return problems


def fidelity_column_problems(table: Table, fid: FidelitySpec) -> list[str]:
    """Scores outside the scale's range."""
    scale = fid.resolved_scale
    return out_of_range(table, fid.column, scale.minimum, scale.maximum, scale.name)


def add_fidelity(
    data: ModelData, bundle: DataBundle, fid: FidelitySpec, group: str, formula: ModelFormula, frame: pd.DataFrame
) -> None:
    """Fidelity arrays: one centred, scaled score per group, or the reviews for the latent model."""
    factor = formula.factor(group)
    key = factor.columns[0]
    names = list(data.coords[group])
    data.info["fidelity_group"] = group
    if fid.source == "column":
        per_group = frame.groupby(frame[key].astype(str))[fid.column].first().reindex(names).to_numpy(float)
        centre = fid.centre if fid.centre is not None else float(per_group.mean())
        data.arrays["fidelity"] = (per_group - centre) / fid.per
        data.info |= {"fidelity_raw": per_group, "fidelity_centre": centre}
        return
    reviews, problems = review_table(bundle, key, fid)
    raise_if(problems, "The data cannot be used as they are")
    problems = unknown_review_services(reviews, key, set(names))
    plug_in = plug_in_scores(reviews, key, fid)
    unreviewed = sorted(set(names) - set(plug_in.index), key=natural_key)
    if unreviewed and not fid.measurement_error:
        problems.append(
            f"{reviews.where}: {key}(s) {', '.join(unreviewed[:5])} have no review; the plug-in analysis "
            "needs a score for every group (the measurement-error model does not)"
        )
    raise_if(problems, "The data cannot be used as they are")
    scores = reviews.frame[fid.review_column].to_numpy(float)
    centre = fid.centre if fid.centre is not None else float(scores.mean())
    per_group = plug_in.reindex(names).to_numpy(float)
    data.info |= {"fidelity_raw": per_group, "fidelity_centre": centre, "n_reviews": len(scores)}
    if not fid.measurement_error:
        data.arrays["fidelity"] = (per_group - centre) / fid.per
        data.notes.append(
            f"Fidelity: mean of {len(scores)} review scores per {group} plugged in (no measurement error)."
        )
        return
    data.arrays |= review_arrays(reviews, key, fid, names, centre)
    data.coords["review"] = np.arange(len(scores))
    missing = int(np.isnan(per_group).sum())
    data.notes.append(
        f"Fidelity: {len(scores)} reviews of {len(names) - missing} groups ({group}); true fidelity is latent and "
        "measured with error by the reviews"
        + (f" ({missing} without a review take it from the population distribution)." if missing else ".")
    )


def measurement_estimands(posterior: xr.Dataset, data: ModelData, fid: FidelitySpec) -> dict[str, xr.DataArray]:
    """Review error, spread of true fidelity and the reliability of one review, in scale points."""
    per, name, dim = fid.per, fid.resolved_scale.name, data.info["fidelity_group"]
    words = data.info["vocabulary"]
    groups = en_plural(words, dim, dim)
    groups_nb = nb_plural(words, dim, dim)
    error, spread = posterior["review_error_sd"] * per, posterior["fidelity_sd"] * per
    latent = posterior["fidelity_latent"] * per + data.info["fidelity_centre"]
    return {
        "review_error_sd": estimand(
            error,
            f"SD of a review around the true {name} score",
            "points",
            null=None,
            label_nb=f"SD for en vurdering rundt den sanne {name}-skåren",
        ),
        "fidelity_sd": estimand(
            spread,
            f"SD of true {name} scores across {groups}",
            "points",
            null=None,
            label_nb=f"SD for sanne {name}-skårer på tvers av {groups_nb}",
        ),
        "fidelity_reliability": estimand(
            spread**2 / (spread**2 + error**2),
            "Reliability of a single review",
            "share",
            null=None,
            label_nb="Reliabilitet for én enkelt vurdering",
            note=f"share of the variance of one review's score that is true differences between {groups}",
        ),
        f"{dim}_fidelity_latent": estimand(
            latent,
            f"True {name} score per {words.get(dim, dim)}",
            "points",
            null=None,
            label_nb=f"Sann {name}-skår per {nb_word(words, dim, dim)}",
        ),
    }
