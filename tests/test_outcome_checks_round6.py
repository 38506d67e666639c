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
