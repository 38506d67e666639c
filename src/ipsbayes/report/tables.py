"""Estimand summaries: one row per estimand (and element), interval kind stated.

Intervals come from ArviZ (``eti`` or ``hdi``) at the configured probability;
``P(> null)`` is the posterior probability that an effect is above its "no
effect" value (0 for differences, 1 for ratios) and ``P(> threshold)`` the
probability that it exceeds the threshold set in ``report.thresholds``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from ipsbayes.present.context import verbatim_words, vocabulary_of
from ipsbayes.present.phrases import amount, readable
from ipsbayes.present.text import (
    choose,
    equals_probability,
    format_number,
    interval_name,
    label_of,
    localise,
    percent,
    shared_decimals,
    unit_of,
)
from ipsbayes.textutil import control_pictures

SAMPLE_DIMS = ("chain", "draw")


def sampled_variables(estimands: xr.Dataset) -> list[str]:
    """Names of estimands that carry posterior draws (not reference data)."""
    return [name for name, var in estimands.data_vars.items() if set(SAMPLE_DIMS) <= set(var.dims)]


def summarise(
    estimands: xr.Dataset, interval_kind: str, interval_prob: float, thresholds: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Summarise every sampled estimand on its reporting scale.

    Parameters
    ----------
    estimands : Dataset
        Output of a family's ``estimands`` (variables with ``chain``/``draw`` dims are summarised).
    interval_kind : {"eti", "hdi"}
        Equal-tailed or highest-density interval.
    interval_prob : float
        Interval probability, e.g. 0.9.
    thresholds : mapping, optional
        Estimand name -> threshold; adds ``P(> threshold)``.

    Returns
    -------
    DataFrame
        Columns: estimand, element, label, unit, mean, median, sd, lower, upper,
        interval, p_above_null, null, threshold, p_above_threshold, headline.
    """
    thresholds = dict(thresholds or {})
    # an alias (another name for an estimand, kept for older scripts) would be a second row with the same numbers
    names = [n for n in sampled_variables(estimands) if "alias_of" not in estimands[n].attrs]
    data = estimands[names]
    func = az.hdi if interval_kind == "hdi" else az.eti
    bounds = func(data, prob=interval_prob, dim=list(SAMPLE_DIMS))
    means, medians, sds = data.mean(SAMPLE_DIMS), data.median(SAMPLE_DIMS), data.std(SAMPLE_DIMS)
    interval = interval_name(interval_kind, interval_prob)
    rows = []
    for name in names:
        var = estimands[name]
        extra_dims = [d for d in var.dims if d not in SAMPLE_DIMS]
        null = var.attrs.get("null")
        # an element of a vector estimand (ipsbayes.compared) takes its estimand's threshold
        threshold = thresholds.get(name, thresholds.get(str(var.attrs.get("element_of", ""))))
        # numpy in the elements' stacking order (the first extra dim slowest), not one .sel per number
        flat = functools.partial(_flat, dims=extra_dims)
        draws = var.transpose(*SAMPLE_DIMS, *extra_dims).values.reshape(-1, max(1, flat(medians[name]).size))
        lower, upper = (flat(bounds[name].sel(ci_bound=bound)) for bound in ("lower", "upper"))
        mean, median, sd = flat(means[name]), flat(medians[name]), flat(sds[name])
        for i, element in enumerate(_elements(var, extra_dims)):
            column = draws[:, i]
            rows.append(
                {
                    "estimand": name,
                    "element": ", ".join(_element_text(v) for v in element.values()) if element else "",
                    "label": var.attrs.get("label", name),
                    "unit": var.attrs.get("unit", ""),
                    "mean": float(mean[i]),
                    "median": float(median[i]),
                    "sd": float(sd[i]),
                    "lower": float(lower[i]),
                    "upper": float(upper[i]),
                    "interval": interval,
                    "null": null,
                    "p_above_null": float(np.mean(column > null)) if null is not None else np.nan,
                    "threshold": threshold,
                    "p_above_threshold": float(np.mean(column > threshold)) if threshold is not None else np.nan,
                    **_beyond(column, null, threshold),
                    "headline": bool(var.attrs.get("headline", False)),
                }
            )
    return pd.DataFrame(rows)


def _beyond(draws: np.ndarray, null: float | None, threshold: float | None) -> dict[str, object]:
    """Probability of a change beyond ``threshold`` in the direction of the median (the direction that matters).

    ``p_above_threshold`` alone prints "P(> 5) = 0.00" for a clearly negative effect; here a
    median below the null gives ``P(< null - threshold)`` with direction "below" (reports show it
    beside the ``P(> threshold)`` the config asked for). A level without a null (an expected rate)
    has no direction of change: its threshold is read as stated, ``P(> threshold)``.
    """
    if threshold is None:
        return {"threshold_direction": "", "p_beyond_threshold": np.nan}
    if null is None:
        return {"threshold_direction": "above", "p_beyond_threshold": float(np.mean(draws > threshold))}
    below = float(np.median(draws)) < null
    if below:
        return {
            "threshold_direction": "below",
            "p_beyond_threshold": float(np.mean(draws < null - abs(threshold - null))),
        }
    return {"threshold_direction": "above", "p_beyond_threshold": float(np.mean(draws > threshold))}


def _flat(summary: xr.DataArray, dims: list[str]) -> np.ndarray:
    """A per-element summary as a flat array, in the order :func:`_elements` lists the elements."""
    return np.atleast_1d(summary.transpose(*dims).values).reshape(-1)


def _element_text(value: object) -> str:
    """A coordinate value as people write it: grid values like 62.06666666666667 rounded to 4 significant digits."""
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    return str(value)


def _elements(var: xr.DataArray, dims: list[str]) -> list[dict]:
    """Every coordinate combination of the non-sample dims (``[{}]`` for scalars)."""
    if not dims:
        return [{}]
    stacked = var.isel(chain=0, draw=0).stack(__element__=dims)
    return [{d: stacked[d].values[i] for d in dims} for i in range(stacked.sizes["__element__"])]


#: a label that ends in a preposition leads into its element ("within" 6 months, "innen" 6 måneder)
_LEADS_IN = re.compile(r"\b(?:within|by|at|after|before|innen|etter|ved|før)$")


def sentence(row: Mapping, interval_prob: float, interval_kind: str, language: str = "en") -> str:
    """One plain-language line for a headline estimand, probabilities in the direction of its median."""
    unit = row["unit"]
    element = row["element"]
    # "Share ... within" + "6 months" reads as one phrase; other elements stand in brackets after the label
    label = row["label"] + ((f" {element}" if _LEADS_IN.search(row["label"]) else f" [{element}]") if element else "")
    to = choose(language, "to", "til")
    decimals = shared_decimals([row["median"], row["lower"], row["upper"]], unit)  # one rounding for the three
    text = (
        f"{label}: {amount(row['median'], unit, language, decimals)} "
        f"({percent(interval_prob, language)} {interval_kind.upper()} "
        f"{format_number(row['lower'], unit, language, decimals)} {to} "
        f"{amount(row['upper'], unit, language, decimals)})"
    )
    probabilities = []
    null = row["null"]
    if null is not None and not np.isnan(row["p_above_null"]):
        above = row["median"] >= null
        # 1 - 0.445 is 0.5549999...: rounded off, the complement prints as the share of draws below does (0.56)
        p = row["p_above_null"] if above else round(1 - row["p_above_null"], 12)
        probabilities.append(f"P({'>' if above else '<'} {localise(f'{null:g}', language)}){_equals(p, language)}")
    beyond = row.get("p_beyond_threshold", np.nan)
    if row["threshold"] is not None and beyond is not None and not np.isnan(beyond):
        threshold = localise(f"{row['threshold']:g}", language)
        probabilities.append(f"P(> {threshold}){_equals(row['p_above_threshold'], language)}")
        if row.get("threshold_direction") == "below":  # and the same distance on the median's side
            bound = (null or 0.0) - abs(row["threshold"] - (null or 0.0))
            probabilities.append(f"P(< {localise(f'{bound:g}', language)}){_equals(beyond, language)}")
    return text + (f"; {'; '.join(probabilities)}" if probabilities else "") + "."


#: what each column of summary.csv means, in English and Norwegian (sidecar file and XLSX sheet)
COLUMNS: dict[str, tuple[str, str, str]] = {
    # column: (Norwegian header, meaning in English, meaning in Norwegian)
    "analysis": (
        "analyse",
        "main fit, other prior set or model variant",
        "hovedanalyse, annet priorsett eller modellvariant",
    ),
    "estimand": ("størrelse", "estimand name (stable, for code)", "navn på størrelsen (stabilt, for kode)"),
    "element": ("element", "element of a vector estimand (e.g. a group)", "element i en vektor (f.eks. en gruppe)"),
    "label": ("beskrivelse", "what the estimand is", "hva størrelsen er"),
    "unit": (
        "enhet",
        "unit: % , pp (percentage points), months, ratio, ...",
        "enhet: %, pp (prosentpoeng), måneder, ...",
    ),
    "mean": ("gjennomsnitt", "posterior mean", "posterior gjennomsnitt"),
    "median": ("median", "posterior median", "posterior median"),
    "sd": ("sd", "posterior standard deviation", "posterior standardavvik"),
    "lower": ("nedre", "lower bound of the interval named in 'interval'", "nedre grense for intervallet i 'intervall'"),
    "upper": ("øvre", "upper bound of the interval named in 'interval'", "øvre grense for intervallet i 'intervall'"),
    "interval": ("intervall", "interval kind and probability", "intervalltype og sannsynlighet"),
    "null": (
        "nullverdi",
        "no-effect value (0 for differences, 1 for ratios)",
        "verdi uten effekt (0 for differanser, 1 for forhold)",
    ),
    "p_above_null": (
        "p_over_null",
        "posterior probability that the estimand exceeds its no-effect value",
        "posterior-sannsynlighet for at størrelsen er over nullverdien",
    ),
    "threshold": (
        "terskel",
        "practically relevant threshold (report.thresholds)",
        "praktisk relevant terskel (report.thresholds)",
    ),
    "p_above_threshold": (
        "p_over_terskel",
        "posterior probability that the estimand exceeds the threshold",
        "posterior-sannsynlighet for at størrelsen er over terskelen",
    ),
    "threshold_direction": (
        "terskelretning",
        "side of the threshold in the direction of the median (above / below)",
        "siden av terskelen i medianens retning (over / under)",
    ),
    "p_beyond_threshold": (
        "p_forbi_terskel",
        "posterior probability of lying beyond the threshold on that side",
        "posterior-sannsynlighet for å ligge forbi terskelen på den siden",
    ),
    "headline": ("hovedresultat", "shown among the key results", "vist blant hovedresultatene"),
    "prior": (
        "prior",
        "power-scaling sensitivity to the prior (>= 0.05 flags it)",
        "følsomhet for prioren (>= 0,05 markerer)",
    ),
    "likelihood": ("likelihood", "power-scaling sensitivity to the likelihood", "følsomhet for likelihooden"),
    "diagnosis": ("diagnose", "ArviZ's reading of the two sensitivities", "ArviZ' tolkning av de to følsomhetene"),
}


def csv_text(table: pd.DataFrame) -> str:
    """CSV for code and English-locale spreadsheets: comma separator, decimal point, no comment lines.

    The interval kind and probability are in the ``interval`` column of every row; what each
    column means is in ``summary_columns.csv`` and the ``columns`` sheet of ``summary.xlsx``.
    Text that a spreadsheet would run as a formula is written as text (:func:`spreadsheet_safe`).
    """
    return spreadsheet_safe(table).to_csv(index=False, lineterminator="\n", float_format="%.6g")


#: a cell starting with one of these is a formula (or a DDE call) to a spreadsheet that opens the CSV
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with each text cell (and header) that starts like a formula prefixed by ``'`` (OWASP's rule).

    A group named ``=HYPERLINK("http://...")`` in the data would otherwise run when the CSV is opened
    in a spreadsheet. Numbers are not text and keep their sign; the table passed in is not changed.
    """

    def safe(value: object) -> object:
        return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value

    return map_text_cells(table, safe)


def map_text_cells(table: pd.DataFrame, change: Callable[[object], object]) -> pd.DataFrame:
    """A copy of ``table`` with ``change`` applied to its headers and to every cell of its non-numeric columns."""
    table = table.rename(columns=change)
    for position, kind in enumerate(table.dtypes):
        if not (pd.api.types.is_numeric_dtype(kind) or pd.api.types.is_bool_dtype(kind)):
            table.isetitem(position, table.iloc[:, position].map(change))
    return table


def _equals(p: float, language: str) -> str:
    """`` = 0.88`` or, at the resolution limit, `` > 0.99`` (never ``= > 0.99``)."""
    return equals_probability(p, language)


def csv_with_header(table: pd.DataFrame, interval_kind: str, interval_prob: float) -> str:
    """CSV text with the interval kind and probability in an ``interval`` column (no ``#`` comment lines)."""
    if "interval" not in table.columns:
        table = table.assign(interval=interval_name(interval_kind, interval_prob))
    return csv_text(table)


#: an interval as :func:`interval_name` writes it in English
_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)% (?:equal-tailed|highest-density) interval \((ETI|HDI)\)$")
#: words in text columns meant for readers
_NB_WORDS = {"above": "over", "below": "under"}


def _interval_nb(text: object) -> object:
    match = _INTERVAL.match(text) if isinstance(text, str) else None
    if not match:
        return text
    return interval_name(match.group(2).lower(), float(match.group(1)) / 100, "nb")


def _element_nb(text: object, words: Mapping[str, str]) -> object:
    """A summary element for Norwegian readers, coordinate by coordinate (:func:`~ipsbayes.present.phrases.readable`).

    The study's Norwegian words (``<name>_nb``), its own ids as written, months in Norwegian and decimal commas.
    """
    return readable(text, words, "nb") if isinstance(text, str) and text else text


def labelled(
    table: pd.DataFrame, estimands: xr.Dataset, language: str, labels: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """``table`` with its ``label`` and ``unit`` columns in ``language`` (``label_nb``, ``unit_nb`` in Norwegian).

    Rows whose estimand is unknown, or was written before estimands carried ``label_nb``, keep
    the English label; unit codes without a Norwegian name (%, pp, OR) stay as they are;
    ``summary.csv`` itself always keeps the English labels and unit codes. The family's
    vocabulary goes with the table (``table.attrs["words"]``) for :func:`norwegian`, with ``labels``
    (``[report.labels]`` when they are written in ``language``) before it: ``treat: ja mot nei`` reads
    ``oppfølgingsteam: ja mot nei``.
    """
    if language == "en" or "label" not in table or "estimand" not in table:
        return table
    table = table.copy()
    words = vocabulary_of(estimands) | {w: w for w in verbatim_words(estimands)} | dict(labels or {})  # "2.1" as is
    table.attrs["words"] = words

    def label_in(name: str, label: str) -> str:  # an estimand, or one element of it ("category_share[work]")
        if name in estimands.data_vars:
            return label_of(estimands[name].attrs, language, label)
        base, bracket, element = name.partition("[")
        if bracket and base in estimands.data_vars:
            return f"{label_of(estimands[base].attrs, language, label)}: {readable(element[:-1], words, language)}"
        return label

    known = [name in estimands.data_vars for name in table["estimand"]]
    table["label"] = [label_in(str(name), label) for name, label in zip(table["estimand"], table["label"], strict=True)]
    if "unit" in table:
        table["unit"] = [
            unit_of(estimands[name].attrs, language) if ok else unit_of({"unit": unit}, language)
            for name, unit, ok in zip(table["estimand"], table["unit"], known, strict=True)
        ]
    return table


#: ArviZ psense diagnosis -> (English, Norwegian) words for the report
DIAGNOSES = {
    "potential prior-data conflict": ("potential prior-data conflict", "mulig konflikt mellom prior og data"),
    "potential strong prior / weak likelihood": (
        "prior-dominated (strong prior or weak likelihood)",
        "prioren dominerer (sterk prior eller svak likelihood)",
    ),
    "✓": ("no sensitivity flagged", "ingen følsomhet påvist"),
}


def norwegian(table: pd.DataFrame) -> pd.DataFrame:
    """The table for Norwegian readers: Norwegian headers, and reader text in Norwegian.

    Unknown columns keep their name; interval names, booleans (ja/nei), threshold directions
    (over/under) and elements (the study's Norwegian words from ``table.attrs["words"]``, see
    :func:`labelled`, months, decimal commas) are translated. The estimand names stay as they are,
    so a script can join the two files.
    """
    words = dict(table.attrs.get("words", {}))
    table = table.copy()
    for column in table.columns:
        values = table[column]
        if values.dtype == bool:
            table[column] = values.map({True: "ja", False: "nei"})
    if "interval" in table:
        table["interval"] = table["interval"].map(_interval_nb)
    if "threshold_direction" in table:
        table["threshold_direction"] = table["threshold_direction"].map(lambda v: _NB_WORDS.get(v, v))
    if "element" in table:
        table["element"] = table["element"].map(lambda v: _element_nb(v, words))
    if "diagnosis" in table:  # ArviZ's power-scaling diagnosis, in the report's Norwegian words
        table["diagnosis"] = table["diagnosis"].map(lambda v: DIAGNOSES.get(v, (v, v))[1])
    return table.rename(columns={c: COLUMNS[c][0] for c in table.columns if c in COLUMNS})


def csv_nb(table: pd.DataFrame) -> bytes:
    """CSV that Excel in a Norwegian locale opens correctly: ``;`` separator, decimal comma, UTF-8 with BOM."""
    text = spreadsheet_safe(norwegian(table)).to_csv(
        index=False, sep=";", decimal=",", lineterminator="\r\n", float_format="%.6g"
    )
    return ("\ufeff" + text).encode("utf-8")


def columns_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per column of ``table``: its name, Norwegian header and meaning in both languages."""
    rows = [
        {"column": c, "kolonne": COLUMNS[c][0], "meaning": COLUMNS[c][1], "betydning": COLUMNS[c][2]}
        for c in table.columns
        if c in COLUMNS
    ]
    return pd.DataFrame(rows)


def worksheet_text(value: object) -> object:
    """``value`` with each control character a worksheet cannot hold shown as its picture (:func:`control_pictures`).

    A group name or label read from the data may hold one; openpyxl refuses such a cell, which
    stopped a run after sampling. The CSV files keep the characters as the data gave them.
    """
    return control_pictures(value) if isinstance(value, str) else value


def write_xlsx(path: Path, sheets: Mapping[str, pd.DataFrame]) -> None:
    """Write ``sheets`` (name -> table) to one XLSX workbook: numbers stay numbers in any locale."""
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame = map_text_cells(frame, worksheet_text)
            frame.to_excel(writer, sheet_name=name[:31], index=False)
            sheet = writer.sheets[name[:31]]
            for row in sheet.iter_rows():  # openpyxl makes text starting with "=" a formula: keep it text
                for cell in row:
                    if cell.data_type == "f":
                        cell.data_type = "s"
            sheet.freeze_panes = "A2"
            for column in sheet.columns:
                width = max(len(str(cell.value)) if cell.value is not None else 0 for cell in column[:200])
                sheet.column_dimensions[column[0].column_letter].width = min(60, max(8, width + 1))


def sensitivity_table(
    sensitivity: xr.Dataset, interval_kind: str, interval_prob: float, thresholds: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Summaries of the compared estimands, one block of rows per analysis (main fit, prior sets, variants)."""
    frames = []
    for analysis in sensitivity["analysis"].values:
        block = summarise(sensitivity.sel(analysis=analysis), interval_kind, interval_prob, thresholds)
        frames.append(block.assign(analysis=str(analysis)))
    table = pd.concat(frames, ignore_index=True)
    return table[["analysis", *[c for c in table.columns if c != "analysis"]]]


def power_scaling_table(power: xr.Dataset) -> pd.DataFrame:
    """Power-scaling sensitivity per estimand (prior, likelihood, ArviZ's diagnosis)."""
    return power.to_dataframe().reset_index()
