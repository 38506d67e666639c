"""What an outcome family owns: likelihood, link, default priors, users'-scale summaries and its check figure.

An outcome family is a plug-in (Bambi's ``Family``, brms's ``family``): the
regression families (:mod:`ipsbayes.models.multilevel`) and the CACE model
(:mod:`ipsbayes.models.cace`) ask it for

- the **likelihood** of the response given a linear predictor ``eta`` (:meth:`OutcomeFamily.observe`,
  :meth:`OutcomeFamily.logp`), written in the form that is cheapest to differentiate
  (issue 15's speed study measured ``-softplus(-s * eta)`` at 34 us per gradient against 54 us for PyMC's
  ``Bernoulli(logit_p=...)`` at 1,500 rows);
- the **link** and the mean on the users' scale (:meth:`OutcomeFamily.mean`: a probability, or the outcome
  in its own units);
- **default priors scaled to the data** (:meth:`OutcomeFamily.default_priors`): on the log-odds scale for
  binary and count outcomes, relative to the outcome's SD for continuous ones;
- the **units** estimands are reported in (% and percentage points, or the outcome's unit);
- its **predictive-check figure** (:attr:`OutcomeFamily.figure`).

Adding a family is one new module in this package plus one line in ``families/__init__.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from ipsbayes.prior_slots import PriorSlot
from ipsbayes.priors import Prior
from ipsbayes.textutil import decimal_commas

Link = Literal["logit", "identity"]


@dataclass(frozen=True)
class Units:
    """How a family's estimands are stated on the users' scale.

    Attributes
    ----------
    level : str
        Unit of a level (an expected outcome): ``"%"`` or the outcome's unit.
    difference : str
        Unit of a difference between two levels: ``"pp"`` or the outcome's unit.
    multiplier : float
        Factor from the family's mean to the reported level (100 for probabilities).
    noun : str
        ``"rate"`` for probabilities, ``"mean"`` for continuous outcomes (estimand names use it).
    """

    level: str
    difference: str
    multiplier: float
    noun: str


class OutcomeFamily(ABC):
    """A likelihood with its link, defaults and users'-scale presentation."""

    name: ClassVar[str]
    title: ClassVar[str]
    #: ``title`` in Norwegian (bokmål), for Norwegian model descriptions
    title_nb: ClassVar[str]
    #: the likelihood's short name in English and Norwegian ("Gaussian (normal)", "normalfordelt")
    likelihood_names: ClassVar[tuple[str, str]]
    link: ClassVar[Link]
    #: the response is a count of successes out of a trials column
    needs_trials: ClassVar[bool] = False
    #: identical rows may be merged into one row with trials (same posterior, fewer terms)
    collapsible: ClassVar[bool] = False
    #: response values are integers
    integer: ClassVar[bool] = True
    #: extra parameters (name -> meaning); each has a default prior
    aux: ClassVar[dict[str, str]] = {}
    #: :meth:`log_likelihood` and :meth:`predictive_draws` have a numpy form (no auxiliary parameters)
    numpy_pointwise: ClassVar[bool] = False
    #: every predictive draw lies in 0..trials (0..1 without a trials column): the draws fit a small integer type
    draws_within_trials: ClassVar[bool] = False

    # ------------------------------------------------------------ data
    @abstractmethod
    def check_response(self, values: pd.Series, trials: np.ndarray | None, where: str, column: str) -> list[str]:
        """Problems with the response column (type, range), naming rows."""

    def response(self, values: pd.Series) -> np.ndarray:
        """The response as the array the graph observes."""
        numeric = pd.to_numeric(values)
        return numeric.to_numpy(np.int64) if self.integer else numeric.to_numpy(float)

    def per_trial(self, y: np.ndarray, trials: np.ndarray | None) -> np.ndarray:
        """Observed outcome per row on the mean's scale (share of trials, or the value)."""
        return y / trials if trials is not None else y.astype(float)

    # ---------------------------------------------------------- priors
    def units(self, outcome_unit: str | None = None) -> Units:
        """Units of levels and differences on the users' scale."""
        if self.link == "logit":
            return Units("%", "pp", 100.0, "rate")
        unit = outcome_unit or "outcome units"
        return Units(unit, unit, 1.0, "mean")

    @property
    def scale_name(self) -> str:
        """Words for the scale the linear predictor lives on."""
        return "log-odds" if self.link == "logit" else "outcome scale"

    def slots(self, outcome_unit: str | None = None) -> dict[str, PriorSlot]:
        """Prior slots of the auxiliary parameters (all positive, all with data-scaled defaults)."""
        return {
            name: PriorSlot(meaning, support="positive", scale=self._aux_scale(name, outcome_unit), has_default=True)
            for name, meaning in self.aux.items()
        }

    def _aux_scale(self, name: str, outcome_unit: str | None) -> str:
        return "positive number"

    def location_scale(self, y: np.ndarray, trials: np.ndarray | None) -> tuple[float, float]:
        """Centre and spread of the outcome on the link scale, for default priors.

        Binary and count outcomes: log-odds 0 and 1 (defaults are then the usual weakly informative
        logistic-regression priors, Gelman et al. 2008). Continuous outcomes: the mean and SD of ``y``.
        """
        return 0.0, 1.0

    def default_priors(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, Prior]:
        """Default priors of the location, coefficient, group-SD and auxiliary parameters, scaled to the data.

        Keys: ``intercept``, ``beta`` (per SD of a standardised predictor or per category), ``group_sd``
        (the SD of group effects on the link scale) and the family's :attr:`aux` names.
        """
        if self.link == "logit":
            return {
                "intercept": Prior(
                    "Normal",
                    {"mu": 0.0, "sigma": 2.5},
                    "default for log-odds: 95% of prior mass on 0.7%-99.3%",
                    source_nb="standard for log-odds: 95 % av priormassen på 0,7-99,3 %",
                ),
                "beta": Prior(
                    "Normal",
                    {"mu": 0.0, "sigma": 2.5},
                    "default for log-odds coefficients (Gelman et al. 2008): per SD or category, odds ratios "
                    "within 0.007-134 (95%)",
                    source_nb="standard for log-odds-koeffisienter (Gelman mfl. 2008): per SD eller kategori, "
                    "oddsratioer innenfor 0,007-134 (95 %)",
                ),
                "group_sd": Prior(
                    "HalfStudentT",
                    {"nu": 3.0, "sigma": 2.5},
                    "default for an SD of group effects on the log-odds scale (brms): median 1.9, heavy tail; "
                    "a large between-group SD is not pulled down",
                    source_nb="standard for et SD for gruppeeffekter på log-odds-skalaen (brms): median 1,9, tung "
                    "hale; et stort SD mellom grupper trekkes ikke ned",
                ),
            }
        centre, spread = self.location_scale(y, trials)
        return {
            "intercept": Prior(
                "Normal",
                {"mu": round(centre, 6), "sigma": round(2.5 * spread, 6)},
                f"default scaled to the data: mean of the outcome ({centre:.4g}) +/- 2.5 SD ({spread:.4g})",
                source_nb=decimal_commas(
                    f"standard skalert etter dataene: utfallets gjennomsnitt ({centre:.4g}) +/- 2,5 SD ({spread:.4g})"
                ),
            ),
            "beta": Prior(
                "Normal",
                {"mu": 0.0, "sigma": round(2.5 * spread, 6)},
                f"default scaled to the data: 2.5 SD of the outcome ({spread:.4g}) per coefficient",
                source_nb=decimal_commas(
                    f"standard skalert etter dataene: 2,5 SD av utfallet ({spread:.4g}) per koeffisient"
                ),
            ),
            "group_sd": Prior(
                "HalfStudentT",
                {"nu": 3.0, "sigma": round(spread, 6)},
                f"default scaled to the data: SD of group effects relative to the outcome's SD ({spread:.4g})",
                source_nb=decimal_commas(
                    f"standard skalert etter dataene: SD for gruppeeffekter i forhold til utfallets SD ({spread:.4g})"
                ),
            ),
        }

    # ------------------------------------------------------------- graph
    def create_aux(self, priors: Any, start: dict[str, float] | None = None) -> dict[str, Any]:
        """Create the auxiliary random variables inside the current model (``start``: starting values)."""
        start = start or {}
        return {name: priors[name].create(name, initval=start.get(name)) for name in self.aux}

    def starting_values(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, float]:
        """Where the sampler starts the intercept and residual SD (continuous outcomes: the outcome's mean, SD)."""
        if self.link == "logit":
            return {}
        centre, spread = self.location_scale(y, trials)
        return {"intercept": centre, "sigma": spread}

    @abstractmethod
    def logp(self, value: Any, eta: Any, trials: Any, aux: dict[str, Any]) -> Any:
        """Elementwise log-likelihood (PyTensor) of ``value`` given the linear predictor."""

    @abstractmethod
    def observe(
        self, name: str, eta: Any, y: Any, trials: Any, aux: dict[str, Any], dims: str | tuple[str, ...]
    ) -> Any:
        """Add the observed response to the current model."""

    @abstractmethod
    def draw(
        self, eta: np.ndarray, trials: np.ndarray | None, aux: dict[str, np.ndarray], rng: np.random.Generator
    ) -> np.ndarray:
        """Simulate responses given parameter values (numpy), e.g. for simulation-based calibration."""

    def log_likelihood(self, value: np.ndarray, eta: np.ndarray, trials: np.ndarray | None) -> np.ndarray | None:
        """Pointwise log-likelihood of ``value`` (rows) at ``eta`` (draws x rows) in numpy.

        The same numbers as :meth:`logp` (``tests/test_numpy_log_likelihood.py``), so the run can
        compute the log-likelihood group chunk by chunk on the sampler's cores. None: the family has
        no numpy form (it has auxiliary parameters; :attr:`numpy_pointwise` is False), and PyMC
        computes the group from the graph.
        """
        return None

    def predictive_draws(
        self, eta: np.ndarray, trials: np.ndarray | None, rng: np.random.Generator
    ) -> np.ndarray | None:
        """One response per row and draw at ``eta`` (draws x rows), as the graph's observed variable draws them.

        None: the family has auxiliary parameters (one value per draw), and PyMC draws the group.
        """
        return None

    def mean(self, eta: np.ndarray, aux: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Expected outcome per trial on the users' scale (numpy): a probability, or the value."""
        from scipy.special import expit

        return expit(eta) if self.link == "logit" else eta

    def mean_graph(self, eta: Any) -> Any:
        """The same as :meth:`mean` in PyTensor (used by equivalence tests)."""
        import pytensor.tensor as pt

        return pt.sigmoid(eta) if self.link == "logit" else eta

    def information(self, y: np.ndarray, trials: np.ndarray | None, idx: np.ndarray | None = None) -> np.ndarray:
        """Information per row about a group's linear predictor, relative to the spread of group effects.

        Used to choose centred or non-centred groups: a group is centred when the summed information
        of its rows exceeds a threshold. Logit families: trials times ``p (1 - p)`` at the pooled rate
        (the Fisher information about the log-odds; group SDs on the log-odds scale are of order one).
        Continuous families: ``tau^2 / sigma^2`` per row, the between-group variance of the groups of
        ``idx`` over the residual variance, from a one-way analysis of variance of ``y`` (clipped to
        0.01-100), so that ``n_j tau^2 / sigma^2`` compares the data's precision about a group's mean
        with the prior's. The posterior is the same either way; only sampling speed depends on it.
        """
        n = trials if trials is not None else np.ones(len(y))
        if self.link != "logit":
            return n.astype(float) * (1.0 if idx is None else variance_ratio(np.asarray(y, float), idx))
        p = float(np.sum(y)) / float(np.sum(n))
        return n * p * (1.0 - p)

    # ---------------------------------------------------------- summaries
    def estimands(self, posterior: Any, outcome_unit: str | None) -> dict[str, Any]:
        """Family-specific estimands (residual SD, degrees of freedom, overdispersion)."""
        return {}

    @property
    def figure(self) -> Any:
        """The family's predictive-check figure (a :class:`ipsbayes.present.Figure`), or None."""
        return None


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))`` in numpy, stable for any ``x``: ``max(x, 0) + log1p(exp(-|x|))``.

    The same numbers as ``np.logaddexp(0, x)`` to 1e-15 (``tests/test_numpy_log_likelihood.py``) in
    a third of the time: numpy's ``logaddexp`` loops element by element, while its ``exp`` and
    ``log1p`` are vectorised (15,000 rows: 28 against 11 ns per element). ``x`` is not changed.
    """
    magnitude = np.abs(x)
    np.negative(magnitude, out=magnitude)
    np.exp(magnitude, out=magnitude)
    np.log1p(magnitude, out=magnitude)
    out = np.maximum(x, 0.0)
    out += magnitude
    return out


LOG2_E = float(np.log2(np.e))


def softplus_graph(x: Any) -> Any:
    """``log(1 + exp(x))`` in a PyTensor graph: ``(x + |x|) / 2 + log1p(2 ** (-|x| log2 e))``.

    Written so that the compiled loop body, value and gradient together, computes one power, one
    ``log1p`` and one division per element:

    - no branches: PyTensor's ``softplus`` picks one of four formulas per element;
    - ``exp(-|x|)`` written as ``exp2(-|x| log2 e)``: PyTensor rewrites ``log1p(exp(z))`` back into its
      ``softplus(z)``, whose gradient ``sigmoid(z)`` computes a second exponential; ``exp2`` is not
      rewritten, and its gradient reuses the same ``exp2`` node.

    The same numbers as PyTensor's softplus: to ``5e-16 max(1, |x|)`` relative (the product ``|x| log2 e``
    is rounded), for finite ``x`` below 8e307, where ``x + |x|`` would overflow (a linear predictor is
    never near that; at ``x = -inf``, reached only with an infinite parameter, it gives NaN where
    PyTensor's gives 0), and its gradient is
    ``sigmoid(x)`` everywhere, 0.5 at 0 (``(x + |x|) / 2``, not ``max(x, 0)``, whose gradient at 0 would
    be 1; ``tests/test_fast_paths.py``). A gradient of the reference model (Bernoulli) took 33.9 us with
    PyTensor's softplus, 30.8 with the branch-free ``exp`` form and 23.7 with this one at 1,500 rows;
    367.0, 299.0 and 235.2 us at 15,000 (``benchmarks/results/softplus_form.md``).
    """
    import pytensor.tensor as pt

    magnitude = pt.abs(x)
    return 0.5 * (x + magnitude) + pt.log1p(pt.exp2(-LOG2_E * magnitude))


def variance_ratio(y: np.ndarray, idx: np.ndarray) -> float:
    """Between-group over within-group variance of ``y`` (one-way ANOVA moments), clipped to 0.01-100."""
    groups = np.unique(idx)
    if len(groups) < 2 or len(groups) == len(y):
        return 1.0
    n = np.bincount(idx).astype(float)
    means = np.bincount(idx, weights=y) / np.where(n > 0, n, 1.0)
    within = float(np.sum((y - means[idx]) ** 2) / max(len(y) - len(groups), 1))
    between = float(np.var(means[n > 0], ddof=1)) - within * float(np.mean(1.0 / n[n > 0]))
    return float(np.clip(between / within if within > 0 else 100.0, 0.01, 100.0))


def unit_share_problems(values: pd.Series, where: str, column: str) -> tuple[pd.Series, list[str]]:
    """Numeric check shared by families; returns the numeric values and problems."""
    from ipsbayes.data import example_rows

    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna() & values.notna()
    if bad.any():
        return numeric, [f"{where}: column '{column}' must be numeric; not numeric at {example_rows(bad)}"]
    return numeric, []
