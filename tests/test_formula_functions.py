"""A formula calls only formulae's transforms and numpy's elementwise functions: nothing else runs.

formulae looks a call's function up in the namespace of the code that evaluates the formula, so
before this check a formula could call anything ``ipsbayes.models.design`` imports:
``pd.io.common.os.system("...")`` ran a shell command, ``np.save`` wrote a file. ``offset(x)``
was fitted as an ordinary predictor (a free coefficient) and an unknown function failed with
``KeyError`` (exit 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ipsbayes.cli import main
from ipsbayes.errors import ConfigError, DataError
from ipsbayes.models import design as design_module
from ipsbayes.models.design import Design
from ipsbayes.models.formula import parse_model_formula
from ipsbayes.models.formula_functions import formula_call_problems

FRAME = pd.DataFrame({"y": [0, 1, 0, 1, 1, 0], "x": [1.0, 2, 3, 4, 5, 6], "g": list("aabbcc")})


def _hostile(marker: Path) -> list[str]:
    return [
        f'pd.io.common.os.system("touch {marker}")',
        f'I(pd.io.common.os.system("touch {marker}") > 0)',
        f'np.save("{marker}", x)',
        'C.__globals__.get("np")',
    ]


@pytest.mark.parametrize("k", range(4))
def test_a_formula_cannot_call_what_the_evaluating_module_imports(tmp_path: Path, k: int) -> None:
    marker = tmp_path / "ran"
    rhs = _hostile(marker)[k]
    problems = formula_call_problems(f"y ~ {rhs} + (1 | g)")
    assert problems and "unknown function" in problems[0] and "np.log" in problems[0]
    with pytest.raises(ConfigError, match="unknown function"):
        Design(rhs, FRAME)
    assert not marker.exists() and not marker.with_suffix(".npy").exists()


def test_evaluation_reaches_no_module_names_even_without_the_check(tmp_path: Path, monkeypatch) -> None:
    """Defence in depth: with the allowlist bypassed, formulae still finds no ``pd`` to call."""
    marker = tmp_path / "ran"
    monkeypatch.setattr(design_module, "formula_call_problems", lambda *a, **k: [])
    with pytest.raises(Exception):  # noqa: B017 - formulae's own lookup error
        Design(f'pd.io.common.os.system("touch {marker}")', FRAME)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("rhs", "labels"),
    [
        ("np.log(x)", ["np.log(x)"]),
        ("I(x > 2)", ["I(x > 2)"]),
        ("I(np.log(x) * 2)", ["I(np.log(x) * 2)"]),
        ("np.power(x, 2)", ["np.power(x, 2)"]),
        ("np.clip(x, 2, 5)", ["np.clip(x, 2, 5)"]),
        ("np.where(x > 3, 1, 0)", ["np.where(x > 3, 1, 0)"]),
        ("np.round(x / 4)", ["np.round(x / 4)"]),
        ("C(g, Treatment('b'))", ["g[a]", "g[c]"]),
        ("center(x)", ["center(x)"]),
        ("bs(x, df=3)", ["bs(x, df=3)[0]", "bs(x, df=3)[1]", "bs(x, df=3)[2]"]),
    ],
)
def test_transforms_and_numpy_elementwise_functions_still_work(rhs: str, labels: list[str]) -> None:
    assert Design(rhs, FRAME, standardize=False).labels == labels
    assert parse_model_formula(f"y ~ {rhs} + (1 | g)")[1] == []


def test_counts_as_the_outcome_are_still_allowed() -> None:
    assert parse_model_formula("p(y, n) ~ x + (1 | g)")[1] == []
    assert formula_call_problems("y ~ p(y, x)")  # but not as a predictor


def test_rowwise_numpy_functions_give_the_values_numpy_gives() -> None:
    design = Design("np.clip(x, 2, 5) + np.where(x > 3, 1, 0) + np.round(x / 4)", FRAME, standardize=False)
    x = FRAME["x"].to_numpy()
    assert (design.matrix() == np.column_stack([np.clip(x, 2, 5), np.where(x > 3, 1, 0), np.round(x / 4)])).all()


def test_an_unknown_outcome_function_names_the_outcome_forms() -> None:
    """An outside reviewer's case: ``prop(k, n) ~ x`` was told only about predictor functions."""
    problems = formula_call_problems("prop(k, n) ~ x + (1 | g)")
    assert len(problems) == 1 and "as the outcome" in problems[0] and "p(successes, trials)" in problems[0]


def test_offset_is_refused_with_its_reason() -> None:
    problems = formula_call_problems("y ~ x + offset(np.log(x)) + (1 | g)")
    assert len(problems) == 1 and "offset" in problems[0] and "not supported" in problems[0]


@pytest.mark.parametrize("term", ["s(months_outside)", "offset(age)", "pd.eval(age)"])
def test_check_and_run_refuse_an_unsupported_call_with_exit_2(make_config, data_copy, tmp_path, capsys, term) -> None:
    formula = f"work_or_education_12m ~ age + {term} + (1 | service)"
    config = make_config(data=data_copy, **{"model.formula": formula})
    out = tmp_path / "run"
    for args in (["check", config], ["run", config, "--out", out, "--profile", "ci"]):
        code = main([str(a) for a in args])
        text = capsys.readouterr()
        assert code == 2, text
        assert "Traceback" not in text.out + text.err
        assert term.split("(")[0] in text.err
    assert not out.exists()


@pytest.mark.parametrize(
    ("call", "low", "high"),
    [
        ("np.clip(x, 5, 2)", "5", "2"),
        ("np.clip(x, a_min=3, a_max=-1)", "3", "-1"),
        ("np.clip(x, max=3, min=5)", "5", "3"),
        ("np.clip(x, -1, -3.5)", "-1", "-3.5"),
    ],
)
def test_clip_bounds_written_the_wrong_way_round_are_refused(call: str, low: str, high: str) -> None:
    """numpy gives the upper bound in every row; pandas (formulae passes a Series) swaps the bounds silently."""
    problems = formula_call_problems(f"y ~ {call} + (1 | g)")
    assert len(problems) == 1, problems
    assert f"lower bound ({low}) above its upper bound ({high})" in problems[0]
    assert f"np.clip(x, {high}, {low})" in problems[0]  # the fix, with the user's column


@pytest.mark.parametrize("call", ["np.clip(x, 2, 5)", "np.clip(x, -3, -1)", "np.clip(x, 2, None)", "np.clip(x, lo, 3)"])
def test_clip_bounds_in_order_or_not_numbers_pass(call: str) -> None:
    assert formula_call_problems(f"y ~ {call} + (1 | g)") == []


def test_check_refuses_reversed_clip_bounds_with_exit_2(make_config, data_copy, capsys) -> None:
    config = make_config(
        data=data_copy, **{"model.formula": "work_or_education_12m ~ np.clip(age, 24, 18) + (1 | service)"}
    )
    assert main(["check", str(config)]) == 2
    err = capsys.readouterr().err
    assert "np.clip(age, 18, 24)" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "call",
    [
        "np.clip(x, (5), 2)",
        "np.clip(x, 5, (2))",
        "np.clip(x, 2 * 3, 2)",
        "np.clip(x, 10 / 2, 2)",
        "np.clip(x, 5, np.sqrt(4))",
    ],
)
def test_reversed_clip_bounds_written_as_expressions_are_refused_when_evaluated(call: str) -> None:
    """An outside review: bounds in parentheses or arithmetic passed the literal check and pandas swapped them."""
    with pytest.raises(ConfigError, match=r"lower bound \(\d+\) is above the upper bound \(2\)"):
        Design(call, FRAME, standardize=False)


def test_clip_gives_numpys_values_on_a_column_and_open_bounds() -> None:
    x = FRAME["x"].to_numpy()
    design = Design("np.clip(x, 2, None) + np.clip(x, a_min=None, a_max=4)", FRAME, standardize=False)
    assert (design.matrix() == np.column_stack([np.clip(x, 2, None), np.clip(x, None, 4)])).all()


def test_functions_of_whole_number_columns_compute_in_floating_point() -> None:
    """``I(age ** 20)`` on a column of whole numbers wrapped around to negative values (an outside review)."""
    frame = pd.DataFrame({"age": np.arange(16, 40), "y": np.arange(24) % 2})
    design = Design("I(age ** 20) + I(age * 10**20)", frame, standardize=False)
    age = frame["age"].to_numpy(dtype=float)
    np.testing.assert_allclose(design.matrix(), np.column_stack([age**20, age * 1e20]), rtol=1e-12)
    assert (design.matrix() > 0).all()
    with pytest.raises(DataError, match="not a finite number"):
        Design("I(age ** 400)", frame, standardize=False)
    categories = Design("C(age)", frame, standardize=False)
    assert categories.labels[0] == "age[17]"  # categories keep their whole-number levels
