"""Formula handling shared by the regression families.

A model formula is written as in lme4/brms/Bambi::

    work_or_education_12m ~ age + gender + diagnosis + fidelity + (1 | service) + (1 | service:specialist)

:func:`parse_formula` splits it into the response, the population-level
right-hand side and the group-intercept terms. :class:`Design` turns the
right-hand side into a design matrix with `formulae` (Bambi's formula engine),
standardising numeric predictors so that one prior scale fits all, and builds
the counterfactual frames behind average marginal effects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import formulae
import numpy as np
import pandas as pd

_GROUP_TERM = re.compile(r"\(\s*([^()|]*?)\s*\|\s*([^()]*?)\s*\)")
_CALL_LABEL = re.compile(r"C\((\w+)[^\]]*\)\[")


@dataclass(frozen=True)
class FormulaParts:
    """A parsed model formula.

    Attributes
    ----------
    response : str
        Outcome column.
    rhs : str
        Population-level terms, without group terms (intercept implied).
    variables : list of str
        Columns used by the population-level terms.
    groups : list of tuple of str
        Group-intercept factors in order of appearance, e.g. ``[("service",), ("service", "specialist")]``.
    """

    response: str
    rhs: str
    variables: list[str]
    groups: list[tuple[str, ...]]


def parse_formula(formula: str, where: str = "model.formula") -> tuple[FormulaParts | None, list[str]]:
    """Parse ``formula``; return the parts or every problem found."""
    if "~" not in formula:
        return None, [f"{where}: formula must look like 'outcome ~ x1 + x2 + (1 | service)', got {formula!r}"]
    problems = []
    groups = []
    for expr, factor in _GROUP_TERM.findall(formula):
        if expr.strip() != "1":
            problems.append(
                f"{where}: group term '({expr} | {factor})': only group intercepts '(1 | group)' are supported"
            )
        groups.append(tuple(part.strip() for part in factor.split(":")))
    rhs_text = _GROUP_TERM.sub("", formula.split("~", 1)[1])
    rhs_text = re.sub(r"\+\s*(?=\+|$)", "", re.sub(r"^\s*\+", "", rhs_text.strip())).strip()
    rhs_text = re.sub(r"\s*\+\s*\+\s*", " + ", rhs_text).strip(" +") or "1"
    try:
        description = formulae.model_description(f"{formula.split('~', 1)[0]} ~ {rhs_text}")
    except Exception as exc:  # formulae raises several parser error types
        return None, [f"{where}: cannot parse formula {formula!r}: {exc}"]
    response_vars = sorted(description.response.var_names) if description.response else []
    if len(response_vars) != 1:
        problems.append(f"{where}: the formula needs exactly one outcome column on the left of '~'")
    variables: list[str] = []
    has_intercept = False
    for term in description.common_terms:
        names = sorted(v for v in term.var_names if v)
        if not names:
            has_intercept = True
        variables += [n for n in names if n not in variables]
    if not has_intercept:
        problems.append(f"{where}: the intercept cannot be removed (no '0 +' or '- 1')")
    if problems:
        return None, problems
    return FormulaParts(response_vars[0], rhs_text, variables, groups), []


def _pretty(label: str) -> str:
    """``C(diagnosis, Treatment('x'))[psychosis]`` -> ``diagnosis[psychosis]``."""
    return _CALL_LABEL.sub(lambda m: f"{m.group(1)}[", label)


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
        Right-hand side (population-level terms) of the formula.
    frame : DataFrame
        Data on the original scale.
    standardize : bool
        Centre and scale numeric non-binary predictors by their sample SD.
    keep_raw : set of str
        Numeric columns to leave on their own scale (e.g. a fidelity score scaled elsewhere).
    """

    rhs: str
    frame: pd.DataFrame
    standardize: bool = True
    keep_raw: set[str] = field(default_factory=set)
    scaling: dict[str, tuple[float, float]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        variables = parse_formula(f"y ~ {self.rhs}")[0].variables if self.rhs != "1" else []
        self.variables = [v for v in variables if v in self.frame.columns]
        self.kinds: dict[str, str] = {}
        for variable in self.variables:
            values = self.frame[variable]
            if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
                self.kinds[variable] = "categorical"
            elif set(pd.unique(values.dropna())) <= {0, 1}:
                self.kinds[variable] = "binary"
            else:
                self.kinds[variable] = "numeric"
                if self.standardize and variable not in self.keep_raw:
                    sd = float(values.std(ddof=0)) or 1.0
                    self.scaling[variable] = (float(values.mean()), sd)
        self._matrices = formulae.design_matrices(self.rhs, self.transform(self.frame), na_action="error")
        raw_labels = [label for term in self._matrices.common.terms.values() for label in term.labels]
        self._keep = [i for i, label in enumerate(raw_labels) if label != "Intercept"]
        self.labels = [_pretty(raw_labels[i]) for i in self._keep]

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Apply the stored standardisation to a frame on the original scale."""
        out = frame.copy()
        for variable, (mean, sd) in self.scaling.items():
            out[variable] = (out[variable] - mean) / sd
        return out

    def matrix(self, frame: pd.DataFrame | None = None) -> np.ndarray:
        """Design matrix (intercept column dropped) for ``frame`` on the original scale."""
        if frame is None:
            full = np.asarray(self._matrices.common)
        else:
            full = np.asarray(self._matrices.common.evaluate_new_data(self.transform(frame)))
        return full[:, self._keep].astype(float)

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
        low, high = frame.copy(), frame.copy()
        if contrast.shift:
            high[contrast.variable] = high[contrast.variable] + float(contrast.high)
        else:
            low[contrast.variable] = contrast.low
            high[contrast.variable] = contrast.high
        return self.matrix(low), self.matrix(high)


def split_terms(rhs: str) -> list[str]:
    """Split a right-hand side on top-level ``+`` (not inside parentheses)."""
    terms, depth, current = [], 0, []
    for char in rhs:
        depth += char == "("
        depth -= char == ")"
        if char == "+" and depth == 0:
            terms.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    terms.append("".join(current).strip())
    return [t for t in terms if t and t != "1"]
