"""Designs statisticians bring, from an outside review (round 5): three nested levels, words of the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ipsbayes.models.formula import parse_model_formula


@pytest.mark.parametrize(
    ("formula", "names"),
    [
        ("y ~ x + (1 | fylke/kommunenr/skole)", ["fylke", "kommunenr", "skole"]),
        ("y ~ (1 | a/b/c/d)", ["a", "b", "c", "d"]),
        ("y ~ (1 | region/school)", ["region", "school"]),
        ("y ~ (1 | region) + (1 | school) + (1 | region:school)", ["region", "school", "region_school"]),  # crossed
    ],
)
def test_a_nested_factor_takes_its_last_columns_name_at_any_depth(formula: str, names: list[str]) -> None:
    """'(1 | fylke/kommunenr/skole)' called the school level 'fylke kommunenr skole' and ignored its vocabulary."""
    parsed, problems = parse_model_formula(formula)
    assert problems == []
    assert [factor.name for factor in parsed.factors] == names


@pytest.mark.sampling
def test_each_levels_sd_is_reported_in_its_own_paragraph(tmp_path: Path) -> None:
    from ipsbayes import run

    rng = np.random.default_rng(5)
    rows = []
    for county in range(3):
        for municipality in range(3):
            for school in range(3):
                effect = rng.normal(0, 3)
                rows += [
                    {
                        "fylke": county + 1,
                        "kommunenr": f"0{county}0{municipality}",
                        "skole": f"Skole {school}",
                        "x": x,
                        "lesepoeng": 50 + 2 * x + effect + rng.normal(0, 5),
                    }
                    for x in rng.normal(size=6)
                ]
    pd.DataFrame(rows).to_csv(tmp_path / "elever.csv", index=False)
    config = {
        "name": "lese",
        "seed": 3,
        "data": {"main": str(tmp_path / "elever.csv")},
        "model": {
            "kind": "multilevel",
            "formula": "lesepoeng ~ x + (1 | fylke/kommunenr/skole)",
            "family": "gaussian",
            "outcome_label": "reading score",
            "vocabulary": {"fylke": "county", "kommunenr": "municipality", "skole": "school"},
        },
        "priors": {"set": "defaults"},
        "sampler": {"profile": "ci", "draws": 200, "tune": 200},
    }
    result = run(config, out=tmp_path / "run", progress=False)
    text = (tmp_path / "run" / "report.md").read_text()
    assert "fylke kommunenr skole" not in text and "School" in text
    # the headline level is the study's own groups' average, not a new county's (outside review: its interval was
    # read as the population mean's, up to 20 times too narrow)
    assert "with each county's own estimated effect" in text and "how far a new county would lie" in text
    paragraphs = {p.split(".**")[0].strip("*"): p for p in text.split("\n\n") if p.startswith("**")}
    assert "SD of school effects" in paragraphs["School"]
    for other in ("County", "Municipality"):
        assert "SD of school effects" not in paragraphs[other], paragraphs[other]
    assert set(result.datatree["posterior"]["sd_skole"].dims) == {"chain", "draw"}


@pytest.mark.parametrize(
    ("standardize", "per", "shift"),
    [(False, "per unit of numeric predictors", "+1 unit"), (True, "per SD for numeric predictors", "+1 SD")],
)
def test_odds_ratios_and_shifts_say_what_they_are_per(tmp_path: Path, standardize: bool, per: str, shift: str) -> None:
    """With standardize = false the odds ratio said 'per SD' and the effects' text '+1 SD' (outside review)."""
    import pymc as pm

    from ipsbayes.runner import check

    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"uranium": rng.normal(size=200), "county": rng.integers(0, 10, 200).astype(str)})
    frame["y"] = (rng.random(200) < 0.5).astype(int)
    frame.to_csv(tmp_path / "d.csv", index=False)
    plan = check(
        {
            "name": "per",
            "data": {"main": str(tmp_path / "d.csv")},
            "model": {
                "kind": "multilevel",
                "formula": "y ~ uranium + (1 | county)",
                "family": "bernoulli",
                "standardize": standardize,
                "outcome_label": "a crisis event",
            },
            "priors": {"set": "defaults"},
        }
    )
    with plan.model:
        draws = pm.sample_prior_predictive(draws=10, random_seed=1)["prior"].to_dataset()
    estimands = plan.family.estimands(draws, plan.data, plan.spec, plan.config)
    assert per in estimands["odds_ratio"].attrs["label"]
    assert estimands["ame"].attrs["numeric_shift"] == shift
    assert estimands["ame"].attrs["label"] == "Average marginal effect on the expected crisis event"  # not "the a"
    assert str(estimands["ame"]["contrast"].values[0]).startswith(f"uranium: {shift}")


def test_the_power_scaling_table_says_what_a_vector_estimands_own_row_is(shipped: dict[str, Path]) -> None:
    """The average marginal effect's own row (its largest element's numbers) was printed unlabelled with an
    empty diagnosis, repeating the psychosis row (outside review)."""
    text = (shipped["ipsung_employment"] / "report.md").read_text()
    table = text.split("**Power-scaling sensitivity**")[1].split("\n\n")[1]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows and all(not line.rstrip().endswith("|  |") for line in rows), table
    assert any("(each column: the largest over its" in line and "see its elements' rows" in line for line in rows)


def test_norwegian_words_for_the_familys_english_defaults() -> None:
    """Norwegian reports said 'SD for serviceeffektene', 'for treatment-effekt' and 'priorsettet ips literature'."""
    from ipsbayes.diagnostics import Check, Diagnostics
    from ipsbayes.present.answers import analysis_name

    check = Check("r_hat", "warn", 1.0117, "warn > 1.01; fail > 1.05", "R-hat up to 1.0117", ["treatment_effect"])
    (message,) = Diagnostics([check]).messages_in("nb", {"treatment": "IPS"})
    assert "IPS-effekt" in message and "treatment" not in message
    assert "IPS-litteraturen" in analysis_name("prior set: ips_literature", {}, "nb")


@pytest.mark.parametrize(
    ("family", "groups", "refused"),
    [
        ("gaussian", "one", "every row is in one group of 'grp'"),
        ("bernoulli", "one", "every row is in one group of 'grp'"),
        ("gaussian", "per_row", "every row is a group of its own in 'grp'"),
        ("bernoulli", "per_row", "every row is a group of its own in 'grp'"),
        ("gaussian", "fine", None),
    ],
)
def test_group_terms_the_data_cannot_estimate_are_refused(
    tmp_path: Path, capsys, family: str, groups: str, refused: str | None
) -> None:
    """A grouping column with one value was fitted silently (its SD from one group), and a gaussian group effect on
    every row of its own was accepted (lme4 refuses both; outside review)."""
    from ipsbayes.cli import main

    rng = np.random.default_rng(1)
    n = 40
    grp = {"one": ["g0"] * n, "per_row": [f"g{i}" for i in range(n)], "fine": [f"g{i % 8}" for i in range(n)]}[groups]
    y = rng.normal(size=n) if family == "gaussian" else (rng.random(n) < 0.5).astype(int)
    pd.DataFrame({"y": y, "x": rng.normal(size=n), "grp": grp}).to_csv(tmp_path / "d.csv", index=False)
    config = tmp_path / "c.toml"
    config.write_text(
        f'name = "c"\n[data]\nmain = "d.csv"\n[model]\nkind = "multilevel"\nformula = "y ~ x + (1 | grp)"\n'
        f'family = "{family}"\n[priors]\nset = "defaults"\n'
    )
    code = main(["check", str(config)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if refused is None:
        assert code == 0, err
    else:
        assert code == 2 and refused in err and "d.csv" in err, err


def test_an_alias_is_listed_once_in_the_tables(shipped: dict[str, Path]) -> None:
    """'Compliers under IPS' and 'Compliers under usual follow-up' each appeared twice in All estimates."""
    import xarray as xr

    folder = shipped["rij_cace"]
    summary = pd.read_csv(folder / "summary.csv")
    assert not summary.duplicated(["label", "element"]).any(), summary[summary.duplicated(["label", "element"])]
    with xr.open_datatree(folder / "posterior.nc") as tree:
        assert {"complier_rate_ips", "complier_rate_usual"} <= set(tree["estimands"].data_vars)  # kept for scripts


def test_a_cace_observed_rate_resting_on_a_small_cell_is_withheld(tmp_path: Path) -> None:
    """3 of 33 employed in the control arm: the strata figure drew 9.1% and the text the observed ITT beside the
    arm sizes (review of this round): the observed values rest on their smallest cell, with or without the outcome."""
    import pymc as pm

    from ipsbayes.runner import check
    from ipsbayes.testing import edit_config, load_raw_config

    frame = pd.read_csv(Path(__file__).parent.parent / "data" / "rij" / "participants.csv")
    control = frame.index[frame["assigned_ips"] == 0]
    frame.loc[control, "employed_12m"] = 0
    frame.loc[control[:3], "employed_12m"] = 1
    frame.to_csv(tmp_path / "participants.csv", index=False)
    raw = edit_config(load_raw_config(Path(__file__).parent.parent / "models" / "rij_cace.toml"))
    raw["data"]["participants"] = str(tmp_path / "participants.csv")
    raw["sensitivity"] = {"prior_sets": [], "variants": {}, "power_scaling": False}
    config = tmp_path / "c.toml"
    import tomli_w

    config.write_text(tomli_w.dumps(raw))
    plan = check(config)
    with plan.model:
        draws = pm.sample_prior_predictive(draws=10, random_seed=1)["prior"].to_dataset()
    estimands = plan.family.estimands(draws, plan.data, plan.spec, plan.config)
    assert estimands["observed_rate_control_arm"].attrs["participants"] == 3
    for name in ("observed_itt", "observed_per_protocol", "observed_wald_cace"):
        assert estimands[name].attrs["participants"] == 3, name


def test_notes_for_a_slope_without_its_population_term_and_a_collapse_not_applied(tmp_path: Path) -> None:
    """y ~ z + (1 + x | g) reported no effect of x without a word, and collapse = "always" with varying slopes was
    silently not applied (statistical review of this round)."""
    from ipsbayes.present.notes import translate_note
    from ipsbayes.runner import check

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"x": rng.normal(size=120), "z": rng.normal(size=120), "g": [f"g{i % 12}" for i in range(120)]}
    )
    frame["y"] = (rng.random(120) < 0.5).astype(int)
    frame.to_csv(tmp_path / "d.csv", index=False)
    raw = {
        "name": "n",
        "data": {"main": str(tmp_path / "d.csv")},
        "model": {"kind": "multilevel", "formula": "y ~ z + (1 + x | g)", "family": "bernoulli", "collapse": "always"},
        "priors": {"set": "defaults"},
    }
    notes = check(raw).data.notes
    slope = [n for n in notes if "varying slope but no population-level term" in n]
    collapse = [n for n in notes if 'model.collapse = "always" was not applied' in n]
    assert len(slope) == 1 and "'x'" in slope[0] and len(collapse) == 1, notes
    for note in (*slope, *collapse):
        assert translate_note(note, "nb") != note  # Norwegian reports get them in Norwegian
    raw["model"]["formula"] = "y ~ x + z + (1 + x | g)"
    raw["model"]["collapse"] = "auto"
    assert not any("varying slope" in n or "collapse" in n for n in check(raw).data.notes)


def test_a_slope_block_beside_a_block_named_like_its_values_builds(tmp_path: Path) -> None:
    """y ~ C(t) + x + (1 + C(t) | g) + (0 + x | g) failed: 'Variable name g_effect_x already exists'."""
    import pymc as pm

    from ipsbayes.runner import check

    rng = np.random.default_rng(4)
    n = 200
    frame = pd.DataFrame(
        {"t": rng.choice(["a", "b"], n), "x": rng.normal(size=n), "g": [f"g{i % 10}" for i in range(n)]}
    )
    frame["y"] = (rng.random(n) < 0.5).astype(int)
    frame.to_csv(tmp_path / "d.csv", index=False)
    plan = check(
        {
            "name": "blocks",
            "data": {"main": str(tmp_path / "d.csv")},
            "model": {
                "kind": "multilevel",
                "formula": "y ~ C(t) + x + (1 + C(t) | g) + (0 + x | g)",
                "family": "bernoulli",
            },
            "priors": {"set": "defaults"},
        }
    )
    assert {"g_effect", "g_effect_x"} <= set(plan.model.named_vars)
    with plan.model:
        draws = pm.sample_prior_predictive(draws=5, random_seed=1)["prior"].to_dataset()
    estimands = plan.family.estimands(draws, plan.data, plan.spec, plan.config)
    assert estimands["ame"].sizes["contrast"] == 2


def test_the_slope_note_lists_two_names_with_their_comma_in_norwegian() -> None:
    """The Norwegian note turned "'x', 'z'" into "'x'\u2009 'z'" (a thousands separator) and said 'den' of two."""
    from ipsbayes.present.notes import translate_note

    note = (
        "'x', 'z' have a varying slope but no population-level term: the group slopes take up the average slope, "
        "and the report gives no average marginal effect for them; add 'x', 'z' to the formula's population-level "
        "terms to estimate them (y ~ x + (x | g))."
    )
    norwegian = translate_note(note, "nb")
    assert norwegian.startswith("'x', 'z': varierende stigning") and "\u2009" not in norwegian
