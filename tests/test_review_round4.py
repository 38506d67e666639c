"""Findings of the fourth outside review that are not tied to one model family (each fails before its fix)."""

from __future__ import annotations

import pytest

from ipsbayes.diagnostics import Check
from ipsbayes.diagnostics_text import check_text


@pytest.mark.parametrize(("value", "noun"), [(1, "1 observasjon har"), (3, "3 observasjoner har")])
def test_a_norwegian_pareto_k_finding_has_the_right_number(value: int, noun: str) -> None:
    check = Check("pareto_k", "warn", value, "warn if any k > 0.70", "", message_nb="")
    assert noun in check_text(check, "nb")


@pytest.mark.parametrize("language", ["en", "nb"])
def test_numbers_in_norwegian_figures_have_decimal_commas(language: str, tmp_path) -> None:
    """Tick labels (drawn later by the formatters), titles, legends and category labels alike."""
    import re

    import matplotlib
    import matplotlib.pyplot as plt

    from ipsbayes.present.style import Style
    from ipsbayes.report.layout import fit_to_profile

    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig, ax = plt.subplots()
        ax.plot([0, 0.5, 1.0], [0.1, 2.5, 1.25], label="power 0.8")
        ax.set_yticks([0.5, 1.5], ["age: +1 SD (4.33)", "IPS-25"])
        ax.set_title("likelihood scaled: 0.089")
        ax.legend()
        fit_to_profile(fig, Style("eti", 0.9, language=language))
        fig.savefig(tmp_path / "f.svg")
        plt.close(fig)
    texts = re.findall(r">([^<>]+)</text>", (tmp_path / "f.svg").read_text())
    expected = ["0,2", "age: +1 SD (4,33)", "likelihood scaled: 0,089", "power 0,8", "IPS-25"]
    if language == "en":
        expected = [text.replace(",", ".") for text in expected]
    assert set(expected) <= set(texts), texts


@pytest.mark.parametrize(
    ("name", "en", "nb"),
    [
        ("sd_service", "SD of school effects", "SD for skole-effekter"),
        (
            "baseline_logit[1, education]",
            "baseline hazard (log-odds), 1, education",
            "grunnrisiko (log-odds), 1, utdanning",
        ),
        ("hazard_trend[work]", "baseline hazard trend, work", "trend i grunnrisikoen, arbeid"),
        ("fidelity_sd", "SD of true fidelity scores", "SD for sanne trofasthetsskårer"),
    ],
)
def test_parameter_labels_use_the_studys_words_and_the_reports_language(name: str, en: str, nb: str) -> None:
    """Rank plots and diagnostics named 'sd service' in a study of schools, and English targets in bokmål."""
    from ipsbayes.diagnostics_text import parameter_label

    words = {"service": "school", "service_nb": "skole", "education_nb": "utdanning", "work_nb": "arbeid"}
    assert (parameter_label(name, "en", words), parameter_label(name, "nb", words)) == (en, nb)
