"""Nothing from the data or the config runs as code in report.html or report.md.

Injection strings go into every user-controlled field that reaches a report: service and
specialist ids, category levels, column names, the config's title, description and
outcome label, a sensitivity variant's name, and the paths of the config and data files.
report.html is parsed with an HTML parser: no script, no event-handler attribute, no
javascript: URL and no image other than the embedded figures may appear. report.md must
hold no raw HTML and no link or image from the data, and must stay free of them when a
Markdown renderer turns it into HTML.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import markdown
import numpy as np
import pandas as pd
import pytest
import tomli_w

from ipsbayes.cli import main
from ipsbayes.testing import edit_config, load_raw_config
from ipsbayes.textutil import escape_md, neutralize_markdown

from .conftest import REPO

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
SVG = "<svg onload=alert(1)>"  # no '/', so it can also be a folder name
LINK = "[click](javascript:alert(1))"
IMAGE = "![x](http://evil.example/x.png)"
AUTOLINK = "<javascript:alert(1)>"
HOSTILE = f"{SCRIPT}{IMG}{LINK}{IMAGE}"
#: tags report.html may contain: the template's own and what section Markdown renders to
ALLOWED = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "h4", "p", "div", "strong", "em", "code",
    "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "figure", "img", "figcaption", "br", "hr", "pre",
    "blockquote", "span", "sup", "sub", "b", "i", "a", "section", "details", "summary",
}  # fmt: skip


class Elements(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_no_live_content(html: str, images_embedded: bool = True) -> str:
    """Parse ``html``; fail on any script, event handler, javascript: URL or foreign image. Return its text."""
    parser = Elements()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag in ALLOWED, f"unexpected tag <{tag}> {attrs}"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event handler {name} on <{tag}>"
            if name in ("href", "src", "action", "formaction", "xlink:href"):
                url = (value or "").strip().lower()
                assert not url.startswith(("javascript:", "vbscript:")), f"{name}={value} on <{tag}>"
        if tag == "img":
            source = attrs.get("src") or ""
            assert source.startswith("data:image/") if images_embedded else source.startswith("figures/"), source
        if tag == "a":
            assert (attrs.get("href") or "").startswith(("http://", "https://", "#")), attrs
    return "".join(parser.text)


def assert_markdown_safe(md: str) -> None:
    """No raw HTML, link or image from the data in report.md, also once rendered."""
    lowered = md.lower()
    for raw in ("<script", "<img", "<svg", "<b ", "<javascript"):
        assert raw not in lowered, raw
    assert not re.search(r"(?<!\\)\]\((?:javascript|http://evil)", md), "live Markdown link or image"
    assert_no_live_content(markdown.markdown(md, extensions=["tables"]), images_embedded=False)


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose name is itself an injection string (file paths are shown in reports)."""
    base = tmp_path_factory.mktemp("inject")
    folder = base / f"d{SVG}{LINK}"
    folder.mkdir()
    return folder


def test_escape_md_and_neutralize_markdown_leave_nothing_live() -> None:
    for value in (HOSTILE, SVG, AUTOLINK, "a | b", "`code` *x*", "&lt;script&gt;", "line\n# heading"):
        assert_markdown_safe(f"| {escape_md(value)} |\n| --- |\n| {escape_md(value)} |\n\n{escape_md(value)}\n")
        assert_markdown_safe(neutralize_markdown(f"Formula: `{value}` and *{value}* [{value}]\n\n[ref]: {value}"))
    assert markdown.markdown(escape_md("S_01 & co [x]")) == "<p>S_01 &amp; co [x]</p>"


def test_code_spans_show_a_less_than_sign_as_written_and_still_no_tag() -> None:
    """A column ``score<limit`` in a model description's code span reads as written; a tag in one stays dead."""
    from ipsbayes.report.render import safe_html
    from ipsbayes.textutil import code_span, outside_code_spans

    formula = code_span("y ~ `score<limit` + x", in_table=False)  # a backticked column inside a formula's span
    text = (
        f"Outcome {code_span('score<limit', in_table=False)} and {code_span('x<script>', in_table=False)} <b> {formula}"
    )
    neutralised = neutralize_markdown(text)
    assert "`score<limit`" in neutralised and "&lt;b>" in neutralised and "``y ~ `score<limit` + x``" in neutralised
    assert_markdown_safe(neutralised)
    html = str(safe_html(text))
    assert "<code>score&lt;limit</code>" in html and "&amp;lt;limit" not in html
    assert "<script" not in html.lower()
    # spans as CommonMark reads them: an unmatched run and an escaped backtick are plain text
    assert outside_code_spans("a `b` c") == [("a ", "`b`"), (" c", "")]
    assert outside_code_spans("a `` b ` c") == [("a `` b ` c", "")]
    assert outside_code_spans("a \\` <b> ` c `d`") == [("a \\` <b> ", "` c `"), ("d`", "")]  # escaped, then paired
    assert outside_code_spans("``a ` b`` c") == [("", "``a ` b``"), (" c", "")]


@pytest.mark.parametrize(
    "text",
    [
        "`<a_b onmouseover=alert(1)>x`{=html}",  # pandoc's raw attribute, and a tag name browsers accept
        "`x`{=latex}",
        "``x\n\n<a`b@evil.example>\n\n``",  # backticks paired across paragraphs: no span there
        "`x\n- <a`b@evil.example>\n`",
        "mail <1x@evil.example> and <_x@evil.example>",  # e-mail autolinks that start with no letter
        "> [x]: https://evil.example\n\nsee [x]",  # link definitions in a quote or a list item
        "- [x]: https://evil.example\n\nsee [x]",
        "1. [x]: https://evil.example\n\nsee [x]",
    ],
)
def test_neutralised_markdown_has_no_live_content_in_any_container(text: str) -> None:
    """An outside review's cases: each gave a live link or tag in some renderer before."""
    from ipsbayes.report.render import safe_html

    neutralised = neutralize_markdown(text)
    assert "{=" not in neutralised.replace("\\{=", ""), "a raw attribute after a span stays escaped"
    assert not re.search(r"<(?:[A-Za-z_]|\d\w*@)", neutralised.replace("`score<limit`", "")), neutralised
    html = str(safe_html(text))
    assert "<a " not in html and "href" not in html and not re.search(r"<[^>]*onmouseover", html), html
    assert_no_live_content(markdown.markdown(neutralised, extensions=["tables"]), images_embedded=False)


@pytest.mark.sampling
def test_hierarchical_report_carries_no_live_content_from_data_or_config(
    small_ipsung: Path, hostile_folder: Path
) -> None:
    data = hostile_folder / "ipsung"
    data.mkdir()
    participants = pd.read_csv(small_ipsung / "participants.csv")
    services = pd.read_csv(small_ipsung / "services.csv")
    rename = {s: f"{s}{IMG}" for s in services["service"]}
    services["service"] = services["service"].map(rename)
    participants["service"] = participants["service"].map(rename)
    participants["specialist"] = participants["specialist"].str.replace("-", f"{SVG}-", regex=False)
    participants["diagnosis"] = participants["diagnosis"].replace({"psychosis": f"psychosis{SCRIPT}"})
    participants["gender"] = participants["gender"].replace({"female": f"female{LINK}"})
    participants = participants.rename(columns={"age": f"age{IMG}"})  # a column name, used in the formula below
    participants.to_csv(data / "participants.csv", index=False)
    services.to_csv(data / "services.csv", index=False)
    raw = edit_config(
        load_raw_config(REPO / "models" / "ipsung_employment.toml"),
        **{
            "sampler.profile": "ci",
            "sampler.draws": 60,
            "sampler.tune": 60,
            "model.formula": f"work_or_education_12m ~ `age{IMG}` + gender + diagnosis + ips25 + (1 | service)",
            "model.outcome_label": f"work {HOSTILE}",
            "report.title": f"Title {HOSTILE}{AUTOLINK}",
            "description": f"Description {HOSTILE}",
            "sensitivity.power_scaling": False,
            "data.participants": str(data / "participants.csv"),
            "data.services": str(data / "services.csv"),
        },
    )
    config = hostile_folder / f"c{SVG}.toml"
    config.write_text(tomli_w.dumps(raw))
    out = hostile_folder.parent / "run_hier"
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    html = (out / "report.html").read_text()
    text = assert_no_live_content(html)
    for shown in (f"S01{IMG}", f"age{IMG}", f"psychosis{SCRIPT}", f"female{LINK}", "Title <script>", f"c{SVG}.toml"):
        assert shown in text, shown  # the values are there, as text
    md = (out / "report.md").read_text()
    assert_markdown_safe(md)
    assert "S01&lt;img src=x onerror=alert(1)>" in md or "&lt;img src=x onerror=alert(1)>" in md


@pytest.mark.sampling
def test_cace_report_with_hostile_labels_and_variant_name(hostile_folder: Path) -> None:
    """The CACE model names its covariates in formulae, so their columns must be plain names; labels are free."""
    data = hostile_folder / "rij"
    data.mkdir()
    pd.read_csv(REPO / "data" / "rij" / "participants.csv").to_csv(data / "participants.csv", index=False)
    raw = edit_config(
        load_raw_config(REPO / "models" / "rij_cace.toml"),
        **{
            "sampler.profile": "ci",
            "sampler.draws": 60,
            "sampler.tune": 60,
            "data.participants": str(data / "participants.csv"),
            "model.outcome_label": f"employment {HOSTILE}",
            "report.title": f"CACE {HOSTILE}",
            "sensitivity.prior_sets": [],
            "sensitivity.power_scaling": False,
            "sensitivity.variants": {f"<b onmouseover=alert(3)>{LINK}": {"exclusion_restriction": False}},
        },
    )
    config = hostile_folder / "cace.toml"
    config.write_text(tomli_w.dumps(raw))
    out = hostile_folder.parent / "run_cace"
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    text = assert_no_live_content((out / "report.html").read_text())
    assert "employment <script>" in text and "<b onmouseover=alert(3)>" in text
    assert_markdown_safe((out / "report.md").read_text())


def test_validation_report_escapes_quantity_names_and_errors(tmp_path: Path) -> None:
    from ipsbayes.config import load_config
    from ipsbayes.report.validation_report import write_validation_report

    quantity = f"q{HOSTILE}"
    rng = np.random.default_rng(1)
    rows = pd.DataFrame(
        [
            {"study": "coverage", "dataset": i, "seed": i, "quantity": quantity, "ok": True, "pit": rng.uniform(),
             "divergences": 0, "truth": 0.0, "mean": 0.0, "covered_0.9": 1.0}
            for i in range(8)
        ]
        + [{"study": "coverage", "dataset": 99, "seed": 99, "quantity": "", "ok": False,
            "error": f"ValueError: {SCRIPT}"}]
    )  # fmt: skip
    coverage = pd.DataFrame(
        [{"study": "coverage", "quantity": quantity, "nominal": 0.9, "coverage": 1.0, "mcse": 0.0, "datasets": 8}]
    )
    meta = {
        "model": "cace", "fits": 9, "datasets_per_study": 9, "profile": "ci", "prior_set": "weakly_informative",
        "design": "rij", "options": {"note": SVG}, "scheduler": f"tcp://{IMG}", "seconds": 1.0,
    }  # fmt: skip
    config = load_config(REPO / "models" / "rij_cace.toml")
    write_validation_report(tmp_path, rows, coverage, meta, config)
    text = assert_no_live_content((tmp_path / "report.html").read_text())
    assert quantity in text and SCRIPT in text
    assert_markdown_safe((tmp_path / "report.md").read_text())
