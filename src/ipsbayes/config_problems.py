"""Pydantic validation errors in the words of a TOML config: one line per problem, with its key.

Every schema of ipsbayes (the run config, a model family's ``[model]`` table, a design or evidence
config) reports its problems through :func:`pydantic_problems`, so an unknown key always gets a
"did you mean" and the list of valid keys, and a type error says what the value must be ("a whole
number", "text in quotes or a table") rather than pydantic's internal names.

:data:`WholeNumber` and :data:`Number` are the field types of every whole number and number in these
schemas: pydantic alone would read ``seed = true`` and ``seed = "1"`` as 1 and accept ``nan`` and ``inf`` as
numbers.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ValidationError
from pydantic_core import PydanticCustomError

from ipsbayes.errors import did_you_mean
from ipsbayes.textutil import plain_repr, shorten


def _not_text(value: Any, kind: str) -> None:
    """Refuse text where a number is meant: TOML ``seed = "1"`` is text, and pydantic alone would read it as 1."""
    if not isinstance(value, str):
        return
    words = "a whole number" if kind == "int" else "a number"
    try:
        float(value.strip())
    except ValueError:
        raise PydanticCustomError(f"{kind}_type", f"must be {words}") from None
    shown = value.strip()[:40]
    raise PydanticCustomError(
        "quoted_number", f'must be {words}, not text: write {shown}, not "{shown}" (no quotes around numbers)'
    )


def _whole_number(value: Any) -> Any:
    """Refuse a boolean or text where a whole number is meant (pydantic would read ``true`` and ``"1"`` as 1)."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "must be a whole number")
    _not_text(value, "int")
    return value


def _finite_number(value: Any) -> Any:
    """Refuse a boolean, text, ``nan`` or an infinity where a number is meant."""
    if isinstance(value, bool):
        raise PydanticCustomError("float_type", "must be a number")
    _not_text(value, "float")
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("finite_number", "must be a finite number")
    return value


def _non_empty_path(value: Any) -> Any:
    """Refuse an empty path: pydantic would read ``""`` as ``.``, the config's own folder."""
    if isinstance(value, str) and not value.strip():
        raise PydanticCustomError("empty_path", 'is empty; give the path of a file, e.g. "data/participants.csv"')
    return value


#: a file path in a config: not empty (``""`` is not the current folder)
FilePath = Annotated[Path, BeforeValidator(_non_empty_path)]
#: a whole number in a config: ``true`` and ``false`` are not 1 and 0
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
#: a number in a config: finite (no ``nan``, ``inf``), and not ``true`` or ``false``
Number = Annotated[float, BeforeValidator(_finite_number)]


def _whole_percent(value: float) -> float:
    percent = value * 100
    if not 1 <= round(percent) <= 99 or abs(percent - round(percent)) > 1e-6:
        raise ValueError(
            "must be a whole percentage from 0.01 to 0.99, e.g. 0.9 or 0.95: reports print the interval as a "
            f"whole percent, and {value!r} would be printed as {percent:.0f}%"
        )
    return value


#: an interval probability a report can print truthfully as a whole percent (0.9 -> "90%")
WholePercent = Annotated[float, BeforeValidator(_finite_number), AfterValidator(_whole_percent)]


def toml_repr(value: Any) -> str:
    """A value as its TOML spelling where that differs from Python's (``true``, ``nan``, ``inf``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list | tuple) and len(value) <= 10:
        text = f"[{', '.join(toml_repr(item) for item in value)}]"
        return text if len(text) <= 80 else plain_repr(value)
    return plain_repr(value)


def pydantic_problems(error: ValidationError, schema: type[BaseModel], where: str) -> list[str]:
    """Turn a pydantic ``ValidationError`` into one readable line per problem.

    Parameters
    ----------
    error : ValidationError
        The error pydantic raised.
    schema : type of BaseModel
        The schema that was validated, used to list valid keys for unknown ones.
    where : str
        Prefix naming the file (and table), e.g. ``"models/x.toml [model]"``.
    """
    problems: list[str] = []
    items = _without_other_union_branches(error.errors())
    for item in items:
        loc = _key_path(item["loc"])
        key = ".".join(loc) if loc else "(top level)"
        if item["type"] == "extra_forbidden":
            valid = _valid_keys(schema, loc[:-1])
            hint = did_you_mean(loc[-1], valid)
            listing = f"; valid keys here: {shorten(valid, 20)}" if valid else ""
            problem = f"{where}: unknown key '{shorten([key], 1)[:100]}'{hint}{listing}"
        elif item["type"] == "missing":
            problem = f"{where}: required key '{key}' is missing"
        else:
            given = item.get("input")
            shown = f" (got {toml_repr(given)})" if not isinstance(given, dict) else " (got a table)"
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] in _TYPE_WORDS and item["type"] != "literal_error":
                message = f"must be {_TYPE_WORDS[item['type']]}"
            problem = f"{where}: key '{key}': {message}{shown}"
            if not loc and isinstance(given, dict) and item["type"] == "value_error":  # a whole table names its keys
                problem = f"{where}: {message}"
        if problem not in problems:
            problems.append(problem)
    return problems


#: pydantic names union members and validators in error locations ("function-after[_check(), FidelityScale]",
#: "str", "list[str]"); these are not keys a user can write
_INTERNAL_PART = re.compile(r"^(?:[a-z][a-z0-9_-]*\[.*\]|str|int|float|bool|bytes|dict|list|none|null)$")


def _key_path(loc: tuple[Any, ...]) -> list[str]:
    """The config keys of a pydantic error location, without pydantic's union and validator names."""
    return [str(part) for part in loc if not (isinstance(part, str) and _INTERNAL_PART.match(part))]


def _union_base(loc: tuple[Any, ...]) -> tuple[str, ...] | None:
    """The key path before the first union-member name in ``loc`` (None when ``loc`` has none)."""
    out: list[str] = []
    for part in loc:
        if isinstance(part, str) and _INTERNAL_PART.match(part):
            return tuple(out)
        out.append(str(part))
    return None


def _without_other_union_branches(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One report per value that matched no member of a union, in the user's words.

    A table given where either a name or a table is accepted makes pydantic report
    "should be a valid string" for the name member and the real problem for the table
    member; only the latter helps. When every member failed on the type alone, the
    members' types are merged into one line ("must be text in quotes or a table").
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for item in errors:
        base = _union_base(item["loc"])
        if base is not None:
            groups.setdefault(base, []).append(item)
    kept: list[dict[str, Any]] = []
    merged: set[tuple[str, ...]] = set()
    for item in errors:
        base = _union_base(item["loc"])
        if base is None:
            kept.append(item)
            continue
        group = groups[base]
        real = [other for other in group if _real(other, base)]
        if real:
            if _real(item, base):
                kept.append(item)
        elif base not in merged:
            merged.add(base)
            wanted = " or ".join(dict.fromkeys(_TYPE_WORDS[other["type"]] for other in group))
            kept.append({**item, "loc": base, "type": "union_type", "msg": f"must be {wanted}"})
    return kept


def _real(item: dict[str, Any], base: tuple[str, ...]) -> bool:
    """An error of a union member that is not only "the value is of another type than this member".

    A type error inside a member's table (``scale.items = true`` where ``scale`` is a name or a
    table) is real: the table was meant, and one of its keys is wrong.
    """
    return item["type"] not in _TYPE_WORDS or len(_key_path(item["loc"])) > len(base)


#: pydantic type errors in the words of a TOML file
_TYPE_WORDS = {
    "string_type": "text in quotes",
    "model_type": "a table",
    "dict_type": "a table",
    "model_attributes_type": "a table",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number (not nan or inf)",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "literal_error": "one of the listed values",
    "path_type": "a file path in quotes",
}


def _valid_keys(schema: type[BaseModel], path: list[str]) -> list[str]:
    """Keys accepted by ``schema`` at the nested table ``path``."""
    current: Any = schema
    for part in path:
        field = getattr(current, "model_fields", {}).get(part)
        annotation = getattr(field, "annotation", None)
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        current = nested[0]
    keys = {k for k in current.model_fields if k != "source"}
    if "participants" in keys:  # the main table: `main` in a generic config, `participants` in an IPS one
        keys.add("main")
    return sorted(keys)


def valid_without_bad_keys[Model: BaseModel](
    schema: type[Model], raw: dict[str, Any], extra: dict[str, Any]
) -> tuple[Model | None, set[str]]:
    """Validate ``raw`` against ``schema`` after leaving out every key that broke it.

    Parameters
    ----------
    schema : type of BaseModel
    raw : dict
        The parsed TOML (not changed: the tables on the way to a key left out are copied).
    extra : dict
        Keys added before validating (e.g. the config's own path).

    Returns
    -------
    model : BaseModel or None
        None when it still does not validate (a required key is missing, a table is not a table).
    tables : set of str
        The top-level keys that held a problem.
    """
    raw = dict(raw)
    tables: set[str] = set()
    for _ in range(3):  # a key left out can reveal problems only in the tables that held it
        try:
            return schema.model_validate({**raw, **extra}), tables
        except ValidationError as exc:
            for item in exc.errors():
                keys = [part for part in item["loc"] if not isinstance(part, int)]
                if not keys or not _drop_key(raw, keys):
                    return None, tables
                tables.add(str(keys[0]))
    return None, tables


def _drop_key(raw: dict[str, Any], keys: list[Any]) -> bool:
    """Remove the deepest key of ``keys`` that ``raw`` holds (copying the tables on the way); False if none."""
    table: Any = raw
    for depth, key in enumerate(keys):
        if not isinstance(table, dict) or key not in table:
            break
        if depth == len(keys) - 1 or not isinstance(table[key], dict) or keys[depth + 1] not in table[key]:
            del table[key]
            return True
        table[key] = dict(table[key])
        table = table[key]
    return False
