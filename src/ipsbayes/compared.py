"""The scalars that sensitivity analyses compare: scalar estimands as they are, vector ones element by element.

Refits under other prior sets and model variants, power-scaling, and the tables and figures
that show them all compare scalar draws (``chain``, ``draw``). A family's headline estimands
may be vectors: a share per outcome category, an effect per predictor, an incidence per month
or per target. Each element of such an estimand is compared as a scalar of its own, named
``<estimand>[<coordinate>]`` with the coordinate as the report's tables write it
(``focus_ame[ips25: +1 SD (14.6)]``; the coordinates of several dimensions joined by ", ").
Its attributes are the estimand's, with ``element_of`` (the estimand), ``element`` (JSON:
dimension -> coordinate) and a label naming the element in the study's words
(``[report.labels]``, then the family's vocabulary).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ipsbayes.present.phrases import readable

SAMPLE_DIMS = ("chain", "draw")
#: "/" separates groups in a netCDF file, so a coordinate's "/" is written as the division slash in names
SLASH = "\u2215"


def is_sampled(var: xr.DataArray) -> bool:
    """Whether ``var`` carries posterior (or prior) draws."""
    return set(SAMPLE_DIMS) <= set(var.dims)


def element_dims(var: xr.DataArray) -> list[str]:
    """The dimensions of ``var`` besides ``chain`` and ``draw`` (empty for a scalar estimand)."""
    return [str(d) for d in var.dims if d not in SAMPLE_DIMS]


def coordinate_text(value: Any) -> str:
    """A coordinate as the report's tables write it: decimal numbers to 4 significant digits."""
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    return str(value)


def selections(var: xr.DataArray) -> list[dict[str, Any]]:
    """Every coordinate combination of ``var``'s element dimensions, in order (``[{}]`` for a scalar).

    A dimension without a coordinate is numbered from 0.
    """
    dims = element_dims(var)
    values = [var[d].values.tolist() if d in var.coords else list(range(var.sizes[d])) for d in dims]
    return [dict(zip(dims, combination, strict=True)) for combination in itertools.product(*values)]


def element_key(name: str, selection: Mapping[str, Any]) -> str:
    """The compared name of one element: ``name[coordinate]`` (``name`` itself for a scalar)."""
    if not selection:
        return name
    text = ", ".join(coordinate_text(v) for v in selection.values())
    return f"{name}[{text.replace('/', SLASH)}]"


def compared_estimands(estimands: xr.Dataset, chosen: Sequence[str] = ()) -> list[str]:
    """The estimands compared: those chosen (``sensitivity.estimands``) that carry draws, else every headline one."""
    if chosen:
        return [n for n in chosen if n in estimands.data_vars and is_sampled(estimands[n])]
    return [str(n) for n, v in estimands.data_vars.items() if is_sampled(v) and v.attrs.get("headline")]


def compared_names(estimands: xr.Dataset, chosen: Sequence[str] = ()) -> list[str]:
    """The scalars compared: each compared estimand if scalar, else each of its elements (``name[coordinate]``).

    Parameters
    ----------
    estimands : Dataset
        A family's estimands (posterior or prior draws).
    chosen : sequence of str
        ``sensitivity.estimands``; empty: every headline estimand.

    Returns
    -------
    list of str
        In the estimands' order, elements in their coordinates' order.
    """
    return [
        element_key(name, selection)
        for name in compared_estimands(estimands, chosen)
        for selection in selections(estimands[name])
    ]


def resolve(dataset: xr.Dataset, key: str) -> tuple[str, dict[str, Any]] | None:
    """The estimand and coordinates a compared name stands for in ``dataset`` (None when it has neither)."""
    if key in dataset.data_vars:
        return key, {}
    name, bracket, _ = key.partition("[")
    if not bracket or not key.endswith("]") or name not in dataset.data_vars or not is_sampled(dataset[name]):
        return None
    for selection in selections(dataset[name]):
        if element_key(name, selection) == key:
            return name, selection
    return None


def parent_of(dataset: xr.Dataset, key: str) -> str | None:
    """The vector estimand whose element ``key`` is (None for a scalar estimand or an unknown name)."""
    found = resolve(dataset, key)
    return found[0] if found is not None and found[1] else None


def draws_of(dataset: xr.DataArray | xr.Dataset, key: str) -> xr.DataArray | None:
    """The draws (``chain``, ``draw``) of a compared name in ``dataset``, with the element's attributes."""
    if isinstance(dataset, xr.DataArray):
        dataset = dataset.to_dataset()
    found = resolve(dataset, key)
    if found is None:
        return None
    name, selection = found
    var = dataset[name]
    if selection:
        positions = {d: _position(var, d, v) for d, v in selection.items()}
        var = var.isel(positions).reset_coords(drop=True)
    return var.copy(deep=False)


def _position(var: xr.DataArray, dim: str, value: Any) -> int:
    if dim not in var.coords:
        return int(value)
    return int(np.flatnonzero(np.asarray(var[dim].values.tolist(), dtype=object) == value)[0])


def study_word(raw: str, labels: Mapping[str, str], vocabulary: Mapping[str, str], language: str) -> str:
    """A coordinate in the study's words, as :meth:`ipsbayes.present.ReportContext.label` finds it.

    ``[report.labels]`` first, then the family's vocabulary (its word in ``language`` before its
    plain word), else the coordinate taken apart and each part looked up.
    """
    if raw in labels:
        return str(labels[raw])
    if language != "en" and vocabulary.get(f"{raw}_{language}"):
        return str(vocabulary[f"{raw}_{language}"])
    if raw in vocabulary:
        return str(vocabulary[raw])
    return readable(raw, {**vocabulary, **labels}, language)


def element_words(
    selection: Mapping[str, Any], labels: Mapping[str, str], vocabulary: Mapping[str, str], language: str
) -> str:
    """An element's coordinates in the study's words, joined by ", " (``education``, ``work, 12 months``)."""
    return ", ".join(study_word(coordinate_text(v), labels, vocabulary, language) for v in selection.values())


def vocabulary_of(estimands: xr.Dataset) -> dict[str, str]:
    """The study's words the family stored with its estimands (``attrs["vocabulary"]``, JSON)."""
    try:
        words = json.loads(estimands.attrs.get("vocabulary", "{}"))
    except (TypeError, ValueError):
        return {}
    return {str(k): str(v) for k, v in words.items()} if isinstance(words, dict) else {}


def flatten(
    estimands: xr.Dataset,
    names: Sequence[str],
    labels: Mapping[str, str] | None = None,
    vocabulary: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """One scalar variable (``chain``, ``draw``) per compared name that ``estimands`` has.

    Parameters
    ----------
    estimands : Dataset
        A family's estimands (posterior or prior draws).
    names : sequence of str
        Compared names (:func:`compared_names`); names ``estimands`` lacks are left out.
    labels : mapping, optional
        ``[report.labels]``: the study's words for coordinates.
    vocabulary : mapping, optional
        The family's words (default: the ones stored with ``estimands``).

    Returns
    -------
    Dataset
        An element keeps its estimand's attributes and adds ``element_of``, ``element`` (JSON)
        and a ``label`` (and ``label_nb``) ending with the element in the study's words.
    """
    labels = dict(labels or {})
    words = dict(vocabulary) if vocabulary is not None else vocabulary_of(estimands)
    out: dict[str, xr.DataArray] = {}
    for key in names:
        found = resolve(estimands, key)
        values = draws_of(estimands, key)
        if found is None or values is None:
            continue
        name, selection = found
        attrs = dict(estimands[name].attrs)
        if selection:
            attrs["element_of"] = name
            attrs["element"] = json.dumps({d: coordinate_text(v) for d, v in selection.items()})
            attrs["label"] = f"{attrs.get('label') or name}: {element_words(selection, labels, words, 'en')}"
            if attrs.get("label_nb"):
                attrs["label_nb"] = f"{attrs['label_nb']}: {element_words(selection, labels, words, 'nb')}"
        values.attrs = attrs
        out[key] = values
    return xr.Dataset(out)


__all__ = [
    "compared_estimands",
    "compared_names",
    "draws_of",
    "element_key",
    "element_words",
    "flatten",
    "parent_of",
    "resolve",
    "selections",
]
