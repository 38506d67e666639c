"""End to end through the command line at the ci profile: run folder, report, re-render, reproducibility."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import ipsbayes
from ipsbayes.cli import main
from ipsbayes.rundir import FILES

pytestmark = pytest.mark.sampling
FIGURES = (
    "service_caterpillar",
    "fidelity_curve",
    "effects_forest",
    "ppc_calibration",
    "prior_posterior",
    "power_scaling",
    "rank_plot",
)


@pytest.fixture(scope="module")
def run_dir(shipped_runs: dict) -> Path:
    """The shipped ipsung_employment config, run through the CLI at the ci profile (shared with other tests)."""
    result = shipped_runs["ipsung_employment"]
    out = result["path"]
    assert result["returncode"] == 0, result["stderr"][-3000:]
    last = result["stdout"].strip().splitlines()[-1]
    assert last == f"report: {(out / 'report.html').resolve()}"
    return out


def test_cli_prints_one_line_per_stage(shipped_runs: dict) -> None:
    lines = shipped_runs["rij_cace"]["stderr"].splitlines()
    for stage in (
        "read data, build model",
        "compile",
        "sampling",
        "estimands and diagnostics",
        "refit, prior set: sceptical",
        "refit, variant: no_exclusion_restriction",
        "report",
    ):
        assert any(line.startswith(stage) and line.rstrip().endswith("s)") for line in lines), (stage, lines)


def test_run_folder_has_every_file(run_dir: Path) -> None:
    for name in FILES:
        assert (run_dir / name).is_file(), name
    for figure in FIGURES:
        for fmt in ("png", "svg"):
            assert (run_dir / "figures" / f"{figure}.{fmt}").stat().st_size > 1000
    assert not list(run_dir.parent.glob(".*staging*"))


def test_summary_states_interval_and_answers_the_questions(run_dir: Path) -> None:
    text = (run_dir / "summary.csv").read_text()
    assert not text.startswith("#") and text.splitlines()[0].startswith("estimand,")
    summary = pd.read_csv(run_dir / "summary.csv")
    assert set(summary["interval"]) == {"90% equal-tailed interval (ETI)"}
    estimands = set(summary["estimand"])
    for name in (
        "outcome_rate",
        "ame",
        "odds_ratio",
        "fidelity_slope",
        "fidelity_contrast",
        "fidelity_curve",
        "service_rate",
        "sd_service",
        "sd_specialist",
    ):
        assert name in estimands, name
    contrast = summary[summary["estimand"] == "fidelity_contrast"].iloc[0]
    assert contrast["unit"] == "pp" and contrast["threshold"] == 5.0
    assert 0 <= contrast["p_above_threshold"] <= contrast["p_above_null"] <= 1
    slope = summary[summary["estimand"] == "fidelity_slope"].iloc[0]
    assert 0 <= slope["p_above_null"] <= 1


def test_reports_are_self_contained_and_state_intervals(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(FIGURES)
    assert 'src="figures/' not in html
    assert "90% equal-tailed interval (ETI)" in html and "Diagnostics gate" in html
    md = (run_dir / "report.md").read_text()
    for figure in FIGURES:
        assert f"(figures/{figure}.png)" in md
    assert "percentage points" in md and "IPS-25 = 100 (good) minus at 74 (fair)" in md


def test_provenance_and_diagnostics(run_dir: Path) -> None:
    provenance = json.loads((run_dir / "provenance.json").read_text())
    for key in ("seed", "data", "data_sha256", "versions", "timings_seconds", "sampler", "host", "config_sha256"):
        assert key in provenance, key
    assert provenance["sampler"]["backend"] == "nutpie" and provenance["sampler"]["profile"] == "ci"
    assert provenance["versions"]["pymc"] >= "6.4"
    diagnostics = json.loads((run_dir / "diagnostics.json").read_text())
    names = {c["name"] for c in diagnostics["checks"]}
    assert {"r_hat", "ess_bulk", "ess_tail", "divergences", "tree_depth", "e_bfmi", "pareto_k"} <= names
    assert diagnostics["status"] in {"pass", "warn", "fail"}


def test_load_run_and_rerender(run_dir: Path, capsys) -> None:
    run = ipsbayes.load_run(run_dir)
    assert {"posterior", "sample_stats", "log_likelihood", "posterior_predictive", "observed_data", "estimands"} <= set(
        run.datatree.children
    )
    assert set(FIGURES) <= set(run.figures) and run.figures["fidelity_curve"]["svg"].exists()
    before = run.summary
    assert main(["report", str(run_dir)]) == 0
    assert capsys.readouterr().out.strip().endswith("report.html")
    after = ipsbayes.load_run(run_dir).summary
    pd.testing.assert_frame_equal(before, after)


def test_same_seed_same_numbers(make_config, tmp_path: Path) -> None:
    config = make_config(
        **{
            "sampler.profile": "ci",
            "sampler.draws": 60,
            "sampler.tune": 60,
            "model.formula": "work_or_education_12m ~ age + ips25 + (1 | service)",
            "sensitivity.power_scaling": False,
        }
    )
    first = ipsbayes.run(config, out=tmp_path / "a", progress=False)
    second = ipsbayes.run(config, out=tmp_path / "b", progress=False)
    xr.testing.assert_equal(first.datatree["posterior"].to_dataset(), second.datatree["posterior"].to_dataset())
    pd.testing.assert_frame_equal(first.summary, second.summary)
    assert first.provenance["data_sha256"] == second.provenance["data_sha256"]
    third = ipsbayes.run(config, out=tmp_path / "c", seed=99, progress=False)
    assert not np.allclose(third.summary["mean"], first.summary["mean"])


def test_strict_gate_exits_3_and_report_shows_failure(make_config, tmp_path: Path, capsys) -> None:
    config = make_config(
        **{
            "sampler.profile": "ci",
            "sampler.draws": 40,
            "sampler.tune": 40,
            "model.formula": "work_or_education_12m ~ age + ips25 + (1 | service)",
            "diagnostics.ess_per_chain": 1e6,
            "diagnostics.ess_fail_per_chain": 1e5,
        }
    )
    out = tmp_path / "strict"
    assert main(["run", str(config), "--out", str(out), "--strict", "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "Diagnostics gate failed" in err
    assert not any(line.startswith(("sampling", "compile")) for line in err.splitlines())  # --quiet: silent
    assert "Diagnostics gate: FAIL" in (out / "report.md").read_text()
    assert main(["run", str(config), "--out", str(tmp_path / "lenient"), "--quiet"]) == 0


def test_first_screen_in_norwegian_follows_the_gate(run_dir: Path) -> None:
    from ipsbayes.report.render import ReportSettings, presentation_of, report_context
    from ipsbayes.report.sections import build_sections
    from ipsbayes.report.verdict import verdict

    run = ipsbayes.load_run(run_dir)
    settings = ReportSettings(title="t", thresholds={"fidelity_contrast": 5.0}, language="nb")
    ctx = report_context(run.datatree, settings)
    presentation = presentation_of(ctx.estimands)
    answer = presentation.answer(ctx)
    assert 2 <= len(answer) <= 4 and "deltakerne oppnår arbeid, læreplass eller utdanning" in answer[0]
    assert "trofasthet" in answer[1] and "prosentpoeng" in answer[1] and "percentage points" not in " ".join(answer)
    titles = [section["title"] for section in build_sections(ctx, presentation)]
    assert "Modelltrofasthet og resultater" in titles and "Forskjeller mellom tjenester" in titles
    result = verdict(run.diagnostics.status, run.diagnostics.messages_in("nb"), run.datatree, "nb")
    assert result["status"] != "pass" or run.diagnostics.status == "pass"
    assert (result["status"] == "fail") == (run.diagnostics.status == "fail")
