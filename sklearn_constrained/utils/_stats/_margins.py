"""Margins for ``margin="auto"``: how much a level is tightened so it holds on fresh data."""

import numpy as np
from scipy import optimize, special

from ._common import _FAMILIES, _check_confidence, _check_counts, _new_sizes, _out, _z
from ._intervals import _check_loss_stats

__all__ = ["auto_margin", "gap_margin", "group_loss_margin", "rate_margin"]


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


def gap_margin(rates, sizes, *, new_sizes=None, confidence=0.95, group_names=None, level=None):
    r"""Margin for a gap level (demographic parity, equalized odds, ...).

    The :math:`1-\alpha` quantile of the range
    :math:`\max_g d_g - \min_h d_h` of independent
    :math:`d_g \sim N(0, s_g^2)`, :math:`s_g^2 = \tilde r_g(1-\tilde r_g)
    (1/n_g + 1/m_g)`, jointly over the rate columns (independent columns, as
    the TPR and FPR of equalized odds). If the training gap meets
    ``level - margin``, the gap on a fresh sample meets ``level`` with
    probability at least about ``confidence``, whatever the groups' rates.

    With two groups and ``level`` given, the margin is exact instead: the
    fresh signed difference :math:`\delta + d` of a column whose training
    difference is :math:`|\delta| = b - \mu` (the worst case) stays in
    :math:`[-b, b]` unless :math:`d` moves it past :math:`b` on its own side
    (by more than :math:`\mu`) or past :math:`-b` on the other (by more than
    :math:`2b - \mu`), so :math:`\mu` solves
    :math:`\prod_c [\Phi(\mu / s_c) - \Phi(-(2b - \mu) / s_c)] = 1 - \alpha`
    (nearly one-sided when :math:`b \gg s_c`: :math:`z_{0.95}` rather than
    :math:`z_{0.975}` for one column). Without ``level``, or when the margin
    reaches the level, the range bound above.

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
    level : float, optional
        The user's level ``b`` (two groups only: the exact worst case).

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
    >>> round(gap_margin([0.2, 0.3], [1000, 500], level=0.1), 4)  # two groups, exact
    0.0561
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

        if level is not None and float(level) > 0 and excess(float(level)) >= 0:
            return _two_group_margin(pair, float(level), conf)
    else:

        def excess(mu):
            return _range_cdf(mu, ratio, inv_sd, _NODES, _WEIGHTS, base) - conf

    if excess(hi) <= 0:  # quadrature error at the edge: the union bound holds
        return float(hi)
    if excess(lo) >= 0:
        return float(lo)
    return float(optimize.brentq(excess, lo, hi, xtol=1e-9 * hi, rtol=1e-9))


def _two_group_margin(pair_sd, level, conf):
    """The exact two-group margin of :func:`gap_margin` for a level (``< level``)."""

    def excess(mu):
        inside = special.ndtr(mu / pair_sd) - special.ndtr(-(2 * level - mu) / pair_sd)
        return float(np.prod(inside)) - conf

    # excess(level) >= 0 (checked by the caller); excess(0) is at most 1/2 per column,
    # so only a confidence of at most 1/2 is met with no margin at all
    if excess(0.0) >= 0:
        return 0.0
    return float(optimize.brentq(excess, 0.0, level, xtol=1e-12, rtol=1e-10))


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
    family,
    stats,
    sizes,
    *,
    new_sizes=None,
    side="upper",
    confidence=0.95,
    group_names=None,
    level=None,
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
    level : float, optional
        ``"gap"`` only: the level, for the exact two-group margin (see
        :func:`gap_margin`).

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
            stats,
            sizes,
            new_sizes=new_sizes,
            confidence=confidence,
            group_names=group_names,
            level=level,
        )
    if family == "group_loss":
        return group_loss_margin(
            stats, sizes, new_sizes=new_sizes, confidence=confidence, group_names=group_names
        )
    raise ValueError(f"`family` must be one of {_FAMILIES}; got {family!r}.")
