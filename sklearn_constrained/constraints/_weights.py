"""Constraints on the weights: norm balls and sign constraints."""

import torch

from ._base import ConstraintState, WeightConstraint, level_interval

__all__ = ["L1Norm", "L2Norm", "NonNegativity"]

#: the ``params`` argument of every weight constraint (see ``select_parameters``)
PARAMS_CONSTRAINT = [None, str, list, tuple, callable]


def _sum_of(terms):
    # A Python sum of 0-d tensors: fewer kernel launches than stack + sum for
    # the few layers a model has.
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def _sq(t):
    flat = t.reshape(-1)
    return torch.dot(flat, flat)


#: above this many tensors, norms come from one fused ``_foreach_norm`` call
#: (a few operations whatever the depth of the model) instead of one per tensor
_FOREACH_MIN = 4


def sum_of_squares(tensors):
    """The sum of squared entries of a list of tensors (a 0-d tensor)."""
    if len(tensors) >= _FOREACH_MIN:
        return torch.stack(torch._foreach_norm(tensors)).square().sum()
    return _sum_of([_sq(t) for t in tensors])


def _sum_abs(tensors):
    if len(tensors) >= _FOREACH_MIN:
        return torch.stack(torch._foreach_norm(tensors, 1)).sum()
    return _sum_of([torch.linalg.vector_norm(t, ord=1) for t in tensors])


class L2Norm(WeightConstraint):
    r"""Bound the sum of squared selected weights: :math:`\sum_W \|W\|_F^2 \le` ``bound``.

    Parameters
    ----------
    bound : float
        The level, ``>= 0``. Tune it like any hyperparameter
        (``constraints__<name>__bound`` in a grid search).
    params : None, str, list of str or callable, default=None
        Which parameters: ``None`` selects every weight matrix and
        convolution kernel (biases excluded); a pattern such as
        ``"*.weight"`` selects by qualified name (see
        :func:`~sklearn_constrained.constraints.select_parameters`).

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import L2Norm
    >>> c = L2Norm(bound=4.0)
    >>> float(c.value([torch.ones(2, 3)]))
    6.0
    """

    _parameter_constraints = {"bound": [level_interval()], "params": PARAMS_CONSTRAINT}

    def __init__(self, bound=1.0, params=None):
        self.bound = bound
        self.params = params

    def value(self, tensors):
        """The sum of squared entries."""
        return sum_of_squares(tensors)

    def project_(self, tensors):
        """Euclidean projection onto the ball ``sum ||t||^2 <= bound``: a rescaling."""
        with torch.no_grad():
            sq = sum_of_squares(tensors)
            scale = torch.sqrt(torch.clamp(self.bound / torch.clamp(sq, min=1e-30), max=1.0))
            torch._foreach_mul_(tensors, scale)


class L1Norm(WeightConstraint):
    r"""Bound the sum of absolute selected weights: :math:`\sum_W \|W\|_1 \le` ``bound``.

    Parameters
    ----------
    bound : float
        The level, ``>= 0``.
    params : None, str, list of str or callable, default=None
        Which parameters (see :class:`L2Norm`).

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import L1Norm
    >>> float(L1Norm(bound=1.0).value([torch.tensor([[1.0, -2.0]])]))
    3.0
    """

    _parameter_constraints = {"bound": [level_interval()], "params": PARAMS_CONSTRAINT}

    def __init__(self, bound=1.0, params=None):
        self.bound = bound
        self.params = params

    def value(self, tensors):
        """The sum of absolute entries."""
        return _sum_abs(tensors)

    def project_(self, tensors):
        """Euclidean projection onto the L1 ball, jointly over every selected tensor.

        Sort-based soft-thresholding (Duchi et al. 2008), without a host
        synchronisation (S-ADMM calls it after every step).
        """
        from ..optim._prox import apply_jointly_, project_l1_ball

        with torch.no_grad():
            apply_jointly_(tensors, lambda flat: project_l1_ball(flat, self.bound))


class NonNegativity(WeightConstraint):
    r"""Selected parameters are non-negative: :math:`\sum_i \max(0, -w_i) \le 0`.

    The value is the total negative mass (eq. 16 of the SAL paper), zero
    exactly when the constraint holds. There is no level to tune.

    Parameters
    ----------
    params : None, str, list of str or callable, default=None
        Which parameters (see :class:`L2Norm`).

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import NonNegativity
    >>> float(NonNegativity().value([torch.tensor([1.0, -0.5, -0.25])]))
    0.75
    """

    level_names = ()
    _parameter_constraints = {"params": PARAMS_CONSTRAINT}

    def __init__(self, params=None):
        self.params = params

    def value(self, tensors):
        """The total negative mass."""
        return _sum_of([torch.relu(-t).sum() for t in tensors])

    def state(self, tensors):
        """The strict violation is the value itself (the level is 0)."""
        value = self.value(tensors)
        return ConstraintState(value, value, value)

    def project_(self, tensors):
        """Clamp every entry at 0."""
        with torch.no_grad():
            for t in tensors:
                t.clamp_(min=0)
