"""Model formulas with group terms, parsed by formulae (Bambi's formula engine), never by regular expressions.

A formula is written as in lme4, brms and Bambi::

    y ~ x + (1 | region/school)                       # nested: region, and school within region
    y ~ x + (1 | region) + (1 | region:school)        # the same, spelled out
    y ~ x + (1 | nav_office) + (1 | mh_team)          # crossed
    y ~ days + (1 + days | subject)                   # varying slopes, correlated (LKJ prior)
    y ~ days + (1 | subject) + (0 + days | subject)   # varying slopes, uncorrelated
    p(successes, trials) ~ x + (1 | herd)             # binomial counts with a trials column

formulae's parser builds the syntax tree and its resolver turns each ``(expr | factor)``
into group-specific terms (``1|g``, ``x|g``); :func:`parse_model_formula` walks that
tree once to learn which terms share a bar, because lme4's convention is that effects
written in one bar are correlated and effects in separate bars are not (formulae
itself does not keep that distinction). Nothing is parsed twice and no text is cut.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import formulae
from formulae.expr import Binary, Grouping
from formulae.parser import Parser
from formulae.resolver import Resolver
from formulae.scanner import Scanner
from formulae.terms.terms import GroupSpecificTerm, Intercept, Model

from ipsbayes.models.formula_functions import formula_call_problems

#: dims every model already uses, and its data containers' names (a dim may not share a variable's name);
#: a grouping factor is renamed rather than clash with them
RESERVED_DIMS = {
    "obs",
    "term",
    "contrast",
    "chain",
    "draw",
    "sample",  # chain and draw stacked (xarray, ArviZ and the package's own summaries stack draws under this name)
    "review",
    "fidelity_score",
    "participant",
    "X",
    "X_T",
    "W",
    "W_T",
    "y",
    "trials",
    "fidelity",
    "review_score",
}


@dataclass(frozen=True)
class GroupFactor:
    """A grouping factor: one column (``school``) or an interaction of columns (``region:school``).

    Attributes
    ----------
    name : str
        Its name in the model: dims, parameter names (``sd_<name>``) and estimands
        (``<name>_rate``). A nested factor ``region:school`` whose outer columns are factors of
        the model themselves is called by its last column (``school``).
    columns : tuple of str
        Data columns whose combination identifies a group.
    key : str
        formulae's name of the factor (``region:school``).
    """

    name: str
    columns: tuple[str, ...]
    key: str


@dataclass(frozen=True)
class GroupBlock:
    """The group-specific effects written in one bar for one factor, e.g. ``(1 + days | subject)``.

    Effects in one block are correlated (a covariance matrix with an LKJ prior on its
    correlations) when the block has more than one column; separate blocks are independent.

    Attributes
    ----------
    factor : GroupFactor
        The grouping factor.
    terms : tuple of str
        formulae's names of the block's group-specific terms, e.g. ``("1|subject", "days|subject")``.
    suffix : str
        ``""`` for a factor's first block, otherwise a name made from its expressions (``_days``):
        parameters are ``sd_<factor><suffix>``, ``corr_<factor><suffix>``, ``<factor>_effect<suffix>``.
    intercept : bool
        The block has a group intercept.
    may_correlate : bool
        The block has more than one term, so its effects are correlated and need an LKJ prior. (A
        single categorical expression, ``(0 + C(x) | g)``, also has several columns: its LKJ prior is
        then the data-scaled default, see ``Multilevel.default_priors``.)
    """

    factor: GroupFactor
    terms: tuple[str, ...]
    suffix: str
    intercept: bool
    may_correlate: bool

    @property
    def sd_name(self) -> str:
        """Name of the block's SD parameter(s)."""
        return f"sd_{self.factor.name}{self.suffix}"

    @property
    def corr_name(self) -> str:
        """Name of the block's LKJ correlation prior."""
        return f"corr_{self.factor.name}{self.suffix}"

    @property
    def effect_name(self) -> str:
        """Name of the block's group effects."""
        return f"{self.factor.name}_effect{self.suffix}"

    @property
    def coef_dim(self) -> str:
        """Dim of the block's columns when it has several."""
        return f"{self.factor.name}_coef{self.suffix}"

    @property
    def text(self) -> str:
        """The block as it would be written, for messages."""
        exprs = [t.split("|", 1)[0] for t in self.terms]
        return f"({' + '.join(exprs) if self.intercept else ' + '.join(['0', *exprs])} | {self.factor.key})"


@dataclass(frozen=True)
class ModelFormula:
    """A parsed model formula.

    Attributes
    ----------
    text : str
        The formula as written.
    response : str
        Outcome column (the successes of ``p(successes, trials)``).
    trials : str or None
        Trials column of ``p(successes, trials)``.
    common_variables : list of str
        Columns used by population-level terms.
    common_terms : list of str
        formulae's names of the population-level terms (``Intercept`` excluded).
    factors : list of GroupFactor
        Grouping factors, in order of appearance.
    blocks : list of GroupBlock
        Group-specific blocks, in order of appearance.
    """

    text: str
    response: str
    trials: str | None
    common_variables: list[str]
    common_terms: list[str]
    factors: list[GroupFactor] = field(default_factory=list)
    blocks: list[GroupBlock] = field(default_factory=list)

    @property
    def expression_variables(self) -> list[str]:
        """Columns used by group-specific expressions (varying slopes)."""
        out: list[str] = []
        for block in self.blocks:
            for name in block.terms:
                expr = name.split("|", 1)[0]
                out += [v for v in _term_variables(expr) if v not in out]
        return out

    @property
    def group_variables(self) -> list[str]:
        """Columns used by group-specific expressions (varying slopes) and grouping factors."""
        out = self.expression_variables
        for factor in self.factors:
            out += [c for c in factor.columns if c not in out]
        return out

    @property
    def variables(self) -> list[str]:
        """Every data column the formula uses (response and trials included)."""
        out = [self.response, *([self.trials] if self.trials else [])]
        for name in [*self.common_variables, *self.group_variables]:
            if name not in out:
                out.append(name)
        return out

    def factor(self, name: str) -> GroupFactor:
        """The grouping factor called ``name`` (its model name or formulae key)."""
        for factor in self.factors:
            if name in (factor.name, factor.key):
                return factor
        raise KeyError(name)

    def factor_name(self, name: str) -> str:
        """The model name of the one-column factor a config calls by its column (``X`` -> ``X_group``).

        A factor is renamed where its column's name is reserved (:func:`reserved`); configs name
        it by the column. Any other name is returned as it is.
        """
        for factor in self.factors:
            if len(factor.columns) == 1 and name == factor.columns[0] and name != factor.name:
                if not any(f.name == name for f in self.factors):
                    return factor.name
        return name

    def blocks_of(self, factor: GroupFactor) -> list[GroupBlock]:
        """The blocks of one factor, first block first."""
        return [b for b in self.blocks if b.factor == factor]


#: a name or closing bracket, blanks, then a name or opening bracket: two terms with no operator between
_ADJACENT = re.compile(r"[\w.)\]`]\s+[\w.(`]")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")


def _unjoined_names(text: str) -> str | None:
    """The first place two names follow each other with only blanks between (``months outside``), or None.

    formulae stops parsing there without an error, so ``y ~ age + months outside + ips25`` would fit
    ``y ~ age + months`` and drop the rest. Quoted text and backtick names are blanked first (same length).
    """
    blanked = _QUOTED.sub(lambda m: m.group(0)[0] + "x" * (len(m.group(0)) - 2) + m.group(0)[-1], text)
    match = _ADJACENT.search(blanked)
    if match is None:
        return None
    start = max(text.rfind(c, 0, match.start()) for c in "~+*:|(-") + 1
    end = min([i for i in (text.find(c, match.end()) for c in "+*:|)") if i >= 0] or [len(text)])
    return text[start:end].strip()


def parse_model_formula(text: str, where: str = "model.formula") -> tuple[ModelFormula | None, list[str]]:
    """Parse a model formula with formulae; return it, or every problem found (never raises)."""
    if "~" not in text:
        return None, [f"{where}: formula must look like 'outcome ~ x1 + x2 + (1 | group)', got {text!r}"]
    adjacent = _unjoined_names(text)
    if adjacent:
        return None, [
            f"{where}: {adjacent!r} has no operator between its parts, and the formula parser would silently drop "
            "everything from there on; write a column name with spaces in backticks (`months outside`), or join "
            "terms with '+'"
        ]
    try:
        tree = Parser(Scanner(text).scan()).parse()
        description = formulae.model_description(text)
    except Exception as exc:  # formulae raises several parser and resolver error types
        return None, [f"{where}: cannot parse formula {text!r}: {exc}"]
    if calls := formula_call_problems(text, where):
        return None, calls
    problems: list[str] = []
    response, trials = _response(description, where, problems)
    common_variables: list[str] = []
    common_terms: list[str] = []
    has_intercept = False
    for term in description.common_terms:
        if isinstance(term, Intercept):
            has_intercept = True
            continue
        common_terms.append(term.name)
        common_variables += [v for v in sorted(term.var_names) if v and v not in common_variables]
    if not has_intercept:
        problems.append(f"{where}: the intercept cannot be removed (no '0 +' or '- 1' outside group terms)")
    bars = _bars(tree.right if isinstance(tree, Binary) else tree)
    factors, blocks = _blocks(bars, where, problems)
    grouping = {column for factor in factors for column in factor.columns}
    for role, column in (("outcome", response), ("number of trials", trials)):
        if column is not None and (column in common_variables or column in grouping):
            problems.append(
                f"{where}: '{column}' is the {role} and also on the right of '~'; a model cannot predict a column "
                f"from itself: remove '{column}' from the predictors and group terms"
            )
    if problems or response is None:
        return None, problems
    return ModelFormula(text, response, trials, common_variables, common_terms, factors, blocks), []


def _response(description: Model, where: str, problems: list[str]) -> tuple[str | None, str | None]:
    """``y`` or ``p(successes, trials)``."""
    if description.response is None:
        problems.append(f"{where}: the formula needs an outcome on the left of '~'")
        return None, None
    components = description.response.term.components
    call = getattr(components[0], "call", None) if len(components) == 1 else None
    if call is not None and getattr(call, "callee", None) == "p" and len(call.args) == 2:
        names = [getattr(arg, "name", None) for arg in call.args]
        if all(isinstance(n, str) for n in names):
            return names[0], names[1]
    names = sorted(v for v in description.response.var_names if v)
    if len(names) != 1 or call is not None:
        problems.append(
            f"{where}: the outcome must be one column, or p(successes, trials) for counts; got "
            f"{description.response.term.name!r}"
        )
        return None, None
    return names[0], None


def _bars(node: object) -> list[Binary]:
    """Every ``expr | factor`` sub-tree of the right-hand side, in order."""
    if isinstance(node, Grouping):
        return _bars(node.expression)
    if isinstance(node, Binary):
        if node.operator.kind == "PIPE":
            return [node]
        return _bars(node.left) + _bars(node.right)
    return []


def _blocks(bars: list[Binary], where: str, problems: list[str]) -> tuple[list[GroupFactor], list[GroupBlock]]:
    """Resolve each bar on its own: its terms grouped by factor form one block each."""
    per_bar: list[list[GroupSpecificTerm]] = []
    for bar in bars:
        resolved = Resolver(bar).resolve()
        terms = resolved.terms if isinstance(resolved, Model) else [resolved]
        per_bar.append([t for t in terms if isinstance(t, GroupSpecificTerm)])
    keys: list[tuple[str, tuple[str, ...]]] = []
    for terms in per_bar:
        for term in terms:
            columns = tuple(c.name for c in term.factor.components)
            if (term.factor.name, columns) not in keys:
                keys.append((term.factor.name, columns))
    factors = _name_factors(keys)
    by_key = {f.key: f for f in factors}
    blocks: list[GroupBlock] = []
    seen: dict[str, int] = {}
    used_terms: set[str] = set()
    for terms in per_bar:
        grouped: dict[str, list[GroupSpecificTerm]] = {}
        for term in terms:
            grouped.setdefault(term.factor.name, []).append(term)
        for key, members in grouped.items():
            factor = by_key[key]
            names = tuple(t.name for t in members)
            repeated = [n for n in names if n in used_terms]
            if repeated:
                problems.append(f"{where}: the group term {repeated[0]} appears twice; write each effect once")
            used_terms.update(names)
            intercept = any(isinstance(t.expr, Intercept) for t in members)
            count = seen.get(key, 0)
            seen[key] = count + 1
            exprs = [n.split("|", 1)[0] for n in names if not n.startswith("1|")]
            suffix = "" if count == 0 else "_" + "_".join(_identifier(e) for e in exprs or ["intercept"])
            blocks.append(GroupBlock(factor, names, suffix, intercept, len(members) > 1))
    return factors, blocks


def _name_factors(keys: list[tuple[str, tuple[str, ...]]]) -> list[GroupFactor]:
    """Model names of the factors: a column's own name; a nested interaction takes its last column's.

    ``region:school`` is nested when ``region`` is a factor itself (``(1 | region/school)``), and
    ``county:municipality:school`` when ``county:municipality`` is (``(1 | county/municipality/school)``):
    both are called ``school``, unless ``school`` is a factor of its own (crossed).
    """
    singles = {columns[0] for _, columns in keys if len(columns) == 1}
    factors = {tuple(columns) for _, columns in keys}
    names: list[str] = []
    for _key, columns in keys:
        if len(columns) == 1:
            name = columns[0]
        elif (all(c in singles for c in columns[:-1]) or tuple(columns[:-1]) in factors) and columns[-1] not in singles:
            name = columns[-1]
        else:
            name = "_".join(columns)
        name = _identifier(name)
        names.append(_identifier("_".join(columns)) if name in names else name)
    # a dim may not share a variable's name: not the model's own, nor one its sibling factors' variables take
    # (``sd_specialist`` for a service), nor another factor's (``beta`` becomes ``beta_group``, so a factor
    # already called ``beta_group`` moves on); each new name is checked against all the others
    for _ in range(4 * len(names) + 4):
        clashing = [i for i, name in enumerate(names) if _clashes(name, names[:i] + names[i + 1 :])]
        if not clashing:
            break
        i = clashing[0]
        others = names[:i] + names[i + 1 :]
        names[i] = next(c for c in _renamings(names[i]) if not _clashes(c, others))
    return [GroupFactor(name, columns, key) for name, (key, columns) in zip(names, keys, strict=True)]


def _clashes(name: str, others: list[str]) -> bool:
    return reserved(name) or name in others or derived_from_others(name, others)


def _renamings(name: str) -> Iterator[str]:
    """``<name>_group`` first; ``group_<name>`` where any name beginning like ``name`` is taken (``sd_x...``).

    A name holding ``_prior_`` (reserved wherever it appears) loses that underscore first; the last
    candidates (``factor2``, ...) end the search whatever the names.
    """
    base = name.replace("_prior_", "_prior")
    yield f"{base}_group"
    yield f"group_{base}"
    yield from (f"group{k}_{base}" for k in range(2, 10))
    yield from (f"factor{k}" for k in itertools.count(2))


#: the model names variables and dims after each grouping factor ``g`` as ``<prefix>g...`` or ``g<suffix>...``
DERIVED_PREFIXES = ("sd_", "z_", "corr_", "chol_", "centred_", "noncentred_")
DERIVED_SUFFIXES = ("_effect", "_idx", "_centred", "_noncentred", "_order", "_coef", "_variance")


def derived_from_others(name: str, names: list[str]) -> bool:
    """Whether ``name`` is a variable or dim the model derives from another factor in ``names``.

    Those are ``<prefix><factor>`` and ``<factor><suffix>``, alone or followed by ``_`` and more
    (``sd_rat``, ``sd_rat_day_c``, ``rat_effect_day_c_x``); ``z_classroom`` beside ``class`` is not one.
    """

    def starts(text: str) -> bool:
        return name == text or name.startswith(text + "_")

    return any(
        any(starts(prefix + other) for prefix in DERIVED_PREFIXES) or any(starts(other + s) for s in DERIVED_SUFFIXES)
        for other in names
        if other != name
    )


#: variables a multilevel model creates whatever its groups: population-level parameters, the outcome
#: family's own (any family's), the fidelity measurement model's
MODEL_LEVEL_NAMES = frozenset(
    {
        "intercept",
        "beta",
        "fidelity_slope",
        "fidelity_mean",
        "fidelity_sd",
        "z_fidelity",
        "fidelity_latent",
        "review_error_sd",
        "review_score_obs",
        "sigma",
        "nu",
        "concentration",
    }
)


def reserved(name: str) -> bool:
    """Whether a grouping factor may not take ``name`` as its dim: a dim may not share a variable's name.

    Reserved are the model's fixed dims and data containers (:data:`RESERVED_DIMS`), the variables it
    creates whatever its groups (:data:`MODEL_LEVEL_NAMES`) and the numbers of their priors
    (``<parameter>_prior_<key>``). ``tests/test_observed_names.py`` gives a grouping column every name a
    shipped model uses.
    """
    return (
        name in RESERVED_DIMS
        or name in MODEL_LEVEL_NAMES
        or name.removesuffix("_variance") in MODEL_LEVEL_NAMES
        or "_prior_" in name
    )


def _identifier(text: str) -> str:
    """A name usable in parameter names and dims (letters, digits, underscores)."""
    return re.sub(r"\W+", "_", text).strip("_") or "x"


def _term_variables(expr: str) -> list[str]:
    """Columns of a group-specific expression (``1`` has none)."""
    if expr.strip() in ("1", "Intercept"):
        return []
    try:
        description = formulae.model_description(expr)
    except Exception:  # an expression formulae cannot parse alone names no plain column
        return []
    out: list[str] = []
    for term in description.common_terms:
        out += [v for v in sorted(term.var_names) if v and v not in out]
    return out
