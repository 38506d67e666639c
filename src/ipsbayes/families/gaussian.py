"""Continuous outcome (e.g. a symptom score, a reaction time): normal likelihood, identity link."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from ipsbayes.families.base import Link, OutcomeFamily, unit_share_problems
from ipsbayes.priors import Prior
from ipsbayes.textutil import decimal_commas


class Gaussian(OutcomeFamily):
    """Normal likelihood with an identity link and a residual SD ``sigma``."""

    name = "gaussian"
    title = "Gaussian (continuous outcome), identity link"
    title_nb = "Normalfordelt (kontinuerlig utfall), identitetslink"
    likelihood_names = ("Gaussian (normal)", "normalfordelt")
    link: ClassVar[Link] = "identity"
    integer = False
    aux: ClassVar[dict[str, str]] = {"sigma": "residual SD (outcome units)"}

    def check_response(self, values: pd.Series, trials: np.ndarray | None, where: str, column: str) -> list[str]:
        """Numeric values that vary (a continuous outcome with SD 0 has no scale to fit); no trials column."""
        numeric, problems = unit_share_problems(values, where, column)
        values = numeric.dropna().to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        # (nearly) one value: an SD of 1e-10 against values near 1 leaves no scale to fit either
        if not problems and values.size > 1 and np.std(values) <= 1e-9 * max(1.0, float(np.max(np.abs(values)))):
            problems.append(
                f"{where}: column '{column}' has the same value ({values[0]:g}) in all {values.size} rows, or "
                f"differences below a billionth of it: a {self.name} outcome must vary (its SD is about 0, so neither "
                "its residual SD nor the priors scaled to it can be set); check the column, or model another outcome"
            )
        if trials is not None:
            problems.append(f"{where}: a {self.name} outcome has no trials; drop model.trials or p(..., trials)")
        return problems

    def location_scale(self, y: np.ndarray, trials: np.ndarray | None) -> tuple[float, float]:
        """Mean and SD of the outcome (SD 1 when it is constant)."""
        return float(np.mean(y)), float(np.std(y)) or 1.0

    def _aux_scale(self, name: str, outcome_unit: str | None) -> str:
        return f"outcome units ({outcome_unit})" if outcome_unit else "outcome units"

    def default_priors(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, Prior]:
        """Location defaults plus a residual SD on the scale of the outcome's SD."""
        _, spread = self.location_scale(y, trials)
        return super().default_priors(y, trials) | {
            "sigma": Prior(
                "HalfStudentT",
                {"nu": 3.0, "sigma": round(spread, 6)},
                f"default scaled to the data: residual SD on the scale of the outcome's SD ({spread:.4g})",
                source_nb=decimal_commas(
                    f"standard skalert etter dataene: residual-SD på skalaen til utfallets SD ({spread:.4g})"
                ),
            )
        }

    def logp(self, value: Any, eta: Any, trials: Any, aux: dict[str, Any]) -> Any:
        """Normal log-density."""
        return pm.logp(pm.Normal.dist(mu=eta, sigma=aux["sigma"]), value)

    def observe(
        self, name: str, eta: Any, y: Any, trials: Any, aux: dict[str, Any], dims: str | tuple[str, ...]
    ) -> Any:
        """PyMC's Normal."""
        return pm.Normal(name, mu=eta, sigma=aux["sigma"], observed=y, dims=dims)

    def draw(
        self, eta: np.ndarray, trials: np.ndarray | None, aux: dict[str, np.ndarray], rng: np.random.Generator
    ) -> np.ndarray:
        """Normal draws around ``eta``."""
        return rng.normal(eta, float(np.asarray(aux["sigma"]).ravel()[0]))

    def estimands(self, posterior: xr.Dataset, outcome_unit: str | None) -> dict[str, xr.DataArray]:
        """The residual SD in the outcome's unit."""
        from ipsbayes.models.base import estimand

        return {
            "sigma": estimand(
                posterior["sigma"],
                "Residual SD",
                outcome_unit or "outcome units",
                null=None,
                label_nb="Residualstandardavvik",
            )
        }

    @property
    def figure(self) -> Any:
        """Posterior predictive density against the observed outcome."""
        from ipsbayes.families.figures import DENSITY

        return DENSITY


FAMILY = Gaussian()
