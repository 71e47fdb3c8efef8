"""Confidence intervals of a constraint's value (the population value, the model fixed)."""

import warnings

import numpy as np
from scipy import special
from sklearn.utils import check_random_state

from ._common import (
    _GAP_METHODS,
    _RATE_METHODS,
    Interval,
    _check_confidence,
    _check_counts,
    _clopper_pearson,
    _group_label,
    _out,
    _wilson,
    _z,
)

__all__ = ["gap_interval", "gap_value", "group_loss_interval", "group_loss_stats", "rate_interval"]


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
