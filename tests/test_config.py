"""Config parsing: every problem reported at once, before any data are read or models sampled."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipsbayes.cli import main
from ipsbayes.config import load_config, parse_config
from ipsbayes.errors import ConfigError
from ipsbayes.runner import validate_config
from ipsbayes.testing import expect_error

from .conftest import REPO


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


def test_shipped_configs_are_valid() -> None:
    for path in sorted((REPO / "models").glob("*.toml")):
        config, family, spec, priors = validate_config(path)
        assert config.name == path.stem
        assert set(priors.priors) == set(family.prior_names_for(spec))


def test_every_problem_in_one_error_with_file_key_and_valid_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
name = "x"
seeed = 3
[data]
participants = "nowhere.csv"
[model]
kind = "hierarchical_logistic"
formla = "y ~ x + (1 | service)"
[sampler]
profile = "fast"
chains = "four"
""",
    )
    error = expect_error(validate_config, path)
    text = str(error)
    assert isinstance(error, ConfigError) and error.exit_code == 2
    assert str(path) in text
    assert "unknown key 'seeed'" in text and "did you mean 'seed'" in text
    assert "'sampler.profile'" in text and "ci" in text  # lists valid profiles
    assert "'sampler.chains'" in text
    assert "unknown key 'model.formla'" in text and "did you mean 'formula'" in text
    assert "required key 'model.formula' is missing" in text
    # once the schema is valid, missing files are reported too
    path = write(
        tmp_path,
        """
name = "x"
[data]
participants = "nowhere.csv"
[model]
kind = "hierarchical_logistic"
formla = "y ~ x + (1 | service)"
""",
    )
    text = str(expect_error(validate_config, path))
    assert "file not found" in text and "nowhere.csv" in text
    assert "unknown key 'model.formla'" in text


def test_unknown_model_kind_lists_valid_kinds(tmp_path: Path, small_ipsung: Path) -> None:
    path = write(
        tmp_path,
        f"""
name = "x"
[data]
participants = "{small_ipsung / "participants.csv"}"
[model]
kind = "hierarchical_logistc"
""",
    )
    text = str(expect_error(validate_config, path))
    assert "did you mean 'hierarchical_logistic'" in text and "valid kinds" in text


def test_prior_overrides_and_thresholds_are_checked(make_config) -> None:
    path = make_config(
        **{
            "priors.overrides": {"sd_servce": {"sigma": 0.5}, "beta": {"dist": "Normal", "mu": 0, "sigma": -1}},
            "report.thresholds": {"fidelity_contrst": 5.0},
        }
    )
    text = str(expect_error(validate_config, path))
    assert "unknown parameter 'sd_servce'" in text and "did you mean 'sd_service'" in text
    assert "'sigma' must be > 0" in text
    assert "unknown estimand 'fidelity_contrst'" in text and "fidelity_contrast" in text


def test_unknown_prior_set_names_available_sets(make_config) -> None:
    text = str(expect_error(validate_config, make_config(**{"priors.set": "weakly"})))
    assert "no prior set named 'weakly'" in text and "weakly_informative" in text


def test_toml_syntax_error_names_file(tmp_path: Path) -> None:
    path = write(tmp_path, "name = \n")
    error = expect_error(load_config, path)
    assert str(path) in str(error) and "not valid TOML" in str(error)


def test_wrong_types_for_report_settings(make_config) -> None:
    path = make_config(**{"report.interval_prob": 1.5, "report.interval_kind": "quantile"})
    text = str(expect_error(validate_config, path))
    assert "report.interval_prob" in text and "report.interval_kind" in text


def test_check_command_exit_code_and_nothing_written(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path, 'name = "x"\n[data]\nparticipants = "missing.csv"\n[model]\nkind = "hierarchical_logistic"\n'
    )
    assert main(["check", str(path)]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["run", str(path), "--quiet"]) == 2
    assert not (tmp_path / "runs").exists()


def test_config_from_dict_and_overrides(small_ipsung: Path) -> None:
    config, problems = parse_config(
        {
            "name": "d",
            "data": {"participants": str(small_ipsung / "participants.csv")},
            "model": {"kind": "hierarchical_logistic", "formula": "work_or_education_12m ~ age + (1 | service)"},
        }
    )
    assert problems == []
    changed = config.with_overrides(profile="ci", seed=5, draws=None)
    assert changed.sampler.profile == "ci" and changed.seed == 5 and config.sampler.profile == "default"
    pinned = config.model_copy(update={"sampler": config.sampler.model_copy(update={"tune": 2000, "draws": 2000})})
    assert pinned.with_overrides(profile="ci").sampler.draws is None  # --profile ci means the ci settings
    assert pinned.with_overrides(profile="default", seed=1).sampler.draws == 2000  # same profile: kept


@pytest.mark.parametrize(
    "formula, message",
    [
        ("work_or_education_12m ~ age + ips25", "the score belongs to a grouping factor"),
        ("work_or_education_12m ~ age + ips25 + (1 | service) + (1 | service)", "appears twice"),
        ("p(work_or_education_12m, n) ~ age + ips25 + (1 | service)", "takes no trials column"),
        ("work_or_education_12m ~ 0 + age + (1 | service)", "intercept cannot be removed"),
        ("work_or_education_12m age", "formula must look like"),
        ("work_or_education_12m ~ age + (1 | service)", "add the fidelity column 'ips25'"),
    ],
)
def test_formula_problems(make_config, formula: str, message: str) -> None:
    text = str(expect_error(validate_config, make_config(**{"model.formula": formula})))
    assert message in text


def test_figure_profile_defaults_and_bounds(make_config) -> None:
    config = load_config(make_config())
    assert (config.report.figures.width_cm, config.report.figures.dpi, config.report.figures.font_size) == (16, 300, 9)
    error = expect_error(validate_config, make_config(**{"report.figures.font_size": 7, "report.figures.widht_cm": 9}))
    text = str(error)
    assert "report.figures.font_size" in text and "widht_cm" in text and "width_cm" in text
