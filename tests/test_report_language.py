"""A Norwegian report is Norwegian throughout, and every report names things in the study's own words.

Found from outside: a Norwegian report carried an English subtitle, English diagnostics, rules and
reproducibility rows, English prior rationales, "skoles" for the plural of "skole", and parameter
names like "classroom-effekt" where the config had said ``classroom = "klasse"``. Counts below the
small-cell limit also reached the model description.
"""

from __future__ import annotations

import re
from pathlib import Path

from ipsbayes.diagnostics import Check
from ipsbayes.diagnostics_text import check_text, parameter_label, rule_text, table_rows
from ipsbayes.models.cace_text import describe_cace
from ipsbayes.priors import resolve_prior_set
from ipsbayes.report import reproducibility_rows
from ipsbayes.runner import check
from ipsbayes.testing import edit_config, load_raw_config

from .conftest import REPO

#: English words that must not appear in a Norwegian diagnostics table or rule
ENGLISH = re.compile(r"\b(warn|fail|pass|chains|transitions|of \d|parameter elements|observations|lowest)\b")


def test_parameters_are_named_with_the_configs_group_words() -> None:
    words = {"classroom": "klasse", "school": "school", "unit": "elev"}
    assert parameter_label("z_classroom[K3]", "nb", words) == "klasse-effekt (standardisert), K3"
    assert parameter_label("sd_classroom", "nb", words) == "SD for klasse-effekter"
    assert parameter_label("sd_classroom", "en", {"classroom": "class"}) == "SD of class effects"
    # without a word of its own the factor keeps its name; the IPS words keep their bokmål form
    assert parameter_label("sd_classroom", "en") == "SD of classroom effects"
    assert parameter_label("sd_service", "nb", {"service": "service"}) == "SD for tjenesteeffekter"
    assert parameter_label("sd_specialist", "en") == "SD of job-specialist effects"


def test_a_norwegian_diagnostics_table_and_verdict_are_norwegian() -> None:
    rhat = Check(
        "r_hat", "warn", 1.0256, "warn > 1.01, fail > 1.05", "R-hat above 1.01 for 1 of 9 parameter elements: x",
        ["sd_classroom"], "advice",
        message_nb="R-hat over 1.01 for 1 av 9 parameterelementer: SD for klasse-effekter (1.026)",
    )  # fmt: skip
    ess = Check("ess_bulk", "pass", 850.0, "warn < 200, fail < 50 (2 chains)", "lowest bulk ESS 850 (x)",
                message_nb="laveste bulk-ESS 850 (x) over 9 parameterelementer")  # fmt: skip
    rows = table_rows([rhat, ess], "nb")
    assert [row["status"] for row in rows] == ["advarsel", "bestått"] and rows[0]["status_key"] == "warn"
    assert rows[0]["value"] == "1,0256" and rows[0]["rule"] == "advarsel > 1,01, feil > 1,05"
    assert rows[1]["rule"] == "advarsel < 200, feil < 50 (2 kjeder)"
    for row in rows:
        assert not ENGLISH.search(row["rule"] + " " + row["detail"]), row
    assert rule_text("warn if any chain < 0.3", "nb") == "advarsel hvis en kjede < 0,3"
    verdict_line = check_text(rhat, "nb", {"classroom": "klasse"})
    assert "klasse-effekter" in verdict_line and "regel: advarsel > 1,01; feil > 1,05" in verdict_line
    english = table_rows([rhat], "en")[0]
    assert english["status"] == "warn" and english["rule"] == "warn > 1.01, fail > 1.05"
    # a run folder written before message_nb existed shows its English detail rather than nothing
    old = Check("e_bfmi", "pass", 0.75, "warn if any chain < 0.3", "lowest E-BFMI over chains 0.75")
    assert table_rows([old], "nb")[0]["detail"] == "lowest E-BFMI over chains 0,75"


def test_reproducibility_rows_are_translated_and_the_seed_kept_as_written() -> None:
    items = {"config": "models/x.toml", "data rows": 1589, "seed": 123456, "sampler": "nutpie",
             "prior set file": "(expanded in config.toml)"}  # fmt: skip
    rows = reproducibility_rows(items, "nb")
    assert rows["konfigurasjon"] == "models/x.toml" and rows["frø"] == 123456
    assert (
        rows["datarader"].replace("\u2009", " ") == "1 589"
        and rows["fil med priorsett"] == "(skrevet ut i config.toml)"
    )
    assert reproducibility_rows(items, "en") == items


def test_prior_rationales_have_norwegian_text_that_survives_the_run_folder() -> None:
    needed = {"intercept": "log-odds", "beta": "coefficient", "sd_service": "service SD"}
    priors, problems = resolve_prior_set("weakly_informative", needed, search_dirs=[REPO / "priors"])
    assert not problems and priors is not None
    english, norwegian = priors.table("en"), priors.table("nb")
    assert english[0]["source"].startswith("Log-odds at reference levels")
    assert norwegian[0]["source"].startswith("Log-odds ved referansenivåene")
    written = priors["intercept"].as_dict()
    assert written["source_nb"].startswith("Log-odds ved") and "source_nb" not in priors["intercept"].params
    # a run-config override that gives no source gets the override's words in both languages
    overridden, _ = resolve_prior_set(
        "weakly_informative", needed, {"beta": {"sigma": 0.5}}, search_dirs=[REPO / "priors"]
    )
    row = next(r for r in overridden.table("nb") if r["parameter"] == "beta")
    assert row["source"] == "overstyrt i kjøringens konfigurasjon"


def test_the_cace_description_never_publishes_a_small_count(tmp_path: Path) -> None:
    from ipsbayes.simulate import simulate

    simulate("rij", seed=4, out=tmp_path, options={"n_participants": 80, "complier_intercept": -4.0})
    raw = load_raw_config(REPO / "models" / "rij_cace.toml")
    raw["data"]["participants"] = str(tmp_path / "participants.csv")
    plan = check(edit_config(raw, **{"report.min_cell": 5}))
    received = plan.data.info["observed"]["n_received"]
    assert received < 5, "the simulated trial should have fewer than 5 receivers"
    text = describe_cace(plan.spec, plan.data)
    assert "(fewer than 5 received it)" in text and f"({received} received it)" not in text
    assert "(færre enn 5 mottok det)" in describe_cace(plan.spec, plan.data, "nb")
    large = check(edit_config(raw, **{"report.min_cell": 1}))
    assert f"({received} received it)" in describe_cace(large.spec, large.data)


def test_data_notes_have_norwegian_texts() -> None:
    from ipsbayes.present.notes import translate_note

    notes = {
        "363 participants were collapsed into 19 binomial rows with identical predictors and groups "
        "(same posterior, fewer likelihood terms).": "363 deltakere ble slått sammen til 19 binomiske rader",
        "6 rows stand for 23682 participants (column 'n').": "6 rader står for 23682 deltakere (kolonnen 'n')",
        "35,000 person-months at risk were collapsed into 4,000 pattern-months with someone at risk (300 covariate "
        "patterns x 24 months; same likelihood).": "personmåneder under risiko ble slått sammen",
        "120 participants' follow-up ended before month 24 without a target state (right-censored: they count for "
        "the months they were followed).": "Oppfølgingen av 120 deltakere sluttet før måned 24",
    }
    for english, norwegian in notes.items():
        assert norwegian in translate_note(english, "nb") and translate_note(english) == english


def test_key_results_write_thresholds_with_the_reports_decimal_mark() -> None:
    from ipsbayes.report.tables import sentence

    row = {"unit": "pp", "label": "x", "element": "", "median": 0.2, "lower": 0.05, "upper": 0.3, "null": 0.0,
           "p_above_null": 0.99, "threshold": 0.1, "p_above_threshold": 0.97, "p_beyond_threshold": 0.97,
           "threshold_direction": "above"}  # fmt: skip
    assert "P(> 0,1) = 0,97" in sentence(row, 0.9, "eti", "nb") and "P(> 0.1) = 0.97" in sentence(row, 0.9, "eti")


def test_the_cace_size_sentence_counts_participants_not_weighted_rows() -> None:
    """Six rows standing for 23,682 infants: the sentence says 23,682 infants (the config's units)."""
    import json

    import numpy as np
    import xarray as xr

    from ipsbayes.models.cace_small import _participants

    from .wording import context

    estimands = xr.Dataset(
        {
            # "participants" is the smallest cell a rate rests on (the deaths), "group_size" the arm
            "observed_rate_treatment_arm": xr.DataArray(3.0, attrs={"participants": 46, "group_size": 12094}),
            "observed_rate_control_arm": xr.DataArray(4.0, attrs={"participants": 74, "group_size": 11588}),
            "cace": xr.DataArray(np.zeros((1, 10)), dims=("chain", "draw")),
        },
        attrs={"vocabulary": json.dumps({"units": "infants"})},
    )
    assert _participants(context(estimands)) == 23682


def test_built_in_fidelity_bands_are_named_in_norwegian_labels() -> None:
    from ipsbayes.scales import BUILTIN_SCALES, FidelityScale

    ips25 = BUILTIN_SCALES["ips25"]
    assert (ips25.band(100), ips25.band(100, "nb"), ips25.band(74, "nb"), ips25.band(50, "nb")) == (
        "good", "god", "rimelig", "ikke IPS",
    )  # fmt: skip
    own = FidelityScale(name="Egen", bands={"høy": 100}, below_bands="lav")
    assert own.band(110, "nb") == "høy" and own.band(10, "nb") == "lav"  # a config's own names as written
    plan = check(REPO / "models" / "ipsung_employment.toml")
    from ipsbayes.sampling import sample_prior_predictive

    prior = sample_prior_predictive(plan.model, draws=20, seed=1)["prior"].to_dataset()
    estimands = plan.family.estimands(prior, plan.data, plan.spec, plan.config)
    label_nb = estimands["fidelity_contrast"].attrs["label_nb"]
    assert "(god)" in label_nb and "(rimelig)" in label_nb and "good" not in label_nb
