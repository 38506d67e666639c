"""The first screen's prior dependence from the prior draws, for a run with no refits and no power-scaling.

Flipped truth: which element the data narrowed least, and the verdict on the priors' weight, follow the widths.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr

from ipsbayes.present import ReportContext
from ipsbayes.present.answers import prior_dependence_line
from ipsbayes.present.style import Style

CONTRASTS = ["age: +1 SD", "gender: male vs female"]


def vector(spreads: list[float], draws: int = 4000, seed: int = 1) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    values = rng.normal(0.0, 1.0, (1, draws, len(spreads))) * np.array(spreads)
    return xr.DataArray(
        values, dims=("chain", "draw", "contrast"), coords={"contrast": CONTRASTS}, attrs={"unit": "pp", "null": 0.0}
    )


def context(prior: list[float], posterior: list[float], language: str = "en") -> ReportContext:
    estimands = xr.Dataset({"ame": vector(posterior)})
    tree = xr.DataTree.from_dict(
        {"estimands": estimands, "prior_estimands": xr.Dataset({"ame": vector(prior, seed=2)})}
    )
    return ReportContext(estimands, tree, None, Style("eti", 0.9, language))


@pytest.mark.parametrize("language", ["en", "nb"])
def test_the_element_the_data_narrowed_least_and_its_verdict_follow_the_widths(language: str) -> None:
    short = ("the effect", "effekten")
    prior_heavy = prior_dependence_line(context([10.0, 10.0], [9.0, 1.0], language), "ame", short)
    data_heavy = prior_dependence_line(context([10.0, 10.0], [1.0, 2.0], language), "ame", short)
    if language == "en":
        assert "for age: +1 SD (of its 2 elements, the one the data narrowed least)" in prior_heavy
        assert re.search(r"is (89|90|91)% as wide, so the estimate still rests largely on the priors", prior_heavy)
        assert "for gender: male vs female" in data_heavy
        assert re.search(r"is (19|20|21)% as wide, so the data, not the priors, decide", data_heavy)
        assert re.search(r"anywhere from -16\.\d pp to 16\.\d pp \(90% ETI\)", prior_heavy)  # the priors' interval
        assert "`sensitivity.power_scaling = true`" in prior_heavy
    else:
        assert re.search(r"(89|90|91) % så bredt, så anslaget hviler fortsatt i stor grad på priorene", prior_heavy)
        assert re.search(r"(19|20|21) % så bredt, så det er dataene, ikke priorene", data_heavy)
        assert re.search(r"fra -16,\d prosentpoeng til 16,\d prosentpoeng", prior_heavy)
        assert "den som dataene snevret minst inn" in prior_heavy


def test_one_element_asked_for_is_the_one_stated() -> None:
    line = prior_dependence_line(context([10.0, 10.0], [9.0, 1.0]), "ame[gender: male vs female]", ("it", "det"))
    assert line.startswith("The priors alone allow it anywhere from") and re.search(r"is (9|10|11)% as wide", line)


def test_without_prior_draws_the_line_says_nothing_was_checked() -> None:
    estimands = xr.Dataset({"ame": vector([1.0, 1.0])})
    ctx = ReportContext(estimands, xr.DataTree.from_dict({"estimands": estimands}), None, Style("eti", 0.9))
    assert "was not checked in this run (no refits" in prior_dependence_line(ctx, "ame", ("the effect", "effekten"))
