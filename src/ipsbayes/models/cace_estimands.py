"""CACE estimands on the users' scale, labelled with the study's own words.

Every quantity averages over the study's participants (rows weighted by the number of
participants they stand for), weighting by each participant's probability of being a
complier where the estimand is about compliers. Levels are in % (binary outcomes),
the count's unit (months of 12) or the outcome's unit (continuous outcomes);
differences in percentage points or the same unit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ipsbayes.models.base import ModelData, estimand, nb_word, unstack_draws
from ipsbayes.models.cace_strata import StrataDraws


def cace_estimands(
    draws: StrataDraws, posterior: xr.Dataset, data: ModelData, spec: Any, units: tuple[float, str, str]
) -> xr.Dataset:
    """CACE, its ratio, ITT, naive per-protocol and its bias, complier share and stratum means."""
    scale, unit, rate_unit = units
    words = spec.words
    treatment, control = words["treatment"], words["control"]
    treatment_nb, control_nb = nb_word(words, "treatment", treatment), nb_word(words, "control", control)
    pi = draws.pi
    complier_c0 = draws.average(draws.mu_c0, pi)
    complier_c1 = draws.average(draws.mu_c1, pi)
    control_all = draws.average(pi * draws.mu_c0 + (1 - pi) * draws.mu_n0)
    treated_all = draws.average(pi * draws.mu_c1 + (1 - pi) * draws.mu_n1)
    never_taker = draws.average(draws.mu_n0, 1 - pi)
    label = data.info["outcome_label"]
    label_nb = nb_word(words, "outcome", label)

    def wrap(values: np.ndarray) -> xr.DataArray:
        return unstack_draws(np.asarray(values), posterior)

    out = xr.Dataset()
    out["cace"] = estimand(
        wrap(scale * (complier_c1 - complier_c0)),
        f"CACE: effect of receiving {treatment} on {label} for compliers",
        unit,
        label_nb=f"CACE: effekt av å motta {treatment_nb} på {label_nb} for compliers",
        headline=True,
    )
    out["cace_ratio"] = estimand(
        wrap(complier_c1 / complier_c0),
        f"CACE as a ratio (compliers: {treatment} / {control})",
        "ratio",
        null=1.0,
        label_nb=f"CACE som forholdstall (compliers: {treatment_nb} / {control_nb})",
        headline=True,
    )
    out["itt"] = estimand(
        wrap(scale * (treated_all - control_all)),
        f"ITT: effect of being offered {treatment} (everyone randomised)",
        unit,
        label_nb=f"ITT: effekt av å bli tilbudt {treatment_nb} (alle randomiserte)",
        headline=True,
    )
    out["per_protocol"] = estimand(
        wrap(scale * (complier_c1 - control_all)),
        f"Naive per-protocol: received {treatment} vs all assigned to {control} (confounded)",
        unit,
        label_nb=f"Naiv per protokoll: mottok {treatment_nb} mot alle tildelt {control_nb} (konfundert)",
        headline=True,
        note=f"compares compliers under {treatment} with compliers and never-takers under {control}",
    )
    out["per_protocol_bias"] = estimand(
        wrap(scale * (complier_c0 - control_all)),
        "Per-protocol minus CACE (bias from never-takers in the control arm)",
        unit,
        label_nb="Per protokoll minus CACE (skjevhet fra never-takers i kontrollarmen)",
    )
    out["complier_share"] = estimand(
        wrap(100 * draws.average(pi)), "Share of compliers", "%", null=None, label_nb="Andel compliers", headline=True
    )
    levels = {
        "complier_rate_control": (complier_c0, f"Compliers under {control}", f"Compliers med {control_nb}"),
        "complier_rate_treated": (complier_c1, f"Compliers under {treatment}", f"Compliers med {treatment_nb}"),
        "never_taker_rate": (never_taker, f"Never-takers ({control})", f"Never-takers med {control_nb}"),
        "control_rate": (control_all, f"Everyone assigned to {control}", f"Alle tildelt {control_nb}"),
        "treatment_rate": (treated_all, f"Everyone assigned to {treatment}", f"Alle tildelt {treatment_nb}"),
    }
    for name, (values, text, text_nb) in levels.items():
        out[name] = estimand(wrap(scale * values), text, rate_unit, null=None, label_nb=text_nb)
    obs = data.info["observed"]
    share = obs["n_received"] / obs["n_treatment_arm"]
    observed = {
        "observed_itt": (obs["mean_treatment_arm"] - obs["mean_control_arm"], "Observed difference by arm (ITT)"),
        "observed_per_protocol": (
            obs["mean_received"] - obs["mean_control_arm"],
            f"Observed received-{treatment} minus {control} (per-protocol)",
        ),
        "observed_wald_cace": (
            (obs["mean_treatment_arm"] - obs["mean_control_arm"]) / share,
            f"Wald/IV estimate: observed ITT / share receiving {treatment}",
        ),
    }
    # "participants": the smallest cell an observed value rests on (small-cell protection in reports): a group's
    # size and, for a binary outcome, those with and without the outcome in it; a cell of 0 gives nobody away.
    # Those assigned to the treatment who did not receive it are a group too: the arm's mean beside the
    # received mean gives theirs away, and the share receiving gives away their number
    binary = spec.outcome_family == "bernoulli"
    groups = {group: (obs[f"n_{group}"], obs[f"mean_{group}"]) for group in GROUPS}
    missed = obs["n_treatment_arm"] - obs["n_received"]
    missed_mean = (
        (obs["n_treatment_arm"] * obs["mean_treatment_arm"] - obs["n_received"] * obs["mean_received"]) / missed
        if missed > 0
        else np.nan
    )
    groups["not_received"] = (missed, missed_mean)
    cell = {group: _smallest_cell(n, mean, binary) for group, (n, mean) in groups.items()}
    smallest = {
        "observed_itt": _least(cell["treatment_arm"], cell["control_arm"]),
        "observed_per_protocol": _least(cell["received"], cell["control_arm"], cell["not_received"]),
        "observed_wald_cace": _least(cell["received"], cell["control_arm"], cell["treatment_arm"], missed),
    }
    for name, (value, text) in observed.items():
        out[name] = xr.DataArray(scale * value, attrs={"label": text, "unit": unit, "participants": smallest[name]})
    for name, key, text, n, size in (
        ("observed_rate_control_arm", "mean_control_arm", f"{control} arm", cell["control_arm"], "control_arm"),
        (
            "observed_rate_treatment_arm",
            "mean_treatment_arm",
            f"{treatment} arm",
            cell["treatment_arm"],
            "treatment_arm",
        ),
        (
            "observed_rate_received",
            "mean_received",
            f"received {treatment}",
            _least(cell["received"], cell["not_received"]),
            "received",
        ),
    ):
        out[name] = xr.DataArray(
            scale * obs[key],
            attrs={
                "label": f"Observed outcome, {text}",
                "unit": rate_unit,
                "participants": n,
                "group_size": float(obs[f"n_{size}"]),  # everyone in the group (the smallest cell is "participants")
            },
        )
    return out


#: the observed groups of a CACE trial (keys of ``data.info["observed"]``: ``n_<group>`` and ``mean_<group>``)
GROUPS = ("control_arm", "treatment_arm", "received")


def _least(*cells: float) -> float:
    """The smallest non-empty cell among ``cells`` (0 when all are empty: an empty cell gives nobody away)."""
    return min((float(c) for c in cells if c > 0), default=0.0)


def _smallest_cell(n: float, mean: float, binary: bool) -> float:
    """The smallest non-empty cell behind an observed group mean (3 of 33 employed: 3).

    Its size and, with a binary outcome, those with and without the outcome; an empty cell (0 with the
    outcome) gives nobody away and is not counted.
    """
    if not binary or not np.isfinite(mean):
        return float(n)
    events = float(round(mean * n))
    return min(c for c in (float(n), events, float(n) - events) if c > 0) if n > 0 else 0.0
