"""Which functions a model formula may call, and the namespace formulae evaluates its calls in.

formulae looks a call's function up in the namespace of the code that evaluates the formula, so a
formula could call anything the evaluating module imports (an outside review ran a shell command
through ``pd.io.common.os.system(...)``). A formula here calls only formulae's transforms and
numpy's elementwise functions (with ``np.where``, ``np.clip`` and ``np.round``, which act row by row
too): :func:`formula_call_problems` checks the parse tree before anything is evaluated, and
:func:`formula_environment` is the only namespace the evaluation gets.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
from formulae.environment import Environment
from formulae.expr import Binary, Call
from formulae.parser import Parser
from formulae.scanner import Scanner

#: functions a formula may call on its right-hand side: formulae's transforms and contrast encodings
#: (``C(x, Treatment("a"))``); numpy's elementwise functions are allowed too, as ``np.<name>``
FORMULA_FUNCTIONS = (
    "C",
    "I",
    "center",
    "scale",
    "standardize",
    "bs",
    "poly",
    "B",
    "binary",
    "S",
    "T",
    "Treatment",
    "Sum",
)


#: numpy functions that are not universal functions but still map each row to a value of that row only,
#: with no access to anything but their arguments: a condition (``np.where(age > 25, 1, 0)``), capping
#: (``np.clip(months, 0, 24)``) and rounding (``np.round(age / 10)``)
NUMPY_ROWWISE = ("where", "clip", "round")


def numpy_elementwise() -> dict[str, object]:
    """Numpy's functions a formula may call, all pure row-by-row arithmetic.

    The universal functions (``np.log``, ``np.sqrt``, ``np.abs``, ...) and :data:`NUMPY_ROWWISE`.
    """
    ufuncs = {
        name: value for name in dir(np) if not name.startswith("_") and isinstance(value := getattr(np, name), np.ufunc)
    }
    return {**ufuncs, **{name: getattr(np, name) for name in NUMPY_ROWWISE}, "clip": clip_in_order}


def clip_in_order(a: Any, a_min: Any = None, a_max: Any = None, **bounds: Any) -> np.ndarray:
    """``np.clip`` as a formula calls it: on the values, with a lower bound that is not above the upper one.

    formulae passes a column as a pandas Series, and ``np.clip`` hands a Series to pandas, which
    swaps reversed scalar bounds without a word (``np.clip(age, 24, 18)`` gave ``clip(age, 18,
    24)``, where numpy gives 18 in every row). Here the bounds, however they were written
    (``(24)``, ``36 / 2``, ``min=``/``max=``), are compared after evaluation: a lower bound above the
    upper one is an error that names both; otherwise the result is numpy's.
    """
    low, high = bounds.pop("min", a_min), bounds.pop("max", a_max)
    if bounds:
        raise TypeError(f"np.clip() takes x, a lower and an upper bound; not {', '.join(sorted(bounds))}")
    if low is not None and high is not None:
        reversed_rows = np.asarray(low) > np.asarray(high)
        if np.any(reversed_rows):
            shown = [f"{float(v):g}" if np.ndim(v) == 0 else "a column" for v in (low, high)]
            raise ValueError(
                f"np.clip: the lower bound ({shown[0]}) is above the upper bound ({shown[1]})"
                + (f" in {int(np.sum(reversed_rows)):,} rows" if np.ndim(reversed_rows) else "")
                + "; write the lower bound first"
            )
    return np.clip(np.asarray(a), low, high)


def formula_environment() -> Environment:
    """The only names a formula's calls can reach besides formulae's own transforms: ``np.<name>``.

    The names are :func:`numpy_elementwise`'s.

    formulae looks a call's function up in the caller's namespace by default, so a formula could
    call anything the calling module imports (``pd.io.common.os.system(...)`` ran a shell command).
    """
    return Environment([{"np": SimpleNamespace(**numpy_elementwise())}])


def formula_call_problems(text: str, where: str = "model.formula", shown: str | None = None) -> list[str]:
    """Calls in a formula that ipsbayes does not evaluate: one problem each, naming what is allowed.

    Only formulae's transforms (:data:`FORMULA_FUNCTIONS`) and numpy's elementwise functions
    (``np.log``, ``np.sqrt``, ...) are evaluated; ``p(successes, trials)`` only as the outcome.
    ``offset(x)`` is refused with its own reason: no model here fixes a coefficient at 1.
    """
    try:
        tree = Parser(Scanner(text).scan()).parse()
    except Exception:
        return []
    lhs, rhs = (tree.left, tree.right) if isinstance(tree, Binary) and tree.operator.kind == "TILDE" else (None, tree)
    allowed = set(FORMULA_FUNCTIONS) | {f"np.{name}" for name in numpy_elementwise()}
    problems: list[str] = []
    outcome_call = lhs if isinstance(lhs, Call) else None
    for node in [*_nodes(lhs), *_nodes(rhs)]:
        if not isinstance(node, Call):
            continue
        name = getattr(getattr(node.callee, "name", None), "lexeme", None) or str(node.callee)
        if node is outcome_call and name == "p":
            continue
        if name in allowed:
            if name == "np.clip" and (reversed_bounds := _reversed_clip(node)) is not None:
                low, high = reversed_bounds
                column = _argument_text(node.args[0]) if node.args else "x"
                problems.append(
                    f"{where}: {_call_text(node)} in {shown or repr(text)} has its lower bound ({low:g}) above its "
                    f"upper bound ({high:g}), which would give {high:g} in every row; write the lower bound first "
                    f"(np.clip({column}, {high:g}, {low:g}))"
                )
            continue
        if node is outcome_call:
            problems.append(
                f"{where}: unknown function {name}(...) as the outcome in {shown or repr(text)}; the outcome is a "
                "column, or p(successes, trials) for counts of successes out of trials"
            )
            continue
        if name == "offset":
            problems.append(
                f"{where}: offset({', '.join(_shown(a) for a in node.args)}) is "
                "not supported: no model here fixes a coefficient at 1, and fitting it as a predictor would "
                "silently estimate one; remove it (for counts per exposure use p(successes, trials))"
            )
            continue
        problems.append(
            f"{where}: unknown function {name}(...) in {shown or repr(text)}; a formula may call "
            f"{', '.join(FORMULA_FUNCTIONS[:-2])} (formulae's transforms), Treatment/Sum inside C(...), and numpy's "
            "elementwise functions as np.<name> (np.log, np.log1p, np.exp, np.sqrt, np.abs, ..., and np.where, "
            "np.clip, np.round)"
        )
    return list(dict.fromkeys(problems))


def _number(node: object) -> float | None:
    """A literal number in a formula (``24``, ``-3.5``), or None for anything else."""
    from formulae.expr import Literal, Unary

    if isinstance(node, Literal) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    sign = getattr(getattr(node, "operator", None), "lexeme", None)
    if isinstance(node, Unary) and sign in ("-", "+"):
        inner = _number(node.right)
        return None if inner is None else (-inner if sign == "-" else inner)
    return None


def _reversed_clip(node: Call) -> tuple[float, float] | None:
    """The (lower, upper) bounds of ``np.clip(x, lower, upper)`` when both are numbers and lower > upper."""
    from formulae.expr import Assign

    bounds: dict[str, object] = {}
    positional = [a for a in node.args if not isinstance(a, Assign)]
    for key, arg in zip(("a_min", "a_max"), positional[1:3], strict=False):
        bounds[key] = arg
    for arg in node.args:
        if isinstance(arg, Assign):
            key = {"min": "a_min", "max": "a_max"}.get(arg.name.name.lexeme, arg.name.name.lexeme)
            bounds[key] = arg.value
    low, high = _number(bounds.get("a_min")), _number(bounds.get("a_max"))
    return (low, high) if low is not None and high is not None and low > high else None


def _call_text(node: Call) -> str:
    """A call as written, e.g. ``np.clip(age, 24, 18)``."""
    return f"{_shown(node.callee)}({', '.join(_argument_text(a) for a in node.args)})"


def _argument_text(node: object) -> str:
    """One argument of a call as written: a column, a number, ``name=value`` or formulae's rendering."""
    from formulae.expr import Assign

    if isinstance(node, Assign):
        return f"{_shown(node.name)}={_argument_text(node.value)}"
    number = _number(node)
    return f"{number:g}" if number is not None else _shown(node)


def _shown(node: object) -> str:
    """A syntax-tree argument as written: a column's name, else formulae's own rendering."""
    return str(getattr(getattr(node, "name", None), "lexeme", node))


def _nodes(node: object) -> Iterator[object]:
    """Every node of a formulae syntax tree below and including ``node`` (None: none)."""
    if node is None:
        return
    yield node
    for value in vars(node).values():
        for child in value if isinstance(value, list) else [value]:
            if type(child).__module__ == "formulae.expr":
                yield from _nodes(child)


__all__ = [
    "FORMULA_FUNCTIONS",
    "NUMPY_ROWWISE",
    "clip_in_order",
    "formula_call_problems",
    "formula_environment",
    "numpy_elementwise",
]
