"""Small-cell protection: one helper every text, table, figure and CSV uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ipsbayes.present.cells import cell_text, suppress, suppression_note, too_small


def test_cells_below_min_cell_are_suppressed_in_every_container() -> None:
    counts = [3, 10, 4, 40]
    expected = [True, False, True, False]
    assert too_small(counts, 5).tolist() == expected
    assert np.isnan(suppress([0.0, 50.0, 25.0, 20.0], counts, 5)).tolist() == expected
    assert suppress(pd.Series([0.0, 50.0, 25.0, 20.0]), counts, 5).isna().tolist() == expected
    table = suppress(pd.DataFrame(np.ones((4, 3))), counts, 5)
    assert table.isna().all(axis=1).tolist() == expected
    shares = xr.DataArray(np.ones((4, 3)), dims=("service", "category"))
    assert suppress(shares, counts, 5).isnull().all("category").values.tolist() == expected
    assert not too_small(5, 5) and not too_small(0, 5)


def test_cell_text_and_note_in_both_languages() -> None:
    assert cell_text("0%", 3, 5) == "suppressed (a cell under 5)"
    assert cell_text("0 %", 3, 5, "nb") == "skjult (en celle under 5)"
    assert cell_text("12%", 12, 5) == "12%"
    assert suppression_note(0, 5) == ""
    assert "fewer than 5 participants" in suppression_note(2, 5)
    assert "færre enn 5 deltakere" in suppression_note(2, 5, "nb")
