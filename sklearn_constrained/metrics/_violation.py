"""The constraint-violation metrics of the SAL paper (eqs. 17 and 18)."""

import numbers

import numpy as np

__all__ = ["constraint_violation", "constraint_violation_ratio"]


def _flat(values):
    if isinstance(values, dict):
        parts = [np.ravel(np.asarray(v, dtype=np.float64)) for v in values.values()]
    else:
        parts = [np.ravel(np.asarray(values, dtype=np.float64))]
    return np.concatenate(parts) if parts else np.zeros(0)


def constraint_violation(values, p=2):
    r"""The constraint-violation metric (eq. 17 of the SAL paper).

    .. math:: CV = \Big(\sum_{i=1}^m |C_i(\theta)|^p\Big)^{1/p}

    Parameters
    ----------
    values : dict of str to float or array-like, or array-like
        The violation of each constraint (``0`` when it holds), e.g. the
        ``"violations"`` entry of a ``history_`` record. Vector-valued
        entries (one per side, per pair of groups) contribute each component.
    p : float, default=2
        The order of the norm, ``>= 1``; ``numpy.inf`` gives the largest
        violation.

    Returns
    -------
    float
        ``0.0`` for an empty set of constraints.

    Examples
    --------
    >>> from sklearn_constrained.metrics import constraint_violation
    >>> constraint_violation({"l2": 3.0, "nonneg": 4.0})
    5.0
    >>> constraint_violation({"l2": 3.0, "dp": [0.0, 4.0]}, p=1)
    7.0
    >>> constraint_violation({"l2": 3.0, "nonneg": 4.0}, p=float("inf"))
    4.0
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not (p >= 1):
        raise ValueError(f"`p` must be a number >= 1 (or numpy.inf); got {p!r}.")
    v = np.abs(_flat(values))
    if v.size == 0:
        return 0.0
    if not np.all(np.isfinite(v)):
        return float("inf") if not np.any(np.isnan(v)) else float("nan")
    if np.isinf(p):
        return float(v.max())
    return float(np.sum(v**p) ** (1.0 / p))


def _exact(violations, norms, p):
    """Replace each violation vector the history truncated by its exact p-norm.

    The history keeps a vector's largest magnitude only; it becomes a single
    entry with the same contribution to the p-norm over every constraint
    (p = 1 or 2; the largest magnitude is already exact for p = inf).
    """
    key = {1: "1", 2: "2"}.get(p) if not isinstance(p, bool) else None
    if not norms or key is None:
        return violations
    out = dict(violations)
    for name, nm in norms.items():
        if name in out and key in nm:
            out[name] = nm[key]
    return out


def constraint_violation_ratio(estimator, epoch=-1, p=2):
    r"""CV(e) = CV_e / CV_0 (eq. 18 of the SAL paper) from a fitted estimator.

    ``CV_0`` is the violation of the initial network (weight constraints at
    the initial weights, data constraints on the whole training set before
    the first step), ``CV_e`` the violation recorded after epoch ``e`` (for
    data-dependent constraints, the running estimate averaged over that
    epoch's batches; for weight constraints, at the end of the epoch).

    ``history_`` keeps a violation vector of more than 16 entries (one per
    Gram entry of ``Orthogonality``, per slice of ``Simplex``) as its largest
    magnitude, with its exact 1- and 2-norms beside it
    (``"violation_norms"``): the ratio is exact for ``p`` in {1, 2, inf};
    for another ``p`` such a constraint enters by its largest entry. For
    S-ADMM, ``history_`` describes the primal copy, not the projected
    split copy that ``fit`` returns.

    Parameters
    ----------
    estimator : ConstrainedClassifier or ConstrainedRegressor
        A fitted estimator (it reads ``history_``).
    epoch : int, default=-1
        Which epoch, as an index into ``history_`` (``-1``: the last one, the
        paper's CV(-1)).
    p : float, default=2
        The order of the norm (see :func:`constraint_violation`).

    Returns
    -------
    float
        ``0.0`` when the initial network already satisfies every constraint
        and the recorded one does too; ``inf`` when only the initial one does.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_constrained import ConstrainedClassifier
    >>> from sklearn_constrained.constraints import L2Norm
    >>> from sklearn_constrained.metrics import constraint_violation_ratio
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = ConstrainedClassifier(constraints={"l2": L2Norm(bound=1.0)}, max_epochs=5,
    ...                             random_state=0).fit(X / 16, y)
    >>> constraint_violation_ratio(clf) < 1.0
    True
    """
    history = getattr(estimator, "history_", None)
    if not history:
        raise ValueError(
            "constraint_violation_ratio needs a fitted ConstrainedClassifier or "
            "ConstrainedRegressor (with a non-empty `history_`); call fit first."
        )
    first = history[0]
    if "initial_violations" not in first or "violations" not in first:
        raise ValueError(
            "The estimator's history_ records no violations; refit it with this version."
        )
    try:
        record = history[epoch]
    except IndexError:
        raise ValueError(
            f"`epoch`={epoch!r} is out of range: history_ has {len(history)} epochs."
        ) from None
    cv0 = constraint_violation(
        _exact(first["initial_violations"], first.get("initial_violation_norms"), p), p=p
    )
    cve = constraint_violation(_exact(record["violations"], record.get("violation_norms"), p), p=p)
    if cv0 == 0.0:
        return 0.0 if cve == 0.0 else float("inf")
    return cve / cv0
