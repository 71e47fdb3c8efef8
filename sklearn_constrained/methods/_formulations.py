r"""Formulations: how a constraint's violation and multiplier enter the primal loss.

Each formulation gives the primal term of one constraint,
:meth:`~Formulation.term`, and the gradient of that term in the multiplier,
:meth:`~Formulation.dual_gradient`, which a dual optimizer ascends:

- :class:`Lagrangian`: :math:`\lambda^\top g`, dual gradient :math:`g`;
- :class:`AugmentedLagrangian`: for an equality
  :math:`\lambda^\top h + \frac{c}{2}\|h\|^2` (dual gradient :math:`h`), for
  an inequality the standard form
  :math:`\frac{1}{2c}\left(\|\max(0, \lambda + c g)\|^2 - \|\lambda\|^2\right)`
  (eq. 27 of Ramirez et al.; dual gradient :math:`\max(g, -\lambda/c)`),
  which is zero-gradient where the constraint holds with slack and
  :math:`\lambda = 0`;
- :class:`ExactPenalty`: :math:`c \sum \max(0, g)` or :math:`c \sum |h|`, no
  multiplier (the fixed-penalty baseline).

``g`` in a term is the differentiable violation (gradients); in a dual
gradient it is the strict violation (the true rate of a proxy constraint).
"""

import torch

from ..constraints._feasibility import violation_magnitude

__all__ = ["AugmentedLagrangian", "ExactPenalty", "Formulation", "Lagrangian"]


def _total(term):
    return term.sum() if term.dim() else term


class Formulation:
    """Base class: the primal term and the dual gradient of one constraint.

    Examples
    --------
    A new formulation needs only its primal term (the dual gradient is the
    violation unless overridden):

    >>> import torch
    >>> from sklearn_constrained.methods import Formulation
    >>> class Quadratic(Formulation):
    ...     # the Lagrangian plus a fixed quadratic penalty of the violation
    ...     def term(self, multiplier, violation, kind):
    ...         return (multiplier * violation + violation.square()).sum()
    >>> f = Quadratic()
    >>> float(f.term(torch.tensor([1.0]), torch.tensor([0.5]), "inequality"))
    0.75
    >>> f.dual_gradient(torch.tensor([1.0]), torch.tensor([0.5]), "inequality")  # the violation
    tensor([0.5000])
    """

    def term(self, multiplier, violation, kind):  # pragma: no cover - abstract
        """The constraint's contribution to the primal loss (a 0-d tensor)."""
        raise NotImplementedError

    def dual_gradient(self, multiplier, strict_violation, kind):
        """The gradient of the term in the multiplier (what dual ascent follows)."""
        return strict_violation


class Lagrangian(Formulation):
    r"""The Lagrangian term :math:`\lambda^\top g`.

    Examples
    --------
    >>> import torch
    >>> float(Lagrangian().term(torch.tensor([2.0]), torch.tensor([0.5]), "inequality"))
    1.0
    """

    def term(self, multiplier, violation, kind):
        r""":math:`\lambda^\top g`."""
        return _total(multiplier * violation)


class AugmentedLagrangian(Formulation):
    r"""The augmented Lagrangian term with penalty ``c`` (see the module docstring).

    Parameters
    ----------
    penalty : float
        :math:`c \ge 0`; ``0`` is the plain Lagrangian.

    Examples
    --------
    >>> import torch
    >>> f = AugmentedLagrangian(penalty=2.0)
    >>> float(f.term(torch.tensor([0.0]), torch.tensor([-1.0]), "inequality"))  # slack: 0
    0.0
    >>> float(f.term(torch.tensor([1.0]), torch.tensor([0.5]), "equality"))  # 0.5 + 0.25
    0.75
    >>> f.dual_gradient(torch.tensor([1.0]), torch.tensor([-3.0]), "inequality")
    tensor([-0.5000])
    """

    def __init__(self, penalty):
        self.penalty = float(penalty)

    def term(self, multiplier, violation, kind):
        """The augmented term of an equality or an inequality."""
        c = self.penalty
        if c <= 0:
            return _total(multiplier * violation)
        if kind == "inequality":
            shifted = torch.relu(multiplier + c * violation)
            return _total(shifted.square() - multiplier.square()) * (0.5 / c)
        return _total(multiplier * violation + (0.5 * c) * violation.square())

    def dual_gradient(self, multiplier, strict_violation, kind):
        r""":math:`h` for an equality, :math:`\max(g, -\lambda/c)` for an inequality."""
        if kind == "inequality" and self.penalty > 0:
            return torch.maximum(strict_violation, multiplier / -self.penalty)
        return strict_violation


class ExactPenalty(Formulation):
    r"""The fixed penalty :math:`c \sum \max(0, g)` (inequality) or :math:`c \sum |h|`.

    Examples
    --------
    >>> import torch
    >>> float(ExactPenalty().term(3.0, torch.tensor([-1.0, 0.5]), "inequality"))
    1.5
    """

    def term(self, coefficient, violation, kind):
        """The penalty; ``coefficient`` plays the multiplier's part."""
        return coefficient * violation_magnitude(kind, violation).sum()
