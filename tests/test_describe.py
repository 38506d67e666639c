"""The model description matches the config actually run (no sampling), in English and Norwegian."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ipsbayes.config import DiagnosticsConfig
from ipsbayes.diagnostics import diagnose
from ipsbayes.diagnostics_text import parameter_label
from ipsbayes.present.notes import translate_note
from ipsbayes.runner import check
from ipsbayes.testing import load_raw_config

from .conftest import REPO


def describe(plan, language: str = "en") -> str:
    return plan.family.describe(plan.spec, plan.data, language)


def test_fidelity_paragraph_follows_how_fidelity_entered(make_config, small_ipsung: Path) -> None:
    column = check(make_config("ipsung_employment", data=small_ipsung))
    text = describe(column)
    assert "used as measured (no measurement error" in text and "latent" not in text
    assert "and 40 job specialists" in text and "sd_specialist" in text
    latent = check(make_config("ipsung_fidelity", data=small_ipsung))
    text = describe(latent)
    assert "is latent" in text and "measure it with error" in text and "true_fidelity" in text
    assert "without error" not in text and "as measured" not in text and "plugged in" not in text
    plug_in = check(make_config("ipsung_fidelity", data=small_ipsung, **{"model.fidelity.measurement_error": False}))
    assert "plugged in as if exact" in describe(plug_in) and "latent" not in describe(plug_in)
    raw = load_raw_config(make_config("ipsung_employment", data=small_ipsung))
    raw["model"]["formula"] = "work_or_education_12m ~ age + (1 | service)"
    del raw["model"]["fidelity"], raw["report"]["thresholds"]
    services_only = check(raw)
    text = describe(services_only)
    assert "specialist" not in text and "Fidelity" not in text and "fidelity_slope" not in text
    assert "sann" in describe(latent, "nb") and "Hierarkisk logistisk regresjon" in describe(column, "nb")


def test_competing_outcomes_claims_no_identity_with_another_config(make_config, small_ipsung: Path) -> None:
    plan = check(make_config("ipsung_outcomes", data=small_ipsung))
    text = describe(plan)
    assert "exactly the binary model" not in text and "ipsung_employment" not in text
    assert "Each coefficient has its own prior" in text  # shrinkage = false in the shipped config
    shrunk = check(make_config("ipsung_outcomes", data=small_ipsung, **{"model.shrinkage": True}))
    assert "share a scale" in describe(shrunk) and "hierarkisk krymping" in describe(shrunk, "nb")


def test_cace_description_follows_outcome_family_and_exclusion_restriction(make_config) -> None:
    months = check(make_config("rij_cace_months", data=REPO / "data" / "rij"))
    assert "beta-binomial of 12 likelihood" in describe(months) and "betabinomial av 12" in describe(months, "nb")
    relaxed = check(make_config("rij_cace", data=REPO / "data" / "rij", **{"model.exclusion_restriction": False}))
    assert "Exclusion restriction relaxed" in describe(relaxed) and "løsnet" in describe(relaxed, "nb")


def test_notes_translate_and_unknown_notes_stay() -> None:
    note = "Fidelity: mean of 80 review scores per service plugged in (no measurement error)."
    assert translate_note(note, "nb").startswith("Modelltrofasthet: gjennomsnittet av 80")
    assert translate_note(note, "en") == note and translate_note("Something new.", "nb") == "Something new."


def test_gate_names_every_parameter_beyond_its_threshold_readably() -> None:
    rng = np.random.default_rng(1)
    chains, draws = 4, 300
    shifted = rng.normal(size=(chains, draws)) + np.array([0.0, 0.0, 0.0, 0.6])[:, None]  # one chain off
    posterior = xr.Dataset(
        {
            "intercept": (("chain", "draw"), shifted),
            "sd_specialist": (("chain", "draw"), np.exp(0.3 * shifted)),
            "service_chol": (("chain", "draw", "cholesky_element"), rng.normal(size=(chains, draws, 3))),
            "beta": (("chain", "draw", "term"), rng.normal(size=(chains, draws, 2))),
        },
        coords={
            "chain": np.arange(chains),
            "draw": np.arange(draws),
            "cholesky_element": ["L[0,0]", "L[1,0]", "L[1,1]"],
            "term": ["age", "gender[male]"],
        },
    )
    stats = xr.Dataset(
        {"diverging": (("chain", "draw"), np.zeros((chains, draws), bool)),
         "energy": (("chain", "draw"), rng.normal(size=(chains, draws)))},
        coords={"chain": np.arange(chains), "draw": np.arange(draws)},
    )  # fmt: skip
    result = diagnose(xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats}), DiagnosticsConfig())
    rhat = next(c for c in result.checks if c.name == "r_hat")
    assert rhat.status != "pass" and set(rhat.parameters) == {"intercept", "sd_specialist"}
    assert "intercept" in rhat.message and "SD of job-specialist effects" in rhat.message
    assert "sd_specialist" not in rhat.message and "--profile final" in rhat.advice
    assert any("What to do" in m for m in result.messages)
    assert any("Hva du kan gjøre" in m and "SD for jobbspesialisteffekter" in m for m in result.messages_in("nb"))
    assert parameter_label("service_chol[L[2,1]]") == "Cholesky factor of the service covariance, row 3, column 2"
