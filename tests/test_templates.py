"""The report templates without a fit: verdict and answer first, never green unless everything passed,
autoescaping-safe, mobile viewport, long tables collapsed, Markdown front matter and figure labels."""

from __future__ import annotations

import re

from jinja2 import Environment
from markupsafe import Markup

from ipsbayes.report.html import collapse_tables
from ipsbayes.report.render import html_environment, markdown_environment
from ipsbayes.textutil import MarkdownText


def environment(autoescape: bool) -> Environment:
    """The renderer's own environments: autoescaped HTML, or Markdown with every value escaped."""
    return html_environment() if autoescape else markdown_environment()


def context(rows: int = 3, **extra) -> dict:
    row = {"label": "CACE", "element": "", "unit": "pp", "median": "7.4", "lower": "-10.2", "upper": "24.3"}
    return {
        "title": 'Raskt i jobb: "CACE" <script>',
        "subtitle": "run",
        "lang": "en",
        "date": "2026-11-27",
        "gate": {"status": "pass", "status_word": "pass", "messages": [], "rows": []},
        "interval_text": "90% equal-tailed interval (ETI)",
        "key_results": ["CACE 7.4 pp"],
        "sections": [{"key": "s", "title": "S", "text": "x", "html": Markup("<p>x</p>")}],
        "figures": {
            "strata_rates": {
                "title": "T",
                "caption": "C",
                "img_src": "data:image/png;base64,AAAA",
                "md_path": MarkdownText("figures/strata_rates.png"),
            }
        },
        "md_format": "png",
        "summary_rows": [{**row, "p_null": "0.80", "p_threshold": "-"}] * rows,
        "model_text": "m",
        "model_html": Markup("<p>m</p>"),
        "notes": [],
        "prior_set": "weakly_informative",
        "priors": [],
        "reproducibility": {"seed": 1},
        **extra,
    }


VERDICT = {"status": "warn", "headline": "Check before use", "reasons": ["prior-data conflict in cace"]}
ANSWER = ["IPS probably helps compliers: 7.4 pp (90% ETI -10.2 to 24.3).", "1.7 to 9.0 pp across prior sets."]


def test_html_opens_with_verdict_then_answer() -> None:
    autoescape = True  # the renderer's HTML environment always escapes
    html = environment(autoescape).get_template("report.html.j2").render(**context(answer=ANSWER, verdict=VERDICT))
    body = html.split("<body>", 1)[1]
    assert body.index('class="verdict warn"') < body.index('id="answer"') < body.index("Key results")
    assert "verdict pass" not in html  # the gate passed, but the verdict did not: never green
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'src="data:image/png;base64,AAAA"' in html and 'id="fig-strata-rates"' in html
    if autoescape:
        assert "<script>" not in html and "&lt;script&gt;" in html


def test_gate_is_the_verdict_until_one_is_given() -> None:
    html = environment(True).get_template("report.html.j2").render(**context())
    assert 'class="verdict pass"' in html and "Diagnostics gate: PASS" in html


def test_long_tables_are_collapsed() -> None:
    html = environment(True).get_template("report.html.j2").render(**context(rows=40))
    assert re.search(r'<details class="long"><summary>Show all 40 rows</summary>\s*<table>', html)
    short = environment(True).get_template("report.html.j2").render(**context(rows=5))
    assert "<details" not in short
    section = collapse_tables(Markup("<table><tr><th>a</th></tr>" + "<tr><td>1</td></tr>" * 20 + "</table>"))
    assert section.startswith('<details class="long"><summary>Show the table (20)</summary><table>')


def test_markdown_front_matter_and_figure_labels() -> None:
    md = environment(False).get_template("report.md.j2").render(**context(answer=ANSWER, verdict=VERDICT, lang="nb"))
    front, rest = md.split("\n---\n", 1)
    assert front == "---\ntitle: 'Raskt i jobb: \"CACE\" &lt;script>'\nsubtitle: 'run'\ndate: '2026-11-27'\nlang: 'nb'"
    assert rest.index("Check before use") < rest.index("## Svar") < rest.index("## Hovedresultater")
    assert "](figures/strata_rates.png){#fig-strata-rates}" in rest
