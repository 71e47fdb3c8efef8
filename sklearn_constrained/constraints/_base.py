"""The constraint abstraction: what must hold, at which level, and its state on a batch.

A :class:`Constraint` is a small, user-facing description (it holds only its
parameters, so the object a user passes is never mutated). At fit time
:meth:`Constraint.bind` resolves it against a module (parameter patterns,
class labels, group counts) and returns a :class:`ConstraintEvaluator`, the
per-fit object the training loop evaluates at every step. An evaluation is a
:class:`ConstraintState` of three tensors (the names are Cooper's):

``value``
    the quantity the user reasons about (``||W||^2``, a rate, a gap): what
    ``evaluate_constraints`` reports and ``history_`` records;
``strict_violation``
    the signed violation that drives the multipliers: ``<= 0`` where an
    inequality holds, ``== 0`` where an equality holds, one entry per side,
    pair of groups or Gram entry. It may be non-differentiable (a true rate);
``violation``
    a differentiable surrogate of ``strict_violation`` that supplies the
    gradients: the same tensor for differentiable constraints, a smooth rate
    for proxy constraints;
``objective_weight``
    ``None`` for most constraints. A constraint whose differentiable
    violation is the objective's own loss on part of the data (a group's loss)
    sets it to how much one unit of its multiplier weighs against the
    objective on that part (e.g. the squared target scale of a regressor).
    The methods then divide the primal loss by ``1 + sum(w * multiplier)``:
    the objective and the group losses enter as a convex combination, so a
    growing multiplier reweights the groups instead of multiplying the
    step (same stationary points, no divergence).

The guide page "Writing a constraint or a method" shows a new constraint in a
few lines.
"""

from numbers import Real
from typing import NamedTuple

import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from ..utils._params import ParamsMixin

__all__ = [
    "BatchContext",
    "Constraint",
    "ConstraintEvaluator",
    "ConstraintState",
    "WeightConstraint",
    "WeightEvaluator",
    "level_interval",
]


class ConstraintState(NamedTuple):
    """A constraint's value, differentiable violation and strict violation on a batch.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import ConstraintState, L2Norm
    >>> module = torch.nn.Linear(2, 1, bias=False)
    >>> _ = torch.nn.init.ones_(module.weight)
    >>> state = L2Norm(bound=1.0).bind(module, "l2").evaluate()
    >>> isinstance(state, ConstraintState)
    True
    >>> state.value.item(), state.strict_violation.item()  # ||W||^2 = 2, 1 above the bound
    (2.0, 1.0)
    """

    value: torch.Tensor
    violation: torch.Tensor
    strict_violation: torch.Tensor
    objective_weight: float | torch.Tensor | None = None


class BatchContext(NamedTuple):
    """What a data-dependent constraint sees of a batch.

    ``y_pred`` holds the module's raw outputs (logits for classifiers), ``y``
    the encoded targets, ``groups`` the integer codes of the sensitive groups
    (or ``None``), ``n_groups`` their number, ``target_scale`` the standard
    deviation that standardised a regression target (1.0 otherwise) and
    ``sample_weight`` the samples' weights (``None``: all equal).

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import BatchContext, PredictionRate
    >>> logits = torch.tensor([[0.0, 2.0], [0.0, 2.0], [0.0, -2.0], [0.0, -2.0]])
    >>> batch = BatchContext(logits, y=torch.tensor([1, 1, 0, 1]))
    >>> rate = PredictionRate(label=1, upper=0.25).bind(None, "rate").setup(classes=[0, 1])
    >>> float(rate.evaluate(batch).value)  # half of the batch is predicted as 1
    0.5
    """

    y_pred: torch.Tensor
    y: torch.Tensor | None = None
    groups: torch.Tensor | None = None
    n_groups: int = 0
    target_scale: float = 1.0
    sample_weight: torch.Tensor | None = None


def level_interval(high=None):
    """The parameter constraint of a level: a real number in ``[0, high]``."""
    return Interval(Real, 0, high, closed="both" if high is not None else "left")


class Constraint(ParamsMixin, BaseEstimator):
    """Base class of all constraints.

    Subclasses set ``kind`` (``"inequality"`` or ``"equality"``), the class
    attributes ``requires_data``/``requires_groups``/``requires_labels``,
    the names of their level parameters in ``level_names``, their parameter
    constraints in ``_parameter_constraints`` (scikit-learn's declarative
    validation) and implement :meth:`bind`.

    Examples
    --------
    >>> from sklearn_constrained.constraints import Constraint, L2Norm, PredictionRate
    >>> issubclass(L2Norm, Constraint)
    True
    >>> L2Norm(bound=4.0).levels(), L2Norm.kind, L2Norm.requires_data
    ({'bound': 4.0}, 'inequality', False)
    >>> PredictionRate(label=1, lower=0.2, upper=0.8).levels()
    {'lower': 0.2, 'upper': 0.8}
    """

    kind = "inequality"
    requires_data = False
    requires_groups = False
    requires_labels = False
    #: the value on the rows the weights were fit to understates the value on
    #: fresh rows (a rate of the positives or the negatives, a group's loss):
    #: ``margin="auto"`` then holds out a dual part (``dual_split="auto"``)
    optimistic_in_sample = False
    #: the parameters that hold the constraint's level(s)
    level_names = ("bound", "upper", "lower")
    _parameter_constraints: dict = {}
    _parameter_hints = {
        name: "Set it to the level the trained model must respect."
        for name in ("bound", "upper", "lower", "target")
    }

    def check_params(self):
        """Validate the parameters; raise an ``InvalidParameterError`` that names the fix.

        scikit-learn's declarative validation of ``_parameter_constraints``
        (which takes ``True`` for a number), then a level must not be a bool,
        then :meth:`_check_consistency`.

        Returns
        -------
        self
        """
        from sklearn.utils._param_validation import InvalidParameterError

        params = self.get_params(deep=False)
        for name in self.level_names:
            if isinstance(params.get(name), bool):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} must be a number, not a "
                    f"bool; got {params[name]!r}. Set it to the level the trained model must "
                    "respect."
                )
        return super().check_params()

    def levels(self):
        """The levels the constraint is held to, by parameter name.

        Returns
        -------
        dict of str to float
            Only the level parameters that are set; empty for a constraint
            without a level (``w >= 0``, a simplex).
        """
        params = self.get_params(deep=False)
        out = {}
        for name in self.level_names:
            value = params.get(name)
            if isinstance(value, Real) and not isinstance(value, bool):
                out[name] = float(value)
        return out

    def bind(self, module, name):  # pragma: no cover - abstract
        """Resolve the constraint against ``module`` for one fit.

        Returns
        -------
        ConstraintEvaluator
        """
        raise NotImplementedError


class ConstraintEvaluator:
    """A constraint resolved against a module for one fit.

    Parameters
    ----------
    name : str
        The key of the constraint in the estimator's ``constraints``.
    constraint : Constraint
        A private copy of the user's constraint.

    Attributes
    ----------
    kind, requires_data, requires_groups, requires_labels
        Those of the constraint.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import ConstraintEvaluator, L2Norm
    >>> module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> evaluator = L2Norm(bound=4.0).bind(module, "l2")
    >>> isinstance(evaluator, ConstraintEvaluator), evaluator.name, evaluator.kind
    (True, 'l2', 'inequality')
    >>> [tuple(p.shape) for p in evaluator.parameters]  # the weight matrices, not the biases
    [(4, 3), (2, 4)]
    """

    def __init__(self, name, constraint):
        self.name = name
        self.constraint = constraint
        self.kind = constraint.kind
        self.requires_data = constraint.requires_data
        self.requires_groups = constraint.requires_groups
        self.requires_labels = constraint.requires_labels

    def evaluate(self, batch=None):  # pragma: no cover - abstract
        """The :class:`ConstraintState` on a batch (``None`` for weight constraints)."""
        raise NotImplementedError

    @property
    def parameters(self):
        """The constrained parameters (weight constraints), else an empty list."""
        return []

    @property
    def has_projection(self):
        """Whether :meth:`project_` is available (S-ADMM needs it)."""
        return False

    def project_(self, tensors):
        """Project ``tensors`` (copies shaped like :attr:`parameters`) onto the feasible set."""
        raise NotImplementedError(
            f"{type(self.constraint).__name__} has no closed-form projection; "
            "use method='auto', 'gda', 'sal' or 'fp' for it."
        )

    def setup(self, *, classes=None, classifier=True, n_samples=None, external=False):
        """Prepare data-dependent estimates for one fit (a no-op for weight constraints).

        Parameters
        ----------
        classes : array-like or None
            The classifier's ``classes_`` (to resolve ``label``/``pos_label``).
        classifier : bool
            ``False`` for a regressor.
        n_samples : int or None
            The samples per epoch the running estimates are drawn from.
        external : bool
            Whether the running estimates are fed by :meth:`observe` (a
            held-out part) rather than by the training batches.
        """
        return self

    def observe(self, batch):
        """Update running estimates from a batch without gradients (held-out dual data)."""

    def fresh(self):
        """A copy with empty running estimates, for evaluations that must not disturb the fit."""
        return self

    def state_dict(self):
        """The running state carried across a fit (``warm_start``, checkpoints)."""
        return {}

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned (tensors already on the device)."""


class WeightConstraint(Constraint):
    """A constraint on the module's parameters, independent of the data.

    Subclasses implement :meth:`value` (differentiable in the tensors) and,
    for a closed-form projection, :meth:`project_`. The strict violation is
    ``value - bound`` unless :meth:`state` is overridden (a vector-valued
    constraint such as a simplex).

    Examples
    --------
    A new weight constraint needs its parameters and :meth:`value`:

    >>> import torch
    >>> from sklearn_constrained.constraints import WeightConstraint
    >>> class MaxAbs(WeightConstraint):
    ...     # every selected weight within [-bound, bound]
    ...     _parameter_constraints = {"bound": [float], "params": [None, str]}
    ...     def __init__(self, bound=1.0, params=None):
    ...         self.bound = bound
    ...         self.params = params
    ...     def value(self, tensors):
    ...         return torch.stack([t.abs().max() for t in tensors]).max()
    >>> module = torch.nn.Linear(2, 1)
    >>> _ = torch.nn.init.constant_(module.weight, 3.0)
    >>> MaxAbs(bound=1.0).bind(module, "max_abs").evaluate().strict_violation.item()
    2.0
    """

    level_names = ("bound",)

    def bind(self, module, name):
        """Select the parameters by ``params`` and return a :class:`WeightEvaluator`."""
        from ._selection import select_parameters

        self.check_params()
        named = select_parameters(module, getattr(self, "params", None), constraint_name=name)
        self._check_selection(named, name)
        return WeightEvaluator(name, self, named)

    def _check_selection(self, named, name):
        """Reject parameters the constraint cannot apply to (a hook for subclasses)."""

    def value(self, tensors):  # pragma: no cover - abstract
        """The constraint's value for a list of tensors (a 0-d tensor)."""
        raise NotImplementedError

    def state(self, tensors):
        """The :class:`ConstraintState` of a list of tensors."""
        value = self.value(tensors)
        strict = value - self.bound
        return ConstraintState(value, strict, strict)

    @property
    def has_projection(self):
        """Whether the subclass implements :meth:`project_`."""
        return type(self).project_ is not WeightConstraint.project_

    def project_(self, tensors):
        """Project ``tensors`` in place onto the feasible set (S-ADMM's proximal step)."""
        raise NotImplementedError


class WeightEvaluator(ConstraintEvaluator):
    """A weight constraint bound to the parameters it selected.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import L1Norm, WeightEvaluator
    >>> module = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    >>> evaluator = L1Norm(bound=1.0, params="1.*").bind(module, "l1")
    >>> isinstance(evaluator, WeightEvaluator), evaluator.param_names
    (True, ['1.weight', '1.bias'])
    >>> evaluator.has_projection
    True
    """

    def __init__(self, name, constraint, named_params):
        super().__init__(name, constraint)
        self.param_names = [n for n, _ in named_params]
        self._params = [p for _, p in named_params]

    @property
    def parameters(self):
        """The selected parameters, in the module's registration order."""
        return self._params

    @property
    def has_projection(self):
        """Whether the constraint has a closed-form projection."""
        return self.constraint.has_projection

    def evaluate(self, batch=None):
        """The state at the current weights (the batch is ignored)."""
        return self.constraint.state(self._params)

    def project_(self, tensors):
        """The constraint's closed-form projection of ``tensors``, in place."""
        self.constraint.project_(tensors)
