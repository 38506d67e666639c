"""A generic design's report speaks in the config's own words, in both languages.

An outside review of designs statisticians bring found: "countys", "laboratorys" and "batchs" in
report sentences, labels and figure titles (the plural added a bare "s"); ``vocabulary.unit`` without
``units`` left every sentence counting "observations"; a Norwegian report wrote the outcome's unit
("points") and the units ("patients") in English in the model section, the forest figure's axis
and caption and the caterpillar's axis, though the config gave ``outcome_unit_nb`` and ``units_nb``;
the predictive density figure named the raw column (``score``) instead of the outcome's label; and
"hver fylkes" / "en ny fylke" got a neuter noun's gender wrong (now worded without gender).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w

from ipsbayes.cli import main

pytestmark = pytest.mark.sampling


def _svg_texts(path: Path) -> list[str]:
    return [re.sub(r"<[^>]*>", "", t) for t in re.findall(r"<text[^>]*>[^<]*</text>", path.read_text())]


def _fit(folder: Path, frame: pd.DataFrame, model: dict, report: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "rows.csv", index=False)
    raw = {
        "name": folder.name,
        "seed": 3,
        "data": {"main": "rows.csv"},
        "model": {"kind": "multilevel", **model},
        "priors": {"set": "defaults"},
        "sampler": {"profile": "ci"},
        "report": {"min_cell": 3, **report},
    }
    (folder / "config.toml").write_text(tomli_w.dumps(raw))
    out = folder / "run"
    assert main(["run", str(folder / "config.toml"), "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def english(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(1)
    county = np.repeat([f"c{i}" for i in range(6)], 60)
    clinic = np.array([f"{c}-k{j % 3}" for j, c in enumerate(county)])
    treat = rng.integers(0, 2, county.size)
    eta = -0.5 + 0.8 * treat + rng.normal(0, 0.5, 6).repeat(60)
    frame = pd.DataFrame(
        {"y": (rng.uniform(size=county.size) < 1 / (1 + np.exp(-eta))).astype(int), "treat": treat}
        | {"county": county, "clinic": clinic}
    )
    model = {
        "formula": "y ~ treat + (1 | county/clinic)",
        "family": "bernoulli",
        "vocabulary": {"unit": "patient", "county": "county", "clinic": "laboratory"},
    }
    return _fit(tmp_path_factory.mktemp("words") / "en", frame, model, {})


@pytest.fixture(scope="module")
def norwegian(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(2)
    school = np.repeat([f"s{i}" for i in range(8)], 40)
    tutoring = rng.integers(0, 2, school.size)
    score = 50 + 3 * tutoring + rng.normal(0, 4, 8).repeat(40) + rng.normal(0, 6, school.size)
    frame = pd.DataFrame({"score": score.round(1), "tutoring": tutoring, "school": school})
    model = {
        "formula": "score ~ tutoring + (1 | school)",
        "family": "gaussian",
        "outcome_label": "reading score",
        "outcome_label_nb": "leseskåre",
        "outcome_unit": "points",
        "outcome_unit_nb": "poeng",
        "vocabulary": {"unit": "pupil", "unit_nb": "elev", "school": "county", "school_nb": "fylke"},
    }
    return _fit(
        tmp_path_factory.mktemp("words") / "nb", frame, model, {"language": "nb", "labels": {"tutoring": "leksehjelp"}}
    )


def test_english_plurals_are_regular_and_the_unit_counts(english: Path) -> None:
    text = (english / "report.md").read_text()
    assert not re.search(r"countys|laboratorys", text + (english / "summary.csv").read_text())
    assert "counties" in text and "laboratories" in text
    assert "Median odds ratio between two random counties" in (english / "summary.csv").read_text()
    assert "360 patients" in text  # vocabulary.unit alone: its plural counts the rows
    assert "this study's patients" in text and "this study's observations" not in text
    titles = " ".join(_svg_texts(english / "figures" / "group_caterpillar.svg"))
    assert "Countys" not in titles and "Counties" in titles


def test_a_norwegian_report_writes_the_units_and_the_outcome_unit_in_norwegian(norwegian: Path) -> None:
    text = (norwegian / "report.md").read_text()
    assert "points" not in text and "pupil" not in text
    assert "(poeng) for 320 elever i 8 fylker" in text
    assert "marginale effekter i poeng" in text
    forest = " ".join(_svg_texts(norwegian / "figures" / "effects_forest.svg"))
    assert "Gjennomsnittlig marginal effekt (poeng)" in forest and "points" not in forest
    caterpillar = " ".join(_svg_texts(norwegian / "figures" / "group_caterpillar.svg"))
    assert "(poeng)" in caterpillar and "points" not in caterpillar
    density = _svg_texts(norwegian / "figures" / "ppc_density.svg")
    assert "leseskåre" in density and "score" not in density


def test_norwegian_group_sentences_need_no_gender(norwegian: Path) -> None:
    text = (norwegian / "report.md").read_text()
    assert "med den anslåtte effekten per fylke" in text and "hvor langt nye fylker ville ligge" in text
    assert not re.search(r"\bhver fylkes\b|\ben ny fylke\b", text)


def test_a_labelled_contrast_reads_the_same_in_text_figure_and_norwegian_tables(norwegian: Path) -> None:
    """The review: the forest said "1 mot 0" beside text saying "ja mot nei"; summary_nb.csv said "tutoring"."""
    assert "Leksehjelp: ja mot nei" in (norwegian / "report.md").read_text()
    forest = _svg_texts(norwegian / "figures" / "effects_forest.svg")
    assert "leksehjelp: ja mot nei" in forest and not any("1 mot 0" in t for t in forest)
    table = (norwegian / "summary_nb.csv").read_text(encoding="utf-8-sig")
    assert ";leksehjelp: ja mot nei;" in table and "tutoring" not in table


def test_loo_on_collapsed_rows_says_what_a_row_is(english: Path) -> None:
    """The review's run: "1 of 36 observations has Pareto k" for 360 patients (rows collapsed to 36 patterns)."""
    diagnostics = (english / "diagnostics.json").read_text()
    assert "of 36 binomial rows (360 rows collapsed by identical predictors and groups" in diagnostics
    assert "of 36 observations" not in diagnostics
