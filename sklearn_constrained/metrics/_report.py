"""The constraint report: each constraint's value on some data, level and confidence interval."""

import numpy as np

from ..constraints import GapConstraint, GroupMeanEvaluator, RateConstraint, tolerance_scale
from ..constraints._group_loss import BoundedGroupLoss
from ..utils._stats import gap_interval, group_loss_interval, group_loss_stats, rate_interval
from ._scorer import final_estimator

__all__ = ["constraint_report"]

_COLUMNS = [
    "kind",
    "level",
    "value",
    "slack",
    "ci_low",
    "ci_high",
    "feasible",
    "n_samples",
    "group_rates",
]


def _levels_text(constraint):
    levels = constraint.levels()
    if not levels:
        return "0 (no level)"
    return ", ".join(f"{k}={v:.6g}" for k, v in levels.items())


def _group_rates(evaluator, num, den, group_labels):
    """``{group: rate}`` (one rate column) or ``{group: {column: rate}}``."""
    columns = getattr(evaluator.constraint, "rates", None) or ("rate",)
    rates = num / np.where(den > 0, den, np.nan)
    labels = list(group_labels) if group_labels is not None else ["all"]
    out = {}
    for g, label in enumerate(labels[: rates.shape[0]]):
        row = {c: float(rates[g, j]) for j, c in enumerate(columns[: rates.shape[1]])}
        out[str(label)] = row[columns[0]] if len(row) == 1 else row
    return out


def _interval(evaluator, confidence, group_labels, gap_method):
    """``(low, high, group_rates)`` of a data-dependent constraint's value."""
    num, den = (t.detach().double().cpu().numpy() for t in evaluator.counts())
    c = evaluator.constraint
    names = None if group_labels is None else [str(v) for v in group_labels]
    if isinstance(c, BoundedGroupLoss):
        means, variances, sizes = group_loss_stats(num[:, 0], num[:, 1], den[:, 0])
        seen = sizes > 0
        interval = group_loss_interval(means[seen], variances[seen], sizes[seen],
                                       confidence=confidence)
        rates = {str(n): float(m) for n, m, s in zip(names or ["all"], means, seen, strict=False)
                 if s}
        return interval.low, interval.high, rates
    if isinstance(c, GapConstraint):
        keep = (den > 0).all(axis=1)
        interval = gap_interval(num[keep], den[keep], confidence=confidence, method=gap_method,
                                group_names=None if names is None else
                                [n for n, k in zip(names, keep, strict=True) if k])
        return interval.low, interval.high, _group_rates(evaluator, num, den, group_labels)
    if isinstance(c, RateConstraint):
        interval = rate_interval(num[0, 0], den[0, 0], confidence=confidence)
        return interval.low, interval.high, None
    return np.nan, np.nan, None


def constraint_report(estimator, X, y=None, sensitive_features=None, *, confidence=0.95,
                      gap_method="score"):
    """Each constraint's value on ``X``, its level, slack and a confidence interval.

    For a fitted :class:`~sklearn_constrained.ConstrainedClassifier`,
    :class:`~sklearn_constrained.ConstrainedRegressor` or a ``Pipeline``
    ending in one, on raw ``X`` (the pipeline's steps transform it). The
    confidence interval is for the constraint's value on data like ``X``
    (the population value, the model fixed): Wilson's score interval for a
    rate, a score interval for the largest gap between groups that keeps
    its coverage for small groups and gaps near zero (``gap_method``), a
    Student interval for the largest group loss; weight constraints do not
    depend on the data, so their interval is their value. The fairness guide
    gives the maths and the equivalent fairlearn ``MetricFrame`` call.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
    X : array-like or sparse matrix
        Raw input (as the estimator or pipeline takes it).
    y : array-like, default=None
        Needed by constraints that involve labels.
    sensitive_features : array-like, default=None
        Needed by group constraints.
    confidence : float, default=0.95
        The two-sided level of the intervals.
    gap_method : {"score", "bootstrap", "delta"}, default="score"
        How the interval of a gap between groups is computed (see
        :func:`sklearn_constrained.utils._stats.gap_interval`).

    Returns
    -------
    pandas.DataFrame
        Indexed by constraint name, with columns ``kind`` (the class),
        ``level``, ``value``, ``slack`` (how far the value is inside its
        level; negative when violated, by the largest violated entry),
        ``ci_low``, ``ci_high``, ``feasible`` (by the estimators' rule,
        ``tol`` relative to ``max(1, |level|)``), ``n_samples`` and
        ``group_rates`` (the per-group rates behind a gap, or the per-group
        mean losses of a group loss; ``None`` otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_constrained import ConstrainedClassifier
    >>> from sklearn_constrained.constraints import DemographicParity, L2Norm
    >>> from sklearn_constrained.metrics import constraint_report
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(400, 3); y = (X[:, 0] > 0).astype(int); s = np.where(X[:, 1] > 0, "a", "b")
    >>> clf = ConstrainedClassifier(constraints={"dp": DemographicParity(0.2), "l2": L2Norm(50.0)},
    ...                             method="gda", max_epochs=5, random_state=0)
    >>> report = constraint_report(clf.fit(X, y, sensitive_features=s), X, y, s)
    >>> list(report.index), bool(report.loc["dp", "ci_low"] <= report.loc["dp", "value"])
    (['dp', 'l2'], True)
    >>> sorted(report.loc["dp", "group_rates"])
    ['a', 'b']
    """
    import pandas as pd

    final, Xt = final_estimator(estimator, X)
    constraints = final.constraints_
    needs_y = any(c.requires_labels for c in constraints.values())
    needs_groups = any(c.requires_groups for c in constraints.values())
    details = final.constraint_details(Xt, y if needs_y else None,
                                       sensitive_features if needs_groups else None)
    tol = float(getattr(final, "tol", 1e-3))
    rows = {}
    for name, c in constraints.items():
        value, worst = details.values[name], details.violations[name]
        evaluator = details.evaluators[name]
        if isinstance(evaluator, GroupMeanEvaluator):
            low, high, rates = _interval(evaluator, confidence, final.group_labels_, gap_method)
        else:
            low, high, rates = value, value, None
        rows[name] = {
            "kind": type(c).__name__,
            "level": _levels_text(c),
            "value": value,
            "slack": details.slacks[name],
            "ci_low": float(low),
            "ci_high": float(high),
            "feasible": bool(worst <= tol * tolerance_scale(c)),
            "n_samples": int(Xt.shape[0]),
            "group_rates": rates,
        }
    return pd.DataFrame.from_dict(rows, orient="index", columns=_COLUMNS)
