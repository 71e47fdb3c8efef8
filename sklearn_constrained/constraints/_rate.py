"""Rate constraints: a prediction rate, a recall or a false-positive rate within levels.

Proxy constraints (Cotter et al. 2019): the multipliers follow the true rate
(counts of ``predict``), the gradients follow a smooth surrogate of it (see
:func:`~sklearn_constrained.constraints.surrogate_indicator`).
"""

import numpy as np
import torch
from sklearn.utils._param_validation import StrOptions

from ..utils._stats import rate_margin
from ._base import ConstraintState, level_interval
from ._counts import GroupMeanConstraint
from ._surrogates import SURROGATES, surrogate_indicator

__all__ = ["FalsePositiveRate", "PredictionRate", "RateConstraint", "TruePositiveRate"]

SURROGATE_CONSTRAINT = [StrOptions(set(SURROGATES))]


class RateConstraint(GroupMeanConstraint):
    """Base of the constraints on rates of predicted classes (classifiers only).

    The positive class is ``classes_[1]`` for binary targets, or ``pos_label``.

    Examples
    --------
    >>> from sklearn_constrained.constraints import RateConstraint, TruePositiveRate
    >>> issubclass(TruePositiveRate, RateConstraint)
    True
    >>> evaluator = TruePositiveRate(lower=0.8).bind(None, "tpr").setup(classes=["no", "yes"])
    >>> evaluator.class_index  # the positive class is classes_[1]
    1
    >>> TruePositiveRate(lower=0.8).bind(None, "tpr").setup(classifier=False)
    Traceback (most recent call last):
    ...
    ValueError: TruePositiveRate (constraint 'tpr') constrains predicted classes; ...
    """

    #: whether the constraint needs a positive class (binary, or ``pos_label``)
    needs_positive_class = True

    def check_estimator(self, classifier, name):
        """Rates of predicted classes need a classifier."""
        if not classifier:
            raise ValueError(
                f"{type(self).__name__} (constraint {name!r}) constrains predicted classes; "
                "use it with ConstrainedClassifier (BoundedGroupLoss also works for regressors)."
            )

    def class_index(self, classes, name):
        """The index of the positive class in ``classes``."""
        if not self.needs_positive_class:
            return None
        pos_label = getattr(self, "pos_label", None)
        if pos_label is None:
            if len(classes) != 2:
                raise ValueError(
                    f"{type(self).__name__} (constraint {name!r}) needs a positive class: with "
                    f"{len(classes)} classes, set `pos_label` to one of {classes}."
                )
            return 1
        return _index_of(
            classes, pos_label, f"{type(self).__name__} (constraint {name!r})", "pos_label"
        )


def _index_of(classes, label, who, param):
    matches = [i for i, v in enumerate(classes) if v == label]
    if not matches:
        raise ValueError(
            f"{who}: `{param}`={label!r} is not a class of the data; the classes are {classes}."
        )
    return matches[0]


def _labels(batch):
    if batch.y is None:
        raise ValueError("This constraint involves the labels: pass `y`.")
    return batch.y.reshape(-1)


class PredictionRate(RateConstraint):
    r"""The share of samples predicted as ``label`` lies in ``[lower, upper]``.

    A proxy constraint: the multiplier follows the true share (counts of
    ``predict``), the gradient follows a smooth surrogate (see ``surrogate``).
    Works for binary and multiclass classifiers.

    Parameters
    ----------
    label : object
        A class label (an element of the classifier's ``classes_``).
    lower, upper : float or None, default=None
        The bounds, in ``[0, 1]``; at least one is required. With both, the
        constraint has two sides (two multipliers).
    surrogate : {"sigmoid", "hinge"}, default="sigmoid"
        The smooth stand-in for the indicator "predicted as ``label``":
        the softmax probability of ``label``, or the saturated hinge of its
        logit margin (see :func:`surrogate_indicator`).

    Examples
    --------
    >>> from sklearn_constrained.constraints import PredictionRate
    >>> PredictionRate(label=0, lower=0.7)
    PredictionRate(label=0, lower=0.7)
    """

    level_names = ("lower", "upper")
    needs_positive_class = False
    _parameter_constraints = {
        "label": "no_validation",
        "lower": [None, level_interval(1.0)],
        "upper": [None, level_interval(1.0)],
        "surrogate": SURROGATE_CONSTRAINT,
    }

    def __init__(self, label, lower=None, upper=None, surrogate="sigmoid"):
        self.label = label
        self.lower = lower
        self.upper = upper
        self.surrogate = surrogate

    def _check_consistency(self):
        if self.lower is None and self.upper is None:
            raise ValueError(
                "PredictionRate: set `lower` and/or `upper` (shares in [0, 1]); both are None."
            )
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"PredictionRate: `lower`={self.lower} exceeds `upper`={self.upper}.")

    def class_index(self, classes, name):
        """The index of ``label`` in ``classes``."""
        return _index_of(classes, self.label, f"PredictionRate (constraint {name!r})", "label")

    def columns(self, batch, class_index):
        """One column: predicted as ``label``."""
        k = int(self.label) if class_index is None else class_index
        hard, soft = surrogate_indicator(batch.y_pred, k, self.surrogate)
        return hard[:, None], soft[:, None], None

    def margin(self, means, sizes, new_sizes, confidence):
        """One margin per side (:func:`~sklearn_constrained.utils._stats.rate_margin`)."""
        r, n, m = means[0, 0], sizes[0, 0], new_sizes[0, 0]
        sides = [s for s, v in (("lower", self.lower), ("upper", self.upper)) if v is not None]
        return np.array([rate_margin(r, n, new_sizes=m, side=side, confidence=confidence)
                         for side in sides])

    def finish(self, means, seen, surrogate_means, cache):
        """One entry per side: ``lower - r`` and ``r - upper``."""
        r, p = means[0, 0], surrogate_means[0, 0]
        strict, smooth = [], []
        if self.lower is not None:
            strict.append(self.lower - r)
            smooth.append(self.lower - p)
        if self.upper is not None:
            strict.append(r - self.upper)
            smooth.append(p - self.upper)
        return ConstraintState(r, torch.stack(smooth), torch.stack(strict))


class _LabelRate(RateConstraint):
    """The TPR (``negatives=False``) or FPR (``negatives=True``) of the positive class."""

    requires_labels = True
    optimistic_in_sample = True
    negatives = False

    def margin(self, means, sizes, new_sizes, confidence):
        """The rate's margin on its one side."""
        side = "upper" if self.negatives else "lower"
        return rate_margin(means[0, 0], sizes[0, 0], new_sizes=new_sizes[0, 0], side=side,
                           confidence=confidence)

    def columns(self, batch, class_index):
        """One column: predicted positive, among the positives (or negatives)."""
        k = 1 if class_index is None else class_index
        hard, soft = surrogate_indicator(batch.y_pred, k, self.surrogate)
        is_pos = (_labels(batch) == k).to(hard.dtype)
        population = 1.0 - is_pos if self.negatives else is_pos
        return hard[:, None], soft[:, None], population[:, None]


class TruePositiveRate(_LabelRate):
    r"""Recall of the positive class at least ``lower``.

    :math:`P(\hat y = +\mid y = +) \ge` ``lower``: a Neyman-Pearson-style
    constraint (bound the miss rate, minimise the loss). The positive class is
    ``classes_[1]`` for binary targets, or ``pos_label``.

    Parameters
    ----------
    lower : float
        The level, in ``[0, 1]``.
    pos_label : object, default=None
        The positive class; required for more than two classes.
    surrogate : {"sigmoid", "hinge"}, default="sigmoid"
        See :class:`PredictionRate`.

    Examples
    --------
    >>> from sklearn_constrained.constraints import TruePositiveRate
    >>> TruePositiveRate(lower=0.9).requires_labels
    True
    """

    level_names = ("lower",)
    _parameter_constraints = {
        "lower": [level_interval(1.0)],
        "pos_label": "no_validation",
        "surrogate": SURROGATE_CONSTRAINT,
    }

    def __init__(self, lower=0.9, pos_label=None, surrogate="sigmoid"):
        self.lower = lower
        self.pos_label = pos_label
        self.surrogate = surrogate

    def finish(self, means, seen, surrogate_means, cache):
        """One entry: ``lower - TPR``."""
        r = means[0, 0]
        return ConstraintState(
            r, (self.lower - surrogate_means[0, 0]).reshape(1), (self.lower - r).reshape(1)
        )


class FalsePositiveRate(_LabelRate):
    r"""False-positive rate of the positive class at most ``upper``.

    :math:`P(\hat y = +\mid y \ne +) \le` ``upper``.

    Parameters
    ----------
    upper : float
        The level, in ``[0, 1]``.
    pos_label : object, default=None
        The positive class; required for more than two classes.
    surrogate : {"sigmoid", "hinge"}, default="sigmoid"
        See :class:`PredictionRate`.

    Examples
    --------
    >>> from sklearn_constrained.constraints import FalsePositiveRate
    >>> FalsePositiveRate(upper=0.05)
    FalsePositiveRate(upper=0.05)
    """

    negatives = True
    level_names = ("upper",)
    _parameter_constraints = {
        "upper": [level_interval(1.0)],
        "pos_label": "no_validation",
        "surrogate": SURROGATE_CONSTRAINT,
    }

    def __init__(self, upper=0.1, pos_label=None, surrogate="sigmoid"):
        self.upper = upper
        self.pos_label = pos_label
        self.surrogate = surrogate

    def finish(self, means, seen, surrogate_means, cache):
        """One entry: ``FPR - upper``."""
        r = means[0, 0]
        return ConstraintState(
            r, (surrogate_means[0, 0] - self.upper).reshape(1), (r - self.upper).reshape(1)
        )
