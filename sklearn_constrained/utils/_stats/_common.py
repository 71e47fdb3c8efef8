"""Shared helpers of the interval and margin functions (checks, normal quantiles, Wilson)."""

from typing import NamedTuple

import numpy as np
from scipy import special

_RATE_METHODS = ("wilson", "clopper-pearson")
_GAP_METHODS = ("score", "bootstrap", "delta")
_FAMILIES = ("rate", "gap", "group_loss")


class Interval(NamedTuple):
    """A point estimate and a confidence interval ``[low, high]`` around it."""

    value: object
    low: object
    high: object


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
