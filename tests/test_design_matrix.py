"""The population-level design matrix: what is standardised, and counterfactual matrices built fast.

``Design`` standardises numeric predictors, but a column used inside a formula's function
(``np.log(age)``, ``I(age**2)``) enters as the user knows it: standardising first made ``np.log`` of a
centred age undefined for half the rows (the model could not be built) and changed what ``I(age**2)``
means. Counterfactual matrices are evaluated on the formula's columns only, with text as objects:
they must equal formulae's matrices of the whole frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ipsbayes.models.design import Design
from ipsbayes.runner import check


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 240
    return pd.DataFrame(
        {
            "y": rng.integers(0, 2, n),
            "age": rng.normal(30.0, 5.0, n),
            "group": pd.array(rng.choice(["a", "b", "c"], n), dtype="str"),
            "sex": rng.integers(0, 2, n),
            "service": pd.array(rng.choice(["s1", "s2"], n), dtype="str"),
            "unused": pd.array(["x"] * n, dtype="str"),
        }
    )


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ age + group + sex + (1 | service)",
        "y ~ age * group + sex",
        "y ~ I(age**2) + C(sex) + group:sex",
        "y ~ np.log(age) + group",
        "age + group",
    ],
)
def test_counterfactual_matrices_equal_formulaes_on_the_whole_frame(
    frame: pd.DataFrame, formula: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    design = Design(formula, frame)
    contrasts = design.contrasts()
    assert contrasts
    fast = [matrix for contrast in contrasts for matrix in design.counterfactual(frame, contrast)]
    # the reference: formulae evaluates the whole frame, every column, text as pandas holds it
    monkeypatch.setattr(Design, "_plain", lambda self, whole: whole)
    plain = [matrix for contrast in contrasts for matrix in design.counterfactual(frame, contrast)]
    assert len(fast) == len(plain) == 2 * len(contrasts)
    for a, b in zip(fast, plain, strict=True):
        np.testing.assert_array_equal(a, b)


def test_columns_inside_functions_are_not_standardised(frame: pd.DataFrame) -> None:
    design = Design("y ~ np.log(age) + I(sex * 2) + group", frame)
    assert "age" not in design.scaling and np.all(np.isfinite(design.matrix()))
    column = design.labels.index("np.log(age)")
    np.testing.assert_allclose(design.matrix()[:, column], np.log(frame["age"]))
    plain = Design("y ~ age + group", frame)
    assert "age" in plain.scaling  # a plain numeric column is still standardised
    squared = Design("y ~ age + I(age**2)", frame)
    assert "age" not in squared.scaling  # the same column everywhere, on the user's scale
    np.testing.assert_allclose(squared.matrix()[:, squared.labels.index("I(age ** 2)")], frame["age"] ** 2)


def test_a_log_transformed_covariate_builds_a_model(make_config, small_ipsung) -> None:
    formula = "work_or_education_12m ~ np.log(age) + gender + months_outside + diagnosis + ips25 + (1 | service)"
    plan = check(make_config(data=small_ipsung, **{"model.formula": formula}))
    assert np.all(np.isfinite(plan.data.arrays["X"]))
    assert any("age: +1 unit" in c.label for c in plan.data.info["design"].contrasts())


def test_a_term_outside_its_functions_domain_names_the_term_the_rows_and_the_value(make_config, data_copy) -> None:
    from ipsbayes.errors import DataError
    from ipsbayes.testing import expect_error

    path = data_copy / "participants.csv"
    participants = pd.read_csv(path)
    participants.loc[[3, 10], "age"] = 0
    participants.to_csv(path, index=False)
    formula = "work_or_education_12m ~ np.log(age) + gender + months_outside + ips25 + (1 | service)"
    error = expect_error(check, make_config(data=data_copy, **{"model.formula": formula}))
    assert isinstance(error, DataError) and error.exit_code == 2
    message = str(error)
    assert str(path) in message and "'np.log(age)' is not a finite number at data rows 4, 11" in message
    assert "row 4: age = 0" in message
