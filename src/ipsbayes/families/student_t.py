"""Continuous outcome with heavy tails: Student-t likelihood (robust to outliers), identity link."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pymc as pm
import xarray as xr

from ipsbayes.families.gaussian import Gaussian
from ipsbayes.priors import Prior


class StudentT(Gaussian):
    """Student-t likelihood with location ``eta``, scale ``sigma`` and degrees of freedom ``nu``."""

    name = "student_t"
    title = "Student-t (continuous outcome, robust to outliers), identity link"
    title_nb = "Student-t (kontinuerlig utfall, robust mot uteliggere), identitetslink"
    likelihood_names = ("Student-t", "Student-t")
    aux: ClassVar[dict[str, str]] = {
        "sigma": "residual scale (outcome units)",
        "nu": "degrees of freedom of the residuals (small = heavy tails)",
    }

    def _aux_scale(self, name: str, outcome_unit: str | None) -> str:
        return "degrees of freedom" if name == "nu" else super()._aux_scale(name, outcome_unit)

    def default_priors(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, Prior]:
        """Gaussian defaults plus Gamma(2, 0.1) degrees of freedom (Juarez & Steel 2010; brms's default)."""
        return super().default_priors(y, trials) | {
            "nu": Prior(
                "Gamma",
                {"alpha": 2.0, "beta": 0.1},
                "default (Juarez & Steel 2010): mean 20, mode 10",
                source_nb="standard (Juarez & Steel 2010): gjennomsnitt 20, typetall 10",
            )
        }

    def logp(self, value: Any, eta: Any, trials: Any, aux: dict[str, Any]) -> Any:
        """Student-t log-density."""
        return pm.logp(pm.StudentT.dist(nu=aux["nu"], mu=eta, sigma=aux["sigma"]), value)

    def observe(
        self, name: str, eta: Any, y: Any, trials: Any, aux: dict[str, Any], dims: str | tuple[str, ...]
    ) -> Any:
        """PyMC's StudentT."""
        return pm.StudentT(name, nu=aux["nu"], mu=eta, sigma=aux["sigma"], observed=y, dims=dims)

    def draw(
        self, eta: np.ndarray, trials: np.ndarray | None, aux: dict[str, np.ndarray], rng: np.random.Generator
    ) -> np.ndarray:
        """Student-t draws around ``eta``."""
        nu = float(np.asarray(aux["nu"]).ravel()[0])
        return eta + float(np.asarray(aux["sigma"]).ravel()[0]) * rng.standard_t(nu, size=np.shape(eta))

    def estimands(self, posterior: xr.Dataset, outcome_unit: str | None) -> dict[str, xr.DataArray]:
        """Residual scale and degrees of freedom."""
        from ipsbayes.models.base import estimand

        return {
            "sigma": estimand(
                posterior["sigma"],
                "Residual scale",
                outcome_unit or "outcome units",
                null=None,
                label_nb="Residualskala",
            ),
            "nu": estimand(
                posterior["nu"],
                "Degrees of freedom of the residuals",
                "df",
                null=None,
                label_nb="Frihetsgrader for residualene",
            ),
        }


FAMILY = StudentT()
