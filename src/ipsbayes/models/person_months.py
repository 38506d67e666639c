"""Person-months for a discrete-time hazard model: collapsing, and the smooth baseline's basis.

**Collapsing.** A participant followed until month ``e`` (first target state, or
the last month followed) contributes one person-month at risk for each month
``1..e``; the last one ends in a transition when a target was reached. The
likelihood of a person-month depends on the participant only through the
covariate pattern (predictors, service, job specialist), so participants with the
same pattern are pooled into a dense ``pattern x month`` table: ``trials[p, t]``
participants of pattern ``p`` at risk in month ``t`` and ``events[p, t, k]`` of
them entering target ``k``. The product of the per-person-month categorical
probabilities equals the multinomial kernel of these counts exactly (no
combinatorial constant: the data are the individual sequences), so the posterior
and the log-likelihood are those of the person-month rows.

**Baseline.** The baseline log-odds over months follow a random walk of order 1
or 2 (an intrinsic Gaussian Markov random field; Rue & Held 2005). It is written
as its null space (a constant, plus a linear trend for order 2) with their own
priors plus ``sd * B @ z``, ``z ~ Normal(0, I)``, where ``B`` holds the
eigenvectors of the walk's structure matrix scaled by the inverse square roots of
their eigenvalues: exactly the random-walk prior, but with a-priori independent,
smoothest-first coordinates (the mixed-model form of P-splines used by mgcv and
brms), which NUTS samples far better than the cumulative-sum form. The basis is
scaled as Sørbye & Rue (2014) recommend, so that the geometric mean of the
marginal variances of ``B @ z`` is one: ``sd`` is then the typical deviation of the
baseline log-odds from its constant (order 1) or straight line (order 2), whatever
the number of months, and one prior fits every horizon.

**Centring.** Each coordinate ``w = sd * z`` can also be sampled centred,
``w ~ Normal(0, sd)``: the same prior, a better geometry when the data pin ``w``
down. In a large study the smoothest coordinates are known to within a few
hundredths while ``sd`` is uncertain, so ``z = w / sd`` and ``sd`` lie on a curved
ridge and NUTS diverges now and then; the roughest coordinates carry almost no
information and stay non-centred. :func:`baseline_information` gives what decides,
coordinate by coordinate (as :mod:`ipsbayes.models.pooling` does service by service).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ipsbayes.models.pooling import choose_centred, split_arrays

#: the pattern axis is padded to a multiple of this (see :func:`collapse`)
PAD_PATTERNS = 128

#: dim of the baseline's walk coefficients (basis x target, basis-major) when some are sampled centred
COEFFICIENT = "baseline_coef"

#: information above which ``auto`` samples a baseline coordinate centred. Higher than the services' 25
#: (:data:`ipsbayes.models.pooling.CENTRE_ABOVE`): the smoothness SD's posterior can sit near zero (a
#: smooth hazard, few months), where a centred coordinate meets the funnel (600 participants x 12 months,
#: first coordinates centred at 25 with information 80-106: 24 divergences in a ci fit). At 3,000 x 24
#: months 200 centres the first coordinate per target (information 450-530). Measured in
#: benchmarks/time_to_event.py (``--case centring``).
BASELINE_CENTRE_ABOVE = 200.0


@dataclass
class PersonMonths:
    """Pattern x month counts of a discrete-time hazard model.

    Attributes
    ----------
    trials : ndarray (P, T)
        Participants of each pattern at risk in each month.
    events : ndarray (P, T, K)
        Of them, those entering each target in that month.
    pattern_of : ndarray (n,)
        Pattern of each participant.
    first : ndarray (P,)
        A participant (row) of each pattern, to read the pattern's predictors from.
    weights : ndarray (P,)
        Participants per pattern (0 for padding).
    patterns : int
        Covariate patterns (``P`` less the padding).
    person_months : int
        Person-months at risk: the likelihood rows before collapsing.
    cells : int
        Pattern-months with someone at risk: the likelihood rows after collapsing.
    """

    trials: np.ndarray
    events: np.ndarray
    pattern_of: np.ndarray
    first: np.ndarray
    weights: np.ndarray
    patterns: int
    person_months: int
    cells: int


def patterns(keys: np.ndarray, collapse: bool) -> tuple[np.ndarray, np.ndarray]:
    """Pattern of each row and a representative row per pattern (each row its own pattern when not collapsing)."""
    if not collapse or keys.shape[0] == 0:
        return np.arange(keys.shape[0]), np.arange(keys.shape[0])
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return inverse.ravel().astype(np.int64), first.astype(np.int64)


def counts(
    pattern_of: np.ndarray, exit_index: np.ndarray, target: np.ndarray, n_patterns: int, n_months: int, n_targets: int
) -> tuple[np.ndarray, np.ndarray]:
    """Dense ``trials`` (P, T) and ``events`` (P, T, K) from each participant's exit month and target.

    Parameters
    ----------
    pattern_of : ndarray of int (n,)
    exit_index : ndarray of int (n,)
        Number of months at risk (1..T); 0 for no month followed.
    target : ndarray of int (n,)
        Target entered in the last month at risk, or -1 (censored).
    """
    exits = np.zeros((n_patterns, n_months + 1))
    np.add.at(exits, (pattern_of, exit_index), 1.0)
    trials = np.cumsum(exits[:, ::-1], axis=1)[:, ::-1][:, 1:]  # at risk in month t: exit at t or later
    events = np.zeros((n_patterns, n_months, n_targets))
    hit = target >= 0
    np.add.at(events, (pattern_of[hit], exit_index[hit] - 1, target[hit]), 1.0)
    return trials, events


def collapse(
    keys: np.ndarray,
    exit_index: np.ndarray,
    target: np.ndarray,
    n_months: int,
    n_targets: int,
    collapse: bool = True,
    pad_to: int = PAD_PATTERNS,
) -> PersonMonths:
    """Pool participants with identical ``keys`` (predictors, service, specialist) into pattern x month counts.

    The pattern axis is padded with empty patterns (no participant, nobody at risk) to a
    multiple of ``pad_to``: they add nothing to the likelihood or the estimands, and data
    sets of the same design then share one compiled model (``ipsbayes validate`` fits
    dozens of simulated data sets whose pattern counts differ by a few).
    """
    pattern_of, first = patterns(keys, collapse)
    n_patterns = len(first)
    padded = -(-n_patterns // pad_to) * pad_to if n_patterns else 0
    first = np.concatenate([first, np.full(padded - n_patterns, first[0] if n_patterns else 0, np.int64)])
    trials, events = counts(pattern_of, exit_index, target, padded, n_months, n_targets)
    return PersonMonths(
        trials=trials,
        events=events,
        pattern_of=pattern_of,
        first=first,
        weights=np.bincount(pattern_of, minlength=padded).astype(float),
        patterns=n_patterns,
        person_months=int(exit_index.sum()),
        cells=int((trials > 0).sum()),
    )


def person_month_rows(exit_index: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per person-month at risk: participant, month index (0-based) and outcome (-1 none, else target)."""
    participant = np.repeat(np.arange(len(exit_index)), exit_index)
    starts = np.repeat(np.cumsum(exit_index) - exit_index, exit_index)
    month = np.arange(len(participant)) - starts
    outcome = np.full(len(participant), -1)
    last = month == exit_index[participant] - 1
    outcome[last] = target[participant[last]]
    return participant, month, outcome


def rw_basis(n_months: int, order: int) -> np.ndarray:
    """Scaled eigenbasis ``B`` (T, T - order) of a random walk of ``order`` over ``n_months`` months.

    ``B @ z`` with ``z ~ Normal(0, I)`` has covariance ``Q^+ / c``, the random walk's
    (generalised-inverse) covariance divided by the geometric mean ``c`` of its
    diagonal (Sørbye & Rue 2014); columns run from smoothest to roughest.
    """
    if n_months <= order:
        return np.zeros((n_months, 0))
    difference = np.diff(np.eye(n_months), n=order, axis=0)
    values, vectors = np.linalg.eigh(difference.T @ difference)
    keep = values > 1e-9 * values.max()
    values, vectors = values[keep], vectors[:, keep]
    basis = vectors / np.sqrt(values)
    variance = np.sum(basis**2, axis=1)
    scale = float(np.exp(np.mean(np.log(variance))))
    basis = basis / np.sqrt(scale)
    largest = basis[np.argmax(np.abs(basis), axis=0), np.arange(basis.shape[1])]
    signs = np.where(largest < 0, -1.0, 1.0)  # a fixed sign per column: the same basis on every machine
    return basis * signs


def baseline_information(trials: np.ndarray, events: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Fisher information of the data about each coordinate of each target's baseline walk, (basis, target).

    The baseline deviation is ``basis @ w_k`` with ``w_k ~ Normal(0, sd_k^2 I)``. At the
    pooled monthly rate ``h_k`` of each target, the person-months at risk in month *t*
    carry information ``n_t h_k (1 - h_k)`` about that month's log-odds, so coordinate
    *j* gets ``sum_t n_t h_k (1 - h_k) B[t, j]^2``: large for the smoothest
    coordinates of a large study, near zero for the roughest. Only the numbers at
    risk and the overall rates enter, never the shape of the hazard over months.
    """
    at_risk = trials.sum(axis=0)  # (T,)
    rate = events.sum(axis=(0, 1)) / max(float(at_risk.sum()), 1.0)  # (K,)
    return (basis**2).T @ (at_risk[:, None] * rate[None, :] * (1.0 - rate[None, :]))


def baseline_split(
    trials: np.ndarray, events: np.ndarray, basis: np.ndarray, targets: list[str], mode: str, threshold: float
) -> tuple[dict[str, np.ndarray], dict[str, list], int]:
    """Arrays and coords that sample some baseline coordinates centred (none: empty), and how many are.

    Coordinates are flattened basis-major (``j * K + k``) over the dim :data:`COEFFICIENT`;
    ``baseline_coef_target`` gives each one's target, whose ``baseline_sd`` scales it.
    """
    information = baseline_information(trials, events, basis)
    centred = choose_centred(information.ravel(), mode, threshold)  # type: ignore[arg-type]
    labels = [f"{j}:{target}" for j in range(basis.shape[1]) for target in targets]
    arrays, coords = split_arrays(COEFFICIENT, labels, centred)
    if arrays:
        arrays["baseline_coef_target"] = np.tile(np.arange(len(targets), dtype=np.int64), basis.shape[1])
        coords[COEFFICIENT] = labels
    return arrays, coords, int(centred.sum())


def month_trend(n_months: int) -> np.ndarray:
    """Centred time in years, ``(t - mean t) / 12``: the linear part of an order-2 walk's null space."""
    t = np.arange(n_months, dtype=float)
    return (t - t.mean()) / 12.0
