"""Findings of the fourth outside review that are not tied to one model family (each fails before its fix)."""

from __future__ import annotations

import pytest

from ipsbayes.diagnostics import Check
from ipsbayes.diagnostics_text import check_text


@pytest.mark.parametrize(("value", "noun"), [(1, "1 observasjon har"), (3, "3 observasjoner har")])
def test_a_norwegian_pareto_k_finding_has_the_right_number(value: int, noun: str) -> None:
    check = Check("pareto_k", "warn", value, "warn if any k > 0.70", "", message_nb="")
    assert noun in check_text(check, "nb")
