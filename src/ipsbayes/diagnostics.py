"""The diagnostics gate: a DataTree in, pass/warn/fail per check out.

Checks (thresholds in :class:`~ipsbayes.config.DiagnosticsConfig`):

- R-hat (rank-normalised, Vehtari et al. 2021) of every posterior quantity;
- bulk and tail ESS relative to the number of chains;
- divergent transitions, tree-depth saturation and E-BFMI, read by ArviZ's
  ``diagnose`` (the same checks as CmdStan's ``diagnose``);
- Pareto k of PSIS-LOO (ArviZ's ``loo``), which says whether leave-one-out
  estimates, and the model's fit to single observations, can be trusted.

Divergences and poor mixing are never hidden: every number lands in
``diagnostics.json`` and at the top of the report.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from ipsbayes.config import DiagnosticsConfig

Status = Literal["pass", "warn", "fail", "skipped"]
_ORDER = {"skipped": 0, "pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class Check:
    """One diagnostic check with its number and the rule it was judged by."""

    name: str
    status: Status
    value: float | int | None
    rule: str
    message: str


@dataclass
class Diagnostics:
    """Result of the gate: overall status, the checks, and plain-language messages."""

    checks: list[Check] = field(default_factory=list)
    worst_parameters: dict[str, list[str]] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        """Worst status over the checks."""
        worst = max((_ORDER[c.status] for c in self.checks), default=0)
        return {0: "pass", 1: "warn", 2: "fail"}[worst]

    @property
    def passed(self) -> bool:
        """True unless a check failed."""
        return self.status != "fail"

    @property
    def messages(self) -> list[str]:
        """Messages of the checks that did not pass."""
        return [f"{c.name}: {c.message}" for c in self.checks if c.status in ("warn", "fail")]

    def table(self) -> pd.DataFrame:
        """One row per check (name, status, value, rule, message)."""
        return pd.DataFrame([asdict(c) for c in self.checks])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form written to ``diagnostics.json``."""
        return {
            "status": self.status,
            "passed": self.passed,
            "checks": [asdict(c) for c in self.checks],
            "worst_parameters": self.worst_parameters,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Diagnostics:
        """Rebuild from ``diagnostics.json``."""
        return cls([Check(**c) for c in raw["checks"]], raw.get("worst_parameters", {}))


def diagnose(datatree: xr.DataTree, thresholds: DiagnosticsConfig, var_names: list[str] | None = None) -> Diagnostics:
    """Run every check on a fitted DataTree.

    Parameters
    ----------
    datatree : DataTree
        Needs ``posterior`` and ``sample_stats``; ``log_likelihood`` enables the Pareto k check.
    thresholds : DiagnosticsConfig
        Warn/fail rules.
    var_names : list of str, optional
        Posterior variables to check R-hat and ESS on (default: all).
    """
    posterior = datatree["posterior"]
    n_chains = posterior.sizes["chain"]
    total = n_chains * posterior.sizes["draw"]
    checks: list[Check] = []
    result = Diagnostics(checks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = az.summary(datatree, var_names=var_names, kind="diagnostics", round_to="none")
        _, sampler = az.diagnose(datatree, var_names=var_names, return_diagnostics=True, show_diagnostics=False)
    checks.append(_rhat_check(summary, thresholds, result))
    for kind in ("bulk", "tail"):
        checks.append(_ess_check(summary, kind, n_chains, thresholds, result))
    divergent = sampler.get("divergent", {}).get("n_divergent")
    if divergent is None:
        checks.append(Check("divergences", "skipped", None, "", "the sampler reported no divergence statistics"))
    else:
        status: Status = "pass" if divergent <= thresholds.max_divergences else "fail"
        checks.append(
            Check(
                "divergences",
                status,
                int(divergent),
                f"fail if > {thresholds.max_divergences}",
                f"{divergent} of {total} transitions diverged"
                + (
                    "; the posterior may be biased where divergences cluster: reparameterise or raise target_accept"
                    if divergent
                    else ""
                ),
            )
        )
    depth = sampler.get("treedepth", {}).get("n_max")
    if depth is not None:
        checks.append(
            Check(
                "tree_depth",
                "pass" if depth == 0 else "warn",
                int(depth),
                "warn if > 0",
                f"{depth} of {total} transitions hit the maximum tree depth"
                + (" (slow exploration, not bias)" if depth else ""),
            )
        )
    if "bfmi" in sampler:
        values = np.asarray(sampler["bfmi"]["bfmi_values"], dtype=float)
        low = float(values.min())
        checks.append(
            Check(
                "e_bfmi",
                "pass" if low >= thresholds.bfmi_min else "warn",
                round(low, 3),
                f"warn if any chain < {thresholds.bfmi_min}",
                f"lowest E-BFMI over chains {low:.2f}"
                + (" (heavy tails or poor momentum resampling)" if low < thresholds.bfmi_min else ""),
            )
        )
    checks.extend(_pareto_checks(datatree, thresholds))
    return result


def _rhat_check(summary: pd.DataFrame, thresholds: DiagnosticsConfig, result: Diagnostics) -> Check:
    rhat = summary["r_hat"].astype(float)
    worst = float(rhat.max())
    result.worst_parameters["r_hat"] = rhat.sort_values(ascending=False).index[:5].tolist()
    if worst > thresholds.rhat_fail:
        status: Status = "fail"
    elif worst > thresholds.rhat_warn:
        status = "warn"
    else:
        status = "pass"
    return Check(
        "r_hat",
        status,
        round(worst, 4),
        f"warn > {thresholds.rhat_warn}, fail > {thresholds.rhat_fail}",
        f"largest R-hat {worst:.3f} ({rhat.idxmax()})",
    )


def _ess_check(
    summary: pd.DataFrame, kind: str, n_chains: int, thresholds: DiagnosticsConfig, result: Diagnostics
) -> Check:
    ess = summary[f"ess_{kind}"].astype(float)
    lowest = float(ess.min())
    warn_at, fail_at = thresholds.ess_per_chain * n_chains, thresholds.ess_fail_per_chain * n_chains
    result.worst_parameters[f"ess_{kind}"] = ess.sort_values().index[:5].tolist()
    status: Status = "fail" if lowest < fail_at else "warn" if lowest < warn_at else "pass"
    return Check(
        f"ess_{kind}",
        status,
        round(lowest, 1),
        f"warn < {warn_at:g}, fail < {fail_at:g} ({n_chains} chains)",
        f"lowest {kind} ESS {lowest:.0f} ({ess.idxmin()})",
    )


def _pareto_checks(datatree: xr.DataTree, thresholds: DiagnosticsConfig) -> list[Check]:
    """PSIS-LOO Pareto k for each observed variable (outcome, and e.g. fidelity reviews)."""
    if "log_likelihood" not in datatree.children:
        return [Check("pareto_k", "skipped", None, "", "no log-likelihood stored, LOO not computed")]
    names = list(datatree["log_likelihood"].data_vars)
    checks = []
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loo = az.loo(datatree, var_name=name)
        limit = thresholds.pareto_k_max if thresholds.pareto_k_max is not None else float(loo.good_k)
        k = np.asarray(loo.pareto_k).ravel()
        n_bad = int((k > limit).sum())
        checks.append(
            Check(
                "pareto_k" if len(names) == 1 else f"pareto_k ({name})",
                "pass" if n_bad == 0 else "warn",
                n_bad,
                f"warn if any k > {limit:.2f}",
                f"{n_bad} of {k.size} observations have Pareto k > {limit:.2f} (max {k.max():.2f}); "
                f"elpd_loo {float(loo.elpd):.1f} (SE {float(loo.se):.1f}), p_loo {float(loo.p):.1f}",
            )
        )
    return checks
