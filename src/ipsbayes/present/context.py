"""What a model family hands the report: its answer block, sections and figures.

A family owns its presentation (the way Bambi's families and CausalPy's
experiments own theirs): it registers a :class:`Presentation` whose parts are
plain functions of a :class:`ReportContext`. The report layer renders whatever
the family hands it, adds the parts every run shares (diagnostics, sensitivity,
priors, reproducibility) and never looks estimands up by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ipsbayes.present.phrases import Effect, readable, spoken_unit
from ipsbayes.present.style import Style
from ipsbayes.present.text import RELABELLED_WORDS, choose, format_number, format_probability, percent, relabelled
from ipsbayes.textutil import NB_DEFAULT_WORDS, regular_plural

#: the families' English default words for vocabulary keys whose word is not the key itself
_DEFAULT_WORDS: dict[str, tuple[str, ...]] = {
    "specialist": ("job specialist",),
    "unit": ("participant", "observation"),
    "units": ("participants", "observations"),
}


@dataclass
class ReportContext:
    """Everything a section, figure or answer needs, and helpers to phrase it.

    Attributes
    ----------
    estimands : Dataset
        Estimands on the users' scale (sampled ones have ``chain``/``draw`` dims).
    datatree : DataTree
        The whole run (posterior, sample stats, predictive groups, sensitivity, ...).
    summary : DataFrame
        One row per estimand element (median, interval, probabilities), see ``report.tables.summarise``.
    style : Style
        Interval kind and probability, and the language.
    labels : mapping
        Readable labels for columns, levels, units and group names (``[report.labels]``).
    thresholds : mapping
        Estimand name -> practically relevant threshold on its reporting scale.
    min_cell : int
        Observed counts or rates based on fewer participants than this are never published.
    calibration : mapping or None
        What ``ipsbayes validate`` measured for this config's design (see
        :func:`ipsbayes.report.calibration.load_calibration`), when a validation run exists.
    """

    estimands: xr.Dataset
    datatree: xr.DataTree
    summary: pd.DataFrame
    style: Style
    labels: Mapping[str, str] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    min_cell: int = 5
    calibration: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        """Estimand labels in the study's words: ``[report.labels]`` over the words they were fitted with.

        The labels (``label``, ``label_<language>``) were written at fit time; a word the config
        labels (the outcome) is replaced in a copy of the estimands and in the summary, so the key
        results, tables and figures name it as the answer does (:func:`~ipsbayes.present.text.relabelled`).
        """
        if not any(self.labels.get(key) for key in RELABELLED_WORDS):
            return
        words, language = vocabulary_of(self.estimands), self.language
        key = "label" if language == "en" else f"label_{language}"
        estimands = self.estimands.copy()
        for name in estimands.data_vars:
            attrs = dict(estimands[name].attrs)
            if attrs.get(key):  # labels are written in the report's language: only its label changes
                attrs[key] = relabelled(str(attrs[key]), words, self.labels, language)
            estimands[name].attrs = attrs
        self.estimands = estimands
        if isinstance(self.summary, pd.DataFrame) and "label" in self.summary and "estimand" in self.summary:
            summary = self.summary.copy()
            summary["label"] = [
                str(estimands[name].attrs.get("label", label)) if name in estimands.data_vars else label
                for name, label in zip(summary["estimand"], summary["label"], strict=True)
            ]
            self.summary = summary

    def counted(
        self,
        n: int,
        key: str,
        singular: tuple[str, str],
        plural: tuple[str, str],
        plural_key: str | None = None,
    ) -> str:
        """``n`` things in the study's words, singular for one: "1 service", "3 schools", "1 tjeneste", "2 elever".

        Plain text (escape it where Markdown is written).

        Parameters
        ----------
        n : int
            How many.
        key : str
            The vocabulary key of the singular word (``service``, ``unit``).
        singular, plural : (str, str)
            English and Norwegian words when the study has none.
        plural_key : str, optional
            The vocabulary key of the plural (``units``); ``<key>_plural`` by default. Norwegian
            words are ``<key>_nb`` and ``<plural_key>_nb``; ``[report.labels]`` (written in the
            report's language) wins. A study word without a plural gets a regular one ("skole" ->
            "skoler", "school" -> "schools").
        """
        plural_key = plural_key or f"{key}_plural"
        vocabulary, labels, nb = self.vocabulary, self.labels, self.language == "nb"
        suffix = "_nb" if nb else ""
        word = labels.get(key) or vocabulary.get(f"{key}{suffix}")
        if not word and nb and vocabulary.get(key) and vocabulary[key] != singular[0]:
            word = vocabulary[key]  # the config's own word, as written
        if n == 1:
            return f"{n} {word or choose(self.language, *singular)}"
        many = labels.get(plural_key) or vocabulary.get(f"{plural_key}{suffix}")
        own = labels.get(key) or vocabulary.get(f"{key}{suffix}")  # a word written in the report's language
        if not many and nb and not own and vocabulary.get(plural_key) not in (None, "", plural[0]):
            many = vocabulary[plural_key]  # the config's own plural, as written
        if not many and word:
            many = regular_plural(word, self.language)
        return f"{n} {many or choose(self.language, *plural)}"

    @property
    def language(self) -> str:
        """Report language, "en" or "nb"."""
        return self.style.language

    def has(self, name: str) -> bool:
        """True when the run has estimand ``name``."""
        return name in self.estimands

    def row(self, name: str, element: str = "") -> dict[str, Any]:
        """The summary row of estimand ``name`` (and ``element`` for non-scalar ones)."""
        rows = self.summary[(self.summary["estimand"] == name) & (self.summary["element"] == element)]
        if rows.empty:
            raise KeyError(f"no summary row for estimand {name!r} element {element!r}")
        return rows.iloc[0].to_dict()

    def rows(self, name: str) -> pd.DataFrame:
        """Every summary row of estimand ``name``."""
        return self.summary[self.summary["estimand"] == name]

    def text(self, en: str, nb: str) -> str:
        """The sentence of the report's language."""
        return choose(self.language, en, nb)

    def label(self, key: str, default: str | None = None) -> str:
        """Readable label of a column, level, unit or vocabulary word, else ``default`` or a humanised ``key``.

        Looked up in ``[report.labels]`` first (written in the report's language), then in the
        vocabulary the model family stored with its estimands (``estimands.attrs["vocabulary"]``,
        JSON: e.g. the config's names for groups, treatment and control): its word in the report's
        language (``<key>_nb``) before its plain word, so reports use the words of the study that
        was fitted.
        """
        if key in self.labels:
            return str(self.labels[key])
        vocabulary = self.vocabulary
        localised = f"{key}_{self.language}"
        if self.language != "en" and vocabulary.get(localised):
            return str(vocabulary[localised])
        if key in vocabulary:
            word = str(vocabulary[key])
            # a family's own English default ("service" for service) has its bokmål form in Norwegian; a word the
            # config gave (sample = "specialist") is kept as written
            default = word.lower() in (key.replace("_", " ").lower(), *_DEFAULT_WORDS.get(key, ()))
            return NB_DEFAULT_WORDS.get(word, word) if self.language == "nb" and default else word
        return readable(key, {**vocabulary, **self.labels}, self.language, default)

    @property
    def vocabulary(self) -> dict[str, str]:
        """Words the model family stored for this study (group names, treatment and control names, units)."""
        return vocabulary_of(self.estimands)

    def number(self, value: float | None, unit: str = "") -> str:
        """A number rounded for reading, in the report's language."""
        return format_number(value, unit, self.language)

    def probability(self, value: float) -> str:
        """A posterior probability, never printed as 0.00 or 1.00."""
        return format_probability(value, language=self.language)

    def interval(self, row: Mapping[str, Any]) -> str:
        """``"a to b (90% ETI)"`` for a summary row, in the report's language."""
        unit = row["unit"]
        to = self.text("to", "til")
        return (
            f"{self.number(row['lower'], unit)} {to} {self.number(row['upper'], unit)} "
            f"({percent(self.style.prob, self.language)} {self.style.kind.upper()})"
        )

    def effect(self, name: str, **where: Any) -> Effect:
        """Posterior summary of estimand ``name`` (one element chosen by ``where``, e.g. ``contrast="age"``)."""
        values = self.estimands[name]
        if where:
            values = values.sel(where)
        unit = spoken_unit(values.attrs, self.language)
        return Effect.from_draws(values.values, self.style, unit, values.attrs.get("null", 0.0))

    def draws(self, name: str) -> np.ndarray:
        """Flat posterior draws of a scalar estimand."""
        return np.asarray(self.estimands[name].values).ravel()


SectionBuilder = Callable[[ReportContext], str]
FigureDrawer = Callable[[ReportContext], tuple[Any, str]]
Applies = Callable[[ReportContext], bool]


def vocabulary_of(estimands: xr.Dataset) -> dict[str, str]:
    """The study's own words a model family stored as JSON in ``estimands.attrs["vocabulary"]``."""
    raw = estimands.attrs.get("vocabulary", "{}")
    try:
        words = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (TypeError, ValueError):
        return {}
    return {str(k): str(v) for k, v in words.items()}


#: "digit.digit": text a Norwegian report would otherwise write with a decimal comma
_DECIMAL_LIKE = re.compile(r"\d\.\d")
#: a contrast ipsbayes labels itself: one SD or one unit of a predictor, with its size
_SHIFT_LIKE = re.compile(r"\+1 (?:SD|unit) \(")
#: how ipsbayes joins names in a coordinate: "variable: level", "high vs low", "first, second"
_CONTRAST_PARTS = re.compile(r": | vs |, ")


def verbatim_words(estimands: xr.Dataset, labels: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The study's group ids, and its levels, labels and words that look like decimals ("2.1", "ICD 10.2").

    A Norwegian report writes its numbers with decimal commas; these came from the data or the
    config and are shown exactly as written. Text coordinates of the estimands (group ids, levels)
    and the values of ``[report.labels]`` and of the family's vocabulary are collected.
    """
    found: set[str] = set()
    for coord in estimands.coords.values():
        if coord.dtype.kind in "OUS":  # the levels inside a contrast ipsbayes writes ("dx: ICD 9.5 vs ICD 10.2"),
            for value in np.ravel(coord.values):  # not its own "age: +1 SD (4.39)"
                parts = _CONTRAST_PARTS.split(str(value))
                found.update(p for p in parts if _DECIMAL_LIKE.search(p) and not _SHIFT_LIKE.search(p))
    words = [*(labels or {}).values(), *vocabulary_of(estimands).values()]
    found.update(str(w) for w in words if _DECIMAL_LIKE.search(str(w)))
    # group ids are data: "S_01" and "S 01" are two services, and neither is "S 01" in a report
    groups = {str(var.attrs["group"]) for var in estimands.data_vars.values() if var.attrs.get("group")}
    for dim in groups & {str(name) for name in estimands.coords}:
        if estimands[dim].dtype.kind in "OUS":
            found.update(str(value) for value in np.ravel(estimands[dim].values))
    return tuple(sorted(found))


def always(_: ReportContext) -> bool:
    """A section or figure every run of the family gets."""
    return True


@dataclass(frozen=True)
class Section:
    """A report section: a title and Markdown built from the numbers.

    Attributes
    ----------
    key : str
        Stable identifier (anchors, tests).
    title : callable
        ``title(ctx) -> str`` in the report's language.
    build : callable
        ``build(ctx) -> str`` Markdown; every user-controlled string in it must be escaped.
    applies : callable
        ``applies(ctx) -> bool``: whether this run gets the section.
    """

    key: str
    title: Callable[[ReportContext], str]
    build: SectionBuilder
    applies: Applies = always


@dataclass(frozen=True)
class Figure:
    """A report figure with a stable file name (``figures/<name>.png|svg``).

    Attributes
    ----------
    name : str
        File stem; stable so documents can embed it.
    title : callable
        ``title(ctx) -> str``.
    draw : callable
        ``draw(ctx) -> (matplotlib Figure, caption)``.
    applies : callable
        ``applies(ctx) -> bool``.
    """

    name: str
    title: Callable[[ReportContext], str]
    draw: FigureDrawer
    applies: Applies = always


@dataclass(frozen=True)
class Presentation:
    """Everything a model family contributes to its reports.

    Attributes
    ----------
    answer : callable or None
        ``answer(ctx) -> list[str]``: two to four plain sentences per research question, each
        computed from the posterior, shown first in the report.
    sections : tuple of Section
        Family-specific sections, in order.
    figures : tuple of Figure
        Family-specific figures, in order.
    """

    answer: Callable[[ReportContext], list[str]] | None = None
    sections: tuple[Section, ...] = ()
    figures: tuple[Figure, ...] = ()


def fixed(en: str, nb: str) -> Callable[[ReportContext], str]:
    """A title that depends only on the language."""
    return lambda ctx: ctx.text(en, nb)


__all__ = ["Figure", "Presentation", "ReportContext", "Section", "always", "fixed"]
