"""Fairness constraints: between-group gaps of rates.

A parity constraint bounds the *largest minus the smallest* group rate over
the groups of ``sensitive_features``, ``max_g r_g - min_h r_h <= bound``,
stated as one inequality per ordered pair of groups, ``r_g - r_h <= bound``
(``G (G - 1)`` multipliers): equivalent, and linear in the rates. The
fairness guide compares this with fairlearn's ``difference_bound``.
"""

import torch

from ..utils._stats import gap_margin
from ._base import ConstraintState, level_interval
from ._rate import SURROGATE_CONSTRAINT, RateConstraint, _labels
from ._surrogates import surrogate_indicator

__all__ = [
    "DemographicParity",
    "EqualizedOdds",
    "ErrorRateParity",
    "FalsePositiveRateParity",
    "GapConstraint",
    "TruePositiveRateParity",
]


def _pair_index(n_groups):
    """For the ordered pairs ``(g, h)``, ``g != h``: the ``(P, G)`` difference matrix."""
    ii, jj = torch.meshgrid(torch.arange(n_groups), torch.arange(n_groups), indexing="ij")
    off = ii != jj
    ii, jj = ii[off], jj[off]
    diff = torch.zeros(len(ii), n_groups)
    diff[torch.arange(len(ii)), ii] = 1.0
    diff[torch.arange(len(ii)), jj] = -1.0
    return torch.stack([ii, jj]), diff


class GapConstraint(RateConstraint):
    """Base of the between-group gap constraints.

    Subclasses name their rate columns in ``rates``: ``"selection"`` (share
    predicted positive), ``"tpr"``, ``"fpr"`` or ``"error"``.

    Examples
    --------
    A new parity constraint names the rates it compares:

    >>> import torch
    >>> from sklearn_constrained.constraints import BatchContext, GapConstraint
    >>> class SelectionAndRecallParity(GapConstraint):
    ...     rates = ("selection", "tpr")
    ...     requires_labels = True  # the recall needs the labels
    >>> evaluator = SelectionAndRecallParity(bound=0.1).bind(None, "gap").setup(classes=[0, 1])
    >>> logits = torch.tensor([[0.0, 2.0], [0.0, 2.0], [0.0, 2.0], [0.0, -2.0]])
    >>> y, groups = torch.tensor([1, 0, 1, 1]), torch.tensor([0, 0, 1, 1])
    >>> batch = BatchContext(logits, y=y, groups=groups, n_groups=2)
    >>> float(evaluator.evaluate(batch).value)  # the larger gap: recall 1.0 against 0.5
    0.5
    """

    requires_groups = True
    level_names = ("bound",)
    #: which rates are compared between groups
    rates = ("selection",)
    _parameter_constraints = {
        "bound": [level_interval(1.0)],
        "pos_label": "no_validation",
        "surrogate": SURROGATE_CONSTRAINT,
    }

    def __init__(self, bound=0.05, pos_label=None, surrogate="sigmoid"):
        self.bound = bound
        self.pos_label = pos_label
        self.surrogate = surrogate

    def columns(self, batch, class_index):
        """One column per rate of ``rates``."""
        k = 1 if class_index is None else class_index
        if self.rates == ("selection",):  # demographic parity: the hot case
            hard, soft = surrogate_indicator(batch.y_pred, k, self.surrogate)
            return hard[:, None], soft[:, None], None
        y = _labels(batch) if self.requires_labels else None
        hards, softs, pops = [], [], []
        positive = is_pos = None
        for rate in self.rates:
            if rate == "error":
                hard, soft = surrogate_indicator(batch.y_pred, y, self.surrogate)
                hard, soft = 1.0 - hard, 1.0 - soft
                pop = torch.ones_like(hard)
            else:
                if positive is None:  # one indicator for every rate of the positive class
                    positive = surrogate_indicator(batch.y_pred, k, self.surrogate)
                hard, soft = positive
                if rate == "selection":
                    pop = torch.ones_like(hard)
                else:
                    if is_pos is None:
                        is_pos = (y == k).to(hard.dtype)
                    pop = is_pos if rate == "tpr" else 1.0 - is_pos
            hards.append(hard)
            softs.append(soft)
            pops.append(pop)
        return torch.stack(hards, 1), torch.stack(softs, 1), torch.stack(pops, 1)

    def margin(self, means, sizes, new_sizes, confidence):
        """One margin for every pair (:func:`~sklearn_constrained.utils._stats.gap_margin`).

        Groups with an empty population in a column (no positives, say) do
        not take part in that column's gaps, so they are left out.
        """
        keep = (sizes > 0).all(axis=1)
        if keep.sum() < 2:
            return 0.0
        return gap_margin(means[keep], sizes[keep], new_sizes=new_sizes[keep],
                          confidence=confidence)

    def finish(self, means, seen, surrogate_means, cache):
        """Pairwise ``r_g - r_h - bound`` for every rate column; the value is the largest gap."""
        n_groups = means.shape[0]
        bound = float(self.bound)
        if n_groups < 2:
            zero = means.new_zeros(())
            return ConstraintState(zero, surrogate_means.new_zeros(0), means.new_zeros(0))
        pairs = cache(("pairs", n_groups), means, lambda: _pair_index(n_groups)[0])
        dmat = cache(("diff", n_groups), means, lambda: _pair_index(n_groups)[1])
        both = seen[pairs[0]] & seen[pairs[1]]
        strict = torch.where(both, dmat @ means - bound, -bound).T.reshape(-1)
        smooth = torch.where(
            both, dmat.to(surrogate_means.dtype) @ surrogate_means - bound, -bound
        ).T.reshape(-1)
        # both orders of a pair are in `strict`, so its maximum plus the bound
        # is the largest gap over the pairs seen (>= 0, and 0 when none is seen)
        return ConstraintState(strict.amax() + bound, smooth, strict)


_GAP_PARAMS = """
    Parameters
    ----------
    bound : float, default=0.05
        The largest admissible gap, in ``[0, 1]``, between the largest and the
        smallest group rate (not a group's distance to the overall rate, as
        fairlearn's ``difference_bound``: see the fairness guide).
    pos_label : object, default=None
        The positive class; ``None`` means ``classes_[1]`` for binary targets
        and is an error for more than two classes.
    surrogate : {"sigmoid", "hinge"}, default="sigmoid"
        The smooth stand-in for "predicted positive" that supplies the
        gradients (see :func:`surrogate_indicator`).
"""


class DemographicParity(GapConstraint):
    __doc__ = (
        r"""Selection rates (share predicted positive) of all groups within ``bound`` of each other.

    :math:`\max_g P(\hat y = + \mid A = g) - \min_h P(\hat y = + \mid A = h) \le` ``bound``
    over the groups of ``sensitive_features`` (any number of groups). One
    multiplier per ordered pair of groups; proxy constraint (true rates for
    the multipliers, surrogate rates for the gradients).
    """
        + _GAP_PARAMS
        + """
    Examples
    --------
    >>> from sklearn_constrained.constraints import DemographicParity
    >>> DemographicParity(bound=0.05).requires_groups
    True
    """
    )

    rates = ("selection",)


class EqualizedOdds(GapConstraint):
    __doc__ = (
        r"""The larger of the between-group TPR gap and FPR gap at most ``bound``.

    Both the true-positive rates (recall among ``y = +``) and the
    false-positive rates (among ``y != +``) of all groups lie within
    ``bound`` of each other.
    """
        + _GAP_PARAMS
        + """
    Examples
    --------
    >>> from sklearn_constrained.constraints import EqualizedOdds
    >>> EqualizedOdds(bound=0.1).requires_labels
    True
    """
    )

    rates = ("tpr", "fpr")
    requires_labels = True


class TruePositiveRateParity(GapConstraint):
    __doc__ = (
        r"""Between-group gap of the true-positive rate (equal opportunity) at most ``bound``.
    """
        + _GAP_PARAMS
        + """
    Examples
    --------
    >>> from sklearn_constrained.constraints import TruePositiveRateParity
    >>> TruePositiveRateParity(bound=0.05).bound
    0.05
    """
    )

    rates = ("tpr",)
    requires_labels = True


class FalsePositiveRateParity(GapConstraint):
    __doc__ = (
        r"""Between-group gap of the false-positive rate at most ``bound``.
    """
        + _GAP_PARAMS
        + """
    Examples
    --------
    >>> from sklearn_constrained.constraints import FalsePositiveRateParity
    >>> FalsePositiveRateParity(bound=0.05).bound
    0.05
    """
    )

    rates = ("fpr",)
    requires_labels = True


class ErrorRateParity(GapConstraint):
    r"""Between-group gap of the error rate (share misclassified) at most ``bound``.

    Defined for any number of classes: an error is ``predict(x) != y``, its
    surrogate one minus the surrogate of the true class.

    Parameters
    ----------
    bound : float, default=0.05
        The largest admissible gap between the largest and the smallest
        group error rate.
    pos_label : None
        Unused (kept for a uniform signature).
    surrogate : {"sigmoid", "hinge"}, default="sigmoid"
        See :func:`surrogate_indicator`.

    Examples
    --------
    >>> from sklearn_constrained.constraints import ErrorRateParity
    >>> ErrorRateParity(bound=0.05).requires_groups
    True
    """

    rates = ("error",)
    requires_labels = True
    needs_positive_class = False
