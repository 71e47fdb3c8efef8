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

A constraint whose differentiable violation is the objective's own loss on
part of the data (:class:`~sklearn_constrained.constraints.BoundedGroupLoss`)
sets ``objective_weight`` in its state; :func:`convex_combination` then
divides the primal loss by ``1 + sum(w * weight)`` over such terms, where
``weight`` is the term's derivative in the violation
(:meth:`Formulation.violation_weight`). The gradient is then a convex
combination of the objective's and the group losses' gradients: a large
multiplier shifts the weight between groups instead of multiplying the step.
"""

import torch

from ..constraints._feasibility import violation_magnitude

__all__ = [
    "AugmentedLagrangian",
    "ExactPenalty",
    "Formulation",
    "Lagrangian",
    "augmented_term",
    "convex_combination",
    "objective_share",
    "penalized_loss",
]


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

    def violation_weight(self, multiplier, violation, kind):
        """The term's derivative in the violation, per entry (the multiplier in effect)."""
        return multiplier


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
        return augmented_term(multiplier, violation, kind, self.penalty)

    def violation_weight(self, multiplier, violation, kind):
        r"""The multiplier in effect: :math:`\max(0, \lambda + c g)`, or :math:`\lambda + c h`."""
        c = self.penalty
        if c <= 0:
            return multiplier
        if kind == "inequality":
            return torch.relu(multiplier + c * violation)
        return multiplier + c * violation

    def dual_gradient(self, multiplier, strict_violation, kind):
        r""":math:`h` for an equality, :math:`\max(g, -\lambda/c)` for an inequality."""
        if kind == "inequality" and self.penalty > 0:
            return torch.maximum(strict_violation, multiplier / -self.penalty)
        return strict_violation


def augmented_term(multiplier, violation, kind, penalty):
    """:meth:`AugmentedLagrangian.term`, fused: the fewest recorded operations per step.

    Examples
    --------
    >>> import torch
    >>> float(augmented_term(torch.tensor([1.0]), torch.tensor([0.5]), "equality", 2.0))
    0.75
    """
    c = penalty
    if c <= 0:
        return _total(multiplier * violation)
    # fused: three recorded ops for an inequality (six unfused), two for an equality
    if kind == "inequality":
        # (max(0, lambda + c g)^2 - lambda^2) / 2c; lambda has no gradient
        k = 0.5 / c
        shifted = torch.relu(torch.add(multiplier, violation, alpha=c))
        return _total(torch.addcmul(multiplier.square().mul_(-k), shifted, shifted, value=k))
    # lambda h + c/2 h^2
    return _total(torch.addcmul(multiplier * violation, violation, violation, value=0.5 * c))


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

    def violation_weight(self, coefficient, violation, kind):
        """``c`` where the inequality is violated, ``c sign(h)`` for an equality."""
        if kind == "inequality":
            return coefficient * (violation > 0).to(violation.dtype)
        return coefficient * torch.sign(violation)


def objective_share(formulation, multiplier, state, kind):
    """The weight a term puts on the objective's own loss (a 0-d tensor), or ``None``.

    ``None`` unless the constraint's state has an ``objective_weight``; then
    ``sum(w * |weight|)``, with ``weight`` the term's derivative in the
    violation. No gradient, no host synchronisation.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import ConstraintState
    >>> g = torch.tensor([0.5, -1.0])  # two groups' losses minus the level
    >>> state = ConstraintState(g.max(), g, g, objective_weight=4.0)
    >>> float(objective_share(Lagrangian(), torch.tensor([1.0, 0.0]), state, "inequality"))
    4.0
    >>> plain = state._replace(objective_weight=None)  # any other constraint
    >>> objective_share(Lagrangian(), torch.tensor([1.0, 0.0]), plain, "inequality") is None
    True
    """
    w = state.objective_weight
    if w is None:
        return None
    with torch.no_grad():
        weight = formulation.violation_weight(multiplier, state.violation.detach(), kind)
        return (weight.abs() * w).sum()


def convex_combination(loss, shares):
    """``loss / (1 + sum(shares))`` over the shares that are not ``None``.

    Examples
    --------
    >>> import torch
    >>> float(convex_combination(torch.tensor(6.0), [None, torch.tensor(2.0)]))
    2.0
    >>> float(convex_combination(torch.tensor(6.0), [None]))  # nothing to normalise
    6.0
    """
    shares = [s for s in shares if s is not None]
    if not shares:
        return loss
    return loss / (1.0 + sum(shares))


def penalized_loss(objective, terms):
    """The objective plus each term, as a convex combination where a term reweights the objective.

    ``terms`` yields ``(formulation, multiplier, state, kind)`` per constraint;
    the loss is ``objective + sum(formulation.term(...))``, divided by
    :func:`convex_combination`'s normaliser when a state has an
    ``objective_weight``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import ConstraintState
    >>> g = torch.tensor([0.5])
    >>> terms = [(Lagrangian(), torch.tensor([2.0]), ConstraintState(g, g, g), "inequality")]
    >>> float(penalized_loss(torch.tensor(1.0), terms))  # 1 + 2 * 0.5
    2.0
    """
    loss, shares = objective, []
    for formulation, multiplier, state, kind in terms:
        loss = loss + formulation.term(multiplier, state.violation, kind)
        if state.objective_weight is not None:
            shares.append(objective_share(formulation, multiplier, state, kind))
    return convex_combination(loss, shares) if shares else loss
