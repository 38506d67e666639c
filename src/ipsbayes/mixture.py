"""Parametric mixtures that approximate MCMC samples of a prior (as RBesT's ``mixfit``/``automixfit``).

A meta-analytic-predictive (MAP) prior is known only through MCMC draws. To use it as
a prior in another model, and to compute its effective sample size, it is replaced by
a finite mixture of conjugate densities fitted by expectation-maximisation (EM)
(Schmidli et al. 2014; Weber et al. 2021):

- :class:`Mixture` with ``family = "normal"``: components ``N(mu_k, sigma_k)``, used for
  log-odds and log odds ratios (the scale of the CACE model's parameters);
- ``family = "beta"``: components ``Beta(a_k, b_k)`` on a response rate, as RBesT does for
  binomial endpoints (used to reproduce RBesT's ankylosing spondylitis example).

:func:`automixfit` fits 1 to ``max_components`` components and keeps the one with the
smallest information criterion. RBesT's default is AIC with penalty ``k = 6`` per
parameter (stricter than the usual 2, so that extra components must earn their place);
BIC (penalty ``log N``) is the alternative. :meth:`Mixture.robustify` adds a vague
component (Schmidli et al. 2014).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from scipy import optimize, special, stats

Family = Literal["normal", "beta"]
ROBUST = "robust"


@dataclass(frozen=True)
class Mixture:
    """A finite mixture of normal or beta densities.

    Attributes
    ----------
    family : {"normal", "beta"}
        Component family.
    w : ndarray
        Weights (non-negative, summing to 1).
    a, b : ndarray
        Component parameters: ``mu`` and ``sigma`` (normal) or ``a`` and ``b`` (beta).
    labels : tuple of str
        One name per component; the vague component added by :meth:`robustify` is ``"robust"``.
    """

    family: Family
    w: np.ndarray
    a: np.ndarray
    b: np.ndarray
    labels: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        w, a, b = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (self.w, self.a, self.b))
        object.__setattr__(self, "w", w)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        if not self.labels:
            object.__setattr__(self, "labels", tuple(f"comp{k + 1}" for k in range(w.size)))
        if problems := mixture_problems(self.family, w, a, b, self.labels):
            raise ValueError("; ".join(problems))

    @property
    def size(self) -> int:
        """Number of components."""
        return int(self.w.size)

    def components(self) -> list[stats.rv_continuous]:
        """Frozen scipy distributions, one per component."""
        if self.family == "normal":
            return [stats.norm(m, s) for m, s in zip(self.a, self.b, strict=True)]
        return [stats.beta(a, b) for a, b in zip(self.a, self.b, strict=True)]

    def component_logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density of each component at ``x``: shape ``x.shape + (K,)``."""
        x = np.asarray(x, dtype=float)[..., None]
        if self.family == "normal":
            return -0.5 * ((x - self.a) / self.b) ** 2 - np.log(self.b) - 0.5 * np.log(2 * np.pi)
        with np.errstate(divide="ignore", invalid="ignore"):
            inside = (x > 0) & (x < 1)
            xs = np.where(inside, x, 0.5)
            value = (self.a - 1) * np.log(xs) + (self.b - 1) * np.log1p(-xs) - special.betaln(self.a, self.b)
        return np.where(inside, value, -np.inf)

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density of the mixture."""
        with np.errstate(divide="ignore"):
            return special.logsumexp(self.component_logpdf(x) + np.log(self.w), axis=-1)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density of the mixture."""
        return np.exp(self.logpdf(x))

    def responsibilities(self, x: np.ndarray) -> np.ndarray:
        """Posterior probability of each component given a value ``x`` (shape ``x.shape + (K,)``)."""
        with np.errstate(divide="ignore"):
            log = self.component_logpdf(x) + np.log(self.w)
        return np.exp(log - special.logsumexp(log, axis=-1, keepdims=True))

    def component_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance of each component."""
        if self.family == "normal":
            return self.a, self.b**2
        n = self.a + self.b
        mean = self.a / n
        return mean, mean * (1 - mean) / (n + 1)

    def mean(self) -> float:
        """Mean of the mixture."""
        means, _ = self.component_moments()
        return float(np.sum(self.w * means))

    def var(self) -> float:
        """Variance of the mixture (within- plus between-component)."""
        means, variances = self.component_moments()
        return float(np.sum(self.w * (variances + means**2)) - self.mean() ** 2)

    def sd(self) -> float:
        """Standard deviation of the mixture."""
        return float(np.sqrt(self.var()))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Cumulative distribution function."""
        x = np.asarray(x, dtype=float)
        return sum(w * c.cdf(x) for w, c in zip(self.w, self.components(), strict=True))

    def quantile(self, q: float) -> float:
        """Quantile by root finding on the mixture CDF."""
        comps = self.components()
        lower = min(c.ppf(min(q, 1e-9)) for c in comps)
        upper = max(c.ppf(max(q, 1 - 1e-9)) for c in comps)
        return float(optimize.brentq(lambda x: float(self.cdf(x)) - q, lower, upper, xtol=1e-12))

    def summary(self, probs: tuple[float, ...] = (0.025, 0.5, 0.975)) -> dict[str, float]:
        """Mean, SD and quantiles (as RBesT's ``summary``)."""
        return {"mean": self.mean(), "sd": self.sd(), **{f"q{p:g}": self.quantile(p) for p in probs}}

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` random draws."""
        which = rng.choice(self.size, size=n, p=self.w)
        if self.family == "normal":
            return rng.normal(self.a[which], self.b[which])
        return rng.beta(self.a[which], self.b[which])

    def robustify(self, weight: float, mean: float | None = None, n: float = 1.0, sigma: float = 2.0) -> Mixture:
        """Add a vague component of weight ``weight`` (Schmidli et al. 2014; RBesT's ``robustify``).

        Parameters
        ----------
        weight : float
            Prior weight of the vague component, in [0, 1).
        mean : float, optional
            Its mean: default the mixture mean (normal), 1/2 (beta).
        n : float
            Its information in observations: a normal component gets SD ``sigma / sqrt(n)``
            (``sigma`` = the unit-information SD), a beta component ``Beta(m (n+1), (1-m) (n+1))``
            (``Beta(1, 1)`` for n = 1 and mean 1/2), as in RBesT.
        sigma : float
            Unit-information SD (normal family only).
        """
        if not 0 <= weight < 1:
            raise ValueError(f"robust weight must be in [0, 1), got {weight}")
        if self.family == "normal":
            centre = self.mean() if mean is None else mean
            rob_a, rob_b = centre, sigma / np.sqrt(n)
        else:
            centre = 0.5 if mean is None else mean
            rob_a, rob_b = centre * (n + 1), (1 - centre) * (n + 1)
        return Mixture(
            self.family,
            np.r_[self.w * (1 - weight), weight],
            np.r_[self.a, rob_a],
            np.r_[self.b, rob_b],
            (*self.labels, ROBUST),
        )

    @property
    def robust_index(self) -> int | None:
        """Index of the component labelled ``"robust"``, if any."""
        return self.labels.index(ROBUST) if ROBUST in self.labels else None

    def as_prior(self) -> dict[str, list[float] | list[str] | str]:
        """Entry for a prior-set TOML file (``dist = "NormalMixture"``; normal family only)."""
        if self.family != "normal":
            raise ValueError("only normal mixtures can be written as a prior (dist = 'NormalMixture')")
        w = np.round(self.w / self.w.sum(), 6)
        w[np.argmax(w)] += 1 - w.sum()  # rounded weights still sum to 1
        return {
            "dist": "NormalMixture",
            "w": [round(float(x), 6) for x in w],
            "mu": [round(float(x), 6) for x in self.a],
            "sigma": [round(float(x), 6) for x in self.b],
            "labels": list(self.labels),
        }

    def describe(self) -> str:
        """One line per component, e.g. ``0.62 x N(0.91, 0.35)``."""
        name = "N" if self.family == "normal" else "Beta"
        return " + ".join(f"{w:.3g} x {name}({a:.3g}, {b:.3g})" for w, a, b in zip(self.w, self.a, self.b, strict=True))


def mixture_problems(
    family: str, w: np.ndarray, a: np.ndarray, b: np.ndarray, labels: tuple[str, ...] | list[str] = ()
) -> list[str]:
    """Every problem with mixture parameters (lengths, finite values, weights summing to 1, positive scales)."""
    problems = []
    if family not in ("normal", "beta"):
        problems.append(f"unknown mixture family {family!r}; valid: normal, beta")
    sizes = {len(w), len(a), len(b)} | ({len(labels)} if labels else set())
    if len(sizes) != 1 or 0 in sizes:
        problems.append(f"weights, locations, scales (and labels) need the same non-zero length; got {sorted(sizes)}")
        return problems
    if not all(np.isfinite(x).all() for x in (w, a, b)):
        problems.append("mixture parameters must be finite numbers")
        return problems
    if (w < 0).any() or abs(float(w.sum()) - 1) > 1e-6:
        problems.append(f"weights must be >= 0 and sum to 1 (sum = {float(w.sum()):.6g})")
    if (b <= 0).any() or (family == "beta" and (a <= 0).any()):
        problems.append("scales (sigma, or beta's a and b) must be > 0")
    return problems


# --- EM ---------------------------------------------------------------------------------------


def _init_means(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding followed by a few Lloyd steps (RBesT seeds EM with k-nearest neighbours)."""
    centres = [x[rng.integers(x.size)]]
    for _ in range(1, k):
        d2 = np.min((x[:, None] - np.asarray(centres)[None, :]) ** 2, axis=1)
        centres.append(x[rng.choice(x.size, p=d2 / d2.sum())] if d2.sum() > 0 else x[rng.integers(x.size)])
    centres = np.sort(np.asarray(centres))
    for _ in range(20):
        assign = np.argmin(np.abs(x[:, None] - centres[None, :]), axis=1)
        centres = np.array([x[assign == j].mean() if (assign == j).any() else centres[j] for j in range(k)])
    return centres


def _beta_mstep(c1: float, c2: float, start: tuple[float, float]) -> tuple[float, float]:
    """Beta maximum likelihood given ``E[log x] = c1`` and ``E[log(1 - x)] = c2``, with a, b > 1.

    Newton steps on ``log(a - 1), log(b - 1)`` (RBesT's ``constrain_gt1`` parameterisation),
    started from the previous EM iterate, with step halving so the likelihood never drops.
    """

    def negll(u: np.ndarray) -> float:
        a, b = 1 + np.exp(u)
        return float(-((a - 1) * c1 + (b - 1) * c2 - special.betaln(a, b)))

    u = np.log(np.maximum(np.asarray(start, dtype=float) - 1, 1e-6))
    value = negll(u)
    for _ in range(50):
        a, b = 1 + np.exp(u)
        dab = special.digamma(a + b)
        g_ab = -np.array([c1 - special.digamma(a) + dab, c2 - special.digamma(b) + dab])
        t_ab = special.polygamma(1, a + b)
        h_ab = np.array([[special.polygamma(1, a) - t_ab, -t_ab], [-t_ab, special.polygamma(1, b) - t_ab]])
        jac = np.exp(u)  # d(a, b) / du
        grad = g_ab * jac
        hess = h_ab * np.outer(jac, jac) + np.diag(g_ab * jac)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = grad
        if not np.all(np.isfinite(step)) or grad @ step <= 0:
            step = grad  # not a descent direction: fall back to the gradient
        size = 1.0
        while size > 1e-8:
            candidate = u - size * np.clip(step, -5, 5)
            new = negll(candidate)
            if new <= value:
                break
            size /= 2
        converged = abs(value - new) < 1e-12
        u, value = candidate, min(value, new)
        if converged:
            break
    a, b = 1 + np.exp(u)
    return float(a), float(b)


def fit_mixture(
    x: np.ndarray, k: int, family: Family = "normal", seed: int = 1, restarts: int = 3, max_iter: int = 500
) -> tuple[Mixture, float]:
    """Maximum-likelihood mixture of ``k`` components fitted to draws ``x`` by EM.

    Several starts (k-means++ seeds) are run and the best log-likelihood kept.

    Returns
    -------
    mixture : Mixture
    loglik : float
        Log-likelihood of the draws under the fitted mixture.
    """
    x = np.asarray(x, dtype=float).ravel()
    if family == "beta":
        x = np.clip(x, np.finfo(float).eps, 1 - np.finfo(float).eps)
    rng = np.random.default_rng(seed)
    best: tuple[Mixture, float] | None = None
    for _ in range(restarts if k > 1 else 1):
        fitted = _em(x, k, family, rng, max_iter)
        if best is None or fitted[1] > best[1]:
            best = fitted
    assert best is not None
    order = np.argsort(-best[0].w)
    mix = best[0]
    return Mixture(family, mix.w[order], mix.a[order], mix.b[order]), best[1]


def _em(
    x: np.ndarray, k: int, family: Family, rng: np.random.Generator, max_iter: int, tol: float = 1e-6
) -> tuple[Mixture, float]:
    centres = _init_means(x, k, rng)
    assign = np.argmin(np.abs(x[:, None] - centres[None, :]), axis=1)
    w = np.array([(assign == j).mean() for j in range(k)]) + 1e-3
    w /= w.sum()
    spread = np.array([x[assign == j].std() if (assign == j).sum() > 10 else x.std() for j in range(k)])
    spread = np.maximum(spread, 1e-3 * x.std() + 1e-12)
    if family == "normal":
        a, b = centres.copy(), spread
    else:
        m = np.clip(centres, 1e-3, 1 - 1e-3)
        n = np.maximum(m * (1 - m) / spread**2 - 1, 2.5)
        a, b = np.maximum(m * n, 1.01), np.maximum((1 - m) * n, 1.01)
        logx, log1mx = np.log(x), np.log1p(-x)
    previous = -np.inf
    for _ in range(max_iter):
        mix = Mixture(family, w, a, b)
        log = mix.component_logpdf(x) + np.log(w)
        top = log.max(axis=1, keepdims=True)
        r = np.exp(log - top)
        total = r.sum(axis=1, keepdims=True)
        loglik = float((np.log(total) + top).sum())
        r /= total
        nk = r.sum(axis=0)
        if (nk < 1e-8 * x.size).any():  # an empty component: this start is degenerate
            return mix, -np.inf
        w = nk / nk.sum()
        if family == "normal":
            a = (r * x[:, None]).sum(axis=0) / nk
            b = np.sqrt(np.maximum((r * (x[:, None] - a) ** 2).sum(axis=0) / nk, 1e-12))
        else:
            c1, c2 = (r * logx[:, None]).sum(axis=0) / nk, (r * log1mx[:, None]).sum(axis=0) / nk
            fitted = [_beta_mstep(c1[j], c2[j], (a[j], b[j])) for j in range(k)]
            a, b = np.array([f[0] for f in fitted]), np.array([f[1] for f in fitted])
        if abs(loglik - previous) < tol * x.size:  # average log density changes by less than tol
            break
        previous = loglik
    mix = Mixture(family, w, a, b)
    return mix, float(mix.logpdf(x).sum())


@dataclass(frozen=True)
class MixtureFit:
    """The chosen mixture and the information criterion of every candidate."""

    mixture: Mixture
    loglik: float
    criterion: str
    table: list[dict[str, float]]


def automixfit(
    x: np.ndarray,
    family: Family = "normal",
    max_components: int = 4,
    criterion: Literal["aic", "bic"] = "aic",
    aic_penalty: float = 6.0,
    seed: int = 1,
) -> MixtureFit:
    """Fit 1..``max_components`` components and keep the smallest information criterion.

    ``criterion = "aic"`` uses ``-2 logL + aic_penalty * p`` with RBesT's default penalty of 6
    per parameter; ``"bic"`` uses ``-2 logL + log(N) p``. ``p = 3K - 1`` free parameters.
    """
    x = np.asarray(x, dtype=float).ravel()
    penalty = aic_penalty if criterion == "aic" else float(np.log(x.size))
    table, fits = [], []
    for k in range(1, max_components + 1):
        mix, loglik = fit_mixture(x, k, family, seed=seed + k)
        value = -2 * loglik + penalty * (3 * k - 1)
        table.append({"components": k, "loglik": loglik, criterion: value})
        fits.append((value, mix, loglik))
    value, mix, loglik = min(fits, key=lambda item: item[0])
    return MixtureFit(mixture=mix, loglik=loglik, criterion=criterion, table=table)


def relabel(mix: Mixture, labels: tuple[str, ...]) -> Mixture:
    """The same mixture with new component labels."""
    return replace(mix, labels=labels)


__all__ = ["ROBUST", "Mixture", "MixtureFit", "automixfit", "fit_mixture", "mixture_problems"]
