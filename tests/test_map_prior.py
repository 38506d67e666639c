"""Meta-analytic-predictive priors: recovery on simulated trials, RBesT's AS example, errors, the written prior set."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import tomli_w

from ipsbayes.errors import ConfigError, DataError
from ipsbayes.ess import postmix_binomial, prob_difference_above
from ipsbayes.evidence.config import GENERATED_MARK, load_map_config
from ipsbayes.evidence.derive import derive_map, prior_set_text
from ipsbayes.evidence.table import read_evidence
from ipsbayes.mixture import Mixture
from ipsbayes.models import REGISTRY
from ipsbayes.present.style import MIN_FONT_PT
from ipsbayes.priors import resolve_prior_set
from ipsbayes.report.figures import iter_figures
from ipsbayes.report.layout import layout_problems
from ipsbayes.report.map_report import MapText, ess_change_sentence, ratio_text, share_text, write_map_report
from ipsbayes.report.standalone import standalone_context

from .conftest import REPO

RBEST = tomllib.loads((REPO / "examples" / "rbest_as" / "rbest_reference.toml").read_text())
TRUTH = {"mu_control": -1.2, "tau_control": 0.4, "mu_effect": 0.9, "tau_effect": 0.5, "beta": -0.6}


def simulated_trials(k: int, seed: int) -> pd.DataFrame:
    """Two-arm trials from the model itself, with known between-trial SDs and a covariate shift."""
    rng = np.random.default_rng(seed)
    n = rng.integers(80, 200, size=(k, 2))
    x = (np.arange(k) % 3 == 0).astype(int)
    logit_c = TRUTH["mu_control"] + TRUTH["tau_control"] * rng.standard_normal(k)
    theta = TRUTH["mu_effect"] + TRUTH["beta"] * x + TRUTH["tau_effect"] * rng.standard_normal(k)
    p_c, p_t = 1 / (1 + np.exp(-logit_c)), 1 / (1 + np.exp(-(logit_c + theta)))
    return pd.DataFrame(
        {
            "study": [f"T{i:02d}" for i in range(k)],
            "employed_ips": rng.binomial(n[:, 0], p_t),
            "total_ips": n[:, 0],
            "employed_control": rng.binomial(n[:, 1], p_c),
            "total_control": n[:, 1],
            "youth": x,
            "verified": "yes",
        }
    )


def write_config(folder: Path, table: pd.DataFrame, **changes: object) -> Path:
    table.to_csv(folder / "trials.csv", index=False)
    raw = {
        "name": "sim_map",
        "evidence": "trials.csv",
        "hierarchy": {"covariates": ["youth"], "target": {"youth": 0.0}},
        "sampler": {"profile": "ci", "target_accept": 0.95},
        **changes,
    }
    path = folder / "map.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


@pytest.mark.sampling
def test_map_recovers_known_heterogeneity_and_writes_a_usable_prior_set(tmp_path: Path) -> None:
    config = load_map_config(write_config(tmp_path, simulated_trials(30, seed=11)))
    result = derive_map(config)
    posterior = result.datatree["posterior"]
    for name, value in TRUTH.items():
        low, high = np.quantile(posterior[name].values.ravel(), [0.025, 0.975])
        assert low <= value <= high, f"{name}: 95% interval {low:.2f}-{high:.2f} misses {value}"
    effect = result.parts["effect"]
    # predictive for a new (youth = 0) trial: centred near mu_effect, at least as wide as tau_effect
    assert effect.mixture.mean() == pytest.approx(effect.draws.mean(), abs=1e-6)
    assert abs(effect.mixture.mean() - TRUTH["mu_effect"]) < 0.35
    assert TRUTH["tau_effect"] * 0.7 < effect.mixture.sd() < 1.2
    assert effect.robust.labels[-1] == "robust" and effect.robust.w[-1] == pytest.approx(0.2)
    assert effect.ess["elir_robust"] < effect.ess["elir"]
    text = prior_set_text(result)
    assert text.startswith(GENERATED_MARK)
    folder = tmp_path / "sets"
    folder.mkdir()
    (folder / "sim_map.toml").write_text(text)
    cace = REGISTRY["cace"]
    spec, _ = cace.parse_spec({"kind": "cace", "outcome": "employed_12m"}, "test")
    prior_set, problems = resolve_prior_set("sim_map", cace.prior_names_for(spec), search_dirs=[folder])
    assert not problems, problems
    assert prior_set["treatment_effect"].mixture().robust_index == effect.robust.size - 1
    assert "(as in weakly_informative)" in prior_set["never_taker_intercept"].source
    # the report: the shared renderer, figures at the profile, sentences from the numbers in nb
    ctx = standalone_context("nb")
    with matplotlib.rc_context(ctx.style.rc()):
        for spec, fig, _caption in iter_figures(ctx, MapText(result).presentation(), shared=False):
            assert not layout_problems(fig, MIN_FONT_PT), (spec.name, layout_problems(fig, MIN_FONT_PT))
            assert fig.get_size_inches()[0] == pytest.approx(ctx.style.width)
            plt.close(fig)
    report = tmp_path / "report"
    report.mkdir()
    write_map_report(report, result, language="nb")
    md = (report / "report.md").read_text()
    assert "## Effektiv utvalgsstørrelse" in md and f"**{effect.ess['elir']:.0f} deltakere per arm**" in md
    assert {p.name for p in (report / "figures").iterdir()} >= {"map_forest.png", "map_mixture.svg"}


@pytest.mark.parametrize("language", ["en", "nb"])
def test_ess_sentence_follows_the_numbers(language: str) -> None:
    """Flipped truth: a robust component that barely lowers the ESS is 'hardly', one that halves it is named."""
    ctx = standalone_context(language)
    hardly, halves = ess_change_sentence(ctx, 40.0, 38.0), ess_change_sentence(ctx, 40.0, 20.0)
    if language == "en":
        assert "hardly changes" in hardly and "removes 50%" in halves and "hardly" not in halves
    else:
        assert "endrer knapt" in hardly and "fjerner 50 %" in halves and "knapt" not in halves


@pytest.mark.sampling
@pytest.mark.slow  # make test-slow
def test_rbest_ankylosing_spondylitis_example_at_small_size() -> None:
    """RBesT's AS example with 2 chains x 400 draws: MAP mean/SD, ESS and the robust trial analysis.

    Tolerances are three Monte Carlo SDs of one run at this size, measured over 12 seeds
    (benchmarks/results/rbest_as_ci.md); the full-size comparison is in the README.
    """
    config = load_map_config(REPO / "examples" / "rbest_as" / "as_map.toml")
    config = config.model_copy(update={"sampler": config.sampler.model_copy(update={"profile": "ci"})})
    part = derive_map(config).parts["control"]
    gmap = RBEST["gmap"]
    assert part.mixture.family == "beta"
    assert part.mixture.mean() == pytest.approx(gmap["map_mean"], abs=0.012)
    assert part.mixture.sd() == pytest.approx(gmap["map_sd"], abs=0.011)
    assert part.ess["elir"] == pytest.approx(RBEST["ess"]["elir"], abs=13)
    assert part.ess["elir_robust"] == pytest.approx(RBEST["ess"]["robust_elir"], abs=10)
    trial = RBEST["trial"]
    placebo = postmix_binomial(part.robust, trial["r_placebo"], trial["n_placebo"])
    w, a, b = trial["treat_prior"]
    treat = postmix_binomial(Mixture("beta", [w], [a], [b]), trial["r_treat"], trial["n_treat"])
    assert prob_difference_above(treat, placebo) == pytest.approx(trial["prob_difference_above_0"], abs=0.002)


def test_unverified_rows_are_left_out_and_bad_counts_are_all_named(tmp_path: Path) -> None:
    table = simulated_trials(5, seed=1)
    table.loc[1, "verified"] = "no"
    table.loc[1, "employed_ips"] = np.nan  # unverified rows may be incomplete
    config = load_map_config(write_config(tmp_path, table))
    evidence = read_evidence(config)
    assert evidence.size == 4 and evidence.left_out == ["T01"]
    table.loc[2, "employed_control"] = 500
    table["total_ips"] = table["total_ips"].astype(float)
    table.loc[3, "total_ips"] = 1.5
    table.loc[4, "study"] = "T00"
    config = load_map_config(write_config(tmp_path, table))
    with pytest.raises(DataError) as info:
        read_evidence(config)
    text = str(info.value)
    assert "T02 (data row 3)" in text and "T03 (data row 4)" in text and "total_ips" in text
    assert "repeated: T00 (data row 1), T00 (data row 5)" in text and "['" not in text


EVIL = "Evil 2020\n[injected]\nx = 1\n# "


def test_line_breaks_in_evidence_text_are_refused_with_column_and_row(tmp_path: Path, capsys) -> None:
    from ipsbayes.cli import main

    table = simulated_trials(4, seed=3)
    table.loc[2, "study"] = EVIL
    path = write_config(tmp_path, table)
    with pytest.raises(DataError) as info:
        read_evidence(load_map_config(path))
    text = str(info.value)
    assert "trials.csv: column 'study', data row 3: text may not hold line breaks" in text
    assert main(["map-prior", str(path), "--profile", "ci"]) == 2
    assert "column 'study', data row 3" in capsys.readouterr().err


@pytest.mark.sampling
def test_prior_set_comments_escape_control_characters(small_fit) -> None:
    """Defence in depth: even a study name that slipped past the table check stays inside its comment."""
    import dataclasses

    evidence = dataclasses.replace(small_fit.evidence, studies=[EVIL, *small_fit.evidence.studies[1:]])
    text = prior_set_text(dataclasses.replace(small_fit, evidence=evidence))
    parsed = tomllib.loads(text)
    assert "injected" not in parsed and "x" not in parsed
    assert "Evil 2020\\n[injected]\\nx = 1\\n# " in text
    assert EVIL in parsed["treatment_effect"]["source"]  # strings keep the name, escaped by TOML itself


def test_missing_columns_and_config_errors_are_reported_before_fitting(tmp_path: Path) -> None:
    table = simulated_trials(4, seed=2).drop(columns=["employed_control"])
    with pytest.raises(DataError, match="missing column 'employed_control'"):
        read_evidence(load_map_config(write_config(tmp_path, table)))
    path = write_config(tmp_path, simulated_trials(4, seed=2), mixture={"robust_weight": 0.3})
    with pytest.raises(ConfigError, match=r"unknown key 'mixture\.robust_weight'"):
        load_map_config(path)
    path = write_config(tmp_path, simulated_trials(4, seed=2), shift={"effect": {"mu": -0.3, "sigma": 0.3}})
    with pytest.raises(ConfigError, match="needs a 'source'"):
        load_map_config(path)
    (tmp_path / "hand_made.toml").write_text("[treatment_effect]\n")
    path = write_config(tmp_path, simulated_trials(4, seed=2), output={"prior_set": "hand_made.toml"})
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        load_map_config(path)


def test_bundled_evidence_table_default_set() -> None:
    config = load_map_config(REPO / "priors" / "map" / "ips_map.toml")
    evidence = read_evidence(config)
    frame = pd.read_csv(REPO / "priors" / "evidence" / "ips_rcts.csv")
    expected = frame[frame["include_default"] == "yes"]
    assert evidence.size == len(expected) and set(frame.loc[frame["verified"] == "no", "study"]) <= set(
        evidence.left_out
    )
    assert (evidence.r_treatment <= evidence.n_treatment).all() and (evidence.r_control <= evidence.n_control).all()


def test_map_prior_cli_errors_exit_2_with_the_problem(tmp_path: Path, capsys) -> None:
    from ipsbayes.cli import main

    path = write_config(tmp_path, simulated_trials(4, seed=3), mixture={"max_components": 0})
    assert main(["map-prior", str(path)]) == 2
    assert "mixture.max_components" in capsys.readouterr().err
    table = simulated_trials(4, seed=3)
    table.loc[0, "employed_ips"] = -1
    assert main(["map-prior", str(write_config(tmp_path, table)), "--profile", "ci"]) == 2
    err = capsys.readouterr().err
    assert "whole numbers from 0 to" in err and "T00" in err and not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def small_fit(tmp_path_factory: pytest.TempPathFactory):
    """One quick (ci) MAP fit, reused by the tests of where map-prior writes."""
    folder = tmp_path_factory.mktemp("small_fit")
    return derive_map(load_map_config(write_config(folder, simulated_trials(6, seed=5))))


def _map_cli(monkeypatch, tmp_path: Path, fit, capsys, *args: str, status: str = "pass", profile: str = "ci"):
    """Run ``ipsbayes map-prior`` with the fit above (diagnostics set to ``status``); return (rc, stdout, target)."""
    import dataclasses

    from ipsbayes.cli import main
    from ipsbayes.diagnostics import Check, Diagnostics
    from ipsbayes.evidence import derive

    diagnostics = Diagnostics([Check("r_hat", status, 1.0, "rule", "message")])

    def fake(config, *, profile=None, progress=False):
        return dataclasses.replace(fit, config=config, diagnostics=diagnostics, timings={})

    monkeypatch.setattr(derive, "derive_map", fake)
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "installed.toml"
    target.write_text(f"{GENERATED_MARK} earlier\n")
    path = write_config(
        tmp_path,
        simulated_trials(6, seed=5),
        output={"prior_set": "installed.toml"},
        sampler={"profile": profile, "target_accept": 0.95},
    )
    rc = main(["map-prior", str(path), *args])
    return rc, capsys.readouterr().out, target


@pytest.mark.sampling
def test_map_prior_with_out_writes_only_inside_out(tmp_path, monkeypatch, capsys, small_fit) -> None:
    rc, out, target = _map_cli(monkeypatch, tmp_path, small_fit, capsys, "--out", "x", profile="default")
    assert rc == 0 and target.read_text() == f"{GENERATED_MARK} earlier\n"
    written = tmp_path / "x" / "sim_map.toml"
    assert written.read_text().startswith(GENERATED_MARK)
    assert "not installed into" in out and "--out writes only inside" in out and f"cp {written.resolve()}" in out
    assert "report.html" in out and "sim_map.toml" in out


@pytest.mark.sampling
@pytest.mark.parametrize(
    ("profile", "status", "why"),
    [("ci", "pass", "ci profile"), ("default", "fail", "diagnostics gate"), ("default", "pass", "")],
)
def test_map_prior_installs_only_a_non_ci_fit_that_passed(
    tmp_path, monkeypatch, capsys, small_fit, profile, status, why
) -> None:
    rc, out, target = _map_cli(monkeypatch, tmp_path, small_fit, capsys, status=status, profile=profile)
    assert rc == 0
    written = tmp_path / "runs" / "sim_map" / "sim_map.toml"
    if why:
        assert target.read_text() == f"{GENERATED_MARK} earlier\n"
        assert why in out and "not installed into" in out
    else:
        assert target.read_text() == written.read_text() and f"replaced {target.resolve()}" in out


@pytest.mark.sampling
def test_map_prior_profile_option_overrides_the_config_for_installing(tmp_path, monkeypatch, capsys, small_fit) -> None:
    rc, out, target = _map_cli(monkeypatch, tmp_path, small_fit, capsys, "--profile", "ci", profile="default")
    assert rc == 0 and "ci profile" in out and target.read_text() == f"{GENERATED_MARK} earlier\n"


def test_run_and_map_prior_configs_point_to_each_others_command(capsys) -> None:
    from ipsbayes.cli import main

    assert main(["map-prior", str(REPO / "models" / "rij_cace_map.toml")]) == 2
    err = capsys.readouterr().err
    assert "is a run config" in err and "use `ipsbayes run" in err and "unknown key" not in err
    assert main(["check", str(REPO / "priors" / "map" / "ips_map.toml")]) == 2
    err = capsys.readouterr().err
    assert "is a map-prior config" in err and "use `ipsbayes map-prior" in err and "unknown key" not in err


@pytest.mark.sampling
def test_norwegian_map_report_uses_norwegian_words(small_fit) -> None:
    import dataclasses

    nb, en = standalone_context("nb"), standalone_context("en")
    effect, control = small_fit.parts["effect"], small_fit.parts["control"]
    text = MapText(small_fit)
    assert "**Oddsratio for jobb med IPS" in text.prior_line(nb, effect) and "employment" not in text.prior_line(
        nb, effect
    )
    assert "**Andel med jobb uten IPS" in text.prior_line(nb, control)
    assert "**Odds ratio of employment with IPS" in text.prior_line(en, effect)
    own = small_fit.config.model_copy(update={"outcome_label": "work", "outcome_label_nb": "arbeid"})
    custom = MapText(dataclasses.replace(small_fit, config=own))
    assert "Oddsratio for arbeid med IPS" in custom.prior_line(nb, effect)


@pytest.mark.sampling
def test_map_report_opens_with_a_verdict_block(tmp_path: Path, small_fit) -> None:
    """Flipped truth: the MAP fit's gate decides the status; three trials add a warning."""
    import dataclasses

    from ipsbayes.diagnostics import Check, Diagnostics
    from ipsbayes.report.map_report import map_verdict

    ctx = standalone_context("en")
    passing = dataclasses.replace(small_fit, diagnostics=Diagnostics([Check("r_hat", "pass", 1.0, "rule", "")]))
    failing = dataclasses.replace(small_fit, diagnostics=Diagnostics([Check("r_hat", "fail", 1.2, "rule", "R-hat")]))
    few = dataclasses.replace(
        passing, evidence=dataclasses.replace(small_fit.evidence, studies=small_fit.evidence.studies[:3])
    )
    assert map_verdict(passing, ctx)["status"] == "pass"
    assert map_verdict(failing, ctx)["status"] == "fail"
    assert map_verdict(few, ctx)["status"] == "warn" and "Only 3 trials" in map_verdict(few, ctx)["reasons"][0]
    write_map_report(tmp_path, failing, language="nb")
    html = (tmp_path / "report.html").read_text()
    assert '<div class="verdict fail"' in html and "Ikke bruk disse tallene" in html


@pytest.mark.parametrize("language", ["en", "nb"])
def test_an_odds_ratio_bound_or_a_rate_is_never_printed_as_zero(language: str) -> None:
    """A robust mixture's 2.5% odds-ratio quantile can be tiny but not 0; the report keeps its significant digits."""
    comma = language == "nb"
    for value, shown in ((0.0012, "0.0012"), (0.05, "0.050"), (0.29, "0.29"), (18.95, "18.95")):
        assert ratio_text(value, language) == (shown.replace(".", ",") if comma else shown)
    assert ratio_text(1e-6, language).startswith("< 0")
    assert share_text(0.04, language).startswith("< 0") and share_text(0.5, language) == ("0,5" if comma else "0.5")
    assert share_text(12.4, language) == "12"


def test_an_installed_prior_set_edited_by_hand_is_never_replaced(tmp_path: Path) -> None:
    """A prior set map-prior wrote and the user then edited below its header is the user's (outside review)."""
    from ipsbayes.errors import OutputError
    from ipsbayes.evidence.config import CONTENT_MARK, content_digest
    from ipsbayes.evidence.derive import write_prior_set

    body = '[treatment_effect]\ndistribution = "Normal"\nmu = 0.0\nsigma = 1.0\n'
    text = f"# Written by `ipsbayes map-prior` from x.toml\n{CONTENT_MARK}{content_digest(body)}\n\n{body}"
    path = tmp_path / "ips_map.toml"
    write_prior_set(path, text)
    write_prior_set(path, text)  # unchanged since written: may be replaced
    path.write_text(text.replace("sigma = 1.0", "sigma = 0.5  # my tighter prior"))
    with pytest.raises(OutputError, match="was edited since ipsbayes map-prior wrote it"):
        write_prior_set(path, text)
    assert "my tighter prior" in path.read_text()


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda t: t.assign(youth=t["youth"].astype(float).where(t.index != 1, np.inf)), "must be a finite number"),
        (
            lambda t: t.assign(total_ips=t["total_ips"].astype(float).where(t.index != 0, 1e20)),
            "whole numbers from 0 to",
        ),
        (lambda t: t.assign(study=t["study"].where(t.index != 2, None)), "column 'study' is empty in data row(s) 3"),
    ],
)
def test_evidence_values_a_fit_cannot_use_are_named(tmp_path: Path, edit, words: str) -> None:
    """An infinite covariate crashed sampling; 1e20 became a negative count; an empty study name crashed sampling."""
    table = edit(simulated_trials(4, seed=3))
    with pytest.raises(DataError) as info:
        read_evidence(load_map_config(write_config(tmp_path, table)))
    assert words in str(info.value) and info.value.exit_code == 2


def test_evidence_files_that_do_not_parse_are_named(tmp_path: Path) -> None:
    """Empty files and rows longer than the header exit 2 (they raised pandas' errors, or shifted the columns)."""
    path = write_config(tmp_path, simulated_trials(4, seed=3))
    text = (tmp_path / "trials.csv").read_text().splitlines()
    (tmp_path / "trials.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_evidence(load_map_config(path))
    (tmp_path / "trials.csv").write_text("\n".join([text[0], text[1] + ",extra", *text[2:]]) + "\n")
    with pytest.raises(DataError, match="data row 1 has more fields than the header"):
        read_evidence(load_map_config(path))
    (tmp_path / "trials.csv").write_text("\n".join(line.replace(",", ";") for line in text) + "\n")
    assert read_evidence(load_map_config(path)).size == 4  # a semicolon-separated table is read as such


def test_a_prior_set_behind_a_symbolic_link_is_never_replaced_by_a_file(tmp_path: Path) -> None:
    """map-prior replaced 'link.toml -> shared/team_prior.toml' with a plain file, leaving the shared one stale."""
    from ipsbayes.errors import OutputError
    from ipsbayes.evidence.config import CONTENT_MARK, content_digest
    from ipsbayes.evidence.derive import write_prior_set

    body = '[treatment_effect]\ndistribution = "Normal"\nmu = 0.0\nsigma = 1.0\n'
    text = f"# Written by `ipsbayes map-prior` from x.toml\n{CONTENT_MARK}{content_digest(body)}\n\n{body}"
    (tmp_path / "shared").mkdir()
    shared = tmp_path / "shared" / "team_prior.toml"
    write_prior_set(shared, text)  # generated, unchanged: a plain path there may be replaced
    link = tmp_path / "link.toml"
    link.symlink_to(shared)
    with pytest.raises(OutputError, match="is a symbolic link"):
        write_prior_set(link, text)
    assert link.is_symlink() and shared.read_text() == text
    (tmp_path / "dangling.toml").symlink_to(tmp_path / "nowhere.toml")
    with pytest.raises(OutputError, match="is a symbolic link"):
        write_prior_set(tmp_path / "dangling.toml", text)
    path = write_config(tmp_path, simulated_trials(4, seed=2), output={"prior_set": "link.toml"})
    with pytest.raises(ConfigError, match="is a symbolic link"):
        load_map_config(path)
    assert oct(shared.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # as a plain write makes it


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
