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
from ._counts import GroupMeanEvaluator
from ._rate import SURROGATE_CONSTRAINT, RateConstraint, _labels
from ._surrogates import indicator_columns, surrogate_indicator

__all__ = [
    "DemographicParity",
    "EqualizedOdds",
    "ErrorRateParity",
    "FalsePositiveRateParity",
    "GapConstraint",
    "GapEvaluator",
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

    def bind(self, module, name):
        """Return a :class:`GapEvaluator` (the module is not needed)."""
        self.check_params()
        return GapEvaluator(name, self)

    def columns(self, batch, class_index):
        """One column per rate of ``rates``."""
        k = 1 if class_index is None else class_index
        if self.rates == ("selection",):  # demographic parity: the hot case
            hard, soft = indicator_columns(batch.y_pred, k, self.surrogate)
            return hard, soft, None
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

        The bound is passed as the level: with two groups the margin is the
        exact worst case, nearly one-sided (see ``gap_margin``).

        Groups with an empty population in a column (no positives, say) do
        not take part in that column's gaps, so they are left out.
        """
        keep = (sizes > 0).all(axis=1)
        if keep.sum() < 2:
            return 0.0
        return gap_margin(means[keep], sizes[keep], new_sizes=new_sizes[keep],
                          confidence=confidence, level=float(self.bound))

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


class GapEvaluator(GroupMeanEvaluator):
    """The running rates of a :class:`GapConstraint`, with its pairwise state in a few products.

    Each entry of the state is linear in the group rates, and a group's
    batch rate is linear in the samples' surrogates: the violation of pair
    ``p`` is ``sum_i A[p, i] * s_i + c_p``, with ``A`` the pairs' difference
    matrix (zero rows for the pairs not yet seen) times the batch's
    membership scaled by one over each group's population. ``A`` and ``c``
    carry no gradient, so the differentiable part of a step is one matrix
    product whatever the number of groups: the same state as
    :meth:`GapConstraint.finish` of the surrogate means, up to rounding.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import BatchContext, DemographicParity
    >>> evaluator = DemographicParity(bound=0.1).bind(None, "dp").setup(classes=[0, 1])
    >>> type(evaluator).__name__
    'GapEvaluator'
    >>> logits = torch.tensor([[0.0, 2.0], [0.0, 2.0], [0.0, 2.0], [0.0, -2.0]])
    >>> state = evaluator.evaluate(BatchContext(logits, groups=torch.tensor([0, 0, 1, 1]),
    ...                                         n_groups=2))
    >>> [round(v, 6) for v in state.strict_violation.tolist()]  # rates 1.0 and 0.5
    [0.4, -0.6]
    """

    def _pairs(self, n_groups, like):
        """The ``(2P,)`` groups of the ordered pairs (firsts, then seconds) and their ``(P, G)``."""
        pairs = self.cached(
            ("pairs", n_groups), like, lambda: _pair_index(n_groups)[0].reshape(-1)
        )
        return pairs, self.cached(("diff", n_groups), like, lambda: _pair_index(n_groups)[1])

    def _from_tables(self, batch, tab, soft, population, member):
        n_groups, _, n_rates = tab.shape
        if n_rates != 1 or n_groups < 2:
            return super()._from_tables(batch, tab, soft, population, member)
        # one rate (demographic parity, the hot case): the fewest operations,
        # with 0-d tensors for the constants
        bound = float(self.constraint.bound)
        pairs, _ = self._pairs(n_groups, tab)
        diff_t = self.cached(("diff_t", n_groups), tab, lambda: _pair_index(n_groups)[1].T)
        level = self.cached(
            ("bound", bound), tab, lambda: torch.tensor(bound, dtype=torch.float64)
        )
        zero, tiny, one = self._scalars(tab)
        with torch.no_grad():
            den = tab[:, 1]  # (G, 1): the batch's populations
            present = torch.gt(den, zero)
            if not self.external or self._counts is None:
                self._accumulate(tab, batch.y_pred.shape[0], present)
            run = self._counts.view(n_groups, 3)
            count = run[:, 1:2]
            # (G, 3): the running true mean, 1 (or 0) and the running surrogate mean
            means = torch.div(run, torch.clamp_min(count, tiny))
            # a group the batch misses keeps its running surrogate mean, a constant
            means[:, 2:3].masked_fill_(present, zero)
            # (P,): both groups of the pair seen
            both = torch.gt(count, zero).view(-1).index_select(0, pairs).view(2, -1).all(0)
            dm = torch.mul(diff_t, both)  # (G, P): the differences of the pairs seen
            # (3, P): the true gaps and the constant part of the surrogate ones
            out = torch.sub(torch.mm(means.T, dm), level)
            strict = out[0]
            # both orders of a pair are in `strict`, so its maximum plus the bound
            # is the largest gap over the pairs seen (>= 0, and 0 when none is seen)
            value = torch.add(strict.amax(), level)
            floor = tiny if batch.sample_weight is not None else one
            # (P, n): the samples' weights in each gap, difference / population
            weights = torch.mm(torch.div(dm, torch.clamp_min(den, floor)).T, member)
        weighted = soft if population is None else soft * population
        violation = torch.addmv(out[2], weights, weighted.view(-1))
        return self._with_margin(ConstraintState(value, violation, strict))

    def _state(self, means, seen, soft, population, member, inv, missing):
        n_groups, n_rates = means.shape
        if n_groups < 2:
            return super()._state(means, seen, soft, population, member, inv, missing)
        bound = float(self.constraint.bound)
        pairs, dmat = self._pairs(n_groups, means)
        n_pairs = dmat.shape[0]
        with torch.no_grad():
            # both groups of the pair seen, per rate: (P, R)
            both = seen.index_select(0, pairs).view(2, n_pairs, n_rates).all(0)
            # one (P, G) difference matrix per rate; the entries rate by rate
            dm = dmat * both.T.unsqueeze(2)  # (R, P, G)
            strict = (dm @ means.T.unsqueeze(2)).view(-1) - bound
            weights = dm @ (member * inv.T.unsqueeze(2))  # (R, P, n)
            offset = dm @ missing.T.unsqueeze(2) - bound  # (R, P, 1)
            value = strict.amax() + bound
        weighted = soft if population is None else soft * population  # (n, R)
        violation = torch.baddbmm(offset, weights, weighted.T.unsqueeze(2)).view(-1)
        return ConstraintState(value, violation, strict)


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
