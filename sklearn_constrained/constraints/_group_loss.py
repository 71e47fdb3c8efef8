"""Bounded group loss (Agarwal et al. 2019): every group's mean loss within a level."""

import numpy as np
import torch

from ..utils._stats import group_loss_margin
from ._base import ConstraintState, level_interval
from ._counts import GroupMeanConstraint, GroupMeanEvaluator

__all__ = ["BoundedGroupLoss"]

_INTEGER_DTYPES = (torch.int64, torch.int32, torch.int16, torch.uint8)


class BoundedGroupLoss(GroupMeanConstraint):
    r"""Every group's mean loss at most ``bound`` (Agarwal et al. 2019).

    The loss is the estimator's training loss: the cross-entropy for
    :class:`~sklearn_constrained.ConstrainedClassifier`, the squared error in
    the units of ``y`` for :class:`~sklearn_constrained.ConstrainedRegressor`
    (for several targets, their mean; with ``standardize_target`` the
    average target scale converts units). The loss is differentiable, so no
    surrogate is needed; one multiplier per group, fed by running per-group
    means so that a batch missing a group leaves its estimate unchanged. The
    value is the largest group loss.

    A group's loss is the objective itself on that group, so a multiplier
    here does not add a new direction: it scales the gradient the objective
    already has. The state therefore carries an ``objective_weight`` (the
    squared target scale: the group loss is in the units of ``y``, the
    objective in standardised units), and every method divides its primal
    loss by ``1 + target_scale**2 * sum(multipliers)``: the objective and the
    group losses enter as a convex combination. A multiplier then shifts
    weight towards the violating group, and never multiplies the step (with
    SGD, a large multiplier used to make the step diverge). The stationary
    points are those of the Lagrangian.

    Parameters
    ----------
    bound : float, default=0.5
        The level, ``>= 0``.

    Examples
    --------
    >>> from sklearn_constrained.constraints import BoundedGroupLoss
    >>> BoundedGroupLoss(bound=0.4)
    BoundedGroupLoss(bound=0.4)
    """

    requires_groups = True
    requires_labels = True
    optimistic_in_sample = True
    level_names = ("bound",)
    _parameter_constraints = {"bound": [level_interval()]}

    def __init__(self, bound=0.5):
        self.bound = bound

    def bind(self, module, name):
        """Return a :class:`GroupLossEvaluator` (the module is not needed)."""
        self.check_params()
        return GroupLossEvaluator(name, self)

    def columns(self, batch, class_index):
        """Each sample's loss, and its square (for the groups' variances).

        The loss column is the same tensor for the true and surrogate means;
        the square has no gradient.
        """
        if batch.y is None:
            raise ValueError("BoundedGroupLoss involves the labels: pass `y`.")
        y_pred, y = batch.y_pred, batch.y
        if y.dtype in _INTEGER_DTYPES and y_pred.dim() == 2 and y.dim() == 1:
            loss = torch.nn.functional.cross_entropy(y_pred, y.long(), reduction="none")
        else:
            diff = (y_pred - y.reshape(y_pred.shape).to(y_pred.dtype)) * float(batch.target_scale)
            loss = diff.pow(2).reshape(diff.shape[0], -1).mean(1)
        square = loss.detach().square()
        return torch.stack([loss.detach(), square], 1), torch.stack([loss, square], 1), None

    def margin(self, means, sizes, new_sizes, confidence):
        """Per-group margins from the groups' loss variances."""
        n = sizes[:, 0]
        variances = np.maximum(means[:, 1] - means[:, 0] ** 2, 0.0) * n / np.maximum(n - 1, 1)
        keep = n >= 2
        out = np.zeros(len(n))
        if keep.any():
            out[keep] = group_loss_margin(variances[keep], n[keep], new_sizes=new_sizes[keep, 0],
                                          confidence=confidence)
        return out

    def finish(self, means, seen, surrogate_means, cache):
        """One entry per group: its mean loss minus the bound (``-bound`` when unseen)."""
        bound = float(self.bound)
        means, seen, surrogate_means = means[:, :1], seen[:, :1], surrogate_means[:, :1]
        filler = torch.full_like(means, -bound)
        strict = torch.where(seen, means - bound, filler).reshape(-1)
        smooth = torch.where(seen, surrogate_means - bound, filler.to(surrogate_means.dtype))
        value = torch.where(seen, means, torch.zeros_like(means)).amax()
        return ConstraintState(value, smooth.reshape(-1), strict)


class GroupLossEvaluator(GroupMeanEvaluator):
    """The running group losses, with the objective weight of their multipliers.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import BatchContext, BoundedGroupLoss
    >>> evaluator = BoundedGroupLoss(bound=1.0).bind(None, "bgl").setup(classifier=False)
    >>> y_pred, y = torch.tensor([[0.0], [1.0]]), torch.tensor([[1.0], [1.0]])
    >>> batch = BatchContext(y_pred, y=y, groups=torch.tensor([0, 1]), n_groups=2,
    ...                      target_scale=2.0)
    >>> state = evaluator.evaluate(batch)
    >>> state.strict_violation.tolist(), state.objective_weight  # losses 4 and 0, in y units
    ([3.0, -1.0], 4.0)
    """

    def evaluate(self, batch=None):
        """The group-mean state, weighted against the objective by the squared target scale."""
        state = super().evaluate(batch)
        return state._replace(objective_weight=float(batch.target_scale) ** 2)
