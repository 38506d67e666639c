"""A prior-set refit says which priors it changed and which parameters its set does not name.

An outside review: in a county/clinic design, the "sceptical" refit took only ``intercept`` and
``beta`` from ``sceptical.toml`` (which names the IPS ``sd_service``, ``sd_specialist``, ...) and left
``sd_county`` and ``sd_clinic`` at the defaults, while the report's row was labelled "the sceptical
prior set" with nothing saying so. The sensitivity section now lists each set's changes.
"""

from __future__ import annotations

import json

import xarray as xr

from ipsbayes.priors import Prior, PriorSet
from ipsbayes.report.sections import prior_changes_text
from ipsbayes.sensitivity import prior_changes

from .wording import context, variable

NORMAL_1 = Prior("Normal", {"mu": 0.0, "sigma": 1.0}, "a")
DEFAULT_SD = Prior("HalfStudentT", {"nu": 3.0, "sigma": 2.5}, "default")


def _set(name: str, **priors: Prior) -> PriorSet:
    return PriorSet(name=name, description="", priors=priors)


def test_changes_list_the_priors_that_differ_and_the_parameters_the_set_leaves_to_defaults() -> None:
    main = _set(
        "defaults", intercept=Prior("Normal", {"mu": 0.0, "sigma": 2.5}, "d"), beta=NORMAL_1, sd_county=DEFAULT_SD
    )
    named = _set(
        "sceptical", intercept=Prior("Normal", {"mu": 0.0, "sigma": 1.5}, "s"), beta=NORMAL_1, sd_service=NORMAL_1
    )
    refit = _set(
        "sceptical", intercept=named["intercept"], beta=Prior("Normal", {"mu": 0.0, "sigma": 1.0}, "other words")
    )
    refit = _set("sceptical", **refit.priors, sd_county=DEFAULT_SD)
    change = prior_changes(main, refit, named)
    assert change["changed"] == ["intercept: " + named["intercept"].describe()]  # beta: same numbers, other source
    assert change["defaulted"] == ["sd_county"]


def _ctx(changes: dict, language: str) -> object:
    estimands = xr.Dataset({"outcome_rate": variable(30.0, 2.0, "Outcome rate", "%", headline=True)})
    sensitivity = xr.Dataset(attrs={"prior_changes": json.dumps(changes)})
    return context(estimands, language, groups={"sensitivity": sensitivity})


def test_the_report_names_what_each_set_changes_in_both_languages() -> None:
    changes = {
        "prior set: sceptical": {"changed": ["intercept: Normal(mu=0, sigma=1.5)"], "defaulted": ["sd_county"]},
        "prior set: tight": {"changed": [], "defaulted": []},
    }
    en = prior_changes_text(_ctx(changes, "en"))
    assert en.startswith(
        "What the prior sets change: The sceptical prior set gives `intercept` Normal(mu=0, sigma=1.5)"
    )
    assert "the parameters it does not name (`sd_county`) keep the model's defaults" in en
    assert "The tight prior set changes no prior of the main analysis." in en
    nb = prior_changes_text(_ctx(changes, "nb"))
    assert "Priorsettet skeptisk gir `intercept`" in nb and "(`sd_county`), beholder modellens standardpriorer" in nb
    assert prior_changes_text(_ctx({}, "en")) == ""
