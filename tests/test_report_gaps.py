"""Three gaps an outside review found, closed for good (no sampling: the estimands of 60 prior draws).

1. A Norwegian time-to-event report names months, targets and units in Norwegian ("arbeid, 6 måneder",
   "% per måned", "måneder", decimal commas) in the key results, the estimates table, summary_nb.csv and
   the figures, while an English report keeps its words.
2. ``[report.labels]`` names a competing-outcomes category (and a time-to-event target) everywhere it is
   named: answer, key results, estimates table, sections, figures and captions.
3. User words are Markdown-escaped exactly once: a label with ``| _ * < & [`` shows literally (no
   backslash) in report.html and in report.md rendered to HTML, and never becomes HTML.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import markdown
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import tomli_w
import xarray as xr

from ipsbayes.diagnostics import Diagnostics
from ipsbayes.pipeline import descriptions
from ipsbayes.present.phrases import readable
from ipsbayes.present.text import format_number, unit_of
from ipsbayes.report.layout import all_text
from ipsbayes.report.render import ReportSettings, presentation_of, report_context, write_report
from ipsbayes.report.tables import csv_nb, labelled, summarise
from ipsbayes.runner import check
from ipsbayes.sampling import sample_prior_predictive
from ipsbayes.testing import edit_config, load_raw_config
from ipsbayes.textutil import neutralize_markdown

from .conftest import REPO
from .test_injection import assert_markdown_safe, assert_no_live_content
from .wording import cace_estimands, context, draws, variable

#: a label with every character Markdown or HTML could read as structure
HOSTILE = "a|b_c *d* <i>e</i> & [f] {g}"


class _Text(HTMLParser):
    """The text a browser shows (entities decoded, tags dropped)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def shown(html: str) -> str:
    """What a reader sees of ``html``."""
    parser = _Text()
    parser.feed(html)
    return "".join(parser.parts)


def rendered(md: str) -> str:
    """Markdown written by ipsbayes, as the package renders it to HTML (neutralised, tables extension)."""
    return markdown.markdown(neutralize_markdown(md), extensions=["tables"])


# ---------------------------------------------------------------------------------------------------- runs
@pytest.fixture(scope="module")
def plans(small_ipsung: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, xr.Dataset]]:
    """The shipped time-to-event and competing-outcomes models on the small data set, with 60 prior draws."""
    folder = tmp_path_factory.mktemp("gaps")
    out = {}
    for name in ("ipsung_time_to_job", "ipsung_outcomes"):
        raw = load_raw_config(REPO / "models" / f"{name}.toml")
        for key in ("participants", "services", "monthly_status"):
            if key in raw["data"]:
                raw["data"][key] = str(small_ipsung / f"{key}.csv")
        path = folder / f"{name}.toml"
        path.write_text(tomli_w.dumps(edit_config(raw, **{"sampler.profile": "ci"})))
        plan = check(path)
        out[name] = (plan, sample_prior_predictive(plan.model, draws=60, seed=3)["prior"].to_dataset())
    return out


def run_tree(plans: dict, name: str, language: str, labels: dict[str, str]) -> tuple[xr.DataTree, ReportSettings]:
    """The run's DataTree as the pipeline writes it (labels and language in the config) and its report settings."""
    plan, prior = plans[name]
    report = plan.config.report.model_copy(update={"language": language, "labels": labels})
    config = plan.config.model_copy(update={"report": report})
    estimands = plan.family.estimands(prior, plan.data, plan.spec, config)
    estimands.attrs.update({"model_kind": plan.family.kind, **descriptions(plan.family, plan.spec, plan.data)})
    estimands.attrs.setdefault("vocabulary", json.dumps(plan.family.vocabulary(plan.spec, plan.data)))
    settings = ReportSettings(
        title="t", language=language, labels=labels, thresholds=dict(config.report.thresholds), formats=["png"]
    )
    return xr.DataTree.from_dict({"estimands": estimands}), settings


def write(plans: dict, folder: Path, name: str, language: str, labels: dict[str, str] | None = None) -> dict:
    """Write the report of a run into ``folder``: report.md, report.html (and its text), summary_nb.csv, captions."""
    tree, settings = run_tree(plans, name, language, labels or {})
    folder.mkdir(parents=True, exist_ok=True)
    result = write_report(folder, tree, Diagnostics(), settings)
    md, html = (folder / "report.md").read_text(), (folder / "report.html").read_text()
    return {
        "md": md,
        "html": html,
        "text": shown(html),
        "md_text": shown(markdown.markdown(md, extensions=["tables"])),
        "nb_csv": (folder / "summary_nb.csv").read_bytes().decode("utf-8-sig"),
        "captions": {key: value["caption"] for key, value in result["figures"].items()},
        "titles": {key: value["title"] for key, value in result["figures"].items()},
        "figure_text": figure_text(tree, settings),
    }


def figure_text(tree: xr.DataTree, settings: ReportSettings) -> str:
    """Every text drawn in the run's figures (titles, axes, ticks, legends)."""
    from ipsbayes.report.figures import iter_figures

    ctx = report_context(tree, settings)
    texts = []
    for _, fig, _ in iter_figures(ctx, presentation_of(ctx.estimands)):
        texts.append(all_text(fig))
        plt.close(fig)
    return "\n".join(texts)


def section(md: str, heading: str) -> str:
    """The Markdown of one ``## heading`` section of report.md."""
    start = md.index(f"## {heading}")
    end = md.find("\n## ", start + 3)
    return md[start : end if end > 0 else None]


# ------------------------------------------------------------------------------- 1. Norwegian time to event
def test_readable_elements_speak_the_report_language() -> None:
    words = {"work_nb": "arbeid", "education": "skolegang"}
    assert readable("work, 6 months", words, "nb") == "arbeid, 6 måneder"
    assert readable("1 month", words, "nb") == "1 måned"
    assert readable("education_vs_work", words, "nb") == "skolegang mot arbeid"
    assert readable("reach ~ education_vs_work", words, "en") == "reach ~ skolegang vs work"
    assert readable("62.07, 3", words, "nb") == "62,07, 3"
    assert readable("work, 6 months", words, "en") == "work, 6 months"  # English keeps its words
    assert readable("age: +1 SD (4.39), education", words, "nb") == "age: +1 SD (4,39), skolegang"


def test_units_for_readers_and_their_rounding() -> None:
    assert unit_of({"unit": "% per month"}, "nb") == "% per måned"
    assert unit_of({"unit": "months"}, "nb") == "måneder"
    assert unit_of({"unit": "pp"}, "nb") == "pp" and unit_of({"unit": "months"}, "en") == "months"
    assert unit_of({"unit": "log-odds per 10 X points", "unit_nb": "log-odds per 10 X-poeng"}, "nb").endswith("poeng")
    assert format_number(5.83, "måneder", "nb") == format_number(5.83, "months", "nb") == "5,8"
    estimands = xr.Dataset({"h": variable(2.0, 0.5, "Hazard", "% per month", null=None, unit_nb="% per måned")})
    table = labelled(summarise(estimands, "eti", 0.9), estimands, "nb")
    assert list(table["unit"]) == ["% per måned"] and "% per måned" in csv_nb(table).decode("utf-8-sig")
    assert list(summarise(estimands, "eti", 0.9)["unit"]) == ["% per month"]  # summary.csv keeps the code


@pytest.mark.parametrize(("language", "tick"), [("nb", "0,4"), ("en", "0.4")])
def test_figure_tick_numbers_use_the_reports_decimal_mark(language, tick) -> None:
    from ipsbayes.present import Style
    from ipsbayes.report.layout import fit_to_profile

    style = Style("eti", 0.9, language)
    with matplotlib.rc_context(style.rc()):
        fig, ax = style.subplots(2.0)
        ax.plot([0.0, 1.0], [0.0, 1.0])
        fit_to_profile(fig, style)  # every report figure passes here (iter_figures)
        fig.canvas.draw()
        ticks = [label.get_text() for label in ax.get_yticklabels()]
        plt.close(fig)
    assert tick in ticks, ticks


def test_norwegian_time_to_event_report_has_no_english_months_targets_or_units(plans, tmp_path) -> None:
    nb = write(plans, tmp_path / "nb", "ipsung_time_to_job", "nb")
    key_results, table = section(nb["md"], "Hovedresultater"), section(nb["md"], "Alle estimater")
    assert "innen 6 måneder:" in key_results and "\\[arbeid\\]" in key_results  # "innen" leads into its month
    assert "| arbeid, 6 måneder |" in table and "| læreplass, 24 måneder |" in table
    assert "| % per måned |" in table and "| måneder |" in table and "-poeng |" in table
    # English month words, a target by its code, the English unit (predictor names such as months_outside and
    # the config's own outcome_label are the config's words, written as given)
    english = re.compile(r"\d months?\b|\bwork, |\\?\[work\\?\]|[|;] ?work ?[|;]|per month|\bmonths ?[|;]")
    for text in (key_results, table, nb["text"], nb["md_text"], nb["nb_csv"]):
        assert not english.search(text), re.findall(r".{40}(?:months?\b|work|per month).{10}", text)
    numbers = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert numbers and not any(re.search(r"\| -?\d+\.\d+ \|", line) for line in numbers)  # decimal commas
    assert not re.search(r"\d\.\d", key_results)
    assert "arbeid, 6 måneder" in nb["nb_csv"] and "% per måned" in nb["nb_csv"]
    for caption in [*nb["captions"].values(), *nb["titles"].values()]:
        assert not english.search(caption) and "month" not in caption.replace("months outside", ""), caption
    assert "arbeid" in nb["figure_text"] and "% per måned" in nb["figure_text"]
    assert not re.search(r"\bmonths?\b|\bwork\b|per month", nb["figure_text"])
    assert not re.search(r"\d\.\d", nb["figure_text"]) and "90 % ETI" in nb["figure_text"]  # ticks: 2,5
    en = write(plans, tmp_path / "en", "ipsung_time_to_job", "en")
    assert "90% ETI" in en["figure_text"]
    table_en = section(en["md"], "All estimates")
    assert "| work, 6 months |" in table_en and "| % per month |" in table_en and "| months |" in table_en
    assert "within 6 months:" in section(en["md"], "Key results")


# ------------------------------------------------------------------------- 2. [report.labels] everywhere
@pytest.mark.parametrize("language", ["nb", "en"])
def test_category_labels_reach_every_place_a_category_is_named(plans, tmp_path, language) -> None:
    labels = {"education": "skole og studier", "work": "lønnet jobb"}
    report = write(plans, tmp_path / language, "ipsung_outcomes", language, labels)
    md = report["md"]
    answer = section(md, "Svar" if language == "nb" else "Answer")
    key_results = section(md, "Hovedresultater" if language == "nb" else "Key results")
    table = section(md, "Alle estimater" if language == "nb" else "All estimates")
    for text in (answer, key_results, table):
        assert "skole og studier" in text and "lønnet jobb" in text, text[:2000]
    focus = [line for line in key_results.splitlines() if "marginal" in line.lower()]
    assert focus and all("skole og studier" in line for line in focus)  # the focus estimand's own label
    elements = [line.split(" | ")[1] for line in table.splitlines() if line.count(" | ") > 2]
    assert "S01, skole og studier" in elements and "S01, lønnet jobb" in elements
    named = re.compile(r"(?:^|, )(?:education|work)$|(?:education|work) (?:vs|mot) |(?:vs|mot) (?:education|work)\b")
    assert not [e for e in elements if named.search(e)]  # no element still names a category by its code
    assert "skole og studier" in report["figure_text"] and "lønnet jobb" in report["figure_text"]
    assert "skole og studier" in report["captions"]["focus_drivers"]
    assert "skole og studier" in report["text"]
    if language == "nb":  # summary_nb.csv names the categories with the labels of the Norwegian config
        assert "S01, skole og studier" in report["nb_csv"] and "S01, lønnet jobb" in report["nb_csv"]


def test_target_labels_and_outcome_label_reach_key_results_table_and_figures(plans, tmp_path) -> None:
    labels = {"work": "lønnet arbeid", "outcome": "første jobb eller skole"}
    report = write(plans, tmp_path / "tte", "ipsung_time_to_job", "nb", labels)
    key_results, table = section(report["md"], "Hovedresultater"), section(report["md"], "Alle estimater")
    assert "| lønnet arbeid, 6 måneder |" in table and "\\[lønnet arbeid\\]" in key_results
    assert "Andel med første jobb eller skole innen 12 måneder:" in key_results
    assert "første jobb eller skole" in section(report["md"], "Svar")
    assert (
        "lønnet arbeid" in report["figure_text"] and "første jobb eller skole" in report["captions"]["incidence_curves"]
    )


# ---------------------------------------------------------------------------------- 3. escaped exactly once
@pytest.mark.parametrize(
    ("name", "labels"),
    [
        ("ipsung_outcomes", {"education": HOSTILE, "outcome": HOSTILE}),
        ("ipsung_time_to_job", {"work": HOSTILE, "outcome": HOSTILE}),
    ],
)
@pytest.mark.parametrize("language", ["en", "nb"])
def test_hostile_labels_show_literally_once_and_never_as_html(plans, tmp_path, name, labels, language) -> None:
    report = write(plans, tmp_path / f"{name}_{language}", name, language, labels)
    assert_no_live_content(report["html"])
    assert_markdown_safe(report["md"])
    for text in (report["text"], report["md_text"]):
        assert text.count(HOSTILE) >= 3  # answer or sections, key results, table
        assert "\\" not in text, re.findall(r".{30}\\.{30}", text)
    assert "<i>" not in report["html"] and "<i>" not in markdown.markdown(report["md"], extensions=["tables"])
    for plain in [*report["captions"].values(), *report["titles"].values(), report["figure_text"]]:
        assert "\\" not in plain, plain


def _multilevel_estimands() -> xr.Dataset:
    """A multilevel run in miniature: an outcome rate, schools with observed and pooled rates, one effect."""
    schools = [f"S{i}" for i in range(8)]
    out = xr.Dataset()
    out["outcome_rate"] = variable(40.0, 2.0, "Outcome rate", "%", null=None)
    rate = xr.DataArray(draws(40.0, 5.0, 1, (8,)), dims=("chain", "draw", "school"), coords={"school": schools})
    out["school_rate"] = rate.assign_attrs(label="Rate per school", unit="%")
    out["school_raw_rate"] = xr.DataArray(np.linspace(20, 60, 8), dims="school", coords={"school": schools})
    out["school_n"] = xr.DataArray(np.array([3, 40, 40, 40, 40, 40, 40, 40]), dims="school", coords={"school": schools})
    ame = xr.DataArray(
        draws(5.0, 1.0, 2, (1,)), dims=("chain", "draw", "contrast"), coords={"contrast": ["age: +1 SD (2.1)"]}
    )
    out["ame"] = ame.assign_attrs(label="Average marginal effect", unit="pp", null=0.0)
    out.attrs["vocabulary"] = json.dumps({"school": HOSTILE, "units": HOSTILE, "outcome": HOSTILE})
    out.attrs["model_kind"] = "multilevel"
    return out


@pytest.mark.parametrize(
    ("estimands", "labels"),
    [
        (_multilevel_estimands(), {"age": HOSTILE}),
        (cace_estimands(8.0, 20.0, 30.0), {"treatment": HOSTILE, "control": HOSTILE, "units": HOSTILE}),
    ],
    ids=["multilevel", "cace"],
)
@pytest.mark.parametrize("language", ["en", "nb"])
def test_answers_and_captions_are_plain_and_sections_escape_once(estimands, labels, language) -> None:
    """Answers, captions, titles and figure text are plain text (the renderer escapes them); sections once."""
    ctx = context(estimands, language, labels=labels)
    presentation = presentation_of(estimands)
    answer = presentation.answer(ctx)
    assert any(HOSTILE in line for line in answer), answer
    assert not any("\\" in line for line in answer), answer
    with matplotlib.rc_context(ctx.style.rc()):
        for spec in presentation.figures:
            if spec.applies(ctx):
                fig, caption = spec.draw(ctx)
                assert "\\" not in caption + spec.title(ctx) + all_text(fig), (spec.name, caption)
                plt.close(fig)
    for spec in presentation.sections:
        if spec.applies(ctx):
            text = shown(rendered(spec.build(ctx)))
            assert "\\" not in text and "<i>" not in rendered(spec.build(ctx)), (spec.key, text)
            if spec.key in ("groups", "cace"):
                assert HOSTILE in text, (spec.key, text)


def test_norwegian_summary_elements_use_the_family_words(plans) -> None:
    tree, _ = run_tree(plans, "ipsung_time_to_job", "nb", {})
    estimands = tree["estimands"].to_dataset()
    table = labelled(summarise(estimands, "eti", 0.9), estimands, "nb")
    frame = pd.read_csv(pd.io.common.StringIO(csv_nb(table).decode("utf-8-sig")), sep=";")
    incidence = frame[frame["størrelse"] == "incidence"]["element"]
    assert "arbeid, 6 måneder" in set(incidence) and not incidence.str.contains("work|months").any()


@pytest.mark.parametrize("language", ["en", "nb"])
def test_model_descriptions_escape_category_names_once(plans, language) -> None:
    """Category levels are data: the description (Markdown) shows them literally, never as emphasis or HTML."""
    from ipsbayes.models.base import ModelData
    from ipsbayes.models.competing_outcomes import CompetingOutcomes, CompetingOutcomesSpec

    spec = CompetingOutcomesSpec(
        formula="y ~ age + (1 | service)", categories=["no_one", "x*work*", HOSTILE], focus=HOSTILE
    )
    data = ModelData(coords={"service": ["S1", "S2"]}, arrays={}, info={"response": "y"}, n_rows=10)
    html = rendered(CompetingOutcomes().describe(spec, data, language))
    assert "no_one" in shown(html) and "x*work*" in shown(html) and HOSTILE in shown(html)
    assert "<em>" not in html and "<i>" not in html and "\\" not in shown(html)
    plan, _ = plans["ipsung_time_to_job"]  # the time-to-event description names targets and statuses the same way
    text = shown(rendered(plan.family.describe(plan.spec, plan.data, language)))
    assert ("arbeid (work)" if language == "nb" else "work (work)") in text
