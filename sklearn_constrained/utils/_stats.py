r"""Sampling error of data-dependent constraints: confidence intervals and margins.

Pure NumPy/SciPy; no torch. The maths is in the fairness guide
(``/work/notes/stats.md``); in short:

Intervals (for the *population* value: the value on unlimited data like ``X``,
the model held fixed)

- a rate ``k / n``: Wilson score (default) or exact Clopper-Pearson;
- a between-group gap :math:`D = \max_c \max_{g,h} (r_{gc} - r_{hc})`: the
  ``"score"`` method (default) bounds ``D`` from above by the largest
  one-sided Newcombe (hybrid Wilson score) bound of the pairwise differences
  (only the true largest pair must be covered, so no multiplicity), and from
  below by the largest Bonferroni-simultaneous lower bound (clipped at 0). It
  covers at least at the nominal rate for small groups and gaps near 0, where
  the plug-in gap is biased upwards. ``"bootstrap"`` calibrates the lower
  bound by a parametric bootstrap of the per-group counts (max-t);
  ``"delta"`` is the textbook delta method at the largest pair, sound only
  when that pair is unique and well separated (it warns otherwise);
- a group loss :math:`\max_g L_g`: the same construction with Student
  intervals of the group means (Sidak over groups at the lower end).

Margins (for ``margin="auto"``: by how much a level is tightened during
training so that the value on a *fresh sample* of size ``m`` meets the user's
level with probability about ``confidence``; ``m = inf`` targets the
population value). With training sizes ``n`` and fresh sizes ``m`` per cell,
:math:`s^2 = v\,(1/n + 1/m)`, ``v`` the per-sample variance:

- a rate: the score (pooled-variance) bound of the fresh rate, about
  :math:`z_{1-\alpha}\, s`;
- a gap: the :math:`1-\alpha` quantile of the range
  :math:`\max_g d_g - \min_h d_h` of independent :math:`d_g \sim N(0, s_g^2)`
  (jointly over the rate columns), by quadrature;
- a group loss: per group :math:`z_{(1-\alpha)^{1/G}}\, s_g` (Sidak).
"""

import warnings
from typing import NamedTuple

import numpy as np
from scipy import optimize, special
from sklearn.utils import check_random_state

__all__ = [
    "Interval",
    "auto_margin",
    "gap_interval",
    "gap_margin",
    "gap_value",
    "group_loss_interval",
    "group_loss_margin",
    "group_loss_stats",
    "rate_interval",
    "rate_margin",
]

_RATE_METHODS = ("wilson", "clopper-pearson")
_GAP_METHODS = ("score", "bootstrap", "delta")
_FAMILIES = ("rate", "gap", "group_loss")


class Interval(NamedTuple):
    """A point estimate and a confidence interval ``[low, high]`` around it."""

    value: object
    low: object
    high: object


# ----------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------
def _check_confidence(confidence):
    if isinstance(confidence, bool) or not (np.ndim(confidence) == 0 and 0 < confidence < 1):
        raise ValueError(f"`confidence` must be a number in (0, 1), e.g. 0.95; got {confidence!r}.")
    return float(confidence)


def _group_label(index, group_names):
    if group_names is not None and index < len(group_names):
        return f"{group_names[index]!r} (index {index})"
    return f"{index}"


def _check_counts(num, den, *, min_dims=0, group_names=None, what="den"):
    """Float arrays of true counts and populations; errors that name the group."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    if num.shape != den.shape:
        raise ValueError(
            f"The counts (num) and populations ({what}) must have the same shape; got "
            f"{num.shape} and {den.shape}."
        )
    if num.ndim < min_dims:
        raise ValueError(
            f"Expected per-group counts of shape (n_groups, n_rates); got shape {num.shape}."
        )
    if not (np.all(np.isfinite(num)) and np.all(np.isfinite(den))):
        raise ValueError("The counts and populations must be finite numbers.")
    if np.any(den <= 0):
        cell = tuple(int(i) for i in np.argwhere(den <= 0)[0])
        if min_dims >= 2:
            col = f" in rate column {cell[-1]}" if den.shape[-1] > 1 else ""
            where = f"group {_group_label(cell[-2], group_names)}{col}"
        else:
            where = f"entry {cell}" if cell else "the rate"
        raise ValueError(
            f"{where} has no samples ({what} = {den[cell]:g}): its rate is undefined. Drop "
            "the group from the sensitive features, merge it with another, or use more data."
        )
    if np.any(num < 0) or np.any(num > den * (1 + 1e-9)):
        raise ValueError("Every count must lie in [0, population] (num <= den).")
    return np.minimum(num, den), den


def _new_sizes(sizes, new_sizes):
    if new_sizes is None:
        return sizes
    m = np.broadcast_to(np.asarray(new_sizes, dtype=np.float64), sizes.shape)
    if np.any(np.isnan(m)) or np.any(m <= 0):
        raise ValueError(
            f"`new_sizes` must be positive (np.inf for the population value); got {new_sizes!r}."
        )
    return m


def _z(p):
    return float(special.ndtri(p))


# ----------------------------------------------------------------------------
# rates
# ----------------------------------------------------------------------------
def _wilson(k, n, z):
    p = k / n
    z2 = z * z
    scale = 1.0 / (1.0 + z2 / n)
    centre = (p + z2 / (2 * n)) * scale
    half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) * scale
    # exactly 0 at k = 0 and 1 at k = n (not a rounding error away)
    lo = np.where(k <= 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    return lo, np.where(k >= n, 1.0, np.clip(centre + half, 0.0, 1.0))


def _clopper_pearson(k, n, alpha):
    # beta quantiles; the bound at k = 0 (k = n) is 0 (1) exactly
    a_lo, b_hi = np.where(k > 0, k, 1.0), np.where(k < n, n - k, 1.0)
    lo = np.where(k > 0, special.betaincinv(a_lo, n - k + 1, alpha / 2), 0.0)
    hi = np.where(k < n, special.betaincinv(k + 1, b_hi, 1 - alpha / 2), 1.0)
    return lo, hi


def _out(x):
    """A Python float for a 0-d result, the array otherwise."""
    return float(x) if np.ndim(x) == 0 else x


def rate_interval(k, n, *, confidence=0.95, method="wilson"):
    """Confidence interval of a rate ``k / n`` (population value).

    Vectorised: ``k`` and ``n`` may be arrays of any (equal) shape, e.g. the
    ``(G, R)`` numerators and denominators a rate constraint keeps.

    Parameters
    ----------
    k : float or array-like
        Successes (samples predicted positive, errors...), ``0 <= k <= n``.
    n : float or array-like
        Population sizes, ``> 0``.
    confidence : float, default=0.95
        Two-sided confidence level.
    method : {"wilson", "clopper-pearson"}, default="wilson"
        ``"wilson"``: the score interval, close to nominal on average and
        never degenerate at ``k = 0`` or ``k = n``; ``"clopper-pearson"``: the
        exact interval, coverage at least ``confidence`` for every rate
        (wider).

    Returns
    -------
    Interval
        ``(value, low, high)`` with ``value = k / n``.

    Examples
    --------
    >>> from sklearn_constrained.utils._stats import rate_interval
    >>> v, lo, hi = rate_interval(30, 100)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.2189, 0.3958)
    >>> [round(float(b), 4) for b in rate_interval(0, 20, method="clopper-pearson")[1:]]
    [0.0, 0.1684]
    """
    alpha = 1 - _check_confidence(confidence)
    if method not in _RATE_METHODS:
        raise ValueError(f"`method` must be 'wilson' or 'clopper-pearson'; got {method!r}.")
    k, n = _check_counts(k, n, what="n")
    if method == "wilson":
        lo, hi = _wilson(k, n, _z(1 - alpha / 2))
    else:
        lo, hi = _clopper_pearson(k, n, alpha)
    return Interval(_out(k / n), _out(lo), _out(hi))


# ----------------------------------------------------------------------------
# gaps between groups
# ----------------------------------------------------------------------------
def _as_table(num, den, group_names):
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    if num.ndim == 1:  # one rate column
        num, den = num[:, None], den[:, None]
    return _check_counts(num, den, min_dims=2, group_names=group_names)


def _pair_index(n_groups):
    ii, jj = np.nonzero(~np.eye(n_groups, dtype=bool))
    return ii, jj


def gap_value(num, den, *, group_names=None):
    """The largest between-group gap ``max_c (max_g r_gc - min_h r_hc)``.

    Parameters
    ----------
    num, den : array-like of shape (..., n_groups, n_rates) or (n_groups,)
        Per-group counts and populations of each rate, as the rate
        constraints keep them (leading axes: independent tables).
    group_names : sequence of str, optional
        Used in error messages.

    Returns
    -------
    float or ndarray
        ``0.0`` with a single group.

    Examples
    --------
    >>> from sklearn_constrained.utils._stats import gap_value
    >>> round(float(gap_value([[30, 10], [45, 2]], [[100, 20], [100, 10]])), 4)
    0.3
    """
    num, den = _as_table(num, den, group_names)
    r = num / den
    return _out(np.max(r.max(axis=-2) - r.min(axis=-2), axis=-1))


def _agresti(k, n):
    return (k + 1) / (n + 2)


def gap_interval(
    num,
    den,
    *,
    confidence=0.95,
    method="score",
    n_boot=4000,
    random_state=0,
    group_names=None,
):
    r"""Confidence interval of the largest between-group gap (population value).

    The gap is :math:`D = \max_c \max_{g \ne h} (r_{gc} - r_{hc})` over the
    rate columns ``c`` (one for demographic parity, two for equalized odds)
    and the ordered pairs of groups. The plug-in gap is biased upwards when
    groups are close (the largest of noisy differences); the default method
    keeps its nominal coverage there and for small groups.

    Parameters
    ----------
    num, den : array-like of shape (..., n_groups, n_rates) or (n_groups,)
        Per-group counts and populations of each rate (e.g. the running counts
        of a rate constraint, ``counts[:, 0]`` and ``counts[:, 1]``). Leading
        axes are independent tables (not with ``"bootstrap"``).
    confidence : float, default=0.95
        Two-sided level: the upper bound fails with probability at most
        about ``(1 - confidence) / 2``, the lower bound likewise.
    method : {"score", "bootstrap", "delta"}, default="score"
        ``"score"``: upper bound = the largest one-sided Newcombe (hybrid
        Wilson score) bound of the pairwise differences at level
        :math:`1-\alpha/2`; lower bound = the largest Bonferroni-simultaneous
        lower bound over all ordered pairs and columns, clipped at 0.
        Closed form, deterministic, valid at ``k = 0`` and for groups of one.
        ``"bootstrap"``: the same upper bound; the lower bound's critical
        value from a parametric bootstrap of the per-group counts (binomial
        draws around the Wilson centres) of the largest standardised pairwise
        deviation (max-t), less conservative than Bonferroni for many groups.
        ``"delta"``: :math:`\hat D \pm z_{1-\alpha/2}\,\hat{se}` at the largest
        pair (Agresti-Caffo variances); undercovers when several pairs compete
        for the largest gap (it then warns).
    n_boot : int, default=4000
        Bootstrap draws (``"bootstrap"`` only).
    random_state : int, RandomState instance or None, default=0
        Seed of the bootstrap (``"bootstrap"`` only).
    group_names : sequence of str, optional
        Used in error messages (an empty group raises, naming it).

    Returns
    -------
    Interval
        ``(value, low, high)``: the plug-in gap and the bounds, in ``[0, 1]``.

    Examples
    --------
    >>> from sklearn_constrained.utils._stats import gap_interval
    >>> v, lo, hi = gap_interval([300, 250], [1000, 1000])
    >>> round(float(v), 3), round(float(lo), 3), round(float(hi), 3)
    (0.05, 0.005, 0.089)
    >>> gap_interval([3, 3], [10, 10]).low
    0.0
    """
    alpha = 1 - _check_confidence(confidence)
    if method not in _GAP_METHODS:
        raise ValueError(f"`method` must be one of {_GAP_METHODS}; got {method!r}.")
    num, den = _as_table(num, den, group_names)
    n_groups, n_rates = num.shape[-2:]
    value = gap_value(num, den)
    if n_groups < 2:
        zero = np.zeros(num.shape[:-2])
        return Interval(_out(zero), _out(zero), _out(zero.copy()))
    p = num / den
    ii, jj = _pair_index(n_groups)
    diff = p[..., ii, :] - p[..., jj, :]  # (..., P, R): every ordered pair
    if method == "score":
        low, high = _score_bounds(num, den, p, ii, jj, diff, alpha)
    elif method == "bootstrap":
        if num.ndim > 2:
            raise ValueError("method='bootstrap' takes one table of shape (n_groups, n_rates).")
        low, high = _bootstrap_bounds(num, den, p, ii, jj, diff, alpha, n_boot, random_state)
    else:
        low, high = _delta_bounds(num, den, ii, jj, diff, alpha)
    return Interval(value, _out(np.clip(low, 0.0, 1.0)), _out(np.clip(high, 0.0, 1.0)))


def _flat_max(x):
    return np.max(x.reshape(x.shape[:-2] + (-1,)), axis=-1)


def _newcombe_upper(num, den, p, ii, jj, diff, alpha):
    # one-sided Newcombe bounds of every ordered pair at level 1 - alpha / 2
    lo, hi = _wilson(num, den, _z(1 - alpha / 2))
    upper = diff + np.hypot(hi[..., ii, :] - p[..., ii, :], p[..., jj, :] - lo[..., jj, :])
    return _flat_max(upper)


def _score_bounds(num, den, p, ii, jj, diff, alpha):
    n_pairs = diff.shape[-2] * diff.shape[-1]
    lo, hi = _wilson(num, den, _z(1 - alpha / (2 * n_pairs)))
    lower = diff - np.hypot(p[..., ii, :] - lo[..., ii, :], hi[..., jj, :] - p[..., jj, :])
    return _flat_max(lower), _newcombe_upper(num, den, p, ii, jj, diff, alpha)


def _bootstrap_bounds(num, den, p, ii, jj, diff, alpha, n_boot, random_state):
    if isinstance(n_boot, bool) or not (np.ndim(n_boot) == 0 and int(n_boot) == n_boot >= 100):
        raise ValueError(f"`n_boot` must be an integer >= 100; got {n_boot!r}.")
    n_boot = int(n_boot)
    rng = check_random_state(random_state)
    z2 = _z(1 - alpha / 2) ** 2
    centre = (num + z2 / 2) / (den + z2)  # Wilson centres: never 0 or 1
    n_int = np.maximum(np.rint(den), 1).astype(np.int64)
    # one call per (group, rate) cell: much faster than one call on arrays of (n, p)
    cells = zip(n_int.ravel(), centre.ravel(), strict=True)
    draws = np.stack([rng.binomial(k, q, size=n_boot) for k, q in cells], axis=-1)
    draws = draws.reshape((n_boot,) + num.shape) / n_int
    var = centre * (1 - centre) / n_int
    scale = np.sqrt(var[ii] + var[jj])
    # max-t: the largest standardised deviation over every ordered pair and column
    dev = ((draws[:, ii] - draws[:, jj]) - (centre[ii] - centre[jj])) / scale
    crit = np.quantile(dev.reshape(n_boot, -1).max(axis=1), 1 - alpha / 2)
    lower = np.max(diff - crit * scale)
    return lower, _newcombe_upper(num, den, p, ii, jj, diff, alpha)


def _delta_bounds(num, den, ii, jj, diff, alpha):
    pa = _agresti(num, den)
    var = pa * (1 - pa) / den
    se = np.sqrt(var[..., ii, :] + var[..., jj, :])
    flat = diff.reshape(diff.shape[:-2] + (-1,))
    best = np.argmax(flat, axis=-1)[..., None]
    d_hat = np.take_along_axis(flat, best, -1)[..., 0]
    se_hat = np.take_along_axis(se.reshape(flat.shape), best, -1)[..., 0]
    z = _z(1 - alpha / 2)
    runner_up = np.sort(flat, axis=-1)[..., -2]
    if np.any(d_hat - runner_up < 2 * z * se_hat):
        warnings.warn(
            "gap_interval(method='delta'): another pair of groups is within the sampling "
            "error of the largest gap (or the gap is near 0), where the delta method "
            "undercovers; use method='score'.",
            UserWarning,
            stacklevel=3,
        )
    return d_hat - z * se_hat, d_hat + z * se_hat


# ----------------------------------------------------------------------------
# group losses
# ----------------------------------------------------------------------------
def group_loss_stats(sum_loss, sum_sq, count):
    """Per-group means, sample variances and sizes from running sums.

    Parameters
    ----------
    sum_loss, sum_sq, count : array-like of shape (n_groups,)
        Per-group sums of the per-sample loss, of its square, and counts.

    Returns
    -------
    means, variances, sizes : ndarray of shape (n_groups,)
        ``variances`` uses ``ddof=1`` (``nan`` for a group of one).

    Examples
    --------
    >>> from sklearn_constrained.utils._stats import group_loss_stats
    >>> m, v, n = group_loss_stats([6.0], [14.0], [3])  # losses 1, 2, 3
    >>> float(m[0]), float(v[0]), float(n[0])
    (2.0, 1.0, 3.0)
    """
    s = np.asarray(sum_loss, dtype=np.float64)
    q = np.asarray(sum_sq, dtype=np.float64)
    n = np.asarray(count, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s / n
        var = np.where(n > 1, np.maximum(q - s * mean, 0.0) / (n - 1), np.nan)
    return mean, var, n


def _check_loss_stats(variances, sizes, group_names, min_size):
    v = np.atleast_1d(np.asarray(variances, dtype=np.float64))
    n = np.atleast_1d(np.asarray(sizes, dtype=np.float64))
    if v.shape != n.shape or v.ndim != 1:
        raise ValueError(
            f"Expected per-group arrays of one shape (n_groups,); got {v.shape} and {n.shape}."
        )
    if np.any(n < min_size):
        g = int(np.argmax(n < min_size))
        raise ValueError(
            f"group {_group_label(g, group_names)} has {n[g]:g} samples; at least {min_size} "
            "are needed to estimate its loss's sampling error. Merge it with another group or "
            "use more data."
        )
    bad = (n > 1) & ~(np.isfinite(v) & (v >= 0))
    if np.any(bad):
        g = int(np.argmax(bad))
        raise ValueError(
            f"group {_group_label(g, group_names)}: its loss variance must be a finite number "
            f">= 0; got {v[g]!r}."
        )
    return v, n


def group_loss_interval(means, variances, sizes, *, confidence=0.95, group_names=None):
    r"""Confidence interval of the largest group mean loss (population value).

    Upper bound: the largest one-sided Student bound
    :math:`\bar L_g + t_{1-\alpha/2,\,n_g-1}\, s_g/\sqrt{n_g}` (only the truly
    worst group must be covered); lower bound: the largest Sidak-simultaneous
    lower bound over the groups.

    Parameters
    ----------
    means, variances, sizes : array-like of shape (n_groups,)
        Per-group mean loss, sample variance of the loss (``ddof=1``) and
        number of samples (see :func:`group_loss_stats`).
    confidence : float, default=0.95
        Two-sided level.
    group_names : sequence of str, optional
        Used in error messages (an empty group raises, naming it).

    Returns
    -------
    Interval
        ``(value, low, high)``; ``high`` is ``inf`` when a group has a single
        sample (no variance estimate).

    Examples
    --------
    >>> from sklearn_constrained.utils._stats import group_loss_interval
    >>> v, lo, hi = group_loss_interval([0.30, 0.45], [0.04, 0.09], [400, 100])
    >>> round(float(v), 2), round(float(lo), 3), round(float(hi), 3)
    (0.45, 0.382, 0.51)
    """
    alpha = 1 - _check_confidence(confidence)
    v, n = _check_loss_stats(variances, sizes, group_names, min_size=1)
    m = np.atleast_1d(np.asarray(means, dtype=np.float64))
    if m.shape != n.shape or not np.all(np.isfinite(m)):
        raise ValueError(f"`means` must be {n.shape[0]} finite numbers; got {means!r}.")
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(n > 1, np.sqrt(v / n), np.inf)
        df = np.maximum(n - 1, 1)
    t_up = special.stdtrit(df, 1 - alpha / 2)
    t_lo = special.stdtrit(df, (1 - alpha / 2) ** (1.0 / len(n)))
    high = np.max(np.where(n > 1, m + t_up * se, np.inf))
    low = np.max(np.where(n > 1, m - t_lo * se, -np.inf))
    return Interval(float(m.max()), float(low), float(high))


# ----------------------------------------------------------------------------
# margins
# ----------------------------------------------------------------------------
def _check_rates(rates, sizes, new_sizes, group_names, min_dims=0):
    r = np.asarray(rates, dtype=np.float64)
    n = np.asarray(sizes, dtype=np.float64)
    if r.shape != n.shape:
        raise ValueError(f"`rates` and `sizes` must have one shape; got {r.shape} and {n.shape}.")
    if np.any(~np.isfinite(r)) or np.any(r < 0) or np.any(r > 1):
        raise ValueError("`rates` must lie in [0, 1].")
    _check_counts(r * np.where(n > 0, n, 0), n, min_dims=min_dims, group_names=group_names)
    return r, n, _new_sizes(n, new_sizes)


def _rate_sd(r, n, m, z):
    # Wilson centre: the variance never vanishes at r = 0 or 1, and moves
    # monotonically from 1/4 to r (1 - r) as n grows
    centre = (r * n + z * z / 2) / (n + z * z)
    return np.sqrt(centre * (1 - centre) * (1 / n + 1 / m))


def rate_margin(rates, sizes, *, new_sizes=None, side="upper", confidence=0.95):
    r"""Margin for a rate level, from the score test of two proportions.

    If the training rate ``r`` (on ``n`` samples) meets ``level - margin``
    (``side="upper"``; ``level + margin`` for ``"lower"``), the rate on a
    fresh sample of ``m`` samples meets ``level`` with probability about
    ``confidence``. The margin ``u`` solves
    :math:`u^2 = z_{1-\alpha}^2\,(1/n + 1/m)\,p^*(1-p^*)` with the pooled
    rate :math:`p^* = r + u\,m/(n+m)` (the score test that the training and
    fresh rates are equal, inverted; for ``m = inf`` exactly the distance to
    the one-sided Wilson bound). It never vanishes at ``r = 0``, follows the
    skewness of rare events, and is floored at the fresh sample's own
    normal sampling error :math:`z\sqrt{r(1-r)/m}` (which keeps it monotone).

    Parameters
    ----------
    rates : float or array-like
        The current training rates (each in ``[0, 1]``).
    sizes : float or array-like
        The training populations the rates are measured on (``n``).
    new_sizes : float or array-like, default=None
        Sizes ``m`` of the fresh sample the level must hold on: ``None``:
        ``m = n`` (data of the size of the training data); ``np.inf``: the
        population value. For a fresh sample of ``M`` rows from an
        ``N``-row training set, ``sizes * M / N``.
    side : {"upper", "lower"}, default="upper"
        Whether the level bounds the rate from above (``PredictionRate``'s
        ``upper``, ``FalsePositiveRate``) or from below (``lower``,
        ``TruePositiveRate``).
    confidence : float, default=0.95
        One-sided confidence.

    Returns
    -------
    float or ndarray
        Elementwise margins, ``>= 0``; non-increasing in ``n`` and ``m``.

    Examples
    --------
    >>> from sklearn_constrained.utils._stats import rate_margin
    >>> round(float(rate_margin(0.3, 1000)), 4)
    0.0342
    >>> round(float(rate_margin(0.3, 1000, new_sizes=float("inf"))), 4)
    0.0243
    >>> round(float(rate_margin(0.0, 1000, new_sizes=float("inf"))), 4)  # Wilson bound
    0.0027
    """
    z = _z(_check_confidence(confidence))
    if side not in ("upper", "lower"):
        raise ValueError(f"`side` must be 'upper' or 'lower'; got {side!r}.")
    r, n, m = _check_rates(rates, sizes, new_sizes, None)
    if side == "lower":
        r = 1 - r
    c = 1 / n + 1 / m
    with np.errstate(invalid="ignore"):
        w = np.where(np.isinf(m), 1.0, m / (n + m))
    z2c = z * z * c
    a, b = 1 + z2c * w * w, z2c * w * (1 - 2 * r)
    score = (b + np.sqrt(b * b + 4 * a * z2c * r * (1 - r))) / (2 * a)
    return _out(np.maximum(score, z * np.sqrt(r * (1 - r) / m)))


def _range_cdf(mu, ratio, inv_sd, nodes, weights, base):
    """P(max_g d_g - min_h d_h <= mu), independent d_g ~ N(0, sd_g^2).

    A product over the columns. With the minimum at d_g = sd_g * x, every other
    d_h lies in (d_g, d_g + mu]; ``ratio[c, g, h] = sd_g / sd_h`` and
    ``base = Phi(ratio * x)`` are fixed, only the upper edge moves with ``mu``.
    """
    upper = special.ndtr(ratio * nodes + mu * inv_sd)
    log_window = np.log(np.clip(upper - base, 1e-300, 1.0))
    # the h = g factor is excluded: its window is set to 1 (log 0) by a mask
    log_prod = np.sum(log_window * _OFF_DIAG[: ratio.shape[1], : ratio.shape[1], None], axis=2)
    per_col = np.exp(log_prod) @ weights  # (R, G)
    return float(np.prod(np.minimum(per_col.sum(axis=1), 1.0)))


def gap_margin(rates, sizes, *, new_sizes=None, confidence=0.95, group_names=None):
    r"""Margin for a gap level (demographic parity, equalized odds, ...).

    The :math:`1-\alpha` quantile of the range
    :math:`\max_g d_g - \min_h d_h` of independent
    :math:`d_g \sim N(0, s_g^2)`, :math:`s_g^2 = \tilde r_g(1-\tilde r_g)
    (1/n_g + 1/m_g)`, jointly over the rate columns (independent columns, as
    the TPR and FPR of equalized odds). If the training gap meets
    ``level - margin``, the gap on a fresh sample meets ``level`` with
    probability at least about ``confidence``, whatever the groups' rates.

    Parameters
    ----------
    rates : array-like of shape (n_groups, n_rates) or (n_groups,)
        The current per-group training rates.
    sizes : array-like of the same shape
        Their training populations ``n_g``.
    new_sizes : array-like or None, default=None
        Fresh-sample populations ``m_g`` (see :func:`rate_margin`).
    confidence : float, default=0.95
        Confidence that the fresh gap meets the level.
    group_names : sequence of str, optional
        Used in error messages (an empty group raises, naming it).

    Returns
    -------
    float
        ``0.0`` with a single group.

    Examples
    --------
    >>> from sklearn_constrained.utils._stats import gap_margin
    >>> round(gap_margin([0.2, 0.3], [1000, 500]), 4)
    0.0668
    >>> gap_margin([0.2, 0.3], [4000, 2000]) < gap_margin([0.2, 0.3], [1000, 500])
    True
    """
    conf = _check_confidence(confidence)
    r = np.asarray(rates, dtype=np.float64)
    n = np.asarray(sizes, dtype=np.float64)
    if r.ndim == 1:
        r, n = r[:, None], n[:, None]
        new_sizes = None if new_sizes is None else np.reshape(np.asarray(new_sizes), (-1, 1))
    if r.ndim != 2:
        raise ValueError(f"`rates` must have shape (n_groups, n_rates); got {r.shape}.")
    r, n, m = _check_rates(r, n, new_sizes, group_names, min_dims=2)
    sd = _rate_sd(r, n, m, _z(conf)).T  # (R, G)
    n_rates, n_groups = sd.shape
    if n_groups < 2:
        return 0.0
    if n_groups > _OFF_DIAG.shape[0]:
        raise ValueError(f"gap_margin supports at most {_OFF_DIAG.shape[0]} groups.")
    ratio = (sd[:, :, None] / sd[:, None, :])[..., None]  # (R, G, G, 1)
    inv_sd = np.broadcast_to(1.0 / sd[:, None, :, None], ratio.shape)
    base = special.ndtr(ratio * _NODES)
    pair_sd = np.sqrt(sd[:, :, None] ** 2 + sd[:, None, :] ** 2)
    pair_sd = pair_sd[:, ~np.eye(n_groups, dtype=bool)].max()
    # bracket: one pair's |d_g - d_h| <= range, and the union bound over the pairs
    lo = pair_sd * _z((1 + conf) / 2)
    hi = pair_sd * _z(1 - (1 - conf) / (n_rates * n_groups * (n_groups - 1)))

    if n_groups == 2:  # the range is |d_1 - d_2|: exact, no quadrature
        pair = np.sqrt(np.sum(sd**2, axis=1))

        def excess(mu):
            return float(np.prod(2 * special.ndtr(mu / pair) - 1)) - conf

    else:

        def excess(mu):
            return _range_cdf(mu, ratio, inv_sd, _NODES, _WEIGHTS, base) - conf

    if excess(hi) <= 0:  # quadrature error at the edge: the union bound holds
        return float(hi)
    if excess(lo) >= 0:
        return float(lo)
    return float(optimize.brentq(excess, lo, hi, xtol=1e-9 * hi, rtol=1e-9))


def _gauss_nodes(n=201, half_width=8.5):
    x = np.linspace(-half_width, half_width, n)
    w = np.full(n, x[1] - x[0])
    w[0] = w[-1] = w[0] / 2
    return x, w * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)


_NODES, _WEIGHTS = _gauss_nodes()
_OFF_DIAG = ~np.eye(256, dtype=bool)


def group_loss_margin(variances, sizes, *, new_sizes=None, confidence=0.95, group_names=None):
    r"""Per-group margins for a group-loss level: :math:`z_{(1-\alpha)^{1/G}}\, s_g`.

    :math:`s_g^2 = \sigma_g^2 (1/n_g + 1/m_g)`. If every group's training loss
    meets ``level - margin_g``, every group's loss on a fresh sample meets
    ``level`` with probability at least about ``confidence`` (Sidak over the
    ``G`` groups).

    Parameters
    ----------
    variances : array-like of shape (n_groups,)
        Per-group sample variances of the per-sample loss.
    sizes : array-like of shape (n_groups,)
        Training sizes ``n_g`` (at least 2 each).
    new_sizes : array-like or None, default=None
        Fresh-sample sizes ``m_g`` (see :func:`rate_margin`).
    confidence : float, default=0.95
        Joint confidence over the groups.
    group_names : sequence of str, optional
        Used in error messages.

    Returns
    -------
    ndarray of shape (n_groups,)

    Examples
    --------
    >>> from sklearn_constrained.utils._stats import group_loss_margin
    >>> group_loss_margin([0.04, 0.09], [400, 100]).round(4)
    array([0.0276, 0.0829])
    """
    conf = _check_confidence(confidence)
    v, n = _check_loss_stats(variances, sizes, group_names, min_size=2)
    m = _new_sizes(n, None if new_sizes is None else np.atleast_1d(new_sizes))
    c = _z(conf ** (1.0 / len(n)))
    return c * np.sqrt(v * (1 / n + 1 / m))


def auto_margin(
    family, stats, sizes, *, new_sizes=None, side="upper", confidence=0.95, group_names=None
):
    """The ``margin="auto"`` of one constraint, by constraint family.

    Parameters
    ----------
    family : {"rate", "gap", "group_loss"}
        ``"rate"``: :class:`PredictionRate`, :class:`TruePositiveRate`,
        :class:`FalsePositiveRate` (:func:`rate_margin`); ``"gap"``: the
        parity constraints (:func:`gap_margin`); ``"group_loss"``:
        :class:`BoundedGroupLoss` (:func:`group_loss_margin`).
    stats : array-like
        The current training rates (``"rate"``, ``"gap"``), or the per-group
        loss variances (``"group_loss"``).
    sizes : array-like
        The training populations, shaped like ``stats``.
    new_sizes : array-like or None, default=None
        The fresh-sample populations (``None``: as ``sizes``; ``np.inf``: the
        population value).
    side : {"upper", "lower"}, default="upper"
        ``"rate"`` only: which side of the rate the level bounds (see
        :func:`rate_margin`); gaps and group losses are bounded from above.
    confidence : float, default=0.95
        Confidence that the level holds on the fresh sample.
    group_names : sequence of str, optional
        Used in error messages.

    Returns
    -------
    float or ndarray
        A float for ``"gap"``; elementwise (``"rate"``) or per-group
        (``"group_loss"``) margins otherwise.

    Examples
    --------
    >>> from sklearn_constrained.utils._stats import auto_margin
    >>> round(float(auto_margin("rate", 0.3, 1000)), 4)
    0.0342
    >>> round(auto_margin("gap", [[0.2], [0.3]], [[1000], [500]]), 4)
    0.0668
    """
    if family == "rate":
        return rate_margin(stats, sizes, new_sizes=new_sizes, side=side, confidence=confidence)
    if family == "gap":
        return gap_margin(
            stats, sizes, new_sizes=new_sizes, confidence=confidence, group_names=group_names
        )
    if family == "group_loss":
        return group_loss_margin(
            stats, sizes, new_sizes=new_sizes, confidence=confidence, group_names=group_names
        )
    raise ValueError(f"`family` must be one of {_FAMILIES}; got {family!r}.")
