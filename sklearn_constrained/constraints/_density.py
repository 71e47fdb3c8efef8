"""Expected density of L0-gated models (Louizos et al. 2018)."""

from ._base import Constraint, ConstraintEvaluator, ConstraintState, level_interval

__all__ = ["Density"]


class Density(Constraint):
    r"""Bound the expected share of active weights: :math:`E[\|z\|_0] / n \le` ``upper``.

    For models whose layers carry L0 hard-concrete gates
    (:class:`~sklearn_constrained.models.L0Linear`,
    :class:`~sklearn_constrained.models.L0Conv2d`, and the models built
    from them such as :class:`~sklearn_constrained.models.L0MLP`), the value
    is the expected number of non-zero gates over all gated layers divided
    by the number of gates, :math:`\sum_j \sigma(\log\alpha_j - \beta
    \log(-\gamma/\zeta)) / n`, a differentiable function of the gates'
    locations; this is the constrained formulation of Gallego-Posada et al.
    (2022) of the L0 penalty of Louizos et al. (2018), with ``upper`` the
    density a user wants instead of a penalty coefficient. The density that
    the deterministic test-time gates keep is reported by each layer's
    ``density()``.

    It has no closed-form projection: use ``method="gda"`` (as in Ramirez et
    al., App. B.2), ``"sal"`` or ``"fp"``.

    Parameters
    ----------
    upper : float, default=0.5
        The largest admissible expected density, in ``[0, 1]``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_constrained.constraints import Density
    >>> from sklearn_constrained.models import L0MLP
    >>> net = L0MLP(4, 2, hidden_layer_sizes=(3,))
    >>> b = Density(upper=0.5).bind(net, "density")
    >>> round(b.evaluate().value.item(), 3)   # gates start open (droprate_init=0.01)
    0.998
    """

    kind = "inequality"
    level_names = ("upper",)
    _parameter_constraints = {"upper": [level_interval(1.0)]}

    def __init__(self, upper=0.5):
        self.upper = upper

    def bind(self, module, name):
        """Find the module's gated layers and return their evaluator."""
        from ..models._l0 import HardConcreteGates

        self.check_params()
        gated = [m for m in module.modules() if isinstance(m, HardConcreteGates)]
        if not gated:
            raise ValueError(
                f"Constraint {name!r}: Density needs a model with L0 hard-concrete gates, but "
                f"{type(module).__name__} has none. Use sklearn_constrained.models.L0MLP "
                "(module=sc.models.L0MLP), or build the module from L0Linear / L0Conv2d layers."
            )
        return DensityEvaluator(name, self, gated)


class DensityEvaluator(ConstraintEvaluator):
    """The expected density of a module's gated layers."""

    def __init__(self, name, constraint, gated):
        super().__init__(name, constraint)
        self.layers = gated
        self._n_gates = float(sum(m.n_gates for m in gated))
        self._upper = float(constraint.upper)

    @property
    def parameters(self):
        """The gates' locations."""
        return [m.log_alpha for m in self.layers]

    def evaluate(self, batch=None):
        """The expected share of active gates (the batch is ignored)."""
        active = [m.expected_active() for m in self.layers]
        total = active[0]
        for a in active[1:]:
            total = total + a
        value = total / self._n_gates
        strict = value - self._upper
        return ConstraintState(value, strict, strict)
