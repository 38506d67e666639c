"""The design (assurance) report: sentences computed from the curve in en and nb, rendered like run reports.

No sampling: the curve is made up, so the truth is known and can be flipped.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from ipsbayes.present.style import MIN_FONT_PT
from ipsbayes.report.design_report import DesignText, write_design_report
from ipsbayes.report.figures import iter_figures
from ipsbayes.report.layout import layout_problems
from ipsbayes.report.standalone import standalone_context

HOSTILE = "<script>alert(1)</script>"


def curve(assurance: list[float], trials: int = 2000) -> pd.DataFrame:
    sizes = [66, 150, 300][: len(assurance)]
    return pd.DataFrame(
        {
            "size": sizes,
            "trials": trials,
            "failed": 0,
            "assurance": assurance,
            "assurance_mcse": [(a * (1 - a) / trials) ** 0.5 for a in assurance],
            "mean_interval_width": [38.0, 28.0, 21.0][: len(sizes)],
            "interval_width_mcse": [0.4, 0.3, 0.2][: len(sizes)],
        }
    )


def meta(ceiling: float = 0.9, prior_set: str = "weakly_informative", trials: int = 2000) -> dict:
    return {
        "design": {
            "success": {"estimand": "cace", "threshold": 0.0, "probability": 0.95},
            "interval_prob": 0.9,
            "allocation": 0.5,
            "trials": trials,
        },
        "analysis_prior_set": prior_set,
        "design_prior_source": "posterior of rij_cace",
        "design_prior_source_nb": "posterior for rij_cace",
        "ceiling": ceiling,
        "failed_fits": 0,
        "fits": 120,
        "config": "rij.toml",
        "seed": 1,
    }


@pytest.mark.parametrize("language", ["en", "nb"])
def test_answer_flips_with_the_curve(language: str) -> None:
    """Flipped truth: a curve that reaches 80% names its first size; one that does not says so, in both languages."""
    ctx = standalone_context(language, interval_prob=0.9)
    reaches = DesignText(curve([0.3, 0.82, 0.88]), meta(), "pp").answer(ctx)
    short = DesignText(curve([0.2, 0.4, 0.55]), meta(), "pp").answer(ctx)
    if language == "en":
        assert "reaches 80% is 150 participants" in reaches[0] and "0.82" in reaches[0]
        assert "None of the planned sizes" in short[0] and "0.55" in short[0] and "300 participants" in short[0]
        assert "close to it" in reaches[1] and "well below it" in short[1]
    else:
        assert "når 80 %, er 150 deltakere" in reaches[0] and "0,82" in reaches[0]
        assert "Ingen av de planlagte" in short[0] and "0,55" in short[0] and "300 deltakere" in short[0]
        assert "ligger nær den" in reaches[1] and "godt under" in short[1]


@pytest.mark.parametrize("language", ["en", "nb"])
def test_answer_claims_only_what_the_monte_carlo_error_supports(language: str) -> None:
    """Flipped truth: 3 simulated trials per size cannot tell 0.67 from 80%, or 1.00 from it; 2,000 can."""
    ctx = standalone_context(language, interval_prob=0.9)
    few_short = DesignText(curve([0.33, 0.67, 0.67], trials=3), meta(0.88, trials=3), "pp").answer(ctx)
    few_reach = DesignText(curve([0.33, 1.0, 1.0], trials=3), meta(1.0, trials=3), "pp").answer(ctx)
    many_short = DesignText(curve([0.33, 0.67, 0.67]), meta(0.95), "pp").answer(ctx)
    if language == "en":
        assert "too small to tell whether assurance stays below 80%" in few_short[0]
        assert "None of the planned sizes" not in few_short[0] and "trials per size would" in few_short[0]
        assert "too small to tell how close" in few_short[1] and "well below" not in few_short[1]
        assert "cannot tell whether it truly reaches 80%" in few_reach[0]
        assert "None of the planned sizes reaches" in many_short[0] and "well below it" in many_short[1]
    else:
        assert "for liten til å avgjøre om den ligger under 80 %" in few_short[0]
        assert "Ingen av de planlagte størrelsene når" not in few_short[0]
        assert "for liten til å si hvor nær" in few_short[1] and "godt under" not in few_short[1]
        assert "kan simuleringen ikke avgjøre om den virkelig når 80 %" in few_reach[0]
        assert "Ingen av de planlagte størrelsene når" in many_short[0] and "godt under" in many_short[1]


def test_design_figure_fits_the_profile() -> None:
    ctx = standalone_context("nb", interval_prob=0.9)
    presentation = DesignText(curve([0.3, 0.82, 0.88]), meta(), "pp").presentation()
    drawn = []
    with matplotlib.rc_context(ctx.style.rc()):
        for spec, fig, caption in iter_figures(ctx, presentation, shared=False):
            drawn.append(spec.name)
            assert not layout_problems(fig, MIN_FONT_PT), layout_problems(fig, MIN_FONT_PT)
            assert fig.get_size_inches()[0] == pytest.approx(ctx.style.width) and caption
            plt.close(fig)
    assert drawn == ["assurance_curve"]


def test_design_report_is_escaped_and_uses_the_shared_templates(tmp_path: Path) -> None:
    write_design_report(tmp_path, curve([0.3, 0.82, 0.88]), meta(prior_set=HOSTILE), "pp", "en")
    html, md = (tmp_path / "report.html").read_text(), (tmp_path / "report.md").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>" not in md.replace("\\<script\\>", "")
    assert 'id="answer"' in html and md.startswith("---\ntitle:")
    assert (tmp_path / "figures" / "assurance_curve.png").is_file()
    assert (tmp_path / "figures" / "assurance_curve.svg").is_file()


@pytest.mark.parametrize("language", ["en", "nb"])
def test_design_report_opens_with_a_verdict_block(tmp_path: Path, language: str) -> None:
    """Flipped truth: 3 trials per size warn (the answer is undecided), 2,000 pass; failed analyses warn."""
    few, many = tmp_path / "few", tmp_path / "many"
    few.mkdir(), many.mkdir()
    write_design_report(few, curve([0.33, 0.67, 0.67], trials=3), meta(0.88, trials=3), "pp", language)
    write_design_report(many, curve([0.3, 0.82, 0.88]), meta(), "pp", language)
    few_html, many_html = (few / "report.html").read_text(), (many / "report.html").read_text()
    assert '<div class="verdict warn"' in few_html and '<div class="verdict pass"' in many_html
    assert ("too few to tell" if language == "en" else "for få til å avgjøre") in few_html
    assert few_html.index('class="verdict') < few_html.index('id="answer"')
    assert (few / "report.md").read_text().split("---", 2)[2].lstrip().startswith("> **")
    ctx = standalone_context(language, interval_prob=0.9)
    failed = DesignText(curve([0.3, 0.82, 0.88]), {**meta(), "failed_fits": 4}, "pp").verdict(ctx)
    assert failed["status"] == "warn" and "4" in failed["reasons"][0]


@pytest.mark.parametrize("language", ["en", "nb"])
def test_a_pinned_parameter_is_stated_in_the_answer_and_the_question(tmp_path: Path, language: str) -> None:
    """``[design.fixed]`` is an assumption of the config: the first screen says so; zero effect = false positives."""
    ctx = standalone_context(language, interval_prob=0.9)
    harm = meta(ceiling=0.0)
    harm["design"]["fixed"] = {"treatment_effect": -1.0}
    answer = DesignText(curve([0.0, 0.0, 0.0]), harm, "pp").answer(ctx)
    pinned = "treatment_effect = -1" + (".00" if language == "en" else ",00")
    assert pinned in answer[-1], answer  # plain text: the template escapes the answer once
    assert ("instead of drawn from the design prior" if language == "en" else "i stedet for trukket") in answer[-1]
    assert ("with the fixed values" if language == "en" else "med de faste verdiene") in answer[1]
    assert pinned.replace("_", "\\_") in DesignText(curve([0.0, 0.0, 0.0]), harm, "pp").question(ctx)  # Markdown
    write_design_report(tmp_path, curve([0.0, 0.0, 0.0]), harm, "pp", language)
    md = (tmp_path / "report.md").read_text()
    assert "treatment\\_effect" in md and "\\\\_" not in md  # escaped once, never twice
    null = meta(ceiling=0.0)
    null["design"]["fixed"] = {"treatment_effect": 0.0}
    text = " ".join(DesignText(curve([0.04, 0.05, 0.05]), null, "pp").answer(ctx))
    assert ("false-positive rate" if language == "en" else "falske positive") in text
    plain = " ".join(DesignText(curve([0.3, 0.82, 0.88]), meta(), "pp").answer(ctx))
    assert "design.fixed" not in plain  # nothing pinned, nothing said


@pytest.mark.parametrize("language", ["en", "nb"])
def test_the_studys_own_unit_word_is_used_throughout(tmp_path: Path, language: str) -> None:
    words = {"en": "pupils", "nb": "elever"}
    write_design_report(tmp_path, curve([0.3, 0.82, 0.88]), {**meta(), "units": words}, "pp", language)
    md = (tmp_path / "report.md").read_text()
    assert f"150 {words[language]}" in md and f"| {words[language].capitalize()} |" in md
    assert "participants" not in md and "deltakere" not in md
    svg = (tmp_path / "figures" / "assurance_curve.svg").read_text()
    assert f"{words[language]} i studien" in svg if language == "nb" else "pupils in the trial" in svg


def test_the_reproducibility_table_of_a_norwegian_design_report_is_norwegian(tmp_path: Path) -> None:
    write_design_report(
        tmp_path, curve([0.3, 0.82, 0.88]), {**meta(), "seconds": 7.5, "where": "in-process"}, "pp", "nb"
    )
    md = (tmp_path / "report.md").read_text()
    assert "| sekunder | 7,5 |" in md and "| konfigurasjon |" in md and "| frø | 1 |" in md and "i samme prosess" in md
    assert "| config |" not in md and "7.5" not in md


@pytest.mark.parametrize("language", ["en", "nb"])
def test_assurance_above_the_ceiling_is_called_false_positives_not_a_bound(language: str) -> None:
    """An outside reviewer's case: a null effect pinned, ceiling 0.00, assurance 0.70 beside 'cannot exceed'."""
    ctx = standalone_context(language, interval_prob=0.9)
    null = meta(ceiling=0.0)
    null["design"]["fixed"] = {"treatment_effect": 0.0}
    sentence = DesignText(curve([0.5, 0.6, 0.7]), null, "pp").ceiling_sentence(ctx)
    assert ("false positives" if language == "en" else "falske positive") in sentence, sentence
    assert "cannot exceed" not in sentence and "kan ikke bli større" not in sentence
    assert ("0.70" if language == "en" else "0,70") in sentence  # at least 0.70 - 0.00 of it


def test_ceiling_and_change_claims_need_the_monte_carlo_error_to_allow_them() -> None:
    """5 trials per size, best at the smallest size: "the largest sizes are close to it" and "rises" were said."""
    ctx = standalone_context("en", interval_prob=0.9)
    few = curve([0.8, 0.4], trials=5)
    text = DesignText(few, meta(ceiling=0.85, trials=5), "pp")
    assert "close to it" not in text.answer(ctx)[1]
    assert "does not change beyond its Monte Carlo error" in text.table(ctx)  # 0.8 -> 0.4 with 5 trials each
    assert "(0.00)" not in DesignText(curve([1.0, 0.0], trials=5), meta(trials=5), "pp").table(ctx)
    many = DesignText(curve([0.4, 0.8], trials=2000), meta(ceiling=0.85), "pp")
    assert "close to it" in many.answer(ctx)[1]


@pytest.mark.parametrize("language", ["en", "nb"])
def test_no_success_at_all_states_the_tables_monte_carlo_error_and_the_ceiling_it_sits_at(language: str) -> None:
    """0 of 12 simulated trials succeeded at every size: the answer said 'MC SE 0.00' while the table said 0.08,
    and a ceiling of 0.00 was 'too small to tell how close the sizes come to it'."""
    ctx = standalone_context(language, interval_prob=0.9)
    text = DesignText(curve([0.0, 0.0], trials=12), meta(0.0, trials=12), "pp")
    answer = text.answer(ctx)
    table = text.table(ctx)
    se = "0.08" if language == "en" else "0,08"
    assert f"MC SE {se}" in answer[0] and f"({se})" in table
    assert ("close to it" if language == "en" else "ligger nær den") in answer[1]
    assert "too small" not in answer[1] and "for liten" not in answer[1]
