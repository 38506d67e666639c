"""Design matrices shared by the regression families, built by formulae (Bambi's formula engine).

:func:`parse_formula` is the compact view of a parsed formula (response, population-level
variables, grouping factors) that the competing-outcomes family uses; the full parse,
group terms included, is :func:`ipsbayes.models.formula.parse_model_formula`.
:class:`Design` evaluates a formula with `formulae` once, standardising numeric predictors
so that one prior scale fits all, and builds the counterfactual frames behind average
marginal effects; its :attr:`Design.matrices` also hold the group-specific matrices.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import formulae
import numpy as np
import pandas as pd

from ipsbayes.data import example_rows, raise_if
from ipsbayes.errors import ConfigError
from ipsbayes.models.formula import GroupBlock, ModelFormula, parse_model_formula
from ipsbayes.models.formula_functions import formula_call_problems, formula_environment
from ipsbayes.textutil import plain

_CALL_LABEL = re.compile(r"C\((\w+)[^\]]*\)\[")
#: most levels a categorical predictor may have (more: a group term, or a number read as text)
MAX_LEVELS = 100
#: share of a text column's values that parse as numbers above which it is taken for a numeric column with typos
MOSTLY_NUMBERS = 0.8


@dataclass(frozen=True)
class FormulaParts:
    """A parsed model formula (compact view).

    Attributes
    ----------
    response : str
        Outcome column.
    variables : list of str
        Columns used by the population-level terms.
    groups : list of tuple of str
        Columns of each grouping factor in order of appearance, e.g. ``[("service",), ("service", "specialist")]``.
    formula : ModelFormula
        The full parse.
    """

    response: str
    variables: list[str]
    groups: list[tuple[str, ...]]
    formula: ModelFormula

    @property
    def rhs(self) -> str:
        """The whole formula (a :class:`Design` evaluates its population-level part)."""
        return self.formula.text


def parse_formula(formula: str, where: str = "model.formula") -> tuple[FormulaParts | None, list[str]]:
    """Parse ``formula`` with formulae; return the compact parts or every problem found."""
    parsed, problems = parse_model_formula(formula, where)
    if parsed is None:
        return None, problems
    problems = []
    if parsed.trials is not None:
        problems.append(f"{where}: p(successes, trials) is not supported by this model")
    intercept_only = all(b.intercept and len(b.terms) == 1 for b in parsed.blocks)
    if not intercept_only:
        problems.append(f"{where}: this model supports group intercepts '(1 | group)' only")
    if problems:
        return None, problems
    groups = [f.columns for f in parsed.factors]
    return FormulaParts(parsed.response, parsed.common_variables, groups, parsed), []


def _pretty(label: str) -> str:
    """``C(diagnosis, Treatment('x'))[psychosis]`` -> ``diagnosis[psychosis]``."""
    return _CALL_LABEL.sub(lambda m: f"{m.group(1)}[", label)


def _readable_labels(terms: Mapping[str, Any], columns: set[str]) -> list[str]:
    """Every column label of the design's terms, a categorical one named by its data column in full.

    ``C(`grp a`)[2]`` -> ``grp a[2]``: formulae drops the backticks, and a pattern for the name stops
    at its space (both ``grp a`` and ``grp b`` became ``grp[2]``). A one-variable ``C(...)`` term is
    named by that variable; anything else (interactions) by :func:`_pretty`.
    """
    out = []
    for name, term in terms.items():
        variables = [v for v in getattr(term, "var_names", ()) if v in columns]
        for label in term.labels:
            if name.startswith("C(") and len(variables) == 1 and label.startswith(f"{name}["):
                out.append(f"{variables[0]}[{label[len(name) + 1 :]}")
            else:
                out.append(_pretty(label))
    return out


@dataclass(frozen=True)
class Contrast:
    """A counterfactual comparison behind an average marginal effect."""

    name: str
    label: str
    variable: str
    low: object
    high: object
    shift: bool = False  # numeric +1 SD shift rather than setting a value


@dataclass
class Design:
    """Population-level design matrix built by `formulae`, numeric predictors standardised.

    Parameters
    ----------
    rhs : str
        Right-hand side (population-level terms), or a whole formula ``y ~ ... + (1 | g)``: then
        formulae evaluates it once, group terms included (:attr:`matrices`), on the
        standardised frame, so varying slopes use the same scaling as the coefficients.
    frame : DataFrame
        Data on the original scale.
    standardize : bool
        Centre and scale numeric non-binary predictors by their sample SD.
    keep_raw : set of str
        Numeric columns to leave on their own scale (e.g. a fidelity score scaled elsewhere).
    drop : set of str
        Population-level terms to leave out of :meth:`matrix` (e.g. a fidelity score the model
        treats on its own).
    where : str
        The table the frame comes from, for error messages.

    Raises
    ------
    DataError
        A term of the formula is not a finite number at some rows (``np.log`` of 0, ``1 / x`` at 0),
        naming the term, its columns and the rows.
    """

    rhs: str
    frame: pd.DataFrame
    standardize: bool = True
    keep_raw: set[str] = field(default_factory=set)
    drop: set[str] = field(default_factory=set)
    where: str = "the data"
    scaling: dict[str, tuple[float, float]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        whole = self.rhs if "~" in self.rhs else f"y ~ {self.rhs}"
        if calls := formula_call_problems(whole, shown=repr(self.rhs)):
            raise ConfigError("The formula calls functions ipsbayes does not evaluate", calls)
        if "~" in self.rhs:
            parsed = parse_model_formula(self.rhs)[0]
            self.common = list(parsed.common_variables)
            variables = list(dict.fromkeys([*parsed.common_variables, *parsed.expression_variables]))
        else:
            variables = _rhs_variables(self.rhs)
            self.common = list(variables)
        self.variables = [v for v in self.common if v in self.frame.columns]
        self._inputs = [v for v in variables if v in self.frame.columns]
        self.kinds: dict[str, str] = {}
        categorical = _categorical_calls(self.rhs)
        transformed = _transformed_variables(self.rhs)
        for variable in [v for v in variables if v in self.frame.columns]:
            values = self.frame[variable]
            if (
                variable in categorical
                or pd.api.types.is_bool_dtype(values)
                or not pd.api.types.is_numeric_dtype(values)
            ):
                self.kinds[variable] = "categorical"
            elif set(pd.unique(values.dropna())) <= {0, 1}:
                self.kinds[variable] = "binary"
            else:
                self.kinds[variable] = "numeric"
                if self.standardize and variable not in self.keep_raw | transformed:
                    sd = float(values.std(ddof=0)) or 1.0
                    self.scaling[variable] = (float(values.mean()), sd)
        raise_if(self._category_problems(categorical), "The data cannot be used as they are")
        with np.errstate(divide="ignore", invalid="ignore"):  # a term outside its domain is reported below
            try:
                # formulae prints "Unexpected error while trying to evaluate a Call" before raising: the error
                # below says it in full, so its own line is kept off the user's terminal
                with contextlib.redirect_stdout(io.StringIO()):
                    self._matrices = formulae.design_matrices(
                        self.rhs, self.transform(self.frame), na_action="error", env=formula_environment()
                    )
            except (ValueError, TypeError, ArithmeticError) as exc:  # a function given arguments it cannot take
                raise ConfigError(
                    f"{self.where}: the formula's terms could not be evaluated ({type(exc).__name__}: "
                    f"{' '.join(str(exc).split())[:200]}); check each function's arguments: np.where(condition, a, "
                    "b), np.clip(x, low, high), np.round(x, decimals) with a number of decimals"
                ) from None
        common = self._matrices.common
        raw_labels = [label for term in common.terms.values() for label in term.labels]
        dropped = {label for name in self.drop if name in common.terms for label in common.terms[name].labels}
        self._keep = [i for i, label in enumerate(raw_labels) if label != "Intercept" and label not in dropped]
        pretty = _readable_labels(common.terms, set(self.frame.columns))
        self.labels = [pretty[i] for i in self._keep]
        dropped_variables = {v for name in self.drop for v in _rhs_variables(name)}
        self.variables = [v for v in self.variables if v not in dropped_variables]
        raise_if(self._non_finite_terms() + self._constant_terms(), "The data cannot be used as they are")

    def _constant_terms(self) -> list[str]:
        """Problems for terms built by a function that take one value in every row (np.clip(age, 50, 30))."""
        matrix = self.matrix()
        return [
            f"{self.where}: the formula's term '{label}' takes the same value ({matrix[0, j]:g}) in every row: it "
            "has no effect to estimate; check the function's arguments, or remove the term"
            for j, label in enumerate(self.labels)
            if "(" in label and len(matrix) > 1 and np.all(matrix[:, j] == matrix[0, j])
        ]

    def _category_problems(self, declared: set[str]) -> list[str]:
        """Problems for predictors that became categories by accident: numbers with stray text, identifiers.

        A column of numbers with a few text values ("twenty") would silently become a category with one
        coefficient per value; a column with a value per row (an id) would need thousands of
        coefficients and average marginal effects for each (the outside check ran out of 22 GB).
        """
        problems = []
        rows = len(self.frame)
        for variable, kind in self.kinds.items():
            if kind != "categorical" or variable not in self.common:
                continue
            values = self.frame[variable]
            present = values.notna()
            numeric = pd.to_numeric(values, errors="coerce").notna() & present
            text = present & ~numeric
            if variable not in declared and text.any() and numeric.sum() >= MOSTLY_NUMBERS * present.sum():
                examples = ", ".join(sorted({repr(plain(v)) for v in values[text]})[:3])
                problems.append(
                    f"{self.where}: predictor '{variable}' holds numbers but also text (e.g. {examples}) at "
                    f"{example_rows(text)}, which would make it a category with a coefficient per value; write those "
                    f"values as numbers (or leave them empty), or write C({variable}) in the formula if it is a "
                    "category on purpose"
                )
                continue
            levels = int(values.nunique(dropna=True))
            if levels > MAX_LEVELS:
                problems.append(
                    f"{self.where}: predictor '{variable}' has {levels:,} distinct values in {rows:,} rows; as a "
                    f"category it would need {levels - 1:,} coefficients (at most {MAX_LEVELS} are allowed). If it "
                    f"identifies groups (an id, a service, a municipality), write it as a group term (1 | {variable}); "
                    "if it should be a number, check the column for text"
                )
        return problems

    def _non_finite_terms(self) -> list[str]:
        """Problems for population-level terms that are not finite at some rows (a function outside its domain)."""
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(self.matrix())
        problems = []
        for j in np.flatnonzero(bad.any(axis=0)):
            label = self.labels[j]
            columns = [v for v in self._inputs if re.search(rf"\b{re.escape(v)}\b", label)] or self._inputs
            first = int(np.flatnonzero(bad[:, j])[0])
            values = ", ".join(f"{c} = {plain(self.frame[c].iloc[first])}" for c in columns)
            problems.append(
                f"{self.where}: the formula's term '{label}' is not a finite number at {example_rows(bad[:, j])} "
                f"(e.g. data row {first + 1}: {values}); change those values or the term (a function such as "
                "np.log needs values where it is defined)"
            )
        return problems

    @property
    def matrices(self) -> formulae.matrices.DesignMatrices:
        """The design matrices formulae built (``common``, ``group``, ``response``) on the standardised frame."""
        return self._matrices

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Apply the stored standardisation to a frame on the original scale; whole-number predictors as floats.

        A formula's functions then compute in floating point: on a column of whole numbers numpy kept
        64-bit integers, and ``I(age ** 20)`` wrapped around to negative values without a word (an
        outside review). The values are the same below 2**53; categories (``C(x)``) keep their type.
        """
        out = frame.copy()
        for variable, kind in self.kinds.items():
            if kind != "categorical" and variable in out and pd.api.types.is_integer_dtype(out[variable]):
                out[variable] = out[variable].astype(float)
        for variable, (mean, sd) in self.scaling.items():
            out[variable] = (out[variable] - mean) / sd
        return out

    def matrix(self, frame: pd.DataFrame | None = None) -> np.ndarray:
        """Design matrix (intercept column dropped) for ``frame`` on the original scale."""
        if frame is None:
            full = np.asarray(self._matrices.common)
        else:
            full = np.asarray(self._matrices.common.evaluate_new_data(self.transform(self._plain(frame))))
        return full[:, self._keep].astype(float)

    def _plain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The formula's columns only, text columns as Python objects.

        formulae checks a categorical column's levels with ``set(values)``, one Python step per row,
        slow for pandas' Arrow-backed text; and copying only the formula's columns saves the rest
        (150,000 rows, 12 counterfactual matrices: 2.9 s before, 1.9 s with objects, 1.1 s with both).
        """
        columns = [c for c in self._inputs if c in frame.columns]
        out = frame[columns] if columns else frame
        text = [c for c in out.columns if pd.api.types.is_string_dtype(out[c]) and out[c].dtype != object]
        return out.astype(dict.fromkeys(text, object)) if text else out

    def unscaled(self, j: int) -> bool:
        """True when column ``j`` is a numeric predictor left on its own scale (not standardised)."""
        label = self.labels[j]
        return self.kinds.get(label) == "numeric" and label not in self.scaling

    def per_words(self) -> tuple[str, str, str, str]:
        """What a coefficient and a "+1" contrast of a numeric predictor are per, in English and Norwegian.

        Returns ``(coefficient_en, coefficient_nb, shift_en, shift_nb)``: "per SD" and "+1 SD" where every
        numeric predictor is standardised, "per unit" and "+1 unit" where none is, both where some are.
        """
        numeric = [v for v in self.variables if self.kinds.get(v) == "numeric"]
        scaled = [v for v in numeric if v in self.scaling]
        if numeric and len(scaled) == len(numeric):
            return "per SD for numeric predictors", "per SD for numeriske prediktorer", "+1 SD", "+1 SD"
        if scaled:
            return (
                "per SD for standardised numeric predictors, per unit for the others",
                "per SD for standardiserte numeriske prediktorer, per enhet for de andre",
                "+1 SD where standardised, else +1 unit",
                "+1 SD der de er standardisert, ellers +1 enhet",
            )
        return "per unit of numeric predictors", "per enhet for numeriske prediktorer", "+1 unit", "+1 enhet"

    def unit_scale(self) -> np.ndarray:
        """Per column: the SD a coefficient is "per" (1 for unstandardised columns)."""
        scale = np.ones(len(self.labels))
        for j, label in enumerate(self.labels):
            if label in self.scaling:
                scale[j] = self.scaling[label][1]
        return scale

    def contrasts(self) -> list[Contrast]:
        """One counterfactual contrast per predictor (per non-reference level for categorical ones)."""
        out = []
        for variable in self.variables:
            kind = self.kinds[variable]
            if kind == "numeric":
                sd = self.scaling.get(variable, (0.0, 1.0))[1]
                unit = f"+1 SD ({sd:.3g})" if variable in self.scaling else "+1 unit"
                out.append(Contrast(f"{variable}", f"{variable}: {unit}", variable, 0.0, sd, shift=True))
            elif kind == "binary":
                out.append(Contrast(f"{variable}", f"{variable}: 1 vs 0", variable, 0, 1))
            else:
                levels = sorted(pd.unique(self.frame[variable].dropna()), key=str)
                reference = self._reference_level(variable, levels)
                for level in levels:
                    if level != reference:
                        out.append(
                            Contrast(
                                f"{variable}[{level}]",
                                f"{variable}: {level} vs {reference}",
                                variable,
                                reference,
                                level,
                            )
                        )
        return out

    def term_meanings(self) -> dict[str, dict[str, str]]:
        """What one unit of each coefficient's term is, for words about it: label -> kind and its parts.

        ``{"kind": "numeric", "per": "SD" | "unit"}`` for a number (standardised or not), ``{"kind":
        "binary"}`` for a 0/1 column (1 against 0), ``{"kind": "level", "variable", "level",
        "reference"}`` for a category's level against the reference level; other terms (interactions,
        transformations) ``{"kind": "term"}``.
        """
        out: dict[str, dict[str, str]] = {label: {"kind": "term"} for label in self.labels}
        for contrast in self.contrasts():
            if contrast.name not in out:
                continue
            kind = self.kinds[contrast.variable]
            if kind == "numeric":
                out[contrast.name] = {"kind": "numeric", "per": "SD" if contrast.variable in self.scaling else "unit"}
            elif kind == "binary":
                out[contrast.name] = {"kind": "binary"}
            else:
                out[contrast.name] = {
                    "kind": "level",
                    "variable": contrast.variable,
                    "level": str(contrast.high),
                    "reference": str(contrast.low),
                }
        return out

    def _reference_level(self, variable: str, levels: list[object]) -> object:
        """The level whose main-effect indicator columns are all zero."""
        sample = self.frame.iloc[:1].copy()
        columns = [j for j, label in enumerate(self.labels) if label.startswith(f"{variable}[")]
        for level in levels:
            sample[variable] = level
            if not np.any(self.matrix(sample)[0, columns]):
                return level
        return levels[0]

    def counterfactual(self, frame: pd.DataFrame, contrast: Contrast) -> tuple[np.ndarray, np.ndarray]:
        """Design matrices with ``contrast.variable`` at its low and high values for every row."""
        low, high = self.counterfactual_frames(frame, contrast)
        return self.matrix(low), self.matrix(high)

    def counterfactual_frames(self, frame: pd.DataFrame, contrast: Contrast) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``frame`` with ``contrast.variable`` at its low and at its high value for every row."""
        low, high = frame.copy(), frame.copy()
        if contrast.shift:
            high[contrast.variable] = high[contrast.variable] + float(contrast.high)
        else:
            low[contrast.variable] = contrast.low
            high[contrast.variable] = contrast.high
        return low, high

    def slope_values(self, frame: pd.DataFrame, block: GroupBlock) -> np.ndarray:
        """A group block's values (``x`` of ``(x | g)``) at ``frame``'s rows (original scale), standardised as fitted.

        The same columns as the fit's ``<effect>_x`` array (:func:`ipsbayes.models.groups.block_values`),
        for a counterfactual ``x``.
        """
        from ipsbayes.models.groups import block_values

        return block_values(self._matrices.group, block, self.transform(frame))[1]


def _categorical_calls(formula: str) -> set[str]:
    """Columns used inside ``C(...)``: categorical whatever their dtype (never standardised)."""
    try:
        description = formulae.model_description(formula)
    except Exception:  # the caller's own parse reports formula problems
        return set()
    out = set()
    for term in description.common_terms:
        for component in getattr(term, "components", []):
            call = getattr(component, "call", None)
            if getattr(call, "callee", None) == "C" and call.args:
                out.add(getattr(call.args[0], "name", None))
    return out - {None}


def _transformed_variables(formula: str) -> set[str]:
    """Columns used inside a call other than ``C(...)`` (``np.log(age)``, ``I(age**2)``): never standardised.

    The formula's function applies to the column as the user knows it; standardising first would
    change the model (``np.log`` of a centred age is undefined for half the rows; ``I(age**2)`` of a
    standardised age is another curve).
    """
    try:
        description = formulae.model_description(formula)
    except Exception:  # the caller's own parse reports formula problems
        return set()
    out: set[str] = set()
    for term in description.common_terms:
        for component in getattr(term, "components", []):
            call = getattr(component, "call", None)
            if call is not None and getattr(call, "callee", None) != "C":
                out |= set(getattr(component, "var_names", ()))
    return out - {""}


def _rhs_variables(rhs: str) -> list[str]:
    """Columns used by a right-hand side of population-level terms."""
    if not rhs.strip() or rhs.strip() == "1":
        return []
    out: list[str] = []
    for term in formulae.model_description(rhs).common_terms:
        out += [v for v in sorted(getattr(term, "var_names", set())) if v and v not in out]
    return out
