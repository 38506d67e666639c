"""Publishable figures for every shipped config: no overlapping or clipped text, fonts >= 8 pt at the
configured width, the interval stated inside each figure, SVG text as text, PNGs at the profile's DPI;
and the sensitivity figures drawn for one, two and many estimands."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest
import tomli_w
import xarray as xr
from matplotlib.image import imread

import ipsbayes
from ipsbayes.config import RunConfig
from ipsbayes.present.style import MIN_FONT_PT
from ipsbayes.priors import PriorSet
from ipsbayes.report.figures import iter_figures
from ipsbayes.report.figures_sensitivity import power_scaling_plot, prior_posterior, sensitivity_forest
from ipsbayes.report.layout import all_text, layout_problems
from ipsbayes.report.render import presentation_of, report_context
from ipsbayes.runner import report_settings
from ipsbayes.testing import edit_config, load_raw_config

from .conftest import REPO, SHIPPED

pytestmark = pytest.mark.sampling
#: figures that state an interval need not give one (nothing in them has an interval)
STATES_AN_INTERVAL = re.compile(r"\d+\s?% (ETI|HDI|interval|consistency|simultaneous|konsistens|simultant)")
RAW_NAMES = re.compile(r"\b[a-z]+_[a-z_]+\b|\[[a-z_]+\]")


def context_of(folder: Path):
    run = ipsbayes.load_run(folder)
    config = RunConfig.model_validate({**run.config, "source": None})
    settings = report_settings(config, run.config, PriorSet(name="x", description="", priors={}), {}, {})
    return report_context(run.datatree, settings), run


@pytest.mark.parametrize("name", SHIPPED)
def test_figures_have_no_overlapping_text_and_readable_fonts(shipped: dict[str, Path], name: str) -> None:
    ctx, run = context_of(shipped[name])
    problems = {}
    drawn = []
    with matplotlib.rc_context(ctx.style.rc()):
        for spec, fig, _caption in iter_figures(ctx, presentation_of(ctx.estimands)):
            drawn.append(spec.name)
            found = layout_problems(fig, MIN_FONT_PT)
            text = all_text(fig)
            if not STATES_AN_INTERVAL.search(text):
                found.append("does not state its interval kind and probability")
            raw = sorted({m for m in RAW_NAMES.findall(text) if m not in {"e_bfmi"}})
            if raw:
                found.append(f"raw variable names: {raw}")
            if fig.get_size_inches()[0] != pytest.approx(ctx.style.width):
                found.append(f"width {fig.get_size_inches()[0]:.2f} in, not the profile's {ctx.style.width:.2f}")
            if found:
                problems[spec.name] = found
            plt.close(fig)
    assert drawn and not problems, problems
    assert set(drawn) == set(run.figures)


@pytest.mark.parametrize("name", SHIPPED)
def test_saved_figures_match_the_profile(shipped: dict[str, Path], name: str) -> None:
    ctx, run = context_of(shipped[name])
    for figure, paths in run.figures.items():
        png = imread(paths["png"])
        assert png.shape[1] == pytest.approx(ctx.style.width * ctx.style.dpi, abs=2), figure
        svg = paths["svg"].read_text()
        assert "<text" in svg and "font-size" in svg, figure  # real text, not outlined glyphs


def test_sensitivity_figures_work_with_one_two_and_many_estimands(shipped: dict[str, Path]) -> None:
    ctx, _ = context_of(shipped["rij_cace"])
    tree = ctx.datatree
    names = list(tree["sensitivity"].to_dataset().data_vars)
    assert len(names) >= 3
    for keep in (names[:1], names[:2], names):
        subset = tree.copy()
        subset["sensitivity"] = xr.DataTree(tree["sensitivity"].to_dataset()[keep])
        subset["power_scaling"] = xr.DataTree(tree["power_scaling"].to_dataset().sel(estimand=keep))
        ctx.datatree = subset
        with matplotlib.rc_context(ctx.style.rc()):
            for draw in (power_scaling_plot, prior_posterior, sensitivity_forest):
                fig, caption = draw(ctx)
                assert not layout_problems(fig), (draw.__name__, len(keep), layout_problems(fig))
                assert caption
                plt.close(fig)


def test_report_without_fidelity_or_covariates(small_ipsung: Path, tmp_path: Path) -> None:
    """Intercept and services only: one compared estimand, no effects or fidelity figures, every figure clean."""
    raw = load_raw_config(REPO / "models" / "ipsung_employment.toml")
    raw["data"] = {key: str(small_ipsung / f"{key}.csv") for key in ("participants", "services")}
    del raw["model"]["fidelity"], raw["report"]["thresholds"], raw["validation"]
    raw = edit_config(
        raw,
        **{
            "model.formula": "work_or_education_12m ~ 1 + (1 | service)",
            "sampler.profile": "ci",
            "sampler.draws": 150,
            "sampler.tune": 150,
        },
    )
    config = tmp_path / "intercept_only.toml"
    config.write_text(tomli_w.dumps(raw))
    run = ipsbayes.run(config, out=tmp_path / "run", progress=False)
    assert "power_scaling" in run.figures and "effects_forest" not in run.figures
    assert run.datatree["power_scaling"]["estimand"].size == 1
    ctx, _ = context_of(run.path)
    with matplotlib.rc_context(ctx.style.rc()):
        for spec, fig, _caption in iter_figures(ctx, presentation_of(ctx.estimands)):
            assert not layout_problems(fig), (spec.name, layout_problems(fig))
            plt.close(fig)


@pytest.mark.parametrize("name", ["ipsung_employment", "rij_cace"])
def test_figures_drawn_by_two_processes_are_those_one_process_draws(
    shipped: dict[str, Path], name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ipsbayes import forked
    from ipsbayes.report.drawing import draw_figures

    if not forked.available():
        pytest.skip("fork needs Linux and two usable cores")
    ctx, _ = context_of(shipped[name])
    presentation = presentation_of(ctx.estimands)
    split = draw_figures(ctx, presentation, tmp_path / "split", ["png", "svg"])
    monkeypatch.setattr(forked, "available", lambda: False)
    alone = draw_figures(ctx, presentation, tmp_path / "alone", ["png", "svg"])
    assert list(split) == list(alone) and len(alone) >= 4  # same figures, in the report's order
    for figure, drawn in alone.items():
        assert split[figure]["title"] == drawn["title"] and split[figure]["caption"] == drawn["caption"]
        for fmt, path in drawn["paths"].items():
            assert split[figure]["paths"][fmt].read_bytes() == path.read_bytes(), (figure, fmt)
    names = {folder: sorted(p.name for p in (tmp_path / folder).iterdir()) for folder in ("split", "alone")}
    assert names["split"] == names["alone"]


def test_figures_of_a_stuck_child_are_drawn_here(shipped: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    """A child that takes a figure from the queue and never answers: after STUCK_SECONDS the run draws it."""
    import os
    import time

    from ipsbayes import forked
    from ipsbayes.report import drawing

    if not forked.available():
        pytest.skip("fork needs Linux and two usable cores")
    ctx, _ = context_of(shipped["ipsung_employment"])
    presentation = presentation_of(ctx.estimands)
    parent, real = os.getpid(), drawing._save_figures

    def hangs_in_the_child(ctx, presentation, folder, formats, specs, queue):
        if os.getpid() != parent:
            queue.next()  # takes the slowest figure with it
            time.sleep(120)
        return real(ctx, presentation, folder, formats, specs, queue)

    monkeypatch.setattr(forked, "STUCK_SECONDS", 1.0)
    monkeypatch.setattr(drawing, "_save_figures", hangs_in_the_child)
    drawn = drawing.draw_figures(ctx, presentation, tmp_path / "stuck", ["png"])
    monkeypatch.setattr(forked, "available", lambda: False)
    alone = drawing.draw_figures(ctx, presentation, tmp_path / "alone", ["png"])
    assert list(drawn) == list(alone)
    for figure, files in alone.items():
        assert drawn[figure]["paths"]["png"].read_bytes() == files["paths"]["png"].read_bytes(), figure
