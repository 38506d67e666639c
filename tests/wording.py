"""Synthetic estimands and report contexts for fast wording tests (no sampling)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from ipsbayes.present import ReportContext, Style
from ipsbayes.report.tables import summarise

CHAINS, DRAWS = 2, 500


def draws(mean: float, sd: float, seed: int = 0, shape: tuple[int, ...] = ()) -> np.ndarray:
    """Normal draws of shape (chain, draw, *shape)."""
    return np.random.default_rng(seed).normal(mean, sd, size=(CHAINS, DRAWS, *shape))


def variable(
    mean: float, sd: float, label: str, unit: str, null: float | None = 0.0, seed: int = 0, **attrs: Any
) -> xr.DataArray:
    """A scalar estimand with the attrs families attach."""
    out = xr.DataArray(draws(mean, sd, seed), dims=("chain", "draw"), attrs={"label": label, "unit": unit, **attrs})
    if null is not None:
        out.attrs["null"] = null
    return out


def context(
    estimands: xr.Dataset,
    language: str = "en",
    thresholds: dict[str, float] | None = None,
    groups: dict[str, xr.Dataset] | None = None,
    labels: dict[str, str] | None = None,
    min_cell: int = 5,
    calibration: dict | None = None,
) -> ReportContext:
    """A ReportContext over ``estimands`` with extra DataTree groups (sensitivity, prior_estimands, ...)."""
    thresholds = thresholds or {}
    tree = xr.DataTree.from_dict({"estimands": estimands, **(groups or {})})
    return ReportContext(
        estimands=estimands,
        datatree=tree,
        summary=summarise(estimands, "eti", 0.9, thresholds),
        style=Style("eti", 0.9, language),
        labels=labels or {},
        thresholds=thresholds,
        min_cell=min_cell,
        calibration=calibration,
    )


def cace_estimands(
    cace: float, never: float, usual: float, share: float = 65.0, sd: float = 3.0, outcome: str = "employment"
) -> xr.Dataset:
    """CACE estimands on the pp scale with chosen never-taker and complier (usual follow-up) rates."""
    out = xr.Dataset()
    control = share / 100 * usual + (1 - share / 100) * never
    out["cace"] = variable(cace, sd, "CACE: effect of receiving IPS", "pp", headline=True, seed=1)
    out["cace_ratio"] = variable((usual + cace) / usual, 0.1, "CACE as a ratio", "ratio", null=1.0, seed=2)
    out["itt"] = variable(cace * share / 100, sd * share / 100, "ITT: effect of being offered IPS", "pp", seed=3)
    out["per_protocol"] = variable(usual + cace - control, sd, "Naive per-protocol", "pp", seed=4)
    out["per_protocol_bias"] = variable(usual - control, 1.0, "Per-protocol minus CACE", "pp", seed=5)
    out["complier_share"] = variable(share, 3.0, "Share of compliers", "%", null=None, seed=6)
    out["complier_rate_control"] = variable(usual, 2.0, "Compliers under usual follow-up", "%", null=None, seed=7)
    out["complier_rate_treated"] = variable(usual + cace, 2.0, "Compliers under IPS", "%", null=None, seed=8)
    out["never_taker_rate"] = variable(never, 2.0, "Never-takers", "%", null=None, seed=9)
    out["control_rate"] = variable(control, 2.0, "Everyone assigned to usual follow-up", "%", null=None, seed=10)
    out["treatment_rate"] = variable(control + cace * share / 100, 2.0, "Everyone assigned to IPS", "%", null=None)
    out["observed_wald_cace"] = xr.DataArray(cace * 1.5, attrs={"label": "Wald", "unit": "pp", "participants": 20})
    out["observed_itt"] = xr.DataArray(cace, attrs={"label": "ITT", "unit": "pp", "participants": 30})
    out["observed_per_protocol"] = xr.DataArray(cace * 2, attrs={"label": "PP", "unit": "pp", "participants": 20})
    # the words models/rij_cace.toml gives (the CACE family stores the config's words only)
    words = {"treatment": "IPS", "control": "usual follow-up", "control_nb": "ordinær oppfølging", "outcome": outcome}
    out.attrs["vocabulary"] = json.dumps(words)
    out.attrs["model_kind"] = "cace"
    return out


def fidelity_estimands(contrast: float, sd: float = 2.0) -> xr.Dataset:
    """Fidelity contrast and odds ratio of the hierarchical logistic family."""
    out = xr.Dataset()
    out["fidelity_contrast"] = variable(
        contrast, sd, "Outcome rate at IPS-25 = 100 (good) minus at 74 (fair)", "pp", seed=11,
        scale="IPS-25", low=74.0, high=100.0, band_low="fair", band_high="good", per=10.0,
    )  # fmt: skip
    out["fidelity_odds_ratio"] = variable(1 + contrast / 50, 0.05, "Odds ratio per 10 IPS-25 points", "OR", null=1.0)
    out["fidelity_slope"] = variable(contrast / 50, 0.05, "Fidelity slope", "log-odds per 10 IPS-25 points")
    out.attrs["model_kind"] = "hierarchical_logistic"
    return out
