"""Outcomes no model can fit are refused before sampling, naming the file, the column and the rows.

An outside review: a Gaussian outcome with the same value in every row was accepted; the run sampled
with E-BFMI 0.00 and most transitions at the maximum tree depth, and the prior table said "mean of
the outcome (1) +/- 2.5 SD (1)" though the SD was 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tomli_w

from ipsbayes.cli import main


@pytest.mark.parametrize("family", ["gaussian", "student_t"])
def test_a_constant_continuous_outcome_is_a_data_error(tmp_path, capsys, family) -> None:
    rng = np.random.default_rng(0)
    pd.DataFrame({"score": 1.0, "x": rng.normal(size=40), "school": np.repeat(list("abcd"), 10)}).to_csv(
        tmp_path / "rows.csv", index=False
    )
    raw = {
        "name": "constant",
        "data": {"main": "rows.csv"},
        "model": {"kind": "multilevel", "formula": "score ~ x + (1 | school)", "family": family},
    }
    (tmp_path / "c.toml").write_text(tomli_w.dumps(raw))
    for args in (["check"], ["run", "--out", str(tmp_path / "run"), "--profile", "ci"]):
        code = main([args[0], str(tmp_path / "c.toml"), *args[1:]])
        err = capsys.readouterr().err
        assert code == 2, err
        assert "rows.csv: column 'score' has the same value (1) in all 40 rows" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_the_pareto_message_prints_the_largest_k_apart_from_its_limit() -> None:
    """An outside review: "Pareto k > 0,66 (maks 0,66)" flagged a k that printed as the limit."""
    from ipsbayes.diagnostics import _places_apart

    assert _places_apart(0.6582, 0.6555) == 3  # 0.658 against 0.656
    assert _places_apart(0.85, 0.66) == 2
    assert _places_apart(0.7, 0.7) == 2


def test_a_huge_ratio_is_written_with_an_exponent_not_with_its_neighbours_decimals() -> None:
    """An outside review: a median odds ratio's interval printed as "1.2 to 1990438468.2" (all-zero outcome)."""
    from ipsbayes.present.text import format_numbers

    assert format_numbers([1.23, 1990438468.2], "MOR") == ["1.2", "1.99e+09"]
    assert format_numbers([1.23, 1990438468.2], "MOR", "nb") == ["1,2", "1,99e+09"]
    assert format_numbers([12.34, 56.78], "pp") == ["12.3", "56.8"]


def test_a_group_level_predictor_varying_within_groups_is_told_in_the_designs_words(tmp_path, capsys) -> None:
    """An outside review: "varies within 4 county(s) ... (or put it in the services table)" in a county design."""
    rng = np.random.default_rng(1)
    county = np.repeat(list("ABCD"), 10)
    pd.DataFrame({"y": rng.integers(0, 2, 40), "age": rng.normal(50, 5, 40).round(1), "county": county}).to_csv(
        tmp_path / "rows.csv", index=False
    )
    raw = {
        "name": "county",
        "data": {"main": "rows.csv"},
        "model": {
            "kind": "multilevel",
            "formula": "y ~ age + (1 | county)",
            "family": "bernoulli",
            "group_predictors": {"age": "county"},
        },
    }
    (tmp_path / "c.toml").write_text(tomli_w.dumps(raw))
    assert main(["check", str(tmp_path / "c.toml")]) == 2
    err = capsys.readouterr().err
    assert "'age' is a county-level predictor but varies within 4 counties, e.g. county A" in err
    assert "(or put it in a table with one row per county)" in err and "services" not in err
