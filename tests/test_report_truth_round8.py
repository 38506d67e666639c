"""Report wording found by the seventeenth round's outside review: each line now follows its numbers."""

from __future__ import annotations

import numpy as np

from ipsbayes.diagnostics import Check
from ipsbayes.diagnostics_text import check_text
from ipsbayes.present.phrases import amount
from ipsbayes.report.tables import sentence


def row(**changes: object) -> dict:
    base = {
        "unit": "pp", "label": "Effect", "element": "", "median": -0.3, "lower": -1.0, "upper": 0.5, "null": 0.0,
        "p_above_null": 0.445, "threshold": None, "p_beyond_threshold": np.nan,
    }  # fmt: skip
    return {**base, **changes}


def test_the_probability_below_the_null_prints_as_the_share_of_draws_below_does() -> None:
    """0.555 of the draws below 0 printed 'P(< 0) = 0.55' (1 - 0.445 = 0.5549999...) beside a table's 0.56."""
    assert sentence(row(), 0.9, "eti").endswith("P(< 0) = 0.56.")
    assert sentence(row(median=0.3, p_above_null=0.555), 0.9, "eti").endswith("P(> 0) = 0.56.")


def test_a_correlation_carries_no_unit_word_in_either_language() -> None:
    """Norwegian key results wrote '-0,199 korrelasjon (90 % ETI -0,764 til 0,478 korrelasjon)'."""
    assert amount(-0.199, "korrelasjon", "nb") == "-0,199" and amount(-0.199, "correlation", "en") == "-0.199"


def test_a_label_ending_in_a_preposition_leads_into_its_element() -> None:
    """'Share ... within [6 months]' (escaped in Markdown as '\\[6 months\\]') reads 'within 6 months'."""
    share = row(label="Share with a first job within", element="6 months", unit="%", null=None, median=26.7)
    assert sentence(share, 0.9, "eti").startswith("Share with a first job within 6 months: 26.7%")
    nb = row(label="Andel med første jobb innen", element="6 måneder", unit="%", null=None, median=26.7)
    assert sentence(nb, 0.9, "eti", "nb").startswith("Andel med første jobb innen 6 måneder: 26,7 %")
    other = row(label="Average marginal effect", element="age: +1 SD")
    assert sentence(other, 0.9, "eti").startswith("Average marginal effect [age: +1 SD]: ")


def test_norwegian_ess_lines_give_the_counts_the_english_ones_give() -> None:
    """The Norwegian banner wrote 'laveste bulk-ESS 132,774' (a count read as a decimal) and left out how many."""
    check = Check(
        "ess_bulk", "warn", 132.774, "warn < 400, fail < 100 (4 chains)",
        "bulk ESS below 400 for 17 of 294 parameter elements: x (133)", ["sd_service"], "advice",
        message_nb="bulk-ESS under 400 for 17 av 294 parameterelementer: x (133)",
    )  # fmt: skip
    line = check_text(check, "nb")
    assert "17 av 294 parameterelementer" in line and "132,774" not in line and "(133)" in line
