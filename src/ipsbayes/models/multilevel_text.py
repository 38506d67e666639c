"""The model description a multilevel run's report opens with, in the study's own words."""

from __future__ import annotations

from typing import Any

from ipsbayes.families import OutcomeFamily
from ipsbayes.models.base import ModelData
from ipsbayes.models.formula import ModelFormula


def group_words(formula: ModelFormula | None, vocabulary: dict[str, str]) -> dict[str, str]:
    """Word for each grouping factor (the config's vocabulary, else the factor's name)."""
    if formula is None:
        return {}
    return {f.name: vocabulary.get(f.name, f.name.replace("_", " ")) for f in formula.factors}


def plural(words: dict[str, str], key: str) -> str:
    """Plural of a vocabulary word (``<key>_plural`` if given, else an added s)."""
    word = words.get(key, key.replace("_", " "))
    return words.get(f"{key}_plural", word if word.endswith("s") else f"{word}s")


def describe_model(spec: Any, data: ModelData, family: OutcomeFamily) -> str:
    """Markdown: what was fitted, the equation, how groups were parameterised and what the estimands mean."""
    info, coords = data.info, data.coords
    words = info["vocabulary"]
    formula: ModelFormula = info["formula"]
    blocks = info["blocks"]
    groups = ", ".join(f"{len(coords[f.name])} {plural(words, f.name)}" for f in formula.factors)
    response = f"*{info['response']}*" + (f" ({words['outcome_unit']})" if words.get("outcome_unit") else "")
    lhs = {"logit": "logit E[y / trials]" if "trials" in data.arrays else "logit P(y = 1)", "identity": "E[y]"}
    terms = ["intercept", *(["X beta"] if len(coords["term"]) else [])]
    if info.get("fidelity_group"):
        terms.append("fidelity_slope * (fidelity - centre) / per")
    terms += [f"{b.block.effect_name}[{b.dim}]" + ("" if b.intercept_only else " . x") for b in blocks]
    lines = [
        f"{family.title}: multilevel regression of {response} for {data.n_rows} {words.get('units', 'observations')}"
        + (f" in {groups}" if groups else "")
        + f". Formula: `{spec.formula}`.",
        "",
        f"    {lhs[family.link]} = " + " + ".join(terms),
        "",
    ]
    described = []
    for block in blocks:
        word = words.get(block.dim, block.dim)
        if block.k > 1:
            described.append(
                f"{word} effects on {', '.join(block.columns)} are correlated (covariance with an LKJ prior on the "
                "correlations, non-centred)"
            )
        elif not block.intercept_only:
            described.append(f"{word} slopes on {block.columns[0]} are partially pooled (non-centred)")
    centred = {dim: n for dim, n in info.get("centred_groups", {}).items() if n}
    pooled = ", ".join(plural(words, b.dim) for b in blocks if b.intercept_only and not b.block.suffix)
    if pooled:
        text = f"Intercepts of {pooled} are partially pooled"
        if centred:
            counts = ", ".join(f"{n} {plural(words, dim)}" for dim, n in centred.items())
            text += (
                f"; groups whose data pin their intercept down are sampled in the centred form ({counts}; "
                f"information above {spec.centre_above:g}), the rest non-centred: the same posterior, with "
                "geometry NUTS samples faster"
            )
        else:
            text += " (non-centred, z ~ Normal(0, 1), which samples well when groups are small"
            several = len({b.dim for b in blocks}) > 1 and spec.parameterisation == "auto"
            text += "; with more than one grouping factor 'auto' keeps every group non-centred)" if several else ")"
        described.insert(0, text)
    if described:
        lines.append("; ".join(described) + ".")
    units = family.units(spec.outcome_unit)
    scale = "percentage points" if units.difference == "pp" else units.difference
    standardised = " Numeric predictors are standardised (coefficients per SD)." if spec.standardize else ""
    lines.append(
        f"{standardised} Effects on the users' scale are average marginal effects in {scale}: the mean over the "
        f"study's {words.get('units', 'observations')} of the change in the expected outcome, for every posterior draw."
    )
    if info.get("fidelity_group"):
        scale_spec = spec.fidelity.resolved_scale
        measured = (
            "latent, measured with error by repeated reviews"
            if spec.fidelity.latent
            else "treated as measured without error"
        )
        lines.append(
            f"\nFidelity: `{spec.fidelity.column}` on the {scale_spec.name} scale "
            f"({scale_spec.minimum}-{scale_spec.maximum}), one score per {words.get(info['fidelity_group'])}, "
            f"centred at {info['fidelity_centre']:.1f} and scaled per {spec.fidelity.per:g} points; {measured}."
        )
    return "\n".join(lines)
