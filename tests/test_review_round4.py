"""Findings of the fourth outside review that are not tied to one model family (each fails before its fix)."""

from __future__ import annotations

import numpy as np
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


def test_pooled_pava_steps_rest_on_min_cell_rows_and_stay_monotone() -> None:
    """The calibration figure's observed line: each step is the observed rate of the rows it spans."""
    from scipy.optimize import isotonic_regression

    from ipsbayes.present.cells import pooled_steps

    rng = np.random.default_rng(3)
    p = np.sort(rng.uniform(0.05, 0.95, 400))
    y = (rng.uniform(size=400) < p).astype(float)
    steps = isotonic_regression(y, increasing=True).x
    assert min(np.unique(steps, return_counts=True)[1]) < 10  # PAVA alone publishes small blocks
    fit, pooled = pooled_steps(steps, 10)
    assert pooled and np.all(np.diff(fit) >= -1e-12)
    for value in np.unique(fit):
        rows = fit == value
        assert rows.sum() >= 10 and np.isclose(y[rows].mean(), value)  # the observed rate of those rows
    assert fit.mean() == pytest.approx(y.mean())
    assert not pooled_steps(steps, 1)[1]  # min_cell 1: the fit as it is
    assert pooled_steps(steps[:5], 10) == (None, True)  # fewer rows than min_cell: nothing shown


@pytest.mark.parametrize(("min_cell", "shown"), [(1, "all"), (10, "pooled"), (100_000, "hidden")])
def test_the_calibration_figure_never_draws_a_step_of_fewer_than_min_cell_rows(min_cell: int, shown: str) -> None:
    """An outside reviewer's case: min_cell = 100000, and the PAVA figure drew blocks of one participant."""
    import warnings

    import arviz as az
    import matplotlib.pyplot as plt
    import xarray as xr

    from ipsbayes.present.style import figure_of
    from ipsbayes.report.figures import publishable_pava

    rng = np.random.default_rng(5)
    p = rng.uniform(0.05, 0.95, 300)
    y = (rng.uniform(size=300) < p).astype(int)
    draws = (rng.uniform(size=(1, 200, 300)) < p).astype(int)
    tree = xr.DataTree.from_dict(
        {
            "posterior_predictive": xr.Dataset({"y": (("chain", "draw", "row"), draws)}),
            "observed_data": xr.Dataset({"y": ("row", y)}),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = figure_of(az.plot_ppc_pava(tree, var_names=["y"], ci_prob=0.9, backend="matplotlib"))
    assert publishable_pava(fig, tree, "y", min_cell) == shown
    lines = [line.get_ydata() for ax in fig.axes for line in ax.get_lines() if len(line.get_ydata()) == 300]
    assert len(lines) == (0 if shown == "hidden" else 1)
    if shown == "pooled":
        assert min(np.unique(lines[0], return_counts=True)[1]) >= min_cell
    plt.close(fig)


@pytest.mark.parametrize(
    ("coverage", "options"), [("0.884", "oops"), ("high", {}), ("0.884", {"n_participants": "many"})]
)
def test_a_validation_folder_that_cannot_be_read_is_ignored_not_fatal(tmp_path, caplog, coverage, options) -> None:
    """An outside reviewer's case: a hand-made runs/<name>-validation made `run` fail with exit 1 after sampling."""
    import json
    import logging

    from ipsbayes.report.calibration import load_calibration

    folder = tmp_path / "rij_cace-validation"
    folder.mkdir()
    (folder / "coverage.csv").write_text(
        "study,quantity,nominal,coverage,mcse,datasets,mean_truth,mean_posterior_mean\n"
        f"coverage,cace,0.9,{coverage},0.014,500,23.0,14.4\n"
    )
    (folder / "provenance.json").write_text(json.dumps({"model": "cace", "design": "rij", "options": options}))
    with caplog.at_level(logging.WARNING, logger="ipsbayes"):
        calibration = load_calibration(folder, 0.9)
    if coverage == "high":
        assert calibration is None and "coverage.csv column 'coverage'" in caplog.text
    else:
        assert calibration["quantities"]["cace"]["coverage"] == 0.884 and calibration["n_participants"] in (None, 66)


def test_the_studys_own_ids_and_labels_keep_their_points_in_norwegian() -> None:
    """Herd '2.1' and 'ICD 10.2' are the study's words, not numbers: no decimal comma (outside review)."""
    import xarray as xr

    from ipsbayes.present.context import verbatim_words
    from ipsbayes.report.tables import _element_nb
    from ipsbayes.textutil import decimal_commas

    estimands = xr.Dataset(
        {"herd_rate": ("herd", [0.1, 0.2, 0.3])},
        coords={"herd": ["2.1", "2.10", "H3"], "score": ("score", [74.5, 75.5])},
        attrs={"vocabulary": '{"outcome": "sykdom (ICD 10.2)"}'},
    )
    keep = verbatim_words(estimands, {"x": "versjon 1.5"})
    assert keep == ("2.1", "2.10", "sykdom (ICD 10.2)", "versjon 1.5")  # numeric coordinates are ours
    wrapped = "andel med sykdom\n(ICD 10.2): 0.5; besetning 2.1 og 2.10; 12.15"
    assert decimal_commas(wrapped, keep) == "andel med sykdom\n(ICD 10.2): 0,5; besetning 2.1 og 2.10; 12,15"
    words = {w: w for w in keep}
    assert _element_nb("2.1", words) == "2.1" and _element_nb("4.5", words) == "4,5"


def test_contrasts_ipsbayes_labels_itself_are_not_kept_verbatim() -> None:
    """'age: +1 SD (4.18)' is ipsbayes's own label: its number takes a decimal comma in Norwegian."""
    import xarray as xr

    from ipsbayes.present.context import verbatim_words

    estimands = xr.Dataset(
        {"ame": ("term", [0.1, 0.2])}, coords={"term": ["age: +1 SD (4.18)", "herd: 2.1 vs 1.5"]}, attrs={}
    )
    assert verbatim_words(estimands) == ("1.5", "2.1")  # the levels, not the whole contrast


def test_equation_coordinates_are_read_side_by_side_in_the_reports_language() -> None:
    from ipsbayes.diagnostics_text import parameter_label

    words = {"education_nb": "utdanning", "work_nb": "arbeid"}
    assert (
        parameter_label("service_sd[education_vs_work]", "nb", words) == "SD for tjenesteeffekter, utdanning mot arbeid"
    )
    assert parameter_label("service_sd[education vs work]", "en", words) == "SD of service effects, education vs work"


@pytest.mark.sampling
def test_priors_that_cannot_be_drawn_leave_a_note_not_a_crash(make_config, small_ipsung, monkeypatch) -> None:
    """The rats example: InverseGamma(0.001, 0.001) draws a 0 that PyTensor inverts with ZeroDivisionError."""
    import ipsbayes
    from ipsbayes import priors_alone

    def fails(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(priors_alone, "prior_estimands", fails)  # met while the chains sample
    path = make_config(
        "ipsung_employment",
        data=small_ipsung,
        **{"sampler.profile": "ci", "sampler.draws": 100, "sampler.tune": 100, "sensitivity.power_scaling": False},
    )
    run = ipsbayes.run(path, out=path.parent / "run", progress=False)
    assert "prior_estimands" not in run.datatree.children
    assert "The priors alone could not be drawn" in run.report_md.read_text()


def test_prior_sets_are_the_same_when_every_distribution_and_number_is() -> None:
    """A refit under a prior set that sets a model's priors as the main set does would repeat it draw for draw."""
    from ipsbayes.priors import Prior, PriorSet
    from ipsbayes.sensitivity import _same_numbers

    main = PriorSet("weakly_informative", "", {"b": Prior("Normal", {"mu": 0.0, "sigma": 1.0}, "main's reason")})
    twin = PriorSet("sceptical", "", {"b": Prior("Normal", {"mu": 0.0, "sigma": 1.0}, "another reason")})
    other = PriorSet("sceptical", "", {"b": Prior("Normal", {"mu": 0.0, "sigma": 0.5}, "tighter")})
    assert _same_numbers(main, twin) and not _same_numbers(main, other)


def test_a_binomial_description_counts_rows_and_the_trials_they_hold() -> None:
    """'21 seeds in 21 plates' for 831 seeds on 21 plates (outside review): rows and trials are both said."""
    from ipsbayes.runner import check

    from .conftest import REPO

    plan = check(REPO / "examples" / "seeds" / "seeds.toml")
    assert "for 21 rows (831 seeds) in 21 plates" in plan.family.describe(plan.spec, plan.data, "en")
    assert "for 21 rader (831 seeds) i 21 plater" in plan.family.describe(plan.spec, plan.data, "nb")


def test_norwegian_tables_label_the_elements_of_a_vector_estimand() -> None:
    """tables/sensitivity_nb.csv kept 'Expected share reaching each outcome: none' for element rows."""
    import pandas as pd
    import xarray as xr

    from ipsbayes.report.tables import labelled

    estimands = xr.Dataset(
        {"category_share": ("category", [60.0, 14.0])},
        coords={"category": ["none", "work"]},
        attrs={"vocabulary": '{"none_nb": "ingen av disse", "work_nb": "arbeid"}'},
    )
    estimands["category_share"].attrs = {"label": "Expected share", "label_nb": "Forventet andel", "unit": "%"}
    table = pd.DataFrame(
        {"estimand": ["category_share[none]", "category_share[work]"], "label": ["x", "y"], "unit": ["%", "%"]}
    )
    assert list(labelled(table, estimands, "nb")["label"]) == [
        "Forventet andel: ingen av disse",
        "Forventet andel: arbeid",
    ]
