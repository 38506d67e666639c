"""Hostile inputs found by the sixteenth round's outside battery: each gave a crash, an OOM kill or a wrong number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ipsbayes.cli import main


def test_a_nested_term_ending_in_an_id_column_is_refused_before_it_is_built(make_config, data_copy, capsys) -> None:
    """``(1 | service/specialist/participant_id)``: check was killed at 24 GB; it now says what is wrong."""
    formula = "work_or_education_12m ~ age + ips25 + (1 | service/specialist/participant_id)"
    config = make_config("ipsung_employment", data=data_copy, **{"model.formula": formula})
    assert main(["check", str(config)]) == 2
    err = capsys.readouterr().err
    assert "every row is a group of its own in 'service:specialist:participant_id'" in err
    assert "Traceback" not in err


def test_a_group_matrix_larger_than_memory_is_refused_with_the_way_out(monkeypatch) -> None:
    from ipsbayes.models import groups
    from ipsbayes.models.formula import parse_model_formula

    n = 2000
    frame = pd.DataFrame({"y": np.arange(n) % 2, "a": np.arange(n) % 40, "b": np.arange(n) % 70})
    formula, _ = parse_model_formula("y ~ (1 | a:b)")
    assert groups.group_term_precheck(frame, formula, "bernoulli", "t") == []
    monkeypatch.setattr(groups, "available_memory", lambda: 10**6)  # 1 MB: 40 x 70 columns for 2,000 rows do not fit
    (problem,) = groups.group_term_precheck(frame, formula, "bernoulli", "t")
    assert "crosses 2 columns with 40 x 70 levels" in problem and "write '| a_b'" in problem


@pytest.mark.sampling
def test_power_scaling_arviz_cannot_fit_is_skipped_with_a_note(make_config, tmp_path, monkeypatch) -> None:
    """A prior at 1e300 made ArviZ's power-scaling raise 'All tail values are the same' after sampling: exit 1."""
    import arviz as az

    import ipsbayes
    from ipsbayes.simulate import simulate

    def degenerate(*args, **kwargs):
        raise ValueError("All tail values are the same")

    monkeypatch.setattr(az, "psense_summary", degenerate)
    simulate("rij", seed=5, out=tmp_path / "data")
    changes = {"sampler.profile": "ci", "sensitivity.prior_sets": [], "sensitivity.variants": {}}
    config = make_config("rij_cace", data=tmp_path / "data", **changes, **{"sensitivity.power_scaling": True})
    assert main(["run", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    text = " ".join((tmp_path / "run" / "report.md").read_text().split())
    assert "Power-scaling sensitivity could not be computed for this posterior (ValueError: All tail values" in text
    assert "power_scaling" not in ipsbayes.load_run(tmp_path / "run").datatree.children


def test_a_figure_that_cannot_be_drawn_says_so_in_its_place() -> None:
    """A degenerate posterior broke the prior-posterior histogram ('Nan values in edges') and ended the run."""
    import matplotlib.pyplot as plt
    import xarray as xr

    from ipsbayes.present import Presentation, ReportContext, Style
    from ipsbayes.present.context import Figure as FigureSpec
    from ipsbayes.report.figures import iter_figures

    def broken(ctx):
        plt.subplots()  # half drawn, then the numbers fail
        raise ValueError('Nan values in "edges" are disallowed')

    spec = FigureSpec("prior_posterior", lambda ctx: "Prior and posterior", broken)
    estimands = xr.Dataset()
    ctx = ReportContext(estimands, xr.DataTree.from_dict({"estimands": estimands}), None, Style("eti", 0.9, "en"))
    before = set(plt.get_fignums())
    ((drawn, fig, caption),) = list(iter_figures(ctx, Presentation(figures=[spec]), shared=False))
    assert drawn is spec and "could not be drawn from this posterior (ValueError: Nan values" in caption
    assert set(plt.get_fignums()) - before == {fig.number}  # the half-drawn figure was closed
    plt.close(fig)


def test_prior_numbers_a_sampler_cannot_start_from_are_config_errors(make_config, capsys) -> None:
    """sigma = 1e-300 or mu = 1e300 passed check, then every initial point failed after compiling (exit 1)."""
    for override, said in (({"sigma": 1e-300}, "'sigma' = 1e-300"), ({"mu": 1e300}, "'mu' = 1e+300")):
        config = make_config("rij_cace", **{"priors.overrides": {"treatment_effect": override}})
        assert main(["check", str(config)]) == 2
        err = capsys.readouterr().err
        assert said in err and "is outside what a sampler can start from" in err


def test_huge_elpd_values_print_in_exponent_form() -> None:
    from ipsbayes.diagnostics import _elpd

    assert _elpd(-1.3e298) == "-1.3e+298" and _elpd(-1234.56) == "-1234.6" and _elpd(float("nan")) == "nan"


@pytest.mark.parametrize(("key", "said"), [("[]", "name the column(s) shared"), ('["g", "g"]', "named twice")])
def test_a_table_key_that_names_no_column_or_one_twice_is_a_config_error(tmp_path, capsys, key, said) -> None:
    """``key = []`` crashed the join with 'not enough values to unpack' (exit 1)."""
    pd.DataFrame({"y": [0, 1] * 10, "g": list("abcde") * 4}).to_csv(tmp_path / "rows.csv", index=False)
    pd.DataFrame({"g": list("abcde"), "z": range(5)}).to_csv(tmp_path / "groups.csv", index=False)
    (tmp_path / "config.toml").write_text(
        'name = "keys"\n[data]\nmain = "rows.csv"\n[data.tables.groups]\npath = "groups.csv"\n'
        f"key = {key}\n"
        '[model]\nkind = "multilevel"\nformula = "y ~ z + (1 | g)"\nfamily = "bernoulli"\n'
    )
    assert main(["check", str(tmp_path / "config.toml")]) == 2
    err = capsys.readouterr().err
    assert "data.tables.groups.key" in err and said in err and "Traceback" not in err


@pytest.mark.sampling
def test_report_reads_a_run_config_an_editor_saved_with_a_byte_order_mark(make_config, tmp_path) -> None:
    from ipsbayes.simulate import simulate

    simulate("rij", seed=5, out=tmp_path / "data")
    quiet = {"sampler.profile": "ci", "sensitivity.prior_sets": [], "sensitivity.variants": {}}
    config = make_config("rij_cace", data=tmp_path / "data", **quiet, **{"sensitivity.power_scaling": False})
    run = tmp_path / "run"
    assert main(["run", str(config), "--out", str(run), "--quiet"]) == 0
    saved = (run / "config.toml").read_text(encoding="utf-8").replace("title = ", "title = ", 1)
    (run / "config.toml").write_bytes(b"\xef\xbb\xbf" + saved.encode("utf-8"))
    assert main(["report", str(run)]) == 0


def test_the_cace_conflict_paragraph_escapes_the_studys_labels() -> None:
    """A label with Markdown (``*``, ``[x](y)``) stayed raw in 'The verdict above reports ...' (outside review)."""
    import xarray as xr

    from ipsbayes.models.cace_conflict import reconcile
    from ipsbayes.present import ReportContext, Style

    estimands = xr.Dataset({"cace": xr.DataArray(np.zeros((1, 10)), dims=("chain", "draw"), attrs={"label": "x"})})
    power = xr.Dataset(
        {"prior": ("estimand", [0.2]), "diagnosis": ("estimand", ["potential prior-data conflict"])},
        coords={"estimand": ["cace"]},
    )
    tree = xr.DataTree.from_dict({"estimands": estimands, "power_scaling": power})
    labels = {"cace": "a*b* [x](javascript:y)"}
    ctx = ReportContext(estimands, tree, None, Style("eti", 0.9, "en"), labels=labels)
    text = reconcile(ctx, 0.5)
    assert text is not None and "a\\*b\\* \\[x\\](javascript" in text  # escaped: no emphasis, no link


@pytest.mark.parametrize("missing", ["error", "drop"])
def test_an_empty_group_key_is_a_missing_value_not_the_value_nan(make_config, data_copy, capsys, missing) -> None:
    """An empty service cell was reported as service 'nan' absent from the services table, even under 'drop'."""
    frame = pd.read_csv(data_copy / "participants.csv")
    frame.loc[5, "service"] = np.nan
    frame.to_csv(data_copy / "participants.csv", index=False)
    config = make_config("ipsung_employment", data=data_copy, **{"data.missing": missing})
    code = main(["check", str(config)])
    err = capsys.readouterr().err
    assert "nan" not in err
    if missing == "error":
        assert code == 2 and "column 'service' has 1 missing value(s) at data row 6" in err
    else:
        assert code == 0


def test_an_empty_key_in_the_services_table_is_named_with_its_row(make_config, data_copy, capsys) -> None:
    services = pd.read_csv(data_copy / "services.csv")
    services.loc[2, "service"] = np.nan
    services.to_csv(data_copy / "services.csv", index=False)
    assert main(["check", str(make_config("ipsung_employment", data=data_copy))]) == 2
    err = capsys.readouterr().err
    assert "service is empty at data row 3" in err and "Traceback" not in err


def test_config_numbers_in_design_and_validation_are_typed(make_config, capsys) -> None:
    """``[design] trials = true`` ran 1 trial, and ``options = { n_participants = "66" }`` was read as 66."""
    config = make_config("rij_cace", **{"design.trials": True})
    assert main(["check", str(config)]) == 2
    assert "design.trials" in capsys.readouterr().err
    config = make_config("rij_cace", **{"validation.options": {"n_participants": "66"}})
    assert main(["check", str(config)]) == 2
    err = capsys.readouterr().err
    assert "'66' is text; write a whole number without quotes (n_participants = 66)" in err
