"""Group structure of a multilevel model: index arrays, varying-slope columns, centring and collapsing.

formulae evaluates every group-specific term ``expr | factor`` as a sparse matrix
``Z = X_expr (row-wise Kronecker) J_factor`` (Bambi then multiplies ``Z`` by the stacked
effects). Here the same information is kept in the form that is cheaper to
differentiate: each grouping factor becomes one integer index per row (its group),
and each block of varying slopes an ``(n, k)`` matrix of the expression's values,
so the linear predictor gathers ``effect[idx]`` instead of a sparse product (the
speed study found gathers no slower than any alternative, issue 15's speed study).

Interaction factors (``region:school``) are evaluated by formulae over every
combination of levels; only combinations that occur in the data become groups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ipsbayes.models.base import ModelData, natural_key
from ipsbayes.models.formula import GroupBlock, GroupFactor, ModelFormula
from ipsbayes.models.pooling import Parameterisation, choose_centred, split_arrays
from ipsbayes.resources import available_memory, human_bytes


@dataclass(frozen=True)
class BlockInfo:
    """A group block as the graph and the estimands need it.

    Attributes
    ----------
    block : GroupBlock
        The parsed block.
    columns : list of str
        Labels of its coefficients (``Intercept``, ``days``, ``c[v]``).
    x_key : str or None
        Array holding the ``(n, k)`` expression values; None for a plain group intercept.
    """

    block: GroupBlock
    columns: list[str]
    x_key: str | None

    @property
    def k(self) -> int:
        """Number of coefficients per group."""
        return len(self.columns)

    @property
    def intercept_only(self) -> bool:
        """A plain group intercept ``(1 | g)``."""
        return self.x_key is None

    @property
    def dim(self) -> str:
        """The grouping factor's dim."""
        return self.block.factor.name


def idx_key(factor: GroupFactor) -> str:
    """Name of the array holding each row's group of ``factor``."""
    return f"{factor.name}_idx"


def group_arrays(
    matrices: Any, formula: ModelFormula
) -> tuple[dict[str, np.ndarray], dict[str, list[str]], list[BlockInfo]]:
    """Index arrays, expression matrices, coords and block descriptions from formulae's group matrices."""
    group = matrices.group
    arrays: dict[str, np.ndarray] = {}
    coords: dict[str, list[str]] = {}
    for factor in formula.factors:
        term = next(group.terms[name] for block in formula.blocks_of(factor) for name in block.terms)
        product = np.asarray(term.factor.data)
        codes = product.argmax(axis=1) if product.ndim == 2 else product.astype(np.int64)
        labels = np.asarray(term.groups, dtype=object)
        used = np.unique(codes)
        names = sorted((str(labels[c]) for c in used), key=natural_key)
        position = {name: j for j, name in enumerate(names)}
        arrays[idx_key(factor)] = np.array([position[str(labels[c])] for c in codes], dtype=np.int64)
        coords[factor.name] = names
    blocks: list[BlockInfo] = []
    effects = {b.effect_name for b in formula.blocks}
    for block in formula.blocks:
        columns, stacked = block_values(group, block)
        if block.intercept and len(block.terms) == 1:
            blocks.append(BlockInfo(block, columns, None))
            continue
        key = f"{block.effect_name}_x"
        if key in effects:  # (1 + t | g) + (0 + x | g): the second block's effects are g_effect_x themselves
            key = f"{block.effect_name}__x"  # a block suffix never starts with "_"
        arrays[key] = stacked
        if len(columns) > 1:
            coords[block.coef_dim] = columns
            coords[f"{block.coef_dim}_bis"] = columns
            coords[f"{block.coef_dim}_chol"] = [str(i) for i in range(len(columns) * (len(columns) + 1) // 2)]
        blocks.append(BlockInfo(block, columns, key))
    return arrays, coords, blocks


#: families in which a group effect on every row of its own is not identified (lme4 refuses it for all models:
#: "number of levels of each grouping factor must be < number of observations"); binomial and beta-binomial rows
#: with trials may carry an observation-level effect (overdispersion)
NO_ROW_LEVEL_EFFECTS = ("gaussian", "student_t", "bernoulli")


def group_level_problems(
    arrays: dict[str, np.ndarray], coords: dict[str, list[str]], formula: ModelFormula, family: str, where: str
) -> list[str]:
    """Group terms the data cannot estimate: a factor with one group, or one group per row where that is not identified.

    Each problem names the factor's columns, the term and what would be valid.
    """
    problems = []
    n_rows = len(next(iter(arrays.values()))) if arrays else 0
    for factor in formula.factors:
        levels = coords.get(factor.name, [])
        columns = ":".join(factor.columns)
        if len(levels) == 1:
            problems.append(_one_group(where, columns, levels[0]))
        elif family in NO_ROW_LEVEL_EFFECTS and n_rows > 1 and len(levels) >= n_rows:
            problems.append(_group_per_row(where, columns, len(levels), n_rows, family))
    return problems


def _one_group(where: str, columns: str, level: str) -> str:
    """The problem of a group term whose rows all sit in one group."""
    return (
        f"{where}: every row is in one group of '{columns}' ({level}); a group term estimates how groups differ "
        f"and needs at least two: remove the '| {columns}' term from model.formula, or add data from other groups"
    )


def _group_per_row(where: str, columns: str, groups: int, n_rows: int, family: str) -> str:
    """The problem of a group term with a group per row, where the family cannot tell it from the rows' noise."""
    return (
        f"{where}: every row is a group of its own in '{columns}' ({groups:,} groups for {n_rows:,} rows); a "
        f"{family.replace('_', '-')} model cannot tell such group effects apart from the rows' own variation: remove "
        f"the '| {columns}' term, or, for overdispersed counts out of trials, use family = \"binomial\" or "
        '"beta_binomial" with p(successes, trials)'
    )


#: copies of one factor's group matrix formulae holds while building it (measured peak: about 3 x 8 bytes a cell)
GROUP_MATRIX_COPIES = 3
#: the memory a group matrix may take where the available memory cannot be read
MAX_GROUP_BYTES = 16 * 10**9


def group_term_precheck(frame: Any, formula: ModelFormula, family: str, where: str) -> list[str]:
    """The problems of :func:`group_level_problems`, and group matrices too large to build, from the data alone.

    Run before formulae builds the group matrices: a factor with one group, or one group per row where
    that is not identified, is found by counting the combinations the rows hold. formulae builds a
    column for every combination of an interaction's levels, observed or not
    (``service:specialist:participant_id`` asked for tens of gigabytes and the check was killed): a
    factor whose matrix would not fit in the available memory is refused, and the message says how
    to write it as one column.
    """
    problems = []
    n_rows = len(frame)
    for factor in formula.factors:
        columns = [c for c in factor.columns if c in frame.columns]
        if len(columns) != len(factor.columns) or n_rows == 0:
            continue
        shown = ":".join(factor.columns)
        observed = len(frame[columns].drop_duplicates())
        if observed == 1:
            problems.append(_one_group(where, shown, ":".join(str(v) for v in frame[columns].iloc[0])))
        elif family in NO_ROW_LEVEL_EFFECTS and n_rows > 1 and observed >= n_rows:
            problems.append(_group_per_row(where, shown, observed, n_rows, family))
        else:
            combinations = float(np.prod([frame[c].nunique() for c in columns], dtype=float))
            needed = combinations * n_rows * 8 * GROUP_MATRIX_COPIES
            if len(columns) > 1 and needed > (available_memory() or MAX_GROUP_BYTES):
                combined = "_".join(factor.columns)
                problems.append(
                    f"{where}: the group term '| {shown}' crosses {len(columns)} columns with "
                    f"{' x '.join(f'{frame[c].nunique():,}' for c in columns)} levels: building it takes a "
                    f"column for each of the {combinations:,.0f} combinations (about {human_bytes(needed)} for "
                    f"{n_rows:,} rows), more than the memory available; the rows hold {observed:,} of them. Make "
                    f"one column that names each group (its columns' values joined, e.g. '{combined}') and write "
                    f"'| {combined}'"
                )
    return problems


def block_values(group: Any, block: GroupBlock, frame: Any = None) -> tuple[list[str], np.ndarray]:
    """A block's coefficient labels and its rows' values from formulae's group matrix: (n, k), or (n,) for one.

    ``group`` is ``design_matrices(...).group``; with ``frame`` (on the scale the design was
    evaluated on) the values are those of ``frame``'s rows: the counterfactual designs of average
    marginal effects change a varying slope's values too.
    """
    columns: list[str] = []
    values: list[np.ndarray] = []
    for name in block.terms:
        term = group.terms[name]
        data = np.asarray(term.expr.data if frame is None else term.expr.eval_new_data(frame), dtype=float)
        values.append(data[:, None] if data.ndim == 1 else data)
        columns += ["Intercept"] if name.startswith("1|") else [str(label) for label in term.expr.labels]
    stacked = np.column_stack(values)
    return columns, stacked if len(columns) > 1 else stacked[:, 0]


def anchor_factor(blocks: list[BlockInfo], preferred: str | None = None) -> str | None:
    """The factor whose group intercepts absorb the model intercept (and a group-level fidelity slope).

    Centring that factor's groups on ``intercept + slope * fidelity`` decouples the intercept
    from the group effects (hierarchical centring). It is ``preferred`` (the fidelity's group)
    when that factor has a plain group intercept, otherwise the first factor that has one.
    """
    plain = [b.dim for b in blocks if b.intercept_only and not b.block.suffix]
    if preferred is not None:
        return preferred if preferred in plain else None
    return plain[0] if plain else None


def choose_centring(
    data: ModelData,
    blocks: list[BlockInfo],
    information: Callable[[np.ndarray], np.ndarray],
    mode: Parameterisation,
    threshold: float,
) -> dict[str, int]:
    """Pick centred or non-centred per group of every plain group-intercept factor; add the split arrays.

    ``information(idx)`` is the family's information per row about a group's linear predictor
    for the groups ``idx`` (:meth:`~ipsbayes.families.base.OutcomeFamily.information`). With more than one grouping
    factor ``auto`` keeps every group non-centred: with job specialists nested in services,
    centring large services diverged (``benchmarks/results/parameterisation.md``), and a
    crossed factor's groups are pinned down only together with the other factor's.
    Returns the number of centred groups per factor.
    """
    factors = list(dict.fromkeys(b.dim for b in blocks))
    if mode == "auto" and len(factors) > 1:
        mode = "noncentred"
    chosen: dict[str, int] = {}
    for info in blocks:
        if not info.intercept_only or info.block.suffix:
            continue
        dim = info.dim
        idx = data.arrays[idx_key(info.block.factor)]
        names = list(data.coords[dim])
        total = np.bincount(idx, weights=information(idx), minlength=len(names))
        centred = choose_centred(total, mode, threshold)
        split, split_coords = split_arrays(dim, names, centred)
        data.arrays |= split
        data.coords |= split_coords
        chosen[dim] = int(centred.sum())
    return chosen


#: the note of a run whose config asked for collapsing that this likelihood cannot use
COLLAPSE_NOT_APPLIED = (
    'model.collapse = "always" was not applied: rows are merged only for a binary outcome without a trials column '
    "and without varying slopes; every row is a likelihood term (the posterior is the same)."
)


def slope_only_notes(formula: ModelFormula) -> list[str]:
    """A note for predictors with a varying slope but no population-level term (no average effect is reported)."""
    slope_only = [v for v in formula.expression_variables if v not in formula.common_variables]
    if not slope_only:
        return []
    listed, one = ", ".join(f"'{v}'" for v in slope_only), len(slope_only) == 1
    return [
        f"{listed} {'has' if one else 'have'} a varying slope but no population-level term: the group slopes take "
        "up the average slope, and the report gives no average marginal effect for "
        f"{'it' if one else 'them'}; add {listed} to the formula's population-level terms to estimate "
        f"{'it' if one else 'them'} (y ~ x + (x | g))."
    ]


def collapse_rows(data: ModelData, row_keys: list[str], mode: str, raw_columns: list[str] = ()) -> ModelData:
    """Merge identical rows (same predictors, groups and slope columns) into counts with trials.

    Only for families whose likelihood of a merged row equals the product over the rows it
    replaces (Bernoulli: ``y eta - n softplus(eta)``), so the posterior is unchanged. ``auto``
    merges when that at least halves the number of likelihood terms.

    Rows also merge only where the data frame's ``raw_columns`` (the formula's columns) are
    equal: a merged row keeps one row's raw values, which the average marginal effects' counterfactual
    designs are built from. Rows with the same design row but other raw values (``I(week > 2)`` at
    weeks 0 and 2) would otherwise all be shifted from the first one's week.
    """
    if mode == "never":
        return data
    arrays = data.arrays
    n = len(arrays["y"])
    parts = [np.asarray(arrays[k], float).reshape(n, -1) for k in row_keys if k in arrays]
    frame = data.info["frame"]
    parts += [pd.factorize(frame[c])[0].astype(float).reshape(n, 1) for c in raw_columns if c in frame.columns]
    stacked = np.column_stack(parts) if parts else np.zeros((n, 1))
    _, first, inverse = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    if mode == "auto" and len(first) > 0.5 * n:
        return data
    weights = arrays.get("trials", np.ones(n, np.int64))
    collapsed = dict(arrays)
    for key in row_keys:
        if key in arrays:
            collapsed[key] = arrays[key][first]
    collapsed["trials"] = np.bincount(inverse, weights=weights).astype(np.int64)
    collapsed["y"] = np.bincount(inverse, weights=arrays["y"]).astype(np.int64)
    info = dict(data.info)
    info["frame"] = info["frame"].iloc[first].reset_index(drop=True)
    info["collapsed_from"] = n
    units = info.get("vocabulary", {}).get("units", "rows")
    notes = [
        *data.notes,
        f"{n} {units} were collapsed into {len(first)} binomial rows with identical predictors and groups "
        "(same posterior, fewer likelihood terms).",
    ]
    return ModelData(coords=data.coords, arrays=collapsed, info=info, n_rows=data.n_rows, notes=notes)


def group_summaries(data: ModelData, blocks: list[BlockInfo], per_trial: np.ndarray) -> dict[str, dict[str, Any]]:
    """Observed mean outcome and size of every group of every factor (before any collapsing)."""
    arrays = data.arrays
    weights = arrays.get("trials", np.ones(len(arrays["y"]))).astype(float)
    out: dict[str, dict[str, Any]] = {}
    for info in blocks:
        dim = info.dim
        if dim in out:
            continue
        idx = arrays[idx_key(info.block.factor)]
        size = len(data.coords[dim])
        n = np.bincount(idx, weights=weights, minlength=size)
        total = np.bincount(idx, weights=per_trial * weights, minlength=size)
        out[dim] = {"n": n, "raw": total / np.where(n > 0, n, 1.0)}
    return out
