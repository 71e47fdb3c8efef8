"""The constraint abstraction.

A :class:`Constraint` is a small, user-facing description: *what* must hold
and at which *level*. It keeps no training state, so the object a user passes
is never mutated. At fit time it is *bound* to a module (its parameter
patterns resolved once, outside the hot path), giving a :class:`BoundConstraint`
that the training engine evaluates every step.

Each bound constraint returns a :class:`ConstraintEval` of three tensors:

``value``
    the quantity the user reasons about (``||W||^2``, a rate, a gap), i.e. what
    :meth:`evaluate_constraints` reports and ``history_`` logs;
``defect``
    the signed violation that drives the multipliers: ``<= 0`` when an
    inequality holds, ``== 0`` when an equality holds (for a two-sided
    constraint, one entry per side). It may be non-differentiable (a rate);
``proxy``
    a differentiable surrogate of ``defect`` that supplies the gradients (the
    same tensor as ``defect`` for differentiable constraints; a smooth rate for
    proxy constraints).
"""

import math
from numbers import Real
from typing import NamedTuple

import torch
from sklearn.base import BaseEstimator

__all__ = ["Constraint", "WeightConstraint", "BoundConstraint", "ConstraintEval", "BatchContext"]


class ConstraintEval(NamedTuple):
    """The value, defect and differentiable proxy of one constraint."""

    value: torch.Tensor
    defect: torch.Tensor
    proxy: torch.Tensor


class BatchContext(NamedTuple):
    """What a data-dependent constraint sees of a batch.

    ``y_pred`` holds the module's raw outputs (logits for classifiers),
    ``y`` the encoded targets, ``groups`` integer group codes of the sensitive
    features (or ``None``), ``n_groups`` their number, ``target_scale`` the
    standard deviation used to standardise regression targets (1.0 otherwise).
    """

    y_pred: torch.Tensor
    y: torch.Tensor | None = None
    groups: torch.Tensor | None = None
    n_groups: int = 0
    target_scale: float = 1.0


def check_level(owner, name, value, *, low=0.0, high=math.inf, allow_none=False):
    """Validate a constraint level and return it as a float.

    Raises a ``ValueError`` that names the constraint class, the parameter and
    the admissible range.
    """
    cls = type(owner).__name__
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(
            f"{cls}: `{name}` must be a real number; got {value!r} ({type(value).__name__})."
        )
    value = float(value)
    if math.isnan(value) or value < low or value > high:
        hi = "" if math.isinf(high) else f" and <= {high:g}"
        raise ValueError(
            f"{cls}: `{name}` must be a number >= {low:g}{hi}; got {value!r}. "
            f"Set `{name}` to the level the trained model must respect."
        )
    return value


class Constraint(BaseEstimator):
    """Base class of all constraints.

    Subclasses declare ``kind`` (``"inequality"`` or ``"equality"``), whether
    they need the batch (``requires_data``) and sensitive groups
    (``requires_groups``), validate their levels in :meth:`_check_params` and
    build a :class:`BoundConstraint` in :meth:`_bind`.
    """

    kind = "inequality"
    requires_data = False
    requires_groups = False

    #: the parameters that hold the constraint's level(s)
    _level_params = ("bound", "upper", "lower")

    def _check_params(self):
        """Validate the levels; raise ``ValueError`` naming the parameter."""

    def _bind(self, module, name):  # pragma: no cover - abstract
        raise NotImplementedError

    def _tolerance_scale(self):
        """``max(1, |level|)``: the scale of the feasibility tolerance.

        A constraint is met when its largest violation is at most
        ``tol * max(1, |level|)`` (the largest magnitude of its level
        parameters, 1 when it has none: ``w >= 0``, a simplex, exact
        orthogonality). The scale is fixed by the level, not by the value
        reached, so a more violated iterate never looks less violated.
        """
        from numbers import Real

        levels = [
            abs(float(v))
            for k, v in self.get_params(deep=False).items()
            if k in self._level_params and isinstance(v, Real) and not isinstance(v, bool)
        ]
        return max([1.0] + levels)


class BoundConstraint:
    """A constraint resolved against a module for one fit.

    Attributes
    ----------
    name : str
        The key of the constraint in the estimator's ``constraints`` dict.
    constraint : Constraint
        A private copy of the user's constraint.
    kind : str
        ``"inequality"`` or ``"equality"``.
    requires_data : bool
        Whether :meth:`evaluate` needs a :class:`BatchContext`.
    """

    def __init__(self, name, constraint):
        self.name = name
        self.constraint = constraint
        self.kind = constraint.kind
        self.requires_data = constraint.requires_data
        self.requires_groups = constraint.requires_groups

    def evaluate(self, ctx=None):  # pragma: no cover - abstract
        """Return the :class:`ConstraintEval` on a batch (or on the weights)."""
        raise NotImplementedError

    # -- optional capabilities ------------------------------------------------
    @property
    def parameters(self):
        """The constrained parameters (weight constraints), else an empty list."""
        return []

    def project_(self, tensors):
        """Project ``tensors`` (copies shaped like :attr:`parameters`) in place
        onto the feasible set: the closed-form proximal step used by S-ADMM.
        """
        raise NotImplementedError(
            f"{type(self.constraint).__name__} has no closed-form projection; "
            "use method='gda', 'sal' or 'fp' for it."
        )

    @property
    def has_projection(self):
        return type(self).project_ is not BoundConstraint.project_

    # -- checkpointing ----------------------------------------------------------
    def _get_state(self):
        """The running state carried across a fit (``warm_start``, checkpoints):
        a dict of tensors and plain values; stateless constraints return ``{}``.
        """
        return {}

    def _set_state(self, state):
        """Restore what :meth:`_get_state` returned (tensors already on the device)."""


class WeightConstraint(Constraint):
    """A constraint on the module's parameters, independent of the data.

    Subclasses implement ``_value(tensors) -> scalar tensor`` (differentiable),
    ``_defect(value)`` and optionally ``_project_(tensors)``.
    """

    def _bind(self, module, name):
        from ._selection import select_parameters

        named = select_parameters(module, getattr(self, "params", None), constraint_name=name)
        return _BoundWeightConstraint(name, self, named)

    def _value(self, tensors):  # pragma: no cover - abstract
        raise NotImplementedError

    def _defect(self, value):
        return value - self.bound

    def _project_(self, tensors):  # pragma: no cover - optional
        raise NotImplementedError

    def value_of(self, tensors):
        """The constraint's value for a list of tensors (a convenience for
        tests and for users inspecting a module by hand).
        """
        return self._value(list(tensors))


class _BoundWeightConstraint(BoundConstraint):
    def __init__(self, name, constraint, named_params):
        super().__init__(name, constraint)
        self.param_names = [n for n, _ in named_params]
        self._params = [p for _, p in named_params]

    @property
    def parameters(self):
        return self._params

    def evaluate(self, ctx=None):
        value = self.constraint._value(self._params)
        defect = self.constraint._defect(value)
        return ConstraintEval(value, defect, defect)

    def project_(self, tensors):
        self.constraint._project_(tensors)

    @property
    def has_projection(self):
        return type(self.constraint)._project_ is not WeightConstraint._project_
