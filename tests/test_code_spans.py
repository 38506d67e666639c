"""Formulas and column names in the model description stay one code span, backticks and bars included."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest
import tomli_w

from ipsbayes.cli import main
from ipsbayes.textutil import code_span


def test_code_span_fences_past_the_values_own_backticks() -> None:
    assert code_span("score ~ `reading age` + (1 | school)", in_table=False) == (
        "``score ~ `reading age` + (1 | school)``"
    )
    assert code_span("a|b") == "`a\u00a6b`"  # in a table cell a bar would split the cell
    assert code_span("`x`", in_table=False) == "`` `x` ``"


@pytest.mark.sampling
def test_a_backticked_column_in_the_formula_reads_as_written_in_both_reports(tmp_path) -> None:
    rng = np.random.default_rng(4)
    school = np.repeat([f"s{i}" for i in range(6)], 30)
    age = rng.normal(10, 2, school.size).round(1)
    score = 40 + 2 * age + rng.normal(0, 1, 6).repeat(30) + rng.normal(0, 3, school.size)
    pd.DataFrame({"score": score.round(2), "reading age": age, "school": school}).to_csv(
        tmp_path / "rows.csv", index=False
    )
    formula = "score ~ `reading age` + (1 | school)"
    raw = {
        "name": "ticks",
        "seed": 1,
        "data": {"main": "rows.csv"},
        "model": {"kind": "multilevel", "formula": formula, "family": "gaussian"},
        "priors": {"set": "defaults"},
        "sampler": {"profile": "ci"},
        "sensitivity": {"power_scaling": False},
    }
    (tmp_path / "config.toml").write_text(tomli_w.dumps(raw))
    assert main(["run", str(tmp_path / "config.toml"), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    markdown = (tmp_path / "run" / "report.md").read_text()
    assert f"Formula: ``{formula}``" in markdown
    page = (tmp_path / "run" / "report.html").read_text()
    codes = [html.unescape(c) for c in re.findall(r"<code>(.*?)</code>", page)]
    assert formula in codes  # one code span holding the whole formula, its bar and backticks as written


@pytest.mark.parametrize("language", ["en", "nb"])
def test_the_time_to_event_description_keeps_a_backticked_formula_in_one_span(tmp_path, language) -> None:
    """An outside review: `months outside` ended the time-to-event description's single-backtick span early."""
    from ipsbayes.runner import check

    from .conftest import time_to_job_with_spaced_age

    config, formula = time_to_job_with_spaced_age(tmp_path)
    plan = check(config)
    text = plan.family.describe(plan.spec, plan.data, language=language)
    assert f"``{formula}``" in text
