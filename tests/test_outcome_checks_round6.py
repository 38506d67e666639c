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


@pytest.mark.parametrize(("family", "wobble"), [("gaussian", 0.0), ("student_t", 0.0), ("gaussian", 1e-10)])
def test_a_constant_continuous_outcome_is_a_data_error(tmp_path, capsys, family, wobble) -> None:
    rng = np.random.default_rng(0)
    score = 1.0 + wobble * (
        np.arange(40) == 3
    )  # a review: one value 1e-10 off passed, then exit 1 at the initial point
    pd.DataFrame({"score": score, "x": rng.normal(size=40), "school": np.repeat(list("abcd"), 10)}).to_csv(
        tmp_path / "rows.csv", index=False, float_format="%.17g"
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

    assert format_numbers([1.23, 1990438468.2], "MOR") == ["1.23", "1.99e+09"]
    assert format_numbers([1.23, 1990438468.2], "MOR", "nb") == ["1,23", "1,99e+09"]
    # an interval prints its ends alike (a review: "896752 NOK (90% ETI 737309 to 1.06e+06 NOK)")
    assert format_numbers([896752, 737309, 1.06e6], "NOK") == ["8.97e+05", "7.37e+05", "1.06e+06"]
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


def _config(tmp_path, model: dict, frame: pd.DataFrame | None = None):
    rng = np.random.default_rng(2)
    if frame is None:
        frame = pd.DataFrame(
            {"y": rng.normal(size=40), "age": rng.normal(40, 5, 40), "school": np.repeat(list("abcd"), 10)}
        )
    frame.to_csv(tmp_path / "rows.csv", index=False)
    raw = {"name": "x", "data": {"main": "rows.csv"}, "model": {"kind": "multilevel", "family": "gaussian", **model}}
    (tmp_path / "c.toml").write_text(tomli_w.dumps(raw))
    return tmp_path / "c.toml"


@pytest.mark.parametrize(
    ("model", "words"),
    [
        (
            {"formula": "y ~ age + (1 | school)", "outcome_unit_nb": "poeng"},
            "model.outcome_unit_nb needs model.outcome_unit",
        ),
        ({"formula": "y ~ np.where(age) + (1 | school)"}, "the formula's terms could not be evaluated"),
        ({"formula": "y ~ np.round(age, age) + (1 | school)"}, "check each function's arguments"),
    ],
)
def test_new_keys_and_functions_misused_are_config_errors(tmp_path, capsys, model, words) -> None:
    """A review of this round: these exited 1 ("unexpected failure") or were accepted and then ignored."""
    code = main(["check", str(_config(tmp_path, model))])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "unexpected failure" not in err


def test_a_unit_named_only_in_english_leaves_the_norwegian_default() -> None:
    """A review: vocabulary.unit = "person" alone made a Norwegian report say "studiens people"."""
    from ipsbayes.models.multilevel import Multilevel, MultilevelSpec

    def words(vocabulary: dict) -> tuple:
        found = Multilevel().vocabulary(MultilevelSpec(formula="y ~ x + (1 | g)", vocabulary=vocabulary))
        return found.get("units"), found.get("units_nb")

    assert words({"unit": "person"}) == ("people", "observasjoner")
    assert words({"unit": "person", "unit_nb": "person"}) == ("people", "personer")
    assert words({"unit_nb": "elev"}) == ("observations", "elever")
